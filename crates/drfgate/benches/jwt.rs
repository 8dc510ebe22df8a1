//! What a simplejwt or knox decision costs: HS256 and RS256 with the verified token cached and
//! without caching (signature, claims, user lookup each time), and a cached knox decision.
//! Tokens minted by the real packages (tests/django/jwt_fixtures.py, `make fixture-db`).
//!
//! `cargo bench -p drfgate --bench jwt`; results in BENCHMARKS.md.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use drfgate::{Decision, Gate, Request};
use drfgate_test_support::{fixture_db, repo_root};

fn gate(db: &std::path::Path, simple_jwt: &str, cache: &str) -> Gate {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{}"
[simple_jwt]
SIGNING_KEY = "drfgate-test-secret-key-not-for-production-0123456789abcdef"
{simple_jwt}
{cache}
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["JWTAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[[routes]]
path = "api/knox/"
authentication_classes = ["knox.auth.TokenAuthentication"]
permission_classes = ["IsAuthenticated"]
"#,
        db.display()
    );
    Gate::from_config_str(&text, None).expect("bench config")
}

fn decide(gate: &Gate, path: &[u8], authorization: &[u8]) -> bool {
    let headers = [(&b"Authorization"[..], authorization)];
    let request = Request::new(b"GET", path).with_headers(&headers);
    matches!(gate.decide(black_box(&request)), Decision::Allow(Some(_)))
}

fn jwt(c: &mut Criterion) {
    let Some(db) = fixture_db() else { return };
    let tokens: BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("build/django/jwt/tokens.json")).unwrap(),
    )
    .unwrap();
    let rsa = format!(
        "ALGORITHM = \"RS256\"\nVERIFYING_KEY_FILE = \"{}\"",
        repo_root().join("build/django/jwt/rsa.pub.pem").display()
    );
    let off = "[cache]\nmax_entries = 0";
    for (name, settings, token) in [
        ("HS256", "", "access_john"),
        ("RS256", rsa.as_str(), "access_rs256"),
    ] {
        let header = format!("Bearer {}", tokens[token]);
        let cached = gate(&db, settings, "");
        assert!(decide(&cached, b"/api/x/", header.as_bytes()), "{name}");
        c.bench_function(&format!("cached {name} JWT decision (allow)"), |b| {
            b.iter(|| decide(&cached, b"/api/x/", header.as_bytes()))
        });
        let uncached = gate(&db, settings, off);
        assert!(decide(&uncached, b"/api/x/", header.as_bytes()), "{name}");
        c.bench_function(&format!("uncached {name} JWT decision (allow)"), |b| {
            b.iter(|| decide(&uncached, b"/api/x/", header.as_bytes()))
        });
    }
    let knox = format!("Token {}", tokens["knox_john"]);
    let cached = gate(&db, "", "");
    assert!(decide(&cached, b"/api/knox/", knox.as_bytes()));
    c.bench_function("cached knox decision (allow)", |b| {
        b.iter(|| decide(&cached, b"/api/knox/", knox.as_bytes()))
    });
}

criterion_group!(benches, jwt);
criterion_main!(benches);
