//! The network stores against the real servers, through a TCP proxy in the test that can
//! stall or drop every connection: no lookup is answered with a user while the database is
//! unreachable, each gives up through its statement-timeout deadline (not a hang, and not a
//! full timeout per read or per attempt: a slow server that answers each read in time cannot
//! stretch a lookup either), the pool never opens more than its size, and lookups work again
//! once the server is back.
//!
//! Needs the Django-made fixture on each server (`make fixture-engines`); skipped with
//! `DRFGATE_SKIP=postgres` / `mysql`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::super::network::{Host, NetworkDatabase};
use super::super::{Schema, Store};
use super::{Engine, ServerStore};
use drfgate_test_support::conformance::server_database;
use drfgate_test_support::skip;

const PASS: u8 = 0;
/// Connections stay open, nothing is forwarded either way.
const STALL: u8 = 1;
/// Every connection is closed, new ones as soon as they are accepted.
const DROP: u8 = 2;
/// Every chunk is forwarded after `SLOW_CHUNK`: each read answers well within the timeouts,
/// but a handshake of several round trips takes longer than the whole deadline.
const SLOW: u8 = 3;
const SLOW_CHUNK: Duration = Duration::from_millis(90);

/// A proxy on 127.0.0.1 in front of `upstream`, in one of the modes above.
struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
    /// Both ends of every connection made, to cut them all when dropping.
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: (String, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(PASS));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (accept_mode, accept_streams) = (mode.clone(), streams.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if accept_mode.load(Ordering::SeqCst) == DROP {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect((upstream.0.as_str(), upstream.1)) else {
                    continue;
                };
                accept_streams
                    .lock()
                    .unwrap()
                    .push(client.try_clone().unwrap());
                accept_streams
                    .lock()
                    .unwrap()
                    .push(server.try_clone().unwrap());
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let mode = accept_mode.clone();
                    thread::spawn(move || pump(from, to, &mode));
                }
            }
        });
        Proxy {
            port,
            mode,
            streams,
        }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        if mode == DROP {
            for stream in self.streams.lock().unwrap().drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Copies bytes from `from` to `to`; while stalled, reads are held (not forwarded).
fn pump(mut from: TcpStream, mut to: TcpStream, mode: &AtomicU8) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while mode.load(Ordering::SeqCst) == STALL {
            thread::sleep(Duration::from_millis(20));
        }
        if mode.load(Ordering::SeqCst) == SLOW {
            thread::sleep(SLOW_CHUNK);
        }
        if mode.load(Ordering::SeqCst) == DROP || to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}

/// The fixture database's settings, reached through a proxy, with short timeouts.
fn through_proxy(engine: &str) -> Option<(NetworkDatabase, Proxy)> {
    if skip::requested_for(engine) {
        eprintln!("skipped (DRFGATE_SKIP={engine})");
        return None;
    }
    let url = server_database(engine);
    let super::super::DatabaseUrl::Server(mut db) =
        super::super::DatabaseUrl::parse(&url, None).unwrap_or_else(|e| panic!("{url}: {e}"))
    else {
        panic!("{url} is not a server database");
    };
    let Host::Tcp(host) = db.host.clone() else {
        panic!("{url}: the proxy test needs a TCP host");
    };
    let proxy = Proxy::start((host, db.port));
    db.host = Host::Tcp("127.0.0.1".into());
    db.port = proxy.port;
    db.pool.pool_size = 2;
    db.pool.connect_timeout = Duration::from_millis(300);
    db.pool.statement_timeout = Duration::from_millis(400);
    Some((db, proxy))
}

/// The errors a lookup may end with while the proxy stalls or drops: each names the
/// deadline or the lost connection that ended it.
fn is_outage_error(message: &str) -> bool {
    [
        "statement timeout",
        "timed out",
        "cannot connect",
        "closed",
        "out of time",
        "connection",
        "Connection",
        "broken pipe",
        "Broken pipe",
        "reset",
        "os error",
        "IoError",
        "Driver",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// The user of token `abcd1234` from the first of several attempts that answers. With the
/// short timeouts of these tests, a loaded machine (CI builds and tests in parallel on two
/// cores) can miss the deadline of a first connect, prepare and query through an unfaulted
/// proxy; what these tests claim is about the faulted modes and about recovering by itself,
/// not about one unfaulted lookup beating 400 ms.
fn answered_within_attempts<S: Store + ?Sized>(store: &S) -> Option<String> {
    for _ in 0..20 {
        match store.user_by_token("abcd1234") {
            Ok(found) => return found.map(|u| u.username.to_string()),
            Err(e) => {
                let message = e.to_string();
                assert!(is_outage_error(&message), "unexpected error {message}");
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
    None
}

fn outage_and_recovery<E: Engine>(engine: &str, open: fn(&NetworkDatabase) -> ServerStore<E>) {
    let Some((db, proxy)) = through_proxy(engine) else {
        return;
    };
    let store = Arc::new(open(&db));
    assert_eq!(
        answered_within_attempts(&*store),
        Some("john".into()),
        "no lookup through the passing proxy succeeded"
    );

    // Not a timing of drfgate's speed: a correctness bound on the deadline, twice the
    // statement timeout so that a loaded machine cannot fail it, which only a lookup given a
    // fresh timeout per read, per handshake step or per retry exceeds.
    let bound = 2 * db.pool.statement_timeout;
    for mode in [SLOW, STALL, DROP] {
        proxy.set(mode);
        // More lookups at once than the pool has connections: the extra ones wait for a
        // connection, within the same deadline.
        let (sender, answers) = mpsc::channel();
        for _ in 0..6 {
            let (store, sender) = (store.clone(), sender.clone());
            thread::spawn(move || {
                let started = Instant::now();
                let answer = store.user_by_token("abcd1234");
                let answer = answer.map(|u| u.map(|u| u.username.to_string()));
                sender.send((answer, started.elapsed())).unwrap();
            });
        }
        let mut refused = 0;
        for _ in 0..6 {
            // Far beyond the deadline: only a hang would reach it.
            let answer = answers.recv_timeout(Duration::from_secs(30));
            if let Ok((_, elapsed)) = &answer {
                assert!(
                    *elapsed < bound,
                    "mode {mode}: a lookup took {elapsed:?}, past twice its statement timeout"
                );
            }
            match answer {
                // A slow server may still answer in time, and then rightly.
                Ok((Ok(Some(user)), _)) if mode == SLOW && user == "john" => {}
                Ok((Err(e), _)) => {
                    let message = e.to_string();
                    assert!(
                        is_outage_error(&message),
                        "mode {mode}: unexpected error {message}"
                    );
                    refused += 1;
                }
                Ok((Ok(found), _)) => panic!(
                    "mode {mode}: a lookup answered ({found:?}) while the database was unreachable"
                ),
                Err(_) => panic!("mode {mode}: a lookup hung past every timeout"),
            }
        }
        if mode != SLOW {
            assert_eq!(refused, 6);
        }
        assert!(
            store.open_connections() <= 2,
            "mode {mode}: {} connections open, above the pool size",
            store.open_connections()
        );
    }

    // The server is back: the next lookups reconnect by themselves.
    proxy.set(PASS);
    assert_eq!(
        answered_within_attempts(&*store),
        Some("john".into()),
        "no recovery after the proxy passed traffic again"
    );
    assert!(store.open_connections() <= 2);
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_fails_closed_through_a_stalling_or_dropping_proxy_and_recovers() {
    outage_and_recovery("postgres", |db| {
        super::super::postgres::PostgresStore::connect(db, &Schema::default())
            .unwrap_or_else(|e| panic!("{e} (run `make fixture-engines`)"))
    });
}

#[cfg(feature = "mysql")]
#[test]
fn mariadb_fails_closed_through_a_stalling_or_dropping_proxy_and_recovers() {
    outage_and_recovery("mysql", |db| {
        super::super::mysql::MysqlStore::connect(db, &Schema::default())
            .unwrap_or_else(|e| panic!("{e} (run `make fixture-engines`)"))
    });
}
