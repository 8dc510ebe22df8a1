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

use std::path::Path;

use axum::extract::Path as UrlPath;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use drfgate::Identity;
use drfgate_tower::DrfGateLayer;
use serde_json::{json, Value};

/// The orders API; every route behind the gate.
pub fn app(gate: DrfGateLayer) -> Router {
    Router::new()
        .route("/api/orders/", get(list_orders).post(create_order))
        .route(
            "/api/orders/{pk}/",
            get(order).put(order).patch(order).delete(delete_order),
        )
        .route("/api/admin/report/", get(report))
        .layer(gate)
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
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "orders example: listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app(gate))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
