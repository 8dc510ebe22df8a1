//! The cache's source of time, injectable so tests can move time without sleeping.

use std::time::Instant;
#[cfg(any(test, feature = "internals"))]
use {parking_lot::Mutex, std::time::Duration};

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

/// A clock that only moves when told to (tests and benches).
#[cfg(any(test, feature = "internals"))]
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Instant>,
}

#[cfg(any(test, feature = "internals"))]
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

#[cfg(any(test, feature = "internals"))]
impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(any(test, feature = "internals"))]
impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock()
    }
}
