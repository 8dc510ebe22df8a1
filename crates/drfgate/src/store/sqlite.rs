//! Django's SQLite database, opened read-only next to a running Django.
//!
//! Each query runs in autocommit and is reset as soon as its rows are read, so no lock
//! outlives a lookup; a busy timeout rides out Django's own writes.
//!
//! # A database file replaced under the gate
//!
//! A deploy may swap the database file (`mv new.sqlite3 db.sqlite3`). An open SQLite
//! connection keeps reading the file it opened, now unlinked, for as long as it lives; so
//! before every query the store looks at the path again (one `stat`, cheap next to the
//! query, and only for lookups the gate's caches did not answer) and compares its device and
//! inode with those of the file its connections were opened on. When they differ the pooled
//! connections are dropped and the new file is opened and looked at afresh (its tables and
//! columns, as at open time). The comparison cannot be fooled by inode reuse: a connection
//! still open on the old file keeps its inode allocated.
//!
//! When nothing is at the path (deleted, or a deploy that removes the file before putting the
//! new one there), queries fail with a [`StoreError`] naming the path, so the gate refuses
//! with 500, until a file is there again: the old, unlinked file is never used to answer. A
//! rename over the path (`mv`, `rename(2)`) is atomic and never shows that gap.
//!
//! Copying a new database *over* the file in place (`cp new.sqlite3 db.sqlite3`) keeps the
//! inode; SQLite itself notices the changed content at the next read, but a reader may see a
//! half-written file meanwhile: replace by rename. SQLite finds a database's `-wal` file by
//! name, so swap a database in rollback-journal mode (Django's default), or checkpoint it and
//! leave WAL mode first.
//!
//! A lookup that fails (the file locked past the busy timeout, truncated, missing a table)
//! closes its connection and the idle ones, so that no connection that has seen the file in
//! a bad state answers once the cause has gone: the next lookup opens the file afresh.
//!
//! The store only answers what reaches it: the gate's caches keep a token's user, a verified
//! password and a user's permissions for their TTL whatever file they came from. After a
//! swap that revokes anything, invalidate it (`Gate::invalidate_token`, `invalidate_user`),
//! or wait `ttl_seconds`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    schema: Schema,
    pool: Mutex<Pool>,
    /// How long a lookup waits for a lock held by a writer before it fails (the SQLite
    /// counterpart of a network store's statement timeout).
    busy_timeout: Duration,
}

/// The connections to one database file, and the SQL built for that file's tables.
struct Pool {
    /// `None` once the file is gone or replaced: the next lookup opens the path afresh.
    /// While it is `Some`, a connection (idle or lent) holds that very file open (the path is
    /// looked at before and after each open), so its inode cannot be reused by another file
    /// and the comparison is sound.
    file: Option<FileId>,
    queries: Arc<Queries>,
    idle: Vec<Connection>,
}

/// A connection lent out for one query, with the file it was opened on.
struct Lent {
    conn: Connection,
    file: FileId,
    queries: Arc<Queries>,
}

/// Which file a path names: its device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileId {
    device: u64,
    inode: u64,
}

/// The file now at `path`; failing when there is none, or it cannot be looked at.
fn file_id(path: &Path) -> Result<FileId, StoreError> {
    let metadata = std::fs::metadata(path).map_err(|e| {
        StoreError::new(format!(
            "SQLite database {}: cannot stat it ({e}); deleted, or being replaced? \
             Refusing to answer from the file opened before",
            path.display()
        ))
    })?;
    Ok(FileId::of(&metadata))
}

impl FileId {
    #[cfg(unix)]
    fn of(metadata: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }

    /// Elsewhere a file SQLite holds open cannot be renamed over or deleted.
    #[cfg(not(unix))]
    fn of(_: &std::fs::Metadata) -> FileId {
        FileId {
            device: 0,
            inode: 0,
        }
    }
}

/// The SQL for this schema, built once per database file after looking at its tables.
struct Queries {
    token_user: String,
    user_by_username: String,
    permissions: String,
    count_users: String,
    count_tokens: Option<String>,
    /// The token filter's page of keys and one user's keys (`token_filter.rs`).
    token_keys_after: String,
    token_keys_of_user: String,
    user_by_pk: String,
    /// `None` when the database has no `django_session` table.
    session_data: Option<String>,
    /// simplejwt's and knox's queries (`packages`).
    packages: packages::PackageQueries,
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
        let (conn, file, queries) = open_file(path, &schema, BUSY_TIMEOUT)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            schema,
            pool: Mutex::new(Pool {
                file: Some(file),
                queries,
                idle: vec![conn],
            }),
            busy_timeout: BUSY_TIMEOUT,
        })
    }

    /// Waits at most `timeout` (5 s by default) for a lock another connection holds: past
    /// it, the lookup fails and the gate refuses (503) rather than waiting longer.
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Result<SqliteStore, StoreError> {
        self.busy_timeout = timeout;
        let path = self.path.clone();
        for conn in &self.pool.get_mut().idle {
            conn.busy_timeout(timeout).map_err(|e| db_error(&path, e))?;
        }
        Ok(self)
    }

    fn with_connection<T>(
        &self,
        f: impl FnOnce(&Connection, &Queries) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let lent = self.lend()?;
        let result = f(&lent.conn, &lent.queries).map_err(|e| db_error(&self.path, e));
        let mut pool = self.pool.lock();
        if result.is_err() {
            // A failed lookup closes this connection and the idle ones: a connection may
            // keep a stale view of the file. (SQLite keeps the empty schema it read from a
            // file truncated in place even after the content is written back, when the
            // change counter in the restored header is the one it saw before.) The next
            // lookup opens a fresh connection.
            let stale = std::mem::take(&mut pool.idle);
            drop(pool);
            drop(stale);
            return result;
        }
        // A connection to a file that has since been replaced is closed, not kept.
        if pool.file == Some(lent.file) && pool.idle.len() < POOL_SIZE {
            pool.idle.push(lent.conn);
        }
        result
    }

    /// A connection to the file now at the path: a pooled one when the file is the one the
    /// pool was opened on, else a new one (and a new pool, when the file was replaced).
    fn lend(&self) -> Result<Lent, StoreError> {
        for _ in 0..OPEN_ATTEMPTS {
            let seen = self.current_file()?;
            let mut pool = self.pool.lock();
            if pool.file == Some(seen) {
                let queries = pool.queries.clone();
                if let Some(conn) = pool.idle.pop() {
                    return Ok(Lent {
                        conn,
                        file: seen,
                        queries,
                    });
                }
                drop(pool);
                let conn = open_connection(&self.path, self.busy_timeout)?;
                if self.current_file()? == seen {
                    return Ok(Lent {
                        conn,
                        file: seen,
                        queries,
                    });
                }
                continue; // replaced while opening: look again
            }
            if pool.file.take().is_some() {
                log::info!(
                    "SQLite database {}: the file was replaced; reopening it",
                    self.path.display()
                );
            }
            // The old file's connections will never be used again.
            pool.idle.clear();
            drop(pool);
            // Open the new file and read its tables outside the lock (a busy timeout may be
            // waited out there).
            let (conn, file, queries) = open_file(&self.path, &self.schema, self.busy_timeout)?;
            let mut pool = self.pool.lock();
            if pool.file.is_none() {
                *pool = Pool {
                    file: Some(file),
                    queries: queries.clone(),
                    idle: Vec::new(),
                };
            }
            return Ok(Lent {
                conn,
                file,
                queries,
            });
        }
        Err(replaced_while_opening(&self.path))
    }

    /// The file now at the path; when there is none, the pool lets the old file go.
    fn current_file(&self) -> Result<FileId, StoreError> {
        file_id(&self.path).inspect_err(|_| {
            let mut pool = self.pool.lock();
            pool.file = None;
            pool.idle.clear();
        })
    }
}

/// How many times a file replaced while it is being opened is opened again.
const OPEN_ATTEMPTS: usize = 3;

fn replaced_while_opening(path: &Path) -> StoreError {
    StoreError::new(format!(
        "SQLite database {}: replaced again each time it was opened ({OPEN_ATTEMPTS} times)",
        path.display()
    ))
}

/// Opens the file now at `path` and builds the queries for its tables. The path is looked at
/// before and after opening, so the [`FileId`] returned is the file the connection reads.
fn open_file(
    path: &Path,
    schema: &Schema,
    busy_timeout: Duration,
) -> Result<(Connection, FileId, Arc<Queries>), StoreError> {
    for _ in 0..OPEN_ATTEMPTS {
        let file = file_id(path)?;
        let conn = open_connection(path, busy_timeout)?;
        if file_id(path)? != file {
            continue;
        }
        let queries = Queries::build(&conn, path, schema)?;
        return Ok((conn, file, Arc::new(queries)));
    }
    Err(replaced_while_opening(path))
}

fn open_connection(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| db_error(path, e))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| db_error(path, e))?;
    Ok(conn)
}

struct Column {
    name: String,
    is_pk: bool,
    /// The declared type, for SQLite's affinity rules (`INT` anywhere: an integer column).
    declared: String,
}

fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<Column>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({})", quote(table)))?;
    let rows = stmt.query_map([], |row| {
        Ok(Column {
            name: row.get(1)?,
            is_pk: row.get::<_, i64>(5)? > 0,
            declared: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
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
        let user_by_pk = format!(
            "SELECT {user_fields}, u.\"password\" FROM {user} u WHERE u.{pk} = ?1",
            pk = quote(&pk),
        );
        let has_sessions = !columns(conn, "django_session")
            .map_err(|e| db_error(path, e))?
            .is_empty();
        // Django's own query: `expire_date > now`, compared as text as Django's SQLite
        // backend stores it.
        let session_data = has_sessions.then(|| {
            "SELECT session_data FROM django_session WHERE session_key = ?1 AND expire_date > ?2"
                .to_string()
        });
        let packages =
            packages::PackageQueries::build(conn, schema, &user_fields, &pk, &user_columns)
                .map_err(|e| db_error(path, e))?;
        let token = quote(&schema.token_table);
        Ok(Queries {
            token_keys_after: format!(
                "SELECT \"key\" FROM {token} WHERE \"key\" > ?1 ORDER BY \"key\" LIMIT ?2"
            ),
            token_keys_of_user: format!("SELECT \"key\" FROM {token} WHERE \"user_id\" = ?1"),
            user_by_pk,
            session_data,
            packages,
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
        self.with_connection(|conn, queries| {
            conn.prepare_cached(&queries.token_user)?
                .query_row([key], read_user)
                .optional()
        })
    }

    /// `=` on a text column is SQLite's BINARY collation: byte for byte.
    fn token_keys_compare_exactly(&self) -> bool {
        true
    }

    fn token_keys_after(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_connection(|conn, queries| {
            let mut stmt = conn.prepare_cached(&queries.token_keys_after)?;
            let rows = stmt.query_map(rusqlite::params![after, limit], |row| {
                row.get::<_, String>(0)
            })?;
            rows.collect()
        })
    }

    fn token_keys_of_user(&self, pk: &str) -> Result<Vec<String>, StoreError> {
        // Django's integer pk column holds integers: compare as one when the text is one.
        let pk = match pk.parse::<i64>() {
            Ok(n) => rusqlite::types::Value::Integer(n),
            Err(_) => rusqlite::types::Value::Text(pk.to_string()),
        };
        self.with_connection(|conn, queries| {
            let mut stmt = conn.prepare_cached(&queries.token_keys_of_user)?;
            let rows = stmt.query_map([pk], |row| row.get::<_, String>(0))?;
            rows.collect()
        })
    }

    fn user_by_username(&self, username: &str) -> Result<Option<UserWithPassword>, StoreError> {
        self.with_connection(|conn, queries| {
            conn.prepare_cached(&queries.user_by_username)?
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
        self.with_connection(|conn, queries| {
            let mut stmt = conn.prepare_cached(&queries.permissions)?;
            let rows = stmt.query_map([bind_pk(pk)], |row| row.get::<_, String>(0))?;
            rows.collect()
        })
    }

    fn session_data(&self, session_key: &str, now: &str) -> Result<Option<String>, StoreError> {
        // The outer `None`: the database has no django_session table.
        let found = self.with_connection(|conn, queries| match &queries.session_data {
            None => Ok(None),
            Some(sql) => conn
                .prepare_cached(sql)?
                .query_row([session_key, now], |row| row.get::<_, String>(0))
                .optional()
                .map(Some),
        })?;
        found.ok_or_else(|| {
            StoreError::new(format!(
                "SQLite database {}: no table django_session (is django.contrib.sessions \
                 installed and migrated?)",
                self.path.display()
            ))
        })
    }

    fn user_by_pk(&self, pk: &UserPk) -> Result<Option<UserWithPassword>, StoreError> {
        self.with_connection(|conn, queries| {
            conn.prepare_cached(&queries.user_by_pk)?
                .query_row([bind_pk(pk)], |row| {
                    Ok(UserWithPassword {
                        user: read_user(row)?,
                        password: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    })
                })
                .optional()
        })
    }

    fn user_by_field(
        &self,
        field: &str,
        value: &serde_json::Value,
    ) -> Result<super::FieldLookup, StoreError> {
        self.with_connection(|conn, queries| {
            packages::user_by_field(conn, &queries.packages, field, value)
        })
    }

    fn jti_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        self.with_connection(|conn, queries| {
            packages::jti_blacklisted(conn, &queries.packages, jti)
        })
    }

    fn has_jwt_blacklist(&self) -> bool {
        self.pool.lock().queries.packages.has_blacklist()
    }

    fn knox_tokens(&self, token_key: &str) -> Result<Vec<super::KnoxRow>, StoreError> {
        self.with_connection(|conn, queries| {
            packages::knox_tokens(conn, &queries.packages, token_key)
        })
    }

    fn has_knox_table(&self) -> bool {
        self.pool.lock().queries.packages.has_knox()
    }

    fn summary(&self) -> Result<StoreSummary, StoreError> {
        self.with_connection(|conn, queries| {
            let users = conn.query_row(&queries.count_users, [], |r| r.get(0))?;
            let tokens = match &queries.count_tokens {
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

mod packages;
#[cfg(test)]
mod tests;
