//! The gate: a loaded config, its store and caches, answering one request at a time the way
//! DRF's `APIView.initial` does — route, authenticate, check permissions, then the method.
//!
//! A gate is built once and shared by every thread (`Gate: Send + Sync`).
//!
//! One job per file: this file builds a [`Gate`] from a [`Config`] and holds its public
//! methods; `policy` turns a view's configured classes into a [`Policy`]; `decide` is the
//! decision pipeline (route, authenticate, permissions, method); `explain` writes the steps and
//! hints `drfgate explain` shows; `revocable` is what the revocation listener empties.

mod authenticate;
mod decide;
mod explain;
mod policy;
mod revocable;

use std::cell::Cell;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::cache::{CacheConfig, CacheStats, CredentialCache, KeyDomain};
use crate::config::{Config, ConfigError, ParserClass, Route, Unmatched};
use crate::decision::{Decision, User, UserPk};
use crate::hashers::PasswordHashers;
use crate::request::Request;
use crate::store::{Store, StoreError, StoreSummary, Watched};
use crate::trace::{Trace, Tracer};

pub use policy::{GateRoute, Policy};

use decide::Lookup;
use policy::{build_policy, SharedAuth, ViewMedia};
use revocable::CachedCredentials;

/// The cache domain of a user's Django permissions (by user pk).
const PERMISSION_KEYS: KeyDomain = KeyDomain::new("user-permissions");

/// Why a gate could not be built.
#[derive(Debug)]
pub enum GateError {
    Config(ConfigError),
    Store(StoreError),
}

impl std::fmt::Display for GateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateError::Config(e) => write!(f, "{e}"),
            GateError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for GateError {}

impl From<ConfigError> for GateError {
    fn from(e: ConfigError) -> Self {
        GateError::Config(e)
    }
}

impl From<StoreError> for GateError {
    fn from(e: StoreError) -> Self {
        GateError::Store(e)
    }
}

/// A decision and the route whose policy reached it.
pub struct Judgement<'g> {
    pub decision: Decision,
    /// `None` when no route matched: the defaults decided, or `[gate] unmatched`.
    pub route: Option<&'g GateRoute>,
}

impl Judgement<'_> {
    /// [`GateRoute::label`], or `None` when no route matched.
    pub fn route_label(&self) -> Option<&str> {
        self.route.map(GateRoute::label)
    }
}

pub struct Gate {
    routes: Vec<GateRoute>,
    defaults: Policy,
    unmatched: Unmatched,
    /// The store, its failures told to the log once per incident.
    store: Watched,
    /// What the store said when the gate was built; `None` when the server did not answer.
    loaded_summary: Option<StoreSummary>,
    tokens: Arc<CredentialCache<Arc<User>>>,
    passwords: Arc<CredentialCache<Arc<User>>>,
    permissions: Arc<CredentialCache<Arc<HashSet<String>>>>,
    /// The caches a revocation drops entries from; the listener holds it weakly.
    revocable: Arc<CachedCredentials>,
    /// `[revocation]`'s listener, started at the first decision.
    revocation: Option<crate::revocation::Listener>,
    /// The keys of the token table, kept by the listener (`store/token_filter.rs`).
    token_filter: Option<Arc<crate::store::token_filter::TokenFilter>>,
    hashers: PasswordHashers,
    backends: crate::auth::Backends,
    sessions: crate::auth::Sessions,
    handoff: Option<Arc<crate::handoff::HandoffKey>>,
    throttling: crate::throttle::Throttling,
    failed_logins: crate::throttle::login::FailedLoginLimits,
    warnings: Vec<String>,
    /// `get_host()`'s settings, for the `ALLOWED_HOSTS` check before any view.
    hosts: crate::host::HostSettings,
    /// The same, worked out once for the check on every request.
    host_check: crate::host::HostCheck,
    /// Whether any policy a request can be judged by runs `SessionAuthentication`.
    sessions_in_use: bool,
    /// `URL_FORMAT_OVERRIDE`.
    url_format_override: Option<String>,
    /// Decisions that panicked (each refused with 500).
    panics: std::sync::atomic::AtomicU64,
}

/// Counters of the gate's caches.
#[derive(Clone, Debug, Default)]
pub struct GateStats {
    pub tokens: CacheStats,
    pub passwords: CacheStats,
    pub permissions: CacheStats,
    pub sessions: CacheStats,
    /// Store lookups that failed (the database down, locked, a table missing) since the gate
    /// was built.
    pub store_failures: u64,
    /// Whether the last lookup of some kind failed (an incident is going on).
    pub store_failing: bool,
    /// Decisions that panicked, each refused with 500 (a bug).
    pub panics: u64,
    /// Lookups refused by `[cache] credential_lookups_per_second` (each request 503).
    pub lookups_over_budget: u64,
    /// Token lookups answered `Invalid token.` without a query: the key is longer than the
    /// database's token column can hold.
    pub lookups_skipped: u64,
    /// `[revocation]`'s listener is connected and hearing revocations (always `false` without
    /// the section, and before the first decision starts it).
    pub revocation_listening: bool,
    /// The token filter (kept by `[revocation]`'s listener) is loaded and trusted: keys it does
    /// not hold are looked up only within `[cache] unlisted_token_lookups_per_second`.
    pub token_filter_authoritative: bool,
    /// Keys the token filter holds now.
    pub token_filter_keys: usize,
    /// Bytes of the token filter's table now.
    pub token_filter_bytes: usize,
    /// Token lookups answered `Invalid token.` without a query: the filter does not hold the
    /// key and this second's `unlisted_token_lookups_per_second` was spent.
    pub token_lookups_filtered: u64,
}

impl Gate {
    /// Loads a config file and opens its database.
    pub fn from_config_file(path: &Path) -> Result<Gate, GateError> {
        Gate::from_config(Config::from_file(path)?)
    }

    /// Loads a config given as text; relative paths in it are relative to `base`.
    pub fn from_config_str(text: &str, base: Option<&Path>) -> Result<Gate, GateError> {
        Gate::from_config(Config::from_str_with_origin(text, "<config>", base)?)
    }

    pub fn from_config(config: Config) -> Result<Gate, GateError> {
        let store = config.django.database.open(&config.django.schema)?;
        Gate::with_store(config, store)
    }

    /// Builds a gate over a given store (used by tests and by front ends with their own).
    pub fn with_store(config: Config, store: Box<dyn Store>) -> Result<Gate, GateError> {
        Gate::with_store_and_clock(config, store, Arc::new(crate::throttle::SystemClock))
    }

    /// [`Gate::with_store`] with the clock the throttles read (tests move a manual one).
    pub fn with_store_and_clock(
        config: Config,
        store: Box<dyn Store>,
        clock: Arc<dyn crate::throttle::WallClock>,
    ) -> Result<Gate, GateError> {
        Gate::with_clocks(config, store, clock, Arc::new(crate::cache::MonotonicClock))
    }

    /// [`Gate::with_store`] with the clock the credential caches (tokens, passwords,
    /// permissions, sessions) read their TTLs by: tests move a manual one to see what a
    /// cached answer becomes once its TTL is over, without sleeping.
    #[cfg(feature = "internals")]
    pub fn with_store_and_cache_clock(
        config: Config,
        store: Box<dyn Store>,
        cache_clock: Arc<dyn crate::cache::Clock>,
    ) -> Result<Gate, GateError> {
        Gate::with_clocks(
            config,
            store,
            Arc::new(crate::throttle::SystemClock),
            cache_clock,
        )
    }

    fn with_clocks(
        config: Config,
        store: Box<dyn Store>,
        clock: Arc<dyn crate::throttle::WallClock>,
        cache_clock: Arc<dyn crate::cache::Clock>,
    ) -> Result<Gate, GateError> {
        let throttling = crate::throttle::Throttling::new(
            crate::throttle::open_store(&config.throttling.store),
            clock,
            config.throttling.num_proxies,
        );
        let failed_logins = config.throttling.failed_logins;
        let loaded_summary = match store.summary() {
            Ok(summary) => {
                check_tables(&config, &*store, &summary)?;
                Some(summary)
            }
            // A database server that is down now is an outage like any later one: the gate
            // starts and refuses (503) what needs it until the server answers (the table
            // checks are then left to the lookups, which fail closed on a missing table).
            Err(err) if err.is_unreachable() => {
                log::warn!(
                    "database {} does not answer now; requests that need it are refused (503) \
                     until it does: {err}",
                    config.django.database.location()
                );
                None
            }
            Err(err) => return Err(err.into()),
        };
        let location = match &loaded_summary {
            Some(summary) => summary.location.clone(),
            None => config.django.database.location(),
        };
        // The token filter needs notifications to stay true (a listener), and a database that
        // compares keys byte for byte.
        let token_filter = (config.revocation.is_some()
            && config.uses_token_authentication()
            && store.token_keys_compare_exactly())
        .then(|| {
            Arc::new(crate::store::token_filter::TokenFilter::new(
                config.unlisted_token_lookups_per_second,
            ))
        });
        let mut store = Watched::new(store, location, config.credential_lookups_per_second);
        if let Some(filter) = &token_filter {
            store = store.with_token_filter(filter.clone());
        }
        let filter_keeper = token_filter.clone().map(|filter| {
            crate::store::filter_keeper::FilterKeeper::new(
                filter,
                store.shared_inner(),
                store.location().to_string(),
            )
        });
        let shared = SharedAuth {
            jwt: config
                .simple_jwt
                .clone()
                .map(|s| Arc::new(crate::auth::JwtShared::new(s, &config.cache))),
            knox: Arc::new(crate::auth::KnoxShared::new(
                &config.rest_knox,
                &config.cache,
            )),
        };
        for warning in &config.warnings {
            log::warn!("{warning}");
        }
        let default_parsers: Arc<[ParserClass]> =
            config.django.sessions.body.parsers.clone().into();
        let mut routes = Vec::with_capacity(config.routes.len());
        for route in config.routes {
            let Route {
                pattern,
                name,
                methods,
                authentication,
                permissions,
                model,
                throttles,
                renderers,
                parsers,
                pass,
                line,
            } = route;
            let parsers: Arc<[ParserClass]> = match parsers {
                Some(own) => own.into(),
                None => default_parsers.clone(),
            };
            let renderers = renderers.unwrap_or_else(|| config.default_renderers.clone());
            let classes = authentication.unwrap_or_else(|| config.default_authentication.clone());
            let permissions = permissions.unwrap_or_else(|| config.default_permissions.clone());
            let label: Arc<str> = name.as_deref().unwrap_or(pattern.source()).into();
            routes.push(GateRoute {
                pattern,
                name,
                label,
                line,
                policy: build_policy(
                    &shared,
                    &classes,
                    permissions,
                    model,
                    methods.as_deref(),
                    throttles,
                    ViewMedia { renderers, parsers },
                ),
                pass,
            });
        }
        let defaults = build_policy(
            &shared,
            &config.default_authentication,
            config.default_permissions.clone(),
            None,
            None,
            config.default_throttles.clone(),
            ViewMedia {
                renderers: config.default_renderers.clone(),
                parsers: default_parsers,
            },
        );
        let negative_off = CacheConfig {
            negative_max_entries: 0,
            ..config.cache.clone()
        };
        let permissions_cache = CacheConfig {
            ttl: config.permissions_ttl,
            ..negative_off.clone()
        };
        let sessions = crate::auth::Sessions::new(
            config.django.sessions,
            config.django.secret_key.as_ref().map(|k| k.0.as_str()),
            CredentialCache::with_clock(config.cache.clone(), cache_clock.clone()),
        );
        let tokens = Arc::new(CredentialCache::with_clock(
            config.cache.clone(),
            cache_clock.clone(),
        ));
        let passwords = Arc::new(CredentialCache::with_clock(
            negative_off,
            cache_clock.clone(),
        ));
        let permissions = Arc::new(CredentialCache::with_clock(permissions_cache, cache_clock));
        let revocable = Arc::new(CachedCredentials {
            tokens: tokens.clone(),
            passwords: passwords.clone(),
            permissions: permissions.clone(),
            sessions: sessions.cache.clone(),
            jwt: shared.jwt.clone(),
            knox: shared.knox.clone(),
            filter_keeper,
        });
        let revocation = config.revocation.map(|settings| {
            let target: Arc<dyn crate::revocation::Revocable> = revocable.clone();
            crate::revocation::Listener::new(settings, &target)
        });
        let sessions_in_use = routes.iter().any(|r| !r.pass && r.policy.uses_session)
            || (config.unmatched == Unmatched::Defaults && defaults.uses_session);
        Ok(Gate {
            token_filter,
            sessions_in_use,
            revocable,
            revocation,
            host_check: crate::host::HostCheck::new(&config.django.hosts),
            hosts: config.django.hosts,
            url_format_override: config.url_format_override,
            sessions,
            routes,
            defaults,
            unmatched: config.unmatched,
            store,
            loaded_summary,
            tokens,
            passwords,
            permissions,
            hashers: config.django.hashers,
            backends: config.django.backends,
            handoff: config.handoff,
            throttling,
            failed_logins,
            warnings: config.warnings,
            panics: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// DRF's answer for this request.
    /// How many bytes of the request body the decision needs, when it needs them: a
    /// session-authenticated POST whose CSRF check DRF runs on the parsed body (a form's
    /// `csrfmiddlewaretoken`, a JSON body that must parse). A front end that can read the
    /// body reads that many bytes (never more than `DATA_UPLOAD_MAX_MEMORY_SIZE`), keeps
    /// them for the application, and decides with [`Request::with_body`]; without them the
    /// gate defers such a request to the application. `None`: decide without the body.
    pub fn body_wanted(&self, request: &Request<'_>) -> Option<u64> {
        // Only a session POST wants its body (`Sessions::body_wanted`): a front end asks
        // before every decision, and most requests are answered here without the route.
        if !self.sessions_in_use || !request.method.eq_ignore_ascii_case(b"POST") {
            return None;
        }
        let path_info = request.path_info();
        let policy = match self
            .routes
            .iter()
            .find(|r| r.pattern.matches_path_info(&path_info))
        {
            Some(route) if route.pass => return None,
            Some(route) => &route.policy,
            None if self.unmatched == Unmatched::Defaults => &self.defaults,
            None => return None,
        };
        if !policy.uses_session {
            return None;
        }
        self.sessions.body_wanted(request, &policy.parsers)
    }

    pub fn decide(&self, request: &Request<'_>) -> Decision {
        self.decide_traced(request, &mut Tracer::off(), Lookup::Full)
    }

    /// DRF's answer when it can be given without touching the database or running a
    /// password hasher: from the caches (a token or a verified password seen within the
    /// TTL, a user's permissions), or from the request alone (no credentials, a malformed
    /// header, a route that needs no authentication). `None` means [`Gate::decide`] must be
    /// called, which may block on SQLite or a slow hasher: an async front end answers the
    /// `Some` case inline and sends the rest to a blocking pool.
    ///
    /// Whenever it answers, the answer is the one `decide` would give at that moment.
    pub fn decide_cached(&self, request: &Request<'_>) -> Option<Decision> {
        let missed = Cell::new(false);
        let decision = self.decide_traced(
            request,
            &mut Tracer::off(),
            Lookup::CachesOnly { missed: &missed },
        );
        (!missed.get()).then_some(decision)
    }

    /// [`Gate::decide`], with the route the request was judged by: front ends pass that
    /// on to the application so a test (or an operator) can compare it with the route
    /// Django resolved.
    pub fn judge(&self, request: &Request<'_>) -> Judgement<'_> {
        self.judge_traced(request, &mut Tracer::off(), Lookup::Full)
    }

    /// [`Gate::decide_cached`], with the route the request was judged by.
    pub fn judge_cached(&self, request: &Request<'_>) -> Option<Judgement<'_>> {
        let missed = Cell::new(false);
        let judgement = self.judge_traced(
            request,
            &mut Tracer::off(),
            Lookup::CachesOnly { missed: &missed },
        );
        (!missed.get()).then_some(judgement)
    }

    /// The answer and the story of how it was reached.
    pub fn explain(&self, request: &Request<'_>) -> (Decision, Trace) {
        let mut trace = Trace::default();
        let decision =
            self.decide_traced(request, &mut Tracer::new(Some(&mut trace)), Lookup::Full);
        (decision, trace)
    }

    /// Drops a token's cached user (after the token was deleted or regenerated).
    pub fn invalidate_token(&self, key: &[u8]) {
        let key = self.tokens.key(crate::auth::TOKEN_KEYS, &[key]);
        self.tokens.invalidate(&key);
    }

    /// Drops everything cached about a user (after a password, flag or permission change), and
    /// returns how many entries there were. Lookups already in flight do not store what they
    /// read, even when nothing was cached yet, so the change wins over them.
    pub fn invalidate_user(&self, pk: &UserPk) -> usize {
        self.revocable.invalidate_user(pk)
    }

    /// Where `[revocation]` listens, when it does (for `drfgate check` and logs).
    pub fn revocation_source(&self) -> Option<String> {
        self.revocation
            .as_ref()
            .map(crate::revocation::Listener::describe)
    }

    /// Starts `[revocation]`'s listener thread if the config has one and it is not running;
    /// the first decision does it too.
    pub fn start_revocation_listener(&self) {
        if let Some(listener) = &self.revocation {
            listener.ensure_started();
        }
    }

    pub fn stats(&self) -> GateStats {
        GateStats {
            tokens: self.tokens.stats(),
            passwords: self.passwords.stats(),
            permissions: self.permissions.stats(),
            sessions: self.sessions.cache.stats(),
            store_failures: self.store.failures(),
            store_failing: self.store.failing(),
            panics: self.panics.load(std::sync::atomic::Ordering::Relaxed),
            lookups_over_budget: self.store.over_budget(),
            lookups_skipped: self.store.skipped(),
            revocation_listening: self
                .revocation
                .as_ref()
                .is_some_and(crate::revocation::Listener::listening),
            token_filter_authoritative: self
                .token_filter
                .as_ref()
                .is_some_and(|f| f.is_authoritative()),
            token_filter_keys: self.token_filter.as_ref().map_or(0, |f| f.len()),
            token_filter_bytes: self.token_filter.as_ref().map_or(0, |f| f.table_bytes()),
            token_lookups_filtered: self.token_filter.as_ref().map_or(0, |f| f.refused()),
        }
    }

    pub fn routes(&self) -> &[GateRoute] {
        &self.routes
    }

    pub fn default_policy(&self) -> &Policy {
        &self.defaults
    }

    /// `[handoff]`: the signature of an allowed request's identity for the application
    /// (`X-Drfgate-Signature`), when the config has a key; `None` for any other decision.
    /// Inlined: front ends ask on every decision, and most configs have no key.
    #[inline]
    pub fn handoff(
        &self,
        request: &Request<'_>,
        decision: &Decision,
    ) -> Option<crate::handoff::Handoff> {
        let key = self.handoff.as_ref()?;
        match decision {
            Decision::Allow(identity) => {
                Some(key.sign_now(request.method, &request.path_info(), identity.as_ref()))
            }
            Decision::Pass | Decision::Deny(_) => None,
        }
    }

    /// Where throttle histories are kept, for logs and `drfgate check`.
    pub fn throttle_store(&self) -> String {
        self.throttling.store().describe()
    }

    pub fn unmatched(&self) -> Unmatched {
        self.unmatched
    }

    pub fn store_summary(&self) -> Result<StoreSummary, StoreError> {
        self.store.summary()
    }

    /// The store's summary as read when the gate was built, without asking again; `None`
    /// when the database server did not answer then (the gate started during an outage).
    pub fn loaded_summary(&self) -> Option<&StoreSummary> {
        self.loaded_summary.as_ref()
    }

    /// Where the database is, without its password: a path, or a server's URL.
    pub fn database_location(&self) -> &str {
        self.store.location()
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// The tables the configured classes need, checked when the database answers at load: a
/// config naming a class whose table was never migrated is refused then, with what to do.
fn check_tables(
    config: &Config,
    store: &dyn Store,
    summary: &StoreSummary,
) -> Result<(), GateError> {
    if config.uses_token_authentication() && summary.tokens.is_none() {
        return Err(GateError::Store(StoreError::new(format!(
            "{}: TokenAuthentication is configured but the database has no table {:?} (TOKEN_TABLE); \
             is rest_framework.authtoken in INSTALLED_APPS and migrated?",
            summary.location, config.django.schema.token_table
        ))));
    }
    if config.uses_knox() && !store.has_knox_table() {
        return Err(GateError::Store(StoreError::new(format!(
            "{}: knox.auth.TokenAuthentication is configured but the database has no table {:?}; \
             is knox in INSTALLED_APPS and migrated?",
            summary.location, config.django.schema.knox_table
        ))));
    }
    if config.uses_jwt_blacklist() && !store.has_jwt_blacklist() {
        return Err(GateError::Store(StoreError::new(format!(
            "{}: simple_jwt.token_blacklist_installed is set but the database has no \
             token_blacklist tables; is rest_framework_simplejwt.token_blacklist migrated?",
            summary.location
        ))));
    }
    Ok(())
}
