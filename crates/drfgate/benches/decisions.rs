//! What a decision costs: header parsing, a cached Token decision, a cached Basic decision,
//! cached Session decisions (GET, and POST with the CSRF checks), and a cold SQLite token
//! lookup. Over the Django-made fixture database (`make fixture-db`).
//!
//! `make bench`; results and how to read them in BENCHMARKS.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use drfgate::header::{scheme_credentials, SchemeCredentials};
use drfgate::store::{Schema, SqliteStore, Store};
use drfgate::{Decision, Gate, Request};
// Missing, the fixture fails the bench, unless DRFGATE_SKIP=django.
use drfgate_test_support::fixture_db;

const TOKEN_HEADER: &[u8] = b"Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b";

fn gate(db: &std::path::Path, cache: &str) -> Gate {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{}"
SECRET_KEY = "drfgate-test-secret-key-not-for-production-0123456789abcdef"
ALLOWED_HOSTS = ["testserver"]
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication", "BasicAuthentication", "SessionAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
{cache}
[[routes]]
path = "api/orders/<int:pk>/"
methods = ["GET", "PUT", "POST"]
"#,
        db.display()
    );
    Gate::from_config_str(&text, None).expect("bench config")
}

fn header_parsing(c: &mut Criterion) {
    c.bench_function("tokenize Authorization: Token <40 hex>", |b| {
        b.iter(
            || match scheme_credentials(black_box(TOKEN_HEADER), b"token") {
                SchemeCredentials::Credentials(key) => key.len(),
                _ => 0,
            },
        )
    });
}

fn decide(gate: &Gate, authorization: &[u8]) -> bool {
    let headers = [(&b"Authorization"[..], authorization)];
    let request = Request::new(b"GET", b"/api/orders/42/").with_headers(&headers);
    matches!(gate.decide(black_box(&request)), Decision::Allow(Some(_)))
}

fn cached_decisions(c: &mut Criterion) {
    let Some(db) = fixture_db() else { return };
    let gate = gate(&db, "");
    assert!(decide(&gate, b"Token abcd1234"), "fixture user john");
    c.bench_function("cached Token decision (allow)", |b| {
        b.iter(|| decide(&gate, b"Token abcd1234"))
    });
    // john:password, PBKDF2-SHA256 at 1,000,000 iterations when not cached.
    assert!(decide(&gate, b"Basic am9objpwYXNzd29yZA=="));
    c.bench_function("cached Basic decision (allow)", |b| {
        b.iter(|| decide(&gate, b"Basic am9objpwYXNzd29yZA=="))
    });
    c.bench_function("cached unknown token (deny 401)", |b| {
        b.iter(|| decide(&gate, b"Token not-a-real-token"))
    });
    c.bench_function("no credentials (deny 401)", |b| {
        b.iter(|| {
            let request = Request::new(b"GET", b"/api/orders/42/");
            gate.decide(black_box(&request)).is_allow()
        })
    });
}

/// The fixture's session for john (made by Django's login()) and its CSRF cookie.
const SESSION_COOKIES: &[u8] =
    b"sessionid=johnsessionkey000000000000000001; csrftoken=Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE";
/// A masked token for that secret, as a JavaScript client sends it.
const CSRF_TOKEN: &[u8] = b"m3Pq8RtY2uI5oA7sD9fG1hJ4kL6zX0cVbqNAoJ4aFoXMlSQNp0D7UkeZqi2IxZep";

fn decide_session(gate: &Gate, method: &[u8]) -> bool {
    let headers = [
        (&b"Host"[..], &b"testserver"[..]),
        (&b"Origin"[..], &b"http://testserver"[..]),
        (&b"Cookie"[..], SESSION_COOKIES),
        (&b"X-CSRFToken"[..], CSRF_TOKEN),
    ];
    let request = Request::new(method, b"/api/orders/42/").with_headers(&headers);
    matches!(gate.decide(black_box(&request)), Decision::Allow(Some(_)))
}

fn cached_session_decisions(c: &mut Criterion) {
    let Some(db) = fixture_db() else { return };
    let gate = gate(&db, "");
    assert!(decide_session(&gate, b"GET"), "fixture session of john");
    c.bench_function("cached Session decision, GET (allow)", |b| {
        b.iter(|| decide_session(&gate, b"GET"))
    });
    assert!(decide_session(&gate, b"PUT"), "CSRF passes");
    c.bench_function(
        "cached Session decision, PUT with Origin and X-CSRFToken (allow)",
        |b| b.iter(|| decide_session(&gate, b"PUT")),
    );
    // No body (as a JavaScript client's empty POST): the CSRF token comes from the header
    // after the form field is found absent, as Django reads request.POST first.
    assert!(decide_session(&gate, b"POST"), "CSRF passes");
    c.bench_function(
        "cached Session decision, POST with Origin and X-CSRFToken (allow)",
        |b| b.iter(|| decide_session(&gate, b"POST")),
    );
}

fn cold_lookups(c: &mut Criterion) {
    let Some(db) = fixture_db() else { return };
    let store = SqliteStore::open(&db, Schema::default()).unwrap();
    c.bench_function("SQLite token lookup (store, no cache)", |b| {
        b.iter(|| store.user_by_token(black_box("abcd1234")).unwrap())
    });
    let uncached = gate(&db, "[cache]\nmax_entries = 0\n");
    c.bench_function("uncached Token decision (SQLite each time)", |b| {
        b.iter(|| decide(&uncached, b"Token abcd1234"))
    });
}

criterion_group!(
    benches,
    header_parsing,
    cached_decisions,
    cached_session_decisions,
    cold_lookups
);
criterion_main!(benches);
