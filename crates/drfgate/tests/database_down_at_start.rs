//! A gate built while its database server is down: it loads (the settings are checked, the
//! server is not asked), refuses what needs the database with 503 and logs the outage once,
//! and — the same gate, not a rebuilt one — answers as DRF does once the server is reachable.
//! This is what an Apache child, an nginx worker or `drfgate serve` started during an outage
//! relies on.
//!
//! Needs the Django-made fixture on each server (`make fixture-engines`); skipped with
//! `DRFGATE_SKIP=postgres` / `mysql`.

#![cfg(any(feature = "postgres", feature = "mysql"))]

use drfgate_test_support as common;

use common::conformance::server_database;
use common::{skip, LateRelay};
use drfgate::store::network::Host;
use drfgate::store::DatabaseUrl;
use drfgate::{Config, Decision, Gate, Request};

const UNAVAILABLE: &[u8] = br#"{"detail":"Service temporarily unavailable, try again later."}"#;

/// The fixture database's URL with its host and port replaced by the relay's.
fn url_through(engine: &str, relay: &LateRelay) -> (String, (String, u16)) {
    let url = server_database(engine);
    let DatabaseUrl::Server(db) = DatabaseUrl::parse(&url, None).unwrap() else {
        panic!("{url} is not a server database");
    };
    let Host::Tcp(host) = db.host.clone() else {
        panic!("{url}: this test needs a TCP host");
    };
    let authority = format!("{host}:{}", db.port);
    assert!(url.contains(&authority), "{url}: host and port spelled out");
    let relayed = url.replace(&authority, &format!("127.0.0.1:{}", relay.port()));
    // Short timeouts: each refused request gives up quickly.
    let sep = if relayed.contains('?') { '&' } else { '?' };
    (
        format!("{relayed}{sep}connect_timeout=1&statement_timeout=2"),
        (host, db.port),
    )
}

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
    let config = Config::from_str_with_origin(&text, "down_at_start.toml", None).unwrap();
    Gate::from_config(config).expect("a gate builds while its database is down")
}

fn get(gate: &Gate, token: &str) -> Decision {
    let header = format!("Token {token}");
    let headers = [(&b"Authorization"[..], header.as_bytes())];
    gate.decide(&Request::new(b"GET", b"/api/orders/").with_headers(&headers))
}

fn starts_down_then_answers(engine: &str) {
    if skip::requested_for(engine) {
        eprintln!("skipped (DRFGATE_SKIP={engine})");
        return;
    }
    common::logs::capture();
    let relay = LateRelay::reserve();
    let (database, upstream) = url_through(engine, &relay);
    let gate = gate_on(&database);
    let location = format!("127.0.0.1:{}", relay.port());

    for _ in 0..3 {
        let Decision::Deny(deny) = get(&gate, "abcd1234") else {
            panic!("{engine}: allowed while the database was unreachable");
        };
        assert_eq!(deny.status, 503);
        assert_eq!(&*deny.body, UNAVAILABLE);
    }
    assert!(gate.stats().store_failing);
    let lines = common::logs::lines_containing(&location);
    let errors = lines.iter().filter(|l| l.starts_with("error:")).count();
    assert_eq!(
        errors, 1,
        "{engine}: one error line for the outage, not one per request: {lines:#?}"
    );
    assert!(
        lines[0].starts_with("warn:") && lines[0].contains("does not answer now"),
        "{engine}: the gate says at load that it starts without its database: {lines:#?}"
    );

    relay.start(upstream);
    // The same gate: DRF's answers for the fixture's token and for a bad one.
    let Decision::Allow(Some(identity)) = get(&gate, "abcd1234") else {
        panic!("{engine}: the gate did not recover once the database answered");
    };
    assert_eq!(&*identity.user.username, "john");
    let Decision::Deny(deny) = get(&gate, "not-a-token") else {
        panic!("{engine}: an unknown token was allowed");
    };
    assert_eq!(deny.status, 401);
    assert_eq!(&*deny.body, br#"{"detail":"Invalid token."}"#);
    assert!(!gate.stats().store_failing);
}

#[cfg(feature = "postgres")]
#[test]
fn a_gate_built_while_postgres_is_down_refuses_then_answers_like_drf() {
    starts_down_then_answers("postgres");
}

#[cfg(feature = "mysql")]
#[test]
fn a_gate_built_while_mariadb_is_down_refuses_then_answers_like_drf() {
    starts_down_then_answers("mysql");
}
