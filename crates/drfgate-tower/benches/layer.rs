//! The tower Layer's cost on an allowed request whose token is cached, against the same
//! service without the Layer. Both build the same request and await the same response. A third
//! measure is the core decision alone on the same request head (`Gate::decide_cached`, what the
//! Layer asks): issue 16's target is that the Layer adds at most that plus 100 ns
//! (`bench/frontends/layer.sh` reads the three medians from criterion's estimates).
//!
//! `cargo bench -p drfgate-tower --bench layer`

use std::convert::Infallible;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use drfgate::Identity;
use drfgate_test_support::store::{one_token_orders_gate, ONE_TOKEN};
use drfgate_tower::{DrfGateLayer, HttpHeaders};
use http::{Request, Response};
use http_body_util::Full;
use tower::{service_fn, Layer, ServiceExt};

fn request() -> Request<Full<Bytes>> {
    Request::get("/api/orders/")
        .header("Authorization", format!("Token {ONE_TOKEN}"))
        .body(Full::default())
        .expect("request")
}

async fn orders(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let user = request
        .extensions()
        .get::<Identity>()
        .map(|i| i.user.pk.clone());
    std::hint::black_box(user);
    Ok(Response::new(Full::new(Bytes::from_static(b"[]"))))
}

fn layer_overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let bare = service_fn(orders);
    let gate = one_token_orders_gate();
    let gated = DrfGateLayer::new(gate.clone()).layer(service_fn(orders));
    // Warm the cache: the first request looks the token up.
    let first = runtime.block_on(gated.clone().oneshot(request()));
    assert_eq!(first.expect("infallible").status(), 200);

    let mut group = c.benchmark_group("tower_layer");
    group.bench_function("without_layer", |b| {
        b.to_async(&runtime).iter(|| {
            let service = bare;
            service.oneshot(request())
        })
    });
    group.bench_function("with_layer_cached_token_allow", |b| {
        b.to_async(&runtime).iter(|| {
            let service = gated.clone();
            service.oneshot(request())
        })
    });
    // The same head, decided by the core without the Layer's request and response handling.
    let (head, _) = request().into_parts();
    let headers = HttpHeaders(&head.headers);
    let core_request = drfgate::Request::new(b"GET", head.uri.path().as_bytes())
        .with_headers(&headers)
        .with_query(Some(b""));
    assert!(matches!(
        gate.decide_cached(&core_request),
        Some(drfgate::Decision::Allow(Some(_)))
    ));
    group.bench_function("core_decide_cached_token_allow", |b| {
        b.iter(|| gate.decide_cached(std::hint::black_box(&core_request)))
    });
    group.finish();
}

criterion_group!(benches, layer_overhead);
criterion_main!(benches);
