//! Session and CSRF through the Layer: the conformance table's session cases (sessions made by
//! Django's login(), answers made by real DRF in `build/conformance/oracle.json`) as http
//! requests, and a POST whose CSRF token may be in the body, which reaches the inner service
//! with `Passed` and no identity.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use drfgate::{Gate, Identity};
use drfgate_test_support::conformance::{self, Answer, Table};
use drfgate_tower::{DrfGateLayer, Passed};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tower::{service_fn, Layer, ServiceExt};

/// Answers 200 with `{"user": …}` as the table's views do, or `passed` for a deferral.
async fn inner(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let text = if request.extensions().get::<Passed>().is_some() {
        assert!(request.extensions().get::<Identity>().is_none());
        "passed".to_string()
    } else {
        match request.extensions().get::<Identity>() {
            Some(identity) => format!("{{\"user\":\"{}\"}}", identity.user.username),
            None => "{\"user\":null}".to_string(),
        }
    };
    Ok(Response::new(Full::from(text)))
}

fn request(case: &serde_json::Value, table: &Table) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(conformance::method(case))
        .uri(table.path(case));
    for (name, value) in conformance::headers(case) {
        builder = builder.header(
            http::HeaderName::from_bytes(&name).unwrap(),
            http::HeaderValue::from_bytes(&value).unwrap(),
        );
    }
    builder.body(Full::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tables_session_cases_through_the_layer_agree_with_drf() {
    let Some(table) = Table::load() else { return };
    let mut compared = 0;
    let mut failures = Vec::new();
    for config in table.configs() {
        let gate = Arc::new(Gate::from_config_file(&config.path).unwrap());
        let service = DrfGateLayer::new(gate).layer(service_fn(inner));
        for case in table.cases_of(config) {
            if !conformance::id(case).starts_with("s_") {
                continue;
            }
            let response = service
                .clone()
                .oneshot(request(case, &table))
                .await
                .unwrap();
            let status = response.status().as_u16();
            let www_authenticate = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string());
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8(body.to_vec()).unwrap();
            let ours = if status == 200 {
                let user: serde_json::Value = serde_json::from_str(&body).unwrap();
                Answer {
                    status,
                    body: None,
                    www_authenticate,
                    user: user["user"].as_str().map(str::to_owned),
                }
            } else {
                Answer {
                    status,
                    body: Some(body),
                    www_authenticate,
                    user: None,
                }
            };
            compared += 1;
            let theirs = table.expected(case);
            if ours != theirs {
                failures.push(format!(
                    "{}: Layer {ours:?}, DRF {theirs:?}",
                    conformance::id(case)
                ));
            }
        }
    }
    assert!(compared >= 50, "too few session cases: {compared}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_post_with_a_body_reaches_the_service_passed_without_an_identity() {
    let Some(table) = Table::load() else { return };
    let config = &table.configs()[0];
    let gate = Arc::new(Gate::from_config_file(&config.path).unwrap());
    let service = DrfGateLayer::new(gate).layer(service_fn(inner));
    let body = "csrfmiddlewaretoken=Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE";
    let request = Request::post("/api/session-ia/")
        .header("Host", "testserver")
        .header(
            "Cookie",
            "sessionid=johnsessionkey000000000000000001; csrftoken=Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE",
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Content-Length", body.len().to_string())
        .body(Full::from(body))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&text[..], b"passed");
}

/// Echoes the user and the body it received, for `reading_bodies`.
async fn echo(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let user = request
        .extensions()
        .get::<Identity>()
        .map(|i| i.user.username.to_string());
    let passed = request.extensions().get::<Passed>().is_some();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let text = format!(
        "{} {}",
        if passed {
            "passed".into()
        } else {
            user.unwrap_or_default()
        },
        String::from_utf8_lossy(&body)
    );
    Ok(Response::new(Full::from(text)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_bodies_decides_on_the_form_field_and_hands_on_the_same_body() {
    let Some(table) = Table::load() else { return };
    let config = &table.configs()[0];
    let gate = Arc::new(Gate::from_config_file(&config.path).unwrap());
    let service = DrfGateLayer::new(gate)
        .reading_bodies()
        .layer(service_fn(echo));
    let post = |body: &str, content_type: &str| {
        Request::post("/api/session-ia/")
            .header("Host", "testserver")
            .header(
                "Cookie",
                "sessionid=johnsessionkey000000000000000001; csrftoken=Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE",
            )
            .header("Content-Type", content_type)
            .header("Content-Length", body.len().to_string())
            .body(Full::from(body.to_string()))
            .unwrap()
    };
    let form = "a=1&csrfmiddlewaretoken=Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE";
    let response = service
        .clone()
        .oneshot(post(form, "application/x-www-form-urlencoded"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(String::from_utf8_lossy(&text), format!("john {form}"));

    let wrong = "csrfmiddlewaretoken=BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
    let response = service
        .clone()
        .oneshot(post(wrong, "application/x-www-form-urlencoded"))
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let text = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        &text[..],
        br#"{"detail":"CSRF Failed: CSRF token from POST incorrect."}"#
    );

    // Broken JSON: DRF's message is Python's; deferred, the body still handed on whole.
    let broken = r#"{"a": "#;
    let response = service
        .oneshot(post(broken, "application/json"))
        .await
        .unwrap();
    let text = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(String::from_utf8_lossy(&text), format!("passed {broken}"));
}

/// A gate over the fixture's sessions, with `extra` in `[django]`.
fn fixture_gate(extra: &str) -> Option<Arc<Gate>> {
    let db = drfgate_test_support::fixture_db()?;
    let text = format!(
        "[django]\nDATABASE = \"sqlite://{}\"\n\
         SECRET_KEY = \"drfgate-test-secret-key-not-for-production-0123456789abcdef\"\n\
         ALLOWED_HOSTS = [\"testserver\"]\n{extra}\n\
         [rest_framework]\nDEFAULT_AUTHENTICATION_CLASSES = [\"SessionAuthentication\"]\n\
         DEFAULT_PERMISSION_CLASSES = [\"IsAuthenticated\"]\n",
        db.display()
    );
    Some(Arc::new(Gate::from_config_str(&text, None).unwrap()))
}

/// A session POST with a valid CSRF token, `headers` added, over a connection that is HTTPS
/// when `secure` (the front end's own flag, `ConnectionInfo`): (status, body).
async fn session_post(gate: &Arc<Gate>, secure: bool, headers: &[(&str, &str)]) -> (u16, String) {
    let mut builder = Request::post("/api/x/")
        .header("Host", "testserver")
        .header(
            "Cookie",
            "sessionid=johnsessionkey000000000000000001; csrftoken=Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE",
        )
        .header("X-CSRFToken", "Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Full::default()).unwrap();
    request
        .extensions_mut()
        .insert(drfgate_tower::ConnectionInfo {
            secure,
            ..Default::default()
        });
    let service = DrfGateLayer::new(gate.clone()).layer(service_fn(inner));
    let response = service.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_from_the_front_ends_own_flag_makes_csrf_check_the_referer() {
    // The answers are DRF's: refproj's view through Django's test client with secure=True
    // (wsgi.url_scheme https) and the same headers and settings answers each of them so.
    // No SECURE_PROXY_SSL_HEADER: only the connection says HTTPS.
    let Some(gate) = fixture_gate("") else { return };
    let no_referer = r#"{"detail":"CSRF Failed: Referer checking failed - no Referer."}"#;
    assert_eq!(
        session_post(&gate, true, &[]).await,
        (403, no_referer.into())
    );
    assert_eq!(
        session_post(&gate, true, &[("Referer", "https://testserver/page")]).await,
        (200, r#"{"user":"john"}"#.into())
    );
    assert_eq!(
        session_post(&gate, true, &[("Referer", "http://testserver/page")]).await,
        (
            403,
            r#"{"detail":"CSRF Failed: Referer checking failed - Referer is insecure while host is secure."}"#
                .into()
        )
    );
    // Plain HTTP: no Referer check; a client's X-Forwarded-Proto counts for nothing without
    // SECURE_PROXY_SSL_HEADER.
    assert_eq!(
        session_post(&gate, false, &[("X-Forwarded-Proto", "https")]).await,
        (200, r#"{"user":"john"}"#.into())
    );

    // With SECURE_PROXY_SSL_HEADER, Django's is_secure() reads the header when it is there
    // (even against the connection) and the connection only when it is not.
    let Some(gate) =
        fixture_gate("SECURE_PROXY_SSL_HEADER = [\"HTTP_X_FORWARDED_PROTO\", \"https\"]")
    else {
        return;
    };
    assert_eq!(
        session_post(&gate, true, &[]).await,
        (403, no_referer.into())
    );
    assert_eq!(
        session_post(&gate, true, &[("X-Forwarded-Proto", "http")]).await,
        (200, r#"{"user":"john"}"#.into())
    );
    assert_eq!(
        session_post(&gate, false, &[("X-Forwarded-Proto", "https")]).await,
        (403, no_referer.into())
    );
}
