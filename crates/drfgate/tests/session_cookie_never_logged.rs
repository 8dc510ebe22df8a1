//! A session cookie is a password: whatever the gate logs, at any level down to trace, never
//! holds its value, whether the session resolves, is anonymous, fails CSRF, or meets a store
//! or a session cache that is down. This binary's logger keeps every line at every level.

use drfgate_test_support as common;

use std::path::Path;
use std::sync::Mutex;

use drfgate::{Config, Gate, Request};
use log::{LevelFilter, Log, Metadata, Record};

const SECRET_KEY: &str = "drfgate-test-secret-key-not-for-production-0123456789abcdef";

/// Every line logged in this binary, at every level.
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Everything;

impl Log for Everything {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    fn flush(&self) {}
}

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

fn send(gate: &Gate, method: &str, headers: &[(&str, &str)]) {
    let pairs: Vec<(&[u8], &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    let request = Request::new(method.as_bytes(), b"/api/x/").with_headers(&pairs);
    let _ = gate.decide(&request);
    let _ = gate.explain(&request);
}

#[test]
fn no_log_line_at_any_level_holds_a_session_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = common::fixture_copy(dir.path()) else {
        return;
    };
    log::set_logger(&Everything).unwrap();
    log::set_max_level(LevelFilter::Trace);

    let keys = [
        "johnsessionkey000000000000000001",
        "tamperedsessionkey00000000000001",
        "pwchangedsessionkey0000000000001",
        "unknownsessionkeyzzzzzzzzzzzzzz1",
    ];
    let csrf = "csrftoken=Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE";
    let db_gate = gate(&db, "");
    // cached_db in front of a Redis that is not there: read through the database, and the
    // failure logged at debug.
    let dead_cache = gate(
        &db,
        "SESSION_ENGINE = \"django.contrib.sessions.backends.cached_db\"\n\
         [django.CACHES.default]\n\
         BACKEND = \"django.core.cache.backends.redis.RedisCache\"\n\
         LOCATION = \"redis://127.0.0.1:1/0\"\n",
    );
    for gate in [&db_gate, &dead_cache] {
        for key in keys {
            let cookie = format!("sessionid={key}");
            send(gate, "GET", &[("Cookie", &cookie)]);
            let with_csrf = format!("{cookie}; {csrf}");
            send(gate, "POST", &[("Cookie", &with_csrf)]);
            send(
                gate,
                "POST",
                &[("Cookie", &with_csrf), ("X-CSRFToken", "B")],
            );
        }
    }
    // The database gone from under the gate: store failures, logged.
    std::fs::write(&db, b"not a database").unwrap();
    let broken = "sessionid=adminsessionkey00000000000000001";
    send(&db_gate, "GET", &[("Cookie", broken)]);

    let lines = LINES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("session cache unavailable")),
        "the dead cache's debug line was logged, so the levels were on: {lines:#?}"
    );
    for key in keys.iter().chain(&["adminsessionkey00000000000000001"]) {
        for line in &lines {
            assert!(!line.contains(key), "{key} logged: {line}");
        }
    }
}
