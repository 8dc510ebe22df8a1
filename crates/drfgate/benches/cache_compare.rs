//! drfgate's `CredentialCache` against `quick_cache::sync::Cache`, same keys, same values, one run
//! (issue 9, part 5). Memory per entry and instruction counts are in `cache_compare_footprint`.
//!
//! Three sides: drfgate's cache through its public API; quick_cache inside the wrapper a switch
//! would need (`QuickCredentialCache`: expiry, negative space, generation check, counters); and
//! bare quick_cache, for what the wrapper costs.
//!
//! 1. criterion, one group: a hit on 1,000 and on 100,000 keys, a miss, the keyed hash.
//! 2. Two threads, fixed op count (not criterion): each side runs 1 and 2 threads over 1,000
//!    spread keys and over one hot key, in rounds that alternate the sides, and prints the medians
//!    of the runs whose threads really had a core each (on a loaded machine, many do not).
//! 3. Single flight: 64 threads ask for one absent key at once; every side must load once.
//!
//! Without `--bench` (as under `cargo test --benches`), parts 2 and 3 run a few operations only.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use drfgate::cache::{CacheKey, Cached, CredentialCache};
use drfgate::User;
use quick_cache::sync::GuardResult;

#[allow(dead_code)] // shared with cache_compare_footprint, which uses other parts of it
#[path = "cache_compare_support/mod.rs"]
mod support;
#[path = "two_threads/mod.rs"]
mod two_threads;

use support::{config, keys, quick_cache, token, user, QuickCache, QuickCredentialCache, TOKEN};
use two_threads::{median, quartiles, run_threads, Run};

/// Large enough that 100,000 keys all stay in every side (16 shards of 12,500).
const CAPACITY: usize = 200_000;

struct Sides {
    drfgate: CredentialCache<Arc<User>>,
    wrapped: QuickCredentialCache<Arc<User>>,
    bare: QuickCache<Arc<User>>,
    keys: Vec<CacheKey>,
}

impl Sides {
    fn filled(count: usize) -> Self {
        let cfg = config(CAPACITY);
        let drfgate = CredentialCache::new(cfg.clone());
        let wrapped = QuickCredentialCache::new(&cfg);
        let bare = quick_cache(cfg.max_entries, cfg.shards);
        let keys = keys(&drfgate, count);
        for (n, key) in keys.iter().enumerate() {
            let value = user(n);
            let load = || Ok::<_, ()>(Cached::Found(value.clone()));
            let _ = drfgate.get_or_load(*key, load);
            let _ = wrapped.get_or_load(*key, load);
            bare.insert(*key, value.clone());
        }
        for key in &keys {
            assert!(matches!(drfgate.get(key), Some(Cached::Found(_))));
            assert!(matches!(wrapped.get(key), Some(Cached::Found(_))));
            assert!(bare.get(key).is_some());
        }
        Self {
            drfgate,
            wrapped,
            bare,
            keys,
        }
    }
}

const SIDES: [&str; 3] = ["drfgate", "quick_cache_wrapped", "quick_cache_bare"];

fn one_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache_compare");
    for count in [1_000, 100_000] {
        let sides = Sides::filled(count);
        let keys = &sides.keys;
        let hit = format!("hit_{count}");
        group.bench_function(BenchmarkId::new(&hit, SIDES[0]), |b| {
            let mut i = 0;
            b.iter(|| {
                i = if i + 1 == keys.len() { 0 } else { i + 1 };
                black_box(sides.drfgate.get(&keys[i]))
            })
        });
        group.bench_function(BenchmarkId::new(&hit, SIDES[1]), |b| {
            let mut i = 0;
            b.iter(|| {
                i = if i + 1 == keys.len() { 0 } else { i + 1 };
                black_box(sides.wrapped.get(&keys[i]))
            })
        });
        group.bench_function(BenchmarkId::new(&hit, SIDES[2]), |b| {
            let mut i = 0;
            b.iter(|| {
                i = if i + 1 == keys.len() { 0 } else { i + 1 };
                black_box(sides.bare.get(&keys[i]))
            })
        });
    }

    let sides = Sides::filled(1_000);
    let absent = sides.drfgate.key(TOKEN, &[&token(1_000_000)]);
    group.bench_function(BenchmarkId::new("miss", SIDES[0]), |b| {
        b.iter(|| black_box(sides.drfgate.get(black_box(&absent))))
    });
    group.bench_function(BenchmarkId::new("miss", SIDES[1]), |b| {
        b.iter(|| black_box(sides.wrapped.get(black_box(&absent))))
    });
    group.bench_function(BenchmarkId::new("miss", SIDES[2]), |b| {
        b.iter(|| black_box(sides.bare.get(black_box(&absent))))
    });
    // Both sides derive keys with this same function; shown for scale only.
    group.bench_function("keyed_hash_40_bytes", |b| {
        let token = token(7);
        b.iter(|| black_box(sides.drfgate.key(TOKEN, &[black_box(&token)])))
    });
    group.finish();
}

/// One side's runs, `[spread, hot key][1 thread, 2 threads]`.
fn thread_runs(
    keys: &[CacheKey],
    ops: usize,
    get: impl Fn(&CacheKey) -> bool + Sync,
) -> [[Run; 2]; 2] {
    [0, 1].map(|scenario| {
        [1, 2].map(|threads| {
            let op = |thread_index: usize, i: usize| {
                let index = if scenario == 0 {
                    (i + thread_index * keys.len() / 2) % keys.len()
                } else {
                    0
                };
                black_box(get(&keys[index]));
            };
            run_threads(threads, ops, &op)
        })
    })
}

/// 1 and 2 threads on 1,000 spread keys and on one hot key, every side in every round, the
/// sides' order rotating, until every (side, scenario, threads) has `wanted` clean runs or the
/// time budget is spent; prints the medians of the clean runs.
fn two_threads(smoke: bool) {
    let (ops, wanted, budget) = if smoke {
        (10_000, 1, Duration::ZERO)
    } else {
        (50_000, 15, Duration::from_secs(240))
    };
    let sides = Sides::filled(1_000);
    let keys = &sides.keys;
    let scenarios = ["spread_1000", "hot_key"];
    // [side][scenario][threads - 1] -> every run
    let mut runs = vec![[[vec![], vec![]], [vec![], vec![]]]; SIDES.len()];
    let clean = |runs: &Vec<Run>| runs.iter().filter(|run| run.is_clean()).count();
    let started = Instant::now();
    let mut round = 0;
    loop {
        for offset in 0..SIDES.len() {
            let side = (round + offset) % SIDES.len();
            let side_runs = match side {
                0 => thread_runs(keys, ops, |key| sides.drfgate.get(key).is_some()),
                1 => thread_runs(keys, ops, |key| sides.wrapped.get(key).is_some()),
                _ => thread_runs(keys, ops, |key| sides.bare.get(key).is_some()),
            };
            for (scenario, per_threads) in side_runs.iter().enumerate() {
                for (threads, run) in per_threads.iter().enumerate() {
                    runs[side][scenario][threads].push(*run);
                }
            }
        }
        round += 1;
        let enough = runs.iter().flatten().flatten().all(|r| clean(r) >= wanted);
        if enough || started.elapsed() >= budget {
            break;
        }
    }
    // The clean runs if there are any, else all of them (and the table says so).
    let quartiles_of = |runs: &Vec<Run>, field: fn(&Run) -> f64| {
        let any_clean = clean(runs) > 0;
        quartiles(
            runs.iter()
                .filter(|run| !any_clean || run.is_clean())
                .map(field),
        )
    };
    let median_of = |runs: &Vec<Run>, field: fn(&Run) -> f64| quartiles_of(runs, field)[1];
    println!(
        "\ncache_compare/threads: {ops} gets per thread, {round} rounds in {:.0} s; medians of the clean runs (threads off their core at most 5 % of the time, side by side at least 90 % of it)",
        started.elapsed().as_secs_f64(),
    );
    println!("| side | scenario | 1 thread: wall ns/op | CPU ns/op | 2 threads: wall ns/op (p25–p75) | CPU ns/op | 2-thread speed-up (wall; 2.0 = perfect) | clean runs, 1 / 2 threads |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (side, side_name) in SIDES.iter().enumerate() {
        for (scenario, scenario_name) in scenarios.iter().enumerate() {
            let [one, two] = &runs[side][scenario];
            let wall = |runs| median_of(runs, |run| run.wall_ns);
            let cpu = |runs| median_of(runs, |run| run.cpu_ns);
            let [low, _, high] = quartiles_of(two, |run| run.wall_ns);
            println!(
                "| {side_name} | {scenario_name} | {:.1} | {:.1} | {:.1} ({low:.0}–{high:.0}) | {:.1} | {:.2} | {} / {} of {round} |",
                wall(one),
                cpu(one),
                wall(two),
                cpu(two),
                wall(one) / wall(two),
                clean(one),
                clean(two),
            );
        }
    }
    for (scenario, name) in scenarios.iter().enumerate() {
        for (side, side_name) in SIDES.iter().enumerate().skip(1) {
            let ratio = |field: fn(&Run) -> f64| {
                median_of(&runs[0][scenario][1], field) / median_of(&runs[side][scenario][1], field)
            };
            println!(
                "2 threads, {name}: drfgate ÷ {side_name} = {:.2} by wall time, {:.2} by CPU time (above 1: {side_name} faster)",
                ratio(|run| run.wall_ns),
                ratio(|run| run.cpu_ns)
            );
        }
    }
}

/// 64 threads released together ask for one absent key; the loader takes `LOAD_TIME`.
fn single_flight(smoke: bool) {
    const CALLERS: usize = 64;
    const LOAD_TIME: Duration = Duration::from_millis(20);
    let rounds = if smoke { 1 } else { 5 };
    let cfg = config(CAPACITY);
    let drfgate = CredentialCache::<Arc<User>>::new(cfg.clone());
    let wrapped = QuickCredentialCache::<Arc<User>>::new(&cfg);
    let bare: QuickCache<Arc<User>> = quick_cache(cfg.max_entries, cfg.shards);
    let value = user(1);

    // One round for one side: (loads, wall time).
    let race = |ask: &(dyn Fn(&AtomicUsize) -> Arc<User> + Sync)| {
        let loads = AtomicUsize::new(0);
        let start_line = Barrier::new(CALLERS);
        let started = Instant::now();
        thread::scope(|scope| {
            for _ in 0..CALLERS {
                scope.spawn(|| {
                    start_line.wait();
                    assert_eq!(ask(&loads).pk, value.pk);
                });
            }
        });
        (loads.load(Ordering::SeqCst), started.elapsed())
    };
    let load = |loads: &AtomicUsize| {
        loads.fetch_add(1, Ordering::SeqCst);
        thread::sleep(LOAD_TIME);
        value.clone()
    };
    let mut results: Vec<(Vec<usize>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); SIDES.len()];
    for round in 0..rounds {
        let key = drfgate.key(TOKEN, &[&token(round)]);
        for offset in 0..SIDES.len() {
            let side = (round + offset) % SIDES.len();
            let (loads, elapsed) = match side {
                0 => race(&|loads| match drfgate
                    .get_or_load(key, || Ok::<_, ()>(Cached::Found(load(loads))))
                {
                    Ok(Cached::Found(user)) => user,
                    other => panic!("drfgate: {other:?}"),
                }),
                1 => race(&|loads| match wrapped
                    .get_or_load(key, || Ok::<_, ()>(Cached::Found(load(loads))))
                {
                    Ok(Cached::Found(user)) => user,
                    other => panic!("quick_cache wrapped: {other:?}"),
                }),
                _ => race(&|loads| match bare.get_value_or_guard(&key, None) {
                    GuardResult::Value(user) => user,
                    GuardResult::Guard(guard) => {
                        let user = load(loads);
                        let _ = guard.insert(user.clone());
                        user
                    }
                    GuardResult::Timeout => unreachable!("no timeout was given"),
                }),
            };
            results[side].0.push(loads);
            results[side].1.push(elapsed.as_secs_f64() * 1e3);
        }
    }
    println!(
        "\ncache_compare/single_flight: {CALLERS} threads, one absent key, {} ms load, {rounds} rounds",
        LOAD_TIME.as_millis()
    );
    println!("| side | API | loads per round | median wall time, ms |");
    println!("|---|---|---|---:|");
    let apis = [
        "get_or_load",
        "get_or_load (get_value_or_guard inside)",
        "get_value_or_guard",
    ];
    for (side, (loads, ms)) in results.iter().enumerate() {
        println!(
            "| {} | `{}` | {loads:?} | {:.1} |",
            SIDES[side],
            apis[side],
            median(ms.iter().copied())
        );
    }
    for (side, (loads, _)) in results.iter().enumerate() {
        assert!(
            loads.iter().all(|&n| n == 1),
            "{}: {loads:?} loads, want 1 per round",
            SIDES[side]
        );
    }
}

fn main() {
    support::check_wrapper();
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    one_thread(&mut criterion);
    criterion.final_summary();
    two_threads(smoke);
    single_flight(smoke);
}
