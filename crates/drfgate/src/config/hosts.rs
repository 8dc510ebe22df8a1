//! The host settings of `[django]`: `ALLOWED_HOSTS`, `DEBUG`, `USE_X_FORWARDED_HOST`,
//! `USE_X_FORWARDED_PORT`, and `MIDDLEWARE` (only to know whether `CommonMiddleware`
//! validates the host of every request).

use super::raw::{Loader, RawDjango};
use super::ConfigError;
use crate::host::HostSettings;

/// The middleware whose request phase calls `get_host()` on every request.
const COMMON_MIDDLEWARE: &str = "django.middleware.common.CommonMiddleware";

impl Loader<'_> {
    pub(super) fn hosts(&self, raw: &mut RawDjango) -> Result<HostSettings, ConfigError> {
        let allowed_hosts = raw.ALLOWED_HOSTS.take();
        // Without the list the gate cannot know which hosts Django refuses.
        let common = match raw.MIDDLEWARE.take() {
            None => true,
            Some(list) => {
                if list.get_ref().iter().any(|m| m.trim().is_empty()) {
                    return Err(self.at(&list, "django.MIDDLEWARE", "an entry is empty"));
                }
                list.get_ref().iter().any(|m| m == COMMON_MIDDLEWARE)
            }
        };
        Ok(HostSettings {
            checked_before_views: common && allowed_hosts.is_some(),
            allowed_hosts,
            debug: raw.DEBUG.take().unwrap_or(false),
            use_x_forwarded_host: raw.USE_X_FORWARDED_HOST.take().unwrap_or(false),
            use_x_forwarded_port: raw.USE_X_FORWARDED_PORT.take().unwrap_or(false),
        })
    }
}
