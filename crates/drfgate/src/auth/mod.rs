//! DRF's authentication classes, one small type per scheme, with DRF's contract:
//! *decline* ("not my scheme", the next class is tried), *succeed*, or *fail* ("my scheme,
//! bad credentials", which stops the chain).

use std::sync::Arc;

use crate::cache::{CredentialCache, KeyDomain};
use crate::decision::{AuthObject, Identity, Scheme, User};
use crate::exceptions::ApiError;
use crate::hashers::PasswordHashers;
use crate::request::Request;
use crate::store::Store;
use crate::trace::{Stage, Tracer};

mod backends;
mod basic;
mod remote_user;
mod session;
mod token;

pub use backends::{Backend, Backends};
pub use basic::BasicAuthentication;
pub use remote_user::{RemoteUserAuthentication, RemoteUserSource};
pub use session::SessionAuthentication;
pub use token::TokenAuthentication;

/// Cache key domains: a token and a user+password pair never share a key.
pub(crate) const TOKEN_KEYS: KeyDomain = KeyDomain::new("drf-token");
pub(crate) const PASSWORD_KEYS: KeyDomain = KeyDomain::new("basic-user-password");

/// What one authenticator says about one request.
#[derive(Debug)]
pub enum Outcome {
    /// Not this class's scheme (Python's `return None`).
    Decline,
    Success(Identity),
    /// The scheme is this class's and the request must be refused.
    Fail(ApiError),
}

/// What authenticators may consult: the store, the caches in front of it, the hashers and
/// the configured Django authentication backends.
pub struct Context<'g> {
    pub store: &'g dyn Store,
    pub tokens: &'g CredentialCache<Arc<User>>,
    pub passwords: &'g CredentialCache<Arc<User>>,
    pub hashers: &'g PasswordHashers,
    pub backends: &'g Backends,
}

pub trait Authenticator: Send + Sync {
    fn authenticate(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome;

    /// `authenticate_header()`: the `WWW-Authenticate` value that makes an unauthenticated
    /// refusal a 401 when this class is first in the list.
    fn authenticate_header(&self) -> Option<&Arc<str>>;

    /// The configured class name.
    fn name(&self) -> &Arc<str>;
}

fn decline(class: &str, trace: &mut Tracer<'_>, why: impl FnOnce() -> String) -> Outcome {
    trace.step(
        Stage::Authentication,
        || class.to_string(),
        || format!("declined: {}", why()),
    );
    Outcome::Decline
}

fn fail(class: &str, trace: &mut Tracer<'_>, detail: &'static str) -> Outcome {
    trace.step(
        Stage::Authentication,
        || class.to_string(),
        || format!("failed: {detail}"),
    );
    Outcome::Fail(ApiError::AuthenticationFailed(detail))
}

fn succeed(
    class: &Arc<str>,
    trace: &mut Tracer<'_>,
    user: Arc<User>,
    scheme: Scheme,
    auth: AuthObject,
) -> Outcome {
    trace.step(
        Stage::Authentication,
        || class.to_string(),
        || format!("authenticated user {:?} (pk {})", user.username, user.pk),
    );
    Outcome::Success(Identity {
        user,
        scheme,
        authenticator: class.clone(),
        auth,
    })
}

/// Logs a store failure without any credential in it and fails closed.
fn store_failure(class: &str, err: &crate::store::StoreError) -> Outcome {
    log::error!("{class}: database lookup failed, refusing the request: {err}");
    Outcome::Fail(ApiError::ServerError)
}
