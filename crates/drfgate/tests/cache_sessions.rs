//! The `cache` session engine on Django's `RedisCache`: sessions made by real Django (the
//! venv's, with refproj's settings) in the local Redis, read by the gate's restricted pickle
//! reader; values Django would unpickle into objects refused; caching and invalidation; a
//! dead Redis failing closed; the load errors of `[django.CACHES]`. The answers themselves are
//! compared with DRF under gunicorn by the differential suite.

use drfgate_test_support as common;

use std::path::Path;
use std::process::Command;

use drfgate::{Config, Decision, Gate, Request};

const SECRET_KEY: &str = "drfgate-test-secret-key-not-for-production-0123456789abcdef";
const REDIS: &str = "redis://127.0.0.1:6379/0";

/// The fixture database and a Redis server, or `None` when DRFGATE_SKIP names them.
fn fixtures() -> Option<std::path::PathBuf> {
    let db = common::fixture_db()?;
    let up = std::net::TcpStream::connect("127.0.0.1:6379").is_ok();
    common::skip::need("redis", up, "a Redis server at 127.0.0.1:6379").then_some(db)
}

/// A key prefix of this test's own, so runs and tests never share sessions.
fn prefix(test: &str) -> String {
    format!("drfgate-cache-sessions-{test}-{}", std::process::id())
}

fn config_text(db: &Path, prefix: &str, location: &str) -> String {
    format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
SECRET_KEY = "{SECRET_KEY}"
ALLOWED_HOSTS = ["testserver"]
SESSION_ENGINE = "django.contrib.sessions.backends.cache"

[django.CACHES.default]
BACKEND = "django.core.cache.backends.redis.RedisCache"
LOCATION = "{location}"
KEY_PREFIX = "{prefix}"

[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["SessionAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
"#,
        db = db.display()
    )
}

fn gate(db: &Path, prefix: &str) -> Gate {
    let config =
        Config::from_str_with_origin(&config_text(db, prefix, REDIS), "test.toml", None).unwrap();
    Gate::from_config(config).unwrap()
}

/// Logs users in with Django's own cache engine on the local Redis; `extra` is Python run on
/// the session before it is saved. Returns the session keys, in order.
fn django_sessions(db: &Path, prefix: &str, logins: &[(&str, &str)]) -> Vec<String> {
    let python = common::repo_root().join(".venv/bin/python");
    let mut script = String::from(
        "import datetime, django\ndjango.setup()\n\
         from django.contrib.auth import login\n\
         from django.contrib.auth.models import User\n\
         from django.contrib.sessions.backends.cache import SessionStore\n\
         from django.test import RequestFactory\n",
    );
    for (username, extra) in logins {
        script.push_str(&format!(
            "request = RequestFactory().get('/')\nrequest.session = SessionStore()\n\
             login(request, User.objects.get(username={username:?}), \
             backend='django.contrib.auth.backends.ModelBackend')\n\
             session = request.session\n{extra}\nsession.save()\nprint(session.session_key)\n"
        ));
    }
    let output = Command::new(&python)
        .args(["-c", &script])
        .current_dir(common::repo_root().join("tests/django"))
        .env("DJANGO_SETTINGS_MODULE", "refproj.settings")
        .env("DRFGATE_DJANGO_DB", db)
        .env(
            "DRFGATE_SESSION_ENGINE",
            "django.contrib.sessions.backends.cache",
        )
        .env("DRFGATE_REDIS_CACHE", REDIS)
        .env("DRFGATE_CACHE_KEY_PREFIX", prefix)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(
        output.status.success(),
        "Django failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn redis() -> drfgate::redis::Client {
    drfgate::redis::Client::new(
        drfgate::redis::RedisTarget::parse(REDIS).unwrap(),
        std::time::Duration::from_secs(2),
    )
}

fn cache_key(prefix: &str, session_key: &str) -> Vec<u8> {
    format!("{prefix}:1:django.contrib.sessions.cache{session_key}").into_bytes()
}

fn get(gate: &Gate, session_key: &str) -> (Decision, String) {
    let cookie = format!("sessionid={session_key}");
    let headers: Vec<(&[u8], &[u8])> = vec![(b"Cookie", cookie.as_bytes())];
    let (decision, trace) = gate.explain(&Request::new(b"GET", b"/api/x/").with_headers(&headers));
    let text: Vec<String> = trace
        .steps
        .iter()
        .map(|s| format!("{}: {}", s.subject, s.outcome))
        .collect();
    (decision, text.join("\n"))
}

fn user(decision: &Decision) -> Option<String> {
    decision.identity().map(|i| i.user.username.to_string())
}

#[test]
fn djangos_cached_sessions_are_read_cached_and_invalidated() {
    let Some(db) = fixtures() else { return };
    let prefix = prefix("read");
    let keys = django_sessions(
        &db,
        &prefix,
        &[
            ("john", ""),
            ("admin", "session['cart'] = [1, 2.5, None, (b'x', True)]"),
            ("ina", ""),
        ],
    );
    let gate = gate(&db, &prefix);
    let (john, story) = get(&gate, &keys[0]);
    assert_eq!(user(&john).as_deref(), Some("john"), "{story}");
    assert!(
        story.contains("engine django.contrib.sessions.backends.cache"),
        "{story}"
    );
    let (admin, story) = get(&gate, &keys[1]);
    assert_eq!(user(&admin).as_deref(), Some("admin"), "{story}");
    let (inactive, story) = get(&gate, &keys[2]);
    assert!(matches!(inactive, Decision::Deny(_)), "{story}");
    assert!(story.contains("is_active"), "{story}");

    // Logged out in Django (the key deleted): the resolved session is trusted until the TTL,
    // or until invalidate_user.
    redis()
        .call(&[b"DEL", &cache_key(&prefix, &keys[0])])
        .unwrap();
    assert_eq!(get(&gate, &keys[0]).0, john);
    let pk = john.identity().unwrap().user.pk.clone();
    assert!(gate.invalidate_user(&pk) >= 1);
    let (gone, story) = get(&gate, &keys[0]);
    assert!(matches!(gone, Decision::Deny(_)), "{story}");
    assert!(story.contains("no session under this key"), "{story}");
    redis()
        .call(&[
            b"DEL",
            &cache_key(&prefix, &keys[1]),
            &cache_key(&prefix, &keys[2]),
        ])
        .unwrap();
}

#[test]
fn objects_in_a_cached_session_are_refused_never_built() {
    let Some(db) = fixtures() else { return };
    let prefix = prefix("objects");
    // A datetime in the session: Django's pickle names datetime.datetime (STACK_GLOBAL) and
    // calls it (REDUCE); the gate builds plain values only.
    let keys = django_sessions(
        &db,
        &prefix,
        &[("john", "session['seen'] = datetime.datetime(2020, 1, 1)")],
    );
    let gate = gate(&db, &prefix);
    let (decision, story) = get(&gate, &keys[0]);
    assert!(matches!(decision, Decision::Deny(_)), "{story}");
    assert!(story.contains("opcode STACK_GLOBAL refused"), "{story}");

    let client = redis();
    let plant = |session_key: &str, value: &[u8]| {
        client
            .call(&[
                b"SET",
                &cache_key(&prefix, session_key),
                value,
                b"EX",
                b"60",
            ])
            .unwrap();
    };
    // The classic payload: GLOBAL os.system, REDUCE. Refused; nothing runs.
    plant(
        "plantedglobal",
        b"cos\nsystem\n(S'touch /tmp/drfgate-pwned'\ntR.",
    );
    let (decision, story) = get(&gate, "plantedglobal");
    assert!(matches!(decision, Decision::Deny(_)), "{story}");
    assert!(story.contains("opcode GLOBAL refused"), "{story}");
    // Not a pickle: Django's cache.get raises, which load() takes as no session.
    plant("plantedjunk1", b"\x80\x05\x95junk");
    let (decision, story) = get(&gate, "plantedjunk1");
    assert!(matches!(decision, Decision::Deny(_)), "{story}");
    // An int (RedisSerializer stores it as digits): Django's session lookups would raise.
    plant("plantedint01", b"42");
    assert_eq!(get(&gate, "plantedint01").0, Decision::Pass);
    client
        .call(&[
            b"DEL",
            &cache_key(&prefix, &keys[0]),
            &cache_key(&prefix, "plantedglobal"),
            &cache_key(&prefix, "plantedjunk1"),
            &cache_key(&prefix, "plantedint01"),
        ])
        .unwrap();
}

#[test]
fn an_unreachable_session_cache_fails_closed() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    // Port 9 (discard) on loopback: nothing listens there.
    let text = config_text(&db, "x", "redis://127.0.0.1:9/0");
    let gate =
        Gate::from_config(Config::from_str_with_origin(&text, "t.toml", None).unwrap()).unwrap();
    let Decision::Deny(deny) = get(&gate, "abcdefgh12345678").0 else {
        panic!("not refused")
    };
    assert_eq!(deny.status, 503);
}

#[test]
fn bad_caches_settings_name_the_key() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let base = config_text(&db, "p", REDIS);
    for (from, to, key, words) in [
        (
            "django.core.cache.backends.redis.RedisCache",
            "django.core.cache.backends.locmem.LocMemCache",
            "django.CACHES.default.BACKEND",
            "another process cannot read",
        ),
        (
            "KEY_PREFIX = \"p\"",
            "KEY_PREFIX = \"p\"\nKEY_FUNCTION = \"myproject.keys\"",
            "django.CACHES.default.KEY_FUNCTION",
            "KEY_FUNCTION",
        ),
        (
            "KEY_PREFIX = \"p\"",
            "KEY_PREFIX = \"p\"\nOPTIONS = { serializer = \"x\" }",
            "django.CACHES.default.OPTIONS",
            "LOCATION",
        ),
        (
            "LOCATION = \"redis://127.0.0.1:6379/0\"",
            "LOCATION = \"rediss://127.0.0.1:6379/0\"",
            "django.CACHES.default.LOCATION",
            "plain redis://",
        ),
        (
            "SESSION_ENGINE = \"django.contrib.sessions.backends.cache\"",
            "SESSION_ENGINE = \"django.contrib.sessions.backends.cache\"\nSESSION_CACHE_ALIAS = \"sessions\"",
            "django.SESSION_CACHE_ALIAS",
            "CACHES[\"sessions\"]",
        ),
    ] {
        let text = base.replace(from, to);
        let Err(err) = Config::from_str_with_origin(&text, "t.toml", None) else {
            panic!("{to}: loaded");
        };
        let err = err.to_string();
        assert!(err.contains(key) && err.contains(words), "{to}: {err}");
    }
    // cached_db with a cache the gate cannot read: the database, with a warning.
    let text = base
        .replace("backends.cache\"", "backends.cached_db\"")
        .replace("redis.RedisCache", "locmem.LocMemCache");
    let config = Config::from_str_with_origin(&text, "t.toml", None).unwrap();
    assert!(
        config.warnings.iter().any(|w| w.contains("LocMemCache")),
        "{:?}",
        config.warnings
    );
}
