//! `SessionAuthentication`, until it has its own implementation: it declines every request
//! (as DRF does for a request without a logged-in session), and has no `WWW-Authenticate`,
//! so a configuration that lists it first already gets DRF's 403 instead of 401.

use std::sync::Arc;

use super::{Authenticator, Context, Outcome};
use crate::request::Request;
use crate::trace::{Stage, Tracer};

pub struct SessionAuthentication {
    name: Arc<str>,
}

impl SessionAuthentication {
    pub fn new(name: Arc<str>) -> SessionAuthentication {
        SessionAuthentication { name }
    }
}

impl Authenticator for SessionAuthentication {
    fn authenticate(
        &self,
        request: &Request<'_>,
        _cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        trace.step(
            Stage::Authentication,
            || self.name.to_string(),
            || "declined: session cookies are not read by this version of drfgate".into(),
        );
        if trace.enabled() && request.cookie("sessionid").is_some() {
            trace.hint(|| {
                "a sessionid cookie was sent, but drfgate does not resolve sessions yet: \
                 SessionAuthentication declines every request"
                    .into()
            });
        }
        Outcome::Decline
    }

    /// Declining needs nothing from the store.
    fn authenticate_cached(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Option<Outcome> {
        Some(self.authenticate(request, cx, trace))
    }

    fn authenticate_header(&self) -> Option<&Arc<str>> {
        None
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }
}
