//! A cached decision allocates nothing in the core: counted by a global allocator that
//! counts this thread's allocations (not time), over the Django fixture database.
//!
//! The hot paths are the ones `make bench-check` counts instructions for (the example
//! `hot_loop`): a cached Token, Basic or session allow, a refusal without credentials and a
//! cached unknown token; and a cached simplejwt allow. An allocation there costs as much as
//! the rest of the decision.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use drfgate::{Decision, Gate, Request};
use drfgate_test_support::{fixture_db, repo_root};

struct CountingAllocator;

thread_local! {
    /// This thread's allocations; the test harness's other threads do not disturb it.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; counting touches only a
// const-initialised thread-local, which itself never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// The fixture's session for john (made by Django's `login()`).
const SESSION_COOKIE: &[u8] = b"sessionid=johnsessionkey000000000000000001";

fn gate(db: &std::path::Path) -> Gate {
    let config = format!(
        r#"[django]
DATABASE = "sqlite://{}"
SECRET_KEY = "drfgate-test-secret-key-not-for-production-0123456789abcdef"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication", "BasicAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[[routes]]
path = "api/orders/<int:pk>/"
methods = ["GET", "PUT"]
[[routes]]
path = "api/session-orders/<int:pk>/"
authentication_classes = ["SessionAuthentication"]
[simple_jwt]
SIGNING_KEY = "drfgate-test-secret-key-not-for-production-0123456789abcdef"
[[routes]]
path = "api/jwt-orders/<int:pk>/"
authentication_classes = ["JWTAuthentication"]
"#,
        db.display()
    );
    Gate::from_config_str(&config, None).expect("config")
}

/// Decides once to fill the caches, then counts what ten more decisions allocate.
fn allocations_per_cached_decision(
    gate: &Gate,
    target: &[u8],
    header: (&[u8], &[u8]),
    expected: fn(&Decision) -> bool,
) -> u64 {
    let headers = [header];
    let request = Request::new(b"GET", target).with_headers(&headers);
    let first = gate.decide(&request);
    assert!(expected(&first), "unexpected decision {first:?}");
    allocations_during(|| {
        for _ in 0..10 {
            let decision = gate.decide(&request);
            assert!(expected(&decision));
        }
    })
}

fn allowed(decision: &Decision) -> bool {
    matches!(decision, Decision::Allow(Some(_)))
}

fn refused_401(decision: &Decision) -> bool {
    matches!(decision, Decision::Deny(deny) if deny.status == 401)
}

/// What is decided, the target, its one header, and the decision expected.
type Case = (&'static str, &'static [u8], Header, fn(&Decision) -> bool);
type Header = (&'static [u8], &'static [u8]);

#[test]
fn cached_decisions_do_not_allocate() {
    let Some(db) = fixture_db() else { return };
    let gate = gate(&db);
    let orders = b"/api/orders/42/";
    let cases: [Case; 5] = [
        (
            "cached Token allow",
            orders,
            (b"Authorization", b"Token abcd1234"),
            allowed,
        ),
        (
            // h_md5:password; the check is cached, so its hasher does not matter.
            "cached Basic allow",
            orders,
            (b"Authorization", b"Basic aF9tZDU6cGFzc3dvcmQ="),
            allowed,
        ),
        (
            "cached session allow",
            b"/api/session-orders/42/",
            (b"Cookie", SESSION_COOKIE),
            allowed,
        ),
        (
            "no credentials, 401",
            orders,
            (b"X-Nothing", b""),
            refused_401,
        ),
        (
            "cached unknown token, 401",
            orders,
            (b"Authorization", b"Token nope"),
            refused_401,
        ),
    ];
    for (what, target, header, expected) in cases {
        let allocations = allocations_per_cached_decision(&gate, target, header, expected);
        assert_eq!(
            allocations, 0,
            "{what}: {allocations} allocations in 10 decisions"
        );
    }
}

/// A cached simplejwt allow: john's HS256 access token minted by simplejwt
/// (tests/django/jwt_fixtures.py), its signature and its user from the caches, its claims
/// judged against the clock on every decision.
#[test]
fn cached_jwt_allow_does_not_allocate() {
    let Some(db) = fixture_db() else { return };
    let tokens = repo_root().join("build/django/jwt/tokens.json");
    let tokens: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tokens).expect("make fixture-db")).unwrap();
    let header = format!("Bearer {}", tokens["access_john"].as_str().unwrap());
    let gate = gate(&db);
    let allocations = allocations_per_cached_decision(
        &gate,
        b"/api/jwt-orders/42/",
        (b"Authorization", header.as_bytes()),
        allowed,
    );
    assert_eq!(
        allocations, 0,
        "cached JWT allow: {allocations} allocations in 10 decisions"
    );
}

/// The counter sees allocations at all (else the test above proves nothing).
#[test]
fn the_counter_counts() {
    let n = allocations_during(|| {
        std::hint::black_box(vec![1u8; 10]);
    });
    assert_eq!(n, 1);
}
