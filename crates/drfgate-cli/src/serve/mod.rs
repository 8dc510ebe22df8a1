//! `drfgate serve`: a forward-auth server for reverse proxies (nginx `auth_request`, Caddy
//! `forward_auth`, Traefik `ForwardAuth`), on hyper, deciding as the tower Layer decides
//! ([`DrfGateLayer::answer`]: the same decision, answered without an inner service).
//!
//! Allowed: 200 with the identity in `X-Drfgate-*` headers. Denied: DRF's exact response.
//!
//! Bounded by `[serve]`: a header-read and a keep-alive timeout per connection
//! ([`watch`]), a cap on open connections (more wait in the listen backlog), and a cap on
//! the decisions waiting for the database or a hasher (more are answered 503).
//!
//! SIGHUP reloads the config file ([`reload`]): a config that loads replaces the policy for
//! the requests that start after it; one that does not is logged with why, and the policy
//! loaded before keeps answering.

mod answer;
mod forwarded;
mod reload;
mod settings;
mod watch;

use std::convert::Infallible;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener as StdTcpListener, ToSocketAddrs};
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use drfgate::{Config, Gate};
use drfgate_tower::{Answer, ConnectionInfo, DrfGateLayer};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use settings::{ForwardedHeaders, ServeSettings};

/// How long open connections may take to finish after SIGTERM or SIGINT.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection shares.
struct Shared {
    /// The policy now in force; SIGHUP replaces it.
    policy: reload::Current,
    timeouts: watch::Timeouts,
    max_connections: usize,
}

/// What a config file decides: the gate and which forwarded headers to trust. A request
/// keeps the one it started with, even if a reload replaces it meanwhile.
struct Policy {
    layer: DrfGateLayer,
    trusted: Vec<ForwardedHeaders>,
    /// `[serve] remote_addr_header`: where `REMOTE_ADDR` comes from (else the peer).
    remote_addr_header: Option<String>,
}

impl Policy {
    /// Loads a config file: its gate (and database) and its `[serve]` settings.
    fn load(config_path: &Path) -> Result<(Policy, ServeSettings, Arc<Gate>), String> {
        let config = Config::from_file(config_path).map_err(|e| e.to_string())?;
        let settings = ServeSettings::from_config(&config).map_err(|e| e.to_string())?;
        let gate = Arc::new(Gate::from_config(config).map_err(|e| e.to_string())?);
        let policy = Policy {
            layer: DrfGateLayer::new(gate.clone())
                .max_blocking_decisions(settings.max_blocking_decisions),
            trusted: settings.trusted_forwarded.clone(),
            remote_addr_header: settings.remote_addr_header.clone(),
        };
        Ok((policy, settings, gate))
    }
}

impl Shared {
    fn new(policy: Policy, settings: &ServeSettings) -> Arc<Shared> {
        Arc::new(Shared {
            policy: reload::Current::new(policy, settings.clone()),
            timeouts: watch::Timeouts {
                header_read: settings.header_read_timeout,
                keep_alive: settings.keep_alive_timeout,
            },
            max_connections: settings.max_connections,
        })
    }
}

/// `serve`'s answers over a stream the caller brings, without a listener or signals:
/// examples/serve_loop.rs counts the instructions of its requests over an in-memory one.
/// (The `drfgate` binary itself never builds one.)
#[allow(dead_code)]
pub(crate) struct InProcess(Arc<Shared>);

#[allow(dead_code)]
impl InProcess {
    pub(crate) fn load(config_path: &Path) -> Result<InProcess, String> {
        let (policy, settings, _gate) = Policy::load(config_path)?;
        Ok(InProcess(Shared::new(policy, &settings)))
    }

    /// One connection from `peer`, answered as `serve` answers a connection it accepted.
    pub(crate) fn connection<IO>(
        &self,
        io: IO,
        peer: IpAddr,
    ) -> impl std::future::Future<Output = Result<(), hyper::Error>> + Send
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        http_connection(io, peer, self.0.clone())
    }
}

/// Loads the config and the database, binds, serves until SIGTERM or SIGINT. Any problem
/// before the first request is an `Err` with a message for the operator.
pub fn run(config_path: &Path, listen: &str) -> Result<(), String> {
    let (policy, settings, gate) =
        Policy::load(config_path).map_err(|e| format!("cannot start: {e}"))?;
    // A database server that does not answer yet is an outage, not a reason to stay down:
    // the gate refuses what needs it (503) and recovers by itself (docs/configuration.md).
    let summary = gate.loaded_summary().cloned();
    let listener = bind(listen)?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot start: {e}"))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let database = match &summary {
        Some(summary) => format!(
            "{} database {} ({} users)",
            summary.backend, summary.location, summary.users
        ),
        None => format!(
            "database {} (not answering yet: requests that need it are refused with 503 until \
             it does)",
            gate.database_location()
        ),
    };
    drop(gate);
    let shared = Shared::new(policy, &settings);
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)
            .map_err(|e| format!("cannot start: listening on {address}: {e}"))?;
        let shutdown = shutdown_signal()?;
        reload::on_sighup(config_path.to_path_buf(), shared.clone())?;
        announce(address, config_path, &database, &settings);
        serve(listener, shared, shutdown).await;
        Ok(())
    })
}

fn bind(listen: &str) -> Result<StdTcpListener, String> {
    let addresses: Vec<SocketAddr> = listen
        .to_socket_addrs()
        .map_err(|e| {
            format!(
                "cannot start: --listen {listen:?}: {e} (expected HOST:PORT, e.g. 127.0.0.1:9180)"
            )
        })?
        .collect();
    let listener = StdTcpListener::bind(&addresses[..])
        .map_err(|e| format!("cannot start: cannot listen on {listen}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot start: {e}"))?;
    Ok(listener)
}

fn announce(address: SocketAddr, config: &Path, database: &str, settings: &ServeSettings) {
    let trusted = &settings.trusted_forwarded;
    let trusted = if trusted.is_empty() {
        "none (the request itself is decided)".to_string()
    } else {
        trusted
            .iter()
            .map(|f| f.config_name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // One line on stdout, so scripts can wait for it; details on stderr.
    println!("drfgate serve: listening on http://{address}");
    let _ = std::io::stdout().flush();
    eprintln!(
        "drfgate serve: config {}; {database}; trusted forwarded headers: {trusted}; \
         health: http://{address}{}; limits: header read {}s, keep-alive {}s, {} connections, \
         {} blocking decisions",
        config.display(),
        answer::HEALTH_PATH,
        settings.header_read_timeout.as_secs(),
        settings.keep_alive_timeout.as_secs(),
        settings.max_connections,
        settings.max_blocking_decisions,
    );
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
fn shutdown_signal() -> Result<impl std::future::Future<Output = &'static str>, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch SIGINT: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        }
    })
}

async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = &'static str>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    let connections = Arc::new(Semaphore::new(shared.max_connections));
    // At the cap, a warning now and then (every closing connection reaches it again).
    let mut warned: Option<tokio::time::Instant> = None;
    let signal = loop {
        // A place for one more connection first: beyond the cap, new connections wait in
        // the listen backlog (not refused) until an open one closes.
        let place = match connections.clone().try_acquire_owned() {
            Ok(place) => place,
            Err(_) => {
                if !matches!(warned, Some(at) if at.elapsed() < Duration::from_secs(10)) {
                    warned = Some(tokio::time::Instant::now());
                    log::warn!(
                        "{} connections open (max_connections): new ones wait until one closes",
                        shared.max_connections
                    );
                }
                tokio::select! {
                    place = connections.clone().acquire_owned() => match place {
                        Ok(place) => place,
                        Err(_) => unreachable!("the semaphore is never closed"),
                    },
                    signal = &mut shutdown => break signal,
                }
            }
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connection = http_connection(stream, peer.ip(), shared.clone());
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            log::debug!("connection ended with an error: {error}");
                        }
                        drop(place);
                    });
                }
                Err(error) => {
                    // Typically out of file descriptors: wait rather than spin.
                    log::warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            signal = &mut shutdown => break signal,
        }
    };
    drop(listener);
    eprintln!("drfgate serve: {signal}: no new connections; finishing open ones");
    tokio::select! {
        () = graceful.shutdown() => eprintln!("drfgate serve: stopped"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            eprintln!("drfgate serve: stopped, closing connections still open after {DRAIN_TIMEOUT:?}")
        }
    }
}

/// hyper's HTTP/1.1 on one connection, its socket watched for the `[serve]` timeouts.
fn http_connection<IO>(
    io: IO,
    peer: IpAddr,
    shared: Arc<Shared>,
) -> http1::Connection<TokioIo<watch::Watched<IO>>, Connection>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = watch::Activity::new();
    let stream = watch::Watched::new(io, activity.clone(), shared.timeouts);
    let service = Connection {
        shared,
        // `REMOTE_ADDR` when no header names the client: formatted once per connection.
        peer: Bytes::from(peer.to_string()),
        activity,
    };
    http1::Builder::new().serve_connection(TokioIo::new(stream), service)
}

/// The service of one connection.
pub(crate) struct Connection {
    shared: Arc<Shared>,
    peer: Bytes,
    activity: Arc<watch::Activity>,
}

impl hyper::service::Service<Request<Incoming>> for Connection {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Handling;

    fn call(&self, request: Request<Incoming>) -> Handling {
        handle(request, &self.shared, &self.peer, self.activity.request())
    }
}

/// The answer to one request: made while hyper handed the request over (the caches decided,
/// or the request was refused before the gate), or awaited from the blocking pool. No
/// timeout of the connection runs until it is made.
pub(crate) enum Handling {
    Ready(Option<Response<Full<Bytes>>>),
    Deciding {
        deciding: drfgate_tower::Deciding<Full<Bytes>>,
        in_progress: Option<watch::Request>,
        logged: Option<(http::Method, String)>,
        /// Kept unread until the answer, as when the whole request was one future.
        body: Option<Incoming>,
    },
}

impl std::future::Future for Handling {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        match self.get_mut() {
            // Polled again after completion (hyper's bug): a 500 rather than a panic.
            Handling::Ready(response) => {
                Poll::Ready(Ok(response.take().unwrap_or_else(answer::server_error)))
            }
            Handling::Deciding {
                deciding,
                in_progress,
                logged,
                body,
            } => {
                let response = std::task::ready!(std::pin::Pin::new(deciding).poll(cx));
                in_progress.take();
                body.take();
                log_answer(logged.take(), &response);
                Poll::Ready(Ok(response))
            }
        }
    }
}

fn log_answer(logged: Option<(http::Method, String)>, response: &Response<Full<Bytes>>) {
    if let Some((method, path)) = logged {
        log::debug!("{method} {path} -> {}", response.status().as_u16());
    }
}

fn handle(
    request: Request<Incoming>,
    shared: &Shared,
    peer: &Bytes,
    in_progress: watch::Request,
) -> Handling {
    // A forward-auth request's body is never part of the decision.
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(parts, ());
    let policy = shared.policy.get();
    if request.uri().path() == answer::HEALTH_PATH
        && !forwarded::is_forwarded(request.headers(), &policy.trusted)
    {
        return Handling::Ready(Some(answer::health()));
    }
    let remote_addr = forwarded::remote_addr(
        request.headers(),
        policy.remote_addr_header.as_deref(),
        peer,
    );
    let (parts, connection) = match remote_addr.and_then(|remote_addr| {
        let (mut parts, ()) = forwarded::original_request(request, &policy.trusted)?.into_parts();
        // `X-Forwarded-Proto` put the scheme there; the gate reads it from here.
        let mut connection = parts
            .extensions
            .remove::<ConnectionInfo>()
            .unwrap_or_default();
        connection.remote_addr = Some(remote_addr);
        Ok((parts, connection))
    }) {
        Ok(judged) => judged,
        Err(bad) => {
            if bad.misconfigured {
                log::error!("400 for a forward-auth request: {}", bad.log);
            } else {
                log::warn!("400 for a forward-auth request: {}", bad.log);
            }
            return Handling::Ready(Some(answer::bad_request(&bad.detail)));
        }
    };
    let logged = log::log_enabled!(log::Level::Debug)
        .then(|| (parts.method.clone(), parts.uri.path().to_owned()));
    // Decided as the Layer decides, and answered straight from the decision.
    match policy
        .layer
        .answer(parts, Some(connection), answer::allowed)
    {
        Answer::Ready(response) => {
            drop(in_progress);
            log_answer(logged, &response);
            Handling::Ready(Some(response))
        }
        Answer::Deciding(deciding) => Handling::Deciding {
            deciding,
            in_progress: Some(in_progress),
            logged,
            body: Some(body),
        },
    }
}
