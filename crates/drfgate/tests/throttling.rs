//! Throttling through the gate, with a manual clock (no sleeping, no timed assertions):
//! where DRF runs the throttles (after the permissions, before the method), what a route's
//! classes and scope do, `NUM_PROXIES`, the failed-login limiter and the store queries it
//! saves, the config errors DRF would raise at request time, and histories shared through
//! Redis by several gates.

use drfgate_test_support as common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use drfgate::throttle::ManualClock;
use drfgate::{Config, Decision, Gate, Request};

const TOKEN: &str = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b";
/// alice has a token and an unusable password: every Basic guess fails (at the cost of one
/// MD5 hash, the configured default).
fn rows() -> String {
    format!(
        "INSERT INTO auth_user (id, username, password, is_active) VALUES (1, 'alice', '!', 1);
         INSERT INTO authtoken_token (key, user_id, created) VALUES ('{TOKEN}', 1, '2024-01-01');"
    )
}

fn gate_at(db: &Path, extra: &str, clock: &Arc<ManualClock>) -> (Gate, Arc<AtomicUsize>) {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
{extra}
"#,
        db = db.display()
    );
    let config = Config::from_str_with_origin(&text, "test.toml", None).unwrap();
    let (store, queries) = common::Counting::open(db, config.django.schema.clone());
    let gate = Gate::with_store_and_clock(config, Box::new(store), clock.clone()).unwrap();
    (gate, queries)
}

fn scratch(dir: &Path) -> std::path::PathBuf {
    common::scratch_db(dir, &rows())
}

struct Call<'a> {
    method: &'a str,
    path: &'a str,
    authorization: Option<String>,
    remote_addr: &'a str,
    xff: Option<&'a str>,
}

fn call<'a>(path: &'a str) -> Call<'a> {
    Call {
        method: "GET",
        path,
        authorization: None,
        remote_addr: "127.0.0.1",
        xff: None,
    }
}

impl Call<'_> {
    fn decide(&self, gate: &Gate) -> Decision {
        let mut headers: Vec<(&[u8], &[u8])> = Vec::new();
        if let Some(a) = &self.authorization {
            headers.push((b"Authorization", a.as_bytes()));
        }
        if let Some(x) = self.xff {
            headers.push((b"X-Forwarded-For", x.as_bytes()));
        }
        gate.decide(
            &Request::new(self.method.as_bytes(), self.path.as_bytes())
                .with_headers(&headers)
                .with_remote_addr(Some(self.remote_addr.as_bytes())),
        )
    }
}

/// Status, detail and Retry-After.
type Seen = (u16, Option<String>, Option<u64>);

fn seen(decision: &Decision) -> Seen {
    match decision {
        Decision::Deny(deny) => (deny.status, deny.detail(), deny.retry_after),
        other => (other.status(), None, None),
    }
}

fn throttled(seconds: u64) -> Seen {
    let unit = if seconds == 1 { "second" } else { "seconds" };
    (
        429,
        Some(format!(
            "Request was throttled. Expected available in {seconds} {unit}."
        )),
        Some(seconds),
    )
}

const OK: Seen = (200, None, None);

const VIEWS: &str = r#"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_THROTTLE_CLASSES = ["AnonRateThrottle"]
DEFAULT_THROTTLE_RATES = { anon = "3/m", user = "2/m", uploads = "2/h" }
[throttle_classes."app.throttles.Hourly"]
base = "AnonRateThrottle"
scope = "hourly"
rate = "1/h"
[[routes]]
path = "private/"
permission_classes = ["IsAuthenticated"]
[[routes]]
path = "only-get/"
methods = ["GET"]
[[routes]]
path = "uploads/"
throttle_classes = ["ScopedRateThrottle"]
throttle_scope = "uploads"
[[routes]]
path = "noscope/"
throttle_classes = ["ScopedRateThrottle"]
[[routes]]
path = "users/"
throttle_classes = ["UserRateThrottle"]
[[routes]]
path = "both/"
throttle_classes = ["AnonRateThrottle", "Hourly"]
[[routes]]
path = "open/"
"#;

#[test]
fn refusals_before_the_throttles_are_not_counted() {
    // Spec §3.1: five anonymous GETs to an IsAuthenticated view are five 403s (the
    // throttle is never asked), and the client still has its three requests elsewhere.
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(1000.0));
    let (gate, _) = gate_at(&scratch(dir.path()), VIEWS, &clock);
    for _ in 0..5 {
        assert_eq!(call("/private/").decide(&gate).status(), 401);
    }
    for _ in 0..3 {
        assert_eq!(seen(&call("/open/").decide(&gate)), OK);
    }
    assert_eq!(seen(&call("/open/").decide(&gate)), throttled(60));
    // An authenticated request is not AnonRateThrottle's business.
    let mut with_token = call("/private/");
    with_token.authorization = Some(format!("Token {TOKEN}"));
    assert_eq!(seen(&with_token.decide(&gate)), OK);
}

#[test]
fn the_method_check_comes_after_the_throttles() {
    // DRF's handler lookup (405) happens after initial(): the POST is counted, and once
    // throttled the answer is 429 (with the view's Allow header), not 405.
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(1000.0));
    let (gate, _) = gate_at(&scratch(dir.path()), VIEWS, &clock);
    let mut post = call("/only-get/");
    post.method = "POST";
    for _ in 0..3 {
        assert_eq!(post.decide(&gate).status(), 405);
    }
    let Decision::Deny(deny) = post.decide(&gate) else {
        panic!("allowed")
    };
    assert_eq!(deny.status, 429);
    assert_eq!(deny.allow.as_deref(), Some("GET, HEAD, OPTIONS"));
    assert_eq!(deny.retry_after, Some(60));
}

#[test]
fn scoped_user_and_combined_throttles_as_the_spec_timelines() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(5000.0));
    let (gate, _) = gate_at(&scratch(dir.path()), VIEWS, &clock);
    let mut user = call("/uploads/");
    user.authorization = Some(format!("Token {TOKEN}"));
    // Spec §3.8, ScopedRateThrottle uploads 2/h.
    assert_eq!(seen(&call("/uploads/").decide(&gate)), OK);
    clock.set(5001.0);
    assert_eq!(seen(&user.decide(&gate)), OK);
    clock.set(5002.0);
    assert_eq!(seen(&call("/noscope/").decide(&gate)), OK);
    clock.set(5003.0);
    assert_eq!(seen(&call("/uploads/").decide(&gate)), OK);
    clock.set(5004.0);
    assert_eq!(seen(&call("/uploads/").decide(&gate)), throttled(3596));
    // The view without throttle_scope never throttles.
    for _ in 0..10 {
        assert_eq!(seen(&call("/noscope/").decide(&gate)), OK);
    }

    // UserRateThrottle 2/m: user 1 at 4000, 4001, then 58 s; anonymous is another key.
    clock.set(6000.0);
    let mut alice = call("/users/");
    alice.authorization = Some(format!("Token {TOKEN}"));
    assert_eq!(seen(&alice.decide(&gate)), OK);
    clock.set(6001.0);
    assert_eq!(seen(&alice.decide(&gate)), OK);
    clock.set(6002.0);
    assert_eq!(seen(&alice.decide(&gate)), throttled(58));
    clock.set(6003.0);
    assert_eq!(seen(&call("/users/").decide(&gate)), OK);

    // Two throttles: both record while both allow; the longest wait wins (§3.7).
    clock.set(7000.0);
    let mut other = call("/both/");
    other.remote_addr = "10.0.0.9";
    assert_eq!(seen(&other.decide(&gate)), OK);
    clock.set(7010.0);
    assert_eq!(seen(&other.decide(&gate)), throttled(3590));
}

#[test]
fn num_proxies_picks_the_client_from_x_forwarded_for() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(1000.0));
    let views = VIEWS.replace("[rest_framework]\n", "[rest_framework]\nNUM_PROXIES = 1\n");
    let (gate, _) = gate_at(&scratch(dir.path()), &views, &clock);
    let from = |xff: &'static str| {
        let mut c = call("/open/");
        c.xff = Some(xff);
        c
    };
    // The last entry is the client the one proxy saw; what the client put before it is not.
    for spoof in ["1.1.1.1, 7.7.7.7", "2.2.2.2, 7.7.7.7", "3.3.3.3,7.7.7.7"] {
        assert_eq!(seen(&from(spoof).decide(&gate)), OK);
    }
    assert_eq!(seen(&from("4.4.4.4, 7.7.7.7").decide(&gate)), throttled(60));
    assert_eq!(seen(&from("7.7.7.8").decide(&gate)), OK);
    // Without X-Forwarded-For, REMOTE_ADDR.
    assert_eq!(seen(&call("/open/").decide(&gate)), OK);
}

#[test]
fn what_drf_raises_on_each_request_is_refused_at_load() {
    let base = "[django]\nDATABASE = \"sqlite:///nonexistent.sqlite3\"\n";
    let load = |extra: &str| {
        Config::from_str_with_origin(&format!("{base}{extra}"), "t.toml", None)
            .err()
            .map(|e| e.to_string())
    };
    let err = load("[rest_framework]\nDEFAULT_THROTTLE_CLASSES = [\"AnonRateThrottle\"]\nDEFAULT_THROTTLE_RATES = { anon = \"10/5m\" }\n").unwrap();
    assert!(
        err.contains("t.toml:5: rest_framework.DEFAULT_THROTTLE_RATES.anon"),
        "{err}"
    );
    let err = load("[rest_framework]\nDEFAULT_THROTTLE_CLASSES = [\"UserRateThrottle\"]\nDEFAULT_THROTTLE_RATES = { anon = \"1/m\" }\n").unwrap();
    assert!(
        err.contains("No default throttle rate set for 'user' scope"),
        "{err}"
    );
    let err = load("[[routes]]\npath = \"u/\"\nthrottle_classes = [\"ScopedRateThrottle\"]\nthrottle_scope = \"uploads\"\n").unwrap();
    assert!(
        err.contains("t.toml:6: routes[0].throttle_classes") && err.contains("'uploads' scope"),
        "{err}"
    );
    let err = load("[rest_framework]\nDEFAULT_THROTTLE_CLASSES = [\"AnonRateThrotle\"]\n").unwrap();
    assert!(err.contains("AnonRateThrottle"), "a suggestion: {err}");
    let err = load("[rest_framework]\nNUM_PROXIES = -1\n").unwrap();
    assert!(err.contains("rest_framework.NUM_PROXIES"), "{err}");
    let err = load("[throttle]\nREDIS_URL = \"http://x\"\n").unwrap();
    assert!(err.contains("throttle.REDIS_URL"), "{err}");
    // DRF's defaults: anon and user set to None, so the classes throttle nothing.
    assert_eq!(
        load("[rest_framework]\nDEFAULT_THROTTLE_CLASSES = [\"AnonRateThrottle\", \"UserRateThrottle\"]\n"),
        None
    );
}

fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    )
}

const LIMITER: &str = r#"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication", "BasicAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[failed_logins]
rate = "3/m"
username_rate = "5/h"
"#;

#[test]
fn the_failed_login_limiter_locks_a_guessing_client_before_any_query() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(1000.0));
    let (gate, queries) = gate_at(&scratch(dir.path()), LIMITER, &clock);
    let guess = |i: usize| {
        let mut c = call("/api/");
        c.authorization = Some(format!("Token {:040x}", i));
        c
    };
    for i in 0..3 {
        assert_eq!(guess(i).decide(&gate).status(), 401, "guess {i}");
    }
    let before = queries.load(Ordering::SeqCst);
    for i in 3..1000 {
        assert_eq!(seen(&guess(i).decide(&gate)), throttled(60), "guess {i}");
    }
    assert_eq!(
        queries.load(Ordering::SeqCst),
        before,
        "a locked client costs no store query"
    );
    // Even the right token waits: the client is locked, not the token.
    let mut right = call("/api/");
    right.authorization = Some(format!("Token {TOKEN}"));
    assert_eq!(seen(&right.decide(&gate)).0, 429);
    // Another client is not locked; malformed headers are not guesses.
    right.remote_addr = "10.1.1.1";
    assert_eq!(seen(&right.decide(&gate)), OK);
    let mut malformed = call("/api/");
    malformed.remote_addr = "10.2.2.2";
    malformed.authorization = Some("Token a b".into());
    for _ in 0..10 {
        assert_eq!(malformed.decide(&gate).status(), 401);
    }
    // The lock ends when the oldest failure leaves the window.
    clock.set(1060.0);
    assert_eq!(guess(5000).decide(&gate).status(), 401);
}

#[test]
fn the_failed_login_limiter_counts_basic_failures_per_username_across_clients() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(1000.0));
    let (gate, _) = gate_at(&scratch(dir.path()), LIMITER, &clock);
    // Five clients, one wrong password each: the username's 5/h is spent.
    for i in 0..5 {
        let mut c = call("/api/");
        c.remote_addr = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"][i];
        c.authorization = Some(basic("alice", &format!("guess{i}")));
        assert_eq!(c.decide(&gate).status(), 401, "guess {i}");
    }
    let mut sixth = call("/api/");
    sixth.remote_addr = "10.0.0.6";
    sixth.authorization = Some(basic("alice", "guess6"));
    assert_eq!(seen(&sixth.decide(&gate)), throttled(3600));
    // Another username from that client is not locked.
    sixth.authorization = Some(basic("bob", "x"));
    assert_eq!(sixth.decide(&gate).status(), 401);
}

#[test]
fn the_failed_login_limiter_is_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(1000.0));
    let off = LIMITER.split("[failed_logins]").next().unwrap();
    let (gate, _) = gate_at(&scratch(dir.path()), off, &clock);
    for i in 0..50 {
        let mut c = call("/api/");
        c.authorization = Some(format!("Token {:040x}", i));
        assert_eq!(c.decide(&gate).status(), 401);
    }
}

/// Redis at 127.0.0.1:6379, or `None` when DRFGATE_SKIP=redis.
fn redis_url() -> Option<&'static str> {
    let up = std::net::TcpStream::connect("127.0.0.1:6379").is_ok();
    common::skip::need("redis", up, "a Redis server at 127.0.0.1:6379")
        .then_some("redis://127.0.0.1:6379/0")
}

#[test]
fn gates_sharing_redis_see_one_window() {
    let Some(url) = redis_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = scratch(dir.path());
    // A fresh prefix per run: each run starts with empty histories.
    let prefix = format!(
        "throttling-test:{}:{}:",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let extra = format!("{VIEWS}\n[throttle]\nREDIS_URL = \"{url}\"\nKEY_PREFIX = \"{prefix}\"\n");
    let clock = Arc::new(ManualClock::at(1000.0));
    let gates: Vec<Gate> = (0..3).map(|_| gate_at(&db, &extra, &clock).0).collect();
    // The spec §3.8 timeline, each request to the next gate in turn.
    let timeline: &[(f64, Seen)] = &[
        (1000.0, OK),
        (1001.0, OK),
        (1002.0, OK),
        (1003.0, throttled(57)),
        (1003.5, throttled(57)),
        (1059.99, throttled(1)),
        (1060.0, OK),
        (1060.5, throttled(1)),
        (1061.0, OK),
    ];
    for (i, (now, expected)) in timeline.iter().enumerate() {
        clock.set(*now);
        assert_eq!(
            &seen(&call("/open/").decide(&gates[i % 3])),
            expected,
            "t={now}, gate {}",
            i % 3
        );
    }
    assert!(gates[0].throttle_store().contains("Redis"));
}

#[test]
fn an_unreachable_redis_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: nothing listens there.
    let extra = format!(
        "{VIEWS}\n[throttle]\nREDIS_URL = \"redis://127.0.0.1:9\"\nredis_timeout_ms = 200\n"
    );
    let clock = Arc::new(ManualClock::at(1000.0));
    let (gate, _) = gate_at(&scratch(dir.path()), &extra, &clock);
    assert_eq!(call("/open/").decide(&gate).status(), 503);
    // Routes without throttles never ask Redis.
    assert_eq!(call("/private/").decide(&gate).status(), 401);
}
