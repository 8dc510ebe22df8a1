//! The `[serve]` section: settings of the `drfgate serve` forward-auth server (which
//! forwarded headers to trust, timeouts, connection and blocking-decision limits).

use std::time::Duration;

use toml::Spanned;

use super::raw::{Loader, RawServe};
use super::ConfigError;

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

impl Loader<'_> {
    pub(super) fn serve(&self, raw: Option<RawServe>) -> Result<ServeSettings, ConfigError> {
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
}
