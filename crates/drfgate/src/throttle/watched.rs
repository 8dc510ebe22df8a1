//! The throttle histories' failures, logged once per incident as the database's are
//! (`crate::incident`): a Redis that stops answering refuses every throttled request (503)
//! and tells the error log once, then once more when it answers again.

use super::rate::Rate;
use super::window::{Op, Window, WindowStore};
use crate::incident::Incident;

pub(crate) struct WatchedWindows {
    inner: Box<dyn WindowStore>,
    incident: Incident,
}

impl WatchedWindows {
    pub(crate) fn new(inner: Box<dyn WindowStore>) -> WatchedWindows {
        WatchedWindows {
            inner,
            incident: Incident::default(),
        }
    }
}

impl WindowStore for WatchedWindows {
    fn apply(&self, key: &[u8], now: f64, rate: Rate, op: Op) -> Result<Window, String> {
        let result = self.inner.apply(key, now, rate, op);
        match &result {
            Err(error) => {
                if self.incident.failed() {
                    log::error!(
                        "throttle histories ({}) are failing; throttled requests and the \
                         failed-login limiter are refused (503) until they answer again: {error}",
                        self.inner.describe()
                    );
                }
            }
            Ok(_) => {
                if let Some(failed) = self.incident.answered() {
                    log::warn!(
                        "throttle histories ({}) are answered again ({failed} failed meanwhile)",
                        self.inner.describe()
                    );
                }
            }
        }
        result
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn blocking(&self) -> bool {
        self.inner.blocking()
    }
}
