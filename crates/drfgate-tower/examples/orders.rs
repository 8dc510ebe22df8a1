//! The guide's orders API as a Rust service, protected by drfgate's tower Layer.
//!
//! Policies per route come from the demo config (`examples/demo/drfgate.toml`), the same file
//! `drfgate serve` and `drfgate check` read: `api/orders/` and `api/orders/<int:pk>/` are the
//! guide's `OrderViewSet` (TokenAuthentication + SessionAuthentication, IsAuthenticated), and
//! `api/admin/report/` is IsAdminUser. Handlers find the user in the request's extensions.
//!
//! ```sh
//! make demo-db
//! cargo run -p drfgate-tower --example orders -- examples/demo/drfgate.toml 127.0.0.1:9181
//! curl -i -H 'Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b' http://127.0.0.1:9181/api/orders/
//! ```
//!
//! # Two routers, one judge
//!
//! The gate does not know this axum router. It judges each request by the config's
//! `[[routes]]`, which are Django `path()`/`re_path()` patterns matched against the path as
//! Django would see it (percent-decoded, `request.path_info`); axum then picks a handler by
//! its own routes, matched against the raw path. The two can disagree:
//!
//! - a handler added to the router with no `[[routes]]` entry for its path;
//! - `{pk}` matches any segment and the handler's extractor decides what it accepts (`u64`
//!   parses `+7`), while Django's `<int:pk>` is `[0-9]+`: `/api/orders/+7/` reaches `order`
//!   but matches no Django route;
//! - axum matches static segments on the raw path but percent-decodes captures: `%2F` in a
//!   capture is one segment to axum and two to Django, and `/api/admin/%72eport/` is the
//!   report route to Django but no route to axum;
//! - neither merges `//` nor adds a trailing slash, but a route list that differs from the
//!   router's by a slash leaves a path to one side only.
//!
//! So this example is safe by construction, in two ways:
//!
//! 1. **Unmatched paths are refused.** The config sets `[gate] unmatched = "deny"`: a request
//!    whose path no `[[routes]]` entry matches gets DRF's `404 {"detail":"Not found."}` from
//!    the gate and reaches no handler, whatever axum would have routed it to. With the default,
//!    `"defaults"`, such a request would be judged by `DEFAULT_AUTHENTICATION_CLASSES` and
//!    `DEFAULT_PERMISSION_CLASSES` instead of its view's classes (here Basic would log in
//!    where the orders view accepts only Token and Session), and with `"pass"` it would reach
//!    the handler unjudged. [`app`] refuses a gate configured otherwise.
//! 2. **The gate wraps the finished router.** `Router::layer` only wraps the routes added
//!    before it; [`app`] returns the gate around the whole router, a service to which no
//!    route can be added afterwards. A new handler goes in [`routes`], and needs a
//!    `[[routes]]` entry (with its own classes) before anyone can reach it.
//!
//! What the deny rule cannot catch is a path that matches one Django route while axum sends
//! it to a handler meant for another: keep each `[[routes]]` pattern as narrow as the axum
//! route it stands for (here the static segments are the same, and `<int:pk>` accepts fewer
//! paths than `{pk}`), and the gate's answer is the one for the handler that runs.

use std::path::Path;

use axum::extract::Path as UrlPath;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use drfgate::config::Unmatched;
use drfgate::Identity;
use drfgate_tower::{DrfGate, DrfGateLayer};
use serde_json::{json, Value};
use tower::Layer;

/// The orders API's handlers, unprotected: serve them only through [`app`]. Each route here
/// needs a `[[routes]]` entry in the config; one without is refused by the gate (404).
pub fn routes() -> Router {
    Router::new()
        .route("/api/orders/", get(list_orders).post(create_order))
        .route(
            "/api/orders/{pk}/",
            get(order).put(order).patch(order).delete(delete_order),
        )
        .route("/api/admin/report/", get(report))
}

/// The service to serve: the gate in front of the whole router (every route, and axum's
/// fallback). Refuses a gate that would let a path no `[[routes]]` entry matches through
/// (see the module docs).
pub fn app(gate: DrfGateLayer) -> Result<DrfGate<Router>, String> {
    if gate.gate().unmatched() != Unmatched::Deny {
        return Err(
            "the config must set [gate] unmatched = \"deny\": the axum router's routes are not \
             the config's Django routes, and a path only the router serves must be refused"
                .into(),
        );
    }
    Ok(gate.layer(routes()))
}

// IsAuthenticated: the gate only lets authenticated requests reach these handlers, so the
// Identity is always there; asking for it as `Extension<Identity>` states that.
async fn list_orders(Extension(identity): Extension<Identity>) -> Json<Value> {
    Json(json!({ "user": &*identity.user.username, "orders": [7, 8] }))
}

async fn create_order(Extension(identity): Extension<Identity>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({ "user": &*identity.user.username, "order": 9 })),
    )
}

async fn order(Extension(identity): Extension<Identity>, UrlPath(pk): UrlPath<u64>) -> Json<Value> {
    Json(json!({ "user": &*identity.user.username, "order": pk }))
}

async fn delete_order(UrlPath(_pk): UrlPath<u64>) -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn report(Extension(identity): Extension<Identity>) -> Json<Value> {
    Json(json!({ "report": "sales", "staff": &*identity.user.username }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let config = args
        .next()
        .unwrap_or_else(|| "examples/demo/drfgate.toml".into());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:9181".into());
    let gate = DrfGateLayer::from_config_file(Path::new(&config))
        .map_err(|e| format!("cannot load {config}: {e}"))?;
    let app = app(gate).map_err(|e| format!("{config}: {e}"))?;
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "orders example: listening on http://{}",
        listener.local_addr()?
    );
    let app = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
