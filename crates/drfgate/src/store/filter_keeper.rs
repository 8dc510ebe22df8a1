//! Keeps the token filter (`token_filter.rs`) fresh from `[revocation]`'s listener thread: a
//! full load once the subscription is in place, one user's keys read again on each
//! notification naming that user, the filter distrusted whenever notifications may have been
//! missed (the subscription lost, a refresh that failed) until a full load succeeds again.
//!
//! Everything here runs on the listener thread, never on a request: a full load of a large
//! table takes a while, and notifications arriving meanwhile wait in the subscription's
//! connection and are applied after it (what makes "subscribe, then load" miss nothing).

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::token_filter::TokenFilter;
use super::Store;
use crate::incident::Incident;

/// After a failed load, the next is tried no sooner than this.
const RETRY_AFTER: Duration = Duration::from_secs(5);

pub(crate) struct FilterKeeper {
    filter: Arc<TokenFilter>,
    store: Arc<dyn Store>,
    location: String,
    incident: Incident,
    /// When a failed load may be tried again.
    retry_at: Mutex<Option<Instant>>,
}

impl FilterKeeper {
    pub(crate) fn new(filter: Arc<TokenFilter>, store: Arc<dyn Store>, location: String) -> Self {
        FilterKeeper {
            filter,
            store,
            location,
            incident: Incident::default(),
            retry_at: Mutex::new(None),
        }
    }

    /// The listener has (re)subscribed: notifications from now on are heard, so a full load now
    /// misses nothing.
    pub(crate) fn subscribed(&self) {
        self.filter.distrust();
        *self.retry_at.lock() = None;
        self.load();
    }

    /// The listener lost its subscription: notifications may be missed from now on.
    pub(crate) fn unsubscribed(&self) {
        self.filter.distrust();
    }

    /// A notification named user `pk`: reads that user's keys and adds them. Returns the keys
    /// the filter did not hold (the caller drops any refusal of them from its caches). A
    /// failure distrusts the filter until a full load succeeds (`tick`).
    pub(crate) fn user_changed(&self, pk: &str) -> Vec<String> {
        if !self.filter.is_authoritative() {
            return Vec::new();
        }
        match self.store.token_keys_of_user(pk) {
            Ok(keys) => self
                .filter
                .add(&keys)
                .into_iter()
                .map(str::to_string)
                .collect(),
            Err(e) => {
                self.filter.distrust();
                if self.incident.failed() {
                    log::error!(
                        "database {}: the token filter cannot read a user's token keys ({e}); \
                         every token is looked up until the filter is loaded again",
                        self.location
                    );
                }
                Vec::new()
            }
        }
    }

    /// Between notifications: loads the filter if it is not trusted (a refresh or a load
    /// failed) or churn has grown it past its bound.
    pub(crate) fn tick(&self) {
        if !self.filter.wants_reload() {
            return;
        }
        if let Some(at) = *self.retry_at.lock() {
            if Instant::now() < at {
                return;
            }
        }
        self.load();
    }

    fn load(&self) {
        let started = Instant::now();
        match self.filter.load(self.store.as_ref()) {
            Ok(count) => {
                *self.retry_at.lock() = None;
                if let Some(failed) = self.incident.answered() {
                    log::warn!(
                        "database {}: the token filter is loaded again ({failed} failed \
                         attempt(s) meanwhile)",
                        self.location
                    );
                }
                log::info!(
                    "database {}: token filter loaded with {count} keys in {:?} ({} bytes)",
                    self.location,
                    started.elapsed(),
                    self.filter.table_bytes()
                );
            }
            Err(e) => {
                *self.retry_at.lock() = Some(Instant::now() + RETRY_AFTER);
                if self.incident.failed() {
                    log::error!(
                        "database {}: cannot load the token filter ({e}); every token is \
                         looked up until it loads",
                        self.location
                    );
                }
            }
        }
    }
}
