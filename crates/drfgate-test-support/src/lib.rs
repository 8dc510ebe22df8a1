//! What drfgate's tests share, in one place (a dev-dependency of every crate, never published):
//!
//! - [`skip`]: the skip policy. A missing fixture or tool fails the test that needs it, unless
//!   `DRFGATE_SKIP` names it (e.g. `DRFGATE_SKIP=valgrind,django`);
//! - [`fixtures`]: the Django-made fixture database (and a private copy of it), the demo
//!   database, and scratch databases with Django's auth tables;
//! - [`conformance`]: the conformance table, real DRF's answers to it and the gate configs
//!   `tests/conformance/gate_configs.py` wrote for it (`make gate-configs`);
//! - [`store`]: the real SQLite store, counting its queries, with lookups a test can pause;
//!   any store failing or panicking on demand ([`Faulty`]);
//! - [`logs`]: the warnings and errors a test binary logged, to count them;
//! - [`bytes`]: the table's `\xNN` byte notation and hex;
//! - [`flood`]: the valid and junk token keys of the flood tests;
//! - [`relay`]: a loopback port where a database server appears late ([`LateRelay`]).

pub mod bytes;
pub mod conformance;
pub mod fixtures;
pub mod flood;
pub mod logs;
pub mod relay;
pub mod skip;
pub mod store;

pub use fixtures::{demo_db, fixture_copy, fixture_db, scratch_db};
pub use relay::LateRelay;
pub use store::{Counting, Fault, FaultSwitch, Faulty, Pause, Paused, Pauses};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository's root directory (absolute, symlinks resolved).
pub fn repo_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .expect("the repository root")
    })
}
