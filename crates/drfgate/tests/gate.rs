//! The gate over the Django-made fixture database: caching and its store queries,
//! invalidation, explain's hints, concurrency, and failing closed.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use drfgate::{Config, Decision, Gate, Request, UserPk};

fn config_text(db: &Path, extra: &str) -> String {
    format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
AUTHENTICATION_BACKENDS = ["ModelBackend"]
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication", "BasicAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
{extra}
[[routes]]
path = "api/admin/"
permission_classes = ["IsAdminUser"]
[[routes]]
path = "api/things/"
methods = ["GET", "POST"]
permission_classes = ["DjangoModelPermissions"]
model = "expapp.thing"
"#,
        db = db.display()
    )
}

fn counting_gate(db: &Path, extra: &str) -> (Gate, Arc<AtomicUsize>) {
    let config = Config::from_str_with_origin(&config_text(db, extra), "test.toml", None).unwrap();
    let (store, queries) = common::Counting::open(db, config.django.schema.clone());
    (Gate::with_store(config, Box::new(store)).unwrap(), queries)
}

fn get(gate: &Gate, path: &str, authorization: &str) -> Decision {
    let headers = [(&b"Authorization"[..], authorization.as_bytes())];
    gate.decide(&Request::new(b"GET", path.as_bytes()).with_headers(&headers))
}

fn user_of(decision: &Decision) -> Option<&str> {
    decision.identity().map(|i| &*i.user.username)
}

#[test]
fn a_token_costs_one_query_then_none_until_invalidated() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = counting_gate(&db, "");
    for _ in 0..5 {
        assert_eq!(
            user_of(&get(&gate, "/api/x/", "Token abcd1234")),
            Some("john")
        );
    }
    assert_eq!(queries.load(Ordering::SeqCst), 1);
    let stats = gate.stats().tokens;
    assert_eq!((stats.hits, stats.loads), (4, 1), "{stats:?}");

    gate.invalidate_token(b"abcd1234");
    assert_eq!(
        user_of(&get(&gate, "/api/x/", "Token abcd1234")),
        Some("john")
    );
    assert_eq!(queries.load(Ordering::SeqCst), 2);

    assert!(gate.invalidate_user(&UserPk::Int(1)) >= 1);
    assert_eq!(
        user_of(&get(&gate, "/api/x/", "Token abcd1234")),
        Some("john")
    );
    assert_eq!(queries.load(Ordering::SeqCst), 3);
}

#[test]
fn unknown_tokens_are_remembered_briefly() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = counting_gate(&db, "");
    for _ in 0..3 {
        let Decision::Deny(deny) = get(&gate, "/api/x/", "Token nope") else {
            panic!()
        };
        assert_eq!(deny.detail().as_deref(), Some("Invalid token."));
    }
    assert_eq!(queries.load(Ordering::SeqCst), 1);
    assert_eq!(gate.stats().tokens.negative_hits, 2);
}

#[test]
fn a_verified_password_is_not_hashed_again() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = counting_gate(&db, "");
    // john:password
    for _ in 0..3 {
        assert_eq!(
            user_of(&get(&gate, "/api/x/", "Basic am9objpwYXNzd29yZA==")),
            Some("john")
        );
    }
    assert_eq!(queries.load(Ordering::SeqCst), 1);
    // Failures are never cached: each wrong password is checked against the database.
    for _ in 0..2 {
        assert!(!get(&gate, "/api/x/", "Basic am9objp3cm9uZw==").is_allow());
    }
    assert_eq!(queries.load(Ordering::SeqCst), 3);
}

#[test]
fn caching_can_be_turned_off() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = counting_gate(&db, "[cache]\nmax_entries = 0\n");
    for _ in 0..3 {
        assert_eq!(
            user_of(&get(&gate, "/api/x/", "Token abcd1234")),
            Some("john")
        );
    }
    assert_eq!(queries.load(Ordering::SeqCst), 3);
}

#[test]
fn model_permissions_are_looked_up_once_per_user() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = counting_gate(&db, "");
    let headers = [(&b"Authorization"[..], &b"Token adder123"[..])];
    for _ in 0..3 {
        let d = gate.decide(&Request::new(b"POST", b"/api/things/").with_headers(&headers));
        assert_eq!(user_of(&d), Some("adder"));
    }
    // one token lookup, one permission lookup
    assert_eq!(queries.load(Ordering::SeqCst), 2);
    let d = gate.decide(&Request::new(b"PUT", b"/api/things/").with_headers(&headers));
    assert_eq!(d.status(), 403);
}

#[test]
fn many_threads_share_one_gate() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = counting_gate(&db, "");
    let gate = Arc::new(gate);
    let tokens = [
        ("abcd1234", Some("john")),
        ("admin123", Some("admin")),
        ("bogus", None),
    ];
    std::thread::scope(|s| {
        for t in 0..8 {
            let gate = gate.clone();
            s.spawn(move || {
                for i in 0..500 {
                    let (token, user) = tokens[(i + t) % tokens.len()];
                    let d = get(&gate, "/api/x/", &format!("Token {token}"));
                    assert_eq!(user_of(&d), user);
                }
            });
        }
    });
    // Single flight: at most one load per token, whatever the interleaving.
    assert!(queries.load(Ordering::SeqCst) <= tokens.len());
}

#[test]
fn explain_hints_at_the_classic_mistakes() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, _) = counting_gate(&db, "");
    let hints = |method: &[u8], path: &str, auth: Option<&str>| -> Vec<String> {
        let headers: Vec<(&[u8], &[u8])> = auth
            .map(|a| vec![(&b"Authorization"[..], a.as_bytes())])
            .unwrap_or_default();
        let (_, trace) =
            gate.explain(&Request::new(method, path.as_bytes()).with_headers(&headers));
        assert!(!trace.steps.is_empty());
        trace.hints
    };
    let has = |hints: Vec<String>, needle: &str| {
        assert!(
            hints.iter().any(|h| h.contains(needle)),
            "no hint with {needle:?} in {hints:?}"
        );
    };
    has(hints(b"GET", "/api/x/", None), "WSGIPassAuthorization On");
    has(
        hints(b"GET", "/api/x/", Some("Bearer abcd1234")),
        "\"Bearer\"",
    );
    has(
        hints(b"GET", "/api/x/", Some("Token nope")),
        "not in the token table",
    );
    has(
        hints(b"GET", "/api/x/", Some("Token inactive1")),
        "is_active = false",
    );
    has(
        hints(b"GET", "/api/admin/", Some("Token abcd1234")),
        "is_staff",
    );
    has(
        hints(b"GET", "/api/admin/", Some("Token super123")),
        "superuser but not staff",
    );
    has(
        hints(b"POST", "/api/things/", Some("Token abcd1234")),
        "lacks the model permission",
    );
}

#[test]
fn a_broken_database_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = common::fixture_copy(dir.path()) else {
        return;
    };
    let gate = Gate::from_config_str(&config_text(&db, ""), None).unwrap();
    assert!(get(&gate, "/api/x/", "Token abcd1234").is_allow());
    // Django's side of the database changes under the gate: the table is gone.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("DROP TABLE authtoken_token").unwrap();
    let Decision::Deny(deny) = get(&gate, "/api/x/", "Token admin123") else {
        panic!("a failed lookup must not allow")
    };
    assert_eq!(deny.status, 500);
    assert_eq!(deny.detail().as_deref(), Some("A server error occurred."));
}

#[test]
fn the_database_may_be_written_while_the_gate_reads() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = common::fixture_copy(dir.path()) else {
        return;
    };
    let (gate, _) = counting_gate(&db, "[cache]\nmax_entries = 0\n");
    let writer = rusqlite::Connection::open(&db).unwrap();
    // Django holding a write transaction briefly (e.g. saving a model).
    writer
        .execute_batch("BEGIN IMMEDIATE; UPDATE auth_user SET last_name = 'x' WHERE id = 1;")
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        writer.execute_batch("COMMIT").unwrap();
    });
    assert_eq!(
        user_of(&get(&gate, "/api/x/", "Token abcd1234")),
        Some("john")
    );
    release.join().unwrap();
}

/// A deploy that swaps Django's database file (`mv new.sqlite3 db.sqlite3`): with caching
/// off, the next request is answered from the new file. (With caching on, answers already
/// cached stand for their TTL, as after any change made behind the gate's back.)
#[test]
fn a_database_file_replaced_by_rename_is_read_from_then_on() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = common::fixture_copy(dir.path()) else {
        return;
    };
    let gate =
        Gate::from_config_str(&config_text(&db, "[cache]\nmax_entries = 0\n"), None).unwrap();
    assert_eq!(
        user_of(&get(&gate, "/api/x/", "Token abcd1234")),
        Some("john")
    );
    assert!(get(&gate, "/api/admin/", "Token admin123").is_allow());

    // The new file: john's token revoked, admin no longer staff.
    let new = dir.path().join("new.sqlite3");
    std::fs::copy(&db, &new).unwrap();
    rusqlite::Connection::open(&new)
        .unwrap()
        .execute_batch(
            "DELETE FROM authtoken_token WHERE key = 'abcd1234'; \
             UPDATE auth_user SET is_staff = 0 WHERE username = 'admin';",
        )
        .unwrap();
    std::fs::rename(&new, &db).unwrap();

    let Decision::Deny(deny) = get(&gate, "/api/x/", "Token abcd1234") else {
        panic!("a token gone from the new database file must not authenticate")
    };
    assert_eq!(
        (deny.status, deny.detail().as_deref()),
        (401, Some("Invalid token."))
    );
    let Decision::Deny(deny) = get(&gate, "/api/admin/", "Token admin123") else {
        panic!("a user no longer staff in the new database file must be refused")
    };
    assert_eq!(deny.status, 403);

    // Deleted and not yet replaced: refused (500), never answered from the old file.
    std::fs::remove_file(&db).unwrap();
    let Decision::Deny(deny) = get(&gate, "/api/x/", "Token admin123") else {
        panic!("a deleted database must not allow")
    };
    assert_eq!(deny.status, 500);
}

#[test]
fn a_missing_database_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.sqlite3");
    let err = Gate::from_config_str(&config_text(&missing, ""), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
}
