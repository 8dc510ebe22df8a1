//! The gate's view of its store's health: any store (SQLite, or a network database) is wrapped
//! in [`Watched`], so that its failures are handled the same way whatever the backend.
//!
//! A failing database fails every request that needs it (503, `ApiError::Unavailable`), and a
//! flood of such requests must not become a flood of identical log lines: the error log tells
//! what failed once per incident, when the first lookup of a kind fails, and says so again
//! when a lookup of that kind succeeds ("answering again", with how many failed meanwhile).
//! Incidents are kept per kind of lookup, so one missing table (knox's, say) does not make
//! the healthy token lookups beside it report a recovery on every request.
//!
//! Nothing here retries or waits: the next request simply asks the store again, so the gate
//! recovers by itself as soon as the database answers.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::budget::LookupBudget;
use super::token_filter::{Admission, TokenFilter};
use super::{FieldLookup, KnoxRow, Store, StoreError, StoreSummary, UserWithPassword};
use crate::decision::{User, UserPk};
use crate::incident::Incident;

/// The lookups a store answers, each with its own incident state.
#[derive(Clone, Copy, Debug)]
enum Kind {
    UserByToken,
    UserByUsername,
    UserPermissions,
    Summary,
    SessionData,
    UserByPk,
    UserByField,
    JtiBlacklisted,
    KnoxTokens,
}

const KINDS: usize = 9;

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::UserByToken => "token lookups (TokenAuthentication)",
            Kind::UserByUsername => "user lookups by username (Basic, RemoteUser)",
            Kind::UserPermissions => "permission lookups",
            Kind::Summary => "table checks",
            Kind::SessionData => "session lookups",
            Kind::UserByPk => "user lookups by primary key (sessions)",
            Kind::UserByField => "user lookups by JWT claim",
            Kind::JtiBlacklisted => "JWT blacklist lookups",
            Kind::KnoxTokens => "knox token lookups",
        }
    }
}

/// A store whose failures are logged once per incident; see the module documentation.
pub(crate) struct Watched {
    /// Shared with `[revocation]`'s listener, which reads token keys for the token filter.
    inner: Arc<dyn Store>,
    /// Where the database is (the store's summary), to say which one failed.
    location: String,
    incidents: [Incident; KINDS],
    /// Failed lookups since the gate was built, for tests and counters.
    total_failures: AtomicU64,
    /// `[cache] credential_lookups_per_second`, when set.
    budget: Option<LookupBudget>,
    /// Token lookups answered without a query: a key longer than the token column holds.
    skipped: AtomicU64,
    /// The keys the token table holds, when `[revocation]` keeps such a filter.
    token_filter: Option<Arc<TokenFilter>>,
}

impl Watched {
    pub(crate) fn new(
        inner: Box<dyn Store>,
        location: String,
        lookups_per_second: Option<std::num::NonZeroU32>,
    ) -> Watched {
        Watched {
            inner: Arc::from(inner),
            location,
            incidents: Default::default(),
            total_failures: AtomicU64::new(0),
            budget: lookups_per_second.map(|n| {
                LookupBudget::new(
                    n.get(),
                    "credential_lookups_per_second",
                    "lookups of credentials the caches do not know (a flood of unknown \
                     tokens?); such requests are refused (503) for the rest of each second",
                )
            }),
            skipped: AtomicU64::new(0),
            token_filter: None,
        }
    }

    /// Consults `filter` before each token lookup.
    pub(crate) fn with_token_filter(mut self, filter: Arc<TokenFilter>) -> Watched {
        self.token_filter = Some(filter);
        self
    }

    /// The store itself, for the listener keeping the token filter.
    pub(crate) fn shared_inner(&self) -> Arc<dyn Store> {
        self.inner.clone()
    }

    /// Where the database is (the store's summary, or the config's when it did not answer).
    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// Lookups refused by `credential_lookups_per_second` since the gate was built.
    pub(crate) fn over_budget(&self) -> u64 {
        self.budget.as_ref().map_or(0, LookupBudget::refused)
    }

    /// Token lookups answered without a query since the gate was built.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// A lookup a junk credential can cause: refused when this second's budget is spent.
    fn within_budget(&self) -> Result<(), StoreError> {
        match &self.budget {
            Some(budget) if !budget.take(&self.location) => Err(StoreError::new(
                "over credential_lookups_per_second: not asked",
            )),
            _ => Ok(()),
        }
    }

    /// Failed lookups since the gate was built.
    pub(crate) fn failures(&self) -> u64 {
        self.total_failures.load(Ordering::Relaxed)
    }

    /// Whether any kind of lookup failed last time it was tried.
    pub(crate) fn failing(&self) -> bool {
        self.incidents.iter().any(Incident::failing)
    }

    fn observe<T>(&self, kind: Kind, result: Result<T, StoreError>) -> Result<T, StoreError> {
        let incident = &self.incidents[kind as usize];
        match &result {
            // Django raising is about one request's input, not the database's health.
            Err(err) if err.is_raised() => {}
            Err(err) => {
                self.total_failures.fetch_add(1, Ordering::Relaxed);
                if incident.failed() {
                    log::error!(
                        "database {}: {} are failing; requests that need them are refused \
                         (503) until it answers again: {err}",
                        self.location,
                        kind.describe()
                    );
                }
            }
            Ok(_) => {
                if let Some(failed) = incident.answered() {
                    log::warn!(
                        "database {}: {} are answered again ({failed} failed meanwhile)",
                        self.location,
                        kind.describe()
                    );
                }
            }
        }
        result
    }
}

impl Store for Watched {
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
        // A key the column cannot hold matches no row: no query, and no budget spent.
        if let Some(max) = self.inner.token_key_max_chars() {
            if key.chars().nth(max).is_some() {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
        }
        // A key the token table does not hold, past the filter's budget: no query, and none of
        // credential_lookups_per_second spent (junk cannot starve real new tokens of it).
        if let Some(filter) = &self.token_filter {
            if filter.admit(key, &self.location) == Admission::Refuse {
                return Ok(None);
            }
        }
        self.within_budget()?;
        self.observe(Kind::UserByToken, self.inner.user_by_token(key))
    }

    fn token_key_max_chars(&self) -> Option<usize> {
        self.inner.token_key_max_chars()
    }

    fn token_keys_compare_exactly(&self) -> bool {
        self.inner.token_keys_compare_exactly()
    }

    fn token_keys_after(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.inner.token_keys_after(after, limit)
    }

    fn token_keys_of_user(&self, pk: &str) -> Result<Vec<String>, StoreError> {
        self.inner.token_keys_of_user(pk)
    }

    fn user_by_username(&self, username: &str) -> Result<Option<UserWithPassword>, StoreError> {
        self.within_budget()?;
        self.observe(Kind::UserByUsername, self.inner.user_by_username(username))
    }

    fn user_permissions(&self, pk: &UserPk) -> Result<HashSet<String>, StoreError> {
        self.observe(Kind::UserPermissions, self.inner.user_permissions(pk))
    }

    fn summary(&self) -> Result<StoreSummary, StoreError> {
        self.observe(Kind::Summary, self.inner.summary())
    }

    fn session_data(&self, session_key: &str, now: &str) -> Result<Option<String>, StoreError> {
        self.within_budget()?;
        self.observe(Kind::SessionData, self.inner.session_data(session_key, now))
    }

    fn user_by_pk(&self, pk: &UserPk) -> Result<Option<UserWithPassword>, StoreError> {
        self.observe(Kind::UserByPk, self.inner.user_by_pk(pk))
    }

    fn user_by_field(
        &self,
        field: &str,
        value: &serde_json::Value,
    ) -> Result<FieldLookup, StoreError> {
        self.observe(Kind::UserByField, self.inner.user_by_field(field, value))
    }

    fn jti_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        self.observe(Kind::JtiBlacklisted, self.inner.jti_blacklisted(jti))
    }

    fn has_jwt_blacklist(&self) -> bool {
        self.inner.has_jwt_blacklist()
    }

    fn knox_tokens(&self, token_key: &str) -> Result<Vec<KnoxRow>, StoreError> {
        self.within_budget()?;
        self.observe(Kind::KnoxTokens, self.inner.knox_tokens(token_key))
    }

    fn has_knox_table(&self) -> bool {
        self.inner.has_knox_table()
    }
}
