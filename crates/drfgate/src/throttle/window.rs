//! Sliding-window histories: DRF's list of request times per cache key, newest first, and
//! the three things done to one (a throttle's check, the failed-login limiter's look and
//! its record), each atomic. Kept in this process's memory, bounded, or in Redis
//! (`redis.rs`).

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};

use lru::LruCache;
use parking_lot::Mutex;
use std::hash::Hasher;

use siphasher::sip128::{Hasher128, SipHasher13};

use super::rate::Rate;

/// What to do with a history after dropping the times that left the window
/// (`<= now - duration`, as DRF drops them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `SimpleRateThrottle.allow_request`: refuse when `len >= num`, else record `now`.
    Throttle,
    /// Only look (the failed-login limiter before authenticating).
    Peek,
    /// Record `now`, keeping at most `num` times (the failed-login limiter after a failure).
    Record,
}

/// A history as the operation found it, after dropping what left the window and before
/// recording anything.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// `Throttle`: the request was recorded. `Peek`: `len < num`. `Record`: always.
    pub allowed: bool,
    pub len: usize,
    /// `history[-1]`: the oldest time still in the window.
    pub oldest: Option<f64>,
}

impl Window {
    /// DRF's `SimpleRateThrottle.wait()`: the seconds until a request may pass, `None` when
    /// DRF cannot say (more requests recorded than allowed).
    pub fn wait(&self, now: f64, rate: Rate) -> Option<f64> {
        let duration = rate.duration as f64;
        let remaining = match self.oldest {
            Some(oldest) if self.len > 0 => duration - (now - oldest),
            _ => duration,
        };
        let available = rate.num as f64 - self.len as f64 + 1.0;
        (available > 0.0).then(|| remaining / available)
    }
}

/// Where histories live.
pub trait WindowStore: Send + Sync {
    /// Applies `op` to the history under `key`, atomically. An error means the history could
    /// not be read or written: the caller fails closed.
    fn apply(&self, key: &[u8], now: f64, rate: Rate, op: Op) -> Result<Window, String>;
    /// For logs and `drfgate check`: where the histories are kept.
    fn describe(&self) -> String;
    /// Whether `apply` waits on the network (then an event loop must not call it inline).
    fn blocking(&self) -> bool {
        false
    }
}

/// One history, and the window it was last written with (a key two throttle classes with
/// different rates share keeps the last one's).
struct History {
    times: VecDeque<f64>,
    duration: u64,
}

impl History {
    fn alive(&self, now: f64) -> bool {
        self.times
            .front()
            .is_some_and(|&newest| newest > now - self.duration as f64)
    }
}

/// The outcome of `op` on a history (already pruned), and whether it writes `now`.
fn decide(times: &VecDeque<f64>, rate: Rate, op: Op) -> (Window, bool) {
    let len = times.len();
    let window = |allowed| Window {
        allowed,
        len,
        oldest: times.back().copied(),
    };
    match op {
        Op::Throttle => {
            let allowed = (len as i128) < i128::from(rate.num);
            (window(allowed), allowed)
        }
        Op::Peek => (window((len as i128) < i128::from(rate.num)), false),
        Op::Record => (window(true), true),
    }
}

/// Histories in this process's memory: `max_keys` keys at most, split over shards each with
/// its own lock. A key is a keyed 128-bit hash of the cache key, so a client cannot make
/// keys long (an 8 KB `X-Forwarded-For`) or choose where they land. A key whose history is
/// all outside its window is dropped when seen; a new key in a full shard evicts the least
/// recently used one, which (if still within its window) is counted in `evicted_live`.
pub struct MemoryWindows {
    shards: Box<[Mutex<LruCache<u128, History>>]>,
    hash_keys: (u64, u64),
    max_keys: usize,
    evicted_live: AtomicU64,
}

const SHARDS: usize = 16;

impl MemoryWindows {
    pub fn new(max_keys: usize) -> MemoryWindows {
        MemoryWindows::with_shards(max_keys, SHARDS)
    }

    fn with_shards(max_keys: usize, shards: usize) -> MemoryWindows {
        let max_keys = max_keys.max(1);
        let shards = shards.clamp(1, max_keys);
        // Each shard gets its share; together never more than max_keys.
        let per_shard = max_keys / shards;
        MemoryWindows {
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(LruCache::new(
                        NonZeroUsize::new(per_shard.max(1)).unwrap_or(NonZeroUsize::MIN),
                    ))
                })
                .collect(),
            hash_keys: crate::cache::random_hash_keys(),
            max_keys,
            evicted_live: AtomicU64::new(0),
        }
    }

    /// Keys held now (never more than `max_keys`).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Histories still within their window that a new key pushed out.
    pub fn evicted_live(&self) -> u64 {
        self.evicted_live.load(Ordering::Relaxed)
    }

    fn hash(&self, key: &[u8]) -> u128 {
        let mut hasher = SipHasher13::new_with_keys(self.hash_keys.0, self.hash_keys.1);
        hasher.write(key);
        hasher.finish128().as_u128()
    }
}

impl WindowStore for MemoryWindows {
    fn apply(&self, key: &[u8], now: f64, rate: Rate, op: Op) -> Result<Window, String> {
        let hash = self.hash(key);
        let shard = &self.shards[(hash as usize) % self.shards.len()];
        let mut shard = shard.lock();
        let horizon = now - rate.duration as f64;
        if let Some(history) = shard.get_mut(&hash) {
            while history.times.back().is_some_and(|&t| t <= horizon) {
                history.times.pop_back();
            }
            let (window, write) = decide(&history.times, rate, op);
            if write {
                history.times.push_front(now);
                history.duration = rate.duration;
                if op == Op::Record {
                    history
                        .times
                        .truncate(usize::try_from(rate.num.max(1)).unwrap_or(usize::MAX));
                }
            } else if history.times.is_empty() {
                shard.pop(&hash);
            }
            return Ok(window);
        }
        let empty = VecDeque::new();
        let (window, write) = decide(&empty, rate, op);
        if write {
            let history = History {
                times: VecDeque::from([now]),
                duration: rate.duration,
            };
            if let Some((_, evicted)) = shard.push(hash, history) {
                if evicted.alive(now) {
                    self.evicted_live.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(window)
    }

    fn describe(&self) -> String {
        format!("this process's memory (at most {} keys)", self.max_keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE_A_MINUTE: Rate = Rate {
        num: 3,
        duration: 60,
    };

    fn throttle(store: &MemoryWindows, key: &str, now: f64) -> (bool, Option<f64>) {
        let w = store
            .apply(key.as_bytes(), now, THREE_A_MINUTE, Op::Throttle)
            .unwrap();
        (
            w.allowed,
            (!w.allowed).then(|| w.wait(now, THREE_A_MINUTE)).flatten(),
        )
    }

    #[test]
    fn the_timeline_of_the_spec() {
        // Spec §3.8: AnonRateThrottle 3/m, one client.
        let store = MemoryWindows::new(100);
        for t in [1000.0, 1001.0, 1002.0] {
            assert_eq!(throttle(&store, "k", t), (true, None));
        }
        assert_eq!(throttle(&store, "k", 1003.0), (false, Some(57.0)));
        assert_eq!(throttle(&store, "k", 1003.5), (false, Some(56.5)));
        let (allowed, wait) = throttle(&store, "k", 1059.2);
        assert!(!allowed && wait.unwrap() > 0.0 && wait.unwrap() <= 1.0);
        assert_eq!(throttle(&store, "k", 1060.0), (true, None));
        assert_eq!(throttle(&store, "k", 1060.5), (false, Some(0.5)));
        assert_eq!(throttle(&store, "k", 1061.0), (true, None));
        // Other keys are other clients.
        assert_eq!(throttle(&store, "other", 1061.0), (true, None));
    }

    #[test]
    fn more_times_than_allowed_have_no_wait() {
        // A rate lowered under a key that holds more: DRF's wait() is None.
        let store = MemoryWindows::new(100);
        let five = Rate {
            num: 5,
            duration: 60,
        };
        for t in 0..5 {
            store
                .apply(b"k", 100.0 + f64::from(t), five, Op::Throttle)
                .unwrap();
        }
        let w = store
            .apply(b"k", 106.0, THREE_A_MINUTE, Op::Throttle)
            .unwrap();
        assert!(!w.allowed);
        assert_eq!(w.wait(106.0, THREE_A_MINUTE), None);
    }

    #[test]
    fn zero_and_negative_rates_refuse_everything() {
        let store = MemoryWindows::new(100);
        let zero = Rate {
            num: 0,
            duration: 60,
        };
        let w = store.apply(b"k", 1.0, zero, Op::Throttle).unwrap();
        assert_eq!((w.allowed, w.wait(1.0, zero)), (false, Some(60.0)));
        let minus = Rate {
            num: -1,
            duration: 60,
        };
        let w = store.apply(b"k", 1.0, minus, Op::Throttle).unwrap();
        assert_eq!((w.allowed, w.wait(1.0, minus)), (false, None));
        assert!(store.is_empty(), "a refusal records nothing");
    }

    #[test]
    fn a_flood_of_distinct_clients_stays_within_max_keys() {
        let store = MemoryWindows::new(1000);
        for i in 0..50_000u32 {
            let key = format!(
                "throttle_anon_10.{}.{}.{}",
                i >> 16,
                (i >> 8) & 255,
                i & 255
            );
            store
                .apply(key.as_bytes(), 5000.0, THREE_A_MINUTE, Op::Throttle)
                .unwrap();
        }
        assert!(store.len() <= 1000, "{} keys", store.len());
        assert_eq!(store.len() as u64 + store.evicted_live(), 50_000);
        // A long key costs what a short one does: only its hash is kept.
        let long = vec![b'x'; 64 * 1024];
        store
            .apply(&long, 5000.0, THREE_A_MINUTE, Op::Throttle)
            .unwrap();
        assert!(store.len() <= 1000);
    }

    #[test]
    fn expired_histories_are_dropped_when_seen_and_do_not_count_as_evicted() {
        let store = MemoryWindows::with_shards(16, 1);
        for i in 0..16u8 {
            store
                .apply(&[i], 0.0, THREE_A_MINUTE, Op::Throttle)
                .unwrap();
        }
        for i in 16..64u8 {
            store
                .apply(&[i], 1000.0, THREE_A_MINUTE, Op::Throttle)
                .unwrap();
        }
        assert_eq!(store.evicted_live(), 32, "16 expired ones went for free");
        // A refused peek of a key whose times all left the window removes it.
        let before = store.len();
        store
            .apply(&[63], 5000.0, THREE_A_MINUTE, Op::Peek)
            .unwrap();
        assert_eq!(store.len(), before - 1);
    }

    #[test]
    fn record_keeps_at_most_num_times_and_peek_never_writes() {
        let store = MemoryWindows::new(10);
        for t in 0..10 {
            store
                .apply(b"k", f64::from(t), THREE_A_MINUTE, Op::Record)
                .unwrap();
        }
        let w = store.apply(b"k", 10.0, THREE_A_MINUTE, Op::Peek).unwrap();
        assert_eq!((w.allowed, w.len, w.oldest), (false, 3, Some(7.0)));
        assert_eq!(w.wait(10.0, THREE_A_MINUTE), Some(57.0));
        let w = store
            .apply(b"other", 10.0, THREE_A_MINUTE, Op::Peek)
            .unwrap();
        assert!(w.allowed);
        assert_eq!(store.len(), 1);
    }
}
