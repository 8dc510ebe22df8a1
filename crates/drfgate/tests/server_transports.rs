//! The other ways Django reaches its database, each connected for real: PostgreSQL over TLS
//! (`sslmode=require`, so the lookup fails unless the server speaks TLS) and over its Unix
//! socket (libpq's `host=/folder`), MariaDB over its Unix socket (`unix_socket`). Each gate
//! answers john's token as DRF does and a wrong token with DRF's refusal. And the other side of
//! `require`: this machine's MariaDB has TLS off, so `ssl_mode=REQUIRED` must refuse (503), never
//! fall back to plain text.
//!
//! Needs the Django-made fixture on each server (`make fixture-engines`) and the servers'
//! Debian defaults (PostgreSQL's snakeoil certificate, its socket folder, MariaDB's socket);
//! skipped with `DRFGATE_SKIP=postgres` / `mysql`.

#![cfg(any(feature = "postgres", feature = "mysql"))]

use std::path::Path;

use drfgate_test_support as common;

use common::conformance::server_database;
use common::skip;
use drfgate::{Config, Decision, Gate, Request};

fn gate_on(database: &str) -> Gate {
    let text = format!(
        r#"
[django]
DATABASE = "{database}"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[[routes]]
path = "api/orders/"
"#
    );
    let config = Config::from_str_with_origin(&text, "transports.toml", None).unwrap();
    Gate::from_config(config).unwrap()
}

fn get(gate: &Gate, token: &str) -> Decision {
    let header = format!("Token {token}");
    let headers = [(&b"Authorization"[..], header.as_bytes())];
    gate.decide(&Request::new(b"GET", b"/api/orders/").with_headers(&headers))
}

/// john's token is let in as john, a wrong one refused with DRF's 401: the lookup went through.
fn answers_like_drf(database: &str) {
    let gate = gate_on(database);
    match get(&gate, "abcd1234") {
        Decision::Allow(Some(identity)) => {
            assert_eq!(&*identity.user.username, "john", "{database}")
        }
        other => panic!("{database}: john's token: {other:?}"),
    }
    let Decision::Deny(deny) = get(&gate, "not-a-token") else {
        panic!("{database}: a wrong token was not refused");
    };
    assert_eq!(deny.status, 401, "{database}");
    assert_eq!(&*deny.body, br#"{"detail":"Invalid token."}"#, "{database}");
}

/// The fixture's URL with `authority` (`host:port`) dropped for a socket, plus `query`.
fn variant(engine: &str, socket: bool, query: &str) -> String {
    let url = server_database(engine);
    let url = if socket {
        let scheme_end = url.find("://").unwrap() + 3;
        let at = url[scheme_end..]
            .find('@')
            .map_or(scheme_end, |i| scheme_end + i + 1);
        let slash = at + url[at..].find('/').unwrap();
        format!("{}{}", &url[..at], &url[slash..])
    } else {
        url
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_over_tls_and_over_its_socket() {
    if skip::requested_for("postgres") {
        eprintln!("skipped (DRFGATE_SKIP=postgres)");
        return;
    }
    answers_like_drf(&variant("postgres", false, "sslmode=require"));
    let folder = ["/run/postgresql", "/var/run/postgresql"]
        .into_iter()
        .find(|f| Path::new(f).join(".s.PGSQL.5432").exists())
        .expect("PostgreSQL's socket (Debian: /run/postgresql/.s.PGSQL.5432)");
    answers_like_drf(&variant("postgres", true, &format!("host={folder}")));
}

#[cfg(feature = "mysql")]
#[test]
fn mariadb_over_its_socket() {
    if skip::requested_for("mysql") {
        eprintln!("skipped (DRFGATE_SKIP=mysql)");
        return;
    }
    let socket = ["/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock"]
        .into_iter()
        .find(|s| Path::new(s).exists())
        .expect("MariaDB's socket (Debian: /run/mysqld/mysqld.sock)");
    answers_like_drf(&variant("mysql", true, &format!("unix_socket={socket}")));

    // Debian's MariaDB runs without TLS (`have_ssl` DISABLED): a gate that requires it gets no
    // plain-text connection, so john's token is refused as an outage, not let in.
    let gate = gate_on(&variant(
        "mysql",
        false,
        "ssl_mode=REQUIRED&connect_timeout=2&statement_timeout=2",
    ));
    let Decision::Deny(deny) = get(&gate, "abcd1234") else {
        panic!("a MariaDB without TLS answered a gate that requires TLS");
    };
    assert_eq!(deny.status, 503);
}

/// A gate whose pool holds PostgreSQL connections dropped on an async thread, as `drfgate serve`
/// drops its policy on SIGHUP and SIGTERM and a tower server drops its service: each connection
/// owns a runtime, and dropping a tokio runtime there used to panic ("Cannot drop a runtime in
/// a context where blocking is not allowed").
#[cfg(feature = "postgres")]
#[test]
fn a_gate_holding_postgres_connections_drops_on_an_async_thread() {
    if skip::requested_for("postgres") {
        eprintln!("skipped (DRFGATE_SKIP=postgres)");
        return;
    }
    let database = server_database("postgres");
    let gate = gate_on(&database);
    // A lookup, so the pool holds an open connection and its runtime.
    assert!(matches!(get(&gate, "abcd1234"), Decision::Allow(Some(_))));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async move { drop(gate) });
}
