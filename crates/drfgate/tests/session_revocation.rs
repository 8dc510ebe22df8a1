//! What Django does behind the gate's back to a logged-in session (the row deleted by logout,
//! the password changed, the user deactivated) is seen once the cached session's
//! `ttl_seconds` are over: the cache answers within them, never after. The caches read a
//! manual clock, so the test moves time instead of sleeping.

use drfgate_test_support as common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use drfgate::cache::ManualClock;
use drfgate::{Config, Decision, Gate, Request};

const SECRET_KEY: &str = "drfgate-test-secret-key-not-for-production-0123456789abcdef";
const TTL_SECONDS: u64 = 60;
/// The fixture's sessions (tests/django/make_fixture_db.py): two of john's, one of admin's.
const JOHN: &str = "sessionid=johnsessionkey000000000000000001";
const JOHN_TOO: &str = "sessionid=csrfinsessionkey0000000000000001";
const ADMIN: &str = "sessionid=adminsessionkey00000000000000001";

fn gate(db: &Path, clock: &Arc<ManualClock>) -> Gate {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
SECRET_KEY = "{SECRET_KEY}"
ALLOWED_HOSTS = ["testserver"]
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["SessionAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[cache]
ttl_seconds = {TTL_SECONDS}
"#,
        db = db.display()
    );
    let config = Config::from_str_with_origin(&text, "test.toml", None).unwrap();
    let (store, _) = common::Counting::open(db, config.django.schema.clone());
    Gate::with_store_and_cache_clock(config, Box::new(store), clock.clone()).unwrap()
}

/// The user a GET with `cookie` authenticates, and the trace's steps.
fn user(gate: &Gate, cookie: &str) -> (Option<String>, String) {
    let headers: Vec<(&[u8], &[u8])> = vec![(b"Cookie", cookie.as_bytes())];
    let (decision, trace) = gate.explain(&Request::new(b"GET", b"/api/x/").with_headers(&headers));
    let steps: Vec<String> = trace.steps.iter().map(|s| s.outcome.clone()).collect();
    if let Decision::Deny(deny) = &decision {
        assert_eq!(
            (deny.status, deny.detail().as_deref()),
            (403, Some("Authentication credentials were not provided.")),
            "{cookie}"
        );
    }
    (
        decision.identity().map(|i| i.user.username.to_string()),
        steps.join("\n"),
    )
}

#[test]
fn logout_password_change_and_deactivation_are_seen_once_the_ttl_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = common::fixture_copy(dir.path()) else {
        return;
    };
    let clock = Arc::new(ManualClock::new());
    let gate = gate(&db, &clock);
    for (cookie, username) in [(JOHN, "john"), (JOHN_TOO, "john"), (ADMIN, "admin")] {
        assert_eq!(user(&gate, cookie).0.as_deref(), Some(username), "{cookie}");
    }

    // What Django does: logout deletes john's first session row; admin's password is changed
    // (the session's auth hash no longer matches); john is deactivated (his other session).
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "DELETE FROM django_session WHERE session_key = 'johnsessionkey000000000000000001';
             UPDATE auth_user SET password = 'pbkdf2_sha256$1000000$newsalt$bmV3aGFzaA=='
                 WHERE username = 'admin';
             UPDATE auth_user SET is_active = 0 WHERE username = 'john';",
        )
        .unwrap();

    // Within the TTL the cached sessions still answer (the documented bound, README "caching").
    clock.advance(Duration::from_secs(TTL_SECONDS - 1));
    for (cookie, username) in [(JOHN, "john"), (JOHN_TOO, "john"), (ADMIN, "admin")] {
        assert_eq!(
            user(&gate, cookie).0.as_deref(),
            Some(username),
            "{cookie} within the TTL"
        );
    }

    // Once it is over, each is read again and is anonymous, for Django's reason.
    clock.advance(Duration::from_secs(2));
    for (cookie, because) in [
        (JOHN, "no django_session row with this key"),
        (ADMIN, "_auth_user_hash does not match user \"admin\""),
        (JOHN_TOO, "user \"john\" has is_active = false"),
    ] {
        let (user, trace) = user(&gate, cookie);
        assert_eq!(user, None, "{cookie} after the TTL:\n{trace}");
        assert!(trace.contains(because), "{cookie}: {because:?} in\n{trace}");
    }
}

#[test]
fn a_session_anonymous_at_first_is_not_cached_longer_than_the_ttl_either() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = common::fixture_copy(dir.path()) else {
        return;
    };
    let clock = Arc::new(ManualClock::new());
    let gate = gate(&db, &clock);
    // ina is inactive: anonymous. Reactivated in Django, she is seen within the TTL at most.
    let ina = "sessionid=inasessionkey0000000000000000001";
    assert_eq!(user(&gate, ina).0, None);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("UPDATE auth_user SET is_active = 1 WHERE username = 'ina';")
        .unwrap();
    clock.advance(Duration::from_secs(TTL_SECONDS + 1));
    assert_eq!(user(&gate, ina).0.as_deref(), Some("ina"));
}
