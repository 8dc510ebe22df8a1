//! Single flight: concurrent misses on one key share one load. One caller (the leader)
//! loads; the others wait for its result. Loader errors reach every waiter but are never
//! cached; a panicking loader abandons the flight and its waiters start over; a load that
//! started before an invalidation is shared only with callers that arrived before it.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::key::{CacheKey, KeyHashBuilder};
use super::{Cached, CredentialCache};

/// The outcome of one load, as seen by the callers waiting for it.
enum FlightState<V> {
    Running,
    Loaded(Cached<V>),
    /// The loader's error, type-erased because each `get_or_load` call picks its own error type.
    Failed(Box<dyn Any + Send>),
    /// The loader panicked; waiters start over.
    Abandoned,
}

struct Flight<V> {
    state: Mutex<FlightState<V>>,
    finished: Condvar,
    /// The cache's generation when the load started: its result is stored only if no
    /// invalidation has happened since, and only callers arriving before one may share it.
    generation: u64,
}

impl<V> Flight<V> {
    fn finish(&self, outcome: FlightState<V>) {
        *self.state.lock() = outcome;
        self.finished.notify_all();
    }
}

/// Loads in progress and the counters that are not per-space, striped by key like the shards.
#[repr(align(128))]
pub(super) struct Stripe<V> {
    flights: Mutex<HashMap<CacheKey, Arc<Flight<V>>, KeyHashBuilder>>,
    pub(super) misses: AtomicU64,
    pub(super) loads: AtomicU64,
    pub(super) load_errors: AtomicU64,
    pub(super) coalesced: AtomicU64,
    pub(super) invalidations: AtomicU64,
    pub(super) stale_answers: AtomicU64,
}

impl<V> Stripe<V> {
    pub(super) fn new() -> Stripe<V> {
        Stripe {
            flights: Mutex::new(HashMap::with_hasher(KeyHashBuilder)),
            misses: AtomicU64::new(0),
            loads: AtomicU64::new(0),
            load_errors: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            stale_answers: AtomicU64::new(0),
        }
    }
}

/// Removes and abandons the flight if the loader unwinds, so waiters don't wait forever.
struct LeaderGuard<'a, V> {
    stripe: &'a Stripe<V>,
    key: CacheKey,
    flight: Arc<Flight<V>>,
    done: bool,
}

impl<V> LeaderGuard<'_, V> {
    fn complete(mut self, outcome: FlightState<V>) {
        self.leave();
        self.flight.finish(outcome);
        self.done = true;
    }

    /// Removes this flight from the map, unless a newer load of the key (started after an
    /// invalidation) has already taken its place.
    fn leave(&self) {
        let mut flights = self.stripe.flights.lock();
        if flights
            .get(&self.key)
            .is_some_and(|current| Arc::ptr_eq(current, &self.flight))
        {
            flights.remove(&self.key);
        }
    }
}

impl<V> Drop for LeaderGuard<'_, V> {
    fn drop(&mut self) {
        if !self.done {
            self.leave();
            self.flight.finish(FlightState::Abandoned);
        }
    }
}

enum Role<V> {
    Leader(Arc<Flight<V>>),
    Waiter(Arc<Flight<V>>),
    AlreadyCached(Cached<V>),
}

impl<V: Clone + Send + Sync> CredentialCache<V> {
    /// Answers from the cache, or calls `load` and caches what it returns. Concurrent callers
    /// missing the same key share one call of `load`; its error, if any, is returned to all of
    /// them and not cached. When the load fails and the key was found before, within
    /// `stale_if_error` of the end of its lifetime, that earlier value is the answer.
    pub fn get_or_load<E>(
        &self,
        key: CacheKey,
        load: impl FnOnce() -> Result<Cached<V>, E>,
    ) -> Result<Cached<V>, E>
    where
        E: Clone + Send + 'static,
    {
        let outcome = self.get_or_load_fresh(key, load);
        if outcome.is_err() {
            if let Some(stale) = self.positive.stale(key, self.clock.now()) {
                self.stripe(key)
                    .stale_answers
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(Cached::Found(stale));
            }
        }
        outcome
    }

    fn get_or_load_fresh<E>(
        &self,
        key: CacheKey,
        load: impl FnOnce() -> Result<Cached<V>, E>,
    ) -> Result<Cached<V>, E>
    where
        E: Clone + Send + 'static,
    {
        if let Some(found) = self.get(&key) {
            return Ok(found);
        }
        let stripe = self.stripe(key);
        let flight = loop {
            match self.join_or_lead(stripe, key) {
                Role::AlreadyCached(found) => return Ok(found),
                Role::Leader(flight) => break flight,
                Role::Waiter(flight) => {
                    if let Some(outcome) = Self::wait_for(stripe, &flight) {
                        return outcome;
                    }
                }
            }
        };
        self.lead(stripe, key, flight, load)
    }

    /// The shared outcome of another caller's load, or `None` if this caller must load itself
    /// (the leader panicked, or its error type differs from ours).
    fn wait_for<E>(stripe: &Stripe<V>, flight: &Flight<V>) -> Option<Result<Cached<V>, E>>
    where
        E: Clone + Send + 'static,
    {
        let mut state = flight.state.lock();
        while matches!(*state, FlightState::Running) {
            flight.finished.wait(&mut state);
        }
        let outcome = match &*state {
            FlightState::Loaded(found) => Ok(found.clone()),
            FlightState::Failed(error) => Err(error.downcast_ref::<E>()?.clone()),
            FlightState::Running | FlightState::Abandoned => return None,
        };
        stripe.coalesced.fetch_add(1, Ordering::Relaxed);
        Some(outcome)
    }

    fn join_or_lead(&self, stripe: &Stripe<V>, key: CacheKey) -> Role<V> {
        let mut flights = stripe.flights.lock();
        // Read before the store is: a load that starts now cannot miss a later invalidation.
        let generation = self.generation.load(Ordering::Acquire);
        match flights.get(&key) {
            // A load that started before an invalidation may return what the invalidation
            // was about; only callers that were already waiting may share it.
            Some(flight) if flight.generation == generation => {
                return Role::Waiter(Arc::clone(flight));
            }
            Some(_) => {}
            None => {
                // A leader stores its result before it removes its flight, so a load that
                // finished between our miss and taking this lock is visible now.
                if let Some(found) = self.peek_live(key) {
                    return Role::AlreadyCached(found);
                }
            }
        }
        let flight = Arc::new(Flight {
            state: Mutex::new(FlightState::Running),
            finished: Condvar::new(),
            generation,
        });
        flights.insert(key, Arc::clone(&flight));
        Role::Leader(flight)
    }

    fn lead<E>(
        &self,
        stripe: &Stripe<V>,
        key: CacheKey,
        flight: Arc<Flight<V>>,
        load: impl FnOnce() -> Result<Cached<V>, E>,
    ) -> Result<Cached<V>, E>
    where
        E: Clone + Send + 'static,
    {
        let generation = flight.generation;
        let guard = LeaderGuard {
            stripe,
            key,
            flight,
            done: false,
        };
        stripe.loads.fetch_add(1, Ordering::Relaxed);
        let outcome = load();
        match &outcome {
            Ok(found) => {
                self.store(key, found.clone(), generation);
                guard.complete(FlightState::Loaded(found.clone()));
            }
            Err(error) => {
                stripe.load_errors.fetch_add(1, Ordering::Relaxed);
                guard.complete(FlightState::Failed(Box::new(error.clone())));
            }
        }
        outcome
    }
}
