//! The decision pipeline, DRF's `APIView.initial`: find the route (or apply `[gate]
//! unmatched`), run the authentication classes in order, check each permission, then the
//! method; every step is told to the tracer for `drfgate explain`.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Arc;

use super::explain::{describe_route, hint_permission};
use super::{Gate, Judgement, Policy, PERMISSION_KEYS};
use crate::auth::{Context, Outcome};
use crate::cache::Cached;
use crate::config::Unmatched;
use crate::decision::{Decision, Identity, UserPk};
use crate::exceptions::ApiError;
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
    fn miss(self) -> ApiError {
        if let Lookup::CachesOnly { missed } = self {
            missed.set(true);
        }
        ApiError::ServerError
    }
}

/// Why the authentication loop stopped without an identity.
enum Stop {
    /// DRF's error (a failed authenticator, or a store failure).
    Error(ApiError),
    /// An authenticator could not finish DRF's answer: the application decides.
    Defer,
}

impl Gate {
    pub(super) fn decide_traced(
        &self,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
    ) -> Decision {
        self.judge_traced(request, trace, lookup).decision
    }

    /// The decision, behind a panic boundary: a bug that panics inside one decision (in an
    /// authenticator, a store, a hasher) refuses that request with DRF's 500 and nothing
    /// else. What a panicking decision leaves behind is safe to keep using: the caches' locks
    /// do not poison, and a panicking load abandons its single flight, so waiters load again.
    pub(super) fn judge_traced(
        &self,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
    ) -> Judgement<'_> {
        let judged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.judge_unguarded(request, trace, lookup)
        }));
        judged.unwrap_or_else(|_| {
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
            Judgement {
                decision: Decision::Deny(ApiError::ServerError.into_deny(None, None)),
                route: None,
            }
        })
    }

    fn judge_unguarded(
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
                Decision::Pass
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
            Err(Stop::Error(error)) => return deny(error, trace),
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
    ) -> Result<Option<Identity>, Stop> {
        let cx = Context {
            sessions: &self.sessions,
            store: &self.store,
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
                        None => return Err(Stop::Error(lookup.miss())),
                    }
                }
            };
            match outcome {
                Outcome::Decline => continue,
                Outcome::Success(identity) => return Ok(Some(identity)),
                Outcome::Fail(error) => return Err(Stop::Error(error)),
                Outcome::Defer => return Err(Stop::Defer),
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
