//! The axum example (`examples/axum/orders.rs`) over the demo database: each route's policy
//! from the demo config, the user in the handlers.

use std::path::Path;

use axum::body::Body;
use drfgate_tower::DrfGateLayer;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

#[path = "../../../examples/axum/orders.rs"]
#[allow(dead_code)]
mod orders;

const ALICE: &str = "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b";
const BOSS: &str = "Token b0557ac27e6e4fa5a1a83a8b1b5d1d8e2f3c4b5a";

fn demo_gate() -> Option<DrfGateLayer> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if !root.join(".demo/db.sqlite3").exists() {
        if std::env::var("DRFGATE_REQUIRE_DJANGO").as_deref() == Ok("1") {
            panic!("missing .demo/db.sqlite3: run `make demo-db`");
        }
        eprintln!("skipped: no demo database (run `make demo-db`)");
        return None;
    }
    Some(DrfGateLayer::from_config_file(&root.join("examples/demo/drfgate.toml")).unwrap())
}

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("Authorization", token);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_has_its_policy() {
    let Some(gate) = demo_gate() else { return };
    let app = orders::app(gate);
    let cases = [
        (
            "GET",
            "/api/orders/",
            None,
            401,
            r#"{"detail":"Authentication credentials were not provided."}"#,
        ),
        (
            "GET",
            "/api/orders/",
            Some(ALICE),
            200,
            r#"{"user":"alice","orders":[7,8]}"#,
        ),
        (
            "POST",
            "/api/orders/",
            Some(ALICE),
            201,
            r#"{"user":"alice","order":9}"#,
        ),
        (
            "GET",
            "/api/orders/7/",
            Some(ALICE),
            200,
            r#"{"user":"alice","order":7}"#,
        ),
        (
            "POST",
            "/api/orders/7/",
            Some(ALICE),
            405,
            r#"{"detail":"Method \"POST\" not allowed."}"#,
        ),
        (
            "GET",
            "/api/admin/report/",
            Some(ALICE),
            403,
            r#"{"detail":"You do not have permission to perform this action."}"#,
        ),
        (
            "GET",
            "/api/admin/report/",
            Some(BOSS),
            200,
            r#"{"report":"sales","staff":"boss"}"#,
        ),
        (
            "GET",
            "/api/admin/report/",
            Some("Token nope"),
            401,
            r#"{"detail":"Invalid token."}"#,
        ),
    ];
    for (method, path, token, status, body) in cases {
        let (got_status, got_body) = call(&app, method, path, token).await;
        assert_eq!(
            (got_status.as_u16(), got_body.as_str()),
            (status, body),
            "{method} {path}"
        );
    }
}
