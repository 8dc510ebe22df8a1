//! `[django.CACHES.<alias>]` and `SESSION_CACHE_ALIAS`: the cache Django's `cache` and
//! `cached_db` session engines keep sessions in, pasted from settings.py. The gate reads it
//! only when it is Django's own `RedisCache` (the only cache another process can read), and
//! reads nothing else of `CACHES`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::raw::Loader;
use super::sessions::SessionEngine;
use super::ConfigError;
use crate::redis::RedisTarget;

pub const REDIS_CACHE: &str = "django.core.cache.backends.redis.RedisCache";

/// One entry of Django's `CACHES`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct RawCacheAlias {
    BACKEND: Spanned<String>,
    /// A string (servers split at `,` or `;`, as Django splits it) or a list of servers.
    LOCATION: Option<Spanned<toml::Value>>,
    KEY_PREFIX: Option<String>,
    VERSION: Option<Spanned<i64>>,
    /// Accepted as pasted; the gate only reads, and Redis expires what Django wrote.
    #[allow(dead_code)]
    TIMEOUT: Option<toml::Value>,
    KEY_FUNCTION: Option<Spanned<String>>,
    OPTIONS: Option<Spanned<toml::Table>>,
}

/// Where the session engine's cache is and how Django names keys in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCache {
    /// `SESSION_CACHE_ALIAS`.
    pub alias: String,
    /// The first server of `LOCATION`: Django's `RedisCache` writes there.
    pub target: RedisTarget,
    pub key_prefix: String,
    pub version: i64,
    pub timeout: Duration,
}

impl SessionCache {
    /// Django's `default_key_func`: `KEY_PREFIX:VERSION:key`, with the session engine's own
    /// prefix (`django.contrib.sessions.cache` or `…cached_db`) before the session key.
    pub fn key(&self, engine_prefix: &str, session_key: &str) -> Vec<u8> {
        format!(
            "{}:{}:{engine_prefix}{session_key}",
            self.key_prefix, self.version
        )
        .into_bytes()
    }
}

/// How long the gate waits for the session cache before failing closed.
const TIMEOUT: Duration = Duration::from_millis(1000);

impl Loader<'_> {
    /// The cache the session engine reads, if it reads one the gate can read too.
    pub(super) fn session_cache(
        &self,
        engine: SessionEngine,
        engine_span: Option<std::ops::Range<usize>>,
        caches: Option<Spanned<BTreeMap<String, Spanned<RawCacheAlias>>>>,
        alias: Option<Spanned<String>>,
        warnings: &mut Vec<String>,
    ) -> Result<Option<SessionCache>, ConfigError> {
        let alias_name = alias
            .as_ref()
            .map_or("default", |a| a.get_ref().as_str())
            .to_string();
        let entry = caches
            .as_ref()
            .and_then(|c| c.get_ref().get(&alias_name).map(|e| (c, e)));
        let (caches, raw) = match (engine, entry) {
            (SessionEngine::Cache, Some(found)) => found,
            (SessionEngine::Cache, None) => {
                let message = format!(
                    "the cache engine reads sessions from Django's CACHES[{alias_name:?}] \
                     (SESSION_CACHE_ALIAS): give [django.CACHES.{alias_name}] with BACKEND = \
                     \"{REDIS_CACHE}\" and its LOCATION"
                );
                return Err(match (&alias, &caches) {
                    (Some(alias), _) => self.at(alias, "django.SESSION_CACHE_ALIAS", message),
                    (None, Some(caches)) => self.at(caches, "django.CACHES", message),
                    (None, None) => self.error(engine_span, "django.SESSION_ENGINE", message),
                });
            }
            (SessionEngine::CachedDb, Some(found)) => found,
            _ => return Ok(None),
        };
        let key = |name: &str| format!("django.CACHES.{alias_name}.{name}");
        let raw = raw.get_ref();
        if raw.BACKEND.get_ref() != REDIS_CACHE {
            if engine == SessionEngine::CachedDb {
                warnings.push(format!(
                    "django.CACHES.{alias_name} is {:?}: the gate can read only Django's \
                     RedisCache, so cached_db sessions are read from the database \
                     (docs/differences.md)",
                    raw.BACKEND.get_ref()
                ));
                return Ok(None);
            }
            return Err(self.at(
                &raw.BACKEND,
                key("BACKEND"),
                format!(
                    "the gate reads the cache session engine only from Django's RedisCache \
                     (\"{REDIS_CACHE}\"); another process cannot read a local-memory, file or \
                     database cache, and memcached values are not read; use db, cached_db or \
                     signed_cookies"
                ),
            ));
        }
        if let Some(function) = &raw.KEY_FUNCTION {
            return Err(self.at(
                function,
                key("KEY_FUNCTION"),
                "a custom KEY_FUNCTION cannot be followed: the gate makes Django's default keys \
                 (KEY_PREFIX:VERSION:key)",
            ));
        }
        if let Some(options) = raw.OPTIONS.as_ref().filter(|o| !o.get_ref().is_empty()) {
            return Err(self.at(
                options,
                key("OPTIONS"),
                "RedisCache OPTIONS (a serializer, pool or parser class, connection keywords) \
                 are not followed; give the database number and password in LOCATION \
                 (redis://:password@host:port/db)",
            ));
        }
        let Some(location) = &raw.LOCATION else {
            return Err(self.at(
                caches,
                key("LOCATION"),
                "RedisCache needs a LOCATION (redis://host:port/db)",
            ));
        };
        let servers: Vec<String> = match location.get_ref() {
            toml::Value::String(text) => text
                .split([',', ';'])
                .map(|s| s.trim().to_string())
                .collect(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    self.at(
                        location,
                        key("LOCATION"),
                        "a list of redis:// URLs, as text",
                    )
                })?,
            _ => {
                return Err(self.at(
                    location,
                    key("LOCATION"),
                    "a redis:// URL or a list of them",
                ))
            }
        };
        let primary = servers.first().map(String::as_str).unwrap_or("");
        let target = RedisTarget::parse(primary).map_err(|m| {
            self.at(
                location,
                key("LOCATION"),
                format!("{m} (the gate speaks plain redis:// only)"),
            )
        })?;
        let version = match &raw.VERSION {
            Some(v) => *v.get_ref(),
            None => 1,
        };
        Ok(Some(SessionCache {
            alias: alias_name,
            target,
            key_prefix: raw.KEY_PREFIX.clone().unwrap_or_default(),
            version,
            timeout: TIMEOUT,
        }))
    }
}
