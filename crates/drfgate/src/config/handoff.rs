//! `[handoff]`: the secret file whose key signs the identity handed to the application
//! (`crate::handoff`; python/drfgate-django's `GateAuthentication` checks it).

use std::path::PathBuf;
use std::sync::Arc;

use super::raw::{Loader, RawHandoff};
use super::ConfigError;
use crate::handoff::HandoffKey;

impl Loader<'_> {
    pub(super) fn handoff(
        &self,
        raw: Option<RawHandoff>,
    ) -> Result<Option<Arc<HandoffKey>>, ConfigError> {
        let Some(raw) = raw else { return Ok(None) };
        let file = &raw.SECRET_FILE;
        let path = match &self.base {
            Some(base) => base.join(file.get_ref()),
            None => PathBuf::from(file.get_ref()),
        };
        let bytes = std::fs::read(&path).map_err(|e| {
            self.at(
                file,
                "handoff.SECRET_FILE",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let key = HandoffKey::from_file_bytes(bytes).map_err(|m| {
            self.at(
                file,
                "handoff.SECRET_FILE",
                format!("{}: {m}", path.display()),
            )
        })?;
        Ok(Some(Arc::new(key)))
    }
}
