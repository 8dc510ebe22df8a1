//! The axum example (`crates/drfgate-tower/examples/orders.rs`) over the demo database: each route's policy
//! from the demo config, the user in the handlers, and nothing the config's routes do not list
//! reaching a handler.

use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use drfgate::Gate;
use drfgate_tower::DrfGateLayer;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceExt};

#[path = "../examples/orders.rs"]
#[allow(dead_code)]
mod orders;

const ALICE: &str = "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b";
const BOSS: &str = "Token b0557ac27e6e4fa5a1a83a8b1b5d1d8e2f3c4b5a";
/// `alice:alice-password`: BasicAuthentication is in the demo's defaults, not in the orders
/// view's classes.
const ALICE_BASIC: &str = "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=";
const NOT_FOUND: &str = r#"{"detail":"Not found."}"#;

fn root() -> &'static Path {
    drfgate_test_support::repo_root()
}

fn demo_gate() -> Option<DrfGateLayer> {
    drfgate_test_support::demo_db()?;
    Some(DrfGateLayer::from_config_file(&root().join("examples/demo/drfgate.toml")).unwrap())
}

async fn call<S>(app: &S, method: &str, path: &str, token: Option<&str>) -> (StatusCode, String)
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
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
    let app = orders::app(gate).unwrap();
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

/// Paths the axum router serves (or would route somewhere) that no `[[routes]]` entry lists:
/// the gate refuses them with DRF's 404 before the router runs, whoever asks. On the example
/// as it was (`unmatched` left at "defaults"), `/api/orders/+7/` reached the `order` handler
/// with Basic credentials the orders view does not accept (axum's `{pk}` as `u64` takes `+7`;
/// Django's `<int:pk>` does not match it, so Django itself would answer 404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_the_config_does_not_list_never_reach_a_handler() {
    let Some(gate) = demo_gate() else { return };
    let app = orders::app(gate).unwrap();
    let paths = [
        ("GET", "/api/orders/+7/"),
        ("DELETE", "/api/orders/+7/"),
        ("GET", "/api/orders/%2B7/"),
        ("GET", "/api/orders/7%2F8/"),
        ("GET", "/api/orders//7/"),
        ("GET", "/api/orders"),
        ("GET", "/api/orders/7"),
        ("GET", "/api/admin/report"),
        ("GET", "/api/admin/report//"),
        ("GET", "/nowhere/"),
    ];
    for (method, path) in paths {
        for credentials in [Some(ALICE_BASIC), None, Some(ALICE), Some(BOSS)] {
            let (status, body) = call(&app, method, path, credentials).await;
            assert_eq!(
                (status.as_u16(), body.as_str()),
                (404, NOT_FOUND),
                "{method} {path} with {credentials:?}"
            );
        }
    }
}

/// The gate judges the path as Django decodes it; axum routes on the raw path. A spelling
/// Django resolves to a listed route is judged by that route, whatever axum then does with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percent_encoded_spellings_are_judged_by_the_django_route() {
    let Some(gate) = demo_gate() else { return };
    let app = orders::app(gate).unwrap();
    // `%37` is `7` to Django's `<int:pk>` and to axum's `{pk}` (captures are decoded).
    assert_eq!(
        call(&app, "GET", "/api/orders/%37/", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, "GET", "/api/orders/%37/", Some(ALICE)).await,
        (StatusCode::OK, r#"{"user":"alice","order":7}"#.into())
    );
    // `/api/admin/%72eport/` is the admin report to Django, so the gate applies IsAdminUser;
    // axum matches static segments undecoded and has no route for it.
    assert_eq!(
        call(&app, "GET", "/api/admin/%72eport/", Some(ALICE))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, "GET", "/api/admin/%72eport/", Some(BOSS)).await,
        (StatusCode::NOT_FOUND, String::new())
    );
}

/// A handler added to the example's router without a `[[routes]]` entry is refused to
/// everyone, anonymous or not, and never called: the gate wraps the finished router.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_added_without_a_route_entry_is_never_called() {
    let Some(gate) = demo_gate() else { return };
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let router = orders::routes().route(
        "/api/orders/export/",
        get(move || async move {
            counted.fetch_add(1, Ordering::SeqCst);
            "every order"
        }),
    );
    let app = gate.layer(router);
    for credentials in [None, Some(ALICE), Some(BOSS), Some(ALICE_BASIC)] {
        assert_eq!(
            call(&app, "GET", "/api/orders/export/", credentials).await,
            (StatusCode::NOT_FOUND, NOT_FOUND.into()),
            "{credentials:?}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// The example will not serve behind a config that lets unlisted paths through.
#[test]
fn the_example_refuses_a_config_that_does_not_deny_unmatched_paths() {
    if demo_gate().is_none() {
        return;
    }
    let config = std::fs::read_to_string(root().join("examples/demo/drfgate.toml")).unwrap();
    assert!(config.contains("\nunmatched = \"deny\"\n"));
    let folder = root().join("examples/demo");
    for unmatched in ["defaults", "pass"] {
        let text = config.replace(
            "\nunmatched = \"deny\"\n",
            &format!("\nunmatched = \"{unmatched}\"\n"),
        );
        let gate = Gate::from_config_str(&text, Some(&folder)).unwrap();
        let err = orders::app(DrfGateLayer::new(Arc::new(gate)))
            .err()
            .unwrap();
        assert!(err.contains("unmatched = \"deny\""), "{err}");
    }
}
