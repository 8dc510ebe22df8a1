//! DRF's `BasicAuthentication`: CPython-lenient base64, UTF-8 then Latin-1, split at the
//! first `:`, then Django's `authenticate()` over the configured password backends.
//!
//! Verified credentials are cached (successes only, under a keyed hash of user and
//! password), so a slow hasher runs once per TTL rather than on every request.

use std::sync::Arc;

use super::{decline, fail, store_failure, succeed, Authenticator, Context, Outcome};
use crate::base64::{b64decode_lenient, decode_basic_text};
use crate::cache::{CacheKey, Cached};
use crate::decision::{AuthObject, Scheme, User};
use crate::exceptions::{
    BASIC_NOT_BASE64, BASIC_NO_CREDENTIALS, BASIC_SPACES, INVALID_USERNAME_PASSWORD, USER_INACTIVE,
};
use crate::header::{scheme_credentials, SchemeCredentials};
use crate::request::Request;
use crate::trace::Tracer;

pub struct BasicAuthentication {
    name: Arc<str>,
    challenge: Arc<str>,
}

impl BasicAuthentication {
    /// `realm` is the class's `www_authenticate_realm` (`api` in DRF).
    pub fn new(name: Arc<str>, realm: &str) -> BasicAuthentication {
        BasicAuthentication {
            name,
            challenge: Arc::from(format!("Basic realm=\"{realm}\"")),
        }
    }

    /// The `(username, password)` of `Authorization: Basic …`, or the outcome that ends this
    /// class's turn.
    fn credentials(
        &self,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
    ) -> Result<(String, String), Outcome> {
        let header = request.header("Authorization").unwrap_or_default();
        let credentials = match scheme_credentials(&header, b"basic") {
            SchemeCredentials::NotThisScheme => {
                return Err(decline(&self.name, trace, || {
                    "no `Authorization: Basic …` header".into()
                }))
            }
            SchemeCredentials::NoCredentials => {
                return Err(fail(&self.name, trace, BASIC_NO_CREDENTIALS))
            }
            SchemeCredentials::TooManyParts => return Err(fail(&self.name, trace, BASIC_SPACES)),
            SchemeCredentials::Credentials(c) => c,
        };
        let Ok(decoded) = b64decode_lenient(credentials) else {
            return Err(fail(&self.name, trace, BASIC_NOT_BASE64));
        };
        let text = decode_basic_text(&decoded);
        // DRF ≥ 3.15 refuses credentials without a colon as badly encoded.
        let Some((username, password)) = text.split_once(':') else {
            return Err(fail(&self.name, trace, BASIC_NOT_BASE64));
        };
        Ok((username.to_owned(), password.to_owned()))
    }

    /// Checks a password against the stored hash (the slow part), caching a success.
    fn verify_with_store(
        &self,
        username: &str,
        password: &str,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Result<Option<Arc<User>>, Outcome> {
        let cache_key = self.cache_key(username, password, cx);
        if let Some(Cached::Found(user)) = cx.passwords.get(&cache_key) {
            return Ok(Some(user));
        }
        let row = cx
            .store
            .user_by_username(username)
            .map_err(|e| store_failure(&self.name, &e))?;
        Ok(match row {
            None => {
                // Django hashes once for an unknown user so that timing does not tell.
                cx.hashers.run_default_hasher(password);
                trace.hint(|| format!("no user named {username:?}"));
                None
            }
            Some(row) if cx.hashers.check_password(password, &row.password) => {
                let user = Arc::new(row.user);
                cx.passwords.insert(cache_key, Cached::Found(user.clone()));
                Some(user)
            }
            Some(row) => {
                trace.hint(|| {
                    if row.password.starts_with('!') {
                        format!("user {username:?} has an unusable password")
                    } else {
                        format!("the password does not match user {username:?}'s hash")
                    }
                });
                None
            }
        })
    }

    fn cache_key(&self, username: &str, password: &str, cx: &Context<'_>) -> CacheKey {
        cx.passwords.key(
            super::PASSWORD_KEYS,
            &[username.as_bytes(), password.as_bytes()],
        )
    }

    /// Whether any configured backend takes a username and password at all.
    fn has_password_backends(&self, cx: &Context<'_>, trace: &mut Tracer<'_>) -> bool {
        if cx.backends.password_backends().next().is_none() {
            trace
                .hint(|| "no AUTHENTICATION_BACKENDS entry accepts a username and password".into());
            return false;
        }
        true
    }

    /// The rest of Django's `authenticate()` and DRF's checks once the password was checked:
    /// the first password backend that accepts the user wins.
    fn finish(
        &self,
        verified: Option<Arc<User>>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let Some(user) = verified else {
            return fail(&self.name, trace, INVALID_USERNAME_PASSWORD);
        };
        let accepted = cx
            .backends
            .password_backends()
            .any(|backend| user.is_active || backend.accepts_inactive());
        if !accepted {
            trace.hint(|| format!("user {:?} has is_active = false", user.username));
            return fail(&self.name, trace, INVALID_USERNAME_PASSWORD);
        }
        if !user.is_active {
            return fail(&self.name, trace, USER_INACTIVE);
        }
        succeed(&self.name, trace, user, Scheme::Basic, AuthObject::None)
    }
}

impl Authenticator for BasicAuthentication {
    fn authenticate(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let (username, password) = match self.credentials(request, trace) {
            Ok(credentials) => credentials,
            Err(outcome) => return outcome,
        };
        if !self.has_password_backends(cx, trace) {
            return self.finish(None, cx, trace);
        }
        match self.verify_with_store(&username, &password, cx, trace) {
            Ok(verified) => self.finish(verified, cx, trace),
            Err(outcome) => outcome,
        }
    }

    /// Answers a verified (cached) password, or a refusal read from the header alone; a
    /// password not yet verified needs the store and a hasher.
    fn authenticate_cached(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Option<Outcome> {
        let (username, password) = match self.credentials(request, trace) {
            Ok(credentials) => credentials,
            Err(outcome) => return Some(outcome),
        };
        if !self.has_password_backends(cx, trace) {
            return Some(self.finish(None, cx, trace));
        }
        match cx
            .passwords
            .get(&self.cache_key(&username, &password, cx))?
        {
            Cached::Found(user) => Some(self.finish(Some(user), cx, trace)),
            Cached::Unknown => None,
        }
    }

    fn authenticate_header(&self) -> Option<&Arc<str>> {
        Some(&self.challenge)
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }
}
