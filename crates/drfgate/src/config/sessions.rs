//! The session and CSRF settings of `[django]`, named and defaulted as Django names and
//! defaults them (`SESSION_ENGINE`, `SESSION_COOKIE_NAME`, `CSRF_TRUSTED_ORIGINS`, …), so the
//! values of a project's `settings.py` can be pasted.

use std::path::PathBuf;

use toml::Spanned;

use super::raw::{Loader, RawDjango};
use super::suggest::suggestion;
use super::ConfigError;

/// Where Django keeps sessions (`SESSION_ENGINE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEngine {
    /// `django.contrib.sessions.backends.db`: a `django_session` row.
    Db,
    /// `django.contrib.sessions.backends.cached_db`: read through the database (the cache in
    /// front of it is Django's; docs/differences.md says what that changes).
    CachedDb,
    /// `django.contrib.sessions.backends.signed_cookies`: the cookie holds the signed session.
    SignedCookies,
    /// `django.contrib.sessions.backends.cache`: the session dict pickled in Django's
    /// `RedisCache` (read by `crate::pickle`, which builds plain values only).
    Cache,
}

impl SessionEngine {
    pub fn setting_name(self) -> &'static str {
        match self {
            SessionEngine::Db => "django.contrib.sessions.backends.db",
            SessionEngine::CachedDb => "django.contrib.sessions.backends.cached_db",
            SessionEngine::SignedCookies => "django.contrib.sessions.backends.signed_cookies",
            SessionEngine::Cache => "django.contrib.sessions.backends.cache",
        }
    }
}

/// The session and CSRF settings, resolved.
#[derive(Clone, Debug)]
pub struct SessionSettings {
    pub engine: SessionEngine,
    pub cookie_name: String,
    /// `SESSION_COOKIE_AGE`, seconds (the signed_cookies engine's max age).
    pub cookie_age: u64,
    pub session_cookie_domain: Option<String>,
    /// `SECRET_KEY_FALLBACKS`, tried after `SECRET_KEY`.
    pub secret_key_fallbacks: Vec<String>,
    pub csrf: CsrfSettings,
    /// `SECURE_PROXY_SSL_HEADER`: the HTTP header (from its `HTTP_…` META name) and the value
    /// that makes a request secure.
    pub secure_proxy_ssl_header: Option<(String, String)>,
    /// What `get_host()` reads in the CSRF checks (a copy of `DjangoSettings::hosts`).
    pub hosts: crate::host::HostSettings,
    /// What `request.POST` needs when the CSRF check reads it.
    pub body: super::BodySettings,
    /// `CACHES[SESSION_CACHE_ALIAS]` when the engine reads a cache the gate can read: always
    /// for `cache`, for `cached_db` when it is a `RedisCache`.
    pub cache: Option<super::SessionCache>,
}

#[derive(Clone, Debug)]
pub struct CsrfSettings {
    pub cookie_name: String,
    /// `CSRF_HEADER_NAME` as Django writes it (`HTTP_X_CSRFTOKEN`).
    pub header_meta_name: String,
    /// The HTTP header it names (`X-CSRFTOKEN`), matched case-insensitively.
    pub header_name: String,
    pub use_sessions: bool,
    pub cookie_domain: Option<String>,
    pub trusted_origins: Vec<String>,
}

impl Default for SessionSettings {
    /// Django's defaults.
    fn default() -> Self {
        SessionSettings {
            engine: SessionEngine::Db,
            cookie_name: "sessionid".into(),
            cookie_age: 1_209_600,
            session_cookie_domain: None,
            secret_key_fallbacks: Vec::new(),
            csrf: CsrfSettings {
                cookie_name: "csrftoken".into(),
                header_meta_name: "HTTP_X_CSRFTOKEN".into(),
                header_name: "X-CSRFTOKEN".into(),
                use_sessions: false,
                cookie_domain: None,
                trusted_origins: Vec::new(),
            },
            secure_proxy_ssl_header: None,
            hosts: crate::host::HostSettings::default(),
            body: super::BodySettings::default(),
            cache: None,
        }
    }
}

const ENGINES: [&str; 5] = [
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
    "django.contrib.sessions.backends.signed_cookies",
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.file",
];

/// A META name of an HTTP header (`HTTP_X_CSRFTOKEN`) as the header name (`X-CSRFTOKEN`).
fn http_header_of(meta: &str) -> Option<String> {
    let name = meta.strip_prefix("HTTP_")?;
    (!name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
    .then(|| name.replace('_', "-"))
}

impl Loader<'_> {
    /// Takes the session and CSRF keys out of `[django]`.
    pub(super) fn sessions(
        &self,
        raw: &mut RawDjango,
        warnings: &mut Vec<String>,
    ) -> Result<SessionSettings, ConfigError> {
        let mut settings = SessionSettings::default();
        let engine_span = raw.SESSION_ENGINE.as_ref().map(Spanned::span);
        if let Some(engine) = raw.SESSION_ENGINE.take() {
            settings.engine = match engine.get_ref().as_str() {
                "django.contrib.sessions.backends.db" => SessionEngine::Db,
                "django.contrib.sessions.backends.cached_db" => SessionEngine::CachedDb,
                "django.contrib.sessions.backends.signed_cookies" => SessionEngine::SignedCookies,
                "django.contrib.sessions.backends.cache" => SessionEngine::Cache,
                "django.contrib.sessions.backends.file" => return Err(self.at(
                    &engine,
                    "django.SESSION_ENGINE",
                    "the file engine is not supported; use db, cached_db, signed_cookies or cache",
                )),
                other => {
                    return Err(self.at(
                        &engine,
                        "django.SESSION_ENGINE",
                        format!(
                            "unknown session engine {other:?}{}",
                            suggestion(other, &ENGINES)
                        ),
                    ))
                }
            };
        }
        settings.cache = self.session_cache(
            settings.engine,
            engine_span,
            raw.CACHES.take(),
            raw.SESSION_CACHE_ALIAS.take(),
            warnings,
        )?;
        if let Some(name) = raw.SESSION_COOKIE_NAME.take() {
            settings.cookie_name = self.cookie_name(name, "django.SESSION_COOKIE_NAME")?;
        }
        if let Some(age) = raw.SESSION_COOKIE_AGE.take() {
            settings.cookie_age = u64::try_from(*age.get_ref()).map_err(|_| {
                self.at(
                    &age,
                    "django.SESSION_COOKIE_AGE",
                    "must be 0 or more seconds",
                )
            })?;
        }
        settings.session_cookie_domain = raw.SESSION_COOKIE_DOMAIN.take().map(Spanned::into_inner);
        settings.secret_key_fallbacks = match (
            raw.SECRET_KEY_FALLBACKS.take(),
            raw.SECRET_KEY_FALLBACKS_FILE.take(),
        ) {
            (Some(_), Some(file)) => {
                return Err(self.at(
                    &file,
                    "django.SECRET_KEY_FALLBACKS_FILE",
                    "give SECRET_KEY_FALLBACKS or SECRET_KEY_FALLBACKS_FILE, not both",
                ))
            }
            (Some(keys), None) => keys,
            (None, Some(file)) => {
                let path = match &self.base {
                    Some(base) => base.join(file.get_ref()),
                    None => PathBuf::from(file.get_ref()),
                };
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    self.at(
                        &file,
                        "django.SECRET_KEY_FALLBACKS_FILE",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                // One key per line; blank lines are not keys.
                text.lines()
                    .map(|l| l.trim_end_matches('\r'))
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            (None, None) => Vec::new(),
        };
        let csrf = &mut settings.csrf;
        if let Some(name) = raw.CSRF_COOKIE_NAME.take() {
            csrf.cookie_name = self.cookie_name(name, "django.CSRF_COOKIE_NAME")?;
        }
        if let Some(meta) = raw.CSRF_HEADER_NAME.take() {
            csrf.header_name = http_header_of(meta.get_ref()).ok_or_else(|| {
                self.at(
                    &meta,
                    "django.CSRF_HEADER_NAME",
                    format!(
                        "{:?} is not an HTTP header's META name; Django's form is HTTP_ and the \
                         header name in upper case with _ for -, e.g. \"HTTP_X_CSRFTOKEN\"",
                        meta.get_ref()
                    ),
                )
            })?;
            csrf.header_meta_name = meta.into_inner();
        }
        csrf.use_sessions = raw.CSRF_USE_SESSIONS.take().unwrap_or(false);
        csrf.cookie_domain = raw.CSRF_COOKIE_DOMAIN.take().map(Spanned::into_inner);
        if let Some(origins) = raw.CSRF_TRUSTED_ORIGINS.take() {
            for (i, origin) in origins.iter().enumerate() {
                // Django's system check 4_0.E001: an origin needs its scheme.
                if !origin.get_ref().contains("://") {
                    return Err(self.at(
                        origin,
                        format!("django.CSRF_TRUSTED_ORIGINS[{i}]"),
                        format!(
                            "{:?} has no scheme; Django 4.0+ needs e.g. \"https://{}\"",
                            origin.get_ref(),
                            origin.get_ref()
                        ),
                    ));
                }
            }
            csrf.trusted_origins = origins.into_iter().map(Spanned::into_inner).collect();
        }
        if let Some(pair) = raw.SECURE_PROXY_SSL_HEADER.take() {
            let bad = |why: &str| {
                self.at(
                    &pair,
                    "django.SECURE_PROXY_SSL_HEADER",
                    format!("{why}; e.g. [\"HTTP_X_FORWARDED_PROTO\", \"https\"]"),
                )
            };
            let [meta, value] = pair.get_ref().as_slice() else {
                return Err(bad(
                    "must be a two-item list: a header's META name and a value",
                ));
            };
            let header = http_header_of(meta)
                .ok_or_else(|| bad(&format!("{meta:?} is not an HTTP header's META name")))?;
            settings.secure_proxy_ssl_header = Some((header, value.clone()));
        }
        settings.body.max_memory_size = self.upload_limit(
            raw.DATA_UPLOAD_MAX_MEMORY_SIZE.take(),
            "django.DATA_UPLOAD_MAX_MEMORY_SIZE",
            settings.body.max_memory_size,
        )?;
        settings.body.max_number_fields = self.upload_limit(
            raw.DATA_UPLOAD_MAX_NUMBER_FIELDS.take(),
            "django.DATA_UPLOAD_MAX_NUMBER_FIELDS",
            settings.body.max_number_fields,
        )?;
        Ok(settings)
    }

    fn cookie_name(&self, name: Spanned<String>, key: &str) -> Result<String, ConfigError> {
        let text = name.get_ref();
        if text.is_empty() || text.bytes().any(|b| b <= b' ' || b"=;,".contains(&b)) {
            return Err(self.at(&name, key, format!("{text:?} is not a cookie name")));
        }
        Ok(name.into_inner())
    }
}
