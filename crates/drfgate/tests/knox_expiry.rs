//! knox expiries outside 1970–2038 on every engine: the fixture's knox_expired_1969 and
//! knox_john_2040 (tests/django/jwt_fixtures.py, made by knox and saved by Django's ORM). Each
//! store reads them as the exact Unix seconds Django stored, and the gate refuses the first
//! (super's) and lets john in with the second, as knox does on that database.
//!
//! The bug this keeps out: the MariaDB store read the expiry through `UNIX_TIMESTAMP`, which
//! MariaDB answers with NULL outside 1970–2038, and NULL is knox's "never expires" — a token
//! disabled by backdating its expiry was let in.
//!
//! Needs the Django-made fixtures (`make fixture-db fixture-engines`); skipped with
//! `DRFGATE_SKIP=django`, `postgres` or `mysql`.

use std::collections::BTreeMap;
use std::path::Path;

use drfgate::store::{DatabaseUrl, Schema};
use drfgate::{Decision, Gate, Request};
use drfgate_test_support::{fixture_db, repo_root};

/// jwt_fixtures.py's KNOX_EXPIRED_1969 (1969-07-20 20:17:40 UTC) and KNOX_JOHN_2040
/// (2040-01-01 00:00:00 UTC), in Unix seconds.
const EXPIRED_1969: f64 = -14_182_940.0;
const JOHN_2040: f64 = 2_208_988_800.0;

fn tokens(folder: &Path) -> BTreeMap<String, String> {
    let path = folder.join("tokens.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("tokens.json")).unwrap()
}

fn gate(database: &str) -> Gate {
    let text = format!(
        r#"
[django]
DATABASE = "{database}"
[[routes]]
path = "api/knox/"
authentication_classes = ["knox.auth.TokenAuthentication"]
permission_classes = ["IsAuthenticated"]
"#
    );
    Gate::from_config_str(&text, None).expect("config")
}

fn decide(gate: &Gate, token: &str) -> Decision {
    let header = format!("Token {token}");
    let headers = [(&b"Authorization"[..], header.as_bytes())];
    gate.decide(&Request::new(b"GET", b"/api/knox/").with_headers(&headers))
}

/// The expiries the store reads, then the gate's answers, on `database` with its `tokens`.
fn expiries_read_as_stored(database: &str, tokens: &BTreeMap<String, String>) {
    let store = DatabaseUrl::parse(database, None)
        .unwrap()
        .open(&Schema::default())
        .unwrap();
    for (name, username, expected) in [
        ("knox_expired_1969", "super", EXPIRED_1969),
        ("knox_john_2040", "john", JOHN_2040),
    ] {
        let token_key: String = tokens[name].chars().take(15).collect();
        let rows = store.knox_tokens(&token_key).unwrap();
        let [row] = rows.as_slice() else {
            panic!("{database}: {name}: {} rows for its token_key", rows.len());
        };
        assert_eq!(&*row.user.username, username, "{database}: {name}");
        assert_eq!(row.expiry, Some(expected), "{database}: {name}'s expiry");
    }

    let gate = gate(database);
    match decide(&gate, &tokens["knox_expired_1969"]) {
        Decision::Deny(deny) => {
            assert_eq!(deny.status, 401, "{database}");
            assert_eq!(&*deny.body, br#"{"detail":"Invalid token."}"#, "{database}");
        }
        other => panic!("{database}: a token expired in 1969: {other:?}"),
    }
    match decide(&gate, &tokens["knox_john_2040"]) {
        Decision::Allow(Some(identity)) => {
            assert_eq!(&*identity.user.username, "john", "{database}")
        }
        other => panic!("{database}: a token expiring in 2040: {other:?}"),
    }
}

#[test]
fn knox_expiries_outside_32_bit_unix_time_on_sqlite() {
    let Some(db) = fixture_db() else { return };
    let tokens = tokens(&repo_root().join("build/django/jwt"));
    expiries_read_as_stored(&format!("sqlite://{}", db.display()), &tokens);
}

/// The fixture Django made on `engine`'s server, with its own tokens.json.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn on_server(engine: &str) {
    use drfgate_test_support::skip;
    if skip::requested_for(engine) {
        eprintln!("skipped (DRFGATE_SKIP={engine})");
        return;
    }
    let folder = repo_root().join(format!("build/engines/{engine}/jwt"));
    let what = format!("{} (run `make fixture-engines`)", folder.display());
    if !skip::need(engine, folder.join("tokens.json").is_file(), what) {
        return;
    }
    let database = drfgate_test_support::conformance::server_database(engine);
    expiries_read_as_stored(&database, &tokens(&folder));
}

#[cfg(feature = "postgres")]
#[test]
fn knox_expiries_outside_32_bit_unix_time_on_postgres() {
    on_server("postgres");
}

#[cfg(feature = "mysql")]
#[test]
fn knox_expiries_outside_32_bit_unix_time_on_mariadb() {
    on_server("mysql");
}
