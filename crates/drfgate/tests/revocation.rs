//! `[revocation]` over the fixture database: a user published on Redis is dropped from the
//! caches at once, and a gate whose listener cannot connect trusts its cache only briefly.
//! The three-process test against PostgreSQL and MariaDB is tests/revocation/revocation.py.

use drfgate_test_support as common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use drfgate::{Config, Decision, Gate, Request};

fn gate(db: &Path, revocation: &str) -> (Gate, Arc<AtomicUsize>) {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[cache]
ttl_seconds = 300
[revocation]
{revocation}
"#,
        db = db.display()
    );
    let config = Config::from_str_with_origin(&text, "test.toml", None).unwrap();
    let (store, queries) = common::Counting::open(db, config.django.schema.clone());
    (Gate::with_store(config, Box::new(store)).unwrap(), queries)
}

fn john(gate: &Gate) -> Decision {
    let headers = [(&b"Authorization"[..], &b"Token abcd1234"[..])];
    gate.decide(&Request::new(b"GET", b"/api/x/").with_headers(&headers))
}

/// Polls `done` every 10 ms; a generous bound only so a broken build cannot hang.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < give_up, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn redis(args: &[&str]) -> String {
    let mut stream = TcpStream::connect("127.0.0.1:6379").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut command = format!("*{}\r\n", args.len());
    for arg in args {
        command.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(command.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut reply = String::new();
    reader.read_line(&mut reply).unwrap();
    let mut more = String::new();
    if reply.starts_with('*') {
        // PUBSUB NUMSUB: *2, then $len, the channel, :count
        for _ in 0..3 {
            more.clear();
            reader.read_line(&mut more).unwrap();
        }
        return more.trim().to_string();
    }
    reply.trim().to_string()
}

fn redis_up() -> bool {
    let up = TcpStream::connect("127.0.0.1:6379").is_ok();
    common::skip::need("redis", up, "a Redis server at 127.0.0.1:6379")
}

#[test]
fn a_user_published_on_redis_is_dropped_from_the_cache() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    if !redis_up() {
        return;
    }
    let channel = format!("drfgate_test_{}", std::process::id());
    let (gate, queries) = gate(
        &db,
        &format!("source = \"redis://127.0.0.1:6379/0\"\nchannel = \"{channel}\""),
    );
    assert!(!gate.stats().revocation_listening);
    assert!(john(&gate).is_allow());
    eventually("the listener subscribed", || {
        gate.stats().revocation_listening
    });
    assert_eq!(redis(&["PUBSUB", "NUMSUB", &channel]), ":1");
    // Subscribing dropped the caches once; cached again now.
    assert!(john(&gate).is_allow());
    let before = queries.load(Ordering::SeqCst);
    assert!(john(&gate).is_allow());
    assert_eq!(
        queries.load(Ordering::SeqCst),
        before,
        "answered from the cache"
    );

    redis(&["PUBLISH", &channel, "999"]);
    redis(&["PUBLISH", &channel, "1"]);
    eventually("john's token dropped", || {
        assert!(john(&gate).is_allow());
        queries.load(Ordering::SeqCst) > before
    });

    drop(gate);
    eventually("the listener gone with its gate", || {
        redis(&["PUBSUB", "NUMSUB", &channel]) == ":0"
    });
}

#[test]
fn without_its_listener_a_gate_trusts_its_cache_briefly() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    // Nothing listens on port 1: the listener never connects.
    let (gate, queries) = gate(
        &db,
        "source = \"redis://127.0.0.1:1/0\"\ndisconnected_ttl_ms = 20",
    );
    assert!(john(&gate).is_allow());
    let first = queries.load(Ordering::SeqCst);
    // A drop that lands while a lookup is in flight only stops that lookup's result being
    // cached (nothing to remove yet): wait for one that removed a cached entry.
    eventually("the cached token dropped while disconnected", || {
        assert!(john(&gate).is_allow());
        queries.load(Ordering::SeqCst) > first && gate.stats().tokens.invalidations > 0
    });
    assert!(!gate.stats().revocation_listening);
}

#[test]
fn a_database_source_needs_postgres() {
    let text = r#"
[django]
DATABASE = "sqlite:///tmp/none.sqlite3"
[revocation]
source = "database"
"#;
    let error = Config::from_str_with_origin(text, "test.toml", None)
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("revocation.source"), "{error}");
    for bad in [
        "source = \"http://x\"",
        "source = \"redis://h\"\nchannel = \"a b\"",
        "source = \"redis://h\"\ndisconnected_ttl_ms = 0",
    ] {
        let text =
            format!("[django]\nDATABASE = \"sqlite:///tmp/none.sqlite3\"\n[revocation]\n{bad}\n");
        assert!(
            Config::from_str_with_origin(&text, "test.toml", None).is_err(),
            "{bad}"
        );
    }
}

/// The token filter on SQLite with a Redis listener: a key the table lacks is refused without a
/// query (no budget here), and a new token, once its `+pk` notification is published, is read
/// from the table (`token_keys_of_user`) and allowed. The 10^6 flood is on PostgreSQL
/// (`junk_flood_postgres.rs`).
#[test]
fn the_token_filter_on_sqlite_learns_a_new_token_published_on_redis() {
    if !redis_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(
        dir.path(),
        "INSERT INTO auth_user (id, username, password, is_active) VALUES (1, 'ann', '!', 1);
         INSERT INTO authtoken_token (key, user_id) VALUES ('ann-old-key', 1);",
    );
    let channel = format!("drfgate_filter_test_{}", std::process::id());
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[cache]
unlisted_token_lookups_per_second = 0
[revocation]
source = "redis://127.0.0.1:6379/0"
channel = "{channel}"
"#,
        db = db.display()
    );
    let gate =
        Gate::from_config(Config::from_str_with_origin(&text, "test.toml", None).unwrap()).unwrap();
    gate.start_revocation_listener();
    eventually("the token filter loaded", || {
        gate.stats().token_filter_authoritative
    });
    assert_eq!(gate.stats().token_filter_keys, 1);
    let with_token = |key: &str| {
        let header = format!("Token {key}");
        let headers = [(&b"Authorization"[..], header.as_bytes())];
        gate.decide(&Request::new(b"GET", b"/api/x/").with_headers(&headers))
    };
    assert!(with_token("ann-old-key").is_allow());
    let Decision::Deny(deny) = with_token("ann-new-key") else {
        panic!("a key the table lacks was allowed")
    };
    assert_eq!(&*deny.body, br#"{"detail":"Invalid token."}"#);
    assert_eq!(gate.stats().token_lookups_filtered, 1);

    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "DELETE FROM authtoken_token WHERE user_id = 1;
             INSERT INTO authtoken_token (key, user_id) VALUES ('ann-new-key', 1);",
        )
        .unwrap();
    redis(&["PUBLISH", &channel, "+1"]);
    eventually("the new token allowed", || {
        with_token("ann-new-key").is_allow()
    });
    assert_eq!(gate.stats().token_filter_keys, 2);
}
