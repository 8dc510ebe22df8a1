//! Store failures, whatever the store: a wrapper fails (or panics) on demand over the real
//! SQLite store, and the gate must refuse what needs the store (503, never an allow), tell
//! the log once per incident, recover by itself, and — when configured — answer cached users
//! for a bounded grace period. The real SQLite faults are in `sqlite_faults.rs`.

use drfgate_test_support as common;

use std::path::Path;
use std::sync::Arc;

use common::{Fault, FaultSwitch, Faulty};
use drfgate::store::SqliteStore;
use drfgate::{Config, Decision, Gate, Request};

const ROWS: &str = "
INSERT INTO auth_user (id, username, password, is_active, is_staff) VALUES
    (1, 'alice', '!', 1, 0), (2, 'bob', '!', 1, 0);
INSERT INTO authtoken_token (key, user_id) VALUES ('alicetoken', 1), ('bobtoken', 2);
";

const UNAVAILABLE: &str = "Service temporarily unavailable, try again later.";

/// A gate over a scratch database behind a [`Faulty`] store whose errors and log lines
/// carry `label` (unique per test: the temporary directory).
fn faulty_gate(db: &Path, label: &str, cache: &str) -> (Gate, Arc<FaultSwitch>) {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[cache]
{cache}
[[routes]]
path = "api/things/"
permission_classes = ["DjangoModelPermissions"]
model = "app.thing"
"#,
        db = db.display()
    );
    let config = Config::from_str_with_origin(&text, "outages.toml", None).unwrap();
    let sqlite = SqliteStore::open(db, config.django.schema.clone()).unwrap();
    let (store, switch) = Faulty::new(Box::new(sqlite), label);
    (Gate::with_store(config, Box::new(store)).unwrap(), switch)
}

fn get(gate: &Gate, path: &str, token: &str) -> Decision {
    send(gate, "GET", path, token)
}

fn send(gate: &Gate, method: &str, path: &str, token: &str) -> Decision {
    let header = format!("Token {token}");
    let headers = [(&b"Authorization"[..], header.as_bytes())];
    gate.decide(&Request::new(method.as_bytes(), path.as_bytes()).with_headers(&headers))
}

fn status(decision: &Decision) -> u16 {
    match decision {
        Decision::Deny(deny) => deny.status,
        Decision::Allow(_) | Decision::Pass => 200,
    }
}

fn assert_unavailable(decision: &Decision) {
    let Decision::Deny(deny) = decision else {
        panic!("a store failure must never allow: {decision:?}")
    };
    assert_eq!(deny.status, 503);
    assert_eq!(deny.detail().as_deref(), Some(UNAVAILABLE));
    assert_eq!(
        &*deny.body,
        br#"{"detail":"Service temporarily unavailable, try again later."}"#
    );
}

#[test]
fn an_outage_refuses_with_503_is_logged_once_and_ends_by_itself() {
    common::logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(dir.path(), ROWS);
    let label = format!("outage-{}", dir.path().display());
    let (gate, switch) = faulty_gate(&db, &label, "max_entries = 0");
    assert!(get(&gate, "/api/x/", "alicetoken").is_allow());

    switch.set(Fault::Fail);
    let before = switch.lookups();
    for i in 0..200 {
        // Known and unknown tokens alike: the database cannot say which is which.
        let token = if i % 2 == 0 { "alicetoken" } else { "junk" };
        assert_unavailable(&get(&gate, "/api/x/", token));
    }
    // Every request asked the store (nothing waits, nothing is remembered as failed) ...
    assert_eq!(switch.lookups() - before, 200);
    // ... but the log heard of it once.
    let lines = common::logs::lines_containing(&label);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    assert!(lines[0].contains("token lookups"), "{}", lines[0]);
    assert!(lines[0].contains("connection refused"), "{}", lines[0]);
    assert!(gate.stats().store_failing);
    assert_eq!(gate.stats().store_failures, 200);

    // The database answers again: so does the gate, and the log says so once.
    switch.set(Fault::None);
    for _ in 0..10 {
        assert!(get(&gate, "/api/x/", "alicetoken").is_allow());
    }
    assert!(matches!(
        get(&gate, "/api/x/", "junk"),
        Decision::Deny(ref d) if d.status == 401
    ));
    let lines = common::logs::lines_containing(&label);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[1].starts_with("warn: "), "{}", lines[1]);
    assert!(
        lines[1].contains("answered again (200 failed"),
        "{}",
        lines[1]
    );
    assert!(!gate.stats().store_failing);

    // A second incident is a second line, and its end a third.
    switch.set(Fault::Fail);
    for _ in 0..20 {
        assert_unavailable(&get(&gate, "/api/x/", "bobtoken"));
    }
    switch.set(Fault::None);
    assert!(get(&gate, "/api/x/", "bobtoken").is_allow());
    assert_eq!(common::logs::lines_containing(&label).len(), 4);
}

#[test]
fn a_permission_lookup_failure_refuses_too() {
    common::logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(dir.path(), ROWS);
    let label = format!("permissions-{}", dir.path().display());
    // The token's user is cached; its permissions are not (permissions_ttl_seconds = 0).
    let (gate, switch) = faulty_gate(&db, &label, "permissions_ttl_seconds = 0");
    // POST needs `app.add_thing`: a permission lookup.
    assert_eq!(
        status(&send(&gate, "POST", "/api/things/", "alicetoken")),
        403
    );
    switch.set(Fault::Fail);
    for _ in 0..5 {
        assert_unavailable(&send(&gate, "POST", "/api/things/", "alicetoken"));
    }
    // The cached token still authenticates where no permission lookup is needed.
    assert!(get(&gate, "/api/x/", "alicetoken").is_allow());
    let lines = common::logs::lines_containing(&label);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("permission lookups"), "{}", lines[0]);
}

/// `stale_if_error_seconds`: a user found before keeps being answered while the store fails,
/// for that long past `ttl_seconds`; an unknown or never-seen token is still refused (503).
#[test]
fn stale_if_error_answers_cached_users_while_the_store_fails() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(dir.path(), ROWS);
    let label = format!("stale-{}", dir.path().display());
    // ttl 0 s would turn the cache off: 1 s, and a wait past it below.
    let (gate, switch) = faulty_gate(
        &db,
        &label,
        "ttl_seconds = 1\nstale_if_error_seconds = 3600",
    );
    let (off, off_switch) = faulty_gate(&db, &format!("{label}-off"), "ttl_seconds = 1");
    for gate in [&gate, &off] {
        assert!(get(gate, "/api/x/", "alicetoken").is_allow());
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    switch.set(Fault::Fail);
    off_switch.set(Fault::Fail);

    // Past its TTL, the store asked again and failing: the earlier answer stands.
    let before = switch.lookups();
    assert_eq!(
        get(&gate, "/api/x/", "alicetoken")
            .identity()
            .map(|i| &*i.user.username),
        Some("alice")
    );
    assert_eq!(
        switch.lookups() - before,
        1,
        "the store is still asked first"
    );
    assert_eq!(gate.stats().tokens.stale_answers, 1);
    // Never seen: nothing to fall back on.
    assert_unavailable(&get(&gate, "/api/x/", "bobtoken"));
    assert_unavailable(&get(&gate, "/api/x/", "junk"));
    // Off by default.
    assert_unavailable(&get(&off, "/api/x/", "alicetoken"));

    // Recovered: fresh answers again, and a revocation is seen at once.
    switch.set(Fault::None);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("DELETE FROM authtoken_token WHERE key = 'alicetoken'")
        .unwrap();
    assert_eq!(status(&get(&gate, "/api/x/", "alicetoken")), 401);
    // A revoked token is not served stale by a later outage: it is known to be unknown.
    switch.set(Fault::Fail);
    assert_eq!(status(&get(&gate, "/api/x/", "alicetoken")), 401);
}

#[test]
fn a_panic_inside_a_decision_refuses_that_request_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(dir.path(), ROWS);
    let label = format!("panic-{}", dir.path().display());
    let (gate, switch) = faulty_gate(&db, &label, "");
    assert!(get(&gate, "/api/x/", "alicetoken").is_allow());

    switch.set(Fault::Panic);
    let Decision::Deny(deny) = get(&gate, "/api/x/", "bobtoken") else {
        panic!("a panicking decision must not allow")
    };
    assert_eq!(deny.status, 500);
    assert_eq!(deny.detail().as_deref(), Some("A server error occurred."));
    // Cached answers need no lookup and are unaffected, during and after.
    assert!(get(&gate, "/api/x/", "alicetoken").is_allow());
    // The panicking lookup left no stuck single flight behind: the same token loads again.
    switch.set(Fault::None);
    assert!(get(&gate, "/api/x/", "bobtoken").is_allow());
    assert_eq!(gate.stats().panics, 1);

    // Concurrent requests for one key while its loader panics: each is answered.
    switch.set(Fault::Panic);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| status(&get(&gate, "/api/x/", "newtoken"))))
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), 500);
        }
    });
    switch.set(Fault::None);
    assert_eq!(status(&get(&gate, "/api/x/", "newtoken")), 401);
}
