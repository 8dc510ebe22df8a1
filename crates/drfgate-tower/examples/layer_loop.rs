//! A fixed number of requests through the tower Layer, for instruction counting with
//! `valgrind --tool=callgrind` (counts do not move with the machine's load, unlike
//! `cargo bench -p drfgate-tower --bench layer`, which times the same three things). Run it
//! with N and 2N rounds: the difference ÷ N is one request, start-up and the first (uncached)
//! decision cancelling out. `bench/instructions.sh table` does that for each mode.
//!
//! `cargo build --release -p drfgate-tower --example layer_loop &&
//!  valgrind --tool=callgrind target/release/examples/layer_loop 100000 layer`
//!
//! The modes (the last argument), each on the bench's request (`GET /api/orders/`,
//! `Authorization: Token …`, the token cached → allow), users from memory:
//! * `bare`: the request built and handed to the inner service, no Layer;
//! * `layer`: the same request through `DrfGateLayer` to the same inner service;
//! * `core`: `Gate::decide_cached` alone on the same request head (what the Layer asks).
//!
//! `layer − bare` is what the Layer adds to a request; issue 16's target is that it adds at
//! most `core` + 100 ns. The futures are polled by hand (a no-op waker): a cached decision
//! never waits, so no runtime is involved on either side.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use drfgate::Identity;
use drfgate_test_support::store::{one_token_orders_gate, ONE_TOKEN};
use drfgate_tower::{DrfGateLayer, HttpHeaders};
use http::{Request, Response};
use http_body_util::Full;
use tower::{service_fn, Layer, Service};

fn request(authorization: &http::HeaderValue) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::default());
    *request.uri_mut() = http::Uri::from_static("/api/orders/");
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, authorization.clone());
    request
}

async fn orders(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let user = request
        .extensions()
        .get::<Identity>()
        .map(|i| i.user.pk.clone());
    std::hint::black_box(user);
    Ok(Response::new(Full::new(Bytes::from_static(b"[]"))))
}

/// Polls a future that never waits (no runtime: a cached decision answers inline).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a request waited: not a cached decision"),
    }
}

/// One request through `service`, which must be ready at once; whether it was allowed.
fn call<S>(service: &mut S, authorization: &http::HeaderValue) -> bool
where
    S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible>,
{
    let mut context = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut context).is_ready());
    let response = ready(service.call(request(authorization))).expect("infallible");
    response.status() == 200
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(100_000, |n| {
        n.parse().expect("usage: layer_loop [ROUNDS] [MODE]")
    });
    let mode = args.next().unwrap_or_else(|| "layer".into());
    let authorization = http::HeaderValue::from_str(&format!("Token {ONE_TOKEN}")).expect("token");
    let gate = one_token_orders_gate();
    let mut gated = DrfGateLayer::new(gate.clone()).layer(service_fn(orders));
    // Warm the cache: the first request looks the token up (inline, no runtime).
    assert!(
        call(&mut gated, &authorization),
        "the first request was refused"
    );
    let mut as_expected = 0;
    match mode.as_str() {
        "bare" => {
            let mut bare = service_fn(orders);
            for _ in 0..rounds {
                as_expected += call(&mut bare, std::hint::black_box(&authorization)) as usize;
            }
        }
        "layer" => {
            for _ in 0..rounds {
                as_expected += call(&mut gated, std::hint::black_box(&authorization)) as usize;
            }
        }
        "core" => {
            let (head, _) = request(&authorization).into_parts();
            let headers = HttpHeaders(&head.headers);
            let view = drfgate::Request::new(b"GET", head.uri.path().as_bytes())
                .with_headers(&headers)
                .with_query(Some(b""));
            for _ in 0..rounds {
                let decision = gate.decide_cached(std::hint::black_box(&view));
                as_expected += matches!(decision, Some(drfgate::Decision::Allow(Some(_)))) as usize;
            }
        }
        other => panic!("unknown mode {other:?}: bare, layer or core"),
    }
    assert_eq!(
        as_expected, rounds,
        "{mode}: some requests were not allowed"
    );
    println!("{mode}: {rounds} requests allowed");
}
