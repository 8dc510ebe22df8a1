//! What the `cache_compare` and `cache_compare_footprint` benches share: the credentials, the
//! values, and `quick_cache` dressed as a credential cache (issue 9, part 5).
//!
//! Both sides hold the same keys (drfgate's keyed-hash [`CacheKey`], derived by drfgate's own
//! `key`) and the same values (`Arc<User>`, one pointer). quick_cache is measured twice: bare
//! (`Cache<CacheKey, Arc<User>>`, what it costs before it does our job) and inside
//! [`QuickCredentialCache`], the wrapper a switch would need: expiry, a separate negative space,
//! the generation check and the counters that `CacheStats` reports.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use drfgate::cache::{
    CacheConfig, CacheKey, Cached, Clock, CredentialCache, KeyDomain, MonotonicClock,
};
use drfgate::{User, UserPk};
use quick_cache::sync::{Cache, GuardResult};
use quick_cache::{OptionsBuilder, UnitWeighter};

pub const TOKEN: KeyDomain = KeyDomain::new("token");

/// A 40-hex-digit token like DRF's, distinct per `n`.
pub fn token(n: usize) -> [u8; 40] {
    let mut token = [b'0'; 40];
    token.copy_from_slice(format!("{n:040x}").as_bytes());
    token
}

/// The value both caches hold for a found credential, as the gate's token cache does.
pub fn user(n: usize) -> Arc<User> {
    Arc::new(User {
        pk: UserPk::Int(n as i64),
        username: Arc::from(format!("user{n}")),
        is_active: true,
        is_staff: false,
        is_superuser: false,
    })
}

/// A fixed pseudo-random permutation of `0..len`, so large runs touch memory the way uniformly
/// spread traffic would rather than in insertion order.
pub fn shuffled(len: usize) -> Vec<usize> {
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

/// Keys for `count` distinct tokens, in a shuffled order.
pub fn keys<V: Clone + Send + Sync>(keyer: &CredentialCache<V>, count: usize) -> Vec<CacheKey> {
    shuffled(count)
        .into_iter()
        .map(|n| keyer.key(TOKEN, &[&token(n)]))
        .collect()
}

/// The configuration both sides are built from: `max_entries` found credentials, a quarter as
/// many unknown ones (drfgate's default proportion), 16 shards, drfgate's default lifetimes.
pub fn config(max_entries: usize) -> CacheConfig {
    CacheConfig {
        max_entries,
        negative_max_entries: (max_entries / 4).max(1024),
        shards: 16,
        ..CacheConfig::default()
    }
}

/// Hands a [`CacheKey`]'s own hash (it writes one `u64`, already a keyed uniform hash) to
/// quick_cache unchanged, as drfgate's cache does for its shards, so neither side hashes twice.
#[derive(Clone, Copy, Default)]
pub struct PassThrough;

impl BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;

    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

pub struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type QuickCache<V> = Cache<CacheKey, V, UnitWeighter, PassThrough>;

/// A quick_cache sized like a drfgate space: `capacity` entries over `shards` shards, its other
/// options at their defaults.
pub fn quick_cache<V: Clone>(capacity: usize, shards: usize) -> QuickCache<V> {
    quick_cache_with_ghosts(capacity, shards, None)
}

/// Like [`quick_cache`], with `ghost_allocation` (the share of the capacity quick_cache spends on
/// remembering the hashes of recently evicted keys, 0.5 by default) set if given.
pub fn quick_cache_with_ghosts<V: Clone>(
    capacity: usize,
    shards: usize,
    ghost_allocation: Option<f64>,
) -> QuickCache<V> {
    let mut options = OptionsBuilder::new();
    options
        .estimated_items_capacity(capacity)
        .weight_capacity(capacity as u64)
        .shards(shards);
    if let Some(ghost_allocation) = ghost_allocation {
        options.ghost_allocation(ghost_allocation);
    }
    let options = options.build().expect("quick_cache options");
    Cache::with_options(options, UnitWeighter, PassThrough, Default::default())
}

/// A found credential with its expiry: quick_cache has no lifetimes of its own.
#[derive(Clone)]
pub struct Live<V> {
    value: V,
    expires_at: Instant,
}

/// The counters `CacheStats` needs, one set per shard as in drfgate's cache, each on its own
/// cache lines so that two shards' counters never share one.
#[derive(Default)]
#[repr(align(128))]
struct Counters {
    hits: AtomicU64,
    negative_hits: AtomicU64,
    misses: AtomicU64,
    loads: AtomicU64,
}

/// quick_cache doing drfgate's job: two spaces with their own capacity and lifetime (a flood of
/// unknown credentials evicts only unknown ones), `get_value_or_guard` for single flight, and
/// drfgate's generation check so a load that overlapped an invalidation is not kept.
///
/// Where it falls short of `CredentialCache` (each would need more code around quick_cache):
/// * a loader error is not shared: the next waiter is woken and loads again, one at a time;
/// * an `Unknown` result is not handed to the waiters either (the placeholder lives in the
///   positive space): each is woken in turn, finds the negative entry and leaves, no load;
/// * the generation is checked before and after the insert, not under the shard lock: if an
///   invalidation lands between the two, the stale entry is readable until the second check
///   removes it (a few instructions later);
/// * after `invalidate_where` or `clear`, a caller may still join a load that started before
///   it (`invalidate(key)` removes the placeholder, so it does not have this gap).
pub struct QuickCredentialCache<V> {
    /// Key derivation only: a disabled drfgate cache holds nothing and keeps the keyed hash.
    keyer: CredentialCache<()>,
    clock: Arc<dyn Clock>,
    positive: QuickCache<Live<V>>,
    negative: QuickCache<Instant>,
    ttl: Duration,
    negative_ttl: Duration,
    generation: AtomicU64,
    counters: Box<[Counters]>,
}

impl<V: Clone + Send + Sync> QuickCredentialCache<V> {
    pub fn new(config: &CacheConfig) -> Self {
        Self::with_ghosts(config, None)
    }

    /// With quick_cache's `ghost_allocation` set for both spaces, if given.
    pub fn with_ghosts(config: &CacheConfig, ghost_allocation: Option<f64>) -> Self {
        let positive = quick_cache_with_ghosts(config.max_entries, config.shards, ghost_allocation);
        let counters = (0..positive.num_shards())
            .map(|_| Counters::default())
            .collect();
        Self {
            keyer: CredentialCache::new(CacheConfig {
                max_entries: 0,
                ..config.clone()
            }),
            clock: Arc::new(MonotonicClock),
            positive,
            negative: quick_cache_with_ghosts(
                config.negative_max_entries,
                config.shards,
                ghost_allocation,
            ),
            ttl: config.ttl,
            negative_ttl: config.negative_ttl,
            generation: AtomicU64::new(0),
            counters,
        }
    }

    pub fn key(&self, domain: KeyDomain, parts: &[&[u8]]) -> CacheKey {
        self.keyer.key(domain, parts)
    }

    fn counters(&self, key: &CacheKey) -> &Counters {
        &self.counters[self.positive.shard_index(key)]
    }

    pub fn get(&self, key: &CacheKey) -> Option<Cached<V>> {
        let now = self.clock.now();
        if let Some(live) = self.positive.get(key) {
            if now < live.expires_at {
                self.counters(key).hits.fetch_add(1, Ordering::Relaxed);
                return Some(Cached::Found(live.value));
            }
            self.positive.remove_if(key, |live| live.expires_at <= now);
        }
        if let Some(expires_at) = self.negative.get(key) {
            if now < expires_at {
                self.counters(key)
                    .negative_hits
                    .fetch_add(1, Ordering::Relaxed);
                return Some(Cached::Unknown);
            }
            self.negative
                .remove_if(key, |expires_at| *expires_at <= now);
        }
        self.counters(key).misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    pub fn get_or_load<E>(
        &self,
        key: CacheKey,
        load: impl FnOnce() -> Result<Cached<V>, E>,
    ) -> Result<Cached<V>, E> {
        if let Some(found) = self.get(&key) {
            return Ok(found);
        }
        loop {
            // Read before the store is, as drfgate does.
            let generation = self.generation.load(Ordering::Acquire);
            let guard = match self.positive.get_value_or_guard(&key, None) {
                GuardResult::Value(live) if self.clock.now() < live.expires_at => {
                    return Ok(Cached::Found(live.value));
                }
                GuardResult::Value(_) => {
                    let now = self.clock.now();
                    self.positive.remove_if(&key, |live| live.expires_at <= now);
                    continue;
                }
                GuardResult::Guard(guard) => guard,
                GuardResult::Timeout => unreachable!("no timeout was given"),
            };
            // Woken because the previous loader found the credential unknown, or failed.
            let now = self.clock.now();
            if self.negative.peek(&key).is_some_and(|until| now < until) {
                return Ok(Cached::Unknown);
            }
            self.counters(&key).loads.fetch_add(1, Ordering::Relaxed);
            let outcome = load();
            let still_current = || self.generation.load(Ordering::Acquire) == generation;
            let now = self.clock.now();
            match &outcome {
                Ok(Cached::Found(value)) if still_current() => {
                    let expires_at = now.checked_add(self.ttl).unwrap_or(now);
                    let live = Live {
                        value: value.clone(),
                        expires_at,
                    };
                    // Err: an invalidation of this key removed the placeholder meanwhile.
                    if guard.insert(live).is_ok() && !still_current() {
                        self.positive
                            .remove_if(&key, |live| live.expires_at == expires_at);
                    }
                    self.negative.remove(&key);
                }
                Ok(Cached::Unknown) if still_current() => {
                    let expires_at = now.checked_add(self.negative_ttl).unwrap_or(now);
                    self.negative.insert(key, expires_at);
                    if !still_current() {
                        self.negative.remove_if(&key, |until| *until == expires_at);
                    }
                    drop(guard);
                }
                // A stale result or an error: returned, not stored; dropping the guard wakes
                // the next waiter, which loads for itself.
                _ => drop(guard),
            }
            return outcome;
        }
    }

    /// Forgets one credential; loads in flight will not store theirs.
    pub fn invalidate(&self, key: &CacheKey) -> bool {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let positive = self.positive.remove(key).is_some();
        let negative = self.negative.remove(key).is_some();
        positive || negative
    }

    /// Forgets every found credential whose value matches.
    pub fn invalidate_where(&self, pred: impl Fn(&V) -> bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.positive.retain(|_, live| !pred(&live.value));
    }

    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.positive.clear();
        self.negative.clear();
    }

    /// Found credentials held now.
    pub fn len(&self) -> usize {
        self.positive.len()
    }

    /// Loader calls so far.
    pub fn loads(&self) -> u64 {
        self.counters
            .iter()
            .map(|counters| counters.loads.load(Ordering::Relaxed))
            .sum()
    }
}

/// Checks the wrapper does the job it is measured doing; run once before measuring.
pub fn check_wrapper() {
    let cache = QuickCredentialCache::<u32>::new(&config(1_000));
    let key = cache.key(TOKEN, &[b"checked"]);
    assert_eq!(cache.get(&key), None);
    let loaded = cache.get_or_load(key, || Ok::<_, ()>(Cached::Found(1)));
    assert_eq!(loaded, Ok(Cached::Found(1)));
    assert_eq!(cache.get(&key), Some(Cached::Found(1)));
    assert!(cache.invalidate(&key));
    // A load that overlaps an invalidation returns its result but does not keep it.
    let overlapped = cache.get_or_load(key, || {
        cache.invalidate_where(|_| true);
        Ok::<_, ()>(Cached::Found(2))
    });
    assert_eq!(overlapped, Ok(Cached::Found(2)));
    assert_eq!(cache.get(&key), None);
    let unknown = cache.key(TOKEN, &[b"unknown"]);
    assert_eq!(
        cache.get_or_load(unknown, || Ok::<_, ()>(Cached::Unknown)),
        Ok(Cached::Unknown)
    );
    assert_eq!(cache.get(&unknown), Some(Cached::Unknown));
    assert_eq!(cache.loads(), 3);
    cache.clear();
    assert_eq!(cache.len(), 0);
}
