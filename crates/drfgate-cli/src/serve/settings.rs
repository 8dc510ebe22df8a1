//! The `[serve]` section: settings of the `drfgate serve` forward-auth server (which
//! forwarded headers to trust, timeouts, connection and blocking-decision limits).
//!
//! The core accepts the section and leaves it to us: [`ServeSettings::from_config`] reads it
//! from the config's text (`Config::section`) and its errors name the file, the line and the
//! key like the core's.

use std::time::Duration;

use drfgate::{Config, ConfigError};
use serde::Deserialize;
use toml::Spanned;

/// The section as TOML gives it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServe {
    trusted_forwarded: Option<Vec<Spanned<String>>>,
    header_read_timeout_seconds: Option<Spanned<u64>>,
    keep_alive_timeout_seconds: Option<Spanned<u64>>,
    max_connections: Option<Spanned<u64>>,
    max_blocking_decisions: Option<Spanned<u64>>,
    remote_addr_header: Option<Spanned<String>>,
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
    /// The header in which the proxy in front names the client (`REMOTE_ADDR` for DRF's
    /// throttles), e.g. nginx's `proxy_set_header X-Real-IP $remote_addr`. `None` (the
    /// default): the address of the peer that connected to `drfgate serve`.
    pub remote_addr_header: Option<String>,
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
            remote_addr_header: None,
        }
    }
}

impl ServeSettings {
    /// The config's `[serve]` section, checked; the defaults when there is none.
    pub fn from_config(config: &Config) -> Result<ServeSettings, ConfigError> {
        let mut settings = ServeSettings::default();
        let Some(raw) = config.section::<RawServe>("serve")? else {
            return Ok(settings);
        };
        // Bounded both ways: 0 would disable what the key is there to bound, and a huge value
        // is a typo (and would overflow a deadline).
        let bounded = |value: &Spanned<u64>, key: &str, max: u64| {
            let n = *value.get_ref();
            if (1..=max).contains(&n) {
                Ok(n)
            } else {
                Err(config.error_at(
                    value.span(),
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
        if let Some(name) = &raw.remote_addr_header {
            let valid = !name.get_ref().is_empty()
                && name
                    .get_ref()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err(config.error_at(
                    name.span(),
                    "serve.remote_addr_header",
                    format!("{:?} is not a header name", name.get_ref()),
                ));
            }
            settings.remote_addr_header = Some(name.get_ref().clone());
        }
        let Some(names) = raw.trusted_forwarded else {
            return Ok(settings);
        };
        for (i, name) in names.iter().enumerate() {
            let family = match name.get_ref().as_str() {
                "x-original" => ForwardedHeaders::XOriginal,
                "x-forwarded" => ForwardedHeaders::XForwarded,
                other => {
                    return Err(config.error_at(
                        name.span(),
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

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[django]\nDATABASE = \"sqlite:///tmp/db.sqlite3\"\n";

    fn serve(text: &str) -> Result<ServeSettings, String> {
        let config =
            Config::from_str_with_origin(text, "drfgate.toml", None).map_err(|e| e.to_string())?;
        ServeSettings::from_config(&config).map_err(|e| e.to_string())
    }

    fn error(text: &str) -> String {
        serve(text).expect_err("an error")
    }

    #[test]
    fn serve_trusts_no_forwarded_headers_unless_told() {
        use ForwardedHeaders::{XForwarded, XOriginal};
        assert!(serve(BASE).unwrap().trusted_forwarded.is_empty());
        let config = serve(&format!(
            "{BASE}[serve]\ntrusted_forwarded = [\"x-forwarded\", \"x-original\", \"x-forwarded\"]\n"
        ))
        .unwrap();
        assert_eq!(config.trusted_forwarded, vec![XForwarded, XOriginal]);
        let e = error(&format!(
            "{BASE}[serve]\ntrusted_forwarded = [\"x-original\", \"forwarded\"]\n"
        ));
        assert!(
            e.contains(":4:")
                && e.contains("serve.trusted_forwarded[1]")
                && e.contains("x-original"),
            "{e}"
        );
        let e = error(&format!("{BASE}[serve]\nlisten = \"127.0.0.1:1\"\n"));
        assert!(e.contains("listen"), "{e}");
    }

    #[test]
    fn serve_limits_have_bounded_defaults_and_checked_values() {
        use std::time::Duration;
        let settings = serve(BASE).unwrap();
        assert_eq!(settings.header_read_timeout, Duration::from_secs(10));
        assert_eq!(settings.keep_alive_timeout, Duration::from_secs(75));
        assert_eq!(settings.max_connections, 512);
        assert_eq!(settings.max_blocking_decisions, 64);
        assert_eq!(settings, ServeSettings::default());
        let settings = serve(&format!(
            "{BASE}[serve]\nheader_read_timeout_seconds = 2\nkeep_alive_timeout_seconds = 30\n\
             max_connections = 3\nmax_blocking_decisions = 1\n"
        ))
        .unwrap();
        assert_eq!(settings.header_read_timeout, Duration::from_secs(2));
        assert_eq!(settings.keep_alive_timeout, Duration::from_secs(30));
        assert_eq!(settings.max_connections, 3);
        assert_eq!(settings.max_blocking_decisions, 1);
        for (line, key) in [
            (
                "header_read_timeout_seconds = 0",
                "serve.header_read_timeout_seconds",
            ),
            (
                "keep_alive_timeout_seconds = 0",
                "serve.keep_alive_timeout_seconds",
            ),
            ("max_connections = 0", "serve.max_connections"),
            ("max_blocking_decisions = 0", "serve.max_blocking_decisions"),
            (
                "max_blocking_decisions = 100000",
                "serve.max_blocking_decisions",
            ),
            (
                "header_read_timeout_seconds = 99999999999",
                "serve.header_read_timeout_seconds",
            ),
        ] {
            let e = error(&format!("{BASE}[serve]\n{line}\n"));
            assert!(
                e.contains(":4:") && e.contains(key) && e.contains("must be between 1 and"),
                "{line}: {e}"
            );
        }
        // A misspelt key names the file, the line and the key.
        let e = error(&format!("{BASE}[serve]\nmax_connection = 3\n"));
        assert!(e.contains(":4:") && e.contains("max_connection"), "{e}");
        let e = error(&format!(
            "{BASE}[serve]\nheader_read_timeout_seconds = -1\n"
        ));
        assert!(e.contains(":4:"), "{e}");
    }
}
