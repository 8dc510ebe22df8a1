//! One space of the cache (found or unknown credentials): shards of LRU maps behind `RwLock`s
//! with a common lifetime. A hit takes only a shared lock and marks the entry referenced;
//! eviction gives referenced entries a second chance (CLOCK over the LRU list).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lru::LruCache;
use parking_lot::RwLock;

use super::key::{CacheKey, KeyHashBuilder};

/// A TTL longer than this is treated as this: `Instant + Duration` must not overflow, and a
/// century is "forever" for a credential cache.
const LONGEST_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// How many referenced entries one insertion may spare before it evicts regardless; bounds the
/// time spent under a shard's write lock when every entry has been used recently.
const SECOND_CHANCE_LIMIT: usize = 32;

/// More shards than this only waste memory; two cores do not need them.
pub(super) const MAX_SHARDS: usize = 1024;

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

    /// Expired, but within `grace` of its expiry: kept, for answering while the store fails.
    fn is_stale_within(&self, now: Instant, grace: Duration) -> bool {
        !self.is_live(now)
            && self
                .expires_at
                .checked_add(grace)
                .is_none_or(|kept_until| now < kept_until)
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
pub(super) struct Shard<T> {
    entries: RwLock<ShardMap<T>>,
    pub(super) hits: AtomicU64,
    pub(super) evictions: AtomicU64,
    pub(super) expirations: AtomicU64,
}

pub(super) enum Lookup<T> {
    Hit(T),
    Expired,
    Absent,
}

/// One space (positive or negative): shards of LRU maps with a common lifetime.
pub(super) struct Space<T> {
    /// Empty when the space is disabled.
    shards: Box<[Shard<T>]>,
    shard_mask: usize,
    ttl: Duration,
    /// How long an expired entry is kept for [`Space::stale`]; zero drops it on sight.
    grace: Duration,
}

impl<T: Clone> Space<T> {
    /// Keeps expired entries for `grace` past their lifetime, for [`Space::stale`].
    pub(super) fn keep_stale_for(&mut self, grace: Duration) {
        self.grace = grace.min(LONGEST_TTL);
    }

    /// An entry whose lifetime is over but that is kept within its grace period.
    pub(super) fn stale(&self, key: CacheKey, now: Instant) -> Option<T> {
        if self.grace.is_zero() {
            return None;
        }
        let shard = self.shard(key)?;
        let entries = shard.entries.read();
        entries
            .peek(&key)
            .filter(|entry| entry.is_stale_within(now, self.grace))
            .map(|entry| entry.value.clone())
    }

    pub(super) fn new(capacity: usize, ttl: Duration, wanted_shards: usize, enabled: bool) -> Self {
        if !enabled || capacity == 0 {
            return Self {
                shards: Box::new([]),
                shard_mask: 0,
                ttl,
                grace: Duration::ZERO,
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
            grace: Duration::ZERO,
        }
    }

    fn shard(&self, key: CacheKey) -> Option<&Shard<T>> {
        self.shards.get(key.high() as usize & self.shard_mask)
    }

    pub(super) fn lookup(&self, key: CacheKey, now: Instant) -> Lookup<T> {
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
    pub(super) fn contains_live(&self, key: CacheKey, now: Instant) -> Option<T> {
        let shard = self.shard(key)?;
        let entries = shard.entries.read();
        entries
            .peek(&key)
            .filter(|entry| entry.is_live(now))
            .map(|entry| entry.value.clone())
    }

    pub(super) fn drop_if_expired(&self, key: CacheKey, now: Instant) {
        let Some(shard) = self.shard(key) else {
            return;
        };
        let mut entries = shard.entries.write();
        let grace = self.grace;
        if entries
            .peek(&key)
            .is_some_and(|entry| !entry.is_live(now) && !entry.is_stale_within(now, grace))
        {
            entries.pop(&key);
            shard.expirations.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn insert(
        &self,
        key: CacheKey,
        value: T,
        now: Instant,
        still_current: impl Fn() -> bool,
    ) {
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

    pub(super) fn remove(&self, key: CacheKey) -> bool {
        self.shard(key)
            .is_some_and(|shard| shard.entries.write().pop(&key).is_some())
    }

    pub(super) fn remove_where(&self, pred: &impl Fn(&T) -> bool) -> usize {
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

    #[cfg(any(test, feature = "internals"))]
    pub(super) fn clear(&self) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut entries = shard.entries.write();
            removed += entries.len();
            entries.clear();
        }
        removed
    }

    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.entries.read().len())
            .sum()
    }

    pub(super) fn sum(&self, counter: impl Fn(&Shard<T>) -> &AtomicU64) -> u64 {
        self.shards
            .iter()
            .map(|shard| counter(shard).load(Ordering::Relaxed))
            .sum()
    }

    #[cfg(test)]
    pub(super) fn shard_lens(&self) -> Vec<usize> {
        self.shards
            .iter()
            .map(|shard| shard.entries.read().len())
            .collect()
    }
}

pub(super) fn power_of_two_at_most(n: usize) -> usize {
    match n {
        0 => 1,
        n => 1 << (usize::BITS - 1 - n.leading_zeros()),
    }
}
