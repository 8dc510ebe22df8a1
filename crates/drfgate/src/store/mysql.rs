//! MariaDB and MySQL, through the `mysql` crate's blocking client (prepared statements, the
//! binary protocol, one statement cache per connection).
//!
//! Timeouts: the client has no deadline of its own, only a timeout on each socket read and
//! write, so that timeout is set from the time left to the lookup's deadline before every
//! statement (and to the time left for the connection during the handshake, which is bounded
//! by the connect timeout and the deadline). A stalled server therefore ends a lookup at its
//! deadline, retry included, rather than one full statement timeout per read; a server that
//! answers in pieces, each just within the time left, is the one case bounded per read only.
//! The server is also asked to stop statements past the statement timeout (MariaDB's
//! `max_statement_time`, MySQL's `max_execution_time`).
//!
//! The session's time zone is UTC, as Django's DATETIME columns hold UTC when `USE_TZ` is on
//! (its default); knox's expiry is counted in seconds from 1970-01-01 by `TIMESTAMPDIFF`,
//! which reads the DATETIME as it is, whatever its year (`sql.rs`).

use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::mpsc;
use std::thread;
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
        // The handshake's reads and writes; each statement sets its own (`bound_socket`).
        .read_timeout(Some(timeout))
        .write_timeout(Some(timeout))
        // Never swap a TCP address for a local socket behind the config's back.
        .prefer_socket(false)
        .stmt_cache_size(Some(32));
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
        let deadline = Instant::now() + timeout;
        let mut conn = handshake(options(db, timeout), timeout)?;
        // The session's settings, each statement within what is left of the connect timeout.
        for setting in ["SET NAMES utf8mb4", "SET time_zone = '+00:00'"] {
            bound_socket(&conn, deadline)?;
            conn.query_drop(setting)
                .map_err(|e| format!("cannot set up the session: {e}"))?;
        }
        bound_socket(&conn, deadline)?;
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
        bound_socket(&conn, deadline)?;
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
        let lost = |message: String| QueryError {
            message,
            connection_lost: true,
            raised: false,
        };
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
        let failed = |e: mysql::Error| QueryError {
            connection_lost: !matches!(e, mysql::Error::MySqlError(_)),
            // Illegal mix of collations, an incorrect string value: the driver raises on the
            // same value under Django.
            raised: matches!(&e, mysql::Error::MySqlError(m) if [1267, 1270, 1271, 1366].contains(&m.code)),
            message: format!("{e}"),
        };
        // Preparing is a round trip the first time on a connection (then cached), executing
        // another: each gets what is left of the deadline, not a fresh statement timeout.
        bound_socket(conn, deadline).map_err(lost)?;
        let statement = conn.prep(sql).map_err(failed)?;
        bound_socket(conn, deadline).map_err(lost)?;
        let rows: Vec<mysql::Row> = conn.exec(&statement, params).map_err(failed)?;
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

/// Opens a connection (TCP, TLS, login), giving up after `timeout`. The client bounds each
/// read and write of the handshake, not the whole of it (a server answering each step just in
/// time would take several times `timeout`), so the handshake runs on its own thread and is
/// abandoned at `timeout`: that thread ends at the latest when its own reads time out, and
/// closes the connection if it was made after all.
fn handshake(opts: OptsBuilder, timeout: Duration) -> Result<Conn, String> {
    let (sender, handshaken) = mpsc::sync_channel(1);
    thread::Builder::new()
        .name("drfgate-mysql-connect".into())
        .spawn(move || {
            // Nobody waits any more when the timeout passed: the connection is dropped.
            let _ = sender.send(Conn::new(opts));
        })
        .map_err(|e| format!("cannot start a thread to connect: {e}"))?;
    match handshaken.recv_timeout(timeout) {
        Ok(conn) => conn.map_err(|e| format!("cannot connect: {e}")),
        Err(_) => Err(format!("connecting timed out after {timeout:?}")),
    }
}

/// Sets the connection's socket read and write timeouts to the time left until `deadline`, so
/// no read or write of the next statement outlives the deadline; an error once it has passed.
fn bound_socket(conn: &Conn, deadline: Instant) -> Result<(), String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err("out of time before the statement".into());
    }
    // SAFETY: the descriptor is the open socket `conn` owns, and `conn` outlives this borrow,
    // which is only used to duplicate it just below.
    let socket = unsafe { BorrowedFd::borrow_raw(conn.as_raw_fd()) };
    let socket = socket
        .try_clone_to_owned()
        .map_err(|e| format!("cannot set the socket's timeouts: {e}"))?;
    // Timeouts belong to the socket, not the descriptor: setting them through the duplicate
    // (closed on return) sets the connection's. `TcpStream` only names the setsockopt calls,
    // which are the same on a Unix socket.
    let socket = std::net::TcpStream::from(socket);
    socket
        .set_read_timeout(Some(left))
        .and_then(|()| socket.set_write_timeout(Some(left)))
        .map_err(|e| format!("cannot set the socket's timeouts: {e}"))
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
