//! What Django and DRF answer before authentication, through the whole gate: `ALLOWED_HOSTS`
//! (CommonMiddleware's 400 page, before any route), then content negotiation (406 and the
//! format 404 before any authenticator; refusals DRF renders as HTML passed on), and
//! `?format=` read from the raw target or from a separate query string.

use drfgate_test_support as common;

use std::path::Path;

use drfgate::{Config, Decision, Deny, Gate, Request};

const PAGE_400: &[u8] = b"\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Bad Request (400)</title>\n</head>\n<body>\n  <h1>Bad Request (400)</h1><p></p>\n</body>\n</html>\n";

fn gate(db: &Path, django: &str) -> Gate {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
{django}
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[gate]
unmatched = "pass"
[[routes]]
path = "api/orders/"
methods = ["GET", "POST"]
[[routes]]
path = "api/json-only/"
renderer_classes = ["JSONRenderer"]
[[routes]]
path = "api/html-first/"
renderer_classes = ["BrowsableAPIRenderer", "JSONRenderer"]
[[routes]]
regex = "^api/orders(?P<format>\\.[a-z0-9]+/?)$"
methods = ["GET", "POST"]
[[routes]]
path = "api/open/"
pass = true
"#,
        db = db.display()
    );
    let config = Config::from_str_with_origin(&text, "test.toml", None).unwrap();
    Gate::from_config(config).unwrap()
}

fn decide(gate: &Gate, target: &str, headers: &[(&str, &str)]) -> Decision {
    let pairs: Vec<(&[u8], &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    gate.decide(&Request::new(b"GET", target.as_bytes()).with_headers(&pairs))
}

fn deny(decision: &Decision) -> &Deny {
    match decision {
        Decision::Deny(deny) => deny,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_host_allowed_hosts_refuses_gets_djangos_400_before_any_route() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let gate = gate(&db, r#"ALLOWED_HOSTS = [".example.com"]"#);
    for host in [
        "evil.test",
        "a_b.example.com",
        "",
        "example.com:",
        "example.com..",
    ] {
        for target in ["/api/orders/", "/api/nope-no-route/x"] {
            let decision = decide(
                &gate,
                target,
                &[("Host", host), ("Authorization", "Token abcd1234")],
            );
            if target == "/api/nope-no-route/x" {
                // unmatched = "pass": the gate judges nothing there.
                assert_eq!(decision, Decision::Pass, "{host:?}");
                continue;
            }
            let deny = deny(&decision);
            assert_eq!((deny.status, &*deny.body), (400, PAGE_400), "{host:?}");
            assert_eq!(deny.content_type, "text/html; charset=utf-8");
            assert_eq!(
                (deny.allow.as_deref(), deny.www_authenticate.as_deref()),
                (None, None)
            );
        }
    }
    // Valid: judged as usual (a 401 without credentials), whatever the case, dot or port.
    for host in [
        "example.com",
        "API.EXAMPLE.COM",
        "a.example.com.",
        "example.com:8443",
    ] {
        assert_eq!(
            decide(&gate, "/api/orders/", &[("Host", host)]).status(),
            401,
            "{host}"
        );
    }
    // The 400 precedes negotiation too.
    assert_eq!(
        decide(
            &gate,
            "/api/orders/",
            &[("Host", "evil.test"), ("Accept", "image/png")]
        )
        .status(),
        400
    );
    // A pass route is not judged, not even its host.
    assert_eq!(
        decide(&gate, "/api/open/", &[("Host", "evil.test")]),
        Decision::Pass
    );
    // No Host: Django checks SERVER_NAME, which the gate does not know; it judges the request.
    assert_eq!(decide(&gate, "/api/orders/", &[]).status(), 401);
}

#[test]
fn hosts_follow_the_forwarded_host_debug_and_middleware_settings() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let forwarded = gate(
        &db,
        "ALLOWED_HOSTS = [\"public.example\"]\nUSE_X_FORWARDED_HOST = true",
    );
    let headers = [
        ("Host", "internal:8000"),
        ("X-Forwarded-Host", "public.example"),
    ];
    assert_eq!(decide(&forwarded, "/api/orders/", &headers).status(), 401);
    assert_eq!(
        decide(
            &forwarded,
            "/api/orders/",
            &[("Host", "public.example"), ("X-Forwarded-Host", "")]
        )
        .status(),
        400
    );
    let debug = gate(&db, "ALLOWED_HOSTS = []\nDEBUG = true");
    assert_eq!(
        decide(&debug, "/api/orders/", &[("Host", "localhost:8000")]).status(),
        401
    );
    assert_eq!(
        decide(&debug, "/api/orders/", &[("Host", "testserver")]),
        Decision::Pass
    );
    let strict = gate(&db, "ALLOWED_HOSTS = []");
    assert_eq!(
        decide(&strict, "/api/orders/", &[("Host", "localhost")]).status(),
        400
    );
    let no_common = gate(
        &db,
        "ALLOWED_HOSTS = []\nMIDDLEWARE = [\"django.middleware.security.SecurityMiddleware\"]",
    );
    assert_eq!(
        decide(&no_common, "/api/orders/", &[("Host", "localhost")]).status(),
        401
    );
    let unset = gate(&db, "");
    assert_eq!(
        decide(&unset, "/api/orders/", &[("Host", "anything")]).status(),
        401
    );
}

#[test]
fn negotiation_precedes_authentication() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let gate = gate(&db, "");
    let bad = ("Authorization", "Token not-a-token");
    let decision = decide(&gate, "/api/orders/", &[("Accept", "image/png"), bad]);
    let refusal = deny(&decision);
    assert_eq!(
        (
            refusal.status,
            &*refusal.body,
            refusal.allow.as_deref(),
            refusal.www_authenticate.as_deref()
        ),
        (
            406,
            &br#"{"detail":"Could not satisfy the request Accept header."}"#[..],
            Some("GET, POST, HEAD, OPTIONS"),
            None
        )
    );
    assert_eq!(
        decide(&gate, "/api/orders/", &[("Accept", ""), bad]).status(),
        406
    );
    let decision = decide(&gate, "/api/orders/?format=xml", &[bad]);
    assert_eq!(
        (decision.status(), &*deny(&decision).body),
        (404, &br#"{"detail":"Not found."}"#[..])
    );
    // Accepted: authentication then answers, pretty-printed for indent=N.
    let decision = decide(
        &gate,
        "/api/orders/",
        &[("Accept", "application/json; indent=2"), bad],
    );
    assert_eq!(
        &*deny(&decision).body,
        b"{\n  \"detail\": \"Invalid token.\"\n}"
    );
    assert_eq!(
        decide(&gate, "/api/orders/?format=json", &[bad]).status(),
        401
    );
    // DRF renders these refusals as the browsable API's HTML page: the application answers.
    assert_eq!(
        decide(&gate, "/api/orders/", &[("Accept", "text/html"), bad]),
        Decision::Pass
    );
    assert_eq!(
        decide(&gate, "/api/orders/?format=api", &[]),
        Decision::Pass
    );
    // ... but an allowed request is still allowed.
    let user = decide(
        &gate,
        "/api/orders/?format=api",
        &[("Authorization", "Token abcd1234")],
    );
    assert_eq!(user.identity().map(|i| &*i.user.username), Some("john"));
    // A JSON-only view refuses text/html itself; an HTML-first view's 406 is a page.
    assert_eq!(
        decide(&gate, "/api/json-only/", &[("Accept", "text/html")]).status(),
        406
    );
    assert_eq!(
        decide(&gate, "/api/html-first/", &[("Accept", "image/png")]),
        Decision::Pass
    );
    assert_eq!(
        decide(&gate, "/api/html-first/", &[("Accept", "application/json")]).status(),
        401
    );
}

#[test]
fn format_suffixes_and_query_strings() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let gate = gate(&db, "");
    assert_eq!(decide(&gate, "/api/orders.json", &[]).status(), 401);
    assert_eq!(decide(&gate, "/api/orders.json/", &[]).status(), 401);
    assert_eq!(decide(&gate, "/api/orders.xml", &[]).status(), 404);
    assert_eq!(decide(&gate, "/api/orders.api", &[]), Decision::Pass);
    // The suffix wins over ?format=.
    assert_eq!(
        decide(&gate, "/api/orders.json?format=api", &[]).status(),
        401
    );
    // A fragment is never part of the query; an absolute-form target's query is.
    assert_eq!(decide(&gate, "/api/orders/#?format=xml", &[]).status(), 401);
    assert_eq!(
        decide(&gate, "http://h.example/api/orders/?format=xml", &[]).status(),
        404
    );
    // A front end with the query apart from the path (Apache's r->args, the Layer's URI).
    let request = Request::with_path_info(b"GET", b"/api/orders/").with_query(Some(b"format=xml"));
    assert_eq!(gate.decide(&request).status(), 404);
    let request = Request::new(b"GET", b"/api/orders/?format=xml").with_query(Some(b""));
    assert_eq!(gate.decide(&request).status(), 401);
}

#[test]
fn config_errors_name_the_key() {
    let base = "[django]\nDATABASE = \"sqlite:///nonexistent.sqlite3\"\n";
    for (text, key) in [
        (
            "[rest_framework]\nDEFAULT_RENDERER_CLASSES = [\"JSONRendrer\"]\n",
            "rest_framework.DEFAULT_RENDERER_CLASSES[0]",
        ),
        (
            "[rest_framework]\nURL_FORMAT_OVERRIDE = 3\n",
            "rest_framework.URL_FORMAT_OVERRIDE",
        ),
        (
            "[[routes]]\npath = \"a/\"\nrenderer_classes = [\"Nope\"]\n",
            "routes[0].renderer_classes[0]",
        ),
        (
            "[[routes]]\npath = \"a/\"\npass = true\nrenderer_classes = [\"JSONRenderer\"]\n",
            "routes[0].renderer_classes",
        ),
    ] {
        let error = Config::from_str_with_origin(&format!("{base}{text}"), "t.toml", None)
            .err()
            .unwrap_or_else(|| panic!("loaded: {text}"));
        assert_eq!(error.key, key, "{error}");
    }
    let custom = format!(
        "{base}[renderer_classes.\"app.CSV\"]\nmedia_type = \"text/csv\"\nformat = \"csv\"\n\
         [rest_framework]\nDEFAULT_RENDERER_CLASSES = [\"JSONRenderer\", \"CSV\"]\nURL_FORMAT_OVERRIDE = false\n"
    );
    let config = Config::from_str_with_origin(&custom, "t.toml", None).unwrap();
    assert_eq!(config.default_renderers.len(), 2);
    assert_eq!(config.url_format_override, None);
}
