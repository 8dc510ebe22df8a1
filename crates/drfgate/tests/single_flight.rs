//! 64 requests arriving together with one token the gate has not seen make exactly one store
//! query: the cache's single flight makes 63 of them wait for the first one's lookup, over the
//! real SQLite store of the Django fixture.
//!
//! The lookup is held until all 64 have missed the cache (the gate's own miss counter says
//! so), so the others reach the single flight while it runs rather than finding its result
//! cached.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::Duration;

use drfgate::store::{SqliteStore, Store, StoreError, StoreSummary, UserWithPassword};
use drfgate::{Config, Decision, Gate, Request, User, UserPk};
use drfgate_test_support::fixture_db;

const REQUESTS: usize = 64;

/// How long the held lookup waits for the others at most: a bound against a hang, not a
/// timing the test depends on.
const PATIENCE: Duration = Duration::from_secs(30);

/// The SQLite store, counting token lookups and holding each until released.
struct HeldTokens {
    inner: SqliteStore,
    queries: Arc<AtomicUsize>,
    released: Arc<(Mutex<bool>, Condvar)>,
}

impl Store for HeldTokens {
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let (released, signal) = &*self.released;
        let guard = released.lock().unwrap();
        drop(signal.wait_timeout_while(guard, PATIENCE, |released| !*released));
        self.inner.user_by_token(key)
    }
    fn user_by_username(&self, username: &str) -> Result<Option<UserWithPassword>, StoreError> {
        self.inner.user_by_username(username)
    }
    fn user_permissions(&self, pk: &UserPk) -> Result<HashSet<String>, StoreError> {
        self.inner.user_permissions(pk)
    }
    fn summary(&self) -> Result<StoreSummary, StoreError> {
        self.inner.summary()
    }
}

#[test]
fn concurrent_first_requests_with_one_token_make_one_query() {
    let Some(db) = fixture_db() else { return };
    let text = format!(
        "[django]\nDATABASE = \"sqlite://{}\"\n[rest_framework]\n\
         DEFAULT_AUTHENTICATION_CLASSES = [\"TokenAuthentication\"]\n\
         DEFAULT_PERMISSION_CLASSES = [\"IsAuthenticated\"]\n",
        db.display()
    );
    let config = Config::from_str_with_origin(&text, "test.toml", None).unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let released = Arc::new((Mutex::new(false), Condvar::new()));
    let store = HeldTokens {
        inner: SqliteStore::open(&db, config.django.schema.clone()).unwrap(),
        queries: queries.clone(),
        released: released.clone(),
    };
    let gate = Gate::with_store(config, Box::new(store)).unwrap();
    let start = Barrier::new(REQUESTS);

    let decisions: Vec<Decision> = std::thread::scope(|s| {
        let requests: Vec<_> = (0..REQUESTS)
            .map(|_| {
                s.spawn(|| {
                    let headers = [(&b"Authorization"[..], &b"Token abcd1234"[..])];
                    let request = Request::new(b"GET", b"/api/orders/42/").with_headers(&headers);
                    start.wait();
                    gate.decide(&request)
                })
            })
            .collect();
        // Release the held lookup once every request has missed the cache.
        let waited = std::time::Instant::now();
        while gate.stats().tokens.misses < REQUESTS as u64 && waited.elapsed() < PATIENCE {
            std::thread::sleep(Duration::from_millis(5));
        }
        *released.0.lock().unwrap() = true;
        released.1.notify_all();
        requests.into_iter().map(|r| r.join().unwrap()).collect()
    });

    for decision in &decisions {
        match decision {
            Decision::Allow(Some(identity)) => assert_eq!(&*identity.user.username, "john"),
            other => panic!("expected john's allow, got {other:?}"),
        }
    }
    // Exact whatever the scheduling: a request that missed but reached the single flight only
    // after the lookup finished finds its result cached instead of waiting for it, so how many
    // were coalesced is not asserted.
    assert_eq!(queries.load(Ordering::SeqCst), 1, "store queries");
    assert_eq!(gate.stats().tokens.loads, 1);
}
