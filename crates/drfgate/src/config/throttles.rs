//! Throttling settings: `DEFAULT_THROTTLE_CLASSES`, `DEFAULT_THROTTLE_RATES` and
//! `NUM_PROXIES` of `[rest_framework]`, the config's own throttle subclasses
//! (`[throttle_classes."<name>"]`, with `scope` and `rate` as class attributes), a route's
//! `throttle_classes` and `throttle_scope`, and drfgate's `[throttle]` (where histories live)
//! and `[failed_logins]` (the failed-login limiter) sections.
//!
//! Every rate a view will use is parsed and every scope looked up here, so what DRF raises
//! on each request of a view (a bad rate string, a scope with no rate) is refused at load.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::names::{enter_subclass, ClassName, ClassNames, Classes, Subclass};
use super::raw::Loader;
use super::ConfigError;
use crate::throttle::login::FailedLoginLimits;
use crate::throttle::redis::RedisTarget;
use crate::throttle::{parse_rate, Rate, ThrottleKind, ViewThrottle};

const THROTTLE_PREFIX: &str = "rest_framework.throttling.";
const BUILTIN_THROTTLES: [(&str, ThrottleKind); 3] = [
    ("AnonRateThrottle", ThrottleKind::Anon),
    ("UserRateThrottle", ThrottleKind::User),
    ("ScopedRateThrottle", ThrottleKind::Scoped),
];

/// `[throttle_classes."<name>"]`: a subclass of one of DRF's throttles.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawThrottleClass {
    base: Spanned<String>,
    /// The class attribute `scope`.
    scope: Option<Spanned<String>>,
    /// The class attribute `rate`: a rate string, or `false` for Python's `None`.
    rate: Option<Spanned<toml::Value>>,
}

/// `[throttle]`: where histories are kept.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct RawThrottle {
    REDIS_URL: Option<Spanned<String>>,
    KEY_PREFIX: Option<String>,
    max_keys: Option<Spanned<usize>>,
    redis_timeout_ms: Option<Spanned<u64>>,
}

/// `[failed_logins]`: the failed-login limiter.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFailedLogins {
    rate: Option<Spanned<toml::Value>>,
    username_rate: Option<Spanned<toml::Value>>,
}

/// A throttle class: DRF's own or a subclass, with its class attributes.
#[derive(Clone, Debug)]
pub struct ThrottleClass {
    pub name: Arc<str>,
    pub kind: ThrottleKind,
    /// `scope` (`anon`, `user`, or the subclass's); unused by `ScopedRateThrottle`.
    pub scope: Arc<str>,
    /// The class attribute `rate` when it is a rate (DRF then ignores `THROTTLE_RATES`).
    pub rate: Option<Rate>,
}

/// Where throttle histories live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThrottleStoreSetting {
    /// This process's memory, at most `max_keys` histories.
    Memory { max_keys: usize },
    /// A Redis server shared by every gate that names it.
    Redis {
        target: RedisTarget,
        prefix: String,
        timeout: Duration,
    },
}

/// Everything throttling needs beyond each view's throttles.
#[derive(Clone, Debug)]
pub struct ThrottleSettings {
    pub num_proxies: Option<u32>,
    pub store: ThrottleStoreSetting,
    pub failed_logins: FailedLoginLimits,
}

/// The default when no `[throttle] max_keys` is given: about 100 bytes a key plus 8 a
/// recorded time, so tens of MB at most for common rates.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// The throttle classes a config can name, and `THROTTLE_RATES`.
pub(super) struct ThrottleRegistry<'l> {
    loader: &'l Loader<'l>,
    classes: Classes<ThrottleKind, ThrottleClass>,
    /// `DEFAULT_THROTTLE_RATES`: scope → rate (`None` for Python's `None`).
    rates: BTreeMap<String, Option<Rate>>,
    rates_key_line: Option<usize>,
}

impl Subclass for RawThrottleClass {
    fn base(&self) -> &Spanned<String> {
        &self.base
    }
}

fn builtin_class(kind: ThrottleKind) -> ThrottleClass {
    let (short, scope) = match kind {
        ThrottleKind::Anon => ("AnonRateThrottle", "anon"),
        ThrottleKind::User => ("UserRateThrottle", "user"),
        ThrottleKind::Scoped => ("ScopedRateThrottle", ""),
    };
    ThrottleClass {
        name: Arc::from(format!("{THROTTLE_PREFIX}{short}")),
        kind,
        scope: scope.into(),
        rate: None,
    }
}

impl Loader<'_> {
    /// A rate setting: a string as `parse_rate` reads it, or `false` for `None`.
    fn rate_value(
        &self,
        value: &Spanned<toml::Value>,
        key: &str,
    ) -> Result<Option<Rate>, ConfigError> {
        match value.get_ref() {
            toml::Value::String(text) => parse_rate(text).map(Some).map_err(|m| {
                self.at(
                    value,
                    key,
                    format!("{m} (DRF would answer 500 on every request)"),
                )
            }),
            toml::Value::Boolean(false) => Ok(None),
            _ => Err(self.at(
                value,
                key,
                "a rate is a string such as \"100/day\", or false for Python's None",
            )),
        }
    }
}

impl<'l> ThrottleRegistry<'l> {
    pub(super) fn new(
        loader: &'l Loader<'l>,
        raw: &BTreeMap<Spanned<String>, RawThrottleClass>,
        rates: Option<&BTreeMap<String, Spanned<toml::Value>>>,
    ) -> Result<ThrottleRegistry<'l>, ConfigError> {
        let names = ClassNames::new(
            "throttle class",
            THROTTLE_PREFIX,
            BUILTIN_THROTTLES.to_vec(),
            raw.keys().map(|k| k.get_ref().clone()).collect(),
        );
        let rates = match rates {
            // DRF's default: both scopes set to None (no throttling).
            None => BTreeMap::from([("anon".to_string(), None), ("user".to_string(), None)]),
            Some(rates) => rates
                .iter()
                .map(|(scope, value)| {
                    let key = format!("rest_framework.DEFAULT_THROTTLE_RATES.{scope}");
                    Ok((scope.clone(), loader.rate_value(value, &key)?))
                })
                .collect::<Result<_, ConfigError>>()?,
        };
        let mut registry = ThrottleRegistry {
            loader,
            classes: Classes::new(names),
            rates,
            rates_key_line: loader.key_line("DEFAULT_THROTTLE_RATES"),
        };
        for key in raw.keys() {
            let class = registry.resolve_custom(raw, key.get_ref(), &mut Vec::new())?;
            registry.classes.add(key.get_ref().clone(), class);
        }
        Ok(registry)
    }

    fn resolve_custom(
        &self,
        raw: &BTreeMap<Spanned<String>, RawThrottleClass>,
        name: &str,
        seen: &mut Vec<String>,
    ) -> Result<ThrottleClass, ConfigError> {
        let loader = self.loader;
        let (key_name, def, key) = enter_subclass(loader, raw, "throttle_classes", name, seen)?;
        let mut class = match self.classes.names().resolve(def.base.get_ref()) {
            Ok(ClassName::Builtin(kind)) => builtin_class(kind),
            Ok(ClassName::Custom(full)) => self.resolve_custom(raw, full, seen)?,
            Err(m) => return Err(loader.at(&def.base, format!("{key}.base"), m)),
        };
        if let Some(scope) = &def.scope {
            class.scope = scope.get_ref().as_str().into();
        }
        if let Some(rate) = &def.rate {
            class.rate = loader.rate_value(rate, &format!("{key}.rate"))?;
        }
        class.name = key_name.into();
        seen.pop();
        Ok(class)
    }

    pub(super) fn resolve_list(
        &self,
        list: &[Spanned<String>],
        key: &str,
    ) -> Result<Vec<ThrottleClass>, ConfigError> {
        self.classes
            .resolve_list(self.loader, list, key, builtin_class)
    }

    /// A view's throttles as DRF instantiates them: each class's rate (its own, else
    /// `THROTTLE_RATES[scope]`); `ScopedRateThrottle` takes the view's `throttle_scope`.
    /// `line`/`key` say where the view is, for the error DRF would raise on each request.
    pub(super) fn view_throttles(
        &self,
        classes: &[ThrottleClass],
        throttle_scope: Option<&str>,
        line: Option<usize>,
        key: &str,
    ) -> Result<Vec<ViewThrottle>, ConfigError> {
        let missing = |scope: &str| ConfigError {
            origin: self.loader.origin.to_string(),
            line: line.or(self.rates_key_line),
            key: key.to_string(),
            message: format!(
                "No default throttle rate set for '{scope}' scope: add it to \
                 rest_framework.DEFAULT_THROTTLE_RATES (DRF would answer 500 on every request)"
            ),
        };
        classes
            .iter()
            .map(|class| {
                let (scope, rate) = match class.kind {
                    ThrottleKind::Scoped => match throttle_scope.filter(|s| !s.is_empty()) {
                        None => (Arc::from(""), None),
                        Some(scope) => (
                            Arc::from(scope),
                            *self.rates.get(scope).ok_or_else(|| missing(scope))?,
                        ),
                    },
                    ThrottleKind::Anon | ThrottleKind::User => match class.rate {
                        Some(rate) => (class.scope.clone(), Some(rate)),
                        None if class.scope.is_empty() => {
                            return Err(ConfigError {
                                message: format!(
                                    "{}: You must set either `.scope` or `.rate` (DRF's \
                                     ImproperlyConfigured)",
                                    class.name
                                ),
                                ..missing("")
                            })
                        }
                        None => (
                            class.scope.clone(),
                            *self
                                .rates
                                .get(&*class.scope)
                                .ok_or_else(|| missing(&class.scope))?,
                        ),
                    },
                };
                Ok(ViewThrottle {
                    class: class.name.clone(),
                    kind: class.kind,
                    scope,
                    rate,
                })
            })
            .collect()
    }
}

impl Loader<'_> {
    pub(super) fn num_proxies(
        &self,
        value: Option<&Spanned<i64>>,
    ) -> Result<Option<u32>, ConfigError> {
        value
            .map(|n| {
                u32::try_from(*n.get_ref()).map_err(|_| {
                    self.at(
                        n,
                        "rest_framework.NUM_PROXIES",
                        "a number of proxies is 0 or more (leave it out for Python's None)",
                    )
                })
            })
            .transpose()
    }

    pub(super) fn throttle_settings(
        &self,
        raw: Option<RawThrottle>,
        failed: Option<RawFailedLogins>,
        num_proxies: Option<u32>,
    ) -> Result<ThrottleSettings, ConfigError> {
        let raw = raw.unwrap_or(RawThrottle {
            REDIS_URL: None,
            KEY_PREFIX: None,
            max_keys: None,
            redis_timeout_ms: None,
        });
        let store = match &raw.REDIS_URL {
            Some(url) => {
                if let Some(max) = &raw.max_keys {
                    return Err(self.at(
                        max,
                        "throttle.max_keys",
                        "max_keys bounds histories kept in memory; with REDIS_URL, Redis's own \
                         maxmemory bounds them",
                    ));
                }
                let timeout_ms = raw.redis_timeout_ms.as_ref().map_or(1000, |t| *t.get_ref());
                if timeout_ms == 0 {
                    let t = raw.redis_timeout_ms.as_ref().expect("set");
                    return Err(self.at(t, "throttle.redis_timeout_ms", "must be at least 1"));
                }
                ThrottleStoreSetting::Redis {
                    target: RedisTarget::parse(url.get_ref())
                        .map_err(|m| self.at(url, "throttle.REDIS_URL", m))?,
                    prefix: raw.KEY_PREFIX.clone().unwrap_or_else(|| "drfgate:".into()),
                    timeout: Duration::from_millis(timeout_ms),
                }
            }
            None => {
                if let Some(t) = &raw.redis_timeout_ms {
                    return Err(self.at(
                        t,
                        "throttle.redis_timeout_ms",
                        "only applies with REDIS_URL",
                    ));
                }
                let max_keys = raw
                    .max_keys
                    .as_ref()
                    .map_or(DEFAULT_MAX_KEYS, |m| *m.get_ref());
                if max_keys == 0 {
                    let m = raw.max_keys.as_ref().expect("set");
                    return Err(self.at(m, "throttle.max_keys", "must be at least 1"));
                }
                ThrottleStoreSetting::Memory { max_keys }
            }
        };
        let mut failed_logins = FailedLoginLimits::default();
        if let Some(failed) = failed {
            let positive = |value: &Option<Spanned<toml::Value>>, key: &str| {
                let Some(value) = value else { return Ok(None) };
                let rate = self.rate_value(value, key)?;
                if rate.is_some_and(|r| r.num < 1) {
                    return Err(self.at(value, key, "allow at least one failure per window"));
                }
                Ok(rate)
            };
            failed_logins.per_client = positive(&failed.rate, "failed_logins.rate")?;
            failed_logins.per_username = match &failed.username_rate {
                None => failed_logins.per_client,
                some => positive(some, "failed_logins.username_rate")?,
            };
        }
        Ok(ThrottleSettings {
            num_proxies,
            store,
            failed_logins,
        })
    }
}
