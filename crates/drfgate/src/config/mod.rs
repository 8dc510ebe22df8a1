//! The drfgate config file: TOML whose keys mirror Django's settings and DRF's
//! `REST_FRAMEWORK` dict, so a project's settings can be copied over.
//!
//! Loading resolves every class name and expression and compiles every route, so a bad
//! config is refused at start-up with the file, line and key, never at request time.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::auth::{Backend, Backends, RemoteUserSource};
use crate::cache::CacheConfig;
use crate::decision::Body;
use crate::exceptions::render_message;
use crate::hashers::{Hasher, PasswordHashers};
use crate::permissions::{parse_expression, ExprError, ModelLabel, Permission, PermissionClass};
use crate::routes::RoutePattern;
use crate::store::{DatabaseUrl, Schema};

/// Why a config could not be loaded: where, which key, what, and a suggestion if we have one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `<string>` for a config given as text).
    pub origin: String,
    pub line: Option<usize>,
    /// The key path, e.g. `routes[2].permission_classes[0]`; empty when unknown.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Which scheme a configured authentication class implements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthKind {
    Token { keyword: String },
    Basic { realm: String },
    Session,
    RemoteUser { source: RemoteUserSource },
}

/// One authentication class, resolved: its configured name and what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthClass {
    pub name: Arc<str>,
    pub kind: AuthKind,
}

/// What to do with a path no route matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unmatched {
    /// Apply `DEFAULT_AUTHENTICATION_CLASSES` and `DEFAULT_PERMISSION_CLASSES`.
    Defaults,
    /// Let the app answer (Django would 404 by itself).
    Pass,
    /// Refuse with DRF's `404 Not found.`.
    Deny,
}

/// A family of request headers by which a reverse proxy passes the original request to a
/// forward-auth server (`drfgate serve`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardedHeaders {
    /// `X-Original-Method` and `X-Original-URI`, as nginx's `auth_request` examples set them.
    XOriginal,
    /// `X-Forwarded-Method`, `X-Forwarded-Uri` and `X-Forwarded-Proto`, as Caddy's
    /// `forward_auth` and Traefik's `ForwardAuth` set them.
    XForwarded,
}

impl ForwardedHeaders {
    /// The name used in the config file.
    pub fn config_name(self) -> &'static str {
        match self {
            ForwardedHeaders::XOriginal => "x-original",
            ForwardedHeaders::XForwarded => "x-forwarded",
        }
    }
}

/// The `[serve]` section: settings of the `drfgate serve` forward-auth server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeSettings {
    /// Which forwarded-header families describe the original request, in order of
    /// preference. Empty (the default): only the request itself, so a client can never
    /// name another request than the one it sends.
    pub trusted_forwarded: Vec<ForwardedHeaders>,
    /// How long a client has to send a request's head, from the connection's start or the
    /// first byte of a later request; then the connection is closed.
    pub header_read_timeout: Duration,
    /// How long a connection may wait idle for its next request.
    pub keep_alive_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// Decisions that need the database or a password hasher, running at once (each on a
    /// blocking thread); a request beyond them is answered 503 with `Retry-After`.
    pub max_blocking_decisions: usize,
}

impl ServeSettings {
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(75);
    pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
    pub const DEFAULT_MAX_BLOCKING_DECISIONS: usize = 64;
}

impl Default for ServeSettings {
    fn default() -> ServeSettings {
        ServeSettings {
            trusted_forwarded: Vec::new(),
            header_read_timeout: ServeSettings::DEFAULT_HEADER_READ_TIMEOUT,
            keep_alive_timeout: ServeSettings::DEFAULT_KEEP_ALIVE_TIMEOUT,
            max_connections: ServeSettings::DEFAULT_MAX_CONNECTIONS,
            max_blocking_decisions: ServeSettings::DEFAULT_MAX_BLOCKING_DECISIONS,
        }
    }
}

/// One `[[routes]]` entry, compiled.
pub struct Route {
    pub pattern: RoutePattern,
    pub name: Option<String>,
    pub methods: Option<Vec<String>>,
    pub authentication: Option<Vec<AuthClass>>,
    pub permissions: Option<Vec<Permission>>,
    pub model: Option<ModelLabel>,
    pub line: Option<usize>,
}

/// Django's `[django]` section, resolved.
pub struct DjangoSettings {
    pub secret_key: Option<SecretKey>,
    pub database: DatabaseUrl,
    pub schema: Schema,
    pub backends: Backends,
    pub hashers: PasswordHashers,
}

/// `SECRET_KEY`, kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub String);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

/// A loaded config.
pub struct Config {
    pub origin: String,
    pub django: DjangoSettings,
    pub default_authentication: Vec<AuthClass>,
    pub default_permissions: Vec<Permission>,
    pub cache: CacheConfig,
    /// How long a user's Django permissions are cached.
    pub permissions_ttl: Duration,
    pub unmatched: Unmatched,
    pub routes: Vec<Route>,
    /// `[serve]`: read by `drfgate serve` only.
    pub serve: ServeSettings,
    /// Things that load but deserve a log line (e.g. a DRF setting drfgate ignores).
    pub warnings: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Raw TOML shape

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    django: Option<RawDjango>,
    rest_framework: Option<RawRestFramework>,
    #[serde(default)]
    authentication_classes: BTreeMap<Spanned<String>, RawAuthClass>,
    #[serde(default)]
    permission_classes: BTreeMap<Spanned<String>, RawPermissionClass>,
    cache: Option<RawCache>,
    gate: Option<RawGate>,
    serve: Option<RawServe>,
    #[serde(default)]
    routes: Vec<Spanned<RawRoute>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
struct RawDjango {
    SECRET_KEY: Option<String>,
    SECRET_KEY_FILE: Option<Spanned<String>>,
    DATABASE: Option<Spanned<String>>,
    AUTH_USER_TABLE: Option<Spanned<String>>,
    USERNAME_FIELD: Option<Spanned<String>>,
    TOKEN_TABLE: Option<Spanned<String>>,
    AUTHENTICATION_BACKENDS: Option<Vec<Spanned<String>>>,
    PASSWORD_HASHERS: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct RawRestFramework {
    DEFAULT_AUTHENTICATION_CLASSES: Option<Vec<Spanned<String>>>,
    DEFAULT_PERMISSION_CLASSES: Option<Vec<Spanned<String>>>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthClass {
    base: Spanned<String>,
    keyword: Option<Spanned<String>>,
    www_authenticate_realm: Option<Spanned<String>>,
    header: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPermissionClass {
    base: Spanned<String>,
    message: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCache {
    max_entries: Option<usize>,
    ttl_seconds: Option<u64>,
    negative_max_entries: Option<usize>,
    negative_ttl_seconds: Option<u64>,
    permissions_ttl_seconds: Option<u64>,
    shards: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    unmatched: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServe {
    trusted_forwarded: Option<Vec<Spanned<String>>>,
    header_read_timeout_seconds: Option<Spanned<u64>>,
    keep_alive_timeout_seconds: Option<Spanned<u64>>,
    max_connections: Option<Spanned<u64>>,
    max_blocking_decisions: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    path: Option<Spanned<String>>,
    regex: Option<Spanned<String>>,
    name: Option<String>,
    methods: Option<Vec<Spanned<String>>>,
    authentication_classes: Option<Vec<Spanned<String>>>,
    permission_classes: Option<Vec<Spanned<String>>>,
    model: Option<Spanned<String>>,
}

/// REST_FRAMEWORK settings a user may copy over that drfgate does not act on.
const IGNORED_DRF_SETTINGS: &[&str] = &[
    "DEFAULT_RENDERER_CLASSES",
    "DEFAULT_PARSER_CLASSES",
    "DEFAULT_THROTTLE_CLASSES",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS",
    "DEFAULT_METADATA_CLASS",
    "DEFAULT_VERSIONING_CLASS",
    "DEFAULT_PAGINATION_CLASS",
    "DEFAULT_FILTER_BACKENDS",
    "DEFAULT_SCHEMA_CLASS",
    "DEFAULT_THROTTLE_RATES",
    "NUM_PROXIES",
    "PAGE_SIZE",
    "SEARCH_PARAM",
    "ORDERING_PARAM",
    "DEFAULT_VERSION",
    "ALLOWED_VERSIONS",
    "VERSION_PARAM",
    "UNAUTHENTICATED_USER",
    "UNAUTHENTICATED_TOKEN",
    "VIEW_NAME_FUNCTION",
    "VIEW_DESCRIPTION_FUNCTION",
    "EXCEPTION_HANDLER",
    "NON_FIELD_ERRORS_KEY",
    "TEST_REQUEST_RENDERER_CLASSES",
    "TEST_REQUEST_DEFAULT_FORMAT",
    "URL_FORMAT_OVERRIDE",
    "FORMAT_SUFFIX_KWARG",
    "URL_FIELD_NAME",
    "DATE_FORMAT",
    "DATE_INPUT_FORMATS",
    "DATETIME_FORMAT",
    "DATETIME_INPUT_FORMATS",
    "TIME_FORMAT",
    "TIME_INPUT_FORMATS",
    "UNICODE_JSON",
    "COMPACT_JSON",
    "STRICT_JSON",
    "COERCE_DECIMAL_TO_STRING",
    "UPLOADED_FILES_USE_URL",
    "HTML_SELECT_CUTOFF",
    "HTML_SELECT_CUTOFF_TEXT",
    "SCHEMA_COERCE_PATH_PK",
    "SCHEMA_COERCE_METHOD_NAMES",
];

const AUTH_PREFIX: &str = "rest_framework.authentication.";
const PERMISSION_PREFIX: &str = "rest_framework.permissions.";
const BUILTIN_AUTH: [&str; 4] = [
    "TokenAuthentication",
    "BasicAuthentication",
    "SessionAuthentication",
    "RemoteUserAuthentication",
];

// ---------------------------------------------------------------------------------------
// Loading

impl Config {
    /// Reads and resolves a config file. Relative paths inside it (the SQLite database,
    /// `SECRET_KEY_FILE`) are relative to the file's folder.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            line: None,
            key: String::new(),
            message: format!("cannot read the config file: {e}"),
        })?;
        let base = path.parent().map(Path::to_path_buf);
        Config::from_str_with_origin(&text, &origin, base.as_deref())
    }

    /// Resolves a config given as text; `base` is where relative paths point.
    pub fn from_str_with_origin(
        text: &str,
        origin: &str,
        base: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let loader = Loader {
            text,
            origin,
            base: base.map(Path::to_path_buf),
        };
        loader.load()
    }
}

struct Loader<'a> {
    text: &'a str,
    origin: &'a str,
    base: Option<PathBuf>,
}

impl Loader<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// The first line that assigns `key` (for values whose span serde cannot give).
    fn key_line(&self, key: &str) -> Option<usize> {
        self.text
            .lines()
            .position(|line| {
                line.trim_start()
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
            .map(|i| i + 1)
    }

    fn error(
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

    fn at<T>(
        &self,
        spanned: &Spanned<T>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        self.error(Some(spanned.span()), key, message)
    }

    fn load(&self) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(self.text)
            .map_err(|e| self.error(e.span(), "", e.message().trim_end().to_string()))?;
        let mut warnings = Vec::new();

        let django = self.django(raw.django, &mut warnings)?;
        let auth_classes = AuthRegistry::new(self, &raw.authentication_classes)?;
        let permission_classes = PermissionRegistry::new(self, &raw.permission_classes)?;

        let (default_auth_raw, default_perm_raw, other) = match raw.rest_framework {
            Some(rf) => (
                rf.DEFAULT_AUTHENTICATION_CLASSES,
                rf.DEFAULT_PERMISSION_CLASSES,
                rf.other,
            ),
            None => (None, None, BTreeMap::new()),
        };
        for name in other.keys() {
            // Flattened keys carry no span: find the key's own line.
            let line = self.key_line(name);
            if IGNORED_DRF_SETTINGS.contains(&name.as_str()) {
                warnings.push(format!(
                    "{}{}: rest_framework.{name} is not used by drfgate and is ignored",
                    self.origin,
                    line.map(|l| format!(":{l}")).unwrap_or_default()
                ));
            } else {
                let mut known: Vec<&str> = IGNORED_DRF_SETTINGS.to_vec();
                known.extend([
                    "DEFAULT_AUTHENTICATION_CLASSES",
                    "DEFAULT_PERMISSION_CLASSES",
                ]);
                return Err(ConfigError {
                    origin: self.origin.to_string(),
                    line,
                    key: format!("rest_framework.{name}"),
                    message: format!("unknown REST_FRAMEWORK setting{}", suggestion(name, &known)),
                });
            }
        }

        let default_authentication = match default_auth_raw {
            Some(list) => {
                auth_classes.resolve_list(&list, "rest_framework.DEFAULT_AUTHENTICATION_CLASSES")?
            }
            // DRF's defaults.
            None => vec![
                auth_classes.builtin("SessionAuthentication"),
                auth_classes.builtin("BasicAuthentication"),
            ],
        };
        let default_permissions = match default_perm_raw {
            Some(list) => permission_classes
                .resolve_list(&list, "rest_framework.DEFAULT_PERMISSION_CLASSES")?,
            None => vec![Permission::Class(PermissionClass::AllowAny)],
        };
        let (cache, permissions_ttl) = self.cache(raw.cache)?;
        let unmatched = match raw.gate.and_then(|g| g.unmatched) {
            None => Unmatched::Defaults,
            Some(value) => match value.get_ref().as_str() {
                "defaults" => Unmatched::Defaults,
                "pass" => Unmatched::Pass,
                "deny" => Unmatched::Deny,
                other => {
                    return Err(self.at(
                        &value,
                        "gate.unmatched",
                        format!("must be \"defaults\", \"pass\" or \"deny\", not {other:?}"),
                    ))
                }
            },
        };
        let serve = self.serve(raw.serve)?;
        let mut routes = Vec::with_capacity(raw.routes.len());
        for (i, route) in raw.routes.iter().enumerate() {
            routes.push(self.route(i, route, &auth_classes, &permission_classes)?);
        }
        let all_auth = routes
            .iter()
            .filter_map(|r| r.authentication.as_ref())
            .flatten()
            .chain(&default_authentication);
        if all_auth.clone().any(|c| c.kind == AuthKind::Session) {
            warnings.push(
                "SessionAuthentication is configured but not implemented in this version of drfgate: \
                 it declines every request (so session-authenticated requests are treated as anonymous)"
                    .into(),
            );
        }
        if default_permissions_need_model(&default_permissions) && unmatched == Unmatched::Defaults
        {
            return Err(self.error(
                None,
                "rest_framework.DEFAULT_PERMISSION_CLASSES",
                "DjangoModelPermissions needs a model, which only a route can give; \
                 set [gate] unmatched = \"pass\" or \"deny\", or use another default",
            ));
        }
        Ok(Config {
            origin: self.origin.to_string(),
            django,
            default_authentication,
            default_permissions,
            cache,
            permissions_ttl,
            unmatched,
            routes,
            serve,
            warnings,
        })
    }

    fn serve(&self, raw: Option<RawServe>) -> Result<ServeSettings, ConfigError> {
        let mut settings = ServeSettings::default();
        let Some(raw) = raw else {
            return Ok(settings);
        };
        // Bounded both ways: 0 would disable what the key is there to bound, and a huge value
        // is a typo (and would overflow a deadline).
        let bounded = |value: &Spanned<u64>, key: &str, max: u64| {
            let n = *value.get_ref();
            if (1..=max).contains(&n) {
                Ok(n)
            } else {
                Err(self.at(
                    value,
                    format!("serve.{key}"),
                    format!("must be between 1 and {max}, not {n}"),
                ))
            }
        };
        if let Some(value) = &raw.header_read_timeout_seconds {
            settings.header_read_timeout =
                Duration::from_secs(bounded(value, "header_read_timeout_seconds", 3600)?);
        }
        if let Some(value) = &raw.keep_alive_timeout_seconds {
            settings.keep_alive_timeout =
                Duration::from_secs(bounded(value, "keep_alive_timeout_seconds", 86400)?);
        }
        if let Some(value) = &raw.max_connections {
            settings.max_connections = bounded(value, "max_connections", 1_000_000)? as usize;
        }
        if let Some(value) = &raw.max_blocking_decisions {
            settings.max_blocking_decisions =
                bounded(value, "max_blocking_decisions", 10_000)? as usize;
        }
        let Some(names) = raw.trusted_forwarded else {
            return Ok(settings);
        };
        for (i, name) in names.iter().enumerate() {
            let family = match name.get_ref().as_str() {
                "x-original" => ForwardedHeaders::XOriginal,
                "x-forwarded" => ForwardedHeaders::XForwarded,
                other => {
                    return Err(self.at(
                        name,
                        format!("serve.trusted_forwarded[{i}]"),
                        format!("must be \"x-original\" or \"x-forwarded\", not {other:?}"),
                    ))
                }
            };
            if !settings.trusted_forwarded.contains(&family) {
                settings.trusted_forwarded.push(family);
            }
        }
        Ok(settings)
    }

    fn django(
        &self,
        raw: Option<RawDjango>,
        warnings: &mut Vec<String>,
    ) -> Result<DjangoSettings, ConfigError> {
        let Some(raw) = raw else {
            return Err(self.error(
                None,
                "django",
                "missing [django] section (it needs at least DATABASE)",
            ));
        };
        let Some(database) = raw.DATABASE else {
            return Err(self.error(
                None,
                "django.DATABASE",
                "missing; e.g. DATABASE = \"sqlite:///srv/app/db.sqlite3\"",
            ));
        };
        let database = DatabaseUrl::parse(database.get_ref(), self.base.as_deref())
            .map_err(|m| self.at(&database, "django.DATABASE", m))?;
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
        })
    }

    fn cache(&self, raw: Option<RawCache>) -> Result<(CacheConfig, Duration), ConfigError> {
        let mut cfg = CacheConfig::default();
        let mut permissions_ttl = cfg.ttl;
        if let Some(raw) = raw {
            if let Some(n) = raw.max_entries {
                cfg.max_entries = n;
            }
            if let Some(s) = raw.ttl_seconds {
                cfg.ttl = Duration::from_secs(s);
                permissions_ttl = cfg.ttl;
            }
            if let Some(n) = raw.negative_max_entries {
                cfg.negative_max_entries = n;
            }
            if let Some(s) = raw.negative_ttl_seconds {
                cfg.negative_ttl = Duration::from_secs(s);
            }
            if let Some(s) = raw.permissions_ttl_seconds {
                permissions_ttl = Duration::from_secs(s);
            }
            if let Some(n) = raw.shards {
                if n == 0 || n > 1024 {
                    return Err(self.error(None, "cache.shards", "must be between 1 and 1024"));
                }
                cfg.shards = n;
            }
        }
        Ok((cfg, permissions_ttl))
    }

    fn route(
        &self,
        index: usize,
        raw: &Spanned<RawRoute>,
        auth: &AuthRegistry,
        perms: &PermissionRegistry,
    ) -> Result<Route, ConfigError> {
        let key = |k: &str| format!("routes[{index}].{k}");
        let route = raw.get_ref();
        let pattern = match (&route.path, &route.regex) {
            (Some(path), None) => RoutePattern::django_path(path.get_ref())
                .map_err(|e| self.at(path, key("path"), e.to_string()))?,
            (None, Some(regex)) => RoutePattern::django_regex(regex.get_ref())
                .map_err(|e| self.at(regex, key("regex"), e.to_string()))?,
            (Some(_), Some(regex)) => {
                return Err(self.at(
                    regex,
                    key("regex"),
                    "a route has either path or regex, not both",
                ))
            }
            (None, None) => {
                return Err(self.at(
                    raw,
                    format!("routes[{index}]"),
                    "a route needs path = \"…\" or regex = \"…\"",
                ))
            }
        };
        let methods = match &route.methods {
            None => None,
            Some(list) => {
                let mut methods = Vec::new();
                for (i, m) in list.iter().enumerate() {
                    let name = m.get_ref();
                    if name.is_empty()
                        || !name
                            .bytes()
                            .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')
                    {
                        return Err(self.at(
                            m,
                            format!("routes[{index}].methods[{i}]"),
                            format!("{name:?} is not an HTTP method name"),
                        ));
                    }
                    methods.push(name.to_ascii_uppercase());
                }
                Some(methods)
            }
        };
        let authentication = route
            .authentication_classes
            .as_ref()
            .map(|list| auth.resolve_list(list, &key("authentication_classes")))
            .transpose()?;
        let permissions = route
            .permission_classes
            .as_ref()
            .map(|list| perms.resolve_list(list, &key("permission_classes")))
            .transpose()?;
        let model = route
            .model
            .as_ref()
            .map(|m| ModelLabel::parse(m.get_ref()).map_err(|e| self.at(m, key("model"), e)))
            .transpose()?;
        Ok(Route {
            pattern,
            name: route.name.clone(),
            methods,
            authentication,
            permissions,
            model,
            line: Some(self.line_of(raw.span().start)),
        })
    }
}

/// Marks a custom class as being resolved, refusing one that (indirectly) bases itself on itself.
fn enter_class(
    loader: &Loader<'_>,
    seen: &mut Vec<String>,
    name: &str,
    base: &Spanned<String>,
    key: &str,
) -> Result<(), ConfigError> {
    if seen.iter().any(|s| s == name) {
        return Err(loader.at(
            base,
            format!("{key}.base"),
            "classes inherit from each other in a cycle",
        ));
    }
    seen.push(name.to_string());
    Ok(())
}

/// The position only helps inside an expression; for a lone class name it is noise.
fn describe_expr_error(text: &str, error: &ExprError) -> String {
    if text.contains(['&', '|', '~', '(', ')']) {
        error.to_string()
    } else {
        error.message.clone()
    }
}

fn default_permissions_need_model(perms: &[Permission]) -> bool {
    perms
        .iter()
        .any(|p| p.classes().iter().any(|c| c.needs_model()))
}

/// " (did you mean \"X\"?)" when a known name is close enough.
fn suggestion(name: &str, known: &[&str]) -> String {
    let short = name.rsplit('.').next().unwrap_or(name);
    let best = known
        .iter()
        .map(|k| {
            let k_short = k.rsplit('.').next().unwrap_or(k);
            let score = strsim::jaro_winkler(name, k).max(strsim::jaro_winkler(short, k_short));
            (score, *k)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((score, k)) if score >= 0.85 => format!(" (did you mean \"{k}\"?)"),
        _ => String::new(),
    }
}

/// Resolves class names: built-in short or dotted names, and the config's own subclasses
/// (by their full name, or by their last component when that is unambiguous).
fn lookup_custom<'k, V>(
    map: &'k BTreeMap<Spanned<String>, V>,
    name: &str,
) -> Result<Option<(&'k str, &'k V)>, String> {
    if let Some((k, v)) = map.iter().find(|(k, _)| k.get_ref() == name) {
        return Ok(Some((k.get_ref().as_str(), v)));
    }
    let mut by_short = map
        .iter()
        .filter(|(k, _)| k.get_ref().rsplit('.').next() == Some(name));
    match (by_short.next(), by_short.next()) {
        (Some((k, v)), None) => Ok(Some((k.get_ref().as_str(), v))),
        (Some((a, _)), Some((b, _))) => Err(format!(
            "{name:?} is ambiguous: it could be {:?} or {:?}; write the full name",
            a.get_ref(),
            b.get_ref()
        )),
        _ => Ok(None),
    }
}

struct AuthRegistry<'l> {
    loader: &'l Loader<'l>,
    /// The config's own subclasses, resolved, by their full names.
    custom: Vec<(String, AuthClass)>,
}

fn builtin_auth(short: &str) -> AuthClass {
    let name: Arc<str> = Arc::from(format!("{AUTH_PREFIX}{short}"));
    let kind = match short {
        "TokenAuthentication" => AuthKind::Token {
            keyword: "Token".into(),
        },
        "BasicAuthentication" => AuthKind::Basic {
            realm: "api".into(),
        },
        "RemoteUserAuthentication" => AuthKind::RemoteUser {
            source: RemoteUserSource::ServerVariable,
        },
        _ => AuthKind::Session,
    };
    AuthClass { name, kind }
}

impl<'l> AuthRegistry<'l> {
    fn new(
        loader: &'l Loader<'l>,
        raw: &BTreeMap<Spanned<String>, RawAuthClass>,
    ) -> Result<AuthRegistry<'l>, ConfigError> {
        let mut custom = Vec::new();
        for key in raw.keys() {
            let class = resolve_custom_auth(loader, raw, key.get_ref(), &mut Vec::new())?;
            custom.push((key.get_ref().clone(), class));
        }
        Ok(AuthRegistry { loader, custom })
    }

    fn builtin(&self, short: &str) -> AuthClass {
        builtin_auth(short)
    }

    fn find(&self, name: &str) -> Result<Option<AuthClass>, String> {
        let short = name.strip_prefix(AUTH_PREFIX).unwrap_or(name);
        if BUILTIN_AUTH.contains(&short) {
            return Ok(Some(builtin_auth(short)));
        }
        if let Some((_, c)) = self.custom.iter().find(|(k, _)| k == name) {
            return Ok(Some(c.clone()));
        }
        let mut by_short = self
            .custom
            .iter()
            .filter(|(k, _)| k.rsplit('.').next() == Some(name));
        match (by_short.next(), by_short.next()) {
            (Some((_, c)), None) => Ok(Some(c.clone())),
            (Some((a, _)), Some((b, _))) => Err(format!(
                "{name:?} is ambiguous: it could be {a:?} or {b:?}; write the full name"
            )),
            _ => Ok(None),
        }
    }

    fn resolve_list(
        &self,
        list: &[Spanned<String>],
        key: &str,
    ) -> Result<Vec<AuthClass>, ConfigError> {
        let mut out = Vec::with_capacity(list.len());
        for (i, entry) in list.iter().enumerate() {
            let name = entry.get_ref();
            match self.find(name) {
                Ok(Some(c)) => out.push(c),
                Ok(None) => {
                    let mut known: Vec<String> = BUILTIN_AUTH
                        .iter()
                        .map(|s| format!("{AUTH_PREFIX}{s}"))
                        .collect();
                    known.extend(self.custom.iter().map(|(k, _)| k.clone()));
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    return Err(self.loader.at(
                        entry,
                        format!("{key}[{i}]"),
                        format!(
                            "unknown authentication class {name:?}{}",
                            suggestion(name, &known)
                        ),
                    ));
                }
                Err(m) => return Err(self.loader.at(entry, format!("{key}[{i}]"), m)),
            }
        }
        Ok(out)
    }
}

fn resolve_custom_auth(
    loader: &Loader<'_>,
    raw: &BTreeMap<Spanned<String>, RawAuthClass>,
    name: &str,
    seen: &mut Vec<String>,
) -> Result<AuthClass, ConfigError> {
    let (key_name, def) = match lookup_custom(raw, name) {
        Ok(Some(found)) => found,
        Ok(None) => {
            return Err(loader.error(
                None,
                "authentication_classes",
                format!("class {name:?} is not defined"),
            ))
        }
        Err(m) => return Err(loader.error(None, format!("authentication_classes.\"{name}\""), m)),
    };
    let key = format!("authentication_classes.\"{key_name}\"");
    enter_class(loader, seen, key_name, &def.base, &key)?;
    let base_name = def.base.get_ref().as_str();
    let short = base_name.strip_prefix(AUTH_PREFIX).unwrap_or(base_name);
    let mut kind = if BUILTIN_AUTH.contains(&short) {
        builtin_auth(short).kind
    } else {
        match lookup_custom(raw, base_name) {
            Ok(Some(_)) => resolve_custom_auth(loader, raw, base_name, seen)?.kind,
            Ok(None) => {
                let mut known: Vec<String> = BUILTIN_AUTH
                    .iter()
                    .map(|s| format!("{AUTH_PREFIX}{s}"))
                    .collect();
                known.extend(raw.keys().map(|k| k.get_ref().clone()));
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                return Err(loader.at(
                    &def.base,
                    format!("{key}.base"),
                    format!(
                        "unknown authentication class {base_name:?}{}",
                        suggestion(base_name, &known)
                    ),
                ));
            }
            Err(m) => return Err(loader.at(&def.base, format!("{key}.base"), m)),
        }
    };
    let misplaced = |field: &Spanned<String>, what: &str, wants: &str| {
        loader.at(
            field,
            format!("{key}.{what}"),
            format!("`{what}` only applies to subclasses of {wants}"),
        )
    };
    if let Some(keyword) = &def.keyword {
        match &mut kind {
            AuthKind::Token { keyword: k } => {
                let word = keyword.get_ref();
                if word.is_empty()
                    || word
                        .bytes()
                        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
                {
                    return Err(loader.at(
                        keyword,
                        format!("{key}.keyword"),
                        "a keyword is one word without spaces, e.g. \"Bearer\"",
                    ));
                }
                if !word.is_ascii() {
                    return Err(loader.at(keyword, format!("{key}.keyword"), "keep keywords ASCII: header bytes are compared case-insensitively as ASCII"));
                }
                *k = word.clone();
            }
            _ => return Err(misplaced(keyword, "keyword", "TokenAuthentication")),
        }
    }
    if let Some(realm) = &def.www_authenticate_realm {
        match &mut kind {
            AuthKind::Basic { realm: r } => {
                if realm.get_ref().contains(['"', '\\', '\r', '\n']) {
                    return Err(loader.at(
                        realm,
                        format!("{key}.www_authenticate_realm"),
                        "the realm may not contain quotes, backslashes or line breaks",
                    ));
                }
                *r = realm.get_ref().clone();
            }
            _ => {
                return Err(misplaced(
                    realm,
                    "www_authenticate_realm",
                    "BasicAuthentication",
                ))
            }
        }
    }
    if let Some(header) = &def.header {
        match &mut kind {
            AuthKind::RemoteUser { source } => {
                *source = RemoteUserSource::from_meta_key(header.get_ref())
                    .map_err(|m| loader.at(header, format!("{key}.header"), m))?;
            }
            _ => return Err(misplaced(header, "header", "RemoteUserAuthentication")),
        }
    }
    seen.pop();
    Ok(AuthClass {
        name: Arc::from(key_name),
        kind,
    })
}

struct PermissionRegistry<'l> {
    loader: &'l Loader<'l>,
    names: Vec<String>,
    resolved: Vec<(String, Permission)>,
}

impl<'l> PermissionRegistry<'l> {
    fn new(
        loader: &'l Loader<'l>,
        raw: &BTreeMap<Spanned<String>, RawPermissionClass>,
    ) -> Result<PermissionRegistry<'l>, ConfigError> {
        let mut registry = PermissionRegistry {
            loader,
            names: raw.keys().map(|k| k.get_ref().clone()).collect(),
            resolved: Vec::new(),
        };
        for key in raw.keys() {
            let perm = registry.resolve_custom(loader, raw, key.get_ref(), &mut Vec::new())?;
            registry.resolved.push((key.get_ref().clone(), perm));
        }
        Ok(registry)
    }

    fn known_names(&self) -> Vec<String> {
        let mut names: Vec<String> = PermissionClass::ALL
            .iter()
            .map(|c| c.dotted_name())
            .collect();
        names.extend(self.names.iter().cloned());
        names
    }

    fn builtin(name: &str) -> Option<Permission> {
        let short = name.strip_prefix(PERMISSION_PREFIX).unwrap_or(name);
        PermissionClass::ALL
            .into_iter()
            .find(|c| c.short_name() == short)
            .map(Permission::Class)
    }

    fn unknown(&self, name: &str) -> String {
        let known = self.known_names();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        format!(
            "unknown permission class {name:?}{}",
            suggestion(name, &known)
        )
    }

    fn resolve_custom(
        &self,
        loader: &Loader<'_>,
        raw: &BTreeMap<Spanned<String>, RawPermissionClass>,
        name: &str,
        seen: &mut Vec<String>,
    ) -> Result<Permission, ConfigError> {
        let (key_name, def) = match lookup_custom(raw, name) {
            Ok(Some(found)) => found,
            Ok(None) => return Err(loader.error(None, "permission_classes", self.unknown(name))),
            Err(m) => return Err(loader.error(None, format!("permission_classes.\"{name}\""), m)),
        };
        let key = format!("permission_classes.\"{key_name}\"");
        enter_class(loader, seen, key_name, &def.base, &key)?;
        let base_text = def.base.get_ref();
        let base_span = def.base.span();
        let mut nested_error: Option<ConfigError> = None;
        let base = parse_expression(base_text, &mut |n, at| {
            if let Some(p) = Self::builtin(n) {
                return Ok(p);
            }
            if let Some((_, p)) = self
                .resolved
                .iter()
                .find(|(k, _)| k == n || k.rsplit('.').next() == Some(n))
            {
                return Ok(p.clone());
            }
            match lookup_custom(raw, n) {
                Ok(Some(_)) => match self.resolve_custom(loader, raw, n, seen) {
                    Ok(p) => Ok(p),
                    Err(e) => {
                        let message = e.message.clone();
                        nested_error = Some(e);
                        Err(ExprError {
                            offset: at,
                            message,
                        })
                    }
                },
                Ok(None) => Err(ExprError {
                    offset: at,
                    message: self.unknown(n),
                }),
                Err(m) => Err(ExprError {
                    offset: at,
                    message: m,
                }),
            }
        });
        let base = match base {
            Ok(b) => b,
            Err(e) => {
                if let Some(nested) = nested_error {
                    return Err(nested);
                }
                return Err(loader.error(
                    Some(base_span),
                    format!("{key}.base"),
                    describe_expr_error(base_text, &e),
                ));
            }
        };
        let message: Option<Body> = def.message.as_ref().map(|m| {
            let json = toml_to_json(m);
            Body::Shared(render_message(&json))
        });
        seen.pop();
        Ok(Permission::Named {
            name: Arc::from(key_name),
            base: Box::new(base),
            message,
        })
    }

    fn resolve_expression(&self, text: &str) -> Result<Permission, ExprError> {
        parse_expression(text, &mut |n, at| {
            if let Some(p) = Self::builtin(n) {
                return Ok(p);
            }
            if let Some((_, p)) = self.resolved.iter().find(|(k, _)| k == n) {
                return Ok(p.clone());
            }
            let mut by_short = self
                .resolved
                .iter()
                .filter(|(k, _)| k.rsplit('.').next() == Some(n));
            match (by_short.next(), by_short.next()) {
                (Some((_, p)), None) => Ok(p.clone()),
                (Some((a, _)), Some((b, _))) => Err(ExprError {
                    offset: at,
                    message: format!(
                        "{n:?} is ambiguous: it could be {a:?} or {b:?}; write the full name"
                    ),
                }),
                _ => Err(ExprError {
                    offset: at,
                    message: self.unknown(n),
                }),
            }
        })
    }

    fn resolve_list(
        &self,
        list: &[Spanned<String>],
        key: &str,
    ) -> Result<Vec<Permission>, ConfigError> {
        list.iter()
            .enumerate()
            .map(|(i, entry)| {
                self.resolve_expression(entry.get_ref()).map_err(|e| {
                    self.loader.at(
                        entry,
                        format!("{key}[{i}]"),
                        describe_expr_error(entry.get_ref(), &e),
                    )
                })
            })
            .collect()
    }
}

fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}
