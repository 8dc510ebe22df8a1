//! MariaDB and MySQL, through the `mysql` crate's blocking client (prepared statements, the
//! binary protocol, one statement cache per connection).
//!
//! Timeouts: connecting is bounded by the connect timeout (`tcp_connect_timeout`); every read
//! and write on the socket by the statement timeout, so a stalled server costs a lookup at
//! most that per read (our lookups read one short result); the server is also asked to stop
//! statements past it (MariaDB's `max_statement_time`, MySQL's `max_execution_time`).
//!
//! The session's time zone is UTC: Django stores UTC in DATETIME columns when `USE_TZ` is on
//! (its default), and knox's expiry is turned into Unix seconds in the session's zone.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, SslOpts, Value};

use super::network::{Host, NetworkDatabase, TlsMode};
use super::server::{Engine, QueryError, ServerStore};
use super::sql::{Cell, Dialect, Param};
use super::{Schema, StoreError};

pub(super) type MysqlStore = ServerStore<Mysql>;

pub(super) struct Mysql;

impl MysqlStore {
    /// The store; the server is first asked by a lookup.
    pub(super) fn connect(db: &NetworkDatabase, schema: &Schema) -> Result<MysqlStore, StoreError> {
        Ok(ServerStore::open(db.clone(), schema, Mysql))
    }
}

fn options(db: &NetworkDatabase, timeout: Duration) -> OptsBuilder {
    let mut opts = OptsBuilder::new()
        .user(Some(db.user.clone()))
        .pass(db.password.as_ref().map(|p| p.0.clone()))
        .db_name(Some(db.name.clone()))
        .tcp_connect_timeout(Some(timeout))
        .read_timeout(Some(db.pool.statement_timeout))
        .write_timeout(Some(db.pool.statement_timeout))
        // Never swap a TCP address for a local socket behind the config's back.
        .prefer_socket(false)
        .stmt_cache_size(Some(32))
        .init(vec!["SET NAMES utf8mb4", "SET time_zone = '+00:00'"]);
    opts = match &db.host {
        Host::Tcp(host) => opts.ip_or_hostname(Some(host.clone())).tcp_port(db.port),
        Host::Socket(path) => opts.socket(Some(path.display().to_string())),
    };
    // MySQL's PREFERRED would need a fallback this client does not make: plain connections,
    // unless REQUIRED or stricter (README, production setup).
    let ssl = match db.tls {
        TlsMode::Disable | TlsMode::Prefer => None,
        TlsMode::Require => Some(
            SslOpts::default()
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ),
        TlsMode::VerifyCa => Some(SslOpts::default().with_danger_skip_domain_validation(true)),
        TlsMode::VerifyFull => Some(SslOpts::default()),
    };
    let ssl = ssl.map(|ssl| ssl.with_root_cert_path(db.tls_ca.clone()));
    opts.ssl_opts(ssl)
}

impl Engine for Mysql {
    type Conn = Conn;
    const DIALECT: Dialect = Dialect::Mysql;

    fn connect(&self, db: &NetworkDatabase, timeout: Duration) -> Result<Conn, String> {
        let mut conn =
            Conn::new(options(db, timeout)).map_err(|e| format!("cannot connect: {e}"))?;
        let version: Option<String> = conn
            .query_first("SELECT VERSION()")
            .map_err(|e| format!("cannot read the server's version: {e}"))?;
        let seconds = db.pool.statement_timeout.as_secs_f64();
        let limit = if version.is_some_and(|v| v.contains("MariaDB")) {
            format!("SET SESSION max_statement_time = {seconds:.3}")
        } else {
            format!(
                "SET SESSION max_execution_time = {}",
                db.pool.statement_timeout.as_millis().max(1)
            )
        };
        conn.query_drop(limit)
            .map_err(|e| format!("cannot set the statement timeout: {e}"))?;
        Ok(conn)
    }

    fn query(
        conn: &mut Conn,
        sql: &str,
        params: &[Param],
        deadline: Instant,
    ) -> Result<Vec<Vec<Cell>>, QueryError> {
        if Instant::now() >= deadline {
            return Err(QueryError {
                message: "out of time before the statement".into(),
                connection_lost: true,
                raised: false,
            });
        }
        let values: Vec<Value> = params
            .iter()
            .map(|p| match p {
                Param::Text(t) => Value::Bytes(t.as_bytes().to_vec()),
                Param::Int(n) => Value::Int(*n),
            })
            .collect();
        let params = if values.is_empty() {
            mysql::Params::Empty
        } else {
            mysql::Params::Positional(values)
        };
        let rows: Vec<mysql::Row> = conn.exec(sql, params).map_err(|e| QueryError {
            connection_lost: !matches!(e, mysql::Error::MySqlError(_)),
            // Illegal mix of collations, an incorrect string value: the driver raises on the
            // same value under Django.
            raised: matches!(&e, mysql::Error::MySqlError(m) if [1267, 1270, 1271, 1366].contains(&m.code)),
            message: format!("{e}"),
        })?;
        rows.into_iter()
            .map(|row| row.unwrap().into_iter().map(cell).collect())
            .collect::<Result<_, String>>()
            .map_err(|message| QueryError {
                message,
                connection_lost: false,
                raised: false,
            })
    }
}

fn cell(value: Value) -> Result<Cell, String> {
    Ok(match value {
        Value::NULL => Cell::Null,
        Value::Int(n) => Cell::Int(n),
        Value::UInt(n) => Cell::Int(i64::try_from(n).map_err(|_| format!("{n} is out of range"))?),
        Value::Float(f) => Cell::Float(f.into()),
        Value::Double(f) => Cell::Float(f),
        Value::Bytes(bytes) => Cell::Text(
            String::from_utf8(bytes).map_err(|_| "a text column that is not UTF-8".to_string())?,
        ),
        other => return Err(format!("unexpected value {other:?}")),
    })
}
