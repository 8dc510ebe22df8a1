//! One dependency's health as the error log tells it: the first failure of an incident is
//! logged, the failures after it are only counted, and the first success after them says the
//! incident is over. A flood of requests against a failing database or Redis then makes two
//! log lines, not one per request. Used by the store wrapper (`store/outage.rs`) and the
//! throttle histories (`throttle/watched.rs`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Default)]
pub(crate) struct Incident {
    failing: AtomicBool,
    /// Failures since the incident began (the first included).
    failures: AtomicU64,
}

impl Incident {
    /// Counts a failure; `true` when it begins an incident (the caller logs it then).
    pub(crate) fn failed(&self) -> bool {
        self.failures.fetch_add(1, Ordering::Relaxed);
        !self.failing.swap(true, Ordering::AcqRel)
    }

    /// Notes a success; `Some(failures)` when it ends an incident (the caller logs it then).
    pub(crate) fn answered(&self) -> Option<u64> {
        // A load first, so the healthy path writes nothing shared.
        if self.failing.load(Ordering::Relaxed) && self.failing.swap(false, Ordering::AcqRel) {
            Some(self.failures.swap(0, Ordering::AcqRel))
        } else {
            None
        }
    }

    /// Whether the last attempt failed.
    pub(crate) fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::Incident;

    #[test]
    fn an_incident_begins_once_and_ends_once() {
        let incident = Incident::default();
        assert_eq!(incident.answered(), None);
        assert!(incident.failed());
        assert!(!incident.failed());
        assert!(!incident.failed());
        assert!(incident.failing());
        assert_eq!(incident.answered(), Some(3));
        assert_eq!(incident.answered(), None);
        assert!(incident.failed());
        assert_eq!(incident.answered(), Some(1));
    }
}
