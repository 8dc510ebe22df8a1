//! The `[revocation]` section: where the gate hears that credentials were revoked
//! (`crate::revocation`). Absent, no listener runs and cached credentials live for their ttl.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::raw::Loader;
use super::ConfigError;
use crate::redis::RedisTarget;
use crate::revocation::{
    RevocationSettings, RevocationSource, DEFAULT_CHANNEL, DEFAULT_DISCONNECTED_TTL,
};
use crate::store::network::Engine;
use crate::store::DatabaseUrl;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRevocation {
    /// `"database"` (PostgreSQL `LISTEN` on `DATABASE`) or a `redis://` URL.
    source: Spanned<String>,
    channel: Option<Spanned<String>>,
    disconnected_ttl_ms: Option<Spanned<u64>>,
}

/// Channel names: PostgreSQL identifiers and Redis channels alike, and never anything to escape.
fn valid_channel(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b':')
}

impl Loader<'_> {
    pub(super) fn revocation(
        &self,
        raw: Option<RawRevocation>,
        database: &DatabaseUrl,
    ) -> Result<Option<RevocationSettings>, ConfigError> {
        let Some(raw) = raw else { return Ok(None) };
        let source_text = raw.source.get_ref();
        let source =
            if source_text == "database" {
                match database {
                    DatabaseUrl::Server(db) if db.engine == Engine::Postgres => {
                        RevocationSource::Postgres(Box::new(db.clone()))
                    }
                    _ => return Err(self.at(
                        &raw.source,
                        "revocation.source",
                        "\"database\" listens with PostgreSQL's LISTEN/NOTIFY, and DATABASE is \
                         not PostgreSQL; on MariaDB/MySQL (or any engine) use a redis:// URL \
                         that drfgate_django's signal handlers publish to",
                    )),
                }
            } else if source_text.starts_with("redis://") {
                RevocationSource::Redis(
                    RedisTarget::parse(source_text)
                        .map_err(|e| self.at(&raw.source, "revocation.source", e))?,
                )
            } else {
                return Err(self.at(
                    &raw.source,
                    "revocation.source",
                    format!("must be \"database\" or a redis:// URL, not {source_text:?}"),
                ));
            };
        let channel = match &raw.channel {
            None => DEFAULT_CHANNEL.to_string(),
            Some(c) if valid_channel(c.get_ref()) => c.get_ref().clone(),
            Some(c) => {
                return Err(self.at(
                    c,
                    "revocation.channel",
                    "must be 1 to 63 letters, digits, '_', '.' or ':'",
                ))
            }
        };
        let disconnected_ttl = match &raw.disconnected_ttl_ms {
            None => DEFAULT_DISCONNECTED_TTL,
            Some(ms) if *ms.get_ref() == 0 => {
                return Err(self.at(
                    ms,
                    "revocation.disconnected_ttl_ms",
                    "must be at least 1 (cached credentials dropped every millisecond at most)",
                ))
            }
            Some(ms) => Duration::from_millis(*ms.get_ref()),
        };
        Ok(Some(RevocationSettings {
            source,
            channel,
            disconnected_ttl,
        }))
    }
}
