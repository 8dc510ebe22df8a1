//! drfgate answers the two questions Django REST Framework asks of every request —
//! *who is this?* and *may they do this?* — exactly as DRF would, in native code.
//!
//! The core has no web framework in it: a front end (the tower Layer, the C ABI, the CLI)
//! builds a [`Request`] view over its own request and asks a [`Gate`] for a [`Decision`].

pub mod base64;
pub mod cache;
pub mod hashers;
pub mod header;
pub mod routes;
