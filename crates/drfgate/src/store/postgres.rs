//! PostgreSQL, through tokio-postgres.
//!
//! Each pooled connection owns a current-thread tokio runtime that runs only while a lookup
//! waits on it (no background threads, so a prefork parent may open and drop a store before
//! forking). Every wait is bounded by a client-side timer: connecting by the connect timeout,
//! a statement by what is left of the lookup's statement timeout; the server is also asked to
//! cancel statements past it (`statement_timeout`) and to refuse writes
//! (`default_transaction_read_only`). A connection that timed out is closed, never reused.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postgres_native_tls::MakeTlsConnector;
use tokio::runtime::Runtime;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

use super::network::{Host, NetworkDatabase, TlsMode};
use super::server::{Engine, QueryError, ServerStore};
use super::sql::{Cell, Dialect, Param};
use super::{Schema, StoreError};

pub(super) type PostgresStore = ServerStore<Postgres>;

pub(super) struct Postgres {
    config: tokio_postgres::Config,
    tls: MakeTlsConnector,
}

pub(super) struct PgConn {
    runtime: ConnRuntime,
    client: Client,
    statements: HashMap<String, Statement>,
}

/// A connection's runtime, shut down without waiting when the connection is dropped. A plain
/// `Runtime` panics when dropped on an async thread ("Cannot drop a runtime in a context where
/// blocking is not allowed"), and a gate may well be dropped there: `drfgate serve` replacing
/// its policy on SIGHUP or stopping on SIGTERM, a tower service dropped by its server. Nothing
/// is lost by not waiting: the runtime only drives this connection, whose client is dropped
/// with it.
struct ConnRuntime(Option<Runtime>);

impl std::ops::Deref for ConnRuntime {
    type Target = Runtime;

    fn deref(&self) -> &Runtime {
        // Taken only by `drop`.
        self.0
            .as_ref()
            .expect("a connection's runtime lives as long as the connection")
    }
}

impl Drop for ConnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl PostgresStore {
    /// The store, its TLS settings checked now; the server is first asked by a lookup.
    pub(super) fn connect(
        db: &NetworkDatabase,
        schema: &Schema,
    ) -> Result<PostgresStore, StoreError> {
        let engine =
            Postgres::new(db).map_err(|m| StoreError::new(format!("{}: {m}", db.location())))?;
        Ok(ServerStore::open(db.clone(), schema, engine))
    }
}

impl Postgres {
    fn new(db: &NetworkDatabase) -> Result<Postgres, String> {
        let mut config = tokio_postgres::Config::new();
        match &db.host {
            Host::Tcp(host) => config.host(host),
            Host::Socket(dir) => config.host_path(dir),
        };
        config
            .port(db.port)
            .dbname(&db.name)
            .user(&db.user)
            .application_name("drfgate")
            .connect_timeout(db.pool.connect_timeout)
            .options(format!(
                "-c statement_timeout={} -c default_transaction_read_only=on",
                db.pool.statement_timeout.as_millis().max(1)
            ))
            .ssl_mode(match db.tls {
                TlsMode::Disable => SslMode::Disable,
                TlsMode::Prefer => SslMode::Prefer,
                TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
            });
        if let Some(password) = &db.password {
            config.password(password.0.as_bytes());
        }
        let mut tls = native_tls::TlsConnector::builder();
        // libpq's `require` encrypts without checking who answers; `verify-ca` checks the
        // chain but not the name; `verify-full` both.
        match db.tls {
            TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => {
                tls.danger_accept_invalid_certs(true)
                    .danger_accept_invalid_hostnames(true);
            }
            TlsMode::VerifyCa => {
                tls.danger_accept_invalid_hostnames(true);
            }
            TlsMode::VerifyFull => {}
        }
        if let Some(ca) = &db.tls_ca {
            let pem = std::fs::read(ca)
                .map_err(|e| format!("cannot read sslrootcert {}: {e}", ca.display()))?;
            let cert = native_tls::Certificate::from_pem(&pem)
                .map_err(|e| format!("sslrootcert {}: {e}", ca.display()))?;
            tls.add_root_certificate(cert);
        }
        let tls = tls.build().map_err(|e| format!("TLS setup: {e}"))?;
        Ok(Postgres {
            config,
            tls: MakeTlsConnector::new(tls),
        })
    }
}

/// A client configuration for `db` and its TLS connector, as the store's own connections use
/// (the revocation listener opens one more).
pub(crate) fn client_config(
    db: &NetworkDatabase,
) -> Result<(tokio_postgres::Config, MakeTlsConnector), String> {
    let Postgres { config, tls } = Postgres::new(db)?;
    Ok((config, tls))
}

fn lost(message: String) -> QueryError {
    QueryError {
        message,
        connection_lost: true,
        raised: false,
    }
}

impl Engine for Postgres {
    type Conn = PgConn;
    const DIALECT: Dialect = Dialect::Postgres;

    fn connect(&self, _db: &NetworkDatabase, timeout: Duration) -> Result<PgConn, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("cannot start a runtime for the connection: {e}"))?;
        let connecting = self.config.connect(self.tls.clone());
        let (client, connection) = runtime
            .block_on(async { tokio::time::timeout(timeout, connecting).await })
            .map_err(|_| format!("connecting timed out after {timeout:?}"))?
            .map_err(|e| format!("cannot connect: {e}"))?;
        // Driven whenever the runtime runs, i.e. while a lookup waits on this connection.
        runtime.spawn(connection);
        Ok(PgConn {
            runtime: ConnRuntime(Some(runtime)),
            client,
            statements: HashMap::new(),
        })
    }

    fn query(
        conn: &mut PgConn,
        sql: &str,
        params: &[Param],
        deadline: Instant,
    ) -> Result<Vec<Vec<Cell>>, QueryError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || conn.client.is_closed() {
            return Err(lost("the connection is closed or out of time".into()));
        }
        let PgConn {
            runtime,
            client,
            statements,
        } = conn;
        let values: Vec<Box<dyn ToSql + Sync + Send>> = params
            .iter()
            .map(|p| -> Box<dyn ToSql + Sync + Send> {
                match p {
                    Param::Text(t) => Box::new(t.clone()),
                    Param::Int(n) => Box::new(*n),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let work = async {
            let statement = match statements.get(sql) {
                Some(statement) => statement.clone(),
                None => {
                    let statement = client.prepare(sql).await?;
                    statements.insert(sql.to_string(), statement.clone());
                    statement
                }
            };
            client.query(&statement, &refs).await
        };
        let rows = runtime
            .block_on(async { tokio::time::timeout(left, work).await })
            .map_err(|_| {
                lost(format!(
                    "no answer within the statement timeout ({left:?} left)"
                ))
            })?
            .map_err(|e| QueryError {
                // A server error (syntax, permission, cancelled) leaves the connection usable
                // but is not worth retrying; anything else lost it.
                connection_lost: e.as_db_error().is_none(),
                // SQLSTATE class 22, data exceptions: psycopg raises DataError on the same value.
                raised: e
                    .as_db_error()
                    .is_some_and(|db| db.code().code().starts_with("22")),
                message: format!("{e}"),
            })?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| cell(row, i))
                    .collect::<Result<Vec<Cell>, tokio_postgres::Error>>()
            })
            .collect::<Result<_, _>>()
            .map_err(|e| QueryError {
                message: format!("reading a row: {e}"),
                connection_lost: false,
                raised: false,
            })
    }
}

/// The value of column `i`: the queries cast every column to one of these types.
fn cell(row: &tokio_postgres::Row, i: usize) -> Result<Cell, tokio_postgres::Error> {
    let kind = row.columns()[i].type_().clone();
    Ok(if kind == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?
            .map_or(Cell::Null, Cell::Bool)
    } else if kind == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?
            .map_or(Cell::Null, Cell::Int)
    } else if kind == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map_or(Cell::Null, |n| Cell::Int(n.into()))
    } else if kind == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i)?
            .map_or(Cell::Null, Cell::Float)
    } else {
        row.try_get::<_, Option<String>>(i)?
            .map_or(Cell::Null, Cell::Text)
    })
}
