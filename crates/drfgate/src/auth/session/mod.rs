//! DRF's `SessionAuthentication`: the user Django's `AuthenticationMiddleware` finds through
//! the session cookie (`resolve`), then, for that user only, Django's CSRF checks (`csrf`,
//! with `crate::host` for `get_host()`, `url` for Python's `urlsplit` and `post` for the
//! body DRF parses for the POST form field). Anonymous → decline; CSRF failure →
//! `PermissionDenied("CSRF Failed: …")`; anything the gate cannot finish (a POST body it was
//! not given or does not reproduce, a session it does not read) → defer: the request goes on
//! without an identity and the application's DRF decides.
//!
//! A resolved session (cookie → user, auth hash verified) is cached under a keyed hash of the
//! cookie for `ttl_seconds`; an anonymous one for `negative_ttl_seconds`.

mod cached;
mod csrf;
mod post;
mod resolve;
mod url;

use std::sync::Arc;

use super::{succeed, Authenticator, Context, Outcome};
use crate::cache::{CacheKey, Cached, CredentialCache, KeyDomain};
use crate::config::{ParserClass, SessionSettings};
use crate::decision::{AuthObject, Scheme, User};
use crate::exceptions::ApiError;
use crate::request::{Method, Request};
use crate::trace::{Stage, Tracer};

use resolve::{Resolved, Resolver, Unresolved};

/// Cache keys of session cookies, apart from every other credential.
pub(crate) const SESSION_KEYS: KeyDomain = KeyDomain::new("django-session");

/// A logged-in session's user, as `get_user()` returned it.
#[derive(Debug)]
pub struct SessionUser {
    pub user: Arc<User>,
    /// `_auth_user_backend`.
    pub backend: &'static str,
    /// `_csrftoken` (for `CSRF_USE_SESSIONS`); `Err` when it is not text.
    csrf_secret: Option<Result<String, ()>>,
}

/// What the session authenticator shares across requests: the settings, the keys and the
/// cache of resolved sessions.
pub struct Sessions {
    pub(crate) settings: SessionSettings,
    /// `SECRET_KEY`, then `SECRET_KEY_FALLBACKS`; empty without `SECRET_KEY`.
    keys: Vec<String>,
    /// Shared with the revocation listener, which drops a user's sessions.
    pub(crate) cache: Arc<CredentialCache<Arc<SessionUser>>>,
    /// Django's session cache (`CACHES[SESSION_CACHE_ALIAS]`), when the engine reads one the
    /// gate can read.
    django_cache: Option<cached::DjangoCache>,
}

impl Sessions {
    pub(crate) fn new(
        settings: SessionSettings,
        secret_key: Option<&str>,
        cache: CredentialCache<Arc<SessionUser>>,
    ) -> Sessions {
        let keys = match secret_key {
            Some(key) => std::iter::once(key.to_string())
                .chain(settings.secret_key_fallbacks.iter().cloned())
                .collect(),
            None => Vec::new(),
        };
        let django_cache = settings.cache.clone().map(cached::DjangoCache::new);
        Sessions {
            settings,
            keys,
            cache: Arc::new(cache),
            django_cache,
        }
    }

    /// Django's session defaults and no `SECRET_KEY`: for tests of other authenticators,
    /// which never read it.
    #[cfg(test)]
    pub(crate) fn unused() -> Sessions {
        Sessions::new(
            SessionSettings::default(),
            None,
            CredentialCache::new(crate::cache::CacheConfig::default()),
        )
    }

    /// How many body bytes the CSRF check of this request would read, when the request is a
    /// POST carrying a session cookie whose answer depends on its body (see `post`).
    pub(crate) fn body_wanted(
        &self,
        request: &Request<'_>,
        parsers: &[ParserClass],
    ) -> Option<u64> {
        if self.keys.is_empty()
            || Method::new(request.method).as_bytes() != b"POST"
            || request.cookie(&self.settings.cookie_name).is_none()
        {
            return None;
        }
        post::body_needed(request, &self.settings.body, parsers)
    }

    fn cache_key(&self, cookie: &str) -> CacheKey {
        let engine = self.settings.engine.setting_name();
        self.cache
            .key(SESSION_KEYS, &[engine.as_bytes(), cookie.as_bytes()])
    }
}

pub struct SessionAuthentication {
    name: Arc<str>,
    /// The view's parser classes: its CSRF check parses a POST body with them.
    parsers: Arc<[ParserClass]>,
}

impl SessionAuthentication {
    pub fn new(name: Arc<str>, parsers: Arc<[ParserClass]>) -> SessionAuthentication {
        SessionAuthentication { name, parsers }
    }

    fn step(&self, trace: &mut Tracer<'_>, outcome: impl FnOnce() -> String) {
        trace.step(Stage::Authentication, || self.name.to_string(), outcome);
    }

    /// The answer once the session's user (or its absence) is known.
    fn finish(
        &self,
        request: &Request<'_>,
        sessions: &Sessions,
        resolved: Result<Cached<Arc<SessionUser>>, Unresolved>,
        why_anonymous: Option<String>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let session = match resolved {
            Ok(Cached::Found(session)) => session,
            Ok(Cached::Unknown) => {
                self.step(trace, || {
                    format!(
                        "declined: the session cookie gives AnonymousUser: {}",
                        why_anonymous.unwrap_or_else(|| {
                            "remembered from a lookup within negative_ttl_seconds".into()
                        })
                    )
                });
                return Outcome::Decline;
            }
            Err(Unresolved::Store(err)) => return super::store_failure(&self.name, &err),
            Err(Unresolved::Defer(why)) => {
                self.step(trace, || format!("deferred to the application: {why}"));
                return Outcome::Defer;
            }
        };
        // DRF: an inactive user (AllowAllUsers backends let them through) is not authenticated.
        if !session.user.is_active {
            self.step(trace, || {
                format!(
                    "declined: user {:?} has is_active = false",
                    session.user.username
                )
            });
            return Outcome::Decline;
        }
        self.step(trace, || {
            format!(
                "session of user {:?} (pk {}, {}, engine {})",
                session.user.username,
                session.user.pk,
                session.backend,
                sessions.settings.engine.setting_name()
            )
        });
        let method = Method::new(request.method);
        let check = csrf::Check {
            settings: &sessions.settings,
            parsers: &self.parsers,
            session_secret: session.csrf_secret.as_ref(),
        };
        match check.run(request, &method) {
            csrf::Csrf::Pass(why) => {
                self.step(trace, || format!("CSRF: {why}"));
                succeed(
                    &self.name,
                    trace,
                    session.user.clone(),
                    Scheme::Session,
                    AuthObject::None,
                )
            }
            csrf::Csrf::Fail(reason) => {
                self.step(trace, || format!("CSRF failed: {reason}"));
                if trace.enabled() {
                    self.hint_csrf(&reason, &sessions.settings, trace);
                }
                Outcome::Fail(ApiError::csrf_failed(&reason))
            }
            csrf::Csrf::Raise(error) => {
                self.step(trace, || {
                    format!(
                        "reading request.POST for the CSRF token raised {}",
                        error.describe()
                    )
                });
                Outcome::Fail(error)
            }
            csrf::Csrf::Defer(why) => {
                self.step(trace, || {
                    format!(
                        "deferred to the application: {why}; the request goes on without an \
                         identity"
                    )
                });
                Outcome::Defer
            }
        }
    }

    fn hint_csrf(&self, reason: &str, settings: &SessionSettings, trace: &mut Tracer<'_>) {
        let csrf = &settings.csrf;
        if reason == "CSRF token missing." {
            trace.hint(|| {
                format!(
                    "a session-authenticated unsafe request needs the CSRF token: a JavaScript \
                     client must send the {} cookie's value in the {} header (Django's \
                     CSRF_HEADER_NAME {}), or a form its csrfmiddlewaretoken field",
                    csrf.cookie_name,
                    // Django's documented spelling of its default header.
                    if csrf.header_meta_name == "HTTP_X_CSRFTOKEN" {
                        "X-CSRFToken"
                    } else {
                        &csrf.header_name
                    },
                    csrf.header_meta_name
                )
            });
        } else if reason == "CSRF cookie not set." {
            trace.hint(|| {
                format!(
                    "no {} cookie: the client must first GET a page that sets it (Django's \
                     get_token / ensure_csrf_cookie){}",
                    csrf.cookie_name,
                    if csrf.use_sessions {
                        "; with CSRF_USE_SESSIONS the secret is the session's _csrftoken"
                    } else {
                        ""
                    }
                )
            });
        } else if reason.starts_with("Origin checking failed") {
            trace.hint(|| {
                "the Origin header is neither this host (scheme from is_secure(), host as \
                 ALLOWED_HOSTS accepts it) nor in CSRF_TRUSTED_ORIGINS; behind a TLS proxy, \
                 set SECURE_PROXY_SSL_HEADER"
                    .into()
            });
        } else if reason.starts_with("Referer checking failed") {
            trace.hint(|| {
                "over HTTPS without an Origin header Django requires a same-host https Referer \
                 (or one in CSRF_TRUSTED_ORIGINS / CSRF_COOKIE_DOMAIN)"
                    .into()
            });
        } else if reason.contains("incorrect") {
            trace.hint(|| {
                "the token does not match the CSRF cookie's secret: a stale token from another \
                 session or browser tab?"
                    .into()
            });
        }
    }
}

impl Authenticator for SessionAuthentication {
    fn authenticate(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let sessions = cx.sessions;
        let Some(cookie) = self.cookie(request, sessions, trace) else {
            return Outcome::Decline;
        };
        if sessions.keys.is_empty() {
            return self.no_secret_key(trace);
        }
        let mut why_anonymous = None;
        let resolved = sessions.cache.get_or_load(sessions.cache_key(&cookie), || {
            let keys: Vec<&str> = sessions.keys.iter().map(String::as_str).collect();
            let resolver = Resolver {
                engine: sessions.settings.engine,
                cookie_age: sessions.settings.cookie_age,
                keys: &keys,
                backends: cx.backends,
                store: cx.store,
                django_cache: sessions.django_cache.as_ref(),
            };
            match resolver.resolve(&cookie)? {
                Resolved::User(user) => Ok(Cached::Found(user)),
                Resolved::Anonymous(why) => {
                    why_anonymous = Some(why);
                    Ok(Cached::Unknown)
                }
            }
        });
        let why = why_anonymous.map(|why| why.describe(sessions.settings.engine));
        self.finish(request, sessions, resolved, why, trace)
    }

    fn authenticate_cached(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Option<Outcome> {
        let sessions = cx.sessions;
        let Some(cookie) = self.cookie(request, sessions, trace) else {
            return Some(Outcome::Decline);
        };
        if sessions.keys.is_empty() {
            return Some(self.no_secret_key(trace));
        }
        let found = sessions.cache.get(&sessions.cache_key(&cookie))?;
        Some(self.finish(request, sessions, Ok(found), None, trace))
    }

    fn authenticate_header(&self) -> Option<&Arc<str>> {
        None
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }
}

impl SessionAuthentication {
    /// The session cookie, or `None` (declined) when there is none.
    fn cookie<'r>(
        &self,
        request: &Request<'r>,
        sessions: &Sessions,
        trace: &mut Tracer<'_>,
    ) -> Option<std::borrow::Cow<'r, str>> {
        let name = &sessions.settings.cookie_name;
        let cookie = request.cookie_text(name);
        if cookie.is_none() {
            self.step(trace, || format!("declined: no {name} cookie"));
        }
        cookie
    }

    fn no_secret_key(&self, trace: &mut Tracer<'_>) -> Outcome {
        self.step(trace, || {
            "deferred to the application: a session cookie was sent, but without SECRET_KEY \
             the gate cannot check it"
                .into()
        });
        Outcome::Defer
    }
}
