//! DRF's `BasicAuthentication`: CPython-lenient base64, UTF-8 then Latin-1, split at the
//! first `:`, then Django's `authenticate()` over the configured password backends.
//!
//! Verified credentials are cached (successes only, under a keyed hash of user and
//! password), so a slow hasher runs once per TTL rather than on every request. Every refusal
//! costs one hash at the default hasher's cost, as in Django ≥ 5.0.7, whoever the user is.

use std::sync::Arc;

use super::{decline, fail, store_failure, succeed, Authenticator, Context, Outcome};
use crate::base64::{b64decode_lenient, b64decode_lenient_into, decode_basic_text};
use crate::cache::{CacheKey, Cached};
use crate::decision::{AuthObject, Scheme, User};
use crate::exceptions::{
    BASIC_NOT_BASE64, BASIC_NO_CREDENTIALS, BASIC_SPACES, INVALID_USERNAME_PASSWORD, USER_INACTIVE,
};
use crate::header::{scheme_credentials, SchemeCredentials};
use crate::request::Request;
use crate::trace::Tracer;

/// Why a password check refused, for `explain`.
#[derive(Clone, Copy)]
enum Refusal {
    NoSuchUser,
    UnusablePassword,
    UnknownHasher,
    WrongPassword,
}

/// What DRF's `BasicAuthentication.authenticate` makes of an `Authorization` value before it
/// looks anyone up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasicCredentials {
    /// No `Basic` scheme: the class declines.
    NotBasic,
    /// DRF's 401 detail for a malformed header.
    Refused(&'static str),
    UsernamePassword(String, String),
}

/// Tokenizes the header, decodes the credentials field with CPython's lenient base64, then
/// UTF-8 (ISO-8859-1 when that fails), and splits at the first `:` (spec §3).
pub fn basic_credentials(header: &[u8]) -> BasicCredentials {
    with_credentials(header, |credentials| match credentials {
        Credentials::NotBasic => BasicCredentials::NotBasic,
        Credentials::Refused(detail) => BasicCredentials::Refused(detail),
        Credentials::UsernamePassword(username, password) => {
            BasicCredentials::UsernamePassword(username.to_owned(), password.to_owned())
        }
    })
}

/// [`BasicCredentials`], borrowed from the decoded header.
enum Credentials<'a> {
    NotBasic,
    Refused(&'static str),
    UsernamePassword(&'a str, &'a str),
}

/// Decoded credentials this long or shorter stay on the stack: a cached check allocates
/// nothing.
const STACK_CREDENTIALS: usize = 192;

/// Calls `f` with what [`basic_credentials`] finds in `header`, borrowed rather than owned.
fn with_credentials<R>(header: &[u8], f: impl FnOnce(Credentials<'_>) -> R) -> R {
    let encoded = match scheme_credentials(header, b"basic") {
        SchemeCredentials::NotThisScheme => return f(Credentials::NotBasic),
        SchemeCredentials::NoCredentials => return f(Credentials::Refused(BASIC_NO_CREDENTIALS)),
        SchemeCredentials::TooManyParts => return f(Credentials::Refused(BASIC_SPACES)),
        SchemeCredentials::Credentials(c) => c,
    };
    let mut stack = [0u8; STACK_CREDENTIALS];
    let heap;
    let decoded = match b64decode_lenient_into(encoded, &mut stack) {
        Some(decoded) => decoded,
        None => {
            heap = b64decode_lenient(encoded);
            heap.as_deref().map_err(|error| *error)
        }
    };
    let Ok(decoded) = decoded else {
        return f(Credentials::Refused(BASIC_NOT_BASE64));
    };
    let text = decode_basic_text(decoded);
    match text.split_once(':') {
        Some((username, password)) => f(Credentials::UsernamePassword(username, password)),
        None => f(Credentials::Refused(BASIC_NOT_BASE64)),
    }
}

pub struct BasicAuthentication {
    name: Arc<str>,
    challenge: Arc<str>,
}

/// The username of a well-formed `Authorization: Basic …` header (the failed-login limiter
/// counts failures per username).
pub(crate) fn basic_username(request: &Request<'_>) -> Option<String> {
    let header = request.header("Authorization")?;
    match basic_credentials(&header) {
        BasicCredentials::UsernamePassword(username, _) => Some(username),
        BasicCredentials::NotBasic | BasicCredentials::Refused(_) => None,
    }
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
    fn judge<'c>(
        &self,
        credentials: Credentials<'c>,
        trace: &mut Tracer<'_>,
    ) -> Result<(&'c str, &'c str), Outcome> {
        match credentials {
            Credentials::NotBasic => Err(decline(&self.name, trace, || {
                "no `Authorization: Basic …` header".into()
            })),
            Credentials::Refused(detail) => Err(fail(&self.name, trace, detail)),
            Credentials::UsernamePassword(username, password) => Ok((username, password)),
        }
    }

    /// Checks a password against the stored hash (the slow part), caching a success.
    ///
    /// Every way to fail costs what Django ≥ 5.0.7 spends, so the time taken does not tell
    /// whether the user exists: one hash at the default hasher's cost for an unknown user, an
    /// unusable password or an unknown hasher, and Django's `harden_runtime` for a wrong
    /// password against an outdated work factor. An inactive user is checked like any other
    /// (ModelBackend runs `check_password` before `user_can_authenticate`).
    ///
    /// The check goes through the cache's single flight: identical concurrent logins share one
    /// hash, and a check that overlaps `Gate::invalidate_user` does not store its success.
    /// Refusals are not cached (the gate gives this cache no negative space), so a password
    /// that starts working is accepted at once.
    fn verify_with_store(
        &self,
        username: &str,
        password: &str,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Result<Option<Arc<User>>, Outcome> {
        let cache_key = self.cache_key(username, password, cx);
        let mut refusal = None;
        let checked = cx.passwords.get_or_load(cache_key, || {
            let row = match cx.store.user_by_username(username) {
                Ok(row) => row,
                Err(e) => return Err(Arc::new(e)),
            };
            Ok(match row {
                None => {
                    // ModelBackend's `UserModel().set_password(password)`.
                    cx.hashers.run_default_hasher(password);
                    refusal = Some(Refusal::NoSuchUser);
                    Cached::Unknown
                }
                Some(row)
                    if cx
                        .hashers
                        .check_password_timing_like_django(password, &row.password) =>
                {
                    Cached::Found(Arc::new(row.user))
                }
                Some(row) => {
                    refusal = Some(if row.password.starts_with('!') {
                        Refusal::UnusablePassword
                    } else if cx.hashers.identify(&row.password).is_none() {
                        Refusal::UnknownHasher
                    } else {
                        Refusal::WrongPassword
                    });
                    Cached::Unknown
                }
            })
        });
        match checked {
            Ok(Cached::Found(user)) => Ok(Some(user)),
            Ok(Cached::Unknown) => {
                trace.hint(|| match refusal {
                    Some(Refusal::NoSuchUser) => format!("no user named {username:?}"),
                    Some(Refusal::UnusablePassword) => {
                        format!("user {username:?} has an unusable password")
                    }
                    Some(Refusal::UnknownHasher) => format!(
                        "user {username:?}'s password hash uses an algorithm not in PASSWORD_HASHERS"
                    ),
                    Some(Refusal::WrongPassword) => {
                        format!("the password does not match user {username:?}'s hash")
                    }
                    None => format!(
                        "the same credentials for {username:?} were refused to a concurrent request"
                    ),
                });
                Ok(None)
            }
            Err(e) => Err(store_failure(&self.name, &e)),
        }
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
        _request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let header = cx.authorization;
        with_credentials(header, |credentials| {
            let (username, password) = match self.judge(credentials, trace) {
                Ok(credentials) => credentials,
                Err(outcome) => return outcome,
            };
            if !self.has_password_backends(cx, trace) {
                return self.finish(None, cx, trace);
            }
            match self.verify_with_store(username, password, cx, trace) {
                Ok(verified) => self.finish(verified, cx, trace),
                Err(outcome) => outcome,
            }
        })
    }

    fn authenticate_cached(
        &self,
        _request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Option<Outcome> {
        let header = cx.authorization;
        with_credentials(header, |credentials| {
            let (username, password) = match self.judge(credentials, trace) {
                Ok(credentials) => credentials,
                Err(outcome) => return Some(outcome),
            };
            if !self.has_password_backends(cx, trace) {
                return Some(self.finish(None, cx, trace));
            }
            match cx.passwords.get(&self.cache_key(username, password, cx))? {
                Cached::Found(user) => Some(self.finish(Some(user), cx, trace)),
                Cached::Unknown => None,
            }
        })
    }

    fn authenticate_header(&self) -> Option<&Arc<str>> {
        Some(&self.challenge)
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }
}
