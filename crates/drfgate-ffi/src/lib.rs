//! libdrfgate: drfgate's gate behind a C ABI, for web-server modules (Apache, nginx) and any
//! C or C++ program. The header is `include/drfgate.h`, generated from this crate by cbindgen.
//!
//! The conventions, in rustls-ffi's style:
//! - handles are opaque and made by a `_new` function, released by a `_free` one;
//! - every fallible call returns a `drfgate_result` whose numbers never change; its other
//!   outputs go through out-pointers, written only when it returns `DRFGATE_RESULT_OK`;
//! - one NULL policy, applied by every export through the `try_*` macros of `boundary.rs`: a
//!   NULL where a pointer is required is `DRFGATE_RESULT_NULL_PARAMETER` naming the argument,
//!   never a crash; a byte range may be NULL only when empty;
//! - every export runs inside `ffi_boundary!`, which catches Rust panics
//!   (`DRFGATE_RESULT_PANIC`, or `false`/0), so none unwinds into C;
//! - `drfgate_last_error_message` copies out the detailed message of a failure;
//! - `drfgate_set_log_callback` hands config warnings and runtime errors to the host's log.

// The C names are the ABI.
#![allow(non_camel_case_types)]

mod boundary;
mod decide;
mod decision;
mod fork;
mod gate;
mod logger;
mod request;
mod result;
mod sized;

use std::ffi::c_char;

pub use decide::*;
pub use decision::*;
pub use gate::*;
pub use logger::*;
pub use request::*;
pub use result::*;

/// The library's major version (the header's; compare with `drfgate_version()` at run time).
pub const DRFGATE_VERSION_MAJOR: u32 = 0;
/// The library's minor version.
pub const DRFGATE_VERSION_MINOR: u32 = 3;
/// The library's patch version.
pub const DRFGATE_VERSION_PATCH: u32 = 0;

// cbindgen copies literals into the header, so they are written out above; these checks
// keep them equal to Cargo.toml's version.
const _: () = assert!(DRFGATE_VERSION_MAJOR == number(env!("CARGO_PKG_VERSION_MAJOR")));
const _: () = assert!(DRFGATE_VERSION_MINOR == number(env!("CARGO_PKG_VERSION_MINOR")));
const _: () = assert!(DRFGATE_VERSION_PATCH == number(env!("CARGO_PKG_VERSION_PATCH")));
const fn number(digits: &str) -> u32 {
    let digits = digits.as_bytes();
    let mut value = 0;
    let mut i = 0;
    while i < digits.len() {
        value = value * 10 + (digits[i] - b'0') as u32;
        i += 1;
    }
    value
}

/// The library's version, e.g. `"0.3.0"`: NUL-terminated, static. A program can compare it
/// with the `DRFGATE_VERSION` it was compiled against.
#[no_mangle]
pub extern "C" fn drfgate_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
