//! A flood of 10^6 distinct junk tokens against a gate on PostgreSQL with `[revocation]`'s
//! listener connected, so the token filter is kept (issue 15, part 5): counted, never timed.
//! What is asserted: the store queries junk caused (within `unlisted_token_lookups_per_second`
//! times the budget windows the flood spanned), the valid tokens' cache hit rate (≥ 99 %), the
//! caches and the filter within their bounds, and the process's resident memory growth bounded.
//! And a token inserted on the table (the trigger notifies) is learnt by the filter and allowed
//! without the budget, even after the filter refused it once.
//!
//! Each test makes a database of its own on the local server (`drfgate_junk_<pid>_<n>`), with a
//! token table, users, and the triggers of `python/drfgate-django/.../revocation_postgres.sql`,
//! through `psql`; skipped with `DRFGATE_SKIP=postgres`.

#![cfg(feature = "postgres")]

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use drfgate_test_support as common;

use common::flood::{junk_token, valid_token};

use drfgate::store::{Store, StoreError, StoreSummary, UserWithPassword};
use drfgate::{Config, Decision, Gate, Request, User, UserPk};

const VALID: usize = 1_000;
const JUNK: usize = 1_000_000;

fn psql(database: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-X", "-q", "-t", "-A"])
        .args(["-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A database of this test's own, dropped when done.
struct Scratch {
    name: String,
    channel: String,
}

impl Scratch {
    /// `None` when `DRFGATE_SKIP=postgres`.
    fn create(tag: &str) -> Option<Scratch> {
        let reachable = std::net::TcpStream::connect("127.0.0.1:5432").is_ok();
        if !common::skip::need(
            "postgres",
            reachable,
            "the PostgreSQL server at 127.0.0.1:5432",
        ) {
            return None;
        }
        let name = format!("drfgate_junk_{}_{tag}", std::process::id());
        psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        psql("postgres", &format!("CREATE DATABASE {name}"));
        let channel = format!("{name}_revocation");
        psql(
            &name,
            "CREATE TABLE auth_user (id serial PRIMARY KEY, password varchar(128) NOT NULL, \
               last_login timestamptz, is_superuser boolean NOT NULL DEFAULT false, \
               username varchar(150) NOT NULL UNIQUE, is_staff boolean NOT NULL DEFAULT false, \
               is_active boolean NOT NULL DEFAULT true);
             CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, \
               created timestamptz NOT NULL DEFAULT now(), \
               user_id integer NOT NULL UNIQUE REFERENCES auth_user (id));",
        );
        let triggers = std::fs::read_to_string(
            common::repo_root()
                .join("python/drfgate-django/src/drfgate_django/sql/revocation_postgres.sql"),
        )
        .unwrap();
        psql(&name, &triggers);
        psql(
            &name,
            &format!("SELECT drfgate_revocation_install(channel => '{channel}')"),
        );
        psql(
            &name,
            &format!(
                "INSERT INTO auth_user (id, username, password) \
                   SELECT i, 'u' || i, '!' FROM generate_series(1, {VALID}) i;
                 SELECT setval('auth_user_id_seq', {VALID});
                 INSERT INTO authtoken_token (key, user_id) \
                   SELECT 'v' || lpad((i - 1)::text, 39, '0'), i FROM generate_series(1, {VALID}) i;"
            ),
        );
        Some(Scratch { name, channel })
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-X",
                "-q",
                "-d",
                "postgres",
            ])
            .args([
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// The PostgreSQL store, counting the queries made through it.
struct Counting {
    inner: Box<dyn Store>,
    token_lookups: Arc<AtomicUsize>,
    key_listings: Arc<AtomicUsize>,
}

impl Store for Counting {
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
        self.token_lookups.fetch_add(1, Ordering::Relaxed);
        self.inner.user_by_token(key)
    }
    fn token_key_max_chars(&self) -> Option<usize> {
        self.inner.token_key_max_chars()
    }
    fn token_keys_compare_exactly(&self) -> bool {
        self.inner.token_keys_compare_exactly()
    }
    fn token_keys_after(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.key_listings.fetch_add(1, Ordering::Relaxed);
        self.inner.token_keys_after(after, limit)
    }
    fn token_keys_of_user(&self, pk: &str) -> Result<Vec<String>, StoreError> {
        self.key_listings.fetch_add(1, Ordering::Relaxed);
        self.inner.token_keys_of_user(pk)
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

struct Flooded {
    gate: Gate,
    token_lookups: Arc<AtomicUsize>,
    key_listings: Arc<AtomicUsize>,
}

fn gate(scratch: &Scratch, cache: &str) -> Flooded {
    let text = format!(
        r#"
[django]
DATABASE = "{url}"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[cache]
{cache}
[revocation]
source = "database"
channel = "{channel}"
"#,
        url = scratch.url(),
        channel = scratch.channel
    );
    let config = Config::from_str_with_origin(&text, "junk.toml", None).unwrap();
    let token_lookups = Arc::new(AtomicUsize::new(0));
    let key_listings = Arc::new(AtomicUsize::new(0));
    let store = Counting {
        inner: config.django.database.open(&config.django.schema).unwrap(),
        token_lookups: token_lookups.clone(),
        key_listings: key_listings.clone(),
    };
    let gate = Gate::with_store(config, Box::new(store)).unwrap();
    gate.start_revocation_listener();
    eventually("the token filter loaded", || {
        gate.stats().token_filter_authoritative
    });
    Flooded {
        gate,
        token_lookups,
        key_listings,
    }
}

/// Polls `done` every 10 ms; a generous bound only so a broken build cannot hang.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < give_up, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
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

/// Resident memory of this process (`VmRSS`), in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

#[test]
fn a_million_junk_tokens_cost_the_database_at_most_the_filters_budget() {
    let Some(scratch) = Scratch::create("flood") else {
        return;
    };
    const BUDGET: usize = 20;
    // A TTL far longer than the flood, so the hit rate measures what junk does to the valid
    // tokens (evictions), not how long the flood took.
    let flooded = gate(
        &scratch,
        &format!("ttl_seconds = 3600\nunlisted_token_lookups_per_second = {BUDGET}"),
    );
    let gate = &flooded.gate;
    assert_eq!(gate.stats().token_filter_keys, VALID);
    // The load: one page (10,000 keys a page).
    assert_eq!(flooded.key_listings.load(Ordering::Relaxed), 1);

    // Every valid token looked up once, then cached.
    for i in 0..VALID {
        assert_eq!(status(&with_token(gate, &valid_token(i))), 200);
    }
    assert_eq!(flooded.token_lookups.load(Ordering::Relaxed), VALID);

    let resident_before = resident_bytes();
    let hits_before = gate.stats().tokens.hits;
    let lookups_before = flooded.token_lookups.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut valid_requests = 0;
    let mut valid_lookups = 0;
    for j in 0..JUNK {
        let decision = with_token(gate, &junk_token(j));
        let Decision::Deny(deny) = &decision else {
            panic!("junk token allowed")
        };
        assert_eq!(deny.status, 401);
        assert_eq!(deny.detail().as_deref(), Some("Invalid token."));
        if j % 1_000 == 999 {
            let before = flooded.token_lookups.load(Ordering::Relaxed);
            assert_eq!(
                status(&with_token(gate, &valid_token(valid_requests % VALID))),
                200,
                "a valid token refused during the flood"
            );
            valid_lookups += flooded.token_lookups.load(Ordering::Relaxed) - before;
            valid_requests += 1;
        }
    }
    // Whole seconds the flood touched: a count of budget windows, not a timing assertion.
    let windows = started.elapsed().as_secs() as usize + 2;
    let resident_after = resident_bytes();
    let stats = gate.stats();
    let junk_lookups =
        flooded.token_lookups.load(Ordering::Relaxed) - lookups_before - valid_lookups;
    let valid_hit_rate = (stats.tokens.hits - hits_before) as f64 / valid_requests as f64;
    eprintln!(
        "{JUNK} junk tokens: {junk_lookups} token queries ({:.6} per junk request) over at most \
         {windows} budget windows, {} refused by the filter; valid hit rate {valid_hit_rate:.4} \
         ({valid_requests} requests, {valid_lookups} lookups); negative entries {} (max {}); \
         filter {} keys in {} bytes; VmRSS {} → {} KiB (+{} KiB); {:?} in all",
        junk_lookups as f64 / JUNK as f64,
        stats.token_lookups_filtered,
        stats.tokens.negative_entries,
        drfgate::cache::CacheConfig::default().negative_max_entries,
        stats.token_filter_keys,
        stats.token_filter_bytes,
        resident_before >> 10,
        resident_after >> 10,
        resident_after.saturating_sub(resident_before) >> 10,
        started.elapsed(),
    );
    assert!(
        junk_lookups <= BUDGET * windows,
        "{junk_lookups} > {BUDGET} × {windows}"
    );
    assert_eq!(
        stats.token_lookups_filtered as usize + junk_lookups,
        JUNK,
        "each junk token was either looked up or refused by the filter"
    );
    assert!(valid_hit_rate >= 0.99, "{valid_hit_rate}");
    let defaults = drfgate::cache::CacheConfig::default();
    assert!(stats.tokens.entries <= defaults.max_entries);
    assert!(stats.tokens.negative_entries <= defaults.negative_max_entries);
    assert_eq!(stats.tokens.evictions, 0, "junk evicted a valid token");
    assert_eq!(
        stats.token_filter_keys, VALID,
        "junk never enters the filter"
    );
    assert!(stats.token_filter_bytes <= 21 * VALID + 4096);
    assert!(stats.revocation_listening && stats.token_filter_authoritative);
    // The negative space filling to its default bound (25,000 entries; ≈ 2.6 MiB measured) and
    // the allocator's slack: the flood's own 10^6 requests must leave nothing behind beyond those.
    assert!(
        resident_after.saturating_sub(resident_before) <= 16 << 20,
        "resident memory grew by {} KiB",
        resident_after.saturating_sub(resident_before) >> 10
    );
}

#[test]
fn a_token_inserted_during_a_flood_is_learnt_from_its_notification() {
    let Some(scratch) = Scratch::create("insert") else {
        return;
    };
    // No budget at all for keys the filter does not hold: every junk key is refused unasked.
    let flooded = gate(&scratch, "unlisted_token_lookups_per_second = 0");
    let gate = &flooded.gate;
    for j in 0..10_000 {
        assert_eq!(status(&with_token(gate, &junk_token(j))), 401);
    }
    assert_eq!(flooded.token_lookups.load(Ordering::Relaxed), 0);
    assert_eq!(gate.stats().token_lookups_filtered, 10_000);

    // A token presented before it exists is refused by the filter (and that refusal cached)...
    let fresh = "f".repeat(40);
    assert_eq!(status(&with_token(gate, &fresh)), 401);
    assert_eq!(flooded.token_lookups.load(Ordering::Relaxed), 0);
    // ...then inserted: the trigger notifies, the filter reads user 7's keys again.
    let listings = flooded.key_listings.load(Ordering::Relaxed);
    psql(
        &scratch.name,
        &format!(
            "DELETE FROM authtoken_token WHERE user_id = 7; \
                  INSERT INTO authtoken_token (key, user_id) VALUES ('{fresh}', 7)"
        ),
    );
    // Asked until allowed: until the notification is applied, each request is answered by
    // the cached refusal or the filter, without a query.
    eventually("the new token allowed", || {
        status(&with_token(gate, &fresh)) == 200
    });
    assert_eq!(gate.stats().token_filter_keys, VALID + 1);
    assert!(flooded.key_listings.load(Ordering::Relaxed) > listings);
    // One lookup, though the budget for unknown keys is zero: the notification put the key in
    // the filter and dropped the refusal cached before it.
    assert_eq!(flooded.token_lookups.load(Ordering::Relaxed), 1);
    let Decision::Allow(Some(identity)) = with_token(gate, &fresh) else {
        panic!("the new token was not allowed")
    };
    assert_eq!(&*identity.user.username, "u7");
    assert_eq!(flooded.token_lookups.load(Ordering::Relaxed), 1, "cached");
    // The deleted key stays in the filter (it may only cost a query), and is refused by the
    // database as DRF refuses it.
    assert_eq!(status(&with_token(gate, &valid_token(6))), 401);
    assert_eq!(flooded.token_lookups.load(Ordering::Relaxed), 2);
}
