//! Reading the request body for the decisions that need it ([`drfgate::Gate::body_wanted`]: a
//! session-authenticated POST whose CSRF token DRF looks for in the parsed body), and handing
//! the application the same bytes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use drfgate::Gate;
use http::Request;
use http_body::Body;
use http_body_util::BodyExt;
use tower_layer::Layer;
use tower_service::Service;

use crate::request::with_gate_request;
use crate::service::{DrfGate, DrfGateLayer};

/// The body read for the gate, in the request's extensions while it is decided (never
/// passed on to the inner service).
#[derive(Clone, Debug)]
pub(crate) struct ReadBody {
    pub(crate) bytes: Bytes,
    /// The body ended after these bytes (`false`: it failed or went on past the bound).
    pub(crate) complete: bool,
}

/// Wraps services in [`DrfGateBodies`]: [`DrfGateLayer`]'s decisions, with the request body
/// read first when the decision depends on it (see [`DrfGateLayer::reading_bodies`]).
#[derive(Clone)]
pub struct DrfGateBodiesLayer {
    layer: DrfGateLayer,
}

impl DrfGateLayer {
    /// The same layer, reading the request body when the decision depends on it: a POST
    /// carrying a session cookie to a view with `SessionAuthentication`, with a form or JSON
    /// body (DRF parses it there for the `csrfmiddlewaretoken` field, and refuses a body it
    /// cannot parse). At most `Content-Length` bytes, never more than Django's
    /// `DATA_UPLOAD_MAX_MEMORY_SIZE`, are read into memory; the inner service receives the
    /// same bytes as its body. Every other request's body is left alone, unread.
    ///
    /// Without this, [`DrfGateLayer`] never reads a body, and defers such a request to the
    /// inner service (no identity, [`crate::Passed`]). The inner service's body type must
    /// be buildable from the bytes read (`From<Bytes>`, as `axum::body::Body` and
    /// `http_body_util::Full<Bytes>` are).
    pub fn reading_bodies(self) -> DrfGateBodiesLayer {
        DrfGateBodiesLayer { layer: self }
    }
}

impl<S> Layer<S> for DrfGateBodiesLayer {
    type Service = DrfGateBodies<S>;

    fn layer(&self, inner: S) -> DrfGateBodies<S> {
        DrfGateBodies {
            gate: self.layer.gate().clone(),
            inner: self.layer.layer(inner),
        }
    }
}

/// [`DrfGate`] that reads the body first when the decision depends on it.
#[derive(Clone)]
pub struct DrfGateBodies<S> {
    gate: Arc<Gate>,
    inner: DrfGate<S>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for DrfGateBodies<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Body + From<Bytes> + Send + 'static,
    ReqBody::Data: Send,
    ResBody: From<Bytes> + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        // Never trust a ReadBody an outer layer may have left.
        parts.extensions.remove::<ReadBody>();
        let wanted = with_gate_request(&parts, |view| self.gate.body_wanted(view));
        // Tower's rule: the service polled ready is the one called; a clone stays behind.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let Some(wanted) = wanted else {
            let future = inner.call(Request::from_parts(parts, body));
            return Box::pin(future);
        };
        Box::pin(async move {
            let read = read_at_most(body, wanted).await;
            let replay = ReqBody::from(read.bytes.clone());
            parts.extensions.insert(read);
            inner.call(Request::from_parts(parts, replay)).await
        })
    }
}

/// Reads the body up to `limit` bytes (and at most one frame past it, dropped). A body longer
/// than that is cut there: the gate then defers, and the application gets what was read,
/// `Content-Length` having said no more.
async fn read_at_most<B: Body>(body: B, limit: u64) -> ReadBody {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut body = std::pin::pin!(body);
    let mut bytes = BytesMut::with_capacity(limit.min(64 * 1024));
    let complete = loop {
        match body.frame().await {
            None => break true,
            Some(Err(_)) => break false,
            Some(Ok(frame)) => {
                if let Ok(mut data) = frame.into_data() {
                    while data.has_remaining() {
                        let chunk = data.chunk();
                        let take = chunk.len();
                        bytes.extend_from_slice(chunk);
                        data.advance(take);
                    }
                }
                if bytes.len() > limit {
                    bytes.truncate(limit);
                    break false;
                }
            }
        }
    };
    ReadBody {
        bytes: bytes.freeze(),
        complete,
    }
}
