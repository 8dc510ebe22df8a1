//! The `[simple_jwt]` section: djangorestframework-simplejwt's `SIMPLE_JWT` dict, key for key,
//! with simplejwt 5.5.1's defaults. Keys that only matter when tokens are *issued* (lifetimes,
//! rotation) are accepted so a project's dict can be copied over, and have no effect: a
//! token is judged by its own claims.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::django::SecretKey;
use super::raw::Loader;
use super::suggest::suggestion;
use super::ConfigError;
use crate::jwt::{Algorithm, ClaimRules, Verifier};

/// `AUTH_TOKEN_CLASSES` entries simplejwt ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenClass {
    Access,
    Refresh,
    Sliding,
    Untyped,
}

impl TokenClass {
    const ALL: [(&'static str, TokenClass); 4] = [
        ("AccessToken", TokenClass::Access),
        ("RefreshToken", TokenClass::Refresh),
        ("SlidingToken", TokenClass::Sliding),
        ("UntypedToken", TokenClass::Untyped),
    ];

    /// The class's `__name__`, as simplejwt's messages name it.
    pub fn class_name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("", |(n, _)| n)
    }

    /// Its `token_type`.
    pub fn token_type(self) -> &'static str {
        match self {
            TokenClass::Access => "access",
            TokenClass::Refresh => "refresh",
            TokenClass::Sliding => "sliding",
            TokenClass::Untyped => "untyped",
        }
    }

    /// Refresh and sliding tokens consult the blacklist (`BlacklistMixin`); access tokens never.
    pub fn uses_blacklist(self) -> bool {
        matches!(self, TokenClass::Refresh | TokenClass::Sliding)
    }
}

/// `[simple_jwt]`, resolved. Its `Debug` shows no key.
#[derive(Clone, Debug)]
pub struct SimpleJwtSettings {
    pub verifier: Arc<Verifier>,
    pub claims: ClaimRules,
    /// `AUTH_HEADER_TYPES`, compared case-sensitively; the first names the challenge.
    pub auth_header_types: Vec<String>,
    /// The HTTP header `AUTH_HEADER_NAME` (a META key) stands for, e.g. `Authorization`.
    pub auth_header: String,
    pub user_id_field: String,
    pub user_id_claim: String,
    /// `None` when set to `false` (Python's `None`): the check is skipped.
    pub token_type_claim: Option<String>,
    pub jti_claim: Option<String>,
    pub token_classes: Vec<TokenClass>,
    pub check_user_is_active: bool,
    pub check_revoke_token: bool,
    pub revoke_token_claim: String,
    /// Whether `rest_framework_simplejwt.token_blacklist` is in `INSTALLED_APPS`.
    pub blacklist_app: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct RawSimpleJwt {
    ALGORITHM: Option<Spanned<String>>,
    SIGNING_KEY: Option<Spanned<String>>,
    SIGNING_KEY_FILE: Option<Spanned<String>>,
    VERIFYING_KEY: Option<Spanned<String>>,
    VERIFYING_KEY_FILE: Option<Spanned<String>>,
    AUDIENCE: Option<Spanned<Value>>,
    ISSUER: Option<Spanned<String>>,
    JWK_URL: Option<Spanned<String>>,
    LEEWAY: Option<Spanned<Value>>,
    AUTH_HEADER_TYPES: Option<Spanned<Value>>,
    AUTH_HEADER_NAME: Option<Spanned<String>>,
    USER_ID_FIELD: Option<Spanned<String>>,
    USER_ID_CLAIM: Option<Spanned<String>>,
    TOKEN_TYPE_CLAIM: Option<Spanned<Value>>,
    JTI_CLAIM: Option<Spanned<Value>>,
    AUTH_TOKEN_CLASSES: Option<Vec<Spanned<String>>>,
    CHECK_USER_IS_ACTIVE: Option<bool>,
    CHECK_REVOKE_TOKEN: Option<bool>,
    REVOKE_TOKEN_CLAIM: Option<Spanned<String>>,
    TOKEN_USER_CLASS: Option<Spanned<String>>,
    ACCESS_TOKEN_LIFETIME: Option<Spanned<Value>>,
    REFRESH_TOKEN_LIFETIME: Option<Spanned<Value>>,
    SLIDING_TOKEN_LIFETIME: Option<Spanned<Value>>,
    SLIDING_TOKEN_REFRESH_LIFETIME: Option<Spanned<Value>>,
    SLIDING_TOKEN_REFRESH_EXP_CLAIM: Option<String>,
    ROTATE_REFRESH_TOKENS: Option<bool>,
    BLACKLIST_AFTER_ROTATION: Option<bool>,
    UPDATE_LAST_LOGIN: Option<bool>,
    /// drfgate's own key: `rest_framework_simplejwt.token_blacklist` is in INSTALLED_APPS.
    token_blacklist_installed: Option<bool>,
}

const TOKEN_CLASS_MODULE: &str = "rest_framework_simplejwt.tokens.";
const DEFAULT_TOKEN_USER_CLASS: &str = "rest_framework_simplejwt.models.TokenUser";

/// Seconds from an int/float or a `timedelta`-style table (`{ minutes = 5 }`).
pub(super) fn seconds(value: &Value) -> Result<f64, String> {
    match value {
        Value::Integer(n) => Ok(*n as f64),
        Value::Float(f) if f.is_finite() => Ok(*f),
        Value::Table(table) => {
            let mut total = 0.0;
            for (unit, amount) in table {
                let scale = match unit.as_str() {
                    "weeks" => 604_800.0,
                    "days" => 86_400.0,
                    "hours" => 3_600.0,
                    "minutes" => 60.0,
                    "seconds" => 1.0,
                    "milliseconds" => 1e-3,
                    "microseconds" => 1e-6,
                    other => {
                        return Err(format!(
                            "unknown timedelta unit {other:?}; weeks, days, hours, minutes, \
                             seconds, milliseconds or microseconds"
                        ))
                    }
                };
                let amount = match amount {
                    Value::Integer(n) => *n as f64,
                    Value::Float(f) if f.is_finite() => *f,
                    _ => return Err(format!("{unit} must be a number")),
                };
                total += amount * scale;
            }
            Ok(total)
        }
        _ => Err("expected seconds (a number) or a timedelta table such as { minutes = 5 }".into()),
    }
}

impl Loader<'_> {
    fn read_file(&self, file: &Spanned<String>, key: &str) -> Result<String, ConfigError> {
        let path = match &self.base {
            Some(base) => base.join(file.get_ref()),
            None => PathBuf::from(file.get_ref()),
        };
        std::fs::read_to_string(&path)
            .map_err(|e| self.at(file, key, format!("cannot read {}: {e}", path.display())))
    }

    /// A string-or-`false` claim name (Python's `None` is `false` here: TOML has no null).
    fn optional_claim(
        &self,
        value: &Option<Spanned<Value>>,
        key: &str,
        default: &str,
    ) -> Result<Option<String>, ConfigError> {
        match value.as_ref().map(|v| (v, v.get_ref())) {
            None => Ok(Some(default.into())),
            Some((_, Value::String(s))) => Ok(Some(s.clone())),
            Some((_, Value::Boolean(false))) => Ok(None),
            Some((v, _)) => Err(self.at(
                v,
                key,
                "a claim name, or false for Python's None (the check is skipped)",
            )),
        }
    }

    pub(super) fn simple_jwt(
        &self,
        raw: Option<RawSimpleJwt>,
        secret_key: Option<&SecretKey>,
    ) -> Result<Option<SimpleJwtSettings>, ConfigError> {
        let present = raw.is_some();
        let raw = raw.unwrap_or_default();
        let key = |k: &str| format!("simple_jwt.{k}");
        if let Some(url) = &raw.JWK_URL {
            return Err(self.at(
                url,
                key("JWK_URL"),
                "drfgate does not fetch keys at request time; put the key in VERIFYING_KEY \
                 (PEM) instead (see docs/differences.md)",
            ));
        }
        let algorithm = match &raw.ALGORITHM {
            None => Algorithm::HS256,
            Some(a) => {
                Algorithm::from_setting(a.get_ref()).map_err(|m| self.at(a, key("ALGORITHM"), m))?
            }
        };
        let verifier = if algorithm.is_hmac() {
            let (secret, at, which) =
                match (&raw.SIGNING_KEY, &raw.SIGNING_KEY_FILE) {
                    (Some(_), Some(f)) => {
                        return Err(self.at(
                            f,
                            key("SIGNING_KEY_FILE"),
                            "give SIGNING_KEY or SIGNING_KEY_FILE, not both",
                        ))
                    }
                    (Some(k), None) => (k.get_ref().clone(), Some(k.span()), "SIGNING_KEY"),
                    (None, Some(f)) => (
                        self.read_file(f, &key("SIGNING_KEY_FILE"))?
                            .trim_end_matches(['\n', '\r'])
                            .to_string(),
                        Some(f.span()),
                        "SIGNING_KEY_FILE",
                    ),
                    (None, None) => match secret_key {
                        Some(SecretKey(k)) => (k.clone(), None, "SIGNING_KEY"),
                        None if present => return Err(self.error(
                            None,
                            key("SIGNING_KEY"),
                            "HS* tokens need SIGNING_KEY, SIGNING_KEY_FILE or [django] SECRET_KEY \
                             (simplejwt's SIGNING_KEY defaults to SECRET_KEY)",
                        )),
                        None => return Ok(None),
                    },
                };
            Verifier::hmac(algorithm, secret.as_bytes())
                .map_err(|m| self.error(at, key(which), m))?
        } else {
            let pem = match (&raw.VERIFYING_KEY, &raw.VERIFYING_KEY_FILE) {
                (Some(_), Some(f)) => {
                    return Err(self.at(
                        f,
                        key("VERIFYING_KEY_FILE"),
                        "give VERIFYING_KEY or VERIFYING_KEY_FILE, not both",
                    ))
                }
                (Some(k), None) => (k.get_ref().clone(), Some(k.span()), "VERIFYING_KEY"),
                (None, Some(f)) => (
                    self.read_file(f, &key("VERIFYING_KEY_FILE"))?,
                    Some(f.span()),
                    "VERIFYING_KEY_FILE",
                ),
                (None, None) => (String::new(), None, "VERIFYING_KEY"),
            };
            Verifier::public_key(algorithm, &pem.0).map_err(|m| self.error(pem.1, key(pem.2), m))?
        };
        let audience = match &raw.AUDIENCE {
            None => None,
            Some(v) => Some(match v.get_ref() {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| self.at(v, key("AUDIENCE"), "a list of strings"))?,
                _ => return Err(self.at(v, key("AUDIENCE"), "a string or a list of strings")),
            }),
        };
        let leeway = match &raw.LEEWAY {
            None => 0.0,
            Some(v) => seconds(v.get_ref()).map_err(|m| self.at(v, key("LEEWAY"), m))?,
        };
        for (value, name) in [
            (&raw.ACCESS_TOKEN_LIFETIME, "ACCESS_TOKEN_LIFETIME"),
            (&raw.REFRESH_TOKEN_LIFETIME, "REFRESH_TOKEN_LIFETIME"),
            (&raw.SLIDING_TOKEN_LIFETIME, "SLIDING_TOKEN_LIFETIME"),
            (
                &raw.SLIDING_TOKEN_REFRESH_LIFETIME,
                "SLIDING_TOKEN_REFRESH_LIFETIME",
            ),
        ] {
            if let Some(v) = value {
                seconds(v.get_ref()).map_err(|m| self.at(v, key(name), m))?;
            }
        }
        let auth_header_types = match &raw.AUTH_HEADER_TYPES {
            None => vec!["Bearer".to_string()],
            Some(v) => {
                let types = match v.get_ref() {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                if types.is_empty()
                    || types.iter().any(|t| {
                        t.is_empty()
                            || !t.is_ascii()
                            || t.bytes()
                                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
                    })
                {
                    return Err(self.at(
                        v,
                        key("AUTH_HEADER_TYPES"),
                        "one or more ASCII words without spaces, e.g. [\"Bearer\", \"JWT\"]",
                    ));
                }
                types
            }
        };
        let auth_header = match &raw.AUTH_HEADER_NAME {
            None => "Authorization".to_string(),
            Some(v) => match v.get_ref().strip_prefix("HTTP_") {
                Some(name) if !name.is_empty() => name.replace('_', "-"),
                _ => {
                    return Err(self.at(
                        v,
                        key("AUTH_HEADER_NAME"),
                        "a META key of an HTTP header, e.g. \"HTTP_AUTHORIZATION\"",
                    ))
                }
            },
        };
        let plain = |v: &Option<Spanned<String>>, name: &str, default: &str| {
            let Some(v) = v else {
                return Ok(default.to_string());
            };
            if v.get_ref().is_empty() {
                return Err(self.at(v, key(name), "must not be empty"));
            }
            Ok(v.get_ref().clone())
        };
        let user_id_field = plain(&raw.USER_ID_FIELD, "USER_ID_FIELD", "id")?;
        if !user_id_field
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            let v = raw.USER_ID_FIELD.as_ref().expect("a non-default value");
            return Err(self.at(
                v,
                key("USER_ID_FIELD"),
                "a column of the user table, e.g. \"id\"",
            ));
        }
        let user_id_claim = plain(&raw.USER_ID_CLAIM, "USER_ID_CLAIM", "user_id")?;
        let revoke_token_claim = plain(
            &raw.REVOKE_TOKEN_CLAIM,
            "REVOKE_TOKEN_CLAIM",
            "hash_password",
        )?;
        let token_type_claim = self.optional_claim(
            &raw.TOKEN_TYPE_CLAIM,
            &key("TOKEN_TYPE_CLAIM"),
            "token_type",
        )?;
        let jti_claim = self.optional_claim(&raw.JTI_CLAIM, &key("JTI_CLAIM"), "jti")?;
        let token_classes = match &raw.AUTH_TOKEN_CLASSES {
            None => vec![TokenClass::Access],
            Some(list) if list.is_empty() => {
                return Err(self.error(
                    None,
                    key("AUTH_TOKEN_CLASSES"),
                    "must name at least one token class",
                ))
            }
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, entry)| {
                    let name = entry.get_ref();
                    let short = name.strip_prefix(TOKEN_CLASS_MODULE).unwrap_or(name);
                    TokenClass::ALL
                        .iter()
                        .find(|(n, _)| *n == short)
                        .map(|(_, c)| *c)
                        .ok_or_else(|| {
                            let known: Vec<String> = TokenClass::ALL
                                .iter()
                                .map(|(n, _)| format!("{TOKEN_CLASS_MODULE}{n}"))
                                .collect();
                            let known: Vec<&str> = known.iter().map(String::as_str).collect();
                            self.at(
                                entry,
                                format!("simple_jwt.AUTH_TOKEN_CLASSES[{i}]"),
                                format!(
                                    "unknown token class {name:?}{} (custom token classes \
                                     run Python that drfgate cannot)",
                                    suggestion(name, &known)
                                ),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        if let Some(class) = &raw.TOKEN_USER_CLASS {
            if class.get_ref() != DEFAULT_TOKEN_USER_CLASS {
                return Err(self.at(
                    class,
                    key("TOKEN_USER_CLASS"),
                    format!("only {DEFAULT_TOKEN_USER_CLASS} is supported"),
                ));
            }
        }
        // The blacklist app with access tokens only is simplejwt's usual setup (it serves the
        // refresh endpoint's rotation): nothing to warn about, access tokens never consult it.
        let blacklist_app = raw.token_blacklist_installed.unwrap_or(false);
        let _ = (
            &raw.SLIDING_TOKEN_REFRESH_EXP_CLAIM,
            raw.ROTATE_REFRESH_TOKENS,
            raw.BLACKLIST_AFTER_ROTATION,
            raw.UPDATE_LAST_LOGIN,
        );
        Ok(Some(SimpleJwtSettings {
            verifier: Arc::new(verifier),
            claims: ClaimRules {
                leeway,
                audience,
                issuer: raw.ISSUER.as_ref().map(|i| i.get_ref().clone()),
            },
            auth_header_types,
            auth_header,
            user_id_field,
            user_id_claim,
            token_type_claim,
            jti_claim,
            token_classes,
            check_user_is_active: raw.CHECK_USER_IS_ACTIVE.unwrap_or(true),
            check_revoke_token: raw.CHECK_REVOKE_TOKEN.unwrap_or(false),
            revoke_token_claim,
            blacklist_app,
        }))
    }
}
