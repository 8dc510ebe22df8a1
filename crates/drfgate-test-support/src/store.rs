//! The real SQLite store, counting the queries that reach it, with lookups a test can pause
//! half-way; and the guide's one user in memory, for the tower Layer's measurements.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use drfgate::store::{Schema, SqliteStore, Store, StoreError, StoreSummary, UserWithPassword};
use drfgate::{Config, Gate, User, UserPk};

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
    fn session_data(&self, session_key: &str, now: &str) -> Result<Option<String>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.session_data(session_key, now)
    }
    fn user_by_pk(&self, pk: &UserPk) -> Result<Option<UserWithPassword>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.user_by_pk(pk)
    }
    fn user_by_field(
        &self,
        field: &str,
        value: &serde_json::Value,
    ) -> Result<drfgate::store::FieldLookup, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.user_by_field(field, value)
    }
    fn jti_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.jti_blacklisted(jti)
    }
    fn has_jwt_blacklist(&self) -> bool {
        self.inner.has_jwt_blacklist()
    }
    fn knox_tokens(&self, token_key: &str) -> Result<Vec<drfgate::store::KnoxRow>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.knox_tokens(token_key)
    }
    fn has_knox_table(&self) -> bool {
        self.inner.has_knox_table()
    }
}

/// What a [`Faulty`] store does with the next lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Asks the store underneath.
    None,
    /// Fails every lookup, as a database that is down.
    Fail,
    /// Panics in every lookup, as a bug would.
    Panic,
}

/// The switch a test flips while a [`Faulty`] store serves.
#[derive(Default)]
pub struct FaultSwitch {
    fault: Mutex<Option<Fault>>,
    /// Lookups that reached the store, healthy or not.
    pub lookups: AtomicUsize,
}

impl FaultSwitch {
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner()) = Some(fault);
    }

    fn fault(&self) -> Fault {
        self.fault
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(Fault::None)
    }

    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

/// Any store, failing or panicking on demand: the store-agnostic side of outages, whatever
/// the backend underneath. Errors name `label`, so a test can find its own log lines.
pub struct Faulty {
    pub inner: Box<dyn Store>,
    pub switch: Arc<FaultSwitch>,
    pub label: String,
}

impl Faulty {
    pub fn new(inner: Box<dyn Store>, label: &str) -> (Faulty, Arc<FaultSwitch>) {
        let switch = Arc::new(FaultSwitch::default());
        let store = Faulty {
            inner,
            switch: switch.clone(),
            label: label.into(),
        };
        (store, switch)
    }

    fn check(&self) -> Result<(), StoreError> {
        self.switch.lookups.fetch_add(1, Ordering::SeqCst);
        match self.switch.fault() {
            Fault::None => Ok(()),
            Fault::Fail => Err(StoreError::new(format!(
                "{}: connection refused (injected)",
                self.label
            ))),
            Fault::Panic => panic!("{}: injected panic inside a lookup", self.label),
        }
    }
}

impl Store for Faulty {
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
        self.check()?;
        self.inner.user_by_token(key)
    }
    fn user_by_username(&self, username: &str) -> Result<Option<UserWithPassword>, StoreError> {
        self.check()?;
        self.inner.user_by_username(username)
    }
    fn user_permissions(&self, pk: &UserPk) -> Result<HashSet<String>, StoreError> {
        self.check()?;
        self.inner.user_permissions(pk)
    }
    fn summary(&self) -> Result<StoreSummary, StoreError> {
        let mut summary = self.inner.summary()?;
        summary.location = self.label.clone();
        Ok(summary)
    }
    fn session_data(&self, session_key: &str, now: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        self.inner.session_data(session_key, now)
    }
    fn user_by_pk(&self, pk: &UserPk) -> Result<Option<UserWithPassword>, StoreError> {
        self.check()?;
        self.inner.user_by_pk(pk)
    }
    fn user_by_field(
        &self,
        field: &str,
        value: &serde_json::Value,
    ) -> Result<drfgate::store::FieldLookup, StoreError> {
        self.check()?;
        self.inner.user_by_field(field, value)
    }
    fn jti_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.jti_blacklisted(jti)
    }
    fn has_jwt_blacklist(&self) -> bool {
        self.inner.has_jwt_blacklist()
    }
    fn knox_tokens(&self, token_key: &str) -> Result<Vec<drfgate::store::KnoxRow>, StoreError> {
        self.check()?;
        self.inner.knox_tokens(token_key)
    }
    fn has_knox_table(&self) -> bool {
        self.inner.has_knox_table()
    }
}

/// The token of [`OneToken`]'s user.
pub const ONE_TOKEN: &str = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b";

/// The guide's user `alice` (pk 1), in memory, with the token [`ONE_TOKEN`]: after the first
/// request every lookup is a cache hit anyway.
pub struct OneToken;

impl Store for OneToken {
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
        Ok((key == ONE_TOKEN).then(|| User {
            pk: UserPk::Int(1),
            username: "alice".into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
        }))
    }
    fn user_by_username(&self, _: &str) -> Result<Option<UserWithPassword>, StoreError> {
        Ok(None)
    }
    fn user_permissions(&self, _: &UserPk) -> Result<HashSet<String>, StoreError> {
        Ok(HashSet::new())
    }
    fn summary(&self) -> Result<StoreSummary, StoreError> {
        Ok(StoreSummary {
            backend: "memory",
            location: "OneToken".into(),
            users: 1,
            tokens: Some(1),
        })
    }
}

/// The gate the tower Layer is measured with (`benches/layer.rs`, `examples/layer_loop.rs`):
/// `api/orders/` behind Token then Session authentication and `IsAuthenticated`, users from
/// [`OneToken`].
pub fn one_token_orders_gate() -> Arc<Gate> {
    let config = Config::from_str_with_origin(
        r#"
[django]
DATABASE = "sqlite:///unused.sqlite3"
[[routes]]
path = "api/orders/"
methods = ["GET", "POST"]
authentication_classes = ["TokenAuthentication", "SessionAuthentication"]
permission_classes = ["IsAuthenticated"]
"#,
        "one_token_orders.toml",
        None,
    )
    .expect("config");
    Arc::new(Gate::with_store(config, Box::new(OneToken)).expect("gate"))
}
