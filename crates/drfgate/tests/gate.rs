//! The gate over the Django-made fixture database: caching and its store queries,
//! invalidation, explain's hints, concurrency, and failing closed. Tests that need rows the
//! fixture lacks, or a lookup paused half-way, build their own database.

use drfgate_test_support as common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use drfgate::hashers::{work_done_on_this_thread, HashWork, Hasher};
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

fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
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
    assert_eq!(deny.status, 503);
    assert_eq!(
        deny.detail().as_deref(),
        Some("Service temporarily unavailable, try again later.")
    );
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

    // Deleted and not yet replaced: refused (503), never answered from the old file.
    std::fs::remove_file(&db).unwrap();
    let Decision::Deny(deny) = get(&gate, "/api/x/", "Token admin123") else {
        panic!("a deleted database must not allow")
    };
    assert_eq!(deny.status, 503);
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

// Spec §5.5 vectors (Django-made) for SPEC_PASSWORD, and one of Django 5.2's small-cost ones.
const SPEC_PASSWORD: &str = "correct horse battery staple";
const PBKDF2_DEFAULT_COST: &str =
    "pbkdf2_sha256$1000000$vectorsalt0123456789ab$TnFLbqsJJ1veTVCQVc5zgmEIPUUzN7RCqWaDPD9Iznw=";
const PBKDF2_260000: &str =
    "pbkdf2_sha256$260000$vectorsalt0123456789ab$A7ZoOg5BlJXgVnN5ULbZc/Zhcu3urD+r8k8V6GVKbwI=";
const MD5: &str = "md5$vectorsalt0123456789ab$499175ba542f6f2b69af2f33f92ce274";
const UNUSABLE: &str = "!IZRSuBFyZjNPx9cRfRnsfr4NnvHCYwSqG2EwcBy";
const OTHER_PASSWORD: &str = "pässwörd";
const OTHER_PASSWORD_PBKDF2_1000: &str =
    "pbkdf2_sha256$1000$Me1AU3PaSVSL941XjULMxv$o1e73zWcTUYSyWF9bPNUym3TdMEafxwMqOmMOIkkjMg=";

/// A decision and the password hashing it did on this thread.
fn hashing(decide: impl FnOnce() -> Decision) -> (Decision, HashWork) {
    let before = work_done_on_this_thread();
    let decision = decide();
    (decision, work_done_on_this_thread().since(&before))
}

#[test]
fn basic_costs_one_default_hash_whoever_the_user_is() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(
        dir.path(),
        &format!(
            "INSERT INTO auth_user (id, username, password, is_active) VALUES
             (1, 'alice', '{PBKDF2_DEFAULT_COST}', 1), (2, 'nopass', '{UNUSABLE}', 1),
             (3, 'legacy', '{MD5}', 1), (4, 'empty', '', 1),
             (5, 'ina', '{PBKDF2_DEFAULT_COST}', 0), (6, 'old', '{PBKDF2_260000}', 1);"
        ),
    );
    // Django 5.2's PASSWORD_HASHERS: PBKDF2 first, no MD5.
    let (gate, _, _) = pausable_gate(&db);
    let one_hash = HashWork::one_default_hash(Hasher::Pbkdf2Sha256);
    for (case, username, password) in [
        ("unknown user", "nobody", SPEC_PASSWORD),
        ("unusable password", "nopass", SPEC_PASSWORD),
        ("hasher not in PASSWORD_HASHERS", "legacy", SPEC_PASSWORD),
        ("empty password column", "empty", SPEC_PASSWORD),
        ("wrong password", "alice", "wrong"),
        // ModelBackend checks the password before it looks at is_active.
        ("inactive user, right password", "ina", SPEC_PASSWORD),
        ("inactive user, wrong password", "ina", "wrong"),
    ] {
        let (decision, work) = hashing(|| get(&gate, "/api/x/", &basic(username, password)));
        let Decision::Deny(deny) = decision else {
            panic!("{case}: allowed")
        };
        assert_eq!(
            (deny.status, deny.detail().as_deref()),
            (401, Some("Invalid username/password.")),
            "{case}"
        );
        assert_eq!(work, one_hash, "{case}");
    }

    // Django's harden_runtime: 260 000 iterations to verify, the missing 740 000 on top.
    let (decision, work) = hashing(|| get(&gate, "/api/x/", &basic("old", "wrong")));
    assert_eq!(decision.status(), 401);
    assert_eq!(work.total_hashes(), 2, "{work:?}");
    assert_eq!(
        work.cost(Hasher::Pbkdf2Sha256),
        Hasher::Pbkdf2Sha256.default_cost()
    );

    // A right password costs the same once, then nothing while it is cached.
    let (decision, work) = hashing(|| get(&gate, "/api/x/", &basic("alice", SPEC_PASSWORD)));
    assert_eq!(user_of(&decision), Some("alice"));
    assert_eq!(work, one_hash);
    let (decision, work) = hashing(|| get(&gate, "/api/x/", &basic("alice", SPEC_PASSWORD)));
    assert_eq!(user_of(&decision), Some("alice"));
    assert_eq!(work, HashWork::default());
}

#[test]
fn a_basic_login_in_flight_cannot_outlive_a_password_change() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(
        dir.path(),
        &format!("INSERT INTO auth_user (id, username, password) VALUES (1, 'john', '{PBKDF2_DEFAULT_COST}');"),
    );
    let (gate, _, pauses) = pausable_gate(&db);
    let old = basic("john", SPEC_PASSWORD);
    let new = basic("john", OTHER_PASSWORD);
    std::thread::scope(|s| {
        let paused = pauses.user_by_username.arm();
        // Reads john's old hash, then stalls before verifying it.
        let early = s.spawn(|| get(&gate, "/api/x/", &old));
        paused.wait_until_stopped();

        // Django saves the new password and tells the gate.
        let writer = rusqlite::Connection::open(&db).unwrap();
        writer
            .execute(
                "UPDATE auth_user SET password = ?1 WHERE id = 1",
                [OTHER_PASSWORD_PBKDF2_1000],
            )
            .unwrap();
        gate.invalidate_user(&UserPk::Int(1));

        // A login that starts after the change must not wait for, and share, the early check.
        let (done, late) = mpsc::channel();
        let (gate, old) = (&gate, &old);
        s.spawn(move || {
            let _ = done.send(get(gate, "/api/x/", old));
        });
        let late = late.recv_timeout(Duration::from_secs(20));
        paused.release();
        let late = late.expect("the later login waited for the check that began before the change");
        assert_eq!(late.status(), 401, "the old password after the change");

        // The early login overlapped the change, so either answer would be right; it got the old one.
        assert_eq!(user_of(&early.join().unwrap()), Some("john"));
    });
    // Its success must not have been cached.
    let Decision::Deny(deny) = get(&gate, "/api/x/", &old) else {
        panic!("the old password still works after invalidate_user")
    };
    assert_eq!(deny.detail().as_deref(), Some("Invalid username/password."));
    assert_eq!(user_of(&get(&gate, "/api/x/", &new)), Some("john"));
}

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

#[test]
fn identical_basic_logins_at_once_hash_once() {
    const THREADS: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(
        dir.path(),
        &format!("INSERT INTO auth_user (id, username, password) VALUES (1, 'alice', '{PBKDF2_DEFAULT_COST}');"),
    );
    let (gate, queries, pauses) = pausable_gate(&db);
    let login = basic("alice", SPEC_PASSWORD);
    let paused = pauses.user_by_username.arm();
    let barrier = Barrier::new(THREADS);
    let outcomes: Vec<(Decision, HashWork)> = std::thread::scope(|s| {
        let logins: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    hashing(|| get(&gate, "/api/x/", &login))
                })
            })
            .collect();
        paused.wait_until_stopped();
        // Long enough for the other logins to arrive while the first one's lookup stalls.
        std::thread::sleep(Duration::from_millis(300));
        paused.release();
        logins.into_iter().map(|l| l.join().unwrap()).collect()
    });
    for (decision, _) in &outcomes {
        assert_eq!(user_of(decision), Some("alice"));
    }
    assert_eq!(queries.load(Ordering::SeqCst), 1);
    let hashes: u64 = outcomes.iter().map(|(_, work)| work.total_hashes()).sum();
    let cost: u64 = outcomes
        .iter()
        .map(|(_, work)| work.cost(Hasher::Pbkdf2Sha256))
        .sum();
    assert_eq!((hashes, cost), (1, Hasher::Pbkdf2Sha256.default_cost()));
}

/// A gate whose views may use TokenAuthentication or a subclass of it — by default or in one
/// route, whatever the keyword — refuses to start over a database without the token table;
/// the other classes need none.
#[test]
fn token_authentication_needs_the_token_table() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let subclasses = "[authentication_classes.\"a.Bearer\"]\nbase = \"TokenAuthentication\"\n\
                      keyword = \"Bearer\"\n\
                      [authentication_classes.\"a.BasicWord\"]\nbase = \"TokenAuthentication\"\n\
                      keyword = \"Basic\"\n\
                      [authentication_classes.\"a.Shop\"]\nbase = \"BasicAuthentication\"\n\
                      www_authenticate_realm = \"shop\"\n";
    let start = |defaults: &str, route: &str| {
        let text = format!(
            "[django]\nDATABASE = \"sqlite://{}\"\nTOKEN_TABLE = \"no_such_table\"\n{subclasses}\
             [rest_framework]\nDEFAULT_AUTHENTICATION_CLASSES = [{defaults}]\n\
             [[routes]]\npath = \"x/\"\nauthentication_classes = [{route}]\n",
            db.display()
        );
        Gate::from_config_str(&text, None)
            .err()
            .map(|e| e.to_string())
    };
    for (defaults, route) in [
        ("\"TokenAuthentication\"", ""),
        ("\"Bearer\"", ""),
        ("\"BasicWord\"", ""),
        (
            "\"BasicAuthentication\"",
            "\"BasicAuthentication\", \"Bearer\"",
        ),
    ] {
        let refusal = start(defaults, route);
        assert!(
            refusal.as_deref().is_some_and(|e| e.contains(
                "TokenAuthentication is configured but the database has no table \"no_such_table\""
            )),
            "{defaults} / {route}: {refusal:?}"
        );
    }
    for (defaults, route) in [
        ("\"BasicAuthentication\", \"SessionAuthentication\"", ""),
        ("\"Shop\"", "\"RemoteUserAuthentication\""),
    ] {
        assert_eq!(start(defaults, route), None, "{defaults} / {route}");
    }
}

#[test]
fn an_unmatched_path_passed_through_is_a_pass_not_an_anonymous_allow() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = counting_gate(&db, "[gate]\nunmatched = \"pass\"\n");
    let passed = get(&gate, "/not/a/route/", "Token nope");
    assert_eq!(passed, Decision::Pass);
    assert!(passed.is_allow() && passed.identity().is_none());
    // The gate had no opinion: it did not even look the token up.
    assert_eq!(queries.load(Ordering::SeqCst), 0);
    let (_, trace) = gate.explain(&Request::new(b"GET", b"/not/a/route/"));
    assert!(
        trace
            .steps
            .iter()
            .any(|step| step.outcome.contains("passed through")),
        "{:?}",
        trace.steps.iter().map(|s| &s.outcome).collect::<Vec<_>>()
    );
    // A matched route with AllowAny is an anonymous allow, not a pass.
    let (gate, _) = counting_gate(
        &db,
        "[gate]\nunmatched = \"pass\"\n[[routes]]\npath = \"api/open/\"\npermission_classes = [\"AllowAny\"]\n",
    );
    assert_eq!(get(&gate, "/api/open/", ""), Decision::Allow(None));
}

#[test]
fn a_pass_route_goes_to_the_application_unjudged_before_later_routes() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    // The exporter's spelling of a view whose Python classes the gate cannot model: first match
    // wins, so the catch-all after it does not judge it.
    let (gate, queries) = counting_gate(
        &db,
        "[gate]\nunmatched = \"deny\"\n\
         [[routes]]\nname = \"custom\"\npath = \"api/custom/\"\npass = true\n\
         [[routes]]\nregex = \"^api/\"\npermission_classes = [\"IsAdminUser\"]\n",
    );
    assert_eq!(get(&gate, "/api/custom/", "Token nope"), Decision::Pass);
    assert_eq!(queries.load(Ordering::SeqCst), 0);
    assert!(!get(&gate, "/api/other/", "").is_allow());
    let (_, trace) = gate.explain(&Request::new(b"GET", b"/api/custom/"));
    assert!(trace
        .steps
        .iter()
        .any(|s| s.outcome.contains("pass = true")));
}
