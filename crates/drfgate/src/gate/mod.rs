//! The gate: a loaded config, its store and caches, answering one request at a time the way
//! DRF's `APIView.initial` does — route, authenticate, check permissions, then the method.
//!
//! A gate is built once and shared by every thread (`Gate: Send + Sync`).

use std::cell::Cell;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::auth::{
    Authenticator, BasicAuthentication, Context, Outcome, RemoteUserAuthentication,
    SessionAuthentication, TokenAuthentication,
};
use crate::cache::{CacheConfig, CacheStats, Cached, CredentialCache, KeyDomain};
use crate::config::{AuthClass, AuthKind, Config, ConfigError, Route, Unmatched};
use crate::decision::{Decision, Identity, User, UserPk};
use crate::exceptions::ApiError;
use crate::hashers::PasswordHashers;
use crate::permissions::{ModelLabel, Permission, PermissionContext};
use crate::request::{Method, Request};
use crate::routes::RoutePattern;
use crate::store::{Store, StoreError, StoreSummary};
use crate::trace::{Stage, Trace, Tracer};

const PERMISSION_KEYS: KeyDomain = KeyDomain::new("user-permissions");

/// Where a decision may take what it needs to know about credentials and users.
#[derive(Clone, Copy)]
enum Lookup<'a> {
    /// The caches, then the store and the password hashers.
    Full,
    /// The caches alone. A question they cannot answer sets the flag, and the decision
    /// reached is thrown away.
    CachesOnly { missed: &'a Cell<bool> },
}

impl Lookup<'_> {
    fn miss(self) -> ApiError {
        if let Lookup::CachesOnly { missed } = self {
            missed.set(true);
        }
        ApiError::ServerError
    }
}

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

/// One view's policy: its authenticators, permissions and implemented methods.
pub struct Policy {
    pub authenticators: Vec<Arc<dyn Authenticator>>,
    /// The first class's `authenticate_header()`; decides 401 vs 403.
    challenge: Option<Arc<str>>,
    pub permissions: Vec<Permission>,
    pub model: Option<ModelLabel>,
    /// `None`: the view answers every method. Otherwise DRF's implemented methods,
    /// with OPTIONS always and HEAD when GET is there.
    methods: Option<Vec<Box<[u8]>>>,
    allow: Option<Arc<str>>,
}

impl Policy {
    pub fn challenge(&self) -> Option<&str> {
        self.challenge.as_deref()
    }

    /// The `Allow` header DRF would send, when the route lists its methods.
    pub fn allow(&self) -> Option<&str> {
        self.allow.as_deref()
    }
}

/// A compiled route and its policy.
pub struct GateRoute {
    pub pattern: RoutePattern,
    pub name: Option<String>,
    label: Arc<str>,
    pub line: Option<usize>,
    pub policy: Policy,
}

impl GateRoute {
    /// How the route is named to the application and in logs: its `name`, else its
    /// pattern as written in the config.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// [`GateRoute::label`], shared: for answers that outlive a borrow of the gate.
    pub fn shared_label(&self) -> Arc<str> {
        self.label.clone()
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
    store: Box<dyn Store>,
    tokens: CredentialCache<Arc<User>>,
    passwords: CredentialCache<Arc<User>>,
    permissions: CredentialCache<Arc<HashSet<String>>>,
    hashers: PasswordHashers,
    backends: crate::auth::Backends,
    warnings: Vec<String>,
}

/// Counters of the gate's caches.
#[derive(Clone, Debug, Default)]
pub struct GateStats {
    pub tokens: CacheStats,
    pub passwords: CacheStats,
    pub permissions: CacheStats,
}

/// DRF's `Allow` order: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, then anything else.
const ALLOW_ORDER: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

fn implemented_methods(listed: &[String]) -> Vec<String> {
    let mut set: Vec<String> = listed.to_vec();
    if set.iter().any(|m| m == "GET") && !set.iter().any(|m| m == "HEAD") {
        set.push("HEAD".into());
    }
    if !set.iter().any(|m| m == "OPTIONS") {
        set.push("OPTIONS".into());
    }
    let rank = |m: &String| {
        ALLOW_ORDER
            .iter()
            .position(|o| o == m)
            .unwrap_or(ALLOW_ORDER.len())
    };
    set.sort_by_key(rank);
    set.dedup();
    set
}

fn build_authenticator(class: &AuthClass) -> Arc<dyn Authenticator> {
    match &class.kind {
        AuthKind::Token { keyword } => {
            Arc::new(TokenAuthentication::new(class.name.clone(), keyword))
        }
        AuthKind::Basic { realm } => Arc::new(BasicAuthentication::new(class.name.clone(), realm)),
        AuthKind::Session => Arc::new(SessionAuthentication::new(class.name.clone())),
        AuthKind::RemoteUser { source } => Arc::new(RemoteUserAuthentication::new(
            class.name.clone(),
            source.clone(),
        )),
    }
}

fn build_policy(
    classes: &[AuthClass],
    permissions: Vec<Permission>,
    model: Option<ModelLabel>,
    methods: Option<&[String]>,
) -> Policy {
    let authenticators: Vec<Arc<dyn Authenticator>> =
        classes.iter().map(build_authenticator).collect();
    let challenge = authenticators
        .first()
        .and_then(|a| a.authenticate_header().cloned());
    let methods = methods.map(implemented_methods);
    let allow = methods.as_ref().map(|m| Arc::from(m.join(", ")));
    Policy {
        authenticators,
        challenge,
        permissions,
        model,
        methods: methods.map(|m| {
            m.into_iter()
                .map(|s| s.into_bytes().into_boxed_slice())
                .collect()
        }),
        allow,
    }
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
        for warning in &config.warnings {
            log::warn!("{warning}");
        }
        let uses_model = |perms: &[Permission]| {
            perms
                .iter()
                .any(|p| p.classes().iter().any(|c| c.needs_model()))
        };
        let mut routes = Vec::with_capacity(config.routes.len());
        for (i, route) in config.routes.into_iter().enumerate() {
            let Route {
                pattern,
                name,
                methods,
                authentication,
                permissions,
                model,
                line,
            } = route;
            let classes = authentication.unwrap_or_else(|| config.default_authentication.clone());
            let permissions = permissions.unwrap_or_else(|| config.default_permissions.clone());
            if uses_model(&permissions) && model.is_none() {
                return Err(GateError::Config(ConfigError {
                    origin: config.origin.clone(),
                    line,
                    key: format!("routes[{i}].model"),
                    message: "DjangoModelPermissions needs the view's model: add model = \"app_label.model\"".into(),
                }));
            }
            let label: Arc<str> = name.as_deref().unwrap_or(pattern.source()).into();
            routes.push(GateRoute {
                pattern,
                name,
                label,
                line,
                policy: build_policy(&classes, permissions, model, methods.as_deref()),
            });
        }
        let defaults = build_policy(
            &config.default_authentication,
            config.default_permissions.clone(),
            None,
            None,
        );
        let uses_tokens = routes
            .iter()
            .map(|r| &r.policy)
            .chain(std::iter::once(&defaults))
            .flat_map(|p| &p.authenticators)
            .any(|a| {
                a.authenticate_header()
                    .is_some_and(|h| !h.starts_with("Basic "))
            });
        let summary = store.summary()?;
        if uses_tokens && summary.tokens.is_none() {
            return Err(GateError::Store(StoreError::new(format!(
                "{}: TokenAuthentication is configured but the database has no table {:?} (TOKEN_TABLE); \
                 is rest_framework.authtoken in INSTALLED_APPS and migrated?",
                summary.location, config.django.schema.token_table
            ))));
        }
        let negative_off = CacheConfig {
            negative_max_entries: 0,
            ..config.cache.clone()
        };
        let permissions_cache = CacheConfig {
            ttl: config.permissions_ttl,
            ..negative_off.clone()
        };
        Ok(Gate {
            routes,
            defaults,
            unmatched: config.unmatched,
            store,
            tokens: CredentialCache::new(config.cache.clone()),
            passwords: CredentialCache::new(negative_off),
            permissions: CredentialCache::new(permissions_cache),
            hashers: config.django.hashers,
            backends: config.django.backends,
            warnings: config.warnings,
        })
    }

    /// DRF's answer for this request.
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

    fn decide_traced(
        &self,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
    ) -> Decision {
        self.judge_traced(request, trace, lookup).decision
    }

    fn judge_traced(
        &self,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
    ) -> Judgement<'_> {
        let path_info = request.path_info();
        let route = self
            .routes
            .iter()
            .find(|r| r.pattern.matches_path_info(&path_info));
        let decision = match route {
            Some(route) => {
                trace.step(
                    Stage::Route,
                    || describe_route(route),
                    || format!("matched path_info {path_info:?}"),
                );
                self.decide_on_policy(&route.policy, request, trace, lookup)
            }
            None => self.decide_unmatched(&path_info, request, trace, lookup),
        };
        Judgement { decision, route }
    }

    fn decide_unmatched(
        &self,
        path_info: &str,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
    ) -> Decision {
        let no_route = || format!("no route matched path_info {path_info:?}");
        match self.unmatched {
            Unmatched::Defaults => {
                trace.step(Stage::Route, no_route, || {
                    "applying DEFAULT_AUTHENTICATION_CLASSES and DEFAULT_PERMISSION_CLASSES".into()
                });
                self.decide_on_policy(&self.defaults, request, trace, lookup)
            }
            Unmatched::Pass => {
                trace.step(Stage::Route, no_route, || {
                    "passed through untouched ([gate] unmatched = \"pass\")".into()
                });
                Decision::Allow(None)
            }
            Unmatched::Deny => {
                trace.step(Stage::Route, no_route, || {
                    "refused ([gate] unmatched = \"deny\")".into()
                });
                Decision::Deny(crate::exceptions::not_found())
            }
        }
    }

    /// DRF's `APIView.initial` for one view's policy: authenticate, check permissions, then
    /// the method.
    fn decide_on_policy(
        &self,
        policy: &Policy,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
    ) -> Decision {
        let method = Method::new(request.method);
        let deny = |error: ApiError, trace: &mut Tracer<'_>| {
            let unauthenticated = matches!(
                error,
                ApiError::NotAuthenticated | ApiError::AuthenticationFailed(_)
            );
            let deny = error.into_deny(policy.challenge.as_ref(), policy.allow.as_ref());
            trace.step(Stage::Result, || "decision".into(), || {
                let why = match (unauthenticated, policy.challenge.as_deref()) {
                    (true, Some(c)) => format!(
                        " (401 because the first authentication class answers WWW-Authenticate: {c})"
                    ),
                    (true, None) => " (403, not 401, because the first authentication class has \
                                     no WWW-Authenticate challenge)"
                        .to_string(),
                    (false, _) => String::new(),
                };
                format!("deny {} {}{why}", deny.status, String::from_utf8_lossy(&deny.body))
            });
            Decision::Deny(deny)
        };

        let identity = match self.authenticate(policy, request, trace, lookup) {
            Ok(identity) => identity,
            Err(error) => return deny(error, trace),
        };
        if identity.is_none() {
            if policy.authenticators.is_empty() {
                trace.step(
                    Stage::Authentication,
                    || "no authentication classes".into(),
                    || "anonymous".into(),
                );
            } else if trace.enabled() {
                self.hint_missing_credentials(policy, request, trace);
            }
        }

        let permissions_of = |identity: &Identity| match lookup {
            Lookup::Full => self.user_permissions(&identity.user.pk),
            Lookup::CachesOnly { .. } => self
                .cached_user_permissions(&identity.user.pk)
                .ok_or_else(|| lookup.miss()),
        };
        let cx = PermissionContext {
            method: &method,
            identity: identity.as_ref(),
            model: policy.model.as_ref(),
            user_permissions: &permissions_of,
        };
        for permission in &policy.permissions {
            match permission.has_permission(&cx) {
                Ok(true) => {
                    trace.step(
                        Stage::Permission,
                        || permission.to_string(),
                        || "granted".into(),
                    );
                }
                Ok(false) => {
                    trace.step(
                        Stage::Permission,
                        || permission.to_string(),
                        || "refused".into(),
                    );
                    let error = if !policy.authenticators.is_empty() && identity.is_none() {
                        ApiError::NotAuthenticated
                    } else {
                        if trace.enabled() {
                            hint_permission(permission, identity.as_ref(), trace);
                        }
                        permission.denial()
                    };
                    return deny(error, trace);
                }
                Err(error) => {
                    trace.step(
                        Stage::Permission,
                        || permission.to_string(),
                        || format!("raised {}", error.describe()),
                    );
                    return deny(error, trace);
                }
            }
        }

        if let Some(methods) = &policy.methods {
            if !methods.iter().any(|m| **m == *method.as_bytes()) {
                trace.step(
                    Stage::Method,
                    || method.to_text(),
                    || {
                        format!(
                            "not implemented by the view (Allow: {})",
                            policy.allow.as_deref().unwrap_or("")
                        )
                    },
                );
                return deny(ApiError::MethodNotAllowed(method.to_text().into()), trace);
            }
        }
        trace.step(
            Stage::Result,
            || "decision".into(),
            || match &identity {
                Some(i) => format!(
                    "allow as {:?} (pk {}, via {})",
                    i.user.username, i.user.pk, i.authenticator
                ),
                None => "allow as AnonymousUser".into(),
            },
        );
        Decision::Allow(identity)
    }

    /// DRF's authentication loop: first success wins, a failure stops the chain.
    fn authenticate(
        &self,
        policy: &Policy,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
    ) -> Result<Option<Identity>, ApiError> {
        let cx = Context {
            store: self.store.as_ref(),
            tokens: &self.tokens,
            passwords: &self.passwords,
            hashers: &self.hashers,
            backends: &self.backends,
        };
        for authenticator in &policy.authenticators {
            let outcome = match lookup {
                Lookup::Full => authenticator.authenticate(request, &cx, trace),
                Lookup::CachesOnly { .. } => {
                    match authenticator.authenticate_cached(request, &cx, trace) {
                        Some(outcome) => outcome,
                        None => return Err(lookup.miss()),
                    }
                }
            };
            match outcome {
                Outcome::Decline => continue,
                Outcome::Success(identity) => return Ok(Some(identity)),
                Outcome::Fail(error) => return Err(error),
            }
        }
        Ok(None)
    }

    fn user_permissions(&self, pk: &UserPk) -> Result<Arc<HashSet<String>>, ApiError> {
        let key = self
            .permissions
            .key(PERMISSION_KEYS, &[pk.to_string().as_bytes()]);
        match self.permissions.get_or_load(key, || {
            self.store
                .user_permissions(pk)
                .map(|p| Cached::Found(Arc::new(p)))
                .map_err(Arc::new)
        }) {
            Ok(Cached::Found(perms)) => Ok(perms),
            Ok(Cached::Unknown) => Ok(Arc::new(HashSet::new())),
            Err(err) => {
                log::error!("permission lookup failed, refusing the request: {err}");
                Err(ApiError::ServerError)
            }
        }
    }

    /// A user's permissions if cached and fresh.
    fn cached_user_permissions(&self, pk: &UserPk) -> Option<Arc<HashSet<String>>> {
        let key = self
            .permissions
            .key(PERMISSION_KEYS, &[pk.to_string().as_bytes()]);
        match self.permissions.get(&key)? {
            Cached::Found(perms) => Some(perms),
            Cached::Unknown => Some(Arc::new(HashSet::new())),
        }
    }

    fn hint_missing_credentials(
        &self,
        policy: &Policy,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
    ) {
        match request.header("Authorization") {
            None => trace.hint(|| {
                "the request has no Authorization header at all. If a client did send one, the server \
                 in front is not passing it on: mod_wsgi needs `WSGIPassAuthorization On`, and a proxy \
                 must forward the header"
                    .into()
            }),
            Some(value) => {
                let first = crate::header::split_ascii_whitespace(&value).next().map(<[u8]>::to_vec);
                let keywords: Vec<String> = policy
                    .authenticators
                    .iter()
                    .filter_map(|a| a.authenticate_header())
                    .map(|h| h.split(' ').next().unwrap_or("").to_string())
                    .collect();
                if let Some(first) = first {
                    let sent = String::from_utf8_lossy(&first).into_owned();
                    trace.hint(|| {
                        format!(
                            "the Authorization header uses the keyword {sent:?}, which no configured class \
                             accepts (they expect: {}); e.g. DRF's TokenAuthentication wants `Token <key>`, \
                             not `Bearer <key>` — configure a subclass with keyword = \"Bearer\" if clients send Bearer",
                            if keywords.is_empty() { "none".to_string() } else { keywords.join(", ") }
                        )
                    });
                }
            }
        }
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
        let by_pk = |u: &Arc<User>| u.pk == *pk;
        let key = self
            .permissions
            .key(PERMISSION_KEYS, &[pk.to_string().as_bytes()]);
        self.tokens.invalidate_where(by_pk)
            + self.passwords.invalidate_where(by_pk)
            + usize::from(self.permissions.invalidate(&key))
    }

    pub fn stats(&self) -> GateStats {
        GateStats {
            tokens: self.tokens.stats(),
            passwords: self.passwords.stats(),
            permissions: self.permissions.stats(),
        }
    }

    pub fn routes(&self) -> &[GateRoute] {
        &self.routes
    }

    pub fn default_policy(&self) -> &Policy {
        &self.defaults
    }

    pub fn unmatched(&self) -> Unmatched {
        self.unmatched
    }

    pub fn store_summary(&self) -> Result<StoreSummary, StoreError> {
        self.store.summary()
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

fn describe_route(route: &GateRoute) -> String {
    let mut out = format!("route {:?}", route.pattern.source());
    if let Some(name) = &route.name {
        out.push_str(&format!(" ({name})"));
    }
    if let Some(line) = route.line {
        out.push_str(&format!(" at line {line}"));
    }
    out
}

fn hint_permission(permission: &Permission, identity: Option<&Identity>, trace: &mut Tracer<'_>) {
    use crate::permissions::PermissionClass;
    let Some(identity) = identity else { return };
    let classes = permission.classes();
    if classes.contains(&PermissionClass::IsAdminUser) && !identity.user.is_staff {
        trace.hint(|| {
            if identity.user.is_superuser {
                format!(
                    "IsAdminUser checks is_staff only: user {:?} is a superuser but not staff",
                    identity.user.username
                )
            } else {
                format!(
                    "IsAdminUser needs is_staff: user {:?} is not staff",
                    identity.user.username
                )
            }
        });
    }
    if classes.iter().any(|c| c.needs_model()) {
        trace.hint(|| {
            format!(
                "DjangoModelPermissions: user {:?} lacks the model permission for this method \
                 (directly or through a group)",
                identity.user.username
            )
        });
    }
}
