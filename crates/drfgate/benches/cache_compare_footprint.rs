//! Memory per entry of drfgate's cache and of quick_cache, and a bare loop for counting
//! instructions with callgrind (issue 9, part 5; timings are in `cache_compare`).
//!
//! `cargo bench -p drfgate --bench cache_compare_footprint` fills each side, in a process of
//! its own, with 1,250,000 distinct keys at a capacity of 1,000,000 (so every shard is full and
//! evicting), then prints per resident entry (and the same at other capacities, since both
//! sides grow their tables by powers of two):
//! * heap bytes, counted by this binary's global allocator (bytes requested from `malloc`; its
//!   own per-block overhead is not in them), live after the fill and at the peak during it;
//! * the growth of the process's resident set (`/proc/self/statm`), which does include it.
//!
//! Keys and the (single, shared) `Arc<User>` value are made before the first snapshot, so only
//! what the cache itself allocates is counted: tables, nodes, expiry, counters.
//!
//! `… cache_compare_footprint ops SIDE CASE N` fills a cache as `cache_compare` does and does
//! N lookups; `cache_compare_instructions.sh` runs it under callgrind.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use drfgate::cache::{CacheConfig, CacheKey, Cached, CredentialCache};
use drfgate::User;

#[allow(dead_code)] // shared with cache_compare, which uses other parts of it
#[path = "cache_compare_support/mod.rs"]
mod support;

use support::{config, keys, quick_cache, token, user, QuickCache, QuickCredentialCache, TOKEN};

/// Counts the bytes the program holds from the system allocator, and the most it held.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is passed on to `System` unchanged; only the counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            grew(layout.size());
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let block = unsafe { System.alloc_zeroed(layout) };
        if !block.is_null() {
            grew(layout.size());
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        unsafe { System.dealloc(block, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(block, layout, new_size) };
        if !moved.is_null() {
            // Counted as if both blocks were held at once (a copy), so the peak is not understated.
            grew(new_size);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Resident set size of this process, from `/proc/self/statm` (Linux; 0 elsewhere).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

const CAPACITY: usize = 1_000_000;

/// Capacities for the sweep: drfgate's default, then up past the 1,000,000.
const SWEEP: [usize; 5] = [100_000, 300_000, 700_000, 1_000_000, 1_500_000];

/// The sides measured for memory, with what each holds.
const MEMORY_SIDES: [(&str, &str); 5] = [
    (
        "drfgate",
        "`CredentialCache<Arc<User>>`, default proportions (+ 250,000-entry negative space)",
    ),
    (
        "drfgate_no_negative",
        "`CredentialCache<Arc<User>>`, negative space off",
    ),
    (
        "quick_cache_wrapped",
        "`QuickCredentialCache`: `Cache<CacheKey, (Arc<User>, Instant)>` + negative `Cache<CacheKey, Instant>`",
    ),
    (
        "quick_cache_wrapped_no_ghosts",
        "the same with `ghost_allocation(0.0)`: no hashes of evicted keys kept",
    ),
    ("quick_cache_bare", "`Cache<CacheKey, Arc<User>>`"),
];

/// Fills one side with `inserted` keys at `capacity`; prints resident entries, live bytes,
/// peak bytes and RSS growth, separated by spaces.
fn measure_memory(side: &str, capacity: usize, inserted: usize) {
    let keyer = CredentialCache::<()>::new(CacheConfig {
        max_entries: 0,
        ..CacheConfig::default()
    });
    let keys = keys(&keyer, inserted);
    let value = user(1);
    let found = || Ok::<_, ()>(Cached::Found(value.clone()));
    let mut cfg = config(capacity);
    if side == "drfgate_no_negative" {
        cfg.negative_max_entries = 0;
    }

    let rss_before = rss_bytes();
    let live_before = LIVE.load(Ordering::Relaxed);
    PEAK.store(live_before, Ordering::Relaxed);
    let (resident, live_after, peak, rss_after) = match side {
        "drfgate" | "drfgate_no_negative" => {
            let cache = CredentialCache::<Arc<User>>::new(cfg);
            for key in &keys {
                let _ = cache.get_or_load(*key, found);
            }
            let after = (LIVE.load(Ordering::Relaxed), PEAK.load(Ordering::Relaxed));
            let resident = cache.stats().entries;
            (resident, after.0, after.1, rss_bytes())
        }
        "quick_cache_wrapped" | "quick_cache_wrapped_no_ghosts" => {
            let ghosts = (side == "quick_cache_wrapped_no_ghosts").then_some(0.0);
            let cache = QuickCredentialCache::<Arc<User>>::with_ghosts(&cfg, ghosts);
            for key in &keys {
                let _ = cache.get_or_load(*key, found);
            }
            let after = (LIVE.load(Ordering::Relaxed), PEAK.load(Ordering::Relaxed));
            (cache.len(), after.0, after.1, rss_bytes())
        }
        "quick_cache_bare" => {
            let cache: QuickCache<Arc<User>> = quick_cache(cfg.max_entries, cfg.shards);
            for key in &keys {
                cache.insert(*key, value.clone());
            }
            let after = (LIVE.load(Ordering::Relaxed), PEAK.load(Ordering::Relaxed));
            (cache.len(), after.0, after.1, rss_bytes())
        }
        other => panic!("unknown side {other}"),
    };
    println!(
        "{resident} {} {} {}",
        live_after - live_before,
        peak - live_before,
        rss_after.saturating_sub(rss_before)
    );
}

/// Per resident entry, from one `measure_memory` process: (resident, heap live, heap peak, RSS).
fn measured(side: &str, capacity: usize) -> (usize, f64, f64, f64) {
    let inserted = capacity + capacity / 4;
    let output = Command::new(std::env::current_exe().expect("own path"))
        .args(["memory", side, &capacity.to_string(), &inserted.to_string()])
        .output()
        .expect("run the measuring process");
    assert!(output.status.success(), "{side}: {output:?}");
    let line = String::from_utf8(output.stdout).expect("UTF-8");
    let numbers: Vec<usize> = line
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect();
    let [resident, live, peak, rss] = numbers[..] else {
        panic!("{side}: unexpected output {line:?}");
    };
    let per = |bytes: usize| bytes as f64 / resident as f64;
    (resident, per(live), per(peak), per(rss))
}

/// Every side at `capacity` in detail, then heap and RSS per entry at each of `sweep`: both
/// sides' tables grow by powers of two, so one capacity alone can flatter either.
fn memory_tables(capacity: usize, sweep: &[usize]) {
    println!(
        "\ncache_compare_footprint: capacity {capacity}, {} distinct keys inserted, 16 shards, one process per side",
        capacity + capacity / 4
    );
    println!("| side | holds | resident entries | heap bytes/entry (live) | heap bytes/entry (peak during fill) | RSS growth bytes/entry |");
    println!("|---|---|---:|---:|---:|---:|");
    for (side, holds) in MEMORY_SIDES {
        let (resident, live, peak, rss) = measured(side, capacity);
        println!("| {side} | {holds} | {resident} | {live:.0} | {peak:.0} | {rss:.0} |");
    }
    if sweep.is_empty() {
        return;
    }
    println!(
        "\ncache_compare_footprint: heap / RSS bytes per entry by capacity (each filled to 1.25x)"
    );
    let header: Vec<String> = sweep.iter().map(|c| c.to_string()).collect();
    println!("| side | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(sweep.len()));
    for (side, _) in MEMORY_SIDES {
        let cells: Vec<String> = sweep
            .iter()
            .map(|&capacity| {
                let (_, live, _, rss) = measured(side, capacity);
                format!("{live:.0} / {rss:.0}")
            })
            .collect();
        println!("| {side} | {} |", cells.join(" | "));
    }
}

/// Fills `side` as `cache_compare` does (capacity 200,000) and does `n` lookups of `case`:
/// `hit_1000`, `hit_100000` or `miss`. Prints how many answered, so nothing is optimised away.
fn ops(side: &str, case: &str, n: usize) {
    let count = match case {
        "hit_1000" | "miss" => 1_000,
        "hit_100000" => 100_000,
        other => panic!("unknown case {other}"),
    };
    let cfg = config(200_000);
    let keyer = CredentialCache::<()>::new(CacheConfig {
        max_entries: 0,
        ..CacheConfig::default()
    });
    let keys = keys(&keyer, count);
    let absent = [keyer.key(TOKEN, &[&token(1_000_000)])];
    let lookups: &[CacheKey] = if case == "miss" { &absent } else { &keys };
    let answered = match side {
        "drfgate" => {
            let cache = CredentialCache::<Arc<User>>::new(cfg);
            for (i, key) in keys.iter().enumerate() {
                let _ = cache.get_or_load(*key, || Ok::<_, ()>(Cached::Found(user(i))));
            }
            lookup_loop(n, lookups, |key| cache.get(key).is_some())
        }
        "quick_cache_wrapped" => {
            let cache = QuickCredentialCache::<Arc<User>>::new(&cfg);
            for (i, key) in keys.iter().enumerate() {
                let _ = cache.get_or_load(*key, || Ok::<_, ()>(Cached::Found(user(i))));
            }
            lookup_loop(n, lookups, |key| cache.get(key).is_some())
        }
        "quick_cache_bare" => {
            let cache: QuickCache<Arc<User>> = quick_cache(cfg.max_entries, cfg.shards);
            for (i, key) in keys.iter().enumerate() {
                cache.insert(*key, user(i));
            }
            lookup_loop(n, lookups, |key| cache.get(key).is_some())
        }
        other => panic!("unknown side {other}"),
    };
    println!("{answered}");
}

#[inline(never)]
fn lookup_loop(n: usize, keys: &[CacheKey], get: impl Fn(&CacheKey) -> bool) -> usize {
    let mut answered = 0;
    let mut i = 0;
    for _ in 0..n {
        i = if i + 1 == keys.len() { 0 } else { i + 1 };
        answered += usize::from(black_box(get(black_box(&keys[i]))));
    }
    answered
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |n: usize| args.get(n).map(String::as_str).unwrap_or_default();
    let number = |n: usize| arg(n).parse::<usize>().expect("a number");
    match arg(0) {
        "memory" => measure_memory(arg(1), number(2), number(3)),
        "ops" => ops(arg(1), arg(2), number(3)),
        // `cargo bench` passes `--bench`; without it (`cargo test --benches`), a small run.
        _ if args.iter().any(|arg| arg == "--bench") => memory_tables(CAPACITY, &SWEEP),
        _ => memory_tables(10_000, &[]),
    }
}
