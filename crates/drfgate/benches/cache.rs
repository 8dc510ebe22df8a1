//! Cost of the credential cache's hit path, on one thread and on two.
//!
//! Two-thread groups report wall time divided by the operations both threads did, so their
//! figures compare directly with the one-thread ones: half the one-thread time is perfect scaling.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use drfgate::cache::{CacheConfig, CacheKey, Cached, CredentialCache, KeyDomain};
use lru::LruCache;
use parking_lot::Mutex;

const TOKEN: KeyDomain = KeyDomain::new("token");
const HOT_KEYS: usize = 1_000;
const MANY_KEYS: usize = 100_000;

/// A 40-hex-digit token like DRF's, distinct per `n`.
fn token(n: usize) -> [u8; 40] {
    let mut token = [b'0'; 40];
    let digits = format!("{n:040x}");
    token.copy_from_slice(digits.as_bytes());
    token
}

/// A fixed pseudo-random visiting order, so the 100 000-key runs touch memory the way uniformly
/// spread traffic would rather than walking it in insertion order.
fn shuffled(len: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..len).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = (state >> 33) as usize % (i + 1);
        order.swap(i, j);
    }
    order
}

struct Filled {
    cache: CredentialCache<u64>,
    tokens: Vec<[u8; 40]>,
    keys: Vec<CacheKey>,
}

fn filled(count: usize) -> Filled {
    filled_with(count, CredentialCache::new(CacheConfig::default()))
}

fn filled_with(count: usize, cache: CredentialCache<u64>) -> Filled {
    let order = shuffled(count);
    let tokens: Vec<[u8; 40]> = order.iter().map(|&n| token(n)).collect();
    let keys: Vec<CacheKey> = tokens.iter().map(|t| cache.key(TOKEN, &[t])).collect();
    for (n, key) in keys.iter().enumerate() {
        let _ = cache.get_or_load(*key, || Ok::<_, ()>(Cached::Found(n as u64)));
    }
    let stats = cache.stats();
    eprintln!(
        "{count} keys in a default cache: {} entries kept, {} evicted",
        stats.entries, stats.evictions
    );
    Filled {
        cache,
        tokens,
        keys,
    }
}

fn one_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache/1_thread");
    for count in [HOT_KEYS, MANY_KEYS] {
        let Filled {
            cache,
            tokens,
            keys,
        } = filled(count);

        group.bench_function(BenchmarkId::new("get", count), |b| {
            let mut i = 0;
            b.iter(|| {
                i = if i + 1 == keys.len() { 0 } else { i + 1 };
                black_box(cache.get(&keys[i]))
            })
        });

        group.bench_function(BenchmarkId::new("key_and_get", count), |b| {
            let mut i = 0;
            b.iter(|| {
                i = if i + 1 == tokens.len() { 0 } else { i + 1 };
                let key = cache.key(TOKEN, &[&tokens[i]]);
                black_box(cache.get(&key))
            })
        });
    }

    let Filled { cache, .. } = filled(HOT_KEYS);
    group.bench_function("key_only", |b| {
        let token = token(7);
        b.iter(|| black_box(cache.key(TOKEN, &[black_box(&token)])))
    });
    let absent = cache.key(TOKEN, &[&token(HOT_KEYS + 1)]);
    let frozen = Instant::now();
    let frozen_clock = filled_with(
        HOT_KEYS,
        CredentialCache::with_clock(CacheConfig::default(), Arc::new(move || frozen)),
    );
    group.bench_function("get_frozen_clock/1000", |b| {
        let mut i = 0;
        b.iter(|| {
            i = if i + 1 == frozen_clock.keys.len() {
                0
            } else {
                i + 1
            };
            black_box(frozen_clock.cache.get(&frozen_clock.keys[i]))
        })
    });
    group.bench_function("instant_now", |b| b.iter(|| black_box(Instant::now())));
    group.bench_function("miss", |b| b.iter(|| black_box(cache.get(&absent))));
    group.finish();
}

/// Runs `op(thread, i)` `iters` times on each of two threads started together; returns wall time
/// per operation over both threads.
fn two_threads(iters: u64, op: impl Fn(usize, usize) + Sync) -> Duration {
    let start_line = Barrier::new(3);
    let elapsed = thread::scope(|scope| {
        for thread_index in 0..2 {
            let (op, start_line) = (&op, &start_line);
            scope.spawn(move || {
                start_line.wait();
                for i in 0..iters as usize {
                    op(thread_index, i);
                }
            });
        }
        start_line.wait();
        let started = Instant::now();
        // Leaving the scope joins both threads.
        started
    })
    .elapsed();
    elapsed / 2
}

fn two_threads_hits(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache/2_threads");
    let Filled { cache, keys, .. } = filled(HOT_KEYS);

    group.bench_function("get_spread_1000", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |thread_index, i| {
                let index = (i + thread_index * keys.len() / 2) % keys.len();
                black_box(cache.get(&keys[index]));
            })
        })
    });
    group.bench_function("get_same_key", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |_, _| {
                black_box(cache.get(&keys[0]));
            })
        })
    });

    // What the design avoids: `lru::get` (which reorders, so needs an exclusive lock) behind
    // one Mutex per shard; same keys, shard count and expiry check, so only the locking differs.
    let shards: Vec<Mutex<LruCache<CacheKey, (u64, Instant)>>> = (0..16)
        .map(|_| Mutex::new(LruCache::new(NonZeroUsize::MIN.saturating_add(HOT_KEYS))))
        .collect();
    let shard_of = |i: usize| &shards[i % shards.len()];
    let expires_at = Instant::now() + Duration::from_secs(3600);
    for (n, key) in keys.iter().enumerate() {
        shard_of(n).lock().put(*key, (n as u64, expires_at));
    }
    let baseline_get = |index: usize| {
        let now = Instant::now();
        let mut shard = shard_of(index).lock();
        shard
            .get(&keys[index])
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(value, _)| *value)
    };
    group.bench_function("baseline_mutex_lru/1_thread_1000", |b| {
        let mut i = 0;
        b.iter(|| {
            i = if i + 1 == keys.len() { 0 } else { i + 1 };
            black_box(baseline_get(i))
        })
    });
    group.bench_function("baseline_mutex_lru/spread_1000", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |thread_index, i| {
                let index = (i + thread_index * keys.len() / 2) % keys.len();
                black_box(baseline_get(index));
            })
        })
    });
    group.bench_function("baseline_mutex_lru/same_key", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |_, _| {
                black_box(baseline_get(0));
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = one_thread, two_threads_hits
}
criterion_main!(benches);
