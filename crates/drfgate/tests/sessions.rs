//! `SessionAuthentication` over the fixture database's sessions (made by Django's own login()
//! in tests/django/make_fixture_db.py): the cache of resolved sessions and its invalidation,
//! deferral, and the session settings' load errors. The answers themselves are compared with
//! real DRF by the conformance table and the differential suite.

use drfgate_test_support as common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use drfgate::{Config, Decision, Gate, Request, UserPk};

const SECRET_KEY: &str = "drfgate-test-secret-key-not-for-production-0123456789abcdef";
const JOHN: &str = "sessionid=johnsessionkey000000000000000001";
const CSRF: &str = "csrftoken=Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE";

fn config_text(db: &Path, extra: &str) -> String {
    format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
SECRET_KEY = "{SECRET_KEY}"
ALLOWED_HOSTS = ["testserver"]
{extra}
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["SessionAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
"#,
        db = db.display()
    )
}

fn gate(db: &Path, extra: &str) -> (Gate, Arc<AtomicUsize>) {
    let config = Config::from_str_with_origin(&config_text(db, extra), "test.toml", None).unwrap();
    let (store, queries) = common::Counting::open(db, config.django.schema.clone());
    (Gate::with_store(config, Box::new(store)).unwrap(), queries)
}

fn decide(gate: &Gate, method: &str, headers: &[(&str, &str)]) -> Decision {
    let pairs: Vec<(&[u8], &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    let request = Request::new(method.as_bytes(), b"/api/x/").with_headers(&pairs);
    gate.decide(&request)
}

fn user(decision: &Decision) -> Option<String> {
    decision.identity().map(|i| i.user.username.to_string())
}

#[test]
fn a_resolved_session_is_cached_and_invalidate_user_drops_it() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, queries) = gate(&db, "");
    let first = decide(&gate, "GET", &[("Cookie", JOHN)]);
    assert_eq!(user(&first).as_deref(), Some("john"));
    let after_first = queries.load(Ordering::SeqCst);
    assert_eq!(after_first, 2, "the session row, then the user");
    let again = decide(&gate, "GET", &[("Cookie", JOHN)]);
    assert_eq!(again, first);
    assert_eq!(
        queries.load(Ordering::SeqCst),
        after_first,
        "answered from the cache"
    );
    let pairs: Vec<(&[u8], &[u8])> = vec![(b"Cookie", JOHN.as_bytes())];
    let request = Request::new(b"GET", b"/api/x/").with_headers(&pairs);
    assert_eq!(gate.decide_cached(&request), Some(first.clone()));

    let pk = first.identity().unwrap().user.pk.clone();
    assert!(gate.invalidate_user(&pk) >= 1);
    assert_eq!(gate.decide_cached(&request), None, "dropped from the cache");
    assert_eq!(decide(&gate, "GET", &[("Cookie", JOHN)]), first);
    assert_eq!(queries.load(Ordering::SeqCst), after_first + 2);
    assert_eq!(gate.invalidate_user(&UserPk::Int(999_999)), 0);
    assert!(gate.stats().sessions.hits >= 1);
}

#[test]
fn csrf_runs_on_the_cached_session_too() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, _) = gate(&db, "");
    let cookie = format!("{JOHN}; {CSRF}");
    for _ in 0..2 {
        let refused = decide(&gate, "POST", &[("Cookie", &cookie)]);
        let Decision::Deny(deny) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(deny.status, 403);
        assert_eq!(
            deny.detail().as_deref(),
            Some("CSRF Failed: CSRF token missing.")
        );
    }
}

#[test]
fn a_post_whose_token_may_be_in_the_body_is_deferred_without_an_identity() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, _) = gate(&db, "");
    let cookie = format!("{JOHN}; {CSRF}");
    let with_body = [
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Length", "52"),
    ];
    assert_eq!(decide(&gate, "POST", &with_body), Decision::Pass);
    let chunked = [
        ("Cookie", cookie.as_str()),
        ("Transfer-Encoding", "chunked"),
    ];
    assert_eq!(decide(&gate, "POST", &chunked), Decision::Pass);
    // A PUT's token is never read from the body: answered.
    assert!(matches!(
        decide(&gate, "PUT", &with_body),
        Decision::Deny(_)
    ));
    // Refused before the body matters: answered.
    let no_csrf_cookie = [("Cookie", JOHN), ("Content-Length", "5")];
    assert!(matches!(
        decide(&gate, "POST", &no_csrf_cookie),
        Decision::Deny(_)
    ));
}

#[test]
fn without_secret_key_a_session_cookie_is_deferred() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let text = config_text(&db, "").replace(&format!("SECRET_KEY = \"{SECRET_KEY}\""), "");
    let config = Config::from_str_with_origin(&text, "test.toml", None).unwrap();
    assert!(config
        .warnings
        .iter()
        .any(|w| w.contains("without SECRET_KEY")));
    let gate = Gate::from_config(config).unwrap();
    assert_eq!(decide(&gate, "GET", &[("Cookie", JOHN)]), Decision::Pass);
    // No cookie: declined, as DRF does.
    assert!(matches!(decide(&gate, "GET", &[]), Decision::Deny(_)));
}

#[test]
fn another_session_cookie_name_and_fallback_keys() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    // The fixture's sessions are signed with SECRET_KEY: as a fallback key they still verify.
    let extra = format!("SECRET_KEY_FALLBACKS = [\"{SECRET_KEY}\"]\nSESSION_COOKIE_NAME = \"sid\"");
    let text = config_text(&db, &extra).replace(
        &format!("SECRET_KEY = \"{SECRET_KEY}\""),
        "SECRET_KEY = \"a-new-key\"",
    );
    let gate =
        Gate::from_config(Config::from_str_with_origin(&text, "t.toml", None).unwrap()).unwrap();
    let renamed = JOHN.replace("sessionid=", "sid=");
    assert_eq!(
        user(&decide(&gate, "GET", &[("Cookie", &renamed)])).as_deref(),
        Some("john")
    );
    assert!(matches!(
        decide(&gate, "GET", &[("Cookie", JOHN)]),
        Decision::Deny(_)
    ));
}

#[test]
fn bad_session_settings_name_the_key() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    for (extra, key, words) in [
        (
            "SESSION_ENGINE = \"django.contrib.sessions.backends.cache\"",
            "django.SESSION_ENGINE",
            "CACHES",
        ),
        (
            "SESSION_ENGINE = \"django.contrib.sessions.backends.signed_cookie\"",
            "django.SESSION_ENGINE",
            "did you mean",
        ),
        (
            "CSRF_TRUSTED_ORIGINS = [\"example.com\"]",
            "django.CSRF_TRUSTED_ORIGINS[0]",
            "no scheme",
        ),
        (
            "CSRF_HEADER_NAME = \"X-CSRFToken\"",
            "django.CSRF_HEADER_NAME",
            "META",
        ),
        (
            "SECURE_PROXY_SSL_HEADER = [\"HTTP_X_FORWARDED_PROTO\"]",
            "django.SECURE_PROXY_SSL_HEADER",
            "two-item",
        ),
        (
            "SESSION_COOKIE_AGE = -1",
            "django.SESSION_COOKIE_AGE",
            "0 or more",
        ),
        (
            "SECRET_KEY_FALLBACKS_FILE = \"/nonexistent/keys\"",
            "django.SECRET_KEY_FALLBACKS_FILE",
            "cannot read",
        ),
    ] {
        let err = match Config::from_str_with_origin(&config_text(&db, extra), "t.toml", None) {
            Err(err) => err,
            Ok(_) => panic!("{extra} loaded"),
        };
        assert_eq!(err.key, key, "{extra}: {err}");
        assert!(err.line.is_some(), "{extra}: {err}");
        assert!(err.message.contains(words), "{extra}: {err}");
    }
}

#[test]
fn with_csrf_cookie_domain_the_referer_takes_the_server_port_a_front_end_gives() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let (gate, _) = gate(&db, "CSRF_COOKIE_DOMAIN = \".example.test\"");
    let cookie = format!("{JOHN}; {CSRF}");
    let decide_at = |referer: &str, server_port: Option<&str>| {
        let pairs: Vec<(&[u8], &[u8])> = vec![
            (b"Host", b"testserver"),
            (b"Cookie", cookie.as_bytes()),
            (b"X-CSRFToken", b"Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE"),
            (b"Referer", referer.as_bytes()),
        ];
        let request = Request::new(b"POST", b"/api/x/")
            .with_headers(&pairs)
            .with_secure(true)
            .with_server_port(server_port.map(str::as_bytes));
        gate.decide(&request)
    };
    let sibling = "https://www.example.test/";
    // Django appends SERVER_PORT to the domain unless it is 80 or 443; unknown, it may be.
    assert_eq!(decide_at(sibling, None), Decision::Pass);
    for port in ["443", "80"] {
        assert_eq!(
            user(&decide_at(sibling, Some(port))).as_deref(),
            Some("john"),
            "{port}"
        );
    }
    let Decision::Deny(deny) = decide_at(sibling, Some("8443")) else {
        panic!("a Referer without the server's port 8443 must be refused")
    };
    assert_eq!(
        deny.detail().as_deref(),
        Some(
            "CSRF Failed: Referer checking failed - https://www.example.test/ does not match \
             any trusted origins."
        )
    );
    let with_port = "https://www.example.test:8443/";
    assert_eq!(
        user(&decide_at(with_port, Some("8443"))).as_deref(),
        Some("john")
    );
    assert!(matches!(
        decide_at(with_port, Some("443")),
        Decision::Deny(_)
    ));
}
