//! The `[cache]` section: sizes and lifetimes of the credential caches, and how long a user's
//! Django permissions are cached.

use std::num::NonZeroU32;
use std::time::Duration;

use super::raw::{Loader, RawCache};
use super::ConfigError;
use crate::cache::CacheConfig;

/// `[cache] unlisted_token_lookups_per_second` when absent: well above what clients with
/// mistyped or deleted tokens cause (each distinct one is looked up once, then answered by the
/// negative cache), well below what a network database minds.
pub(crate) const DEFAULT_UNLISTED_TOKEN_LOOKUPS_PER_SECOND: u32 = 20;

/// What `[cache]` sets.
pub(super) struct CacheSection {
    pub(super) cache: CacheConfig,
    pub(super) permissions_ttl: Duration,
    pub(super) credential_lookups_per_second: Option<NonZeroU32>,
    pub(super) unlisted_token_lookups_per_second: u32,
}

impl Loader<'_> {
    pub(super) fn cache(&self, raw: Option<RawCache>) -> Result<CacheSection, ConfigError> {
        let mut cfg = CacheConfig::default();
        let mut permissions_ttl = cfg.ttl;
        let mut lookups_per_second = None;
        let mut unlisted_token_lookups_per_second = DEFAULT_UNLISTED_TOKEN_LOOKUPS_PER_SECOND;
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
            if let Some(n) = raw.unlisted_token_lookups_per_second {
                unlisted_token_lookups_per_second = n;
            }
        }
        Ok(CacheSection {
            cache: cfg,
            permissions_ttl,
            credential_lookups_per_second: lookups_per_second,
            unlisted_token_lookups_per_second,
        })
    }
}
