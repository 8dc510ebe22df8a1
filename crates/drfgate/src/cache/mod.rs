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

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lru::LruCache;
use parking_lot::{Condvar, Mutex, RwLock};
use siphasher::sip128::{Hasher128, SipHasher13};

/// A TTL longer than this is treated as this: `Instant + Duration` must not overflow, and a
/// century is "forever" for a credential cache.
const LONGEST_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// How many referenced entries one insertion may spare before it evicts regardless; bounds the
/// time spent under a shard's write lock when every entry has been used recently.
const SECOND_CHANCE_LIMIT: usize = 32;

/// More shards than this only waste memory; two cores do not need them.
const MAX_SHARDS: usize = 1024;

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
}

impl Default for CacheConfig {
    fn default() -> Self {
        let max_entries = 100_000;
        Self {
            max_entries,
            ttl: Duration::from_secs(60),
            negative_max_entries: (max_entries / 4).max(1024),
            negative_ttl: Duration::from_secs(5),
            shards: 16,
        }
    }
}

impl CacheConfig {
    /// Whether anything is cached at all.
    pub fn is_enabled(&self) -> bool {
        self.max_entries > 0 && !self.ttl.is_zero()
    }

    fn negative_enabled(&self) -> bool {
        self.is_enabled() && self.negative_max_entries > 0 && !self.negative_ttl.is_zero()
    }
}

/// Separates kinds of credentials so that, say, a token and a user+password pair whose bytes
/// happen to coincide never map to the same key. Callers define their own tags as constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyDomain(&'static str);

impl KeyDomain {
    pub const fn new(tag: &'static str) -> Self {
        Self(tag)
    }

    pub const fn tag(self) -> &'static str {
        self.0
    }
}

/// A keyed 128-bit hash of a credential; the only form in which a credential enters the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CacheKey(u128);

impl CacheKey {
    /// Selects the shard; the low half is left for the shard's own hash table, so that the
    /// entries of one shard still spread over all of its buckets.
    fn high(self) -> u64 {
        (self.0 >> 64) as u64
    }

    fn low(self) -> u64 {
        self.0 as u64
    }
}

impl Hash for CacheKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already a uniform keyed hash: hashing it again would only cost time.
        state.write_u64(self.low());
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({:032x})", self.0)
    }
}

/// Passes a [`CacheKey`]'s own hash through to the shard's hash table.
#[derive(Clone, Copy, Default)]
struct KeyHashBuilder;

impl BuildHasher for KeyHashBuilder {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached if something other than `CacheKey::hash` feeds this hasher.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
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

/// Source of the current time, injectable so tests can move time without sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

impl<F: Fn() -> Instant + Send + Sync> Clock for F {
    fn now(&self) -> Instant {
        self()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Instant>,
}

impl ManualClock {
    pub fn new() -> Self {
        Self {
            now: Mutex::new(Instant::now()),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock();
        if let Some(later) = now.checked_add(by) {
            *now = later;
        }
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock()
    }
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
    /// Entries of either space dropped because their lifetime was over.
    pub expirations: u64,
    /// Entries of either space dropped by `invalidate`, `invalidate_where` or `clear`.
    pub invalidations: u64,
    /// Entries now in the positive space (expired ones not yet dropped included).
    pub entries: usize,
    /// Entries now in the negative space (expired ones not yet dropped included).
    pub negative_entries: usize,
}

struct Entry<T> {
    value: T,
    expires_at: Instant,
    /// Set by readers instead of moving the entry in the LRU list; cleared by eviction, which
    /// then spares the entry once.
    referenced: AtomicBool,
}

impl<T> Entry<T> {
    fn is_live(&self, now: Instant) -> bool {
        now < self.expires_at
    }

    fn mark_referenced(&self) {
        // Loading first keeps a hot entry's cache line shared between cores.
        if !self.referenced.load(Ordering::Relaxed) {
            self.referenced.store(true, Ordering::Relaxed);
        }
    }
}

type ShardMap<T> = LruCache<CacheKey, Entry<T>, KeyHashBuilder>;

/// Aligned so that two shards' locks and counters never share a cache line.
#[repr(align(128))]
struct Shard<T> {
    entries: RwLock<ShardMap<T>>,
    hits: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
}

enum Lookup<T> {
    Hit(T),
    Expired,
    Absent,
}

/// One space (positive or negative): shards of LRU maps with a common lifetime.
struct Space<T> {
    /// Empty when the space is disabled.
    shards: Box<[Shard<T>]>,
    shard_mask: usize,
    ttl: Duration,
}

impl<T: Clone> Space<T> {
    fn new(capacity: usize, ttl: Duration, wanted_shards: usize, enabled: bool) -> Self {
        if !enabled || capacity == 0 {
            return Self {
                shards: Box::new([]),
                shard_mask: 0,
                ttl,
            };
        }
        let shard_count = power_of_two_at_most(wanted_shards.min(capacity).min(MAX_SHARDS));
        let shards = (0..shard_count)
            .map(|index| {
                let share = capacity / shard_count + usize::from(index < capacity % shard_count);
                // `shard_count <= capacity`, so every share is at least one.
                let share = NonZeroUsize::new(share).unwrap_or(NonZeroUsize::MIN);
                Shard {
                    entries: RwLock::new(LruCache::with_hasher(share, KeyHashBuilder)),
                    hits: AtomicU64::new(0),
                    evictions: AtomicU64::new(0),
                    expirations: AtomicU64::new(0),
                }
            })
            .collect();
        Self {
            shards,
            shard_mask: shard_count - 1,
            ttl: ttl.min(LONGEST_TTL),
        }
    }

    fn shard(&self, key: CacheKey) -> Option<&Shard<T>> {
        self.shards.get(key.high() as usize & self.shard_mask)
    }

    fn lookup(&self, key: CacheKey, now: Instant) -> Lookup<T> {
        let Some(shard) = self.shard(key) else {
            return Lookup::Absent;
        };
        let entries = shard.entries.read();
        match entries.peek(&key) {
            None => Lookup::Absent,
            Some(entry) if entry.is_live(now) => {
                entry.mark_referenced();
                let value = entry.value.clone();
                drop(entries);
                shard.hits.fetch_add(1, Ordering::Relaxed);
                Lookup::Hit(value)
            }
            Some(_) => Lookup::Expired,
        }
    }

    /// Like `lookup`, but neither counts nor marks: for internal re-checks.
    fn contains_live(&self, key: CacheKey, now: Instant) -> Option<T> {
        let shard = self.shard(key)?;
        let entries = shard.entries.read();
        entries
            .peek(&key)
            .filter(|entry| entry.is_live(now))
            .map(|entry| entry.value.clone())
    }

    fn drop_if_expired(&self, key: CacheKey, now: Instant) {
        let Some(shard) = self.shard(key) else {
            return;
        };
        let mut entries = shard.entries.write();
        if entries.peek(&key).is_some_and(|entry| !entry.is_live(now)) {
            entries.pop(&key);
            shard.expirations.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn insert(&self, key: CacheKey, value: T, now: Instant, still_current: impl Fn() -> bool) {
        let Some(shard) = self.shard(key) else {
            return;
        };
        let entry = Entry {
            value,
            expires_at: now.checked_add(self.ttl).unwrap_or(now),
            referenced: AtomicBool::new(false),
        };
        let mut entries = shard.entries.write();
        if !still_current() {
            return;
        }
        if entries.len() >= entries.cap().get() && !entries.contains(&key) {
            Self::make_room(shard, &mut entries, now);
        }
        entries.push(key, entry);
    }

    /// Drops one entry: an expired one if the oldest is, else the oldest not used since the last
    /// pass, sparing (and moving to the front) up to `SECOND_CHANCE_LIMIT` recently used ones.
    fn make_room(shard: &Shard<T>, entries: &mut ShardMap<T>, now: Instant) {
        for _ in 0..SECOND_CHANCE_LIMIT {
            let Some((&oldest_key, oldest)) = entries.peek_lru() else {
                return;
            };
            if !oldest.is_live(now) {
                entries.pop_lru();
                shard.expirations.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if !oldest.referenced.swap(false, Ordering::Relaxed) {
                break;
            }
            entries.promote(&oldest_key);
        }
        if entries.pop_lru().is_some() {
            shard.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn remove(&self, key: CacheKey) -> bool {
        self.shard(key)
            .is_some_and(|shard| shard.entries.write().pop(&key).is_some())
    }

    fn remove_where(&self, pred: &impl Fn(&T) -> bool) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut entries = shard.entries.write();
            let doomed: Vec<CacheKey> = entries
                .iter()
                .filter(|(_, entry)| pred(&entry.value))
                .map(|(&key, _)| key)
                .collect();
            for key in &doomed {
                entries.pop(key);
            }
            removed += doomed.len();
        }
        removed
    }

    fn clear(&self) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut entries = shard.entries.write();
            removed += entries.len();
            entries.clear();
        }
        removed
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.entries.read().len())
            .sum()
    }

    fn sum(&self, counter: impl Fn(&Shard<T>) -> &AtomicU64) -> u64 {
        self.shards
            .iter()
            .map(|shard| counter(shard).load(Ordering::Relaxed))
            .sum()
    }

    #[cfg(test)]
    fn shard_lens(&self) -> Vec<usize> {
        self.shards
            .iter()
            .map(|shard| shard.entries.read().len())
            .collect()
    }
}

fn power_of_two_at_most(n: usize) -> usize {
    match n {
        0 => 1,
        n => 1 << (usize::BITS - 1 - n.leading_zeros()),
    }
}

/// The outcome of one load, as seen by the callers waiting for it.
enum FlightState<V> {
    Running,
    Loaded(Cached<V>),
    /// The loader's error, type-erased because each `get_or_load` call picks its own error type.
    Failed(Box<dyn Any + Send>),
    /// The loader panicked; waiters start over.
    Abandoned,
}

struct Flight<V> {
    state: Mutex<FlightState<V>>,
    finished: Condvar,
    /// The cache's generation when the load started: its result is stored only if no
    /// invalidation has happened since, and only callers arriving before one may share it.
    generation: u64,
}

impl<V> Flight<V> {
    fn finish(&self, outcome: FlightState<V>) {
        *self.state.lock() = outcome;
        self.finished.notify_all();
    }
}

/// Loads in progress and the counters that are not per-space, striped by key like the shards.
#[repr(align(128))]
struct Stripe<V> {
    flights: Mutex<HashMap<CacheKey, Arc<Flight<V>>, KeyHashBuilder>>,
    misses: AtomicU64,
    loads: AtomicU64,
    load_errors: AtomicU64,
    coalesced: AtomicU64,
    invalidations: AtomicU64,
}

/// Removes and abandons the flight if the loader unwinds, so waiters don't wait forever.
struct LeaderGuard<'a, V> {
    stripe: &'a Stripe<V>,
    key: CacheKey,
    flight: Arc<Flight<V>>,
    done: bool,
}

impl<V> LeaderGuard<'_, V> {
    fn complete(mut self, outcome: FlightState<V>) {
        self.leave();
        self.flight.finish(outcome);
        self.done = true;
    }

    /// Removes this flight from the map, unless a newer load of the key (started after an
    /// invalidation) has already taken its place.
    fn leave(&self) {
        let mut flights = self.stripe.flights.lock();
        if flights
            .get(&self.key)
            .is_some_and(|current| Arc::ptr_eq(current, &self.flight))
        {
            flights.remove(&self.key);
        }
    }
}

impl<V> Drop for LeaderGuard<'_, V> {
    fn drop(&mut self) {
        if !self.done {
            self.leave();
            self.flight.finish(FlightState::Abandoned);
        }
    }
}

enum Role<V> {
    Leader(Arc<Flight<V>>),
    Waiter(Arc<Flight<V>>),
    AlreadyCached(Cached<V>),
}

/// The credential cache; see the module documentation.
pub struct CredentialCache<V> {
    config: CacheConfig,
    hash_keys: (u64, u64),
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
        let positive = Space::new(config.max_entries, config.ttl, config.shards, enabled);
        let negative = Space::new(
            config.negative_max_entries,
            config.negative_ttl,
            config.shards,
            config.negative_enabled(),
        );
        let stripe_count = power_of_two_at_most(config.shards.clamp(1, MAX_SHARDS));
        let stripes = (0..stripe_count)
            .map(|_| Stripe {
                flights: Mutex::new(HashMap::with_hasher(KeyHashBuilder)),
                misses: AtomicU64::new(0),
                loads: AtomicU64::new(0),
                load_errors: AtomicU64::new(0),
                coalesced: AtomicU64::new(0),
                invalidations: AtomicU64::new(0),
            })
            .collect();
        Self {
            config,
            hash_keys: random_hash_keys(),
            clock,
            positive,
            negative,
            stripes,
            stripe_mask: stripe_count - 1,
            generation: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Derives the key for a credential made of `parts` (e.g. `[token]`, or `[user, password]`).
    /// Every part is framed by its length, so `["ab", "c"]` and `["a", "bc"]` differ.
    pub fn key(&self, domain: KeyDomain, parts: &[&[u8]]) -> CacheKey {
        let hasher = SipHasher13::new_with_keys(self.hash_keys.0, self.hash_keys.1);
        let tag = domain.tag().as_bytes();
        let framed_len = parts.iter().fold(FRAME_LEN * 2 + tag.len(), |len, part| {
            len.saturating_add(FRAME_LEN + part.len())
        });
        // Hashing the framed message in one piece is several times faster than feeding the
        // hasher field by field, and gives the same hash (SipHash of the concatenation).
        let mut buffer = [0u8; SMALL_CREDENTIAL];
        if let Some(message) = buffer.get_mut(..framed_len) {
            let mut writer = FrameWriter { rest: message };
            writer.framed(tag);
            writer.put(&(parts.len() as u64).to_le_bytes());
            for part in parts {
                writer.framed(part);
            }
            return CacheKey(hasher.hash(message).as_u128());
        }
        let mut hasher = hasher;
        write_framed(&mut hasher, tag);
        hasher.write(&(parts.len() as u64).to_le_bytes());
        for part in parts {
            write_framed(&mut hasher, part);
        }
        CacheKey(hasher.finish128().as_u128())
    }

    /// Answers from the cache alone.
    pub fn get(&self, key: &CacheKey) -> Option<Cached<V>> {
        let key = *key;
        let now = self.clock.now();
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

    /// Answers from the cache, or calls `load` and caches what it returns. Concurrent callers
    /// missing the same key share one call of `load`; its error, if any, is returned to all of
    /// them and not cached.
    pub fn get_or_load<E>(
        &self,
        key: CacheKey,
        load: impl FnOnce() -> Result<Cached<V>, E>,
    ) -> Result<Cached<V>, E>
    where
        E: Clone + Send + 'static,
    {
        if let Some(found) = self.get(&key) {
            return Ok(found);
        }
        let stripe = self.stripe(key);
        let flight = loop {
            match self.join_or_lead(stripe, key) {
                Role::AlreadyCached(found) => return Ok(found),
                Role::Leader(flight) => break flight,
                Role::Waiter(flight) => {
                    if let Some(outcome) = Self::wait_for(stripe, &flight) {
                        return outcome;
                    }
                }
            }
        };
        self.lead(stripe, key, flight, load)
    }

    /// The shared outcome of another caller's load, or `None` if this caller must load itself
    /// (the leader panicked, or its error type differs from ours).
    fn wait_for<E>(stripe: &Stripe<V>, flight: &Flight<V>) -> Option<Result<Cached<V>, E>>
    where
        E: Clone + Send + 'static,
    {
        let mut state = flight.state.lock();
        while matches!(*state, FlightState::Running) {
            flight.finished.wait(&mut state);
        }
        let outcome = match &*state {
            FlightState::Loaded(found) => Ok(found.clone()),
            FlightState::Failed(error) => Err(error.downcast_ref::<E>()?.clone()),
            FlightState::Running | FlightState::Abandoned => return None,
        };
        stripe.coalesced.fetch_add(1, Ordering::Relaxed);
        Some(outcome)
    }

    fn join_or_lead(&self, stripe: &Stripe<V>, key: CacheKey) -> Role<V> {
        let mut flights = stripe.flights.lock();
        // Read before the store is: a load that starts now cannot miss a later invalidation.
        let generation = self.generation.load(Ordering::Acquire);
        match flights.get(&key) {
            // A load that started before an invalidation may return what the invalidation
            // was about; only callers that were already waiting may share it.
            Some(flight) if flight.generation == generation => {
                return Role::Waiter(Arc::clone(flight));
            }
            Some(_) => {}
            None => {
                // A leader stores its result before it removes its flight, so a load that
                // finished between our miss and taking this lock is visible now.
                if let Some(found) = self.peek_live(key) {
                    return Role::AlreadyCached(found);
                }
            }
        }
        let flight = Arc::new(Flight {
            state: Mutex::new(FlightState::Running),
            finished: Condvar::new(),
            generation,
        });
        flights.insert(key, Arc::clone(&flight));
        Role::Leader(flight)
    }

    fn lead<E>(
        &self,
        stripe: &Stripe<V>,
        key: CacheKey,
        flight: Arc<Flight<V>>,
        load: impl FnOnce() -> Result<Cached<V>, E>,
    ) -> Result<Cached<V>, E>
    where
        E: Clone + Send + 'static,
    {
        let generation = flight.generation;
        let guard = LeaderGuard {
            stripe,
            key,
            flight,
            done: false,
        };
        stripe.loads.fetch_add(1, Ordering::Relaxed);
        let outcome = load();
        match &outcome {
            Ok(found) => {
                self.store(key, found.clone(), generation);
                guard.complete(FlightState::Loaded(found.clone()));
            }
            Err(error) => {
                stripe.load_errors.fetch_add(1, Ordering::Relaxed);
                guard.complete(FlightState::Failed(Box::new(error.clone())));
            }
        }
        outcome
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

    /// Forgets every found credential whose value matches (e.g. all of one user's), and returns
    /// how many there were. Unknown credentials carry no value and stay until they expire.
    pub fn invalidate_where(&self, pred: impl Fn(&V) -> bool) -> usize {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let removed = self.positive.remove_where(&pred);
        self.count_invalidations(CacheKey(0), removed);
        removed
    }

    /// Forgets everything.
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

/// Bytes of the length that precedes every framed field.
const FRAME_LEN: usize = 8;

/// Framed credentials up to this size are hashed from a stack buffer in one call.
const SMALL_CREDENTIAL: usize = 256;

/// Fills a buffer sized exactly for the framed message.
struct FrameWriter<'a> {
    rest: &'a mut [u8],
}

impl FrameWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let rest = std::mem::take(&mut self.rest);
        let (head, tail) = rest.split_at_mut(bytes.len().min(rest.len()));
        head.copy_from_slice(&bytes[..head.len()]);
        self.rest = tail;
    }

    fn framed(&mut self, bytes: &[u8]) {
        self.put(&(bytes.len() as u64).to_le_bytes());
        self.put(bytes);
    }
}

fn write_framed(hasher: &mut SipHasher13, bytes: &[u8]) {
    hasher.write(&(bytes.len() as u64).to_le_bytes());
    hasher.write(bytes);
}

/// Draws the per-cache SipHash key. Should the OS refuse randomness, std's randomly keyed
/// hasher state (seeded by std from the OS at thread start) mixed with the wall clock keeps the
/// cache working rather than failing the whole gate.
fn random_hash_keys() -> (u64, u64) {
    let mut seed = [0u8; 16];
    if getrandom::fill(&mut seed).is_ok() {
        let [k0, k1] = [&seed[..8], &seed[8..]].map(|half| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(half);
            u64::from_le_bytes(bytes)
        });
        return (k0, k1);
    }
    let wall_clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let [k0, k1] = [0u8, 1].map(|lane| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u8(lane);
        hasher.write_u128(wall_clock);
        hasher.finish()
    });
    (k0, k1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{mpsc, Barrier};
    use std::thread;

    const TOKEN: KeyDomain = KeyDomain::new("token");
    const BASIC: KeyDomain = KeyDomain::new("basic");

    fn config(max_entries: usize, negative_max_entries: usize, shards: usize) -> CacheConfig {
        CacheConfig {
            max_entries,
            ttl: Duration::from_secs(60),
            negative_max_entries,
            negative_ttl: Duration::from_secs(5),
            shards,
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
    fn keys_differ_across_domains_framings_and_caches() {
        let first = CredentialCache::<u32>::new(CacheConfig::default());
        let second = CredentialCache::<u32>::new(CacheConfig::default());
        let secret: &[u8] = b"0123456789abcdef0123456789abcdef01234567";
        assert_eq!(first.key(TOKEN, &[secret]), first.key(TOKEN, &[secret]));
        assert_ne!(first.key(TOKEN, &[secret]), second.key(TOKEN, &[secret]));
        assert_ne!(first.key(TOKEN, &[secret]), first.key(BASIC, &[secret]));
        assert_ne!(
            first.key(BASIC, &[b"ab", b"c"]),
            first.key(BASIC, &[b"a", b"bc"])
        );
        assert_ne!(first.key(BASIC, &[b"ab", b""]), first.key(BASIC, &[b"ab"]));
        assert_ne!(
            first.key(KeyDomain::new("ab"), &[b"c"]),
            first.key(KeyDomain::new("a"), &[b"bc"])
        );
    }

    #[test]
    fn long_credentials_hash_like_short_ones() {
        let cache = CredentialCache::<u32>::new(CacheConfig::default());
        let streamed = |parts: &[&[u8]]| {
            let (k0, k1) = cache.hash_keys;
            let mut hasher = SipHasher13::new_with_keys(k0, k1);
            write_framed(&mut hasher, TOKEN.tag().as_bytes());
            hasher.write(&(parts.len() as u64).to_le_bytes());
            for part in parts {
                write_framed(&mut hasher, part);
            }
            CacheKey(hasher.finish128().as_u128())
        };
        let long = vec![b'x'; 1000];
        for parts in [&[b"short".as_slice()][..], &[&long, b"y"], &[], &[b""]] {
            assert_eq!(cache.key(TOKEN, parts), streamed(parts));
        }
        // Exactly at the buffer's size and one past it.
        let fits = vec![b'z'; SMALL_CREDENTIAL - 3 * FRAME_LEN - TOKEN.tag().len()];
        let overflows = vec![b'z'; fits.len() + 1];
        assert_eq!(cache.key(TOKEN, &[&fits]), streamed(&[&fits]));
        assert_eq!(cache.key(TOKEN, &[&overflows]), streamed(&[&overflows]));
    }

    #[test]
    fn debug_output_shows_only_the_hash() {
        let cache = CredentialCache::<u32>::new(CacheConfig::default());
        let secret = "s3cr3t-password";
        let key = cache.key(BASIC, &[b"alice", secret.as_bytes()]);
        let shown = format!("{key:?}");
        let hex = shown
            .strip_prefix("CacheKey(")
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap();
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!shown.contains(secret) && !shown.contains("alice"));
        let secret_hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&secret_hex[..8]));

        cache.insert(key, Cached::Found(1));
        let shown = format!("{cache:?}");
        assert!(!shown.contains(hex) && !shown.contains(secret));
    }

    #[test]
    fn closure_clock_is_accepted() {
        let start = Instant::now();
        let cache = CredentialCache::<u32>::with_clock(config(10, 10, 1), Arc::new(move || start));
        let key = cache.key(TOKEN, &[b"t"]);
        cache.insert(key, Cached::Found(1));
        assert_eq!(cache.get(&key), Some(Cached::Found(1)));
    }
}
