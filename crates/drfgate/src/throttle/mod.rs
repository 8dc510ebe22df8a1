//! DRF's throttling (`rest_framework.throttling`), run by the gate after the permissions as
//! `APIView.initial` runs `check_throttles()` after `check_permissions()`: every throttle of
//! the view is asked, each records the request it allows, and if any refused the answer is
//! DRF's 429 with the longest wait.
//!
//! One job per file: `rate` parses DRF's rate strings, `ident` is `get_ident()`, `clock` the
//! float UNIX time DRF reads, `window` the sliding-window histories and where they live
//! (`redis` for Redis), `login` the failed-login limiter (a drfgate extension).

pub mod clock;
pub mod ident;
pub mod login;
pub mod rate;
pub mod redis;
mod watched;
pub mod window;

use std::sync::Arc;

use crate::decision::{Body, Deny, Identity};
use crate::exceptions::render_detail;
use crate::request::Request;

pub use clock::{ManualClock, SystemClock, WallClock};
pub use rate::{parse_rate, Rate};
pub use window::{MemoryWindows, Op, Window, WindowStore};

/// DRF's throttle classes the gate implements (and subclasses of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleKind {
    /// `AnonRateThrottle`: anonymous requests by `get_ident()`; authenticated ones never.
    Anon,
    /// `UserRateThrottle`: by user pk, anonymous ones by `get_ident()`.
    User,
    /// `ScopedRateThrottle`: the view's `throttle_scope`, by user pk or `get_ident()`.
    Scoped,
}

/// One throttle of one view, resolved at load: its scope and rate are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewThrottle {
    /// The configured class name, for traces.
    pub class: Arc<str>,
    pub kind: ThrottleKind,
    /// The `%(scope)s` of the cache key.
    pub scope: Arc<str>,
    /// `None`: DRF's `rate = None`, the throttle allows everything and records nothing (a
    /// scope set to `None`, or a `ScopedRateThrottle` on a view without `throttle_scope`).
    pub rate: Option<Rate>,
}

/// A throttle that refused, and DRF's `wait()` for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub class: Arc<str>,
    pub wait: Option<f64>,
}

/// The gate's throttling machinery: where histories live, the clock, `NUM_PROXIES`.
pub struct Throttling {
    store: Box<dyn WindowStore>,
    clock: Arc<dyn WallClock>,
    num_proxies: Option<u32>,
}

impl Throttling {
    pub fn new(
        store: Box<dyn WindowStore>,
        clock: Arc<dyn WallClock>,
        num_proxies: Option<u32>,
    ) -> Throttling {
        Throttling {
            store,
            clock,
            num_proxies,
        }
    }

    pub fn now(&self) -> f64 {
        self.clock.now()
    }

    pub fn store(&self) -> &dyn WindowStore {
        self.store.as_ref()
    }

    /// `get_ident()` of this request.
    pub fn ident(&self, request: &Request<'_>) -> String {
        let xff = request.header("X-Forwarded-For");
        ident::get_ident(xff.as_deref(), request.remote_addr, self.num_proxies)
    }

    /// `check_throttles()`: asks every throttle (each allowing one records the request) and
    /// returns those that refused. An error (the store failed) refuses the request.
    /// `record = false` answers the same without recording (`drfgate explain`).
    pub fn check(
        &self,
        throttles: &[ViewThrottle],
        identity: Option<&Identity>,
        request: &Request<'_>,
        record: bool,
    ) -> Result<Vec<Refusal>, String> {
        let op = if record { Op::Throttle } else { Op::Peek };
        let mut refusals = Vec::new();
        let mut ident: Option<String> = None;
        let now = self.clock.now();
        for throttle in throttles {
            let Some(rate) = throttle.rate else { continue };
            let who = match (throttle.kind, identity) {
                (ThrottleKind::Anon, Some(_)) => continue,
                (ThrottleKind::User | ThrottleKind::Scoped, Some(identity)) => {
                    identity.user.pk.to_string()
                }
                (_, None) => ident.get_or_insert_with(|| self.ident(request)).clone(),
            };
            let key = cache_key(&throttle.scope, &who);
            let window = self.store.apply(key.as_bytes(), now, rate, op)?;
            if !window.allowed {
                refusals.push(Refusal {
                    class: throttle.class.clone(),
                    wait: window.wait(now, rate),
                });
            }
        }
        Ok(refusals)
    }
}

impl Throttling {
    /// For `drfgate explain`: what each throttle of the view sees for this request (its
    /// client identity, cache key and history, looked at without recording), one line each.
    pub fn describe(
        &self,
        throttles: &[ViewThrottle],
        identity: Option<&Identity>,
        request: &Request<'_>,
    ) -> Vec<(Arc<str>, String)> {
        let now = self.clock.now();
        throttles
            .iter()
            .map(|throttle| {
                let line = match (throttle.rate, throttle.kind, identity) {
                    (None, _, _) => "rate None: allows everything, records nothing".to_string(),
                    (Some(_), ThrottleKind::Anon, Some(_)) => {
                        "skipped: the request is authenticated".to_string()
                    }
                    (Some(rate), kind, identity) => {
                        let who = match (kind, identity) {
                            (ThrottleKind::User | ThrottleKind::Scoped, Some(identity)) => {
                                format!("user pk {}", identity.user.pk)
                            }
                            _ => {
                                let ident = self.ident(request);
                                format!(
                                    "client {ident:?} (get_ident: REMOTE_ADDR{})",
                                    match self.num_proxies {
                                        Some(n) =>
                                            format!(", NUM_PROXIES {n} with X-Forwarded-For"),
                                        None => ", X-Forwarded-For when sent".into(),
                                    }
                                )
                            }
                        };
                        let ident = match (kind, identity) {
                            (ThrottleKind::User | ThrottleKind::Scoped, Some(identity)) => {
                                identity.user.pk.to_string()
                            }
                            _ => self.ident(request),
                        };
                        let key = cache_key(&throttle.scope, &ident);
                        match self.store.apply(key.as_bytes(), now, rate, Op::Peek) {
                            Ok(window) => format!(
                                "{who}, key {key:?}: {} of {} requests in the last {} s in {}{}",
                                window.len,
                                rate.num,
                                rate.duration,
                                self.store.describe(),
                                match (window.allowed, window.wait(now, rate)) {
                                    (true, _) => String::new(),
                                    (false, Some(wait)) => {
                                        format!("; full, next allowed in {} s", wait.ceil())
                                    }
                                    (false, None) => "; full".to_string(),
                                }
                            ),
                            Err(error) => {
                                format!("{who}, key {key:?}: history unavailable: {error}")
                            }
                        }
                    }
                };
                (throttle.class.clone(), line)
            })
            .collect()
    }
}

/// DRF's `cache_format`: `throttle_%(scope)s_%(ident)s`.
pub fn cache_key(scope: &str, ident: &str) -> String {
    format!("throttle_{scope}_{ident}")
}

/// The longest of the refusing throttles' waits, as `check_throttles()` takes it (`None`
/// when none could say).
pub fn longest_wait(refusals: &[Refusal]) -> Option<f64> {
    refusals
        .iter()
        .filter_map(|r| r.wait)
        .fold(None, |longest: Option<f64>, w| {
            Some(longest.map_or(w, |l| l.max(w)))
        })
}

/// `exceptions.Throttled(wait)` as DRF's exception handler renders it: 429, the detail with
/// the wait rounded up (`1 second` singular), and `Retry-After` when that is not zero.
pub fn throttled(wait: Option<f64>, allow: Option<&Arc<str>>) -> Deny {
    let seconds = wait.map(|w| w.ceil() as i64);
    let detail = match seconds {
        None => "Request was throttled.".to_string(),
        Some(1) => "Request was throttled. Expected available in 1 second.".to_string(),
        Some(n) => format!("Request was throttled. Expected available in {n} seconds."),
    };
    Deny {
        status: 429,
        body: Body::Shared(render_detail(&detail)),
        www_authenticate: None,
        allow: allow.cloned(),
        retry_after: seconds
            .and_then(|n| u64::try_from(n).ok())
            .filter(|&n| n != 0),
        content_type: Deny::CONTENT_TYPE,
    }
}

#[cfg(test)]
mod tests;

/// The store a config names.
pub fn open_store(setting: &crate::config::ThrottleStoreSetting) -> Box<dyn WindowStore> {
    let store: Box<dyn WindowStore> = match setting {
        crate::config::ThrottleStoreSetting::Memory { max_keys } => {
            Box::new(MemoryWindows::new(*max_keys))
        }
        crate::config::ThrottleStoreSetting::Redis {
            target,
            prefix,
            timeout,
        } => Box::new(redis::RedisWindows::new(
            target.clone(),
            prefix.clone(),
            *timeout,
        )),
    };
    Box::new(watched::WatchedWindows::new(store))
}
