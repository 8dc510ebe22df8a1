//! Helpers of the C tests: the toolchain that builds and runs the C programs, and the
//! fixtures they read.

pub mod fixtures;
pub mod toolchain;
