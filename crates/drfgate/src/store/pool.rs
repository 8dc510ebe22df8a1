//! A small bounded pool of connections to a database server, shared by the threads of one
//! gate.
//!
//! At most `pool_size` connections are open at once, so a process's share of the server's
//! `max_connections` is known. A lookup that finds them all busy waits for one, but never past
//! its deadline (the statement timeout): a stalled server costs each request at most that,
//! never an unbounded queue. A connection that failed in any way is closed, not put back: the
//! next lookup opens a fresh one, which is how the store recovers once the server returns.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::StoreError;

pub(super) struct Pool<C> {
    size: usize,
    state: Mutex<State<C>>,
    freed: Condvar,
}

struct State<C> {
    idle: Vec<C>,
    /// Idle and lent connections, and connections being opened.
    open: usize,
}

/// A connection lent to one lookup. Dropped without [`Lease::keep`], it is closed and its
/// place freed.
pub(super) struct Lease<'a, C> {
    pool: &'a Pool<C>,
    conn: Option<C>,
    /// Opened for this lookup rather than taken from the idle ones.
    new: bool,
}

impl<C> Lease<'_, C> {
    pub(super) fn conn(&mut self) -> &mut C {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }

    /// Whether the connection was opened for this lookup (so not one that may have gone stale
    /// while idle).
    pub(super) fn is_new(&self) -> bool {
        self.new
    }

    /// The lookup went well: the connection goes back to the pool for the next one.
    pub(super) fn keep(mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.state.lock().idle.push(conn);
            self.pool.freed.notify_one();
        }
    }
}

impl<C> Drop for Lease<'_, C> {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.pool.state.lock().open -= 1;
            self.pool.freed.notify_one();
        }
    }
}

/// Frees a place reserved for a connection being opened, unless the open succeeded.
struct Reservation<'a, C> {
    pool: &'a Pool<C>,
    armed: bool,
}

impl<C> Drop for Reservation<'_, C> {
    fn drop(&mut self) {
        if self.armed {
            self.pool.state.lock().open -= 1;
            self.pool.freed.notify_one();
        }
    }
}

impl<C> Pool<C> {
    pub(super) fn new(size: usize) -> Pool<C> {
        Pool {
            size: size.max(1),
            state: Mutex::new(State {
                open: 0,
                idle: Vec::new(),
            }),
            freed: Condvar::new(),
        }
    }

    /// An idle connection, or a new one opened with `connect` (given the time left), waiting
    /// for a free place until `deadline`.
    pub(super) fn get(
        &self,
        deadline: Instant,
        connect: impl FnOnce(Duration) -> Result<C, StoreError>,
    ) -> Result<Lease<'_, C>, StoreError> {
        let mut state = self.state.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Lease {
                    pool: self,
                    conn: Some(conn),
                    new: false,
                });
            }
            if state.open < self.size {
                state.open += 1;
                break;
            }
            if self.freed.wait_until(&mut state, deadline).timed_out() {
                return Err(StoreError::unreachable(format!(
                    "all {} database connections stayed busy for the whole statement timeout",
                    self.size
                )));
            }
        }
        drop(state);
        let mut reservation = Reservation {
            pool: self,
            armed: true,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(StoreError::unreachable(
                "the statement timeout passed before a connection could be opened",
            ));
        }
        let conn = connect(left)?;
        reservation.armed = false;
        Ok(Lease {
            pool: self,
            conn: Some(conn),
            new: true,
        })
    }

    /// Closes every idle connection: one of them turned out to be gone, so the server
    /// probably restarted and took the others too. The next lookups open fresh ones rather
    /// than each failing once more on a dead one.
    pub(super) fn discard_idle(&self) {
        let mut state = self.state.lock();
        let idle = std::mem::take(&mut state.idle);
        state.open -= idle.len();
        drop(state);
        drop(idle);
        self.freed.notify_all();
    }

    /// Connections open now (idle, lent, or being opened): never more than the pool's size.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn open_connections(&self) -> usize {
        self.state.lock().open
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_than_its_size_and_failed_connections_free_their_place() {
        let pool: Pool<u32> = Pool::new(2);
        let opened = AtomicUsize::new(0);
        let connect = |_: Duration| {
            opened.fetch_add(1, Ordering::SeqCst);
            Ok(7)
        };
        let soon = || Instant::now() + Duration::from_millis(50);
        let a = pool.get(soon(), connect).unwrap();
        let b = pool.get(soon(), connect).unwrap();
        assert_eq!(pool.open_connections(), 2);
        let err = pool.get(soon(), connect).err().unwrap();
        assert!(err.to_string().contains("busy"), "{err}");
        a.keep();
        let c = pool.get(soon(), connect).unwrap();
        assert_eq!(
            opened.load(Ordering::SeqCst),
            2,
            "the kept connection is reused"
        );
        drop(c); // failed: closed
        drop(b);
        assert_eq!(pool.open_connections(), 0);
        let failing = pool.get(soon(), |_| Err(StoreError::new("refused")));
        assert!(failing.is_err());
        assert_eq!(pool.open_connections(), 0, "a failed open frees its place");
    }

    #[test]
    fn discarding_the_idle_ones_frees_their_places_and_keeps_the_lent_ones() {
        let pool: Pool<u32> = Pool::new(3);
        let soon = || Instant::now() + Duration::from_millis(50);
        let a = pool.get(soon(), |_| Ok(1)).unwrap();
        let b = pool.get(soon(), |_| Ok(2)).unwrap();
        let lent = pool.get(soon(), |_| Ok(3)).unwrap();
        a.keep();
        b.keep();
        assert_eq!(pool.open_connections(), 3);
        pool.discard_idle();
        assert_eq!(pool.open_connections(), 1, "only the lent one is left");
        let fresh = pool.get(soon(), |_| Ok(4)).unwrap();
        assert!(
            fresh.is_new(),
            "no idle connection is handed out after a discard"
        );
        drop(fresh);
        lent.keep();
        assert_eq!(pool.open_connections(), 1);
    }
}
