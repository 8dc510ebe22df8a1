//! The `[rest_knox]` section: django-rest-knox's `REST_KNOX` dict, key for key, with knox
//! 5.x's defaults. Only what `knox.auth.TokenAuthentication` reads matters; the keys used when
//! tokens are issued are accepted so a project's dict can be copied over.

use serde::Deserialize;
use toml::{Spanned, Value};

use super::raw::Loader;
use super::simple_jwt::seconds;
use super::ConfigError;

/// `[rest_knox]`, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnoxSettings {
    /// `AUTH_HEADER_PREFIX`, compared case-insensitively; also the `WWW-Authenticate` value.
    pub auth_header_prefix: String,
    /// The token model's table: `knox_authtoken` for `knox.AuthToken`.
    pub token_table: String,
}

impl Default for KnoxSettings {
    fn default() -> Self {
        KnoxSettings {
            auth_header_prefix: "Token".into(),
            token_table: "knox_authtoken".into(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct RawKnox {
    AUTH_HEADER_PREFIX: Option<Spanned<String>>,
    SECURE_HASH_ALGORITHM: Option<Spanned<String>>,
    AUTO_REFRESH: Option<Spanned<bool>>,
    AUTO_REFRESH_MAX_TTL: Option<Spanned<Value>>,
    MIN_REFRESH_INTERVAL: Option<Spanned<Value>>,
    TOKEN_TTL: Option<Spanned<Value>>,
    TOKEN_MODEL: Option<Spanned<String>>,
    TOKEN_PREFIX: Option<Spanned<String>>,
    AUTH_TOKEN_CHARACTER_LENGTH: Option<u32>,
    TOKEN_LIMIT_PER_USER: Option<u32>,
    USER_SERIALIZER: Option<String>,
    EXPIRY_DATETIME_FORMAT: Option<String>,
}

impl Loader<'_> {
    pub(super) fn rest_knox(&self, raw: Option<RawKnox>) -> Result<KnoxSettings, ConfigError> {
        let raw = raw.unwrap_or_default();
        let key = |k: &str| format!("rest_knox.{k}");
        let mut settings = KnoxSettings::default();
        if let Some(prefix) = &raw.AUTH_HEADER_PREFIX {
            let word = prefix.get_ref();
            if word.is_empty()
                || !word.is_ascii()
                || word
                    .bytes()
                    .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
            {
                return Err(self.at(
                    prefix,
                    key("AUTH_HEADER_PREFIX"),
                    "one ASCII word without spaces, e.g. \"Token\"",
                ));
            }
            settings.auth_header_prefix = word.clone();
        }
        if let Some(algorithm) = &raw.SECURE_HASH_ALGORITHM {
            if algorithm.get_ref() != "hashlib.sha512" {
                return Err(self.at(
                    algorithm,
                    key("SECURE_HASH_ALGORITHM"),
                    "only knox's default \"hashlib.sha512\" is supported",
                ));
            }
        }
        if let Some(auto) = &raw.AUTO_REFRESH {
            if *auto.get_ref() {
                return Err(self.at(
                    auto,
                    key("AUTO_REFRESH"),
                    "drfgate reads the database and never writes it, so it cannot move a \
                     token's expiry forward; leave AUTO_REFRESH to Django (see docs/differences.md)",
                ));
            }
        }
        for (value, name) in [
            (&raw.AUTO_REFRESH_MAX_TTL, "AUTO_REFRESH_MAX_TTL"),
            (&raw.MIN_REFRESH_INTERVAL, "MIN_REFRESH_INTERVAL"),
            (&raw.TOKEN_TTL, "TOKEN_TTL"),
        ] {
            if let Some(v) = value {
                seconds(v.get_ref()).map_err(|m| self.at(v, key(name), m))?;
            }
        }
        if let Some(prefix) = &raw.TOKEN_PREFIX {
            if prefix.get_ref().chars().count() > 10 {
                return Err(self.at(
                    prefix,
                    key("TOKEN_PREFIX"),
                    "knox refuses a TOKEN_PREFIX longer than 10 characters",
                ));
            }
        }
        if let Some(model) = &raw.TOKEN_MODEL {
            let Some((app, name)) = model.get_ref().split_once('.').filter(|(a, n)| {
                !a.is_empty()
                    && !n.is_empty()
                    && (a.to_string() + n)
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }) else {
                return Err(self.at(
                    model,
                    key("TOKEN_MODEL"),
                    "\"app_label.ModelName\", e.g. \"knox.AuthToken\"",
                ));
            };
            // Django's default db_table.
            settings.token_table = format!("{app}_{}", name.to_lowercase());
        }
        let _ = (
            raw.AUTH_TOKEN_CHARACTER_LENGTH,
            raw.TOKEN_LIMIT_PER_USER,
            &raw.USER_SERIALIZER,
            &raw.EXPIRY_DATETIME_FORMAT,
        );
        Ok(settings)
    }
}
