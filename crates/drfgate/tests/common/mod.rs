//! The Django-made fixture database, shared by the integration tests.

use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `build/django/db.sqlite3`, made by `make fixture-db`. `None` (with a note) when absent,
/// unless `DRFGATE_REQUIRE_DJANGO=1`, when its absence is a failure.
pub fn fixture_db() -> Option<PathBuf> {
    let db = repo_root().join("build/django/db.sqlite3");
    if db.exists() {
        return Some(db);
    }
    if std::env::var("DRFGATE_REQUIRE_DJANGO").as_deref() == Ok("1") {
        panic!("missing {}: run `make fixture-db`", db.display());
    }
    eprintln!("skipped: no Django fixture database (run `make fixture-db`)");
    None
}

/// A private copy of the fixture database, for tests that change it.
pub fn fixture_copy(dir: &Path) -> Option<PathBuf> {
    let db = fixture_db()?;
    let copy = dir.join("db.sqlite3");
    std::fs::copy(db, &copy).unwrap();
    Some(copy)
}
