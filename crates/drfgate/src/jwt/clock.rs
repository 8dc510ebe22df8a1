//! The wall clock that JWT `exp`/`iat`/`nbf` (and knox `expiry`) are judged against,
//! injectable so tests can fix the time instead of sleeping or racing it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, as Python's `datetime.now(tz=utc).timestamp()` gives them
/// (a float with microseconds).
pub trait WallClock: Send + Sync {
    fn unix_now(&self) -> f64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemWallClock;

impl WallClock for SystemWallClock {
    fn unix_now(&self) -> f64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as f64 + f64::from(d.subsec_micros()) / 1e6,
            // A clock before 1970 makes every token look issued in the future: fail closed.
            Err(_) => 0.0,
        }
    }
}

/// A fixed time, for tests.
impl WallClock for f64 {
    fn unix_now(&self) -> f64 {
        *self
    }
}
