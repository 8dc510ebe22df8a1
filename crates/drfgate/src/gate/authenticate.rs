//! DRF's authentication loop for one view (`Request._authenticate`): the classes in order,
//! first success wins, a failure stops the chain; with `[failed_logins]`, the lockout checked
//! before and a guessed credential recorded after.

use super::decide::{Lookup, Stop};
use super::{Gate, Policy};
use crate::auth::{Context, Outcome};
use crate::decision::Identity;
use crate::exceptions::ApiError;
use crate::request::Request;
use crate::trace::{Stage, Tracer};

impl Gate {
    /// DRF's authentication loop: first success wins, a failure stops the chain.
    pub(super) fn authenticate(
        &self,
        policy: &Policy,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
        lookup: Lookup<'_>,
    ) -> Result<Option<Identity>, Stop> {
        let authorization = if policy.reads_authorization {
            request.header("Authorization").unwrap_or_default()
        } else {
            Default::default()
        };
        let cx = Context {
            authorization: &authorization,
            sessions: &self.sessions,
            store: &self.store,
            tokens: &self.tokens,
            passwords: &self.passwords,
            hashers: &self.hashers,
            backends: &self.backends,
        };
        let limiter_keys = if self.failed_logins.enabled() && !policy.authenticators.is_empty() {
            if self.throttling.store().blocking() && matches!(lookup, Lookup::CachesOnly { .. }) {
                return Err(Stop::Error(lookup.miss()));
            }
            let username = crate::auth::basic_username(request);
            let keys = crate::throttle::login::keys(
                &self.failed_logins,
                &self.throttling.ident(request),
                username.as_deref(),
            );
            match crate::throttle::login::locked(
                self.throttling.store(),
                &keys,
                self.throttling.now(),
            ) {
                Ok(None) => {}
                Ok(Some(wait)) => {
                    trace.step(
                        Stage::Throttle,
                        || "[failed_logins]".into(),
                        || "locked: too many failed logins within the window".into(),
                    );
                    return Err(Stop::Locked(wait));
                }
                Err(error) => {
                    log::debug!("failed-login history unavailable, refusing the request: {error}");
                    return Err(Stop::Error(ApiError::Unavailable));
                }
            }
            keys
        } else {
            Vec::new()
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
                Outcome::Fail(error) => {
                    if !limiter_keys.is_empty() && is_a_guess(&error) && !trace.enabled() {
                        if let Err(e) = crate::throttle::login::record(
                            self.throttling.store(),
                            &limiter_keys,
                            self.throttling.now(),
                        ) {
                            log::debug!("cannot record a failed login: {e}");
                        }
                    }
                    return Err(Stop::Error(error));
                }
                Outcome::Defer => return Err(Stop::Defer),
            }
        }
        Ok(None)
    }
}

/// A failure that a guessed credential produces (what the failed-login limiter counts).
fn is_a_guess(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::AuthenticationFailed(detail)
            if *detail == crate::exceptions::INVALID_USERNAME_PASSWORD
                || *detail == crate::exceptions::INVALID_TOKEN
    )
}
