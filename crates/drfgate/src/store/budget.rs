//! A number of store lookups allowed per second: `[cache] credential_lookups_per_second`, an
//! opt-in bound on the lookups that credentials the caches cannot answer may cause (described
//! below), and `[cache] unlisted_token_lookups_per_second`, the token filter's budget for keys
//! it does not hold (`token_filter.rs`).
//!
//! Every distinct unknown token is one lookup (then cached as unknown for
//! `negative_ttl_seconds`), so a flood of distinct junk credentials is as many queries: on a
//! network database the gate would amplify the flood. With a budget, at most `N` such lookups
//! run per second (counted in whole seconds since the gate started); past it, a request whose
//! credential the caches do not know is refused with 503 for the rest of that second, valid or
//! not (the gate cannot tell before asking), while every cached credential keeps being
//! answered. Off by default, because it can refuse a valid token DRF would accept.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

pub(crate) struct LookupBudget {
    per_second: u32,
    /// The setting, and what is refused past it, for the log.
    setting: &'static str,
    refusing: &'static str,
    start: Instant,
    /// The second (since `start`) being counted, and the lookups made in it.
    window: Mutex<(u64, u32)>,
    /// Whether lookups were refused in the current incident, to log it once.
    over: AtomicBool,
    /// Lookups refused since the incident began.
    refused_in_incident: AtomicU64,
    /// Lookups refused since the gate was built.
    refused: AtomicU64,
}

impl LookupBudget {
    pub(crate) fn new(
        per_second: u32,
        setting: &'static str,
        refusing: &'static str,
    ) -> LookupBudget {
        LookupBudget {
            per_second,
            setting,
            refusing,
            start: Instant::now(),
            window: Mutex::new((0, 0)),
            over: AtomicBool::new(false),
            refused_in_incident: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Takes one lookup from this second's budget; `false` when it is spent.
    pub(crate) fn take(&self, location: &str) -> bool {
        let second = self.start.elapsed().as_secs();
        let granted = {
            let mut window = self.window.lock();
            if window.0 != second {
                *window = (second, 0);
            }
            let granted = window.1 < self.per_second;
            if granted {
                window.1 += 1;
            }
            granted
        };
        if granted {
            if self.over.load(Ordering::Relaxed) && self.over.swap(false, Ordering::AcqRel) {
                let refused = self.refused_in_incident.swap(0, Ordering::AcqRel);
                log::warn!(
                    "database {location}: lookups are within {} = {} again ({refused} refused \
                     meanwhile)",
                    self.setting,
                    self.per_second
                );
            }
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            self.refused_in_incident.fetch_add(1, Ordering::Relaxed);
            if !self.over.swap(true, Ordering::AcqRel) {
                log::warn!(
                    "database {location}: more than {} = {} {}",
                    self.setting,
                    self.per_second,
                    self.refusing
                );
            }
        }
        granted
    }

    /// Lookups refused since the gate was built.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}
