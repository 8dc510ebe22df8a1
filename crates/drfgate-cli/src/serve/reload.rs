//! SIGHUP: the config file read again while serving.
//!
//! The new config is loaded off the async threads (it opens the database); if it loads, the
//! requests that start afterwards are judged by it, and those in progress finish under the
//! policy they started with. If it does not (a syntax error, an unknown class, a database
//! that cannot be opened), the error is logged with the file, line and key it names, and the
//! policy loaded before stays in force: a bad edit never takes the gate down or opens it.
//!
//! The listening address and the `[serve]` limits on connections and timeouts belong to the
//! running server: a reload that changes them says they take effect at the next start.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use super::{Policy, ServeSettings, Shared};

/// The policy in force, replaced whole by a reload.
pub(super) struct Current {
    policy: RwLock<Arc<Policy>>,
    /// The `[serve]` settings the server started with, to tell what a reload cannot change.
    started_with: ServeSettings,
}

impl Current {
    pub(super) fn new(policy: Policy, settings: ServeSettings) -> Current {
        Current {
            policy: RwLock::new(Arc::new(policy)),
            started_with: settings,
        }
    }

    /// The policy for one request.
    pub(super) fn get(&self) -> Arc<Policy> {
        // Nothing panics while holding the lock; a poisoned one still holds a valid policy.
        self.policy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn replace(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policy);
    }
}

/// Reloads `config_path` on every SIGHUP, for as long as the runtime runs.
pub(super) fn on_sighup(config_path: PathBuf, shared: Arc<Shared>) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups =
        signal(SignalKind::hangup()).map_err(|e| format!("cannot watch SIGHUP: {e}"))?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let path = config_path.clone();
            let loaded = tokio::task::spawn_blocking(move || Policy::load(&path)).await;
            match loaded {
                Ok(Ok((policy, settings, _gate))) => {
                    shared.policy.replace(policy);
                    eprintln!("drfgate serve: SIGHUP: reloaded {}", config_path.display());
                    let before = &shared.policy.started_with;
                    if settings.header_read_timeout != before.header_read_timeout
                        || settings.keep_alive_timeout != before.keep_alive_timeout
                        || settings.max_connections != before.max_connections
                    {
                        log::warn!(
                            "SIGHUP: [serve] timeouts and max_connections take effect at the \
                             next start; the running server keeps its own"
                        );
                    }
                }
                Ok(Err(why)) => log::error!(
                    "SIGHUP: not reloaded, the config loaded before stays in force: {why}"
                ),
                Err(join) => log::error!(
                    "SIGHUP: not reloaded, the config loaded before stays in force: the \
                     reload did not complete ({join})"
                ),
            }
        }
    });
    Ok(())
}
