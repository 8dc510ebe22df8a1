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
mod jwt;
mod knox;
mod remote_user;
mod session;
mod token;

pub use backends::{Backend, Backends};
/// The header-only half of Basic authentication, for the fuzz targets.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use basic::{basic_credentials, BasicCredentials};
pub(crate) use basic::{basic_username, BasicAuthentication};
pub(crate) use jwt::{JwtAuthentication, JwtShared};
pub(crate) use knox::{KnoxAuthentication, KnoxShared};
pub(crate) use remote_user::RemoteUserAuthentication;
pub use remote_user::RemoteUserSource;
pub(crate) use session::{SessionAuthentication, SessionUser, Sessions};
pub(crate) use token::TokenAuthentication;

/// Cache key domains: a token and a user+password pair never share a key.
pub(crate) const TOKEN_KEYS: KeyDomain = KeyDomain::new("drf-token");
pub(crate) const PASSWORD_KEYS: KeyDomain = KeyDomain::new("basic-user-password");

/// What one authenticator says about one request.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Not this class's scheme (Python's `return None`).
    Decline,
    Success(Identity),
    /// The scheme is this class's and the request must be refused.
    Fail(ApiError),
    /// The scheme is this class's but the gate cannot finish DRF's answer (e.g. the CSRF
    /// token may be in a body it does not read): the request goes on without an identity
    /// and the application decides.
    Defer,
}

/// What authenticators may consult: the store, the caches in front of it, the hashers and
/// the configured Django authentication backends.
pub(crate) struct Context<'g> {
    pub(crate) store: &'g dyn Store,
    pub(crate) tokens: &'g CredentialCache<Arc<User>>,
    pub(crate) passwords: &'g CredentialCache<Arc<User>>,
    pub(crate) hashers: &'g PasswordHashers,
    pub(crate) backends: &'g Backends,
    pub(crate) sessions: &'g Sessions,
    /// The request's `Authorization` value as DRF's `get_authorization_header` reads it
    /// (empty when absent): looked up once for every class of the view that reads it
    /// (Token, Basic and knox, which may each decline in turn).
    pub(crate) authorization: &'g [u8],
}

pub(crate) trait Authenticator: Send + Sync {
    fn authenticate(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome;

    /// The same answer as [`Authenticator::authenticate`] when it can be given without the
    /// store or a password hasher (from the caches, or from the header alone); `None` when
    /// it would need them. Lets an async front end answer cache hits inline and send only
    /// the rest to a blocking pool. The default never answers.
    fn authenticate_cached(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Option<Outcome> {
        let _ = (request, cx, trace);
        None
    }

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

/// Fails closed on a lookup that could not be answered. A database failure is a 503, told to
/// the log once per incident by the gate's watched store (not here, once per request); what
/// Django would raise on is DRF's 500, logged without any credential in it.
fn store_failure(class: &str, err: &crate::store::StoreError) -> Outcome {
    if err.is_raised() {
        log::error!("{class}: refusing the request (Django raises here): {err}");
        Outcome::Fail(ApiError::ServerError)
    } else {
        log::debug!("{class}: database lookup failed, refusing the request: {err}");
        Outcome::Fail(ApiError::Unavailable)
    }
}
