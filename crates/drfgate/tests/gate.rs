//! The gate over the Django-made fixture database: caching and its store queries,
//! invalidation, explain's hints, concurrency, and failing closed. Tests that need rows the
//! fixture lacks, or a lookup paused half-way, build their own database.

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

/// A gate over `db` whose store counts queries and can pause lookups.
fn pausable_gate(db: &Path) -> (Gate, Arc<AtomicUsize>, Arc<common::Pauses>) {
    let config = Config::from_str_with_origin(&config_text(db, ""), "test.toml", None).unwrap();
    let (store, queries, pauses) =
        common::Counting::open_pausable(db, config.django.schema.clone());
    (
        Gate::with_store(config, Box::new(store)).unwrap(),
        queries,
        pauses,
    )
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

const UNUSABLE: &str = "!IZRSuBFyZjNPx9cRfRnsfr4NnvHCYwSqG2EwcBy";

#[test]
fn a_permission_lookup_in_flight_cannot_outlive_a_permission_change() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(
        dir.path(),
        &format!(
            "INSERT INTO auth_user (id, username, password) VALUES (8, 'adder', '{UNUSABLE}');
             INSERT INTO authtoken_token (key, user_id) VALUES ('adder123', 8);
             INSERT INTO django_content_type (id, app_label, model) VALUES (1, 'expapp', 'thing');
             INSERT INTO auth_permission (id, content_type_id, codename) VALUES (1, 1, 'add_thing');
             INSERT INTO auth_user_user_permissions (user_id, permission_id) VALUES (8, 1);"
        ),
    );
    let (gate, _, pauses) = pausable_gate(&db);
    let headers = [(&b"Authorization"[..], &b"Token adder123"[..])];
    let post = || gate.decide(&Request::new(b"POST", b"/api/things/").with_headers(&headers));
    std::thread::scope(|s| {
        let paused = pauses.user_permissions.arm();
        // Reads adder's permissions (add_thing), then stalls; nothing is cached for adder yet.
        let early = s.spawn(post);
        paused.wait_until_stopped();
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute(
                "DELETE FROM auth_user_user_permissions WHERE user_id = 8",
                [],
            )
            .unwrap();
        gate.invalidate_user(&UserPk::Int(8));
        paused.release();
        assert_eq!(user_of(&early.join().unwrap()), Some("adder"));
    });
    let decision = post();
    assert_eq!(
        decision.status(),
        403,
        "the permission removed before the lookup finished must not be cached"
    );
}
