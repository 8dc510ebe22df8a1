//! A store over a database server (PostgreSQL, MySQL/MariaDB): the lookups of [`Store`] on
//! the shared SQL of `sql.rs`, over the bounded pool of `pool.rs`, each lookup within its
//! statement timeout. The engines (`postgres.rs`, `mysql.rs`) only connect and run a
//! statement.
//!
//! The comparisons are the server's own, as Django's are: on MySQL/MariaDB a token key or a
//! username matches whatever its column's collation calls equal (by default case-insensitive,
//! trailing spaces ignored), exactly as `Token.objects.get(key=…)` does on that database.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::network::NetworkDatabase;
use super::pool::Pool;
use super::sql::{Cell, Dialect, Kind, Param, Queries, Sql, Tables};
use super::{FieldLookup, KnoxRow, Schema, Store, StoreError, StoreSummary, UserWithPassword};
use crate::decision::{User, UserPk};
use crate::jwt::python::{python_int, python_str};

/// Why a statement failed.
pub(super) struct QueryError {
    pub(super) message: String,
    /// The connection is gone (closed by the server, reset, timed out): a lookup on a
    /// connection that had been idle is tried once more on a new one.
    pub(super) connection_lost: bool,
    /// The server refused this value (PostgreSQL's data exceptions, e.g. a NUL byte in text;
    /// MySQL's illegal mix of collations): Django raises there too, and DRF answers 500.
    pub(super) raised: bool,
}

/// What an engine provides: opening a connection and running one statement on it.
pub(super) trait Engine: Send + Sync + 'static {
    type Conn: Send;
    const DIALECT: Dialect;
    fn connect(&self, db: &NetworkDatabase, timeout: Duration) -> Result<Self::Conn, String>;
    /// Runs a statement (prepared once per connection) and returns its rows, giving up at
    /// `deadline`.
    fn query(
        conn: &mut Self::Conn,
        sql: &str,
        params: &[Param],
        deadline: Instant,
    ) -> Result<Vec<Vec<Cell>>, QueryError>;
}

pub(super) struct ServerStore<E: Engine> {
    db: NetworkDatabase,
    engine: E,
    queries: Queries,
    pool: Pool<E::Conn>,
}

impl<E: Engine> ServerStore<E> {
    /// Connects, reads which tables and columns the database has and builds the queries for
    /// them. The server must answer now: a gate does not start on a database it cannot read.
    pub(super) fn open(
        db: NetworkDatabase,
        schema: &Schema,
        engine: E,
    ) -> Result<ServerStore<E>, StoreError> {
        let deadline = Instant::now() + db.pool.connect_timeout + db.pool.statement_timeout;
        let mut conn = engine
            .connect(&db, db.pool.connect_timeout)
            .map_err(|m| StoreError::new(format!("{}: {m}", db.location())))?;
        let tables = read_tables::<E>(&mut conn, schema, deadline)
            .map_err(|e| StoreError::new(format!("{}: {}", db.location(), e.message)))?;
        if tables.user_columns.is_empty() {
            return Err(StoreError::new(format!(
                "{}: no table {:?} (AUTH_USER_TABLE); has `manage.py migrate` run?",
                db.location(),
                schema.user_table
            )));
        }
        if !tables
            .user_columns
            .iter()
            .any(|(c, _)| *c == schema.username_field)
        {
            return Err(StoreError::new(format!(
                "{}: table {:?} has no column {:?} (USERNAME_FIELD)",
                db.location(),
                schema.user_table,
                schema.username_field
            )));
        }
        let queries = Queries::build(E::DIALECT, schema, &tables);
        Ok(ServerStore {
            pool: Pool::new(db.pool.pool_size, Some(conn)),
            db,
            engine,
            queries,
        })
    }

    /// Connections this gate holds open now (at most `pool_size`).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn open_connections(&self) -> usize {
        self.pool.open_connections()
    }

    /// Runs `sql` within the statement timeout; a connection that had been idle and turns
    /// out to be gone (the server restarted) is replaced once.
    fn run(&self, sql: &Sql, arguments: &[Param]) -> Result<Vec<Vec<Cell>>, StoreError> {
        let deadline = Instant::now() + self.db.pool.statement_timeout;
        let params = sql.bind(arguments);
        for attempt in 0..2 {
            let mut fresh = false;
            let mut lease = self.pool.get(deadline, |left| {
                fresh = true;
                self.engine
                    .connect(&self.db, left.min(self.db.pool.connect_timeout))
                    .map_err(|m| self.error(&m))
            })?;
            match E::query(lease.conn(), &sql.text, &params, deadline) {
                Ok(rows) => {
                    lease.keep();
                    return Ok(rows);
                }
                // The lease is dropped: the connection is closed.
                Err(e) if e.connection_lost && !fresh && attempt == 0 => continue,
                Err(e) if e.raised => {
                    return Err(StoreError::raised(format!(
                        "{}: {}",
                        self.db.location(),
                        e.message
                    )))
                }
                Err(e) => return Err(self.error(&e.message)),
            }
        }
        unreachable!("the second attempt returns")
    }

    fn error(&self, message: &str) -> StoreError {
        StoreError::new(format!("{}: {message}", self.db.location()))
    }

    fn decode_error(&self, what: &str) -> StoreError {
        self.error(&format!("unexpected value reading {what}"))
    }

    fn user_of(&self, row: &[Cell]) -> Result<User, StoreError> {
        let pk = match row.first() {
            Some(Cell::Int(n)) => UserPk::Int(*n),
            Some(Cell::Text(t)) => UserPk::Text(t.as_str().into()),
            _ => return Err(self.decode_error("the user's primary key")),
        };
        let username = match row.get(1) {
            Some(Cell::Text(t)) => t.as_str().into(),
            _ => return Err(self.decode_error("the username")),
        };
        let flag = |i: usize| -> Result<bool, StoreError> {
            match row.get(i) {
                Some(Cell::Bool(b)) => Ok(*b),
                Some(Cell::Int(n)) => Ok(*n != 0),
                Some(Cell::Null) => Ok(false),
                _ => Err(self.decode_error("a user flag")),
            }
        };
        Ok(User {
            pk,
            username,
            is_active: flag(2)?,
            is_staff: flag(3)?,
            is_superuser: flag(4)?,
        })
    }

    fn user_with_password(&self, row: &[Cell]) -> Result<UserWithPassword, StoreError> {
        Ok(UserWithPassword {
            user: self.user_of(row)?,
            password: match row.get(5) {
                Some(Cell::Text(t)) => t.clone(),
                Some(Cell::Null) => String::new(),
                _ => return Err(self.decode_error("the password")),
            },
        })
    }

    fn one_user_with_password(
        &self,
        sql: &Sql,
        arguments: &[Param],
    ) -> Result<Option<UserWithPassword>, StoreError> {
        let rows = self.run(sql, arguments)?;
        rows.first()
            .map(|row| self.user_with_password(row))
            .transpose()
    }

    fn pk_param(&self, pk: &UserPk) -> Param {
        match (pk, self.queries.pk_kind) {
            (UserPk::Int(n), _) => Param::Int(*n),
            (UserPk::Text(t), Kind::Text) => Param::Text(t.to_string()),
            // A text pk against an integer column: Django's int() of it, or no match.
            (UserPk::Text(t), Kind::Int) => Param::Int(t.trim().parse().unwrap_or(i64::MIN)),
        }
    }
}

fn read_tables<E: Engine>(
    conn: &mut E::Conn,
    schema: &Schema,
    deadline: Instant,
) -> Result<Tables, QueryError> {
    let columns_sql = E::DIALECT.columns_query();
    let mut columns = |table: &str| -> Result<Vec<(String, String)>, QueryError> {
        let rows = E::query(
            conn,
            &columns_sql.text,
            &columns_sql.bind(&[Param::Text(table.into())]),
            deadline,
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match (row.first(), row.get(1)) {
                (Some(Cell::Text(name)), Some(Cell::Text(kind))) => {
                    Some((name.clone(), kind.clone()))
                }
                _ => None,
            })
            .collect())
    };
    let user_columns = columns(&schema.user_table)?;
    let has_tokens = !columns(&schema.token_table)?.is_empty();
    let has_sessions = !columns("django_session")?.is_empty();
    let has_blacklist = !columns("token_blacklist_outstandingtoken")?.is_empty()
        && !columns("token_blacklist_blacklistedtoken")?.is_empty();
    let has_knox = !columns(&schema.knox_table)?.is_empty();
    let pk_sql = E::DIALECT.primary_key_query();
    let pk_rows = E::query(
        conn,
        &pk_sql.text,
        &pk_sql.bind(&[Param::Text(schema.user_table.clone())]),
        deadline,
    )?;
    let user_pk = match pk_rows.as_slice() {
        [row] => match row.first() {
            Some(Cell::Text(name)) => Some(name.clone()),
            _ => None,
        },
        _ => None,
    };
    Ok(Tables {
        user_columns,
        user_pk,
        has_tokens,
        has_sessions,
        has_blacklist,
        has_knox,
    })
}

impl<E: Engine> Store for ServerStore<E> {
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
        let rows = self.run(&self.queries.token_user, &[Param::Text(key.into())])?;
        rows.first().map(|row| self.user_of(row)).transpose()
    }

    fn user_by_username(&self, username: &str) -> Result<Option<UserWithPassword>, StoreError> {
        self.one_user_with_password(
            &self.queries.user_by_username,
            &[Param::Text(username.into())],
        )
    }

    fn user_permissions(&self, pk: &UserPk) -> Result<HashSet<String>, StoreError> {
        let rows = self.run(&self.queries.permissions, &[self.pk_param(pk)])?;
        rows.into_iter()
            .map(|row| match row.into_iter().next() {
                Some(Cell::Text(t)) => Ok(t),
                _ => Err(self.decode_error("a permission")),
            })
            .collect()
    }

    fn summary(&self) -> Result<StoreSummary, StoreError> {
        let count = |sql: &Sql| -> Result<i64, StoreError> {
            match self.run(sql, &[])?.first().and_then(|r| r.first()) {
                Some(Cell::Int(n)) => Ok(*n),
                _ => Err(self.decode_error("a count")),
            }
        };
        Ok(StoreSummary {
            backend: E::DIALECT.backend_name(),
            location: self.db.location(),
            users: count(&self.queries.count_users)?,
            tokens: self.queries.count_tokens.as_ref().map(count).transpose()?,
        })
    }

    fn session_data(&self, session_key: &str, now: &str) -> Result<Option<String>, StoreError> {
        let Some(sql) = &self.queries.session_data else {
            return Err(self.error(
                "no table django_session (is django.contrib.sessions installed and migrated?)",
            ));
        };
        let rows = self.run(
            sql,
            &[Param::Text(session_key.into()), Param::Text(now.into())],
        )?;
        match rows.first().and_then(|r| r.first()) {
            None => Ok(None),
            Some(Cell::Text(t)) => Ok(Some(t.clone())),
            Some(_) => Err(self.decode_error("session_data")),
        }
    }

    fn user_by_pk(&self, pk: &UserPk) -> Result<Option<UserWithPassword>, StoreError> {
        self.one_user_with_password(&self.queries.user_by_pk, &[self.pk_param(pk)])
    }

    fn user_by_field(
        &self,
        field: &str,
        value: &serde_json::Value,
    ) -> Result<FieldLookup, StoreError> {
        let Some(column) = self.queries.user_columns.iter().find(|c| c.name == field) else {
            return Err(self.error(&format!(
                "USER_ID_FIELD {field:?} is not a column of the user table"
            )));
        };
        if value.is_null() {
            // Looks for NULL, which a user's id never is.
            return Ok(FieldLookup::NotFound);
        }
        let param = match column.kind {
            Kind::Int => match python_int(value) {
                None => return Ok(FieldLookup::Unconvertible),
                // Django 5 answers an integer lookup beyond the column's range with an empty
                // result, not an error.
                Some(n) => match n.as_i64() {
                    Some(n) => Param::Int(n),
                    None => return Ok(FieldLookup::NotFound),
                },
            },
            // A JSON array or object has no str() Django would compare: no match, as on SQLite.
            Kind::Text => match python_str(value) {
                Some(s) => Param::Text(s),
                None => return Ok(FieldLookup::NotFound),
            },
        };
        let found = self.one_user_with_password(&self.queries.user_by_field(column), &[param])?;
        Ok(found.map_or(FieldLookup::NotFound, FieldLookup::Found))
    }

    fn jti_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        let Some(sql) = &self.queries.blacklisted else {
            return Err(self.error("no simplejwt blacklist tables"));
        };
        Ok(!self.run(sql, &[Param::Text(jti.into())])?.is_empty())
    }

    fn has_jwt_blacklist(&self) -> bool {
        self.queries.blacklisted.is_some()
    }

    fn knox_tokens(&self, token_key: &str) -> Result<Vec<KnoxRow>, StoreError> {
        let Some(sql) = &self.queries.knox else {
            return Err(self.error("no knox token table"));
        };
        let rows = self.run(sql, &[Param::Text(token_key.into())])?;
        rows.iter()
            .map(|row| {
                let digest = match row.get(5) {
                    Some(Cell::Text(t)) => t.clone(),
                    _ => return Err(self.decode_error("knox's digest")),
                };
                let expiry = match row.get(6) {
                    Some(Cell::Null) => None,
                    Some(Cell::Float(f)) => Some(*f),
                    Some(Cell::Int(n)) => Some(*n as f64),
                    _ => return Err(self.decode_error("knox's expiry")),
                };
                Ok(KnoxRow {
                    digest,
                    expiry,
                    user: self.user_of(row)?,
                })
            })
            .collect()
    }

    fn has_knox_table(&self) -> bool {
        self.queries.knox.is_some()
    }
}

impl Dialect {
    fn backend_name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
