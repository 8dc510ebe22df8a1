//! A session POST's body, as DRF's CSRF check reads it (`request.POST`): the
//! `csrfmiddlewaretoken` form field before the header, the body parsed (415 for a content
//! type no parser takes, Django's 400 page over `DATA_UPLOAD_MAX_MEMORY_SIZE`), and deferral
//! wherever the gate was not given the body or does not reproduce DRF's answer. The same
//! requests are compared with real DRF by the differential suite (tests/conformance).

use drfgate_test_support as common;

use std::path::Path;

use drfgate::{Config, Decision, Gate, Request, RequestBody};

const SECRET_KEY: &str = "drfgate-test-secret-key-not-for-production-0123456789abcdef";
const JOHN: &str = "sessionid=johnsessionkey000000000000000001";
const SECRET: &str = "Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE";
const MASKED: &str = "m3Pq8RtY2uI5oA7sD9fG1hJ4kL6zX0cVbqNAoJ4aFoXMlSQNp0D7UkeZqi2IxZep";
const FORM: &str = "application/x-www-form-urlencoded";

fn gate(db: &Path, extra: &str) -> Gate {
    gate_with(db, extra, "")
}

fn gate_with(db: &Path, extra: &str, rest_framework: &str) -> Gate {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
SECRET_KEY = "{SECRET_KEY}"
{extra}
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["SessionAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
{rest_framework}
"#,
        db = db.display()
    );
    let config = Config::from_str_with_origin(&text, "test.toml", None).unwrap();
    let (store, _) = common::Counting::open(db, config.django.schema.clone());
    Gate::with_store(config, Box::new(store)).unwrap()
}

struct Post {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn post(content_type: Option<&str>, body: &str, csrf_header: Option<&str>) -> Post {
    let mut headers = vec![("Cookie".to_string(), format!("{JOHN}; csrftoken={SECRET}"))];
    if let Some(content_type) = content_type {
        headers.push(("Content-Type".into(), content_type.into()));
    }
    headers.push(("Content-Length".into(), body.len().to_string()));
    if let Some(token) = csrf_header {
        headers.push(("X-CSRFToken".into(), token.into()));
    }
    Post {
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// `(body_wanted, decision)` with the body given as the front end read it (`None`: not read).
fn decide(gate: &Gate, post: &Post, given: Option<(usize, bool)>) -> (Option<u64>, Decision) {
    let pairs: Vec<(&[u8], &[u8])> = post
        .headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    let request = Request::new(b"POST", b"/api/x/").with_headers(&pairs);
    let wanted = gate.body_wanted(&request);
    let request = request.with_body(given.map(|(len, complete)| RequestBody {
        bytes: &post.body[..len],
        complete,
    }));
    (wanted, gate.decide(&request))
}

/// Decided with the whole body, read because the gate asked for it.
fn decide_read(gate: &Gate, post: &Post) -> Decision {
    let (wanted, decision) = decide(gate, post, Some((post.body.len(), true)));
    assert_eq!(
        wanted,
        Some(post.body.len() as u64),
        "the gate asks for the body"
    );
    decision
}

fn user(decision: &Decision) -> Option<String> {
    decision.identity().map(|i| i.user.username.to_string())
}

fn detail(decision: &Decision) -> (u16, Option<String>) {
    match decision {
        Decision::Deny(deny) => (deny.status, deny.detail()),
        other => (other.status(), None),
    }
}

#[test]
fn the_form_field_comes_before_the_header() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let gate = gate(&db, "");
    let field = |value: &str| format!("a=1&csrfmiddlewaretoken={value}");
    let allowed = decide_read(&gate, &post(Some(FORM), &field(SECRET), None));
    assert_eq!(user(&allowed).as_deref(), Some("john"));
    let masked = decide_read(&gate, &post(Some(FORM), &field(MASKED), None));
    assert_eq!(user(&masked).as_deref(), Some("john"));
    // The field wins over a right header.
    let wrong = decide_read(
        &gate,
        &post(Some(FORM), &field(&"B".repeat(32)), Some(SECRET)),
    );
    assert_eq!(
        detail(&wrong),
        (
            403,
            Some("CSRF Failed: CSRF token from POST incorrect.".into())
        )
    );
    let short = decide_read(&gate, &post(Some(FORM), &field("abc"), None));
    assert_eq!(
        detail(&short),
        (
            403,
            Some("CSRF Failed: CSRF token from POST has incorrect length.".into())
        )
    );
    let invalid = decide_read(&gate, &post(Some(FORM), &field(&"%21".repeat(32)), None));
    assert_eq!(
        detail(&invalid),
        (
            403,
            Some("CSRF Failed: CSRF token from POST has invalid characters.".into())
        )
    );
    // An empty (or absent) field: the header decides.
    let empty = decide_read(&gate, &post(Some(FORM), &field(""), Some(SECRET)));
    assert_eq!(user(&empty).as_deref(), Some("john"));
    let missing = decide_read(&gate, &post(Some(FORM), "a=1", None));
    assert_eq!(
        detail(&missing),
        (403, Some("CSRF Failed: CSRF token missing.".into()))
    );
    // The last of repeated fields, percent-decoded.
    let repeated = format!("csrfmiddlewaretoken=x&csrfmiddleware%74oken={SECRET}");
    let last = decide_read(&gate, &post(Some(FORM), &repeated, None));
    assert_eq!(user(&last).as_deref(), Some("john"));
}

#[test]
fn json_bodies_leave_the_token_to_the_header() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let gate = gate(&db, "");
    let json = Some("application/json");
    let allowed = decide_read(&gate, &post(json, r#"{"a": 1}"#, Some(SECRET)));
    assert_eq!(user(&allowed).as_deref(), Some("john"));
    let no_header = decide_read(&gate, &post(json, r#"{"csrfmiddlewaretoken": "x"}"#, None));
    assert_eq!(
        detail(&no_header),
        (403, Some("CSRF Failed: CSRF token missing.".into()))
    );
    // DRF answers 400 with Python's own parse error message: the application decides.
    assert_eq!(
        decide_read(&gate, &post(json, r#"{"a": "#, Some(SECRET))),
        Decision::Pass
    );
}

#[test]
fn without_the_whole_body_the_gate_defers() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let gate = gate(&db, "");
    let form = post(Some(FORM), &format!("csrfmiddlewaretoken={SECRET}"), None);
    let (wanted, not_read) = decide(&gate, &form, None);
    assert_eq!(wanted, Some(form.body.len() as u64));
    assert_eq!(not_read, Decision::Pass, "drfgate serve never reads bodies");
    let (_, cut) = decide(&gate, &form, Some((10, false)));
    assert_eq!(cut, Decision::Pass);
    let multipart = post(
        Some("multipart/form-data; boundary=x"),
        "--x--",
        Some(SECRET),
    );
    assert_eq!(decide(&gate, &multipart, None), (None, Decision::Pass));
    let latin1 = post(
        Some("application/x-www-form-urlencoded; charset=latin-1"),
        "a=1",
        Some(SECRET),
    );
    assert_eq!(decide(&gate, &latin1, None), (None, Decision::Pass));
}

#[test]
fn bodies_no_parser_takes_and_oversized_bodies_are_answered_from_the_headers() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let gate = gate(&db, "DATA_UPLOAD_MAX_MEMORY_SIZE = 16");
    let (wanted, text) = decide(
        &gate,
        &post(Some("text/plain"), "hello", Some(SECRET)),
        None,
    );
    assert_eq!(wanted, None);
    assert_eq!(
        detail(&text),
        (
            415,
            Some("Unsupported media type \"text/plain\" in request.".into())
        )
    );
    let (_, none) = decide(&gate, &post(None, "hello", Some(SECRET)), None);
    assert_eq!(
        detail(&none),
        (415, Some("Unsupported media type \"\" in request.".into()))
    );
    let big = post(Some(FORM), &format!("csrfmiddlewaretoken={SECRET}"), None);
    let (wanted, too_big) = decide(&gate, &big, None);
    assert_eq!(wanted, None);
    match too_big {
        Decision::Deny(deny) => {
            assert_eq!(
                (deny.status, deny.content_type),
                (400, "text/html; charset=utf-8")
            )
        }
        other => panic!("expected Django's 400 page, got {other:?}"),
    }
    // An empty body is never parsed: the header decides.
    let (wanted, empty) = decide(&gate, &post(Some("text/plain"), "", Some(SECRET)), None);
    assert_eq!(wanted, None);
    assert_eq!(user(&empty).as_deref(), Some("john"));
}

#[test]
fn parser_classes_and_limits_are_configured_with_drf_names() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let json_only = gate_with(
        &db,
        "",
        r#"DEFAULT_PARSER_CLASSES = ["rest_framework.parsers.JSONParser"]"#,
    );
    let form = post(Some(FORM), &format!("csrfmiddlewaretoken={SECRET}"), None);
    let (wanted, refused) = decide(&json_only, &form, None);
    assert_eq!(wanted, None);
    assert_eq!(
        detail(&refused),
        (
            415,
            Some(format!("Unsupported media type \"{FORM}\" in request."))
        )
    );
    let unknown_first = gate_with(
        &db,
        "",
        r#"DEFAULT_PARSER_CLASSES = ["myapp.parsers.YamlParser", "rest_framework.parsers.FormParser"]"#,
    );
    assert_eq!(decide(&unknown_first, &form, None), (None, Decision::Pass));
    // TooManyFieldsSent: Django's 400 page.
    let two_fields = gate(&db, "DATA_UPLOAD_MAX_NUMBER_FIELDS = 2");
    let three = post(
        Some(FORM),
        &format!("a=1&b=2&csrfmiddlewaretoken={SECRET}"),
        None,
    );
    assert_eq!(decide_read(&two_fields, &three).status(), 400);
    // DEBUG answers those with its technical page: deferred.
    let debug = gate(&db, "DEBUG = true\nDATA_UPLOAD_MAX_NUMBER_FIELDS = 2");
    assert_eq!(decide_read(&debug, &three), Decision::Pass);
    let none = gate(&db, "DATA_UPLOAD_MAX_MEMORY_SIZE = false");
    assert!(none.body_wanted(&Request::new(b"GET", b"/")).is_none());
    let bad = format!(
        "[django]\nDATABASE = \"sqlite://{}\"\nDATA_UPLOAD_MAX_MEMORY_SIZE = \"big\"\n",
        db.display()
    );
    let error = Config::from_str_with_origin(&bad, "test.toml", None)
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("DATA_UPLOAD_MAX_MEMORY_SIZE"),
        "{error}"
    );
}

#[test]
fn a_routes_parser_classes_replace_the_defaults_for_its_view() {
    let Some(db) = common::fixture_db() else {
        return;
    };
    let route =
        |parsers: &str| format!("[[routes]]\npath = \"api/x/\"\nparser_classes = {parsers}\n");
    let form = post(Some(FORM), &format!("csrfmiddlewaretoken={SECRET}"), None);
    // The defaults (JSON, form, multipart) would read the form; the view's JSONParser refuses it.
    let json_view = gate_with(&db, "", &route(r#"["rest_framework.parsers.JSONParser"]"#));
    let (wanted, refused) = decide(&json_view, &form, None);
    assert_eq!(wanted, None);
    assert_eq!(
        detail(&refused),
        (
            415,
            Some(format!("Unsupported media type \"{FORM}\" in request."))
        )
    );
    // The view's FormParser reads the form the JSON-only defaults would refuse.
    let form_view = gate_with(
        &db,
        "",
        &format!(
            "DEFAULT_PARSER_CLASSES = [\"rest_framework.parsers.JSONParser\"]\n{}",
            route(r#"["rest_framework.parsers.FormParser"]"#)
        ),
    );
    assert_eq!(
        user(&decide_read(&form_view, &form)).as_deref(),
        Some("john")
    );
    let json = post(Some("application/json"), "{}", Some(SECRET));
    let (wanted, refused) = decide(&form_view, &json, None);
    assert_eq!(wanted, None);
    assert_eq!(refused.status(), 415);
    // A parser class the gate does not know, first: DRF's answer is the application's.
    let unknown_view = gate_with(&db, "", &route(r#"["myapp.parsers.YamlParser"]"#));
    assert_eq!(decide(&unknown_view, &form, None), (None, Decision::Pass));
    // A pass route is not judged: parser classes on it are refused.
    let pass = format!(
        "[django]\nDATABASE = \"sqlite://{}\"\n[[routes]]\npath = \"a/\"\npass = true\n\
         parser_classes = [\"rest_framework.parsers.JSONParser\"]\n",
        db.display()
    );
    let error = Config::from_str_with_origin(&pass, "test.toml", None)
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("routes[0].parser_classes"),
        "{error}"
    );
}
