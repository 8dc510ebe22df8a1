//! The config file as TOML gives it: the serde shape of every section (unknown keys refused),
//! and the [`Loader`] that holds the text, so that every error can name the file, the line and
//! the key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) django: Option<RawDjango>,
    pub(super) rest_framework: Option<RawRestFramework>,
    #[serde(default)]
    pub(super) authentication_classes: BTreeMap<Spanned<String>, RawAuthClass>,
    #[serde(default)]
    pub(super) permission_classes: BTreeMap<Spanned<String>, RawPermissionClass>,
    #[serde(default)]
    pub(super) throttle_classes: BTreeMap<Spanned<String>, super::throttles::RawThrottleClass>,
    pub(super) throttle: Option<super::throttles::RawThrottle>,
    pub(super) failed_logins: Option<super::throttles::RawFailedLogins>,
    #[serde(default)]
    pub(super) renderer_classes: BTreeMap<Spanned<String>, RawRendererClass>,
    pub(super) cache: Option<RawCache>,
    pub(super) gate: Option<RawGate>,
    pub(super) simple_jwt: Option<super::simple_jwt::RawSimpleJwt>,
    pub(super) rest_knox: Option<super::rest_knox::RawKnox>,
    pub(super) handoff: Option<RawHandoff>,
    pub(super) revocation: Option<super::revocation::RawRevocation>,
    /// Read by `drfgate serve` (`Config::section`); any shape is accepted here.
    #[allow(dead_code)]
    pub(super) serve: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub(super) routes: Vec<Spanned<RawRoute>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct RawDjango {
    pub(super) SECRET_KEY: Option<String>,
    pub(super) SECRET_KEY_FILE: Option<Spanned<String>>,
    pub(super) DATABASE: Option<Spanned<String>>,
    /// Django's `DATABASES`, of which the gate reads `default` (config/databases.rs).
    pub(super) DATABASES: Option<Spanned<BTreeMap<String, Spanned<super::databases::RawDatabase>>>>,
    pub(super) AUTH_USER_TABLE: Option<Spanned<String>>,
    pub(super) USERNAME_FIELD: Option<Spanned<String>>,
    pub(super) TOKEN_TABLE: Option<Spanned<String>>,
    pub(super) AUTHENTICATION_BACKENDS: Option<Vec<Spanned<String>>>,
    pub(super) PASSWORD_HASHERS: Option<Vec<Spanned<String>>>,
    // Sessions and CSRF (config/sessions.rs reads them).
    pub(super) SESSION_ENGINE: Option<Spanned<String>>,
    pub(super) SESSION_COOKIE_NAME: Option<Spanned<String>>,
    pub(super) SESSION_COOKIE_AGE: Option<Spanned<i64>>,
    pub(super) SESSION_COOKIE_DOMAIN: Option<Spanned<String>>,
    pub(super) SECRET_KEY_FALLBACKS: Option<Vec<String>>,
    pub(super) SECRET_KEY_FALLBACKS_FILE: Option<Spanned<String>>,
    pub(super) CSRF_COOKIE_NAME: Option<Spanned<String>>,
    pub(super) CSRF_HEADER_NAME: Option<Spanned<String>>,
    pub(super) CSRF_USE_SESSIONS: Option<bool>,
    pub(super) CSRF_COOKIE_DOMAIN: Option<Spanned<String>>,
    pub(super) CSRF_TRUSTED_ORIGINS: Option<Vec<Spanned<String>>>,
    pub(super) SECURE_PROXY_SSL_HEADER: Option<Spanned<Vec<String>>>,
    // Request bodies (config/bodies.rs reads them): a number, or false for None.
    pub(super) DATA_UPLOAD_MAX_MEMORY_SIZE: Option<Spanned<toml::Value>>,
    pub(super) DATA_UPLOAD_MAX_NUMBER_FIELDS: Option<Spanned<toml::Value>>,
    /// Django's `CACHES` (config/caches.rs reads the session engine's alias).
    pub(super) CACHES: Option<Spanned<BTreeMap<String, Spanned<super::caches::RawCacheAlias>>>>,
    pub(super) SESSION_CACHE_ALIAS: Option<Spanned<String>>,
    // Hosts (config/hosts.rs reads them).
    pub(super) ALLOWED_HOSTS: Option<Vec<String>>,
    pub(super) DEBUG: Option<bool>,
    pub(super) USE_X_FORWARDED_HOST: Option<bool>,
    pub(super) USE_X_FORWARDED_PORT: Option<bool>,
    pub(super) MIDDLEWARE: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
pub(super) struct RawRestFramework {
    pub(super) DEFAULT_AUTHENTICATION_CLASSES: Option<Vec<Spanned<String>>>,
    pub(super) DEFAULT_PERMISSION_CLASSES: Option<Vec<Spanned<String>>>,
    pub(super) DEFAULT_THROTTLE_CLASSES: Option<Vec<Spanned<String>>>,
    pub(super) DEFAULT_THROTTLE_RATES: Option<BTreeMap<String, Spanned<toml::Value>>>,
    pub(super) NUM_PROXIES: Option<Spanned<i64>>,
    pub(super) DEFAULT_RENDERER_CLASSES: Option<Vec<Spanned<String>>>,
    pub(super) DEFAULT_PARSER_CLASSES: Option<Vec<Spanned<String>>>,
    /// A string, or `false` for Python's `None` (TOML has no null).
    pub(super) URL_FORMAT_OVERRIDE: Option<Spanned<toml::Value>>,
    #[serde(flatten)]
    pub(super) other: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthClass {
    pub(super) base: Spanned<String>,
    pub(super) keyword: Option<Spanned<String>>,
    pub(super) www_authenticate_realm: Option<Spanned<String>>,
    pub(super) header: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPermissionClass {
    pub(super) base: Spanned<String>,
    pub(super) message: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRendererClass {
    pub(super) media_type: Spanned<String>,
    pub(super) format: Spanned<String>,
    pub(super) base: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCache {
    pub(super) max_entries: Option<usize>,
    pub(super) ttl_seconds: Option<u64>,
    pub(super) negative_max_entries: Option<usize>,
    pub(super) negative_ttl_seconds: Option<u64>,
    pub(super) permissions_ttl_seconds: Option<u64>,
    pub(super) shards: Option<usize>,
    pub(super) stale_if_error_seconds: Option<u64>,
    pub(super) credential_lookups_per_second: Option<u32>,
    pub(super) unlisted_token_lookups_per_second: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGate {
    pub(super) unmatched: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct RawHandoff {
    pub(super) SECRET_FILE: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    pub(super) path: Option<Spanned<String>>,
    pub(super) regex: Option<Spanned<String>>,
    pub(super) name: Option<String>,
    pub(super) methods: Option<Vec<Spanned<String>>>,
    pub(super) authentication_classes: Option<Vec<Spanned<String>>>,
    pub(super) permission_classes: Option<Vec<Spanned<String>>>,
    pub(super) model: Option<Spanned<String>>,
    pub(super) throttle_classes: Option<Vec<Spanned<String>>>,
    pub(super) throttle_scope: Option<Spanned<String>>,
    pub(super) renderer_classes: Option<Vec<Spanned<String>>>,
    pub(super) parser_classes: Option<Vec<Spanned<String>>>,
    /// `pass = true`: the view is the application's to judge (a Python class the gate cannot
    /// model); requests matching it are passed on without an identity.
    pub(super) r#pass: Option<Spanned<bool>>,
}

/// A config text being loaded and where it came from; every `ConfigError` is made here, so
/// that it names the file and turns a byte span into a line.
pub(super) struct Loader<'a> {
    pub(super) text: &'a str,
    pub(super) origin: &'a str,
    pub(super) base: Option<PathBuf>,
}

impl Loader<'_> {
    pub(super) fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// The first line that assigns `key` (for values whose span serde cannot give).
    pub(super) fn key_line(&self, key: &str) -> Option<usize> {
        self.text
            .lines()
            .position(|line| {
                line.trim_start()
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
            .map(|i| i + 1)
    }

    pub(super) fn error(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            origin: self.origin.to_string(),
            line: span.map(|s| self.line_of(s.start)),
            key: key.into(),
            message: message.into(),
        }
    }

    pub(super) fn at<T>(
        &self,
        spanned: &Spanned<T>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        self.error(Some(spanned.span()), key, message)
    }
}
