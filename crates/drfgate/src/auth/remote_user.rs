//! DRF's `RemoteUserAuthentication`: trusts a server variable (`REMOTE_USER`) that the web
//! server set after authenticating the client itself. Never a client header, unless a
//! subclass names one (then it is client-controlled, as in DRF).

use std::borrow::Cow;
use std::sync::Arc;

use super::{decline, store_failure, succeed, Authenticator, Context, Outcome};
use crate::decision::{AuthObject, Scheme};
use crate::request::Request;
use crate::trace::Tracer;

/// Where the username comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteUserSource {
    /// `REMOTE_USER`: the front end's server variable.
    ServerVariable,
    /// `HTTP_<NAME>` in Django's META: an HTTP request header, sent by the client.
    Header(String),
}

impl RemoteUserSource {
    /// From the class's `header` attribute as written in Django (`REMOTE_USER`,
    /// `HTTP_X_REMOTE_USER`, …).
    pub fn from_meta_key(key: &str) -> Result<RemoteUserSource, String> {
        if key == "REMOTE_USER" {
            return Ok(RemoteUserSource::ServerVariable);
        }
        match key.strip_prefix("HTTP_") {
            Some(name) if !name.is_empty() => Ok(RemoteUserSource::Header(name.replace('_', "-"))),
            _ => Err(format!(
                "header {key:?} must be REMOTE_USER or an HTTP_* META key such as HTTP_X_REMOTE_USER"
            )),
        }
    }
}

pub struct RemoteUserAuthentication {
    name: Arc<str>,
    source: RemoteUserSource,
}

impl RemoteUserAuthentication {
    pub fn new(name: Arc<str>, source: RemoteUserSource) -> RemoteUserAuthentication {
        RemoteUserAuthentication { name, source }
    }
}

impl Authenticator for RemoteUserAuthentication {
    fn authenticate(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let raw: Option<Cow<'_, [u8]>> = match &self.source {
            RemoteUserSource::ServerVariable => request.remote_user.map(Cow::Borrowed),
            RemoteUserSource::Header(name) => request.header(name),
        };
        let Some(raw) = raw.filter(|v| !v.is_empty()) else {
            if trace.enabled() && request.header("Remote-User").is_some() {
                trace.hint(|| {
                    "a client `Remote-User` header is ignored: REMOTE_USER is a server variable"
                        .into()
                });
            }
            return decline(&self.name, trace, || "no REMOTE_USER".into());
        };
        let mut backends = cx.backends.remote_user_backends().peekable();
        if backends.peek().is_none() {
            trace.hint(|| {
                "RemoteUserAuthentication needs RemoteUserBackend in AUTHENTICATION_BACKENDS".into()
            });
            return decline(&self.name, trace, || {
                "no backend accepts remote_user".into()
            });
        }
        // WSGI hands Django server variables as ISO-8859-1 text.
        let username: String = raw.iter().map(|&b| b as char).collect();
        let user = match cx.store.user_by_username(&username) {
            Ok(Some(row)) => row.user,
            Ok(None) => {
                return decline(&self.name, trace, || {
                    format!("no user {username:?} (drfgate never creates users)")
                })
            }
            Err(err) => return store_failure(&self.name, &err),
        };
        // Whatever the backend returns, DRF only accepts an active user.
        if !user.is_active {
            trace.hint(|| format!("user {username:?} has is_active = false"));
            return decline(&self.name, trace, || {
                format!("user {username:?} is inactive")
            });
        }
        succeed(
            &self.name,
            trace,
            Arc::new(user),
            Scheme::RemoteUser,
            AuthObject::None,
        )
    }

    fn authenticate_header(&self) -> Option<&Arc<str>> {
        None
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }
}
