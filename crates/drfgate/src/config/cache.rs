//! The `[cache]` section: sizes and lifetimes of the credential caches, and how long a user's
//! Django permissions are cached.

use std::num::NonZeroU32;
use std::time::Duration;

use super::raw::{Loader, RawCache};
use super::ConfigError;
use crate::cache::CacheConfig;

impl Loader<'_> {
    pub(super) fn cache(
        &self,
        raw: Option<RawCache>,
    ) -> Result<(CacheConfig, Duration, Option<NonZeroU32>), ConfigError> {
        let mut cfg = CacheConfig::default();
        let mut permissions_ttl = cfg.ttl;
        let mut lookups_per_second = None;
        if let Some(raw) = raw {
            if let Some(n) = raw.max_entries {
                cfg.max_entries = n;
                // Unless set on its own, the unknown-credential space follows the size asked for.
                cfg.negative_max_entries = CacheConfig::negative_share_of(n);
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
            if let Some(s) = raw.stale_if_error_seconds {
                cfg.stale_if_error = Duration::from_secs(s);
            }
            if let Some(n) = raw.credential_lookups_per_second {
                // 0 is the default: no limit.
                lookups_per_second = NonZeroU32::new(n);
            }
        }
        Ok((cfg, permissions_ttl, lookups_per_second))
    }
}
