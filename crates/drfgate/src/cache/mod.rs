//! A sharded, expiring cache of credential checks, keyed by a keyed hash of the credential.
//!
//! The cache knows nothing about tokens or users: callers derive a [`CacheKey`] from the raw
//! credential bytes with [`CredentialCache::key`] and store whatever `V` the check produced.
//! A check that found no such credential is remembered as [`Cached::Unknown`] in a separate,
//! smaller space with a shorter lifetime, so a flood of bad credentials only ever evicts other
//! bad credentials.
//!
//! Design notes:
//! * Raw secrets never enter the cache: keys are 128-bit SipHash-1-3 under a random key drawn
//!   once per cache, so keys are neither reversible nor comparable across caches or processes.
//! * Each space is split into shards behind `RwLock`s. A hit takes only a shared lock and never
//!   reorders the LRU list; it sets a "referenced" bit instead (a load, and a store only the first
//!   time), and eviction gives referenced entries a second chance (CLOCK over the LRU list). This
//!   keeps two threads reading the same hot entry from serialising on an exclusive lock.
//! * Concurrent misses on one key are coalesced ("single flight"): one caller loads, the others
//!   wait for its result. Loader errors are shared with the waiters but never cached.
//! * An invalidation that races with a load wins: a load that started before an invalidation does
//!   not store its (possibly stale) result, though it still returns it to the callers that were
//!   already waiting for it; a caller arriving after the invalidation does not wait for that load
//!   but starts its own. Results enter the cache only through [`CredentialCache::get_or_load`],
//!   so no store can skip this check.
//!
//! One job per file: this file holds the cache's public face (its settings, what it stores,
//! its counters, lookups and invalidation); `key` derives keys from credentials; `space`
//! holds the shards and their eviction; `single_flight` coalesces concurrent loads of one
//! key; `clock` is the injectable time source.

mod clock;
mod key;
mod single_flight;
mod space;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use clock::{Clock, MonotonicClock};
#[cfg(any(test, feature = "internals"))]
pub use clock::ManualClock;
pub use key::{CacheKey, KeyDomain};

pub(crate) use key::random_hash_keys;
use single_flight::Stripe;
use space::{power_of_two_at_most, Lookup, Space, MAX_SHARDS};

/// Sizes and lifetimes of the two spaces.
///
/// `max_entries == 0` or `ttl == 0` disables caching altogether (every lookup loads, concurrent
/// lookups of one key still share a single load); `negative_max_entries == 0` or
/// `negative_ttl == 0` disables only the negative space. Capacity is split evenly across shards
/// and enforced per shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Capacity of the positive space (credentials that were found).
    pub max_entries: usize,
    /// How long a found credential is trusted without asking the store again.
    pub ttl: Duration,
    /// Capacity of the negative space (credentials the store did not know).
    pub negative_max_entries: usize,
    /// How long an unknown credential is answered from the cache.
    pub negative_ttl: Duration,
    /// Requested number of shards per space; rounded down to a power of two and to the capacity.
    pub shards: usize,
    /// How long past its `ttl` a found credential may still be answered while the store fails
    /// to look it up again (HTTP's `stale-if-error`); zero, the default, never.
    pub stale_if_error: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        let max_entries = 100_000;
        Self {
            max_entries,
            ttl: Duration::from_secs(60),
            negative_max_entries: CacheConfig::negative_share_of(max_entries),
            negative_ttl: Duration::from_secs(5),
            shards: 16,
            stale_if_error: Duration::ZERO,
        }
    }
}

impl CacheConfig {
    /// The negative space's default size for a positive space of `max_entries`: a quarter,
    /// at least 1,024 but never more than the positive space itself.
    pub fn negative_share_of(max_entries: usize) -> usize {
        (max_entries / 4).max(1024.min(max_entries))
    }

    /// Whether anything is cached at all.
    pub fn is_enabled(&self) -> bool {
        self.max_entries > 0 && !self.ttl.is_zero()
    }

    fn negative_enabled(&self) -> bool {
        self.is_enabled() && self.negative_max_entries > 0 && !self.negative_ttl.is_zero()
    }
}

/// What a credential check concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cached<V> {
    /// The credential is valid and resolved to this value.
    Found(V),
    /// The store does not know this credential.
    Unknown,
}

/// A snapshot of the cache's counters; each counter is exact, the set is not taken atomically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered with a found credential.
    pub hits: u64,
    /// Lookups answered with "unknown credential".
    pub negative_hits: u64,
    /// Lookups the cache could not answer.
    pub misses: u64,
    /// Loader calls, i.e. store queries.
    pub loads: u64,
    /// Loader calls that returned an error.
    pub load_errors: u64,
    /// Callers that waited for another caller's load instead of loading themselves.
    pub coalesced: u64,
    /// Found credentials dropped to make room.
    pub evictions: u64,
    /// Unknown credentials dropped to make room.
    pub negative_evictions: u64,
    /// Found credentials answered past their lifetime because the store failed
    /// (`stale_if_error`).
    pub stale_answers: u64,
    /// Entries of either space dropped because their lifetime was over.
    pub expirations: u64,
    /// Entries of either space dropped by `invalidate`, `invalidate_where` or `clear`.
    pub invalidations: u64,
    /// Entries now in the positive space (expired ones not yet dropped included).
    pub entries: usize,
    /// Entries now in the negative space (expired ones not yet dropped included).
    pub negative_entries: usize,
}

/// The credential cache; see the module documentation.
pub struct CredentialCache<V> {
    config: CacheConfig,
    hash_keys: (u64, u64),
    /// The hash state after the tag of the first domain asked for: a cache serves one.
    tagged: std::sync::OnceLock<key::Tagged>,
    clock: Arc<dyn Clock>,
    positive: Space<V>,
    negative: Space<()>,
    stripes: Box<[Stripe<V>]>,
    stripe_mask: usize,
    /// Bumped by every invalidation, so a load that overlapped one knows not to store its result.
    generation: AtomicU64,
}

impl<V: Clone + Send + Sync> CredentialCache<V> {
    pub fn new(config: CacheConfig) -> Self {
        Self::with_clock(config, Arc::new(MonotonicClock))
    }

    pub fn with_clock(config: CacheConfig, clock: Arc<dyn Clock>) -> Self {
        let enabled = config.is_enabled();
        let mut positive = Space::new(config.max_entries, config.ttl, config.shards, enabled);
        positive.keep_stale_for(config.stale_if_error);
        let negative = Space::new(
            config.negative_max_entries,
            config.negative_ttl,
            config.shards,
            config.negative_enabled(),
        );
        let stripe_count = power_of_two_at_most(config.shards.clamp(1, MAX_SHARDS));
        let stripes = (0..stripe_count).map(|_| Stripe::new()).collect();
        Self {
            config,
            hash_keys: random_hash_keys(),
            tagged: std::sync::OnceLock::new(),
            clock,
            positive,
            negative,
            stripes,
            stripe_mask: stripe_count - 1,
            generation: AtomicU64::new(0),
        }
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Derives the key for a credential made of `parts` (e.g. `[token]`, or `[user, password]`).
    /// Every part is framed by its length, so `["ab", "c"]` and `["a", "bc"]` differ.
    pub fn key(&self, domain: KeyDomain, parts: &[&[u8]]) -> CacheKey {
        let tagged = self
            .tagged
            .get_or_init(|| key::Tagged::new(self.hash_keys, domain));
        key::derive(self.hash_keys, tagged, domain, parts)
    }

    /// Answers from the cache alone.
    pub fn get(&self, key: &CacheKey) -> Option<Cached<V>> {
        self.get_at(key, self.clock.now())
    }

    /// The time of this cache's clock, for [`CredentialCache::get_at`].
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// [`CredentialCache::get`] at `now` (this cache's [`CredentialCache::now`]): a decision
    /// that looks in several caches reads the clock once for all of them.
    pub fn get_at(&self, key: &CacheKey, now: Instant) -> Option<Cached<V>> {
        let key = *key;
        match self.positive.lookup(key, now) {
            Lookup::Hit(value) => return Some(Cached::Found(value)),
            Lookup::Expired => self.positive.drop_if_expired(key, now),
            Lookup::Absent => {}
        }
        match self.negative.lookup(key, now) {
            Lookup::Hit(()) => return Some(Cached::Unknown),
            Lookup::Expired => self.negative.drop_if_expired(key, now),
            Lookup::Absent => {}
        }
        self.stripe(key).misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    fn peek_live(&self, key: CacheKey) -> Option<Cached<V>> {
        let now = self.clock.now();
        if let Some(value) = self.positive.contains_live(key, now) {
            return Some(Cached::Found(value));
        }
        self.negative
            .contains_live(key, now)
            .map(|()| Cached::Unknown)
    }

    /// Stores a result unconditionally, for tests that fill the cache directly.
    #[cfg(test)]
    fn insert(&self, key: CacheKey, value: Cached<V>) {
        self.store(key, value, self.generation.load(Ordering::Acquire));
    }

    /// Stores unless an invalidation has happened since `loaded_at_generation`; the check is
    /// made under the shard's write lock, which every invalidation takes after bumping the
    /// generation, so a stale result can neither slip in after an invalidation nor survive one.
    fn store(&self, key: CacheKey, value: Cached<V>, loaded_at_generation: u64) {
        let now = self.clock.now();
        let still_current = || self.generation.load(Ordering::Acquire) == loaded_at_generation;
        match value {
            Cached::Found(value) => {
                self.negative.remove(key);
                self.positive.insert(key, value, now, still_current);
            }
            Cached::Unknown => {
                self.positive.remove(key);
                self.negative.insert(key, (), now, still_current);
            }
        }
    }

    /// Forgets one credential, found or unknown, and returns whether the cache held it. Loads
    /// in flight do not store what they find, whether or not anything was cached.
    pub fn invalidate(&self, key: &CacheKey) -> bool {
        let key = *key;
        self.generation.fetch_add(1, Ordering::AcqRel);
        let removed =
            usize::from(self.positive.remove(key)) + usize::from(self.negative.remove(key));
        self.count_invalidations(key, removed);
        removed > 0
    }

    /// Forgets a credential remembered as unknown (one found stays cached, and loads in flight
    /// still store what they find), and returns whether the cache held it so. Unlike
    /// [`CredentialCache::invalidate`], it does not stop loads in flight from storing: it is
    /// for news that a credential now exists, which makes no found answer stale. A load that
    /// concluded "unknown" before the news and stores it just after this call is remembered
    /// for `negative_ttl`.
    pub fn forget_unknown(&self, key: &CacheKey) -> bool {
        let key = *key;
        let removed = usize::from(self.negative.remove(key));
        self.count_invalidations(key, removed);
        removed > 0
    }

    /// Forgets every found credential whose value matches (e.g. all of one user's), and returns
    /// how many there were. Unknown credentials carry no value and stay until they expire.
    pub fn invalidate_where(&self, pred: impl Fn(&V) -> bool) -> usize {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let removed = self.positive.remove_where(&pred);
        self.count_invalidations(CacheKey(0), removed);
        removed
    }

    /// Forgets everything.
    #[cfg(any(test, feature = "internals"))]
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let removed = self.positive.clear() + self.negative.clear();
        self.count_invalidations(CacheKey(0), removed);
    }

    pub fn stats(&self) -> CacheStats {
        let stripes = |counter: fn(&Stripe<V>) -> &AtomicU64| -> u64 {
            self.stripes
                .iter()
                .map(|stripe| counter(stripe).load(Ordering::Relaxed))
                .sum()
        };
        CacheStats {
            hits: self.positive.sum(|shard| &shard.hits),
            negative_hits: self.negative.sum(|shard| &shard.hits),
            misses: stripes(|stripe| &stripe.misses),
            loads: stripes(|stripe| &stripe.loads),
            load_errors: stripes(|stripe| &stripe.load_errors),
            coalesced: stripes(|stripe| &stripe.coalesced),
            evictions: self.positive.sum(|shard| &shard.evictions),
            stale_answers: stripes(|stripe| &stripe.stale_answers),
            negative_evictions: self.negative.sum(|shard| &shard.evictions),
            expirations: self.positive.sum(|shard| &shard.expirations)
                + self.negative.sum(|shard| &shard.expirations),
            invalidations: stripes(|stripe| &stripe.invalidations),
            entries: self.positive.len(),
            negative_entries: self.negative.len(),
        }
    }

    fn stripe(&self, key: CacheKey) -> &Stripe<V> {
        // `stripe_mask` is the stripe count minus one, so the index is always in range.
        &self.stripes[key.high() as usize & self.stripe_mask]
    }

    fn count_invalidations(&self, key: CacheKey, removed: usize) {
        if removed > 0 {
            self.stripe(key)
                .invalidations
                .fetch_add(removed as u64, Ordering::Relaxed);
        }
    }
}

impl<V> fmt::Debug for CredentialCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately neither the hash key nor any entry.
        f.debug_struct("CredentialCache")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
