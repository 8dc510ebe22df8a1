//! Django's SQLite database, opened read-only next to a running Django.
//!
//! Each query runs in autocommit and is reset as soon as its rows are read, so no lock
//! outlives a lookup; a busy timeout rides out Django's own writes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};

use super::{Schema, Store, StoreError, StoreSummary, UserWithPassword};
use crate::decision::{User, UserPk};

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept for reuse; more may exist while many threads query at once.
const POOL_SIZE: usize = 8;

pub struct SqliteStore {
    path: PathBuf,
    queries: Queries,
    idle: Mutex<Vec<Connection>>,
}

/// The SQL for this schema, built once at open time after looking at the tables.
struct Queries {
    token_user: String,
    user_by_username: String,
    permissions: String,
    count_users: String,
    count_tokens: Option<String>,
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

fn db_error(path: &Path, err: rusqlite::Error) -> StoreError {
    StoreError::new(format!("SQLite database {}: {err}", path.display()))
}

impl SqliteStore {
    pub fn open(path: &Path, schema: Schema) -> Result<SqliteStore, StoreError> {
        if !path.exists() {
            return Err(StoreError::new(format!(
                "SQLite database {} does not exist",
                path.display()
            )));
        }
        let conn = open_connection(path)?;
        let queries = Queries::build(&conn, path, &schema)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            queries,
            idle: Mutex::new(vec![conn]),
        })
    }

    fn with_connection<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = match self.idle.lock().pop() {
            Some(conn) => conn,
            None => open_connection(&self.path)?,
        };
        let result = f(&conn).map_err(|e| db_error(&self.path, e));
        let mut idle = self.idle.lock();
        if idle.len() < POOL_SIZE {
            idle.push(conn);
        }
        result
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| db_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| db_error(path, e))?;
    Ok(conn)
}

struct Column {
    name: String,
    is_pk: bool,
}

fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<Column>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({})", quote(table)))?;
    let rows = stmt.query_map([], |row| {
        Ok(Column {
            name: row.get(1)?,
            is_pk: row.get::<_, i64>(5)? > 0,
        })
    })?;
    rows.collect()
}

impl Queries {
    fn build(conn: &Connection, path: &Path, schema: &Schema) -> Result<Queries, StoreError> {
        let user_columns = columns(conn, &schema.user_table).map_err(|e| db_error(path, e))?;
        if user_columns.is_empty() {
            return Err(StoreError::new(format!(
                "SQLite database {}: no table {:?} (AUTH_USER_TABLE); has `manage.py migrate` run?",
                path.display(),
                schema.user_table
            )));
        }
        let has = |name: &str| user_columns.iter().any(|c| c.name == name);
        let pk = user_columns
            .iter()
            .find(|c| c.is_pk)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "id".into());
        if !has(&schema.username_field) {
            return Err(StoreError::new(format!(
                "SQLite database {}: table {:?} has no column {:?} (USERNAME_FIELD)",
                path.display(),
                schema.user_table,
                schema.username_field
            )));
        }
        // Django's AbstractBaseUser has no is_active (it counts as active) and no staff or
        // superuser flags (they count as false).
        let flag = |name: &str, absent: &str| {
            if has(name) {
                format!("u.{}", quote(name))
            } else {
                absent.to_string()
            }
        };
        let user_fields = format!(
            "u.{pk}, u.{username}, {active}, {staff}, {superuser}",
            pk = quote(&pk),
            username = quote(&schema.username_field),
            active = flag("is_active", "1"),
            staff = flag("is_staff", "0"),
            superuser = flag("is_superuser", "0"),
        );
        let user = quote(&schema.user_table);
        let token_columns = columns(conn, &schema.token_table).map_err(|e| db_error(path, e))?;
        let has_tokens = !token_columns.is_empty();
        let token_user = format!(
            "SELECT {user_fields} FROM {token} t JOIN {user} u ON u.{pk} = t.\"user_id\" WHERE t.\"key\" = ?1",
            token = quote(&schema.token_table),
            pk = quote(&pk),
        );
        let user_by_username = format!(
            "SELECT {user_fields}, u.\"password\" FROM {user} u WHERE u.{username} = ?1",
            username = quote(&schema.username_field),
        );
        let permissions = format!(
            "SELECT ct.app_label || '.' || p.codename FROM auth_permission p \
             JOIN django_content_type ct ON ct.id = p.content_type_id \
             JOIN {user_perms} up ON up.permission_id = p.id WHERE up.user_id = ?1 \
             UNION \
             SELECT ct.app_label || '.' || p.codename FROM auth_permission p \
             JOIN django_content_type ct ON ct.id = p.content_type_id \
             JOIN auth_group_permissions gp ON gp.permission_id = p.id \
             JOIN {user_groups} ug ON ug.group_id = gp.group_id WHERE ug.user_id = ?1",
            user_perms = quote(&schema.user_permissions_table()),
            user_groups = quote(&schema.user_groups_table()),
        );
        Ok(Queries {
            token_user,
            user_by_username,
            permissions,
            count_users: format!("SELECT count(*) FROM {user}"),
            count_tokens: has_tokens
                .then(|| format!("SELECT count(*) FROM {}", quote(&schema.token_table))),
        })
    }
}

fn read_pk(value: ValueRef<'_>) -> rusqlite::Result<UserPk> {
    match value {
        ValueRef::Integer(n) => Ok(UserPk::Int(n)),
        ValueRef::Text(t) => Ok(UserPk::Text(String::from_utf8_lossy(t).into())),
        ValueRef::Blob(b) => Ok(UserPk::Text(
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<String>()
                .into(),
        )),
        other => Err(rusqlite::Error::InvalidColumnType(
            0,
            "pk".into(),
            other.data_type(),
        )),
    }
}

/// SQLite stores Django booleans as integers; anything but 0 or NULL is true, as in Python.
fn read_flag(row: &Row<'_>, idx: usize) -> rusqlite::Result<bool> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => false,
        ValueRef::Integer(n) => n != 0,
        ValueRef::Real(f) => f != 0.0,
        ValueRef::Text(t) | ValueRef::Blob(t) => !t.is_empty() && t != b"0",
    })
}

fn read_user(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        pk: read_pk(row.get_ref(0)?)?,
        username: row.get::<_, String>(1)?.into(),
        is_active: read_flag(row, 2)?,
        is_staff: read_flag(row, 3)?,
        is_superuser: read_flag(row, 4)?,
    })
}

fn bind_pk(pk: &UserPk) -> rusqlite::types::Value {
    match pk {
        UserPk::Int(n) => rusqlite::types::Value::Integer(*n),
        UserPk::Text(t) => rusqlite::types::Value::Text(t.to_string()),
    }
}

impl Store for SqliteStore {
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
        self.with_connection(|conn| {
            conn.prepare_cached(&self.queries.token_user)?
                .query_row([key], read_user)
                .optional()
        })
    }

    fn user_by_username(&self, username: &str) -> Result<Option<UserWithPassword>, StoreError> {
        self.with_connection(|conn| {
            conn.prepare_cached(&self.queries.user_by_username)?
                .query_row([username], |row| {
                    Ok(UserWithPassword {
                        user: read_user(row)?,
                        password: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    })
                })
                .optional()
        })
    }

    fn user_permissions(&self, pk: &UserPk) -> Result<HashSet<String>, StoreError> {
        self.with_connection(|conn| {
            let mut stmt = conn.prepare_cached(&self.queries.permissions)?;
            let rows = stmt.query_map([bind_pk(pk)], |row| row.get::<_, String>(0))?;
            rows.collect()
        })
    }

    fn summary(&self) -> Result<StoreSummary, StoreError> {
        self.with_connection(|conn| {
            let users = conn.query_row(&self.queries.count_users, [], |r| r.get(0))?;
            let tokens = match &self.queries.count_tokens {
                Some(sql) => Some(conn.query_row(sql, [], |r| r.get(0))?),
                None => None,
            };
            Ok(StoreSummary {
                backend: "sqlite",
                location: self.path.display().to_string(),
                users,
                tokens,
            })
        })
    }
}
