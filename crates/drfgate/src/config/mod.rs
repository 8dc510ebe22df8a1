//! The drfgate config file: TOML whose keys mirror Django's settings and DRF's
//! `REST_FRAMEWORK` dict, so a project's settings can be copied over.
//!
//! Loading resolves every class name and expression and compiles every route, so a bad
//! config is refused at start-up with the file, line and key, never at request time.
//!
//! One job per file: this file holds [`Config`], [`ConfigError`] and the order in which the
//! sections are loaded; `raw` the TOML's shape and the positions errors point at; one file per
//! section (`django`, `rest_framework`, `cache`, `routes`, `handoff`); `section`, the sections left to a
//! front end (`[serve]`, read and checked by `drfgate serve`); the class registries
//! (`auth_classes`, `permission_classes`) with `names`, which resolves the names a config
//! writes; and `suggest`, the "did you mean" of every error about an unknown name.

mod auth_classes;
mod bodies;
mod cache;
mod caches;
mod databases;
mod django;
mod handoff;
mod hosts;
mod names;
mod permission_classes;
mod raw;
mod renderer_classes;
mod rest_framework;
mod rest_knox;
mod revocation;
mod routes;
mod section;
mod sessions;
mod simple_jwt;
mod suggest;
mod throttles;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::cache::CacheConfig;
use crate::permissions::Permission;

pub use auth_classes::{AuthClass, AuthKind};
pub use bodies::{BodySettings, ParserClass, DJANGO_MAX_MEMORY_SIZE};
pub use caches::SessionCache;
pub use django::{DjangoSettings, SecretKey};
pub use rest_knox::KnoxSettings;
pub use routes::Route;
pub use sessions::{CsrfSettings, SessionEngine, SessionSettings};
pub use simple_jwt::{SimpleJwtSettings, TokenClass};
pub use throttles::{ThrottleClass, ThrottleSettings, ThrottleStoreSetting, DEFAULT_MAX_KEYS};

use auth_classes::AuthRegistry;
use cache::CacheSection;
use permission_classes::{needs_model, PermissionRegistry};
use raw::{Loader, RawConfig};
use renderer_classes::RendererRegistry;
use throttles::ThrottleRegistry;

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

/// A loaded config.
pub struct Config {
    pub origin: String,
    pub django: DjangoSettings,
    pub default_authentication: Vec<AuthClass>,
    pub default_permissions: Vec<Permission>,
    /// The throttles of a path no route matches (`DEFAULT_THROTTLE_CLASSES`, no scope).
    pub default_throttles: Vec<crate::throttle::ViewThrottle>,
    /// `NUM_PROXIES`, `[throttle]`, `[failed_logins]`.
    pub throttling: ThrottleSettings,
    /// `DEFAULT_RENDERER_CLASSES` (DRF's `JSONRenderer`, `BrowsableAPIRenderer` when absent).
    pub default_renderers: Vec<std::sync::Arc<crate::negotiation::Renderer>>,
    /// `URL_FORMAT_OVERRIDE`: `format` by default, `None` when the config sets `false`.
    pub url_format_override: Option<String>,
    pub cache: CacheConfig,
    /// How long a user's Django permissions are cached.
    pub permissions_ttl: Duration,
    /// `[cache] credential_lookups_per_second`: at most this many store lookups per second
    /// for credentials the caches cannot answer; `None` (the default) is no limit.
    pub credential_lookups_per_second: Option<std::num::NonZeroU32>,
    /// `[cache] unlisted_token_lookups_per_second`: with `[revocation]`, at most this many
    /// lookups per second of token keys the token filter does not hold.
    pub unlisted_token_lookups_per_second: u32,
    pub unmatched: Unmatched,
    pub routes: Vec<Route>,
    /// `[simple_jwt]`; `None` when neither it nor `SECRET_KEY` is there (then no view may use
    /// a JWT class).
    pub simple_jwt: Option<SimpleJwtSettings>,
    /// `[rest_knox]`, with knox's defaults when absent.
    pub rest_knox: KnoxSettings,
    /// `[handoff] SECRET_FILE`: the key that signs identities for the application.
    pub handoff: Option<std::sync::Arc<crate::handoff::HandoffKey>>,
    /// `[revocation]`: where revocations are heard; `None` (the default) is nowhere.
    pub revocation: Option<crate::revocation::RevocationSettings>,
    /// Things that load but deserve a log line (e.g. a DRF setting drfgate ignores).
    pub warnings: Vec<String>,
    /// The text, for the sections a front end reads ([`Config::section`]).
    text: String,
}

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

impl Config {
    /// Whether some view may authenticate with `TokenAuthentication` or a subclass of it, and
    /// so needs the token table.
    pub(crate) fn uses_token_authentication(&self) -> bool {
        authentication_in_use(&self.routes, &self.default_authentication)
            .any(|c| matches!(c.kind, AuthKind::Token { .. }))
    }

    /// Whether some view may authenticate with knox, and so needs its token table.
    pub(crate) fn uses_knox(&self) -> bool {
        authentication_in_use(&self.routes, &self.default_authentication)
            .any(|c| c.kind == AuthKind::Knox)
    }

    /// Whether some view may authenticate with JWTAuthentication (not the stateless one),
    /// and so reads users; and whether the blacklist tables are needed.
    pub(crate) fn uses_jwt_blacklist(&self) -> bool {
        self.simple_jwt
            .as_ref()
            .is_some_and(|s| s.blacklist_app && s.token_classes.iter().any(|c| c.uses_blacklist()))
            && authentication_in_use(&self.routes, &self.default_authentication)
                .any(|c| matches!(c.kind, AuthKind::Jwt { .. }))
    }
}

/// Every authentication class a view may use: each route's own, and the defaults (for the
/// routes without their own, and for unmatched paths).
fn authentication_in_use<'c>(
    routes: &'c [Route],
    defaults: &'c [AuthClass],
) -> impl Iterator<Item = &'c AuthClass> {
    routes
        .iter()
        .filter_map(|r| r.authentication.as_ref())
        .flatten()
        .chain(defaults)
}

impl Loader<'_> {
    fn load(&self) -> Result<Config, ConfigError> {
        let mut raw: RawConfig = toml::from_str(self.text)
            .map_err(|e| self.error(e.span(), "", e.message().trim_end().to_string()))?;
        let mut warnings = Vec::new();

        let mut django = self.django(raw.django, &mut warnings)?;
        let auth_classes = AuthRegistry::new(self, &raw.authentication_classes)?;
        let permission_classes = PermissionRegistry::new(self, &raw.permission_classes)?;
        let renderer_classes = RendererRegistry::new(self, &raw.renderer_classes)?;

        let (throttle_defaults_raw, throttle_rates_raw, num_proxies_raw, parsers_raw) =
            match &mut raw.rest_framework {
                Some(rf) => (
                    rf.DEFAULT_THROTTLE_CLASSES.take(),
                    rf.DEFAULT_THROTTLE_RATES.take(),
                    rf.NUM_PROXIES.take(),
                    rf.DEFAULT_PARSER_CLASSES.take(),
                ),
                None => (None, None, None, None),
            };
        django.sessions.body.parsers = self.parser_classes(parsers_raw);
        let throttle_classes =
            ThrottleRegistry::new(self, &raw.throttle_classes, throttle_rates_raw.as_ref())?;
        let default_throttle_classes = match &throttle_defaults_raw {
            Some(list) => {
                throttle_classes.resolve_list(list, "rest_framework.DEFAULT_THROTTLE_CLASSES")?
            }
            None => Vec::new(),
        };
        let num_proxies = self.num_proxies(num_proxies_raw.as_ref())?;
        let throttling =
            self.throttle_settings(raw.throttle.take(), raw.failed_logins.take(), num_proxies)?;
        let rest_framework = self.rest_framework(
            raw.rest_framework,
            &auth_classes,
            &permission_classes,
            &renderer_classes,
            &mut warnings,
        )?;
        let default_authentication = rest_framework.default_authentication;
        let default_permissions = rest_framework.default_permissions;
        let CacheSection {
            cache,
            permissions_ttl,
            credential_lookups_per_second,
            unlisted_token_lookups_per_second,
        } = self.cache(raw.cache)?;
        let simple_jwt = self.simple_jwt(raw.simple_jwt, django.secret_key.as_ref())?;
        let rest_knox = self.rest_knox(raw.rest_knox)?;
        django.schema.knox_table = rest_knox.token_table.clone();
        let handoff = self.handoff(raw.handoff)?;
        let revocation = self.revocation(raw.revocation, &django.database)?;
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
        let registries = routes::ClassRegistries {
            auth: &auth_classes,
            perms: &permission_classes,
            throttles: &throttle_classes,
            default_throttles: &default_throttle_classes,
            renderers: &renderer_classes,
        };
        let mut routes = Vec::with_capacity(raw.routes.len());
        for (i, route) in raw.routes.iter().enumerate() {
            routes.push(self.route(i, route, &registries)?);
        }
        let default_throttles = if unmatched == Unmatched::Defaults {
            throttle_classes.view_throttles(
                &default_throttle_classes,
                None,
                None,
                "rest_framework.DEFAULT_THROTTLE_CLASSES",
            )?
        } else {
            Vec::new()
        };
        if authentication_in_use(&routes, &default_authentication)
            .any(|c| c.kind == AuthKind::Session)
            && django.secret_key.is_none()
        {
            warnings.push(
                "SessionAuthentication is configured without SECRET_KEY: drfgate cannot check \
                 session signatures, so requests carrying a session cookie are deferred to the \
                 application (passed on without an identity)"
                    .into(),
            );
        }
        if needs_model(&default_permissions) && unmatched == Unmatched::Defaults {
            return Err(self.error(
                None,
                "rest_framework.DEFAULT_PERMISSION_CLASSES",
                "DjangoModelPermissions needs a model, which only a route can give; \
                 set [gate] unmatched = \"pass\" or \"deny\", or use another default",
            ));
        }
        self.check_models(&routes, &default_permissions)?;
        if simple_jwt.is_none()
            && authentication_in_use(&routes, &default_authentication)
                .any(|c| matches!(c.kind, AuthKind::Jwt { .. }))
        {
            return Err(self.error(
                None,
                "simple_jwt",
                "a JWT authentication class is configured but there is no key: add a \
                 [simple_jwt] section or [django] SECRET_KEY (SIGNING_KEY defaults to it)",
            ));
        }
        Ok(Config {
            origin: self.origin.to_string(),
            django,
            default_authentication,
            default_permissions,
            default_throttles,
            throttling,
            default_renderers: rest_framework.default_renderers,
            url_format_override: rest_framework.url_format_override,
            cache,
            permissions_ttl,
            credential_lookups_per_second,
            unlisted_token_lookups_per_second,
            unmatched,
            routes,
            simple_jwt,
            rest_knox,
            handoff,
            revocation,
            warnings,
            text: self.text.to_string(),
        })
    }
}
