//! Django's `get_user(request)` for a session cookie: load the session the way the configured
//! engine does (db row, or signed cookie), then the user its `_auth_user_id` names, checked
//! against `AUTHENTICATION_BACKENDS`, `is_active` and `_auth_user_hash`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::cached::{CacheRead, DjangoCache};
use super::SessionUser;
use crate::auth::{Backend, Backends};
use crate::config::SessionEngine;
use crate::decision::{User, UserPk};
use crate::pickle::Refusal;
use crate::signing::{self, BadSignature};
use crate::store::{Store, StoreError};

/// `SessionStore`'s key salt for session data (db, cached_db), and the signed_cookies salt.
const SESSION_DATA_SALT: &str = "django.contrib.sessions.SessionStore";
const SIGNED_COOKIES_SALT: &str = "django.contrib.sessions.backends.signed_cookies";
const AUTH_HASH_SALT: &str = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";

/// Why a session cookie gave Django's `AnonymousUser`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Anonymous {
    ShortKey,
    NoRow,
    BadSignature,
    Expired,
    Undecodable,
    NotLoggedIn,
    /// The cache engine: no value under the session's cache key.
    NoCacheEntry,
    /// A cached value the restricted pickle reader refused (the reason).
    Unreadable(String),
    UnknownBackend(String),
    NoSuchUser,
    Inactive(Arc<str>),
    HashMismatch(Arc<str>),
}

impl Anonymous {
    pub(crate) fn describe(&self, engine: SessionEngine) -> String {
        match self {
            Anonymous::ShortKey => "the cookie is shorter than 8 characters, so Django \
                                    ignores it"
                .into(),
            Anonymous::NoRow => "no django_session row with this key and an expire_date in the \
                                 future (logged out, expired, or another database)"
                .into(),
            Anonymous::BadSignature => format!(
                "the session {} is not signed by SECRET_KEY or any SECRET_KEY_FALLBACKS \
                 (tampered, or another deployment's key)",
                if engine == SessionEngine::SignedCookies {
                    "cookie"
                } else {
                    "data"
                }
            ),
            Anonymous::Expired => {
                "the signed session cookie is older than SESSION_COOKIE_AGE".into()
            }
            Anonymous::Undecodable => "the session data does not decode (base64/zlib/JSON)".into(),
            Anonymous::NoCacheEntry => "no session under this key in Django's session cache \
                                        (logged out, expired, or another KEY_PREFIX, VERSION or \
                                        Redis database)"
                .into(),
            Anonymous::Unreadable(why) => format!(
                "the cached session was not read: {why}; the gate never executes a pickle, so \
                 a session holding anything but plain values is anonymous here (Django would \
                 unpickle it)"
            ),
            Anonymous::NotLoggedIn => {
                "the session has no _auth_user_id/_auth_user_backend: not logged in".into()
            }
            Anonymous::UnknownBackend(b) => {
                format!("the session's _auth_user_backend {b:?} is not in AUTHENTICATION_BACKENDS")
            }
            Anonymous::NoSuchUser => "the session's user no longer exists".into(),
            Anonymous::Inactive(u) => format!(
                "user {u:?} has is_active = false, and the session's backend refuses inactive users"
            ),
            Anonymous::HashMismatch(u) => format!(
                "the session's _auth_user_hash does not match user {u:?}'s current password \
                 hash: the password was changed since login (Django logs such sessions out)"
            ),
        }
    }
}

/// What a session cookie resolves to.
#[derive(Clone, Debug)]
pub(crate) enum Resolved {
    User(Arc<SessionUser>),
    Anonymous(Anonymous),
}

/// Why the gate cannot say what Django would: the request is deferred, or refused on a store
/// failure.
#[derive(Clone, Debug)]
pub(crate) enum Unresolved {
    Store(Arc<StoreError>),
    /// Something Django would do that the gate does not reproduce (said in words).
    Defer(&'static str),
}

/// A session read from Django's cache.
enum FromCache {
    Miss,
    Hit(Map<String, Value>),
    /// An object the gate will not build (why).
    Refused(String),
    /// Not a pickle CPython loads either (why).
    Malformed(#[allow(dead_code)] String),
}

/// What resolution needs: the engine's settings and the keys.
pub(crate) struct Resolver<'a> {
    pub(crate) engine: SessionEngine,
    pub(crate) cookie_age: u64,
    /// `SECRET_KEY` then `SECRET_KEY_FALLBACKS`.
    pub(crate) keys: &'a [&'a str],
    pub(crate) backends: &'a Backends,
    pub(crate) store: &'a dyn Store,
    /// Django's session cache, for the `cache` engine (and `cached_db` on Redis).
    pub(crate) django_cache: Option<&'a DjangoCache>,
}

/// Seconds since the epoch as a float, as Python's `time.time()`.
fn now_float() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `str(timezone.now())` in UTC, naive, as Django's SQLite backend writes and compares
/// `expire_date`: `YYYY-MM-DD HH:MM:SS[.ffffff]` (no fraction when it is zero).
fn sqlite_now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    sqlite_datetime(since.as_secs() as i64, since.subsec_micros())
}

fn sqlite_datetime(secs: i64, micros: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if micros != 0 {
        text.push_str(&format!(".{micros:06}"));
    }
    text
}

impl Resolver<'_> {
    pub(crate) fn resolve(&self, cookie: &str) -> Result<Resolved, Unresolved> {
        let anonymous = |why| Ok(Resolved::Anonymous(why));
        // SessionBase._validate_session_key: fewer than 8 characters is no key at all.
        if cookie.chars().count() < 8 {
            return anonymous(Anonymous::ShortKey);
        }
        let loaded = match self.engine {
            SessionEngine::Cache => {
                let Some(cache) = self.django_cache else {
                    return Err(Unresolved::Defer("no session cache is configured"));
                };
                return match self.read_cache(cache, cookie)? {
                    FromCache::Hit(session) => self.user_of(&session),
                    FromCache::Miss | FromCache::Malformed(_) => anonymous(Anonymous::NoCacheEntry),
                    FromCache::Refused(why) => anonymous(Anonymous::Unreadable(why)),
                };
            }
            SessionEngine::Db | SessionEngine::CachedDb => {
                // cached_db: the cache first, the database on a miss, as its load() does.
                // A value that is no pickle at all, or a cache that does not answer, raises in
                // Django's cache.get, which load() takes as a miss: the database decides.
                if let Some(cache) = self.django_cache {
                    match self.read_cache(cache, cookie) {
                        Ok(FromCache::Hit(session)) => return self.user_of(&session),
                        Ok(FromCache::Refused(why)) => {
                            return anonymous(Anonymous::Unreadable(why))
                        }
                        Ok(FromCache::Miss | FromCache::Malformed(_)) => {}
                        Err(Unresolved::Store(error)) => {
                            log::debug!("cached_db: session cache unavailable, reading the database: {error}");
                        }
                        Err(other) => return Err(other),
                    }
                }
                let data = self
                    .store
                    .session_data(cookie, &sqlite_now())
                    .map_err(|e| Unresolved::Store(Arc::new(e)))?;
                let Some(data) = data else {
                    return anonymous(Anonymous::NoRow);
                };
                signing::loads(&data, SESSION_DATA_SALT, self.keys, None, now_float())
            }
            SessionEngine::SignedCookies => signing::loads(
                cookie,
                SIGNED_COOKIES_SALT,
                self.keys,
                Some(self.cookie_age),
                now_float(),
            ),
        };
        let session = match loaded {
            Ok(Value::Object(map)) => map,
            // A JSON value that is not a dict: Django's session.get() would raise → 500.
            Ok(_) => return Err(Unresolved::Defer("the session data is not a JSON object")),
            Err(BadSignature::Expired { .. }) => return anonymous(Anonymous::Expired),
            Err(BadSignature::BadPayload) => return anonymous(Anonymous::Undecodable),
            Err(_) => return anonymous(Anonymous::BadSignature),
        };
        self.user_of(&session)
    }

    /// The session dict in Django's cache. A value the reader refuses is the caller's to
    /// judge: Django's `load()` takes any failure of `cache.get` as no session (the `cache`
    /// engine) or a miss (`cached_db`), but where Django would unpickle an object the gate
    /// refuses (docs/differences.md).
    fn read_cache(&self, cache: &DjangoCache, cookie: &str) -> Result<FromCache, Unresolved> {
        match cache.load(self.engine, cookie) {
            Ok(CacheRead::Missing) => Ok(FromCache::Miss),
            Ok(CacheRead::Session(map)) => Ok(FromCache::Hit(map)),
            Ok(CacheRead::NotADict) => Err(Unresolved::Defer(
                "the cached session is not a dict (Django's session lookups would raise)",
            )),
            Ok(CacheRead::Unreadable(refusal @ Refusal::Opcode(_))) => {
                Ok(FromCache::Refused(refusal.to_string()))
            }
            Ok(CacheRead::Unreadable(refusal)) => Ok(FromCache::Malformed(refusal.to_string())),
            Err(e) => Err(Unresolved::Store(Arc::new(StoreError::new(e)))),
        }
    }

    /// `django.contrib.auth.get_user` on a loaded session.
    fn user_of(&self, session: &Map<String, Value>) -> Result<Resolved, Unresolved> {
        let anonymous = |why| Ok(Resolved::Anonymous(why));
        let (Some(user_id), Some(backend)) = (
            session.get("_auth_user_id"),
            session.get("_auth_user_backend"),
        ) else {
            return anonymous(Anonymous::NotLoggedIn);
        };
        let Value::String(backend) = backend else {
            return Err(Unresolved::Defer("_auth_user_backend is not a string"));
        };
        let Some(backend) = self
            .backends
            .0
            .iter()
            .copied()
            .find(|b| b.setting_name() == backend)
        else {
            return anonymous(Anonymous::UnknownBackend(backend.clone()));
        };
        let pk = match user_id {
            Value::String(text) => match text.parse::<i64>() {
                Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) => UserPk::Int(n),
                // A UUID or other text key, or an integer Python's int() reads differently.
                _ => return Err(Unresolved::Defer("_auth_user_id is not a plain integer")),
            },
            Value::Number(n) => match n.as_i64() {
                Some(n) => UserPk::Int(n),
                None => return Err(Unresolved::Defer("_auth_user_id is not an integer")),
            },
            _ => {
                return Err(Unresolved::Defer(
                    "_auth_user_id is neither text nor a number",
                ))
            }
        };
        let found = self
            .store
            .user_by_pk(&pk)
            .map_err(|e| Unresolved::Store(Arc::new(e)))?;
        let Some(found) = found else {
            return anonymous(Anonymous::NoSuchUser);
        };
        // ModelBackend.get_user: user_can_authenticate.
        if !found.user.is_active && !backend.accepts_inactive() {
            return anonymous(Anonymous::Inactive(found.user.username.clone()));
        }
        let session_hash = match session.get("_auth_user_hash") {
            Some(Value::String(h)) => h.as_str(),
            None | Some(Value::Null) => "",
            Some(_) => return Err(Unresolved::Defer("_auth_user_hash is not a string")),
        };
        // Verified with SECRET_KEY, else with any fallback (Django then cycles the key,
        // which the session cookie's owner does not see until the response).
        let verified = !session_hash.is_empty()
            && self.keys.iter().any(|key| {
                let expected = signing::hex(&signing::salted_hmac_sha256(
                    AUTH_HASH_SALT,
                    found.password.as_bytes(),
                    key,
                ));
                signing::constant_time_eq(session_hash.as_bytes(), expected.as_bytes())
            });
        if !verified {
            return anonymous(Anonymous::HashMismatch(found.user.username.clone()));
        }
        let csrf_secret = match session.get("_csrftoken") {
            Some(Value::String(s)) => Some(Ok(s.clone())),
            None => None,
            Some(_) => Some(Err(())),
        };
        Ok(Resolved::User(Arc::new(SessionUser {
            user: Arc::new(User { ..found.user }),
            backend: backend_name(backend),
            csrf_secret,
        })))
    }
}

fn backend_name(backend: Backend) -> &'static str {
    backend.setting_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expire_dates_are_written_as_django_writes_them() {
        assert_eq!(sqlite_datetime(1_700_000_000, 0), "2023-11-14 22:13:20");
        assert_eq!(
            sqlite_datetime(1_700_000_000, 5),
            "2023-11-14 22:13:20.000005"
        );
        assert_eq!(sqlite_datetime(0, 0), "1970-01-01 00:00:00");
        assert_eq!(sqlite_datetime(951_782_400, 0), "2000-02-29 00:00:00");
    }
}
