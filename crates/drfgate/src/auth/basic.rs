//! DRF's `BasicAuthentication`: CPython-lenient base64, UTF-8 then Latin-1, split at the
//! first `:`, then Django's `authenticate()` over the configured password backends.
//!
//! Verified credentials are cached (successes only, under a keyed hash of user and
//! password), so a slow hasher runs once per TTL rather than on every request.

use std::sync::Arc;

use super::{decline, fail, store_failure, succeed, Authenticator, Context, Outcome};
use crate::base64::{b64decode_lenient, decode_basic_text};
use crate::cache::Cached;
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

    /// Django's `authenticate(username=…, password=…)`: the first password backend that
    /// returns a user wins. `Ok(None)` when none does.
    fn authenticate_credentials(
        &self,
        username: &str,
        password: &str,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Result<Option<Arc<User>>, Outcome> {
        let mut backends = cx.backends.password_backends().peekable();
        if backends.peek().is_none() {
            trace
                .hint(|| "no AUTHENTICATION_BACKENDS entry accepts a username and password".into());
            return Ok(None);
        }
        let cache_key = cx.passwords.key(
            super::PASSWORD_KEYS,
            &[username.as_bytes(), password.as_bytes()],
        );
        let verified = match cx.passwords.get(&cache_key) {
            Some(Cached::Found(user)) => Some(user),
            _ => {
                let row = cx
                    .store
                    .user_by_username(username)
                    .map_err(|e| store_failure(&self.name, &e))?;
                match row {
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
                }
            }
        };
        let Some(user) = verified else {
            return Ok(None);
        };
        for backend in backends {
            if user.is_active || backend.accepts_inactive() {
                return Ok(Some(user));
            }
        }
        trace.hint(|| format!("user {:?} has is_active = false", user.username));
        Ok(None)
    }
}

impl Authenticator for BasicAuthentication {
    fn authenticate(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let header = request.header("Authorization").unwrap_or_default();
        let credentials = match scheme_credentials(&header, b"basic") {
            SchemeCredentials::NotThisScheme => {
                return decline(&self.name, trace, || {
                    "no `Authorization: Basic …` header".into()
                })
            }
            SchemeCredentials::NoCredentials => {
                return fail(&self.name, trace, BASIC_NO_CREDENTIALS)
            }
            SchemeCredentials::TooManyParts => return fail(&self.name, trace, BASIC_SPACES),
            SchemeCredentials::Credentials(c) => c,
        };
        let Ok(decoded) = b64decode_lenient(credentials) else {
            return fail(&self.name, trace, BASIC_NOT_BASE64);
        };
        let text = decode_basic_text(&decoded);
        // DRF ≥ 3.15 refuses credentials without a colon as badly encoded.
        let Some((username, password)) = text.split_once(':') else {
            return fail(&self.name, trace, BASIC_NOT_BASE64);
        };
        let user = match self.authenticate_credentials(username, password, cx, trace) {
            Ok(Some(user)) => user,
            Ok(None) => return fail(&self.name, trace, INVALID_USERNAME_PASSWORD),
            Err(outcome) => return outcome,
        };
        if !user.is_active {
            return fail(&self.name, trace, USER_INACTIVE);
        }
        succeed(&self.name, trace, user, Scheme::Basic, AuthObject::None)
    }

    fn authenticate_header(&self) -> Option<&Arc<str>> {
        Some(&self.challenge)
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }
}
