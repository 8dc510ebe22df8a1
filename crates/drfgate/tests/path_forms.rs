//! The path a front end hands over is judged in the form it says: a raw request target is
//! decoded once (as gunicorn does), WSGI's `PATH_INFO` is not decoded again (mod_wsgi hands
//! Django Apache's decoded path). Confusing the two let `/api/reports/q1%3F/` past an
//! `IsAdminUser` route behind Apache (issue 8).

use drfgate_test_support as common;

use std::path::Path;

use drfgate::{Config, Gate, Request};

fn gate(db: &Path) -> Gate {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["AllowAny"]
[[routes]]
path = "api/reports/<str:slug>/"
name = "report-detail"
permission_classes = ["IsAdminUser"]
[[routes]]
path = "api/orders/<int:pk>/"
name = "order-detail"
permission_classes = ["IsAuthenticated"]
"#,
        db = db.display()
    );
    let config = Config::from_str_with_origin(&text, "test.toml", None).unwrap();
    Gate::from_config(config).unwrap()
}

/// The route label the gate judged `request` by, and the status it answered.
fn judged(gate: &Gate, request: &Request<'_>) -> (Option<String>, u16) {
    let judgement = gate.judge(request);
    (
        judgement.route_label().map(str::to_owned),
        judgement.decision.status(),
    )
}

#[test]
fn path_info_is_judged_without_decoding_again() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let gate = gate(&db);
    // What mod_wsgi puts in PATH_INFO for `/api/reports/q1%3F/` and `/api/reports/q1%252F2024/`.
    for path_info in [
        &b"/api/reports/q1?/"[..],
        b"/api/reports/q1%2F2024/",
        b"/api/reports/a#b/",
    ] {
        let request = Request::with_path_info(b"GET", path_info);
        assert_eq!(
            judged(&gate, &request),
            (Some("report-detail".into()), 401),
            "{}",
            String::from_utf8_lossy(path_info)
        );
    }
    // Nothing Django would not route there: `%2F` decoded by Apache is a real slash.
    let request = Request::with_path_info(b"GET", b"/api/reports/q1/2024/");
    assert_eq!(judged(&gate, &request), (None, 200));
}

#[test]
fn raw_targets_are_decoded_once_as_gunicorn_does() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let gate = gate(&db);
    for (target, route) in [
        (&b"/api/reports/q1%3F/"[..], Some("report-detail")),
        (b"/api/reports/q1%252F2024/", Some("report-detail")),
        (b"/api/reports/q1%23/#frag", Some("report-detail")),
        (
            b"http://other.example/api/reports/q1/",
            Some("report-detail"),
        ),
        (b"/api/reports/q1/#/", Some("report-detail")),
        (b"/api/reports/q1%2F2024/", None),
        (b"/api/orders/7/", Some("order-detail")),
        (b"/api/orders/+7/", None),
    ] {
        let request = Request::new(b"GET", target);
        let (label, _) = judged(&gate, &request);
        assert_eq!(
            label.as_deref(),
            route,
            "{}",
            String::from_utf8_lossy(target)
        );
    }
}
