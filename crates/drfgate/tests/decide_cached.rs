//! `Gate::decide_cached`: answers without the store whenever it can, and then exactly as
//! `Gate::decide` would; `None` (and no query, no hashing) when it cannot.

use drfgate_test_support as common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use drfgate::{Config, Decision, Gate, Request};

fn gate(db: &Path) -> (Gate, Arc<AtomicUsize>) {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication", "BasicAuthentication", "SessionAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[[routes]]
path = "api/open/"
permission_classes = ["AllowAny"]
[[routes]]
path = "api/things/"
methods = ["GET", "POST"]
permission_classes = ["DjangoModelPermissions"]
model = "expapp.thing"
"#,
        db = db.display()
    );
    let config = Config::from_str_with_origin(&text, "test.toml", None).unwrap();
    let (store, queries) = common::Counting::open(db, config.django.schema.clone());
    (Gate::with_store(config, Box::new(store)).unwrap(), queries)
}

/// `decide_cached` first (must not query), then `decide`; returns both.
fn both(
    gate: &Gate,
    queries: &AtomicUsize,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> (Option<Decision>, Decision) {
    let headers: Vec<(&[u8], &[u8])> = authorization
        .map(|a| vec![(&b"Authorization"[..], a.as_bytes())])
        .unwrap_or_default();
    let request = Request::new(method.as_bytes(), path.as_bytes()).with_headers(&headers);
    let before = queries.load(Ordering::SeqCst);
    let cached = gate.decide_cached(&request);
    assert_eq!(
        queries.load(Ordering::SeqCst),
        before,
        "decide_cached queried the store"
    );
    let full = gate.decide(&request);
    if let Some(cached) = &cached {
        assert_eq!(cached, &full, "{method} {path} {authorization:?}");
    }
    (cached, full)
}

#[test]
fn answers_from_the_request_alone_when_no_lookup_is_needed() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = gate(&db);
    for (path, auth, status) in [
        ("/api/x/", None, 401),
        ("/api/x/", Some("Token"), 401),
        ("/api/x/", Some("Token a b"), 401),
        ("/api/x/", Some("Basic"), 401),
        ("/api/x/", Some("Basic =a="), 401),
        ("/api/x/", Some("Bearer abcd1234"), 401),
        ("/api/open/", None, 200),
    ] {
        let (cached, full) = both(&gate, &queries, "GET", path, auth);
        assert_eq!(full.status(), status);
        assert!(cached.is_some(), "{path} {auth:?} needed the store");
    }
    assert_eq!(queries.load(Ordering::SeqCst), 0);
}

#[test]
fn a_token_is_answered_from_the_cache_once_loaded() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = gate(&db);
    for token in ["Token abcd1234", "Token nope", "Token inactive1"] {
        let (cached, _) = both(&gate, &queries, "GET", "/api/x/", Some(token));
        assert!(cached.is_none(), "{token}: answered before any lookup");
        let (cached, full) = both(&gate, &queries, "GET", "/api/x/", Some(token));
        assert_eq!(cached, Some(full), "{token}");
    }
    gate.invalidate_token(b"abcd1234");
    let (cached, _) = both(&gate, &queries, "GET", "/api/x/", Some("Token abcd1234"));
    assert!(cached.is_none(), "answered after invalidation");
}

#[test]
fn a_password_is_answered_from_the_cache_once_verified() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = gate(&db);
    // john:password, then john:wrong (failures are not cached, so never answered inline)
    for (basic, allowed) in [
        ("Basic am9objpwYXNzd29yZA==", true),
        ("Basic am9objp3cm9uZw==", false),
    ] {
        let (cached, full) = both(&gate, &queries, "GET", "/api/x/", Some(basic));
        assert!(cached.is_none());
        assert_eq!(full.is_allow(), allowed);
        let (cached, full) = both(&gate, &queries, "GET", "/api/x/", Some(basic));
        assert_eq!(cached.is_some(), allowed, "{basic}");
        assert_eq!(full.is_allow(), allowed);
    }
}

#[test]
fn model_permissions_need_their_own_cache_entry() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = gate(&db);
    // Token cached, permissions not yet: still None.
    both(&gate, &queries, "GET", "/api/x/", Some("Token adder123"));
    let (cached, _) = both(
        &gate,
        &queries,
        "POST",
        "/api/things/",
        Some("Token adder123"),
    );
    assert!(cached.is_none(), "permissions were not cached yet");
    let (cached, full) = both(
        &gate,
        &queries,
        "POST",
        "/api/things/",
        Some("Token adder123"),
    );
    assert!(full.is_allow());
    assert_eq!(cached, Some(full));
    // A method the view lacks and an anonymous read need no permission lookup.
    let (cached, full) = both(&gate, &queries, "BREW", "/api/things/", None);
    assert_eq!(full.status(), 401);
    assert!(cached.is_some());
}
