//! The credential cache's behaviour, through its API: lifetimes, eviction, invalidation,
//! single flight and shards (key derivation is tested in `key.rs`).

use super::*;
use std::sync::atomic::AtomicUsize;
use std::sync::{mpsc, Barrier};
use std::thread;
use std::time::Instant;

const TOKEN: KeyDomain = KeyDomain::new("token");

fn config(max_entries: usize, negative_max_entries: usize, shards: usize) -> CacheConfig {
    CacheConfig {
        max_entries,
        ttl: Duration::from_secs(60),
        negative_max_entries,
        negative_ttl: Duration::from_secs(5),
        shards,
        stale_if_error: Duration::ZERO,
    }
}

fn cache_with_clock(cfg: CacheConfig) -> (CredentialCache<u32>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let cache = CredentialCache::with_clock(cfg, clock.clone());
    (cache, clock)
}

fn token_key(cache: &CredentialCache<u32>, n: usize) -> CacheKey {
    cache.key(TOKEN, &[format!("token-{n}").as_bytes()])
}

#[test]
fn default_config_matches_the_issue() {
    let cfg = CacheConfig::default();
    assert_eq!(cfg.max_entries, 100_000);
    assert_eq!(cfg.ttl, Duration::from_secs(60));
    assert_eq!(cfg.negative_ttl, Duration::from_secs(5));
    assert_eq!(cfg.negative_max_entries, 25_000);
    assert!(cfg.is_enabled());
}

#[test]
fn found_entries_expire_after_ttl() {
    let (cache, clock) = cache_with_clock(config(100, 100, 4));
    let key = token_key(&cache, 1);
    cache.insert(key, Cached::Found(7));
    clock.advance(Duration::from_secs(59));
    assert_eq!(cache.get(&key), Some(Cached::Found(7)));
    clock.advance(Duration::from_secs(1));
    assert_eq!(cache.get(&key), None);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.expirations), (1, 1, 1));
    assert_eq!(stats.entries, 0);
}

#[test]
fn unknown_entries_expire_after_negative_ttl() {
    let (cache, clock) = cache_with_clock(config(100, 100, 4));
    let key = token_key(&cache, 1);
    cache.insert(key, Cached::Unknown);
    clock.advance(Duration::from_millis(4_999));
    assert_eq!(cache.get(&key), Some(Cached::Unknown));
    clock.advance(Duration::from_millis(1));
    assert_eq!(cache.get(&key), None);
    let stats = cache.stats();
    assert_eq!((stats.negative_hits, stats.expirations), (1, 1));
    assert_eq!(stats.negative_entries, 0);
}

#[test]
fn expired_entry_is_reloaded() {
    let (cache, clock) = cache_with_clock(config(100, 100, 1));
    let key = token_key(&cache, 1);
    let loads = AtomicUsize::new(0);
    let load = || {
        loads.fetch_add(1, Ordering::Relaxed);
        Ok::<_, ()>(Cached::Found(1))
    };
    cache.get_or_load(key, load).unwrap();
    cache.get_or_load(key, load).unwrap();
    assert_eq!(loads.load(Ordering::Relaxed), 1);
    clock.advance(Duration::from_secs(61));
    cache.get_or_load(key, load).unwrap();
    assert_eq!(loads.load(Ordering::Relaxed), 2);
}

#[test]
fn flood_of_unknown_credentials_cannot_evict_found_ones() {
    let (cache, _clock) = cache_with_clock(config(100, 16, 1));
    for n in 0..100 {
        cache.insert(token_key(&cache, n), Cached::Found(n as u32));
    }
    for n in 100..100 + 10 * 16 {
        let key = token_key(&cache, n);
        let outcome = cache.get_or_load(key, || Ok::<_, ()>(Cached::Unknown));
        assert_eq!(outcome, Ok(Cached::Unknown));
    }
    for n in 0..100 {
        assert_eq!(
            cache.get(&token_key(&cache, n)),
            Some(Cached::Found(n as u32))
        );
    }
    let stats = cache.stats();
    assert_eq!(stats.evictions, 0);
    assert_eq!(stats.negative_evictions, 10 * 16 - 16);
    assert_eq!((stats.entries, stats.negative_entries), (100, 16));
}

#[test]
fn capacity_evicts_oldest_and_counts() {
    let (cache, _clock) = cache_with_clock(config(10, 10, 1));
    for n in 0..15 {
        cache.insert(token_key(&cache, n), Cached::Found(n as u32));
    }
    assert_eq!(cache.stats().evictions, 5);
    assert_eq!(cache.stats().entries, 10);
    for n in 0..5 {
        assert_eq!(cache.get(&token_key(&cache, n)), None);
    }
    for n in 5..15 {
        assert!(cache.get(&token_key(&cache, n)).is_some());
    }
}

#[test]
fn recently_read_entry_gets_a_second_chance() {
    let (cache, _clock) = cache_with_clock(config(3, 3, 1));
    for n in 0..3 {
        cache.insert(token_key(&cache, n), Cached::Found(n as u32));
    }
    assert!(cache.get(&token_key(&cache, 0)).is_some());
    cache.insert(token_key(&cache, 3), Cached::Found(3));
    assert!(cache.get(&token_key(&cache, 0)).is_some());
    assert_eq!(cache.get(&token_key(&cache, 1)), None);
}

#[test]
fn expired_entry_is_dropped_before_a_live_one_is_evicted() {
    let (cache, clock) = cache_with_clock(config(2, 2, 1));
    cache.insert(token_key(&cache, 0), Cached::Found(0));
    clock.advance(Duration::from_secs(61));
    cache.insert(token_key(&cache, 1), Cached::Found(1));
    cache.insert(token_key(&cache, 2), Cached::Found(2));
    let stats = cache.stats();
    assert_eq!((stats.evictions, stats.expirations), (0, 1));
}

#[test]
fn insert_moves_a_key_between_spaces() {
    let (cache, _clock) = cache_with_clock(config(10, 10, 2));
    let key = token_key(&cache, 1);
    cache.insert(key, Cached::Unknown);
    cache.insert(key, Cached::Found(5));
    assert_eq!(cache.get(&key), Some(Cached::Found(5)));
    assert_eq!(cache.stats().negative_entries, 0);
    cache.insert(key, Cached::Unknown);
    assert_eq!(cache.get(&key), Some(Cached::Unknown));
    assert_eq!(cache.stats().entries, 0);
}

#[test]
fn invalidate_by_key_by_value_and_clear() {
    let (cache, _clock) = cache_with_clock(config(100, 100, 4));
    // Values are user ids: users 0, 1 and 2 each hold several credentials.
    for n in 0..9 {
        cache.insert(token_key(&cache, n), Cached::Found((n % 3) as u32));
    }
    let unknown = token_key(&cache, 100);
    cache.insert(unknown, Cached::Unknown);

    cache.invalidate(&token_key(&cache, 0));
    assert_eq!(cache.get(&token_key(&cache, 0)), None);
    cache.invalidate(&unknown);
    assert_eq!(cache.get(&unknown), None);
    assert_eq!(cache.stats().invalidations, 2);

    assert_eq!(cache.invalidate_where(|&user| user == 1), 3);
    for n in [1, 4, 7] {
        assert_eq!(cache.get(&token_key(&cache, n)), None);
    }
    for n in [2, 3, 5, 6, 8] {
        assert!(cache.get(&token_key(&cache, n)).is_some());
    }
    assert_eq!(cache.stats().invalidations, 5);

    cache.insert(unknown, Cached::Unknown);
    cache.clear();
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.negative_entries), (0, 0));
    assert_eq!(stats.invalidations, 5 + 5 + 1);
}

#[test]
fn forget_unknown_leaves_found_credentials_and_loads_in_flight_alone() {
    let (cache, _clock) = cache_with_clock(config(100, 100, 4));
    let found = token_key(&cache, 1);
    let unknown = token_key(&cache, 2);
    cache.insert(found, Cached::Found(1));
    cache.insert(unknown, Cached::Unknown);
    assert!(!cache.forget_unknown(&found));
    assert_eq!(cache.get(&found), Some(Cached::Found(1)));
    assert!(cache.forget_unknown(&unknown));
    assert_eq!(cache.get(&unknown), None);
    // A load overlapping it still stores what it found (a new credential revokes nothing).
    let fresh = token_key(&cache, 3);
    let outcome = cache.get_or_load(fresh, || {
        cache.forget_unknown(&fresh);
        Ok::<_, ()>(Cached::Found(3))
    });
    assert_eq!(outcome, Ok(Cached::Found(3)));
    assert_eq!(cache.get(&fresh), Some(Cached::Found(3)));
}

#[test]
fn load_overlapping_an_invalidation_is_returned_but_not_stored() {
    let (cache, _clock) = cache_with_clock(config(100, 100, 4));
    let key = token_key(&cache, 1);
    let outcome = cache.get_or_load(key, || {
        // The user's password changes while the store answers with the old state.
        cache.invalidate_where(|_| true);
        Ok::<_, ()>(Cached::Found(1))
    });
    assert_eq!(outcome, Ok(Cached::Found(1)));
    assert_eq!(cache.get(&key), None);
}

#[test]
fn a_caller_arriving_after_an_invalidation_does_not_share_an_older_load() {
    let cache = CredentialCache::<u32>::new(config(100, 100, 4));
    let cache = &cache;
    let key = cache.key(TOKEN, &[b"shared"]);
    let (entered, wait_entered) = mpsc::channel();
    let (release, wait_release) = mpsc::channel::<()>();
    let (late_done, late_outcome) = mpsc::channel();
    thread::scope(|scope| {
        let early = scope.spawn(move || {
            cache.get_or_load(key, || {
                // Reads the state before the change, then answers slowly.
                entered.send(()).unwrap();
                wait_release.recv().unwrap();
                Ok::<_, ()>(Cached::Found(1))
            })
        });
        wait_entered.recv().unwrap();
        cache.invalidate(&key);
        scope.spawn(move || {
            let outcome = cache.get_or_load(key, || Ok::<_, ()>(Cached::Found(2)));
            let _ = late_done.send(outcome);
        });
        // Sharing the early load would block until it is released.
        let late = late_outcome.recv_timeout(Duration::from_secs(5));
        release.send(()).unwrap();
        assert_eq!(late, Ok(Ok(Cached::Found(2))));
        // The early caller still gets what it read: it overlapped the invalidation.
        assert_eq!(early.join().unwrap(), Ok(Cached::Found(1)));
    });
    assert_eq!(cache.get(&key), Some(Cached::Found(2)));
    assert_eq!(cache.stats().loads, 2);
}

#[test]
fn concurrent_misses_share_one_load() {
    const THREADS: usize = 8;
    let cache = CredentialCache::<u32>::new(config(100, 100, 4));
    let key = cache.key(TOKEN, &[b"shared"]);
    let loads = AtomicUsize::new(0);
    let barrier = Barrier::new(THREADS);
    let outcomes: Vec<_> = thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    cache.get_or_load(key, || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        // Long enough for every other thread to arrive and wait.
                        thread::sleep(Duration::from_millis(100));
                        Ok::<_, String>(Cached::Found(42))
                    })
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert!(outcomes.iter().all(|o| *o == Ok(Cached::Found(42))));
    let stats = cache.stats();
    assert_eq!(stats.loads, 1);
    assert_eq!(stats.coalesced + stats.hits, THREADS as u64 - 1);
}

#[test]
fn loader_error_reaches_every_waiter_and_is_not_cached() {
    const THREADS: usize = 6;
    let cache = CredentialCache::<u32>::new(config(100, 100, 4));
    let key = cache.key(TOKEN, &[b"shared"]);
    let loads = AtomicUsize::new(0);
    let barrier = Barrier::new(THREADS);
    let outcomes: Vec<_> = thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    cache.get_or_load(key, || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(100));
                        Err::<Cached<u32>, _>("store unavailable".to_string())
                    })
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert!(outcomes
        .iter()
        .all(|o| *o == Err("store unavailable".to_string())));
    assert_eq!(cache.stats().load_errors, 1);
    assert_eq!(cache.get(&key), None);

    let outcome = cache.get_or_load(key, || {
        loads.fetch_add(1, Ordering::SeqCst);
        Ok::<_, String>(Cached::Unknown)
    });
    assert_eq!(outcome, Ok(Cached::Unknown));
    assert_eq!(loads.load(Ordering::SeqCst), 2);
}

#[test]
fn waiters_recover_when_the_loader_panics() {
    let cache = CredentialCache::<u32>::new(config(100, 100, 4));
    let key = cache.key(TOKEN, &[b"shared"]);
    let leader_started = Barrier::new(2);
    let (leader, follower) = thread::scope(|scope| {
        let leader = scope.spawn(|| {
            cache.get_or_load(key, || -> Result<Cached<u32>, ()> {
                leader_started.wait();
                thread::sleep(Duration::from_millis(50));
                panic!("loader bug");
            })
        });
        let follower = scope.spawn(|| {
            leader_started.wait();
            cache.get_or_load(key, || Ok::<_, ()>(Cached::Found(9)))
        });
        (leader.join(), follower.join())
    });
    assert!(leader.is_err());
    assert_eq!(follower.unwrap(), Ok(Cached::Found(9)));
    assert_eq!(cache.get(&key), Some(Cached::Found(9)));
}

#[test]
fn disabled_cache_loads_every_time() {
    for cfg in [
        CacheConfig {
            max_entries: 0,
            ..CacheConfig::default()
        },
        CacheConfig {
            ttl: Duration::ZERO,
            ..CacheConfig::default()
        },
    ] {
        let cache = CredentialCache::<u32>::new(cfg);
        let key = cache.key(TOKEN, &[b"t"]);
        for _ in 0..3 {
            assert_eq!(
                cache.get_or_load(key, || Ok::<_, ()>(Cached::Found(1))),
                Ok(Cached::Found(1))
            );
            assert_eq!(
                cache.get_or_load(key, || Ok::<_, ()>(Cached::Unknown)),
                Ok(Cached::Unknown)
            );
        }
        let stats = cache.stats();
        assert_eq!((stats.loads, stats.hits, stats.negative_hits), (6, 0, 0));
        assert_eq!((stats.entries, stats.negative_entries), (0, 0));
    }
}

#[test]
fn disabled_negative_space_still_caches_found() {
    let cache = CredentialCache::<u32>::new(config(10, 0, 1));
    let found = cache.key(TOKEN, &[b"good"]);
    let unknown = cache.key(TOKEN, &[b"bad"]);
    cache.insert(found, Cached::Found(1));
    cache.insert(unknown, Cached::Unknown);
    assert_eq!(cache.get(&found), Some(Cached::Found(1)));
    assert_eq!(cache.get(&unknown), None);
}

#[test]
fn keys_spread_over_shards() {
    let (cache, _clock) = cache_with_clock(CacheConfig::default());
    for n in 0..1600 {
        cache.insert(token_key(&cache, n), Cached::Found(0));
    }
    let lens = cache.positive.shard_lens();
    assert_eq!(lens.len(), 16);
    assert!(
        lens.iter().all(|&len| (50..=150).contains(&len)),
        "{lens:?}"
    );
}

#[test]
fn shard_count_follows_capacity() {
    let cache = CredentialCache::<u32>::new(config(5, 3, 16));
    assert_eq!(cache.positive.shard_lens().len(), 4);
    assert_eq!(cache.negative.shard_lens().len(), 2);
    let cache = CredentialCache::<u32>::new(config(10, 10, 0));
    assert_eq!(cache.positive.shard_lens().len(), 1);
}

#[test]
fn closure_clock_is_accepted() {
    let start = Instant::now();
    let cache = CredentialCache::<u32>::with_clock(config(10, 10, 1), Arc::new(move || start));
    let key = cache.key(TOKEN, &[b"t"]);
    cache.insert(key, Cached::Found(1));
    assert_eq!(cache.get(&key), Some(Cached::Found(1)));
}

#[test]
fn stale_if_error_answers_a_found_entry_for_a_bounded_time_past_its_ttl() {
    let (cache, clock) = cache_with_clock(CacheConfig {
        stale_if_error: Duration::from_secs(30),
        ..config(100, 100, 4)
    });
    let key = token_key(&cache, 1);
    let unknown = token_key(&cache, 2);
    let fail = || Err::<Cached<u32>, &str>("database down");
    assert_eq!(cache.get_or_load(key, || Ok::<_, &str>(Cached::Found(7))), Ok(Cached::Found(7)));
    assert_eq!(cache.get_or_load(unknown, || Ok::<_, &str>(Cached::Unknown)), Ok(Cached::Unknown));
    clock.advance(Duration::from_secs(61));
    // Past its TTL: the store is asked first; only its failure brings the old answer back.
    assert_eq!(cache.get(&key), None);
    assert_eq!(cache.get_or_load(key, || Ok::<_, &str>(Cached::Found(8))), Ok(Cached::Found(8)));
    clock.advance(Duration::from_secs(61));
    assert_eq!(cache.get_or_load(key, fail), Ok(Cached::Found(8)));
    assert_eq!(cache.get_or_load(unknown, fail), Err("database down"));
    clock.advance(Duration::from_secs(28));
    assert_eq!(cache.get_or_load(key, fail), Ok(Cached::Found(8)));
    // 30 s past the TTL: no longer.
    clock.advance(Duration::from_secs(1));
    assert_eq!(cache.get_or_load(key, fail), Err("database down"));
    assert_eq!(cache.stats().stale_answers, 2);

    // An invalidated entry is never answered stale.
    let other = token_key(&cache, 3);
    cache.insert(other, Cached::Found(9));
    clock.advance(Duration::from_secs(61));
    cache.invalidate(&other);
    assert_eq!(cache.get_or_load(other, fail), Err("database down"));
}

#[test]
fn without_stale_if_error_a_failed_load_is_an_error() {
    let (cache, clock) = cache_with_clock(config(100, 100, 4));
    let key = token_key(&cache, 1);
    cache.insert(key, Cached::Found(7));
    clock.advance(Duration::from_secs(61));
    assert_eq!(cache.get_or_load(key, || Err::<Cached<u32>, _>("down")), Err("down"));
    assert_eq!(cache.stats().stale_answers, 0);
}
