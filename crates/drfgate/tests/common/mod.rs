//! The Django-made fixture database, shared by the integration tests.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

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

/// The tables and columns of Django's auth and DRF's authtoken that the gate reads, for a
/// database made here with the rows a test needs (the Django fixture lacks some, e.g. an
/// outdated iteration count); such tests never need `make fixture-db`.
const DJANGO_AUTH_SCHEMA: &str = "
CREATE TABLE auth_user (id INTEGER PRIMARY KEY, password VARCHAR(128) NOT NULL,
    username VARCHAR(150) NOT NULL UNIQUE, is_superuser BOOL NOT NULL DEFAULT 0,
    is_staff BOOL NOT NULL DEFAULT 0, is_active BOOL NOT NULL DEFAULT 1);
CREATE TABLE authtoken_token (key VARCHAR(40) PRIMARY KEY,
    user_id INTEGER NOT NULL UNIQUE REFERENCES auth_user (id), created DATETIME);
CREATE TABLE django_content_type (id INTEGER PRIMARY KEY, app_label VARCHAR(100) NOT NULL,
    model VARCHAR(100) NOT NULL);
CREATE TABLE auth_permission (id INTEGER PRIMARY KEY, content_type_id INTEGER NOT NULL,
    codename VARCHAR(100) NOT NULL, name VARCHAR(255) NOT NULL DEFAULT '');
CREATE TABLE auth_group (id INTEGER PRIMARY KEY, name VARCHAR(150) NOT NULL UNIQUE);
CREATE TABLE auth_group_permissions (id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL,
    permission_id INTEGER NOT NULL);
CREATE TABLE auth_user_groups (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,
    group_id INTEGER NOT NULL);
CREATE TABLE auth_user_user_permissions (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,
    permission_id INTEGER NOT NULL);
";

/// `dir/db.sqlite3` with Django's auth tables (see [`DJANGO_AUTH_SCHEMA`]) and `rows`, SQL
/// inserting what the test needs.
pub fn scratch_db(dir: &Path, rows: &str) -> PathBuf {
    let db = dir.join("db.sqlite3");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(DJANGO_AUTH_SCHEMA).unwrap();
    conn.execute_batch(rows).unwrap();
    db
}

/// A lookup a test can stop half-way, like a slow database: it has read its answer but not yet
/// returned it, while the test changes the data underneath.
#[derive(Default)]
pub struct Pause {
    armed: Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>,
}

/// A lookup stopped by [`Pause::arm`].
pub struct Paused {
    stopped: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
}

impl Pause {
    /// The next lookup of this kind stops once it has read its answer, until released.
    pub fn arm(&self) -> Paused {
        let (stopped_tx, stopped) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        *self.armed.lock().unwrap() = Some((stopped_tx, release_rx));
        Paused { stopped, release }
    }

    fn stop_here_if_armed(&self) {
        let armed = self.armed.lock().unwrap().take();
        if let Some((stopped, release)) = armed {
            stopped.send(()).unwrap();
            // Dropping the `Paused` releases too, so a failing test cannot hang here.
            let _ = release.recv();
        }
    }
}

impl Paused {
    /// Waits until the armed lookup has read its answer and stopped.
    pub fn wait_until_stopped(&self) {
        self.stopped
            .recv_timeout(Duration::from_secs(60))
            .expect("the armed lookup never ran");
    }

    pub fn release(self) {
        let _ = self.release.send(());
    }
}

/// Where a [`Counting`] store can stop.
#[derive(Default)]
pub struct Pauses {
    pub user_by_username: Pause,
    pub user_permissions: Pause,
}

/// The real SQLite store, counting the queries that reach it; lookups can be paused.
pub struct Counting {
    pub inner: SqliteStore,
    pub queries: Arc<AtomicUsize>,
    pub pauses: Arc<Pauses>,
}

impl Counting {
    pub fn open(db: &Path, schema: Schema) -> (Counting, Arc<AtomicUsize>) {
        let (store, queries, _) = Counting::open_pausable(db, schema);
        (store, queries)
    }

    pub fn open_pausable(db: &Path, schema: Schema) -> (Counting, Arc<AtomicUsize>, Arc<Pauses>) {
        let queries = Arc::new(AtomicUsize::new(0));
        let pauses = Arc::new(Pauses::default());
        let store = Counting {
            inner: SqliteStore::open(db, schema).unwrap(),
            queries: queries.clone(),
            pauses: pauses.clone(),
        };
        (store, queries, pauses)
    }
}

impl Store for Counting {
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.user_by_token(key)
    }
    fn user_by_username(&self, username: &str) -> Result<Option<UserWithPassword>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let answer = self.inner.user_by_username(username);
        self.pauses.user_by_username.stop_here_if_armed();
        answer
    }
    fn user_permissions(&self, pk: &UserPk) -> Result<HashSet<String>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let answer = self.inner.user_permissions(pk);
        self.pauses.user_permissions.stop_here_if_armed();
        answer
    }
    fn summary(&self) -> Result<StoreSummary, StoreError> {
        self.inner.summary()
    }
}
