//! Whole decisions on two threads against one (issue 16, "Scale"): a cached Token allow on
//! `api/orders/<int:pk>/`, each thread deciding a fixed number of requests, over 1,000 tokens
//! spread across both threads and over one hot token that both threads send. The target is
//! two threads ≥ 1.8× the throughput of one on spread tokens and ≥ 1.7× on the hot token.
//!
//! `cargo bench -p drfgate --bench scaling` (part of `make bench-scale`, which `make bench`
//! runs). On a machine shared with other work, "two threads" often means one after the other;
//! like `cache_compare`, only runs in which both threads had a core of their own count (see
//! `two_threads::Run::is_clean`), and the table says how many there were.
//!
//! The users come from an in-memory store: after the first decision per token every decision
//! is a cache hit, which is what is measured, so the database plays no part. Prints a Markdown
//! table and one `scaling:` line per scenario for `bench/frontends/scale.sh`.
//! Without `--bench` (as under `cargo test --benches`) a few operations only.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use drfgate::store::{Store, StoreError, StoreSummary, UserWithPassword};
use drfgate::{Config, Decision, Gate, Request, User, UserPk};

#[allow(dead_code)] // shared with cache_compare, which uses the rest of it
#[path = "two_threads/mod.rs"]
mod two_threads;

use two_threads::{quartiles, run_threads, Run};

const TOKENS: usize = 1_000;

/// `bench-token-<n>` (padded to 40 characters, a DRF key's length) is user `n`'s token.
fn token(n: usize) -> String {
    format!("bench-token-{n:028}")
}

/// Every token of the form above belongs to a user of its own.
struct ManyTokens;

impl Store for ManyTokens {
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
        let n = key
            .strip_prefix("bench-token-")
            .and_then(|n| n.parse::<i64>().ok());
        Ok(n.map(|n| User {
            pk: UserPk::Int(n),
            username: format!("user{n}").into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
        }))
    }
    fn user_by_username(&self, _: &str) -> Result<Option<UserWithPassword>, StoreError> {
        Ok(None)
    }
    fn user_permissions(&self, _: &UserPk) -> Result<HashSet<String>, StoreError> {
        Ok(HashSet::new())
    }
    fn summary(&self) -> Result<StoreSummary, StoreError> {
        Ok(StoreSummary {
            backend: "memory",
            location: "bench".into(),
            users: TOKENS as i64,
            tokens: Some(TOKENS as i64),
        })
    }
}

fn gate() -> Gate {
    let config = Config::from_str_with_origin(
        r#"
[django]
DATABASE = "sqlite:///unused.sqlite3"
[[routes]]
path = "api/orders/<int:pk>/"
methods = ["GET", "PUT"]
authentication_classes = ["TokenAuthentication"]
permission_classes = ["IsAuthenticated"]
"#,
        "scaling.toml",
        None,
    )
    .expect("bench config");
    Gate::with_store(config, Box::new(ManyTokens)).expect("bench gate")
}

fn allowed(gate: &Gate, authorization: &[u8]) -> bool {
    let headers = [(&b"Authorization"[..], authorization)];
    let request = Request::new(b"GET", b"/api/orders/42/").with_headers(&headers);
    matches!(gate.decide(black_box(&request)), Decision::Allow(Some(_)))
}

fn main() {
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let (ops, wanted, budget) = if smoke {
        (1_000, 1, Duration::ZERO)
    } else {
        (100_000, 9, Duration::from_secs(60))
    };
    let gate = gate();
    let headers: Vec<Vec<u8>> = (0..TOKENS)
        .map(|n| format!("Token {}", token(n)).into_bytes())
        .collect();
    for header in &headers {
        assert!(allowed(&gate, header), "every bench token is allowed");
    }
    let gate = &gate;
    let headers = &headers;
    let scenarios = ["spread_1000_tokens", "one_hot_token"];
    // [scenario][threads - 1] -> every run
    let mut runs: [[Vec<Run>; 2]; 2] = Default::default();
    let clean = |runs: &Vec<Run>| runs.iter().filter(|run| run.is_clean()).count();
    let started = Instant::now();
    let mut rounds = 0;
    loop {
        for (scenario, per_threads) in runs.iter_mut().enumerate() {
            for (slot, threads) in per_threads.iter_mut().zip([1, 2]) {
                let op = |thread_index: usize, i: usize| {
                    let index = if scenario == 0 {
                        // Each thread starts half the key space away from the other.
                        (i + thread_index * TOKENS / 2) % TOKENS
                    } else {
                        0
                    };
                    black_box(allowed(gate, &headers[index]));
                };
                slot.push(run_threads(threads, ops, &op));
            }
        }
        rounds += 1;
        let enough = runs.iter().flatten().all(|r| clean(r) >= wanted);
        if enough || started.elapsed() >= budget {
            break;
        }
    }
    // The clean runs if there are any, else all of them (and the table says so).
    let median_wall = |runs: &Vec<Run>| {
        let any_clean = clean(runs) > 0;
        quartiles(
            runs.iter()
                .filter(|run| !any_clean || run.is_clean())
                .map(|run| run.wall_ns),
        )[1]
    };
    println!(
        "\nscaling: {ops} cached Token decisions per thread, {rounds} rounds in {:.0} s; medians of the clean runs (threads off their core at most 5 % of the time, side by side at least 90 % of it)",
        started.elapsed().as_secs_f64()
    );
    println!("| scenario | 1 thread: ns/decision | 2 threads: wall ns/decision | 2 threads ÷ 1 thread, throughput | clean runs, 1 / 2 threads |");
    println!("|---|---:|---:|---:|---:|");
    for (scenario, name) in scenarios.iter().enumerate() {
        let [one, two] = &runs[scenario];
        println!(
            "| {name} | {:.1} | {:.1} | {:.2}× | {} / {} of {rounds} |",
            median_wall(one),
            median_wall(two),
            median_wall(one) / median_wall(two),
            clean(one),
            clean(two),
        );
    }
    for (scenario, name) in scenarios.iter().enumerate() {
        let [one, two] = &runs[scenario];
        println!(
            "scaling: {name} one={:.1} two={:.1} speedup={:.2} clean={}/{} rounds={rounds}",
            median_wall(one),
            median_wall(two),
            median_wall(one) / median_wall(two),
            clean(one),
            clean(two),
        );
    }
}
