//! Floods, measured by counting, never by timing: distinct junk tokens against the cache and
//! the store (store queries per junk request, the valid tokens' hit rate, the caches' sizes
//! against their bounds), and oversized requests and configs (work that grows no worse than
//! linearly, counted as bytes allocated while deciding; no crash).
//!
//! Here the gate has no token filter (no `[revocation]` listener): each distinct junk token is
//! one lookup. `make test` runs short floods here; `flood_of_a_million_junk_tokens` is the full
//! 10^6 run without a filter, ignored by default (`cargo test -p drfgate --test floods --
//! --ignored --nocapture`, ≈ 40 s in a debug build; its figures are in docs/testing.md). The
//! 10^6 flood with the filter, on PostgreSQL with the listener connected, is
//! `junk_flood_postgres.rs`, in `make test`.

use drfgate_test_support as common;

use common::flood::{junk_token, valid_token};

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use drfgate::store::{SqliteStore, Store, StoreError, StoreSummary, UserWithPassword};
use drfgate::{Config, Decision, Gate, Request, User, UserPk};

// ---- bytes allocated on this thread, to show growth without timing anything ----

struct CountingAllocator;

thread_local! {
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    let _ = ALLOCATED.try_with(|total| total.set(total.get() + bytes as u64));
}

// SAFETY: every call is passed on to the system allocator unchanged; counting touches only a
// const-initialised thread-local without a destructor.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Bytes allocated on this thread by `f`.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATED.with(Cell::get);
    let out = f();
    (out, ALLOCATED.with(Cell::get) - before)
}

// ---- a database with many users and tokens, and a store counting token lookups ----

const VALID: usize = 1_000;

fn database(dir: &Path) -> std::path::PathBuf {
    common::scratch_db(
        dir,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {VALID})
             INSERT INTO auth_user (id, username, password, is_active) SELECT i, 'u' || i, '!', 1 FROM n;
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {VALID} - 1)
             INSERT INTO authtoken_token (key, user_id) SELECT 'v' || printf('%039d', i), i + 1 FROM n;"
        ),
    )
}

/// The SQLite store, counting token lookups; optionally declaring the token column's length
/// enforced, as a network database's `VARCHAR(40)` is.
struct TokenCounting {
    inner: SqliteStore,
    token_lookups: Arc<AtomicUsize>,
    enforced_key_length: Option<usize>,
}

impl Store for TokenCounting {
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
        self.token_lookups.fetch_add(1, Ordering::Relaxed);
        self.inner.user_by_token(key)
    }
    fn token_key_max_chars(&self) -> Option<usize> {
        self.enforced_key_length
    }
    fn user_by_username(&self, username: &str) -> Result<Option<UserWithPassword>, StoreError> {
        self.inner.user_by_username(username)
    }
    fn user_permissions(&self, pk: &UserPk) -> Result<HashSet<String>, StoreError> {
        self.inner.user_permissions(pk)
    }
    fn summary(&self) -> Result<StoreSummary, StoreError> {
        self.inner.summary()
    }
}

fn flood_gate(
    db: &Path,
    cache: &str,
    enforced_key_length: Option<usize>,
) -> (Gate, Arc<AtomicUsize>) {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
SECRET_KEY = "flood-test-secret-key"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication", "SessionAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[cache]
{cache}
"#,
        db = db.display()
    );
    let config = Config::from_str_with_origin(&text, "floods.toml", None).unwrap();
    let token_lookups = Arc::new(AtomicUsize::new(0));
    let store = TokenCounting {
        inner: SqliteStore::open(db, config.django.schema.clone()).unwrap(),
        token_lookups: token_lookups.clone(),
        enforced_key_length,
    };
    (
        Gate::with_store(config, Box::new(store)).unwrap(),
        token_lookups,
    )
}

fn with_token(gate: &Gate, token: &str) -> Decision {
    let header = format!("Token {token}");
    let headers = [(&b"Authorization"[..], header.as_bytes())];
    gate.decide(&Request::new(b"GET", b"/api/x/").with_headers(&headers))
}

fn status(decision: &Decision) -> u16 {
    match decision {
        Decision::Deny(deny) => deny.status,
        Decision::Allow(_) | Decision::Pass => 200,
    }
}

/// What one flood did.
#[derive(Debug)]
struct FloodReport {
    junk_requests: usize,
    valid_requests: usize,
    store_lookups_for_junk: usize,
    valid_hits: u64,
    junk_statuses: [usize; 2],
    entries: usize,
    negative_entries: usize,
}

impl FloodReport {
    fn lookups_per_junk_request(&self) -> f64 {
        self.store_lookups_for_junk as f64 / self.junk_requests as f64
    }

    fn valid_hit_rate(&self) -> f64 {
        self.valid_hits as f64 / self.valid_requests as f64
    }
}

/// The valid tokens, then `junk` distinct junk tokens with every valid token asked again
/// in between (one valid request per ten junk ones, round robin).
fn flood(gate: &Gate, token_lookups: &AtomicUsize, junk: usize) -> FloodReport {
    for i in 0..VALID {
        assert_eq!(status(&with_token(gate, &valid_token(i))), 200);
    }
    let hits_before = gate.stats().tokens.hits;
    let lookups_before = token_lookups.load(Ordering::Relaxed);
    let mut valid_requests = 0;
    let mut valid_lookups = 0;
    let mut junk_statuses = [0, 0];
    for j in 0..junk {
        match status(&with_token(gate, &junk_token(j))) {
            401 => junk_statuses[0] += 1,
            503 => junk_statuses[1] += 1,
            other => panic!("junk token answered {other}"),
        }
        if j % 10 == 9 {
            let before = token_lookups.load(Ordering::Relaxed);
            assert_eq!(
                status(&with_token(gate, &valid_token(valid_requests % VALID))),
                200,
                "a valid token refused during the flood"
            );
            valid_lookups += token_lookups.load(Ordering::Relaxed) - before;
            valid_requests += 1;
        }
    }
    let stats = gate.stats().tokens;
    FloodReport {
        junk_requests: junk,
        valid_requests,
        store_lookups_for_junk: token_lookups.load(Ordering::Relaxed)
            - lookups_before
            - valid_lookups,
        valid_hits: stats.hits - hits_before,
        junk_statuses,
        entries: stats.entries,
        negative_entries: stats.negative_entries,
    }
}

/// Junk cannot evict valid users (its own, smaller space), and each distinct junk token is
/// one store lookup; the caches stay within their configured sizes.
#[test]
fn junk_tokens_cost_one_lookup_each_and_evict_no_valid_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    // The positive space twice the valid set (capacity is per shard: a set as large as the
    // whole space would overflow its fullest shards by itself); the negative one small.
    let (gate, lookups) = flood_gate(&db, "max_entries = 2000\nnegative_max_entries = 256", None);
    let report = flood(&gate, &lookups, 20_000);
    eprintln!("{report:?}");
    assert_eq!(report.junk_statuses, [20_000, 0]);
    assert_eq!(report.lookups_per_junk_request(), 1.0);
    assert!(report.valid_hit_rate() >= 0.99, "{report:?}");
    assert!(
        report.entries <= 2000 && report.negative_entries <= 256,
        "{report:?}"
    );
    assert_eq!(
        gate.stats().tokens.evictions,
        0,
        "junk evicted a valid token"
    );

    // A junk token repeated within negative_ttl_seconds costs no second lookup.
    for j in 0..100 {
        let junk = junk_token(1_000_000 + j);
        assert_eq!(status(&with_token(&gate, &junk)), 401);
        let before = lookups.load(Ordering::Relaxed);
        assert_eq!(status(&with_token(&gate, &junk)), 401);
        assert_eq!(lookups.load(Ordering::Relaxed), before);
    }
}

/// `credential_lookups_per_second`: the junk's lookups are bounded by the budget times the
/// seconds the flood spanned, whatever its size; valid cached tokens are all answered.
#[test]
fn a_lookup_budget_bounds_what_junk_costs_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    const BUDGET: usize = 200;
    let (gate, lookups) = flood_gate(&db, "credential_lookups_per_second = 200", None);
    // Valid tokens cached first (as many as one second's budget; asked again until allowed,
    // should the first second's budget be spent).
    let mut cached = 0;
    while cached < BUDGET {
        if status(&with_token(&gate, &valid_token(cached))) == 200 {
            cached += 1;
        } else {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let started = std::time::Instant::now();
    let before = lookups.load(Ordering::Relaxed);
    let mut statuses = [0usize; 2];
    // Junk for a little over two seconds (the loop's length is set by the clock; what is
    // asserted is counted), so that the flood spans at least three budget windows.
    let mut sent = 0;
    while sent < 20_000 || started.elapsed() < std::time::Duration::from_millis(2_200) {
        match status(&with_token(&gate, &junk_token(sent))) {
            401 => statuses[0] += 1,
            503 => statuses[1] += 1,
            other => panic!("junk answered {other}"),
        }
        if sent % 10 == 0 {
            assert_eq!(status(&with_token(&gate, &valid_token(sent % BUDGET))), 200);
        }
        sent += 1;
    }
    let queried = lookups.load(Ordering::Relaxed) - before;
    // Whole seconds the flood touched: a count of budget windows, not a timing assertion.
    let windows = started.elapsed().as_secs() as usize + 2;
    eprintln!(
        "budget {BUDGET}/s: {queried} lookups for {sent} junk requests over at most {windows} \
         windows; answered [401, 503] = {statuses:?}"
    );
    assert!(queried > 0, "no window let a lookup through");
    assert!(
        queried <= BUDGET * windows,
        "{queried} > {BUDGET} × {windows}"
    );
    assert_eq!(
        statuses[0], queried,
        "each lookup made answers Invalid token."
    );
    assert_eq!(gate.stats().lookups_over_budget as usize, statuses[1]);
}

/// Where the database enforces the token column's length, a longer key is refused as DRF
/// refuses it (`Invalid token.`) without a query.
#[test]
fn keys_longer_than_the_column_cost_no_lookup_where_the_length_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let (enforced, lookups) = flood_gate(&db, "", Some(40));
    for j in 0..1_000 {
        let long = format!("{}x", junk_token(j));
        let Decision::Deny(deny) = with_token(&enforced, &long) else {
            panic!("a 41-character key allowed")
        };
        assert_eq!(deny.detail().as_deref(), Some("Invalid token."));
    }
    assert_eq!(lookups.load(Ordering::Relaxed), 0);
    assert_eq!(enforced.stats().lookups_skipped, 1_000);
    // Valid keys are still asked for.
    assert_eq!(status(&with_token(&enforced, &valid_token(7))), 200);
    assert_eq!(lookups.load(Ordering::Relaxed), 1);

    // SQLite does not enforce VARCHAR(40): there, a long key is looked up (it may exist).
    let (sqlite, lookups) = flood_gate(&db, "", None);
    assert_eq!(
        status(&with_token(&sqlite, &format!("{}x", junk_token(1)))),
        401
    );
    assert_eq!(lookups.load(Ordering::Relaxed), 1);
}

/// The full figure: 10^6 distinct junk tokens, default cache settings (see the module docs).
#[test]
#[ignore = "long: 10^6 junk tokens (≈ 40 s); figures in docs/testing.md"]
fn flood_of_a_million_junk_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let rss = || {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        pages * 4096
    };
    let (gate, lookups) = flood_gate(&db, "", None);
    let rss_before = rss();
    let report = flood(&gate, &lookups, 1_000_000);
    let rss_after = rss();
    eprintln!(
        "{report:?}; lookups per junk request {:.3}; valid hit rate {:.4}; RSS {} → {} MiB",
        report.lookups_per_junk_request(),
        report.valid_hit_rate(),
        rss_before >> 20,
        rss_after >> 20
    );
    let defaults = drfgate::cache::CacheConfig::default();
    assert!(report.valid_hit_rate() >= 0.99);
    assert!(report.entries <= defaults.max_entries);
    assert!(report.negative_entries <= defaults.negative_max_entries);
}

// ---- oversized requests: no crash, and work that grows at most linearly ----

/// Decides `request(n)` and `request(10 n)` and checks the bytes allocated grew at most ~10×.
fn assert_linear(what: &str, n: usize, decide: impl Fn(usize) -> Decision, expected: u16) {
    let (small, small_bytes) = allocated_by(|| decide(n));
    let (big, big_bytes) = allocated_by(|| decide(10 * n));
    assert_eq!(status(&small), expected, "{what}");
    assert_eq!(status(&big), expected, "{what}");
    eprintln!("{what}: {small_bytes} bytes at n = {n}, {big_bytes} at 10n");
    assert!(
        big_bytes <= 15 * small_bytes + 64 * 1024,
        "{what}: {big_bytes} bytes for 10n against {small_bytes} for n: worse than linear"
    );
}

#[test]
fn oversized_requests_cost_at_most_linear_work() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let (gate, _) = flood_gate(&db, "", None);
    let token = format!("Token {}", valid_token(3));
    assert_eq!(status(&with_token(&gate, &valid_token(3))), 200);

    // Hundreds (and thousands) of headers, the credential last.
    assert_linear(
        "many headers",
        300,
        |n| {
            let names: Vec<String> = (0..n).map(|i| format!("X-Filler-{i}")).collect();
            let mut headers: Vec<(&[u8], &[u8])> = names
                .iter()
                .map(|n| (n.as_bytes(), &b"value"[..]))
                .collect();
            headers.push((b"Authorization", token.as_bytes()));
            gate.decide(&Request::new(b"GET", b"/api/x/").with_headers(&headers))
        },
        200,
    );

    // Thousands of cookies, none of them the session's: parsed, then Token decides.
    assert_linear(
        "many cookies",
        1_000,
        |n| {
            let cookies: String = (0..n).map(|i| format!("c{i}=v{i}; ")).collect();
            let headers: [(&[u8], &[u8]); 2] = [
                (b"Cookie", cookies.as_bytes()),
                (b"Authorization", token.as_bytes()),
            ];
            gate.decide(&Request::new(b"GET", b"/api/x/").with_headers(&headers))
        },
        200,
    );

    // One header value at servers' limits (nginx 8 KB, Apache 8190 bytes) and beyond: a
    // token of that length is unknown (one lookup), refused as DRF refuses it.
    assert_linear(
        "a long Authorization header",
        8_190,
        |n| {
            let header = format!("Token {}", "a".repeat(n));
            let headers = [(&b"Authorization"[..], header.as_bytes())];
            gate.decide(&Request::new(b"GET", b"/api/x/").with_headers(&headers))
        },
        401,
    );

    // The same header repeated hundreds of times (joined with `,` as Django sees it).
    assert_linear(
        "a repeated header",
        300,
        |n| {
            let headers: Vec<(&[u8], &[u8])> = (0..n)
                .map(|_| (&b"Authorization"[..], token.as_bytes()))
                .collect();
            gate.decide(&Request::new(b"GET", b"/api/x/").with_headers(&headers))
        },
        401,
    );

    // Long paths full of escapes (decoded to path_info; no route: the defaults decide).
    assert_linear(
        "a long escaped path",
        2_000,
        |n| {
            let path = format!("/api/{}", "%2F%41%e2%82%ac%zz".repeat(n));
            let headers = [(&b"Authorization"[..], token.as_bytes())];
            gate.decide(&Request::new(b"GET", path.as_bytes()).with_headers(&headers))
        },
        200,
    );
}

#[test]
fn deeply_nested_permission_expressions_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let load = |expression: &str| {
        let text = format!(
            "[django]\nDATABASE = \"sqlite://{}\"\n[rest_framework]\n\
             DEFAULT_PERMISSION_CLASSES = [{expression:?}]\n",
            db.display()
        );
        Config::from_str_with_origin(&text, "nested.toml", None).map(|_| ())
    };
    let nested =
        |depth: usize| format!("{}IsAuthenticated{}", "(".repeat(depth), ")".repeat(depth));
    assert!(load(&nested(16)).is_ok());
    assert!(load(&format!("{}IsAuthenticated", "~".repeat(16))).is_ok());
    for hostile in [
        nested(17),
        nested(100_000),
        format!("{}IsAuthenticated", "~".repeat(100_000)),
        vec!["AllowAny"; 100_000].join(" | "),
        "(".repeat(100_000),
    ] {
        let err = load(&hostile).unwrap_err().to_string();
        assert!(
            err.contains("deep") || err.contains("at most 64") || err.contains("never closed"),
            "{err}"
        );
        assert!(err.contains("nested.toml"), "{err}");
    }

    // Custom classes inheriting from one another: bounded as well.
    let chain = |depth: usize| {
        let mut text = format!(
            "[django]\nDATABASE = \"sqlite://{}\"\n[rest_framework]\n\
             DEFAULT_PERMISSION_CLASSES = [\"app.P{depth}\"]\n",
            db.display()
        );
        text.push_str("[permission_classes.\"app.P0\"]\nbase = \"IsAuthenticated\"\n");
        for i in 1..=depth {
            text.push_str(&format!(
                "[permission_classes.\"app.P{i}\"]\nbase = \"app.P{}\"\n",
                i - 1
            ));
        }
        Config::from_str_with_origin(&text, "chain.toml", None).map(|_| ())
    };
    assert!(chain(10).is_ok());
    let err = chain(5_000).unwrap_err().to_string();
    assert!(err.contains("deep"), "{err}");
}
