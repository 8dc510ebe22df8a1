//! drfgate answers the two questions Django REST Framework asks of every request —
//! *who is this?* and *may they do this?* — exactly as DRF would, in native code.
//!
//! The core has no web framework in it: a front end (the tower Layer, the C ABI, the CLI)
//! builds a [`Request`] view over its own request and asks a [`Gate`] for a [`Decision`].
//!
//! ```no_run
//! use drfgate::{Gate, Request, Decision};
//!
//! let gate = Gate::from_config_file("/etc/drfgate/drfgate.toml".as_ref()).expect("config");
//! let headers: &[(&[u8], &[u8])] = &[(b"Authorization", b"Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")];
//! let request = Request::new(b"GET", b"/api/orders/").with_headers(&headers);
//! match gate.decide(&request) {
//!     Decision::Allow(Some(identity)) => println!("user {}", identity.user.username),
//!     Decision::Allow(None) => println!("anonymous"),
//!     Decision::Pass => println!("no route: the application decides"),
//!     Decision::Deny(deny) => println!("{} {}", deny.status, String::from_utf8_lossy(&deny.body)),
//! }
//! ```

pub mod auth;
mod bytes;
pub mod config;
pub mod decision;
pub mod exceptions;
pub mod gate;
pub mod handoff;
pub mod host;
mod incident;
/// The RESP client shared by throttling and Django's cached sessions.
pub mod redis;
pub mod request;
pub mod revocation;
pub mod store;
pub mod throttle;
pub mod trace;

/// Declares modules that are the core's machinery, not its API: crate-private, and public only
/// with the `internals` feature, which exists for this workspace's own benches and CPython
/// parity tests (through `drfgate-test-support`) and carries no stability promise.
macro_rules! internal_modules {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        $(#[$doc])*
        #[cfg(not(feature = "internals"))]
        mod $name;
    )*};
}

internal_modules! {
    /// Python's lenient `b64decode`, byte for byte.
    base64;
    /// The keyed-hash credential cache with single flight.
    cache;
    /// Django's password hashers.
    hashers;
    /// Header tokenizing and cookie parsing on raw bytes, as DRF and Django do.
    header;
    /// JSON Web Tokens as simplejwt has PyJWT judge them.
    jwt;
    /// DRF's content negotiation: `Accept`, `?format=`, format suffixes.
    negotiation;
    /// DRF's permission classes and their operators.
    permissions;
    /// A restricted pickle reader: plain values only, never executes anything (Django's
    /// `RedisCache` values).
    pickle;
    /// Routes like `urlpatterns`: `path()` converters, `re_path()` regexes, `path_info`.
    routes;
    /// Django's `salted_hmac` and the reading half of `django.core.signing` (sessions).
    signing;
}

pub use cache::CacheStats;
pub use config::{Config, ConfigError};
pub use decision::{AuthObject, Body, Decision, Deny, Identity, Scheme, User, UserPk};
pub use gate::{Gate, GateError, GateRoute, GateStats, Judgement};
pub use request::{HeaderSource, PathForm, Request, RequestBody};
pub use trace::Trace;
