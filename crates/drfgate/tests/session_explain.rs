//! `explain`'s stories of anonymous sessions: for each reason Django's `get_user()` has to
//! return AnonymousUser, the trace names it. Sessions made by Django's own login() (the
//! fixture's, tests/django/make_fixture_db.py, and signed cookies made here by the venv's
//! Django at a fixed old time). Whether the answers are DRF's is the differential suite's job.

use drfgate_test_support as common;

use std::path::Path;
use std::process::Command;

use drfgate::{Config, Decision, Gate, Request};

const SECRET_KEY: &str = "drfgate-test-secret-key-not-for-production-0123456789abcdef";

fn gate(db: &Path, extra: &str) -> Gate {
    let text = format!(
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
    );
    Gate::from_config(Config::from_str_with_origin(&text, "test.toml", None).unwrap()).unwrap()
}

/// The decision and the trace's steps as `subject: outcome` lines.
fn explain(gate: &Gate, cookie: &str) -> (Decision, String) {
    let headers: Vec<(&[u8], &[u8])> = vec![(b"Cookie", cookie.as_bytes())];
    let (decision, trace) = gate.explain(&Request::new(b"GET", b"/api/x/").with_headers(&headers));
    let steps: Vec<String> = trace
        .steps
        .iter()
        .map(|s| format!("{}: {}", s.subject, s.outcome))
        .collect();
    (decision, steps.join("\n"))
}

/// Anonymous: DRF's 403 for IsAuthenticated, and the trace says why in these words.
fn assert_anonymous_because(gate: &Gate, cookie: &str, because: &str) {
    let (decision, trace) = explain(gate, cookie);
    let Decision::Deny(deny) = &decision else {
        panic!("{cookie}: {decision:?}\n{trace}")
    };
    assert_eq!(
        (deny.status, deny.detail().as_deref()),
        (403, Some("Authentication credentials were not provided.")),
        "{cookie}\n{trace}"
    );
    assert!(
        trace.contains("declined: the session cookie gives AnonymousUser")
            || trace.contains("declined: user"),
        "{cookie}: no anonymous step\n{trace}"
    );
    assert!(
        trace.contains(because),
        "{cookie}: the trace does not say {because:?}\n{trace}"
    );
}

#[test]
fn the_trace_names_why_a_database_session_is_anonymous() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let gate = gate(&db, "");
    for (key, because) in [
        // expire_date in the past: Django's db engine finds no row either.
        (
            "expiredsessionkey000000000000001",
            "no django_session row with this key and an expire_date in the future",
        ),
        (
            "tamperedsessionkey00000000000001",
            "is not signed by SECRET_KEY or any SECRET_KEY_FALLBACKS",
        ),
        (
            "remotebackendsessionkey000000001",
            "_auth_user_backend \"django.contrib.auth.backends.RemoteUserBackend\" is not in \
             AUTHENTICATION_BACKENDS",
        ),
        (
            "pwchangedsessionkey0000000000001",
            "_auth_user_hash does not match user \"sess_pw\"'s current password hash: the \
             password was changed since login",
        ),
        (
            "deletedusersessionkey00000000001",
            "the session's user no longer exists",
        ),
        ("inasessionkey0000000000000000001", "is_active = false"),
        ("abc", "shorter than 8 characters"),
    ] {
        assert_anonymous_because(&gate, &format!("sessionid={key}"), because);
    }
    // The same story from the cache of anonymous answers: not repeated, but said to be remembered.
    let (_, again) = explain(&gate, "sessionid=tamperedsessionkey00000000000001");
    assert!(
        again.contains("AnonymousUser"),
        "a cached anonymous session:\n{again}"
    );
}

/// Signed-cookie sessions made by the venv's Django (refproj's settings, the signed_cookies
/// engine) with `time.time()` fixed at `at`: (john's, one with an unknown backend).
fn signed_cookies_made_at(db: &Path, at: u64) -> (String, String) {
    let python = common::repo_root().join(".venv/bin/python");
    let script = format!(
        "import time\nfrom unittest import mock\nimport django\ndjango.setup()\n\
         from django.contrib.auth import login\n\
         from django.contrib.auth.models import User\n\
         from django.contrib.sessions.backends.signed_cookies import SessionStore\n\
         from django.test import RequestFactory\n\
         for backend in ('django.contrib.auth.backends.ModelBackend', \
         'django.contrib.auth.backends.RemoteUserBackend'):\n\
         \x20   request = RequestFactory().get('/')\n\
         \x20   request.session = SessionStore()\n\
         \x20   login(request, User.objects.get(username='john'), backend=backend)\n\
         \x20   with mock.patch('time.time', return_value={at}.0):\n\
         \x20       request.session.save()\n\
         \x20   print(request.session.session_key)\n"
    );
    let output = Command::new(&python)
        .args(["-c", &script])
        .current_dir(common::repo_root().join("tests/django"))
        .env("DJANGO_SETTINGS_MODULE", "refproj.settings")
        .env("DRFGATE_DJANGO_DB", db)
        .env(
            "DRFGATE_SESSION_ENGINE",
            "django.contrib.sessions.backends.signed_cookies",
        )
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(
        output.status.success(),
        "Django failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines = text.lines().map(str::to_owned);
    (lines.next().unwrap(), lines.next().unwrap())
}

#[test]
fn the_trace_names_why_a_signed_cookie_session_is_anonymous() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Signed a day ago: fresh for SESSION_COOKIE_AGE's default two weeks, expired for an hour.
    let (john, remote) = signed_cookies_made_at(&db, now - 86_400);
    let engine = "SESSION_ENGINE = \"django.contrib.sessions.backends.signed_cookies\"";
    let fresh = gate(&db, engine);
    let cookie = format!("sessionid={john}");
    let (decision, trace) = explain(&fresh, &cookie);
    assert_eq!(
        decision.identity().map(|i| i.user.username.to_string()),
        Some("john".into()),
        "{trace}"
    );
    assert!(
        trace.contains("engine django.contrib.sessions.backends.signed_cookies"),
        "the trace names the engine:\n{trace}"
    );
    assert_anonymous_because(
        &fresh,
        &format!("sessionid={remote}"),
        "is not in AUTHENTICATION_BACKENDS",
    );
    let short_lived = gate(&db, &format!("{engine}\nSESSION_COOKIE_AGE = 3600"));
    assert_anonymous_because(
        &short_lived,
        &cookie,
        "the signed session cookie is older than SESSION_COOKIE_AGE",
    );
    let other_key = {
        let text = format!(
            "[django]\nDATABASE = \"sqlite://{}\"\nSECRET_KEY = \"another-deployments-key\"\n\
             ALLOWED_HOSTS = [\"testserver\"]\n{engine}\n[rest_framework]\n\
             DEFAULT_AUTHENTICATION_CLASSES = [\"SessionAuthentication\"]\n\
             DEFAULT_PERMISSION_CLASSES = [\"IsAuthenticated\"]\n",
            db.display()
        );
        Gate::from_config(Config::from_str_with_origin(&text, "t.toml", None).unwrap()).unwrap()
    };
    assert_anonymous_because(
        &other_key,
        &cookie,
        "the session cookie is not signed by SECRET_KEY or any SECRET_KEY_FALLBACKS",
    );
}
