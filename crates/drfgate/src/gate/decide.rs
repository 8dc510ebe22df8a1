//! The decision pipeline: Django's `CommonMiddleware` host check, then DRF's `APIView.initial`:
//! find the route (or apply `[gate] unmatched`), negotiate the renderer, run the
//! authentication classes in order, check each permission, then the method; every step is
//! told to the tracer for `drfgate explain`.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Arc;

use super::explain::{describe_route, hint_permission};
use super::{Gate, GateRoute, Judgement, Policy, PERMISSION_KEYS};
use crate::cache::Cached;
use crate::config::Unmatched;
use crate::decision::{Decision, Identity, UserPk};
use crate::exceptions::ApiError;
use crate::negotiation::{Negotiated, Negotiation};
use crate::permissions::PermissionContext;
use crate::request::{Method, Request};
use crate::store::Store;
use crate::trace::{Stage, Tracer};

/// Where a decision may take what it needs to know about credentials and users.
#[derive(Clone, Copy)]
pub(super) enum Lookup<'a> {
    /// The caches, then the store and the password hashers.
    Full,
    /// The caches alone. A question they cannot answer sets the flag, and the decision
    /// reached is thrown away.
    CachesOnly { missed: &'a Cell<bool> },
}

impl Lookup<'_> {
    pub(super) fn miss(self) -> ApiError {
        if let Lookup::CachesOnly { missed } = self {
            missed.set(true);
        }
        ApiError::ServerError
    }
}

/// Why the authentication loop stopped without an identity.
pub(super) enum Stop {
    /// DRF's error (a failed authenticator, or a store failure).
    Error(ApiError),
    /// An authenticator could not finish DRF's answer: the application decides.
    Defer,
    /// The failed-login limiter refused before any authenticator ran: DRF's 429 with this
    /// wait.
    Locked(Option<f64>),
}

/// A refusal of the view's pipeline as DRF renders it: with the negotiated JSON renderer
/// (`Some(indent)`, pretty-printed with an indent), or by another renderer, whose bytes are
/// the application's to write (`None`: a pass). The gate's own failures (500, 503) stay
/// refusals whatever was negotiated: fail closed.
fn rendered(
    deny: crate::decision::Deny,
    refusals: Option<Option<usize>>,
    trace: &mut Tracer<'_>,
) -> Decision {
    if deny.status >= 500 {
        return Decision::Deny(deny);
    }
    match refusals {
        Some(None) => Decision::Deny(deny),
        Some(Some(indent)) => match crate::exceptions::render_indented(&deny.body, indent) {
            Some(body) => Decision::Deny(crate::decision::Deny { body, ..deny }),
            None => Decision::Pass,
        },
        None => {
            trace.step(
                Stage::Result,
                || "decision".into(),
                || {
                    "pass: DRF renders this refusal with the negotiated renderer, not as the \
                     gate's JSON"
                        .into()
                },
            );
            Decision::Pass
        }
    }
}

fn throttle_names(policy: &Policy) -> String {
    let names: Vec<String> = policy
        .throttles
        .iter()
        .map(|t| match t.rate {
            Some(rate) => format!("{} ({}: {}/{}s)", t.class, t.scope, rate.num, rate.duration),
            None => format!("{} (no rate)", t.class),
        })
        .collect();
    names.join(", ")
}

impl Gate {
    /// [`Gate::judge_traced`]'s decision alone: the route is not asked for.
    pub(super) fn decide_traced(
        &self,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
    ) -> Decision {
        self.decide_guarded(request, trace, lookup, &mut None)
    }

    pub(super) fn judge_traced(
        &self,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
    ) -> Judgement<'_> {
        let mut route = None;
        let decision = self.decide_guarded(request, trace, lookup, &mut route);
        Judgement { decision, route }
    }

    /// The decision, behind a panic boundary: a bug that panics inside one decision (in an
    /// authenticator, a store, a hasher) refuses that request with DRF's 500 and nothing
    /// else. What a panicking decision leaves behind is safe to keep using: the caches' locks
    /// do not poison, and a panicking load abandons its single flight, so waiters load again.
    /// The route that decided is written to `route` (left `None` when none matched, or on a
    /// panic); the decision is returned, built once where the caller wants it.
    fn decide_guarded<'g>(
        &'g self,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
        route: &mut Option<&'g GateRoute>,
    ) -> Decision {
        self.start_revocation_listener();
        let decided = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.decide_unguarded(request, trace, lookup, route)
        }));
        decided.unwrap_or_else(|_| {
            *route = None;
            let panics = self
                .panics
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // The panic hook has printed the panic itself; say what became of the request,
            // once, so a panic on every request does not flood the log twice over.
            if panics == 0 {
                log::error!(
                    "a decision panicked (a bug in drfgate, please report it); that request \
                     was refused with 500, and so is any other that panics"
                );
            }
            Decision::Deny(ApiError::ServerError.into_deny(None, None))
        })
    }

    fn decide_unguarded<'g>(
        &'g self,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
        matched: &mut Option<&'g GateRoute>,
    ) -> Decision {
        let (path_info, query) = request.path_info_and_query();
        let route = self
            .routes
            .iter()
            .find(|r| r.pattern.matches_path_info(&path_info));
        *matched = route;
        match route {
            Some(route) if route.pass => {
                trace.step(
                    Stage::Route,
                    || describe_route(route),
                    || format!("matched path_info {path_info:?}: passed through untouched (pass = true)"),
                );
                Decision::Pass
            }
            Some(route) => {
                trace.step(
                    Stage::Route,
                    || describe_route(route),
                    || format!("matched path_info {path_info:?}"),
                );
                match self.check_host(request, trace) {
                    Some(decision) => decision,
                    None => {
                        let suffix = route.pattern.format_kwarg(&path_info);
                        self.decide_on_policy(
                            &route.policy,
                            request,
                            query,
                            suffix.as_deref(),
                            trace,
                            lookup,
                        )
                    }
                }
            }
            None => self.decide_unmatched(&path_info, query, request, trace, lookup),
        }
    }

    fn decide_unmatched(
        &self,
        path_info: &str,
        query: &[u8],
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
                if let Some(decision) = self.check_host(request, trace) {
                    return decision;
                }
                self.decide_on_policy(&self.defaults, request, query, None, trace, lookup)
            }
            Unmatched::Pass => {
                trace.step(Stage::Route, no_route, || {
                    "passed through untouched ([gate] unmatched = \"pass\")".into()
                });
                Decision::Pass
            }
            Unmatched::Deny => {
                trace.step(Stage::Route, no_route, || {
                    "refused ([gate] unmatched = \"deny\")".into()
                });
                if let Some(decision) = self.check_host(request, trace) {
                    return decision;
                }
                Decision::Deny(crate::exceptions::not_found())
            }
        }
    }

    /// `CommonMiddleware`'s `request.get_host()`, before URL resolution and the view: `None`
    /// when the request goes on, else Django's 400 (or a pass where Django's answer is not
    /// the gate's to give).
    fn check_host(&self, request: &Request<'_>, trace: &mut Tracer<'_>) -> Option<Decision> {
        if !self.hosts.checked_before_views {
            return None;
        }
        match self.host_check.allows(request) {
            // A valid host goes on untold. Without a Host (HTTP/1.1 requires one) Django
            // validates SERVER_NAME and SERVER_PORT, which only the WSGI server knows
            // (docs/differences.md): the request is judged without the check.
            Some(true) | None => None,
            Some(false) if self.hosts.debug => {
                trace.step(
                    Stage::Host,
                    || "Host".into(),
                    || "not in ALLOWED_HOSTS; pass: with DEBUG Django answers its technical 400 page".into(),
                );
                Some(Decision::Pass)
            }
            Some(false) => {
                trace.step(
                    Stage::Host,
                    || "Host".into(),
                    || "not in ALLOWED_HOSTS: Django's 400 page (DisallowedHost)".into(),
                );
                Some(Decision::Deny(crate::host::bad_request()))
            }
        }
    }
    /// DRF's `APIView.initial` for one view's policy: negotiate, then the rest; a refusal is
    /// the gate's only when DRF would render it as the gate does (its JSON renderer).
    fn decide_on_policy(
        &self,
        policy: &Policy,
        request: &Request<'_>,
        query: &[u8],
        format_suffix: Option<&str>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
    ) -> Decision {
        let negotiation = Negotiation {
            renderers: &policy.renderers,
            url_format_override: self.url_format_override.as_deref(),
            accept_json: Some(&policy.accept_json),
            accept_any: Some(&policy.accept_any),
        };
        let accept = request.header("Accept");
        // The usual request's answer was worked out with the policy: borrowed, not selected.
        let selected;
        let negotiated = match negotiation.known(accept.as_deref(), query, format_suffix) {
            Some(known) => known,
            None => {
                selected = negotiation.select(accept.as_deref(), query, format_suffix);
                &selected
            }
        };
        // The usual request (no Accept, no format) gets the first renderer: not worth a line.
        let worth_telling = accept.is_some() || format_suffix.is_some() || !query.is_empty();
        let failure =
            |deny: crate::decision::Deny, what: String, trace: &mut Tracer<'_>| {
                if negotiation.failures_render_as_json() {
                    trace.step(
                        Stage::Negotiation,
                        || what,
                        || {
                            format!(
                                "deny {} {}",
                                deny.status,
                                String::from_utf8_lossy(&deny.body)
                            )
                        },
                    );
                    Decision::Deny(deny)
                } else {
                    trace.step(Stage::Negotiation, || what, || {
                    "pass: the view's first renderer is not JSONRenderer, and DRF renders the \
                     refusal with it"
                        .into()
                });
                    Decision::Pass
                }
            };
        let refusals = match negotiated {
            &Negotiated::Chosen {
                ref renderer,
                refusals,
            } => {
                if worth_telling {
                    trace.step(
                        Stage::Negotiation,
                        || renderer.to_string(),
                        || "chosen".into(),
                    );
                }
                refusals
            }
            Negotiated::NotAcceptable => {
                return failure(
                    crate::exceptions::not_acceptable(policy.allow.as_ref()),
                    "no renderer satisfies the Accept header".into(),
                    trace,
                )
            }
            Negotiated::FormatNotFound(format) => {
                let deny = crate::decision::Deny {
                    allow: policy.allow.clone(),
                    ..crate::exceptions::not_found()
                };
                return failure(deny, format!("no renderer has format {format:?}"), trace);
            }
            Negotiated::Unsure(why) => {
                trace.step(
                    Stage::Negotiation,
                    || "undecided".into(),
                    || format!("pass: {why}"),
                );
                return Decision::Pass;
            }
        };
        self.decide_after_negotiation(policy, request, refusals, trace, lookup)
    }

    /// Authenticate, check permissions, then the method. A refusal is rendered as
    /// negotiation concluded (`refusals`, see [`rendered`]) where it is made.
    fn decide_after_negotiation(
        &self,
        policy: &Policy,
        request: &Request<'_>,
        refusals: Option<Option<usize>>,
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
            rendered(deny, refusals, trace)
        };

        let identity = match self.authenticate(policy, request, trace, lookup) {
            Ok(identity) => identity,
            Err(Stop::Error(error)) => return deny(error, trace),
            Err(Stop::Locked(wait)) => {
                let deny = crate::throttle::throttled(wait, policy.allow.as_ref());
                trace.step(
                    Stage::Result,
                    || "decision".into(),
                    || {
                        format!(
                            "deny 429 {} (too many failed logins from this client or for this \
                         username: [failed_logins])",
                            String::from_utf8_lossy(&deny.body)
                        )
                    },
                );
                return rendered(deny, refusals, trace);
            }
            Err(Stop::Defer) => {
                trace.step(
                    Stage::Result,
                    || "decision".into(),
                    || {
                        "pass: deferred to the application, without an identity (its own DRF \
                     decides)"
                            .into()
                    },
                );
                return Decision::Pass;
            }
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

        // DRF's check_throttles() runs after check_permissions() and before the handler, so
        // a method the view does not implement is counted (and may be answered 429).
        if !policy.throttles.is_empty() {
            if self.throttling.store().blocking() && matches!(lookup, Lookup::CachesOnly { .. }) {
                return deny(lookup.miss(), trace);
            }
            if trace.enabled() {
                for (class, line) in
                    self.throttling
                        .describe(&policy.throttles, identity.as_ref(), request)
                {
                    trace.step(Stage::Throttle, || class.to_string(), || line);
                }
            }
            match self
                .throttling
                // `drfgate explain` tells what would happen without spending a request.
                .check(
                    &policy.throttles,
                    identity.as_ref(),
                    request,
                    !trace.enabled(),
                ) {
                Ok(throttled) if throttled.is_empty() => {
                    trace.step(
                        Stage::Throttle,
                        || throttle_names(policy),
                        || "allowed (a real request is recorded; explain records nothing)".into(),
                    );
                }
                Ok(throttled) => {
                    let wait = crate::throttle::longest_wait(&throttled);
                    let deny = crate::throttle::throttled(wait, policy.allow.as_ref());
                    trace.step(
                        Stage::Throttle,
                        || throttle_names(policy),
                        || {
                            let names: Vec<&str> = throttled.iter().map(|r| &*r.class).collect();
                            format!("refused by {} (wait {wait:?} s)", names.join(", "))
                        },
                    );
                    trace.step(
                        Stage::Result,
                        || "decision".into(),
                        || format!("deny 429 {}", String::from_utf8_lossy(&deny.body)),
                    );
                    return rendered(deny, refusals, trace);
                }
                Err(error) => {
                    // Logged once per incident by the store (throttle/watched.rs).
                    log::debug!("throttle history unavailable, refusing the request: {error}");
                    trace.step(
                        Stage::Throttle,
                        || throttle_names(policy),
                        || format!("failed: {error}"),
                    );
                    return deny(ApiError::Unavailable, trace);
                }
            }
        }

        if let Some(methods) = &policy.methods {
            if !methods
                .iter()
                .any(|m| crate::bytes::same(m, method.as_bytes()))
            {
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
            // Told to the log once per incident by the watched store.
            Err(err) => {
                log::debug!("permission lookup failed, refusing the request: {err}");
                Err(ApiError::Unavailable)
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
}
