//! The `Layer` and the `Service` it wraps around an inner service.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use drfgate::handoff::Handoff;
use drfgate::{Decision, Gate, GateError};
use http::request::Parts;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tower_layer::Layer;
use tower_service::Service;

use crate::request::{with_gate_request, with_gate_view, ConnectionInfo};
use crate::response::{busy, deny_response, server_error};

/// Wraps services in [`DrfGate`], all sharing one [`Gate`] (its config, database and caches).
#[derive(Clone)]
pub struct DrfGateLayer {
    gate: Arc<Gate>,
    blocking: Option<Arc<BlockingLimit>>,
}

/// The decisions allowed on the blocking pool at once, shared by every service of a layer.
struct BlockingLimit {
    semaphore: Arc<Semaphore>,
    limit: usize,
    /// Requests refused so far, and when the log last said so: one warning per
    /// [`WARN_EVERY`] at most, as refusals come in floods.
    refused: AtomicU64,
    warned: Mutex<Option<Instant>>,
}

const WARN_EVERY: Duration = Duration::from_secs(10);

impl BlockingLimit {
    /// A permit for one more decision on the blocking pool, or `None` when all are taken.
    fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.semaphore.clone().try_acquire_owned().ok();
        if permit.is_none() {
            let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
            if let Ok(mut warned) = self.warned.try_lock() {
                if !matches!(*warned, Some(at) if at.elapsed() < WARN_EVERY) {
                    *warned = Some(Instant::now());
                    log::warn!(
                        "503 Service Unavailable: {} decisions already need the database or a \
                         password hasher (max_blocking_decisions); {refused} refused so far",
                        self.limit
                    );
                }
            }
        }
        permit
    }
}

impl DrfGateLayer {
    /// A layer with no limit on the decisions waiting for the blocking pool (see
    /// [`DrfGateLayer::max_blocking_decisions`]).
    pub fn new(gate: Arc<Gate>) -> DrfGateLayer {
        DrfGateLayer {
            gate,
            blocking: None,
        }
    }

    /// Caps the decisions that run on tokio's blocking pool at once (those that need the
    /// database or a password hasher; see the crate docs) at `limit`, for every service
    /// this layer and its clones make. A request that would need one more is answered
    /// `503 Service Unavailable` with `Retry-After: 1` and
    /// `{"detail":"Service temporarily unavailable, try again later."}`, without calling
    /// the inner service; decisions answered from the caches are never refused. Without a
    /// cap (the default, as before this option existed) a locked database or a burst of
    /// password checks queues requests without bound.
    ///
    /// A decision that started keeps its place until it ends, even when its request is
    /// dropped. `limit` 0 refuses every decision that is not answered from the caches.
    pub fn max_blocking_decisions(mut self, limit: usize) -> DrfGateLayer {
        let limit = limit.min(Semaphore::MAX_PERMITS);
        self.blocking = Some(Arc::new(BlockingLimit {
            semaphore: Arc::new(Semaphore::new(limit)),
            limit,
            refused: AtomicU64::new(0),
            warned: Mutex::new(None),
        }));
        self
    }

    /// Loads a drfgate config file and opens its Django database.
    pub fn from_config_file(path: &Path) -> Result<DrfGateLayer, GateError> {
        Ok(DrfGateLayer::new(Arc::new(Gate::from_config_file(path)?)))
    }

    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }

    /// Decides a request head as [`DrfGate`] does (from the caches inline, else on tokio's
    /// blocking pool under [`DrfGateLayer::max_blocking_decisions`]'s cap, inline outside a
    /// runtime) and answers it without an inner service: a refusal is [`deny_response`], the
    /// cap's 503 and the 500 of a decision that did not complete are the Layer's own, and an
    /// allowed or passed request is answered by `allowed` from the [`Judged`] (on the
    /// blocking thread when the decision was made there).
    ///
    /// `connection` stands for the [`ConnectionInfo`] the Layer reads from the extensions,
    /// which are not read here. For a front end that answers for itself, as `drfgate serve`
    /// does: no request is rebuilt for an inner service, no extension is written, and a
    /// decision the caches make is [`Answer::Ready`] at once, with no future to drive.
    pub fn answer<B, F>(
        &self,
        parts: Parts,
        connection: Option<ConnectionInfo>,
        allowed: F,
    ) -> Answer<B>
    where
        B: From<Bytes> + Send + 'static,
        F: FnOnce(Judged<'_>) -> Response<B> + Send + 'static,
    {
        let cached = with_gate_view(&parts, connection.as_ref(), |view| {
            self.gate
                .judge_cached(view)
                .map(|judgement| Judged::new(&self.gate, view, judgement))
        });
        if let Some(judged) = cached {
            return Answer::Ready(judged.answer(allowed));
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to lend a blocking thread: the caller blocks, as it chose.
            return Answer::Ready(with_gate_view(&parts, connection.as_ref(), |view| {
                Judged::new(&self.gate, view, self.gate.judge(view)).answer(allowed)
            }));
        };
        let permit = match &self.blocking {
            None => None,
            Some(limit) => match limit.try_acquire() {
                Some(permit) => Some(permit),
                None => return Answer::Ready(busy()),
            },
        };
        let gate = self.gate.clone();
        Answer::Deciding(Deciding(runtime.spawn_blocking(move || {
            // Held until the decision ends, whether or not anyone still waits.
            let _permit = permit;
            with_gate_view(&parts, connection.as_ref(), |view| {
                Judged::new(&gate, view, gate.judge(view)).answer(allowed)
            })
        })))
    }
}

/// [`DrfGateLayer::answer`]'s response: made already, or being decided on the blocking pool.
pub enum Answer<B> {
    Ready(Response<B>),
    /// The decision needs the database or a password hasher: await the response.
    Deciding(Deciding<B>),
}

/// A decision on tokio's blocking pool and the response made from it; a decision that did not
/// complete (it panicked) is answered 500. Dropping it leaves the decision to finish.
pub struct Deciding<B>(JoinHandle<Response<B>>);

impl<B: From<Bytes>> Future for Deciding<B> {
    type Output = Response<B>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response<B>> {
        Poll::Ready(match ready!(Pin::new(&mut self.0).poll(cx)) {
            Ok(response) => response,
            Err(error) => {
                log::error!("the gate's decision did not complete: {error}");
                server_error()
            }
        })
    }
}

/// What the gate decided for a request, for a front end that answers it itself
/// ([`DrfGateLayer::answer`]): what [`DrfGate`] would put in the extensions of the request it
/// passes on.
#[derive(Debug)]
pub struct Judged<'g> {
    pub decision: Decision,
    /// The label of the route that decided an allowed request (what [`JudgedRoute`] carries):
    /// its `name` in the config, else its pattern. `None` when no route matched, and for a
    /// request passed on without an opinion.
    pub route: Option<&'g str>,
    /// The signed hand-off of an allowed request (`[handoff]`), what [`Handoff`] in the
    /// extensions carries; `None` without `[handoff]` and for a request passed on.
    pub handoff: Option<Handoff>,
}

impl<'g> Judged<'g> {
    fn new(
        gate: &Gate,
        request: &drfgate::Request<'_>,
        judgement: drfgate::Judgement<'g>,
    ) -> Judged<'g> {
        // As [`DrfGate`]: the route goes on with an allowed request only.
        let allowed = matches!(judgement.decision, Decision::Allow(_));
        Judged {
            route: judgement
                .route
                .filter(|_| allowed)
                .map(|route| route.label()),
            // `None` but for an allowed request.
            handoff: gate.handoff(request, &judgement.decision),
            decision: judgement.decision,
        }
    }

    fn answer<B: From<Bytes>>(
        self,
        allowed: impl FnOnce(Judged<'_>) -> Response<B>,
    ) -> Response<B> {
        match &self.decision {
            Decision::Deny(deny) => deny_response(deny),
            Decision::Allow(_) | Decision::Pass => allowed(self),
        }
    }
}

impl<S> Layer<S> for DrfGateLayer {
    type Service = DrfGate<S>;

    fn layer(&self, inner: S) -> DrfGate<S> {
        DrfGate {
            inner,
            gate: self.gate.clone(),
            blocking: self.blocking.clone(),
        }
    }
}

/// Decides each request as DRF would; calls the inner service only for allowed requests,
/// with the user's [`drfgate::Identity`] in the request extensions. See the crate docs.
#[derive(Clone)]
pub struct DrfGate<S> {
    inner: S,
    gate: Arc<Gate>,
    blocking: Option<Arc<BlockingLimit>>,
}

impl<S> DrfGate<S> {
    /// No limit on the decisions waiting for the blocking pool; build it with
    /// [`DrfGateLayer::max_blocking_decisions`] for one.
    pub fn new(inner: S, gate: Arc<Gate>) -> DrfGate<S> {
        DrfGate {
            inner,
            gate,
            blocking: None,
        }
    }

    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The ready inner service for this call; a clone stays behind for the next one
    /// (tower's rule: the service that was polled ready is the one that is called).
    fn take_ready_inner(&mut self) -> S
    where
        S: Clone,
    {
        let fresh = self.inner.clone();
        std::mem::replace(&mut self.inner, fresh)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for DrfGate<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let cached = with_gate_request(&parts, |view| {
            self.gate
                .judge_cached(view)
                .map(|judgement| Verdict::new(&self.gate, view, judgement))
        });
        let verdict = match cached {
            Some(verdict) => verdict,
            None => match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let permit = match &self.blocking {
                        None => None,
                        Some(limit) => match limit.try_acquire() {
                            Some(permit) => Some(permit),
                            None => return ResponseFuture::done(busy()),
                        },
                    };
                    let gate = self.gate.clone();
                    let deciding = runtime.spawn_blocking(move || {
                        // Held until the decision ends, whether or not anyone still waits.
                        let _permit = permit;
                        let verdict = with_gate_request(&parts, |view| {
                            Verdict::new(&gate, view, gate.judge(view))
                        });
                        (parts, verdict)
                    });
                    return ResponseFuture::deciding(deciding, body, self.take_ready_inner());
                }
                // No runtime to lend a blocking thread: the caller blocks, as it chose.
                Err(_) => with_gate_request(&parts, |view| {
                    Verdict::new(&self.gate, view, self.gate.judge(view))
                }),
            },
        };
        match verdict.decision {
            Decision::Pass => {
                let mut request = allowed_request(parts, body, None, None, None);
                request.extensions_mut().insert(Passed);
                ResponseFuture::calling(self.take_ready_inner().call(request))
            }
            Decision::Allow(identity) => {
                let request =
                    allowed_request(parts, body, identity, verdict.route, verdict.handoff);
                ResponseFuture::calling(self.take_ready_inner().call(request))
            }
            Decision::Deny(deny) => ResponseFuture::done(deny_response(&deny)),
        }
    }
}

/// The route a request was judged by, in the extensions of an allowed request: its `name`
/// in the config, else its pattern. Absent when no route matched (the defaults decided, or
/// `[gate] unmatched = "pass"`). A proxy may pass it on so the route judged can be compared
/// with the one Django resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JudgedRoute(pub Arc<str>);

/// In the extensions of a request the gate passed on without an opinion
/// (`Decision::Pass`): no route matched under `[gate] unmatched = "pass"`, or an
/// authenticator could not finish DRF's answer (a session POST whose CSRF token may be in the
/// body) and the application's own DRF decides. Such a request carries no identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Passed;

/// A decision, the route that reached it and the signed hand-off of its identity (`[handoff]`),
/// owned, so it can cross the blocking pool.
struct Verdict {
    decision: Decision,
    route: Option<Arc<str>>,
    handoff: Option<Handoff>,
}

impl Verdict {
    fn new(gate: &Gate, request: &drfgate::Request<'_>, judgement: drfgate::Judgement<'_>) -> Self {
        // Only an allowed request carries its route on: no label cloned for a refusal or a
        // pass.
        let allowed = matches!(judgement.decision, Decision::Allow(_));
        Verdict {
            route: judgement
                .route
                .filter(|_| allowed)
                .map(|route| route.shared_label()),
            // `None` but for an allowed request.
            handoff: gate.handoff(request, &judgement.decision),
            decision: judgement.decision,
        }
    }
}

fn allowed_request<B>(
    mut parts: Parts,
    body: B,
    identity: Option<drfgate::Identity>,
    route: Option<Arc<str>>,
    handoff: Option<Handoff>,
) -> Request<B> {
    // Whatever an outer layer may have put there, the gate's answer is the one that counts.
    if !parts.extensions.is_empty() {
        parts.extensions.remove::<drfgate::Identity>();
        parts.extensions.remove::<JudgedRoute>();
        parts.extensions.remove::<Passed>();
        parts.extensions.remove::<Handoff>();
        parts.extensions.remove::<crate::bodies::ReadBody>();
    }
    remove_gate_headers(&mut parts.headers);
    if let Some(handoff) = handoff {
        parts.extensions.insert(handoff);
    }
    if let Some(identity) = identity {
        parts.extensions.insert(identity);
    }
    if let Some(route) = route {
        parts.extensions.insert(JudgedRoute(route));
    }
    Request::from_parts(parts, body)
}

/// A client's own `X-Drfgate-*` headers (`X-Drfgate-User`, `-Signature`, …) never reach the
/// inner service: the names the gate's hand-off uses downstream (`drfgate serve`, nginx,
/// examples/path_proxy.rs) must carry only what the gate decided, taken from the extensions.
fn remove_gate_headers(headers: &mut http::HeaderMap) {
    let gate_header = |name: &http::HeaderName| name.as_str().starts_with("x-drfgate-");
    // One look at the names, nothing collected, when there are none (the usual request).
    if !headers.keys().any(gate_header) {
        return;
    }
    let sent: Vec<http::HeaderName> = headers
        .keys()
        .filter(|name| gate_header(name))
        .cloned()
        .collect();
    for name in sent {
        headers.remove(name);
    }
}

pin_project! {
    /// The response of [`DrfGate`]: a refusal, or the inner service's response.
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProjection]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        // The decision needs the database or a hasher: it runs on the blocking pool.
        Deciding {
            deciding: JoinHandle<(Parts, Verdict)>,
            body: Option<ReqBody>,
            inner: Option<S>,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
        Done {
            response: Option<S::Response>,
        },
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn deciding(deciding: JoinHandle<(Parts, Verdict)>, body: ReqBody, inner: S) -> Self {
        ResponseFuture {
            state: State::Deciding {
                deciding,
                body: Some(body),
                inner: Some(inner),
            },
        }
    }

    fn calling(future: S::Future) -> Self {
        ResponseFuture {
            state: State::Calling { future },
        }
    }

    fn done(response: S::Response) -> Self {
        ResponseFuture {
            state: State::Done {
                response: Some(response),
            },
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            match this.state.as_mut().project() {
                StateProjection::Deciding {
                    deciding,
                    body,
                    inner,
                } => {
                    let decided = ready!(Pin::new(deciding).poll(cx));
                    let (parts, verdict) = match decided {
                        Ok(decided) => decided,
                        Err(error) => {
                            log::error!("the gate's decision did not complete: {error}");
                            return Poll::Ready(Ok(server_error()));
                        }
                    };
                    let (Some(body), Some(mut inner)) = (body.take(), inner.take()) else {
                        return Poll::Ready(Ok(server_error()));
                    };
                    match verdict.decision {
                        Decision::Pass => {
                            let mut request = allowed_request(parts, body, None, None, None);
                            request.extensions_mut().insert(Passed);
                            let future = inner.call(request);
                            this.state.set(State::Calling { future });
                        }
                        Decision::Allow(identity) => {
                            let request = allowed_request(
                                parts,
                                body,
                                identity,
                                verdict.route,
                                verdict.handoff,
                            );
                            let future = inner.call(request);
                            this.state.set(State::Calling { future });
                        }
                        Decision::Deny(deny) => return Poll::Ready(Ok(deny_response(&deny))),
                    }
                }
                StateProjection::Calling { future } => return future.poll(cx),
                // Polled again after completion (a caller's bug): a 500 rather than a panic.
                StateProjection::Done { response } => {
                    return Poll::Ready(Ok(response.take().unwrap_or_else(server_error)))
                }
            }
        }
    }
}
