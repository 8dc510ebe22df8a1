//! A fixed number of decisions on one hot path, for instruction counting with
//! `valgrind --tool=callgrind` (counts do not depend on machine load). Run it twice, with N
//! and 2N rounds: the difference ÷ N is one decision, start-up and the first (uncached)
//! decision cancelling out. `make bench-check` does that for every path.
//!
//! `cargo build --release -p drfgate --example hot_loop &&
//!  valgrind --tool=callgrind target/release/examples/hot_loop build/django/db.sqlite3 100000 token`
//!
//! The paths (the last argument, `token` when left out), each on `api/orders/<int:pk>/` or a
//! route like it, over the Django fixture database (`make fixture-db`):
//! * `token`: `Authorization: Token abcd1234`, john's token, cached → allow;
//! * `basic`: `h_md5:password`, its check cached → allow;
//! * `none`: no credentials → 401;
//! * `unknown`: a token the database does not have, cached as unknown → 401;
//! * `session`: john's session cookie (`SessionAuthentication`), cached → allow;
//! * `jwt`: john's simplejwt access token (`JWTAuthentication`), cached → allow;
//! * `handoff`: as `token`, with a `[handoff]` key: each allow is also signed for the
//!   application (`Gate::handoff`, what the front ends add to an allowed request).
//!
//! `config` instead prints the gate's config, for the C ABI's loop
//! (`crates/drfgate-ffi/benches/decide_loop.c`) to decide `token` on the same one.

use std::path::Path;

use drfgate::{Decision, Gate, Request};

/// The fixture's session for john (made by Django's `login()`).
const SESSION_COOKIE: &[u8] = b"sessionid=johnsessionkey000000000000000001";

fn config(db: &Path, handoff: Option<&Path>) -> String {
    let handoff = handoff.map_or(String::new(), |secret| {
        format!("[handoff]\nSECRET_FILE = \"{}\"\n", secret.display())
    });
    format!(
        r#"{handoff}[django]
DATABASE = "sqlite://{db}"
SECRET_KEY = "drfgate-test-secret-key-not-for-production-0123456789abcdef"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]
[simple_jwt]
SIGNING_KEY = "drfgate-test-secret-key-not-for-production-0123456789abcdef"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication", "BasicAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[[routes]]
path = "api/orders/<int:pk>/"
methods = ["GET", "PUT"]
[[routes]]
path = "api/session-orders/<int:pk>/"
methods = ["GET", "PUT"]
authentication_classes = ["SessionAuthentication"]
[[routes]]
path = "api/jwt-orders/<int:pk>/"
methods = ["GET", "PUT"]
authentication_classes = ["JWTAuthentication"]
"#,
        db = db.display()
    )
}

/// john's simplejwt access token, minted by the fixture (`build/django/jwt/tokens.json`).
fn jwt_header(db: &Path) -> Vec<u8> {
    let tokens = db.with_file_name("jwt").join("tokens.json");
    let text = std::fs::read_to_string(&tokens)
        .unwrap_or_else(|e| panic!("{}: {e} (make fixture-db)", tokens.display()));
    let tokens: serde_json::Value = serde_json::from_str(&text).expect("tokens.json");
    let token = tokens["access_john"].as_str().expect("access_john");
    format!("Bearer {token}").into_bytes()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let db = args.next().expect("usage: hot_loop DB [ROUNDS] [PATH]");
    let rounds: usize = args.next().map_or(100_000, |n| n.parse().expect("ROUNDS"));
    let path = args.next().unwrap_or_else(|| "token".into());
    let db = Path::new(&db);
    if path == "config" {
        // For the C side of `make bench-check`, which decides through libdrfgate on this
        // same config.
        print!("{}", config(db, None));
        return;
    }
    let secret = std::env::temp_dir().join(format!("hot_loop-handoff-{}", std::process::id()));
    let handoff = path == "handoff";
    if handoff {
        std::fs::write(&secret, "k".repeat(48)).expect("handoff secret");
    }
    let gate = Gate::from_config_str(&config(db, handoff.then_some(&*secret)), None);
    let _ = std::fs::remove_file(&secret);
    let gate = gate.expect("config");

    let (target, name, value, allowed): (&[u8], &[u8], Vec<u8>, bool) = match path.as_str() {
        "token" | "handoff" => (
            b"/api/orders/42/",
            b"Authorization",
            b"Token abcd1234".into(),
            true,
        ),
        "basic" => (
            b"/api/orders/42/",
            b"Authorization",
            // h_md5:password: the check is cached, so the hasher does not matter past the
            // first decision; MD5 keeps that one cheap under Valgrind (john's PBKDF2 at
            // 1,000,000 iterations takes a minute there).
            b"Basic aF9tZDU6cGFzc3dvcmQ=".into(),
            true,
        ),
        "none" => (b"/api/orders/42/", b"", Vec::new(), false),
        "unknown" => (
            b"/api/orders/42/",
            b"Authorization",
            b"Token nope".into(),
            false,
        ),
        "session" => (
            b"/api/session-orders/42/",
            b"Cookie",
            SESSION_COOKIE.into(),
            true,
        ),
        "jwt" => (
            b"/api/jwt-orders/42/",
            b"Authorization",
            jwt_header(db),
            true,
        ),
        other => {
            panic!("unknown path {other:?}: token, basic, none, unknown, session, jwt or handoff")
        }
    };
    let header = [(name, value.as_slice())];
    // No credentials: no headers at all.
    let headers: &[(&[u8], &[u8])] = if path == "none" { &[] } else { &header };
    let request = Request::new(b"GET", target).with_headers(&headers);
    let expected = |decision: &Decision| match decision {
        Decision::Allow(identity) => allowed && identity.is_some(),
        Decision::Deny(deny) => !allowed && deny.status == 401,
        Decision::Pass => false,
    };
    let first = gate.decide(&request);
    assert!(
        expected(&first),
        "{path}: unexpected first decision {first:?}"
    );
    let mut as_expected = 0;
    if handoff {
        for _ in 0..rounds {
            let request = std::hint::black_box(&request);
            let decision = gate.decide(request);
            std::hint::black_box(gate.handoff(request, &decision).expect("signed"));
            as_expected += expected(&decision) as usize;
        }
    } else {
        // The other paths' loop as it has always been, so their counts compare across rounds.
        for _ in 0..rounds {
            as_expected += expected(&gate.decide(std::hint::black_box(&request))) as usize;
        }
    }
    assert_eq!(as_expected, rounds, "{path}: some decisions changed");
    println!("{path}: {rounds} decisions as expected");
}
