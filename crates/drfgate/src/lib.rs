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
pub mod base64;
pub mod cache;
pub mod config;
pub mod decision;
pub mod exceptions;
pub mod gate;
pub mod hashers;
pub mod header;
pub mod jwt;
pub mod permissions;
pub mod request;
pub mod routes;
pub mod store;
pub mod trace;

pub use config::{Config, ConfigError};
pub use decision::{AuthObject, Body, Decision, Deny, Identity, Scheme, User, UserPk};
pub use gate::{Gate, GateError, GateRoute, GateStats, Judgement};
pub use request::{HeaderSource, PathForm, Request};
pub use trace::Trace;
