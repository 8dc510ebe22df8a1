//! The failed-login limiter, a drfgate extension (DRF has none): a client, or a Basic
//! username, that failed authentication `num` times within the window is answered DRF's
//! throttle 429 until the oldest failure leaves the window, before any credential is
//! checked, so guessing costs neither a database query nor a password hash.
//!
//! Failures are what a guess produces: `Invalid username/password.` (Basic) and `Invalid
//! token.` (Token, knox). A malformed header is no guess and costs nothing to refuse.

use super::rate::Rate;
use super::window::{Op, Window, WindowStore};

/// `[failed_logins]`: the limits (both `None` is off, the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailedLoginLimits {
    /// Failures per client (`get_ident()`).
    pub per_client: Option<Rate>,
    /// Failures per Basic username, whoever sends them.
    pub per_username: Option<Rate>,
}

impl FailedLoginLimits {
    pub fn enabled(&self) -> bool {
        self.per_client.is_some() || self.per_username.is_some()
    }
}

fn client_key(ident: &str) -> String {
    format!("failed_login_client_{ident}")
}

fn username_key(username: &str) -> String {
    format!("failed_login_username_{username}")
}

/// The keys a request's failure would count under, and their limits.
pub fn keys(
    limits: &FailedLoginLimits,
    ident: &str,
    username: Option<&str>,
) -> Vec<(String, Rate)> {
    let mut keys = Vec::with_capacity(2);
    if let Some(rate) = limits.per_client {
        keys.push((client_key(ident), rate));
    }
    if let (Some(rate), Some(username)) = (limits.per_username, username) {
        keys.push((username_key(username), rate));
    }
    keys
}

/// Whether any of the keys is locked, and the longest wait if so. An error fails closed.
pub fn locked(
    store: &dyn WindowStore,
    keys: &[(String, Rate)],
    now: f64,
) -> Result<Option<Option<f64>>, String> {
    let mut longest: Option<Option<f64>> = None;
    for (key, rate) in keys {
        let window: Window = store.apply(key.as_bytes(), now, *rate, Op::Peek)?;
        if !window.allowed {
            let wait = window.wait(now, *rate);
            longest = Some(match (longest.flatten(), wait) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            });
        }
    }
    Ok(longest)
}

/// Counts one failure under each key.
pub fn record(store: &dyn WindowStore, keys: &[(String, Rate)], now: f64) -> Result<(), String> {
    for (key, rate) in keys {
        store.apply(key.as_bytes(), now, *rate, Op::Record)?;
    }
    Ok(())
}
