//! What the gate answers: allow (with the identity DRF would have put on `request.user`)
//! or deny (with the exact status, JSON body and `WWW-Authenticate` DRF would have sent).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A Django user's primary key: an integer for the default `AutoField`/`BigAutoField`,
/// text for UUID or other custom primary keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UserPk {
    Int(i64),
    Text(Arc<str>),
}

impl fmt::Display for UserPk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserPk::Int(n) => write!(f, "{n}"),
            UserPk::Text(s) => f.write_str(s),
        }
    }
}

/// The columns of a Django user row that DRF's code paths consult.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub pk: UserPk,
    pub username: Arc<str>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// The authentication scheme that recognised the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Token,
    Basic,
    Session,
    RemoteUser,
    /// simplejwt's `JWTAuthentication`: a user row found by the token's claim.
    Jwt,
    /// simplejwt's `JWTStatelessUserAuthentication`: a `TokenUser` made of the claims, which
    /// has no Django permissions.
    JwtStateless,
    /// django-rest-knox's `TokenAuthentication`.
    Knox,
}

impl Scheme {
    /// Stable lower-case name, used in identity headers and environment variables.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Token => "token",
            Scheme::Basic => "basic",
            Scheme::Session => "session",
            Scheme::RemoteUser => "remote_user",
            Scheme::Jwt => "jwt",
            Scheme::JwtStateless => "jwt_stateless",
            Scheme::Knox => "knox",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// DRF's `request.auth`: the token object for Token authentication, `None` for the
/// other schemes. The token's key is deliberately not carried: it is a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthObject {
    None,
    Token,
}

/// Who the request is, once an authenticator has succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: Arc<User>,
    pub scheme: Scheme,
    /// The configured class that authenticated, e.g. `rest_framework.authentication.TokenAuthentication`.
    pub authenticator: Arc<str>,
    pub auth: AuthObject,
}

/// Response body bytes: the fixed DRF messages are static, configured ones shared.
#[derive(Clone, PartialEq, Eq)]
pub enum Body {
    Static(&'static [u8]),
    Shared(Arc<[u8]>),
}

impl Deref for Body {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Body::Static(b) => b,
            Body::Shared(b) => b,
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// A refusal, rendered exactly as DRF's default exception handler and JSON renderer would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deny {
    pub status: u16,
    pub body: Body,
    /// The `WWW-Authenticate` value for a 401; `None` on every other status.
    pub www_authenticate: Option<Arc<str>>,
    /// DRF puts `Allow: <implemented methods>` on every response of a view, refusals included;
    /// known only when the route lists its methods.
    pub allow: Option<Arc<str>>,
    /// `Retry-After: <seconds>` on a throttled request's 429 (DRF sets it whenever the
    /// throttle's wait rounds up to a positive number); `None` on every other answer.
    pub retry_after: Option<u64>,
    /// The `Content-Type` to send: [`Deny::CONTENT_TYPE`] for DRF's JSON, [`Deny::HTML`] for
    /// Django's own 400 page (a host `ALLOWED_HOSTS` refuses).
    pub content_type: &'static str,
}

impl Deny {
    /// DRF's JSON renderer sends exactly this, without a charset.
    pub const CONTENT_TYPE: &'static str = "application/json";
    /// Django's `HttpResponse` default, for its built-in error pages.
    pub const HTML: &'static str = "text/html; charset=utf-8";

    /// The `detail` text when the body is `{"detail": "..."}`, for traces and tests.
    pub fn detail(&self) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        value.get("detail")?.as_str().map(str::to_owned)
    }
}

/// The gate's answer for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// DRF lets the request through: as this user, or as DRF's `AnonymousUser` (`None`).
    Allow(Option<Identity>),
    /// The gate has no opinion and the application decides: no route matched and `[gate]
    /// unmatched = "pass"`, or an authenticator could not finish DRF's answer (a session POST
    /// whose CSRF token may be in the body). Front ends let it through without an identity,
    /// like an anonymous allow; `explain` and logs say which it was.
    Pass,
    Deny(Deny),
}

impl Decision {
    /// Whether the request goes on to the application: allowed, or passed through.
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow(_) | Decision::Pass)
    }

    pub fn identity(&self) -> Option<&Identity> {
        match self {
            Decision::Allow(identity) => identity.as_ref(),
            Decision::Pass | Decision::Deny(_) => None,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Decision::Allow(_) | Decision::Pass => 200,
            Decision::Deny(deny) => deny.status,
        }
    }
}
