//! `[django.DATABASES.default]`: Django's own `DATABASES["default"]`, pasted from settings.py
//! (`ENGINE`, `NAME`, `USER`, `PASSWORD`, `HOST`, `PORT`, `OPTIONS`), plus the gate's keys:
//! `PASSWORD_FILE`/`PASSWORD_ENV` (so the password need not sit in the config), `POOL_SIZE`,
//! `CONNECT_TIMEOUT` and `STATEMENT_TIMEOUT`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::raw::Loader;
use super::ConfigError;
use crate::store::network::{Engine, Host, Options, Password};
use crate::store::DatabaseUrl;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct RawDatabase {
    ENGINE: Spanned<String>,
    NAME: Option<Spanned<String>>,
    USER: Option<Spanned<String>>,
    PASSWORD: Option<Spanned<String>>,
    PASSWORD_FILE: Option<Spanned<String>>,
    PASSWORD_ENV: Option<Spanned<String>>,
    HOST: Option<Spanned<String>>,
    PORT: Option<Spanned<toml::Value>>,
    OPTIONS: Option<Spanned<toml::Table>>,
    POOL_SIZE: Option<Spanned<toml::Value>>,
    CONNECT_TIMEOUT: Option<Spanned<toml::Value>>,
    STATEMENT_TIMEOUT: Option<Spanned<toml::Value>>,
    TIME_ZONE: Option<Spanned<String>>,
    // Django's keys about its own connection handling: nothing for the gate to do.
    #[allow(dead_code)]
    ATOMIC_REQUESTS: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    AUTOCOMMIT: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    CONN_MAX_AGE: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    CONN_HEALTH_CHECKS: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    DISABLE_SERVER_SIDE_CURSORS: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    TEST: Option<serde::de::IgnoredAny>,
}

/// A TOML number or string (Django's `PORT` is often `"5432"`), as text.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

impl Loader<'_> {
    pub(super) fn databases(
        &self,
        databases: Spanned<BTreeMap<String, Spanned<RawDatabase>>>,
        warnings: &mut Vec<String>,
    ) -> Result<DatabaseUrl, ConfigError> {
        let span = databases.span();
        let mut databases = databases.into_inner();
        let Some(raw) = databases.remove("default") else {
            return Err(self.error(
                Some(span),
                "django.DATABASES",
                "no \"default\" database: the gate reads DATABASES[\"default\"]",
            ));
        };
        for alias in databases.keys() {
            warnings.push(format!(
                "django.DATABASES.{alias} is ignored: the gate reads the default database only"
            ));
        }
        let raw = raw.into_inner();
        let key = |name: &str| format!("django.DATABASES.default.{name}");
        let engine_name = raw.ENGINE.get_ref().as_str();
        let engine = match engine_name {
            "django.db.backends.postgresql" | "django.contrib.gis.db.backends.postgis" => {
                Engine::Postgres
            }
            "django.db.backends.mysql" | "django.contrib.gis.db.backends.mysql" => Engine::Mysql,
            "django.db.backends.sqlite3" | "django.contrib.gis.db.backends.spatialite" => {
                let Some(name) = &raw.NAME else {
                    return Err(self.at(&raw.ENGINE, key("NAME"), "missing: the SQLite file"));
                };
                return DatabaseUrl::parse(name.get_ref(), self.base.as_deref())
                    .map_err(|m| self.at(name, key("NAME"), m));
            }
            other => {
                return Err(self.at(
                    &raw.ENGINE,
                    key("ENGINE"),
                    format!(
                        "unsupported engine {other:?}; expected django.db.backends.postgresql, \
                         django.db.backends.mysql or django.db.backends.sqlite3"
                    ),
                ))
            }
        };
        if let Some(zone) = &raw.TIME_ZONE {
            if zone.get_ref() != "UTC" {
                return Err(self.at(
                    zone,
                    key("TIME_ZONE"),
                    "only UTC is supported: the gate compares session and token expiry dates \
                     as Django stores them with USE_TZ and no TIME_ZONE",
                ));
            }
        }
        let mut options = Options::new(engine);
        let text = |value: &Option<Spanned<String>>| {
            value
                .as_ref()
                .map(|v| v.get_ref().clone())
                .unwrap_or_default()
        };
        options.name = text(&raw.NAME);
        options.user = text(&raw.USER);
        if options.name.is_empty() {
            return Err(self.at(&raw.ENGINE, key("NAME"), "missing: the database's name"));
        }
        if options.user.is_empty() {
            return Err(self.at(&raw.ENGINE, key("USER"), "missing: the user to log in as"));
        }
        options.password = raw
            .PASSWORD
            .as_ref()
            .filter(|p| !p.get_ref().is_empty())
            .map(|p| Password(p.get_ref().clone()));
        options.password_file = raw.PASSWORD_FILE.as_ref().map(|file| {
            let path = PathBuf::from(file.get_ref());
            match &self.base {
                Some(base) if path.is_relative() => base.join(path),
                _ => path,
            }
        });
        options.password_env = raw.PASSWORD_ENV.as_ref().map(|v| v.get_ref().clone());
        if let Some(host) = &raw.HOST {
            let host = host.get_ref();
            if host.starts_with('/') {
                options.host = Some(Host::Socket(PathBuf::from(host)));
            } else if !host.is_empty() {
                options.host = Some(Host::Tcp(host.clone()));
            }
        }
        if let Some(port) = &raw.PORT {
            let value = scalar(port.get_ref()).unwrap_or_default();
            if !value.is_empty() {
                options
                    .set("port", &value)
                    .map_err(|m| self.at(port, key("PORT"), m))?;
            }
        }
        for (name, option) in [
            ("POOL_SIZE", &raw.POOL_SIZE),
            ("CONNECT_TIMEOUT", &raw.CONNECT_TIMEOUT),
            ("STATEMENT_TIMEOUT", &raw.STATEMENT_TIMEOUT),
        ] {
            if let Some(value) = option {
                let text = scalar(value.get_ref())
                    .ok_or_else(|| self.at(value, key(name), "expected a number"))?;
                options
                    .set(&name.to_ascii_lowercase(), &text)
                    .map_err(|m| self.at(value, key(name), m))?;
            }
        }
        if let Some(table) = &raw.OPTIONS {
            self.database_options(engine, table, &mut options, warnings)?;
        }
        // Where the password came from is checked (one place only) and read here.
        let span = raw
            .PASSWORD_FILE
            .as_ref()
            .or(raw.PASSWORD_ENV.as_ref())
            .or(raw.PASSWORD.as_ref())
            .unwrap_or(&raw.ENGINE)
            .span();
        let database = options
            .finish()
            .map_err(|m| self.error(Some(span), key("PASSWORD"), m))?;
        DatabaseUrl::Server(database)
            .available()
            .map_err(|m| self.at(&raw.ENGINE, key("ENGINE"), m))
    }

    /// `OPTIONS`, as psycopg and mysqlclient read them; the ones that only tune Django's own
    /// connection are ignored with a warning.
    fn database_options(
        &self,
        engine: Engine,
        table: &Spanned<toml::Table>,
        options: &mut Options,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        for (name, value) in table.get_ref() {
            let key = format!("django.DATABASES.default.OPTIONS.{name}");
            let fail = |m: String| self.at(table, &key, m);
            let text = || scalar(value).ok_or_else(|| fail("expected a string or a number".into()));
            match (engine, name.as_str()) {
                (Engine::Postgres, "sslmode" | "sslrootcert" | "connect_timeout") => {
                    options.set(name, &text()?).map_err(fail)?
                }
                (Engine::Mysql, "ssl_mode" | "connect_timeout" | "unix_socket") => {
                    options.set(name, &text()?).map_err(fail)?
                }
                (Engine::Mysql, "ssl") => {
                    let Some(ssl) = value.as_table() else {
                        return Err(fail(
                            "expected a table, e.g. { ca = \"/etc/ssl/db-ca.pem\" }".into(),
                        ));
                    };
                    for (part, path) in ssl {
                        match (part.as_str(), path.as_str()) {
                            ("ca", Some(path)) => options.set("ssl_ca", path).map_err(fail)?,
                            _ => {
                                return Err(fail(format!(
                                    "ssl.{part}: only ssl.ca (a CA file) is supported; client \
                                     certificates are not"
                                )))
                            }
                        }
                    }
                    // mysqlclient turns TLS on when `ssl` is given.
                    if options.tls.is_none() {
                        options.set("ssl_mode", "VERIFY_CA").map_err(fail)?;
                    }
                }
                (Engine::Postgres, "sslcert" | "sslkey" | "passfile" | "service") => {
                    return Err(fail(format!("{name} is not supported by the gate")))
                }
                (Engine::Mysql, "charset") => {
                    if !matches!(text()?.as_str(), "utf8mb4" | "utf8" | "utf8mb3") {
                        warnings.push(format!(
                            "{key}: the gate always talks utf8mb4 to the server"
                        ));
                    }
                }
                (_, other) => warnings.push(format!(
                    "{key} is ignored: it tunes Django's own connection ({other:?})"
                )),
            }
        }
        Ok(())
    }
}
