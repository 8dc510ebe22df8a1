//! The `[django]` section: the database, `SECRET_KEY`, the user and token tables,
//! `AUTHENTICATION_BACKENDS` and `PASSWORD_HASHERS`, as Django's settings name them.

use std::fmt;
use std::path::PathBuf;

use super::raw::{Loader, RawDjango};
use super::suggest::suggestion;
use super::ConfigError;
use crate::auth::{Backend, Backends};
use crate::hashers::{Hasher, PasswordHashers};
use crate::store::{DatabaseUrl, Schema};

/// Django's `[django]` section, resolved.
pub struct DjangoSettings {
    pub secret_key: Option<SecretKey>,
    pub database: DatabaseUrl,
    pub schema: Schema,
    pub backends: Backends,
    pub hashers: PasswordHashers,
    /// Sessions and CSRF (`SESSION_ENGINE`, `CSRF_TRUSTED_ORIGINS`, …).
    pub sessions: super::sessions::SessionSettings,
    /// `ALLOWED_HOSTS`, `DEBUG`, `USE_X_FORWARDED_HOST`/`_PORT`, whether `CommonMiddleware`
    /// checks every request's host.
    pub hosts: crate::host::HostSettings,
}

/// `SECRET_KEY`, kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub String);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl Loader<'_> {
    pub(super) fn django(
        &self,
        raw: Option<RawDjango>,
        warnings: &mut Vec<String>,
    ) -> Result<DjangoSettings, ConfigError> {
        let Some(mut raw) = raw else {
            return Err(self.error(
                None,
                "django",
                "missing [django] section (it needs at least DATABASE)",
            ));
        };
        let hosts = self.hosts(&mut raw)?;
        let mut sessions = self.sessions(&mut raw, warnings)?;
        sessions.hosts = hosts.clone();
        let database = match (raw.DATABASE, raw.DATABASES) {
            (Some(_), Some(databases)) => {
                return Err(self.at(
                    &databases,
                    "django.DATABASES",
                    "give DATABASE (a URL) or DATABASES.default (Django's table), not both",
                ))
            }
            (None, Some(databases)) => self.databases(databases, warnings)?,
            (Some(database), None) => DatabaseUrl::parse(database.get_ref(), self.base.as_deref())
                .map_err(|m| self.at(&database, "django.DATABASE", m))?,
            (None, None) => {
                return Err(self.error(
                    None,
                    "django.DATABASE",
                    "missing; e.g. DATABASE = \"sqlite:///srv/app/db.sqlite3\" or \
                     DATABASE = \"postgres://gate@db.internal/app\"",
                ))
            }
        };
        let secret_key = match (raw.SECRET_KEY, raw.SECRET_KEY_FILE) {
            (Some(_), Some(file)) => {
                return Err(self.at(
                    &file,
                    "django.SECRET_KEY_FILE",
                    "give SECRET_KEY or SECRET_KEY_FILE, not both",
                ))
            }
            (Some(key), None) => Some(SecretKey(key)),
            (None, Some(file)) => {
                let path = match &self.base {
                    Some(base) => base.join(file.get_ref()),
                    None => PathBuf::from(file.get_ref()),
                };
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    self.at(
                        &file,
                        "django.SECRET_KEY_FILE",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                Some(SecretKey(text.trim_end_matches(['\n', '\r']).to_string()))
            }
            (None, None) => None,
        };
        let mut schema = Schema::default();
        for (value, field, key) in [
            (
                &raw.AUTH_USER_TABLE,
                &mut schema.user_table,
                "django.AUTH_USER_TABLE",
            ),
            (
                &raw.USERNAME_FIELD,
                &mut schema.username_field,
                "django.USERNAME_FIELD",
            ),
            (
                &raw.TOKEN_TABLE,
                &mut schema.token_table,
                "django.TOKEN_TABLE",
            ),
        ] {
            if let Some(value) = value {
                let name = value.get_ref();
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(self.at(
                        value,
                        key,
                        format!("{name:?} is not a plain SQL table/column name"),
                    ));
                }
                *field = name.clone();
            }
        }
        let backends = match raw.AUTHENTICATION_BACKENDS {
            None => Backends::default(),
            Some(list) => {
                let mut backends = Vec::new();
                for (i, entry) in list.iter().enumerate() {
                    let key = format!("django.AUTHENTICATION_BACKENDS[{i}]");
                    match Backend::from_setting(entry.get_ref()) {
                        Some(b) => backends.push(b),
                        None => {
                            let known: Vec<&str> =
                                Backend::ALL.iter().map(|b| b.setting_name()).collect();
                            return Err(self.at(
                                entry,
                                key,
                                format!(
                                    "unknown authentication backend {:?}{}",
                                    entry.get_ref(),
                                    suggestion(entry.get_ref(), &known)
                                ),
                            ));
                        }
                    }
                }
                if backends.is_empty() {
                    warnings.push("django.AUTHENTICATION_BACKENDS is empty: Basic and RemoteUser authentication can never succeed".into());
                }
                Backends(backends)
            }
        };
        let hashers = match raw.PASSWORD_HASHERS {
            None => PasswordHashers::django_default(),
            Some(list) => {
                if list.is_empty() {
                    return Err(self.error(None, "django.PASSWORD_HASHERS", "must not be empty"));
                }
                let mut hashers = Vec::new();
                for (i, entry) in list.iter().enumerate() {
                    match Hasher::from_setting(entry.get_ref()) {
                        Some(h) => hashers.push(h),
                        None => {
                            let known: Vec<&str> =
                                Hasher::all().iter().map(|h| h.setting_name()).collect();
                            return Err(self.at(
                                entry,
                                format!("django.PASSWORD_HASHERS[{i}]"),
                                format!(
                                    "unsupported password hasher {:?}{}",
                                    entry.get_ref(),
                                    suggestion(entry.get_ref(), &known)
                                ),
                            ));
                        }
                    }
                }
                PasswordHashers::new(hashers)
            }
        };
        Ok(DjangoSettings {
            secret_key,
            database,
            schema,
            backends,
            hashers,
            sessions,
            hosts,
        })
    }
}
