//! The Django-made fixture database, shared by the integration tests.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use drfgate::store::{Schema, SqliteStore, Store, StoreError, StoreSummary, UserWithPassword};
use drfgate::{User, UserPk};

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

/// The real SQLite store, counting the queries that reach it.
pub struct Counting {
    pub inner: SqliteStore,
    pub queries: Arc<AtomicUsize>,
}

impl Counting {
    pub fn open(db: &Path, schema: Schema) -> (Counting, Arc<AtomicUsize>) {
        let queries = Arc::new(AtomicUsize::new(0));
        let store = Counting {
            inner: SqliteStore::open(db, schema).unwrap(),
            queries: queries.clone(),
        };
        (store, queries)
    }
}

impl Store for Counting {
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.user_by_token(key)
    }
    fn user_by_username(&self, username: &str) -> Result<Option<UserWithPassword>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.user_by_username(username)
    }
    fn user_permissions(&self, pk: &UserPk) -> Result<HashSet<String>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.user_permissions(pk)
    }
    fn summary(&self) -> Result<StoreSummary, StoreError> {
        self.inner.summary()
    }
}
