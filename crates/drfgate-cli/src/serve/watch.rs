//! Timeouts for one connection, kept by its socket: a client has `header_read_timeout` to
//! send a request head (from the connection's start, or from the first byte of a later
//! request), and a connection waits `keep_alive_timeout` at most between requests. No
//! timeout runs while a request is being decided or answered.
//!
//! hyper's own `header_read_timeout` starts as soon as hyper waits for a head, idle time
//! included, so it cannot tell a slow head from an idle keep-alive connection; the socket
//! can, by watching for the first byte.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub header_read: Duration,
    pub keep_alive: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A request head is expected, since the connection opened or a byte of it arrived.
    /// `None`: a byte arrived and the time is not read yet; it is read when a timeout has to
    /// run (a read finds the head incomplete), so a head that arrives whole reads no clock.
    Head { since: Option<Instant> },
    /// Between requests, no byte of the next one yet.
    Idle { since: Instant },
    /// Requests being decided or answered.
    Busy { requests: usize },
}

/// What a connection is doing, shared by its socket and its service.
pub struct Activity {
    state: Mutex<State>,
}

struct State {
    phase: Phase,
    /// The connection's task, when a read found nothing while requests were in progress:
    /// hyper reads again only when woken, and the end of the last request must start the
    /// keep-alive timeout.
    reader: Option<Waker>,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            state: Mutex::new(State {
                phase: Phase::Head {
                    since: Some(Instant::now()),
                },
                reader: None,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one still holds a valid state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request's head has been read: no timeout until it has been answered.
    pub fn request(self: &Arc<Self>) -> Request {
        let phase = &mut self.state().phase;
        *phase = match *phase {
            Phase::Busy { requests } => Phase::Busy {
                requests: requests + 1,
            },
            _ => Phase::Busy { requests: 1 },
        };
        Request(self.clone())
    }

    fn bytes_read(&self) {
        let phase = &mut self.state().phase;
        if let Phase::Idle { .. } = *phase {
            *phase = Phase::Head { since: None };
        }
    }

    /// When the connection is to be closed if nothing more is read, and why; `None` while
    /// requests are in progress, after noting whom to wake when they end.
    fn deadline(&self, timeouts: &Timeouts, reader: Option<&Waker>) -> Option<(Instant, Expiry)> {
        let mut state = self.state();
        match state.phase {
            Phase::Head { since } => {
                let since = since.unwrap_or_else(|| {
                    let now = Instant::now();
                    state.phase = Phase::Head { since: Some(now) };
                    now
                });
                Some((since + timeouts.header_read, Expiry::Head))
            }
            Phase::Idle { since } => Some((since + timeouts.keep_alive, Expiry::Idle)),
            Phase::Busy { .. } => {
                if let Some(reader) = reader {
                    if !state.reader.as_ref().is_some_and(|w| w.will_wake(reader)) {
                        state.reader = Some(reader.clone());
                    }
                }
                None
            }
        }
    }
}

/// A request in progress; dropped when its response is ready (or the request abandoned).
pub struct Request(Arc<Activity>);

impl Drop for Request {
    fn drop(&mut self) {
        let mut state = self.0.state();
        if let Phase::Busy { requests } = state.phase {
            if requests > 1 {
                state.phase = Phase::Busy {
                    requests: requests - 1,
                };
            } else {
                state.phase = Phase::Idle {
                    since: Instant::now(),
                };
                let reader = state.reader.take();
                drop(state);
                if let Some(reader) = reader {
                    reader.wake();
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    Head,
    Idle,
}

/// A socket that ends its connection when a timeout of [`Timeouts`] expires: an error for a
/// head too slow to arrive, an end of stream (a quiet close) for an idle connection.
pub struct Watched<S> {
    io: S,
    activity: Arc<Activity>,
    timeouts: Timeouts,
    timer: Pin<Box<Sleep>>,
}

impl<S> Watched<S> {
    pub fn new(io: S, activity: Arc<Activity>, timeouts: Timeouts) -> Watched<S> {
        let first = activity
            .deadline(&timeouts, None)
            .map_or_else(Instant::now, |(at, _)| at);
        Watched {
            io,
            activity,
            timeouts,
            timer: Box::pin(tokio::time::sleep_until(first)),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.activity.bytes_read();
                }
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => {}
        }
        // Nothing to read yet: is a timeout running, and has it expired?
        let Some((deadline, expiry)) = this.activity.deadline(&this.timeouts, Some(cx.waker()))
        else {
            return Poll::Pending;
        };
        // Each request moves the deadline later: the timer is only ever moved earlier, and
        // when it fires before the deadline it is set again, so the usual request does not
        // touch tokio's timer wheel.
        if deadline < this.timer.deadline() {
            this.timer.as_mut().reset(deadline);
        }
        loop {
            if this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if this.timer.deadline() >= deadline {
                break;
            }
            this.timer.as_mut().reset(deadline);
        }
        match expiry {
            Expiry::Idle => {
                log::debug!(
                    "closing a connection idle for {:?}",
                    this.timeouts.keep_alive
                );
                Poll::Ready(Ok(()))
            }
            Expiry::Head => {
                log::info!(
                    "closing a connection: no complete request head within {:?} \
                     (header_read_timeout_seconds)",
                    this.timeouts.header_read
                );
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no complete request head within header_read_timeout_seconds",
                )))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TIMEOUTS: Timeouts = Timeouts {
        header_read: Duration::from_secs(10),
        keep_alive: Duration::from_secs(60),
    };

    #[tokio::test(start_paused = true)]
    async fn a_slow_head_is_cut_after_the_header_timeout() {
        let (client, server) = tokio::io::duplex(64);
        let mut client = client;
        let mut watched = Watched::new(server, Activity::new(), TIMEOUTS);
        let started = Instant::now();
        let mut buf = [0u8; 8];
        // A byte every 5 s keeps the socket busy but never completes a head.
        let trickle = tokio::spawn(async move {
            loop {
                if client.write_all(b"G").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        let error = loop {
            match watched.read(&mut buf).await {
                Ok(n) => assert!(n > 0),
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), TIMEOUTS.header_read);
        trickle.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_ends_after_the_keep_alive_timeout_and_a_busy_one_never() {
        let (mut client, server) = tokio::io::duplex(64);
        let activity = Activity::new();
        let mut watched = Watched::new(server, activity.clone(), TIMEOUTS);
        let mut buf = [0u8; 8];
        client.write_all(b"GET").await.unwrap();
        assert_eq!(watched.read(&mut buf).await.unwrap(), 3);
        // Deciding takes longer than both timeouts: nothing expires.
        let request = activity.request();
        let read = tokio::time::timeout(Duration::from_secs(600), watched.read(&mut buf)).await;
        assert!(read.is_err(), "{read:?}");
        // Answered: the idle timeout runs from here, and ends the stream quietly.
        drop(request);
        let idle = Instant::now();
        assert_eq!(watched.read(&mut buf).await.unwrap(), 0);
        assert_eq!(idle.elapsed(), TIMEOUTS.keep_alive);
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_waiting_through_a_request_is_woken_when_it_ends() {
        // hyper reads again only when woken: a read left pending while a request was in
        // progress must start the keep-alive timeout once the request ends.
        let (_client, server) = tokio::io::duplex(64);
        let activity = Activity::new();
        let request = activity.request();
        let mut watched = Watched::new(server, activity.clone(), TIMEOUTS);
        let reading = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            watched.read(&mut buf).await.unwrap()
        });
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_secs(1000)).await;
        assert!(!reading.is_finished());
        drop(request);
        let idle = Instant::now();
        let read = tokio::time::timeout(Duration::from_secs(3600), reading).await;
        assert_eq!(read.expect("never woken").unwrap(), 0);
        assert_eq!(idle.elapsed(), TIMEOUTS.keep_alive);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_byte_of_the_next_request_starts_the_header_timeout() {
        let (mut client, server) = tokio::io::duplex(64);
        let activity = Activity::new();
        let mut watched = Watched::new(server, activity.clone(), TIMEOUTS);
        drop(activity.request());
        tokio::time::sleep(Duration::from_secs(50)).await;
        client.write_all(b"G").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(watched.read(&mut buf).await.unwrap(), 1);
        let head = Instant::now();
        let error = watched.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(head.elapsed(), TIMEOUTS.header_read);
    }
}
