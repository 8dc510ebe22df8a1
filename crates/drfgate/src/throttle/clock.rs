//! The throttles' clock: UNIX time in seconds as a float, DRF's `time.time()`. Wall time,
//! not monotonic, because histories shared through Redis are compared across processes
//! and hosts.

/// Source of the current UNIX time.
pub trait WallClock: Send + Sync {
    fn now(&self) -> f64;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn now(&self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

/// A clock that shows what it was last set to (tests: no sleeping, no timed assertions).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: parking_lot::Mutex<f64>,
}

impl ManualClock {
    pub fn at(now: f64) -> ManualClock {
        ManualClock {
            now: parking_lot::Mutex::new(now),
        }
    }

    pub fn set(&self, now: f64) {
        *self.now.lock() = now;
    }
}

impl WallClock for ManualClock {
    fn now(&self) -> f64 {
        *self.now.lock()
    }
}
