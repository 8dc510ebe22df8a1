//! A store over a database server (PostgreSQL, MySQL/MariaDB): the lookups of [`Store`] on
//! the shared SQL of `sql.rs`, over the bounded pool of `pool.rs`, each lookup within its
//! statement timeout. The engines (`postgres.rs`, `mysql.rs`) only connect and run a
//! statement.
//!
//! The comparisons are the server's own, as Django's are: on MySQL/MariaDB a token key or a
//! username matches whatever its column's collation calls equal (by default case-insensitive,
//! trailing spaces ignored), exactly as `Token.objects.get(key=…)` does on that database.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::network::NetworkDatabase;
use super::pool::{Lease, Pool};
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
    schema: Schema,
    /// Built from the tables the database has, by the first lookup the server answers: a
    /// gate starts (and reloads) while its database is down, refusing what needs it (503)
    /// until then, and recovers by itself like any outage.
    queries: OnceLock<Queries>,
    /// Held by the one lookup reading the schema, so a burst of first requests reads it once.
    reading_schema: Mutex<()>,
    pool: Pool<E::Conn>,
}

impl<E: Engine> ServerStore<E> {
    /// A store for `db`, without connecting: the settings were checked when the config
    /// loaded, and the server is first asked by the first lookup.
    pub(super) fn open(db: NetworkDatabase, schema: &Schema, engine: E) -> ServerStore<E> {
        ServerStore {
            pool: Pool::new(db.pool.pool_size),
            db,
            engine,
            schema: schema.clone(),
            queries: OnceLock::new(),
            reading_schema: Mutex::new(()),
        }
    }

    /// The queries for this database's tables, reading its schema first if no lookup has
    /// yet. Within the lookup's `deadline`, like the statement it precedes.
    fn queries(&self, deadline: Instant) -> Result<&Queries, StoreError> {
        if let Some(queries) = self.queries.get() {
            return Ok(queries);
        }
        let Some(_reading) = self.reading_schema.try_lock_until(deadline) else {
            return Err(self.unreachable(
                "another lookup was still reading the schema when the statement timeout passed",
            ));
        };
        if let Some(queries) = self.queries.get() {
            return Ok(queries);
        }
        let queries = self.read_schema(deadline)?;
        Ok(self.queries.get_or_init(|| queries))
    }

    /// Reads which tables and columns the database has and builds the queries for them.
    fn read_schema(&self, deadline: Instant) -> Result<Queries, StoreError> {
        let schema = &self.schema;
        let mut lease = self.lease(deadline)?;
        let tables = read_tables::<E>(lease.conn(), schema, deadline).map_err(|e| {
            if e.connection_lost {
                self.unreachable(&e.message)
            } else {
                self.error(&e.message)
            }
        })?;
        lease.keep();
        if tables.user_columns.is_empty() {
            return Err(self.error(&format!(
                "no table {:?} (AUTH_USER_TABLE); has `manage.py migrate` run?",
                schema.user_table
            )));
        }
        if !tables
            .user_columns
            .iter()
            .any(|(c, _)| *c == schema.username_field)
        {
            return Err(self.error(&format!(
                "table {:?} has no column {:?} (USERNAME_FIELD)",
                schema.user_table, schema.username_field
            )));
        }
        Ok(Queries::build(E::DIALECT, schema, &tables))
    }

    /// A pooled connection, or a new one, within `deadline`.
    fn lease(&self, deadline: Instant) -> Result<Lease<'_, E::Conn>, StoreError> {
        self.pool.get(deadline, |left| {
            self.engine
                .connect(&self.db, left.min(self.db.pool.connect_timeout))
                .map_err(|m| self.unreachable(&m))
        })
    }

    /// When a lookup started now must be answered by.
    fn deadline(&self) -> Instant {
        Instant::now() + self.db.pool.statement_timeout
    }

    /// Connections this gate holds open now (at most `pool_size`).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn open_connections(&self) -> usize {
        self.pool.open_connections()
    }

    /// Runs `sql` by `deadline`; a connection that had been idle and turns out to be gone
    /// (the server restarted) is replaced once, on a new connection: the other idle ones are
    /// closed too, as likely gone the same way.
    fn run(
        &self,
        deadline: Instant,
        sql: &Sql,
        arguments: &[Param],
    ) -> Result<Vec<Vec<Cell>>, StoreError> {
        let params = sql.bind(arguments);
        for attempt in 0..2 {
            let mut lease = self.lease(deadline)?;
            let reused = !lease.is_new();
            match E::query(lease.conn(), &sql.text, &params, deadline) {
                Ok(rows) => {
                    lease.keep();
                    return Ok(rows);
                }
                // The lease is dropped: the connection is closed.
                Err(e) if e.connection_lost && reused && attempt == 0 => {
                    self.pool.discard_idle();
                    continue;
                }
                Err(e) if e.raised => {
                    return Err(StoreError::raised(format!(
                        "{}: {}",
                        self.db.location(),
                        e.message
                    )))
                }
                Err(e) if e.connection_lost => return Err(self.unreachable(&e.message)),
                Err(e) => return Err(self.error(&e.message)),
            }
        }
        unreachable!("the second attempt returns")
    }

    fn error(&self, message: &str) -> StoreError {
        StoreError::new(format!("{}: {message}", self.db.location()))
    }

    /// The server could not be reached or answered nothing in time.
    fn unreachable(&self, message: &str) -> StoreError {
        StoreError::unreachable(format!("{}: {message}", self.db.location()))
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
        deadline: Instant,
        sql: &Sql,
        arguments: &[Param],
    ) -> Result<Option<UserWithPassword>, StoreError> {
        let rows = self.run(deadline, sql, arguments)?;
        rows.first()
            .map(|row| self.user_with_password(row))
            .transpose()
    }

    /// The first column of every row, as text.
    fn texts(&self, rows: Vec<Vec<Cell>>, what: &str) -> Result<Vec<String>, StoreError> {
        rows.into_iter()
            .map(|row| match row.into_iter().next() {
                Some(Cell::Text(t)) => Ok(t),
                _ => Err(self.decode_error(what)),
            })
            .collect()
    }

    fn pk_param(queries: &Queries, pk: &UserPk) -> Param {
        match (pk, queries.pk_kind) {
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
        let deadline = self.deadline();
        let queries = self.queries(deadline)?;
        let rows = self.run(deadline, &queries.token_user, &[Param::Text(key.into())])?;
        rows.first().map(|row| self.user_of(row)).transpose()
    }

    /// PostgreSQL compares `varchar` byte for byte (Django's columns use a deterministic
    /// collation); MySQL's collations do not.
    fn token_keys_compare_exactly(&self) -> bool {
        E::DIALECT == Dialect::Postgres
    }

    fn token_keys_after(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let deadline = self.deadline();
        let Some(sql) = &self.queries(deadline)?.token_keys_after else {
            return Err(self.error("no token table"));
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.run(
            deadline,
            sql,
            &[Param::Text(after.into()), Param::Int(limit)],
        )?;
        self.texts(rows, "a token key")
    }

    fn token_keys_of_user(&self, pk: &str) -> Result<Vec<String>, StoreError> {
        let deadline = self.deadline();
        let queries = self.queries(deadline)?;
        let Some(sql) = &queries.token_keys_of_user else {
            return Err(self.error("no token table"));
        };
        let pk = Self::pk_param(queries, &UserPk::Text(pk.into()));
        let rows = self.run(deadline, sql, &[pk])?;
        self.texts(rows, "a token key")
    }

    fn user_by_username(&self, username: &str) -> Result<Option<UserWithPassword>, StoreError> {
        let deadline = self.deadline();
        let queries = self.queries(deadline)?;
        self.one_user_with_password(
            deadline,
            &queries.user_by_username,
            &[Param::Text(username.into())],
        )
    }

    fn user_permissions(&self, pk: &UserPk) -> Result<HashSet<String>, StoreError> {
        let deadline = self.deadline();
        let queries = self.queries(deadline)?;
        let rows = self.run(
            deadline,
            &queries.permissions,
            &[Self::pk_param(queries, pk)],
        )?;
        rows.into_iter()
            .map(|row| match row.into_iter().next() {
                Some(Cell::Text(t)) => Ok(t),
                _ => Err(self.decode_error("a permission")),
            })
            .collect()
    }

    fn summary(&self) -> Result<StoreSummary, StoreError> {
        let deadline = self.deadline();
        let queries = self.queries(deadline)?;
        let count = |sql: &Sql| -> Result<i64, StoreError> {
            match self
                .run(deadline, sql, &[])?
                .first()
                .and_then(|r| r.first())
            {
                Some(Cell::Int(n)) => Ok(*n),
                _ => Err(self.decode_error("a count")),
            }
        };
        Ok(StoreSummary {
            backend: E::DIALECT.backend_name(),
            location: self.db.location(),
            users: count(&queries.count_users)?,
            tokens: queries.count_tokens.as_ref().map(count).transpose()?,
        })
    }

    fn session_data(&self, session_key: &str, now: &str) -> Result<Option<String>, StoreError> {
        let deadline = self.deadline();
        let Some(sql) = &self.queries(deadline)?.session_data else {
            return Err(self.error(
                "no table django_session (is django.contrib.sessions installed and migrated?)",
            ));
        };
        let rows = self.run(
            deadline,
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
        let deadline = self.deadline();
        let queries = self.queries(deadline)?;
        self.one_user_with_password(
            deadline,
            &queries.user_by_pk,
            &[Self::pk_param(queries, pk)],
        )
    }

    fn user_by_field(
        &self,
        field: &str,
        value: &serde_json::Value,
    ) -> Result<FieldLookup, StoreError> {
        let deadline = self.deadline();
        let queries = self.queries(deadline)?;
        let Some(column) = queries.user_columns.iter().find(|c| c.name == field) else {
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
        let found =
            self.one_user_with_password(deadline, &queries.user_by_field(column), &[param])?;
        Ok(found.map_or(FieldLookup::NotFound, FieldLookup::Found))
    }

    fn jti_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        let deadline = self.deadline();
        let Some(sql) = &self.queries(deadline)?.blacklisted else {
            return Err(self.error("no simplejwt blacklist tables"));
        };
        Ok(!self
            .run(deadline, sql, &[Param::Text(jti.into())])?
            .is_empty())
    }

    /// Unknown (`false`) until the schema has been read: then a gate loading meanwhile does
    /// not check for the tables, and a lookup on them fails (503) if they are missing.
    fn has_jwt_blacklist(&self) -> bool {
        self.queries
            .get()
            .is_some_and(|queries| queries.blacklisted.is_some())
    }

    fn knox_tokens(&self, token_key: &str) -> Result<Vec<KnoxRow>, StoreError> {
        let deadline = self.deadline();
        let Some(sql) = &self.queries(deadline)?.knox else {
            return Err(self.error("no knox token table"));
        };
        let rows = self.run(deadline, sql, &[Param::Text(token_key.into())])?;
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

    /// Unknown (`false`) until the schema has been read, as [`Store::has_jwt_blacklist`].
    fn has_knox_table(&self) -> bool {
        self.queries
            .get()
            .is_some_and(|queries| queries.knox.is_some())
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
