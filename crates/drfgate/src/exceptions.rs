//! DRF's API exceptions and how its default exception handler renders them.
//!
//! The fixed messages are pre-rendered `&'static` bodies: a refusal on the hot path costs
//! no formatting.

use std::sync::Arc;

use crate::decision::{Body, Deny};

pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
pub const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";
pub const NOT_FOUND: &str = "Not found.";
pub const SERVER_ERROR: &str = "A server error occurred.";
/// The detail of the gate's 503 when the database cannot answer (the wording of the
/// `ServiceUnavailable` exception in DRF's documentation on custom exceptions).
pub const SERVICE_UNAVAILABLE: &str = "Service temporarily unavailable, try again later.";

pub const TOKEN_NO_CREDENTIALS: &str = "Invalid token header. No credentials provided.";
pub const TOKEN_SPACES: &str = "Invalid token header. Token string should not contain spaces.";
pub const TOKEN_INVALID_CHARACTERS: &str =
    "Invalid token header. Token string should not contain invalid characters.";
pub const INVALID_TOKEN: &str = "Invalid token.";
pub const USER_INACTIVE: &str = "User inactive or deleted.";

pub const BASIC_NO_CREDENTIALS: &str = "Invalid basic header. No credentials provided.";
pub const BASIC_SPACES: &str =
    "Invalid basic header. Credentials string should not contain spaces.";
pub const BASIC_NOT_BASE64: &str =
    "Invalid basic header. Credentials not correctly base64 encoded.";
pub const INVALID_USERNAME_PASSWORD: &str = "Invalid username/password.";

/// The body of the refusal a request without credentials gets: named, not looked up.
const NOT_AUTHENTICATED_BODY: &[u8] =
    br#"{"detail":"Authentication credentials were not provided."}"#;

/// Every fixed detail with its pre-rendered body; `static_body` looks them up.
const FIXED_BODIES: &[(&str, &[u8])] = &[
    (NOT_AUTHENTICATED, NOT_AUTHENTICATED_BODY),
    (
        PERMISSION_DENIED,
        br#"{"detail":"You do not have permission to perform this action."}"#,
    ),
    (NOT_FOUND, br#"{"detail":"Not found."}"#),
    (SERVER_ERROR, br#"{"detail":"A server error occurred."}"#),
    (
        SERVICE_UNAVAILABLE,
        br#"{"detail":"Service temporarily unavailable, try again later."}"#,
    ),
    (
        TOKEN_NO_CREDENTIALS,
        br#"{"detail":"Invalid token header. No credentials provided."}"#,
    ),
    (
        TOKEN_SPACES,
        br#"{"detail":"Invalid token header. Token string should not contain spaces."}"#,
    ),
    (
        TOKEN_INVALID_CHARACTERS,
        br#"{"detail":"Invalid token header. Token string should not contain invalid characters."}"#,
    ),
    (INVALID_TOKEN, br#"{"detail":"Invalid token."}"#),
    (USER_INACTIVE, br#"{"detail":"User inactive or deleted."}"#),
    (
        BASIC_NO_CREDENTIALS,
        br#"{"detail":"Invalid basic header. No credentials provided."}"#,
    ),
    (
        BASIC_SPACES,
        br#"{"detail":"Invalid basic header. Credentials string should not contain spaces."}"#,
    ),
    (
        BASIC_NOT_BASE64,
        br#"{"detail":"Invalid basic header. Credentials not correctly base64 encoded."}"#,
    ),
    (
        INVALID_USERNAME_PASSWORD,
        br#"{"detail":"Invalid username/password."}"#,
    ),
];

fn static_body(detail: &'static str) -> Body {
    match FIXED_BODIES.iter().find(|(d, _)| *d == detail) {
        Some((_, body)) => Body::Static(body),
        None => Body::Shared(render_detail(detail)),
    }
}

/// DRF's JSON renderer: compact separators, non-ASCII as raw UTF-8, and U+2028/U+2029
/// escaped (DRF does that so the output is also valid JavaScript).
pub fn render_json(value: &serde_json::Value) -> Arc<[u8]> {
    let text = serde_json::to_string(value).unwrap_or_else(|_| String::from("{}"));
    let text = text
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    Arc::from(text.into_bytes())
}

/// `{"detail": "<text>"}` as DRF renders it.
pub fn render_detail(detail: &str) -> Arc<[u8]> {
    let mut map = serde_json::Map::new();
    map.insert("detail".into(), serde_json::Value::String(detail.into()));
    render_json(&serde_json::Value::Object(map))
}

/// A permission's configured `message`, rendered once at load time. A dict or list message
/// becomes the body itself with every leaf coerced to a string, as DRF's `_get_error_details`
/// does; anything else is a `detail` text.
pub fn render_message(message: &serde_json::Value) -> Arc<[u8]> {
    match message {
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
            render_json(&coerce_leaves(message))
        }
        other => render_detail(&python_str(other)),
    }
}

fn coerce_leaves(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), coerce_leaves(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(coerce_leaves).collect()),
        leaf => Value::String(python_str(leaf)),
    }
}

/// Python's `str()` of a JSON leaf, which is what DRF's `force_str` produces.
fn python_str(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                python_float_repr(f)
            } else {
                n.to_string()
            }
        }
        other => other.to_string(),
    }
}

fn python_float_repr(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// DRF's `NotFound`, for paths the gate is told to refuse.
pub fn not_found() -> Deny {
    Deny {
        status: 404,
        body: static_body(NOT_FOUND),
        www_authenticate: None,
        allow: None,
        retry_after: None,
        content_type: Deny::CONTENT_TYPE,
    }
}

/// DRF's `NotAcceptable`, rendered with a JSON first renderer.
pub fn not_acceptable(allow: Option<&Arc<str>>) -> Deny {
    Deny {
        status: 406,
        body: Body::Static(br#"{"detail":"Could not satisfy the request Accept header."}"#),
        www_authenticate: None,
        allow: allow.cloned(),
        content_type: Deny::CONTENT_TYPE,
        retry_after: None,
    }
}

/// A refusal's JSON body as DRF's JSON renderer writes it for an accepted media type with
/// `indent=N`: `json.dumps(data, indent=N, separators=(",", ": "))`. `None` when the body is
/// not JSON.
pub fn render_indented(body: &[u8], indent: usize) -> Option<Body> {
    use serde::Serialize;
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let spaces = vec![b' '; indent];
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(&spaces);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut serializer).ok()?;
    let text = String::from_utf8(out).ok()?;
    let text = text
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    Some(Body::Shared(Arc::from(text.into_bytes())))
}

/// One of DRF's API exceptions, as raised by an authenticator or a permission check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// `NotAuthenticated`: a permission denied an unauthenticated request.
    NotAuthenticated,
    /// `AuthenticationFailed(detail)`: an authenticator recognised its scheme and refused.
    AuthenticationFailed(&'static str),
    /// `AuthenticationFailed` whose detail is a dict (simplejwt's `{"detail", "code", …}`),
    /// rendered once by the authenticator.
    AuthenticationFailedBody(Body),
    /// `PermissionDenied` with a permission's (pre-rendered) message.
    PermissionDenied(Body),
    /// `MethodNotAllowed(method)`.
    MethodNotAllowed(Box<str>),
    /// `UnsupportedMediaType(content_type)`: no parser for the body (415), raised when the
    /// CSRF check reads `request.POST`.
    UnsupportedMediaType(String),
    /// A `SuspiciousOperation` Django raised while reading the body (`RequestDataTooBig`,
    /// `TooManyFieldsSent`): its 400 page, not DRF's JSON.
    BadRequest,
    /// Something Django would raise on (a value its field cannot convert, a malformed token
    /// knox decodes): DRF answers 500; the gate fails closed with a 500 of its own.
    ServerError,
    /// The database did not answer (down, locked, missing a table). Django answers 500 with its
    /// HTML page; the gate fails closed with a 503 in DRF's JSON shape, which proxies and
    /// clients know to retry (docs/differences.md).
    Unavailable,
}

impl ApiError {
    pub fn permission_denied() -> ApiError {
        ApiError::PermissionDenied(Body::Static(
            br#"{"detail":"You do not have permission to perform this action."}"#,
        ))
    }

    /// `SessionAuthentication.enforce_csrf`'s `PermissionDenied("CSRF Failed: <reason>")`.
    pub fn csrf_failed(reason: &str) -> ApiError {
        ApiError::PermissionDenied(Body::Shared(render_detail(&format!(
            "CSRF Failed: {reason}"
        ))))
    }

    /// Render as DRF's `handle_exception` does. `challenge` is the first configured
    /// authenticator's `authenticate_header()`: present → 401 with it, absent → 403
    /// (only for NotAuthenticated and AuthenticationFailed).
    pub fn into_deny(self, challenge: Option<&Arc<str>>, allow: Option<&Arc<str>>) -> Deny {
        let allow = allow.cloned();
        let unauthenticated = |body: Body| match challenge {
            Some(value) => Deny {
                status: 401,
                body,
                www_authenticate: Some(value.clone()),
                allow: allow.clone(),
                retry_after: None,
                content_type: Deny::CONTENT_TYPE,
            },
            None => Deny {
                status: 403,
                body,
                www_authenticate: None,
                allow: allow.clone(),
                retry_after: None,
                content_type: Deny::CONTENT_TYPE,
            },
        };
        match self {
            ApiError::NotAuthenticated => unauthenticated(Body::Static(NOT_AUTHENTICATED_BODY)),
            ApiError::AuthenticationFailed(detail) => unauthenticated(static_body(detail)),
            ApiError::AuthenticationFailedBody(body) => unauthenticated(body),
            ApiError::PermissionDenied(body) => Deny {
                status: 403,
                body,
                www_authenticate: None,
                allow,
                retry_after: None,
                content_type: Deny::CONTENT_TYPE,
            },
            ApiError::MethodNotAllowed(method) => Deny {
                status: 405,
                body: Body::Shared(render_detail(&format!("Method \"{method}\" not allowed."))),
                www_authenticate: None,
                allow,
                retry_after: None,
                content_type: Deny::CONTENT_TYPE,
            },
            ApiError::UnsupportedMediaType(content_type) => Deny {
                status: 415,
                body: Body::Shared(render_detail(&unsupported_media_type(&content_type))),
                www_authenticate: None,
                allow,
                retry_after: None,
                content_type: Deny::CONTENT_TYPE,
            },
            ApiError::BadRequest => crate::host::bad_request(),
            ApiError::ServerError => Deny {
                status: 500,
                body: static_body(SERVER_ERROR),
                www_authenticate: None,
                allow: None,
                retry_after: None,
                content_type: Deny::CONTENT_TYPE,
            },
            ApiError::Unavailable => Deny {
                status: 503,
                body: static_body(SERVICE_UNAVAILABLE),
                www_authenticate: None,
                allow: None,
                retry_after: None,
                content_type: Deny::CONTENT_TYPE,
            },
        }
    }

    /// The detail text, for traces.
    pub fn describe(&self) -> String {
        match self {
            ApiError::NotAuthenticated => NOT_AUTHENTICATED.into(),
            ApiError::AuthenticationFailed(d) => (*d).into(),
            ApiError::AuthenticationFailedBody(body) => String::from_utf8_lossy(body).into_owned(),
            ApiError::PermissionDenied(body) => String::from_utf8_lossy(body).into_owned(),
            ApiError::MethodNotAllowed(m) => format!("Method \"{m}\" not allowed."),
            ApiError::UnsupportedMediaType(c) => unsupported_media_type(c),
            ApiError::BadRequest => "Bad Request (400): Django's page".into(),
            ApiError::ServerError => SERVER_ERROR.into(),
            ApiError::Unavailable => SERVICE_UNAVAILABLE.into(),
        }
    }
}

fn unsupported_media_type(content_type: &str) -> String {
    format!("Unsupported media type \"{content_type}\" in request.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indented_bodies_match_python() {
        let body = render_indented(br#"{"detail":"Invalid token."}"#, 4).unwrap();
        assert_eq!(&*body, b"{\n    \"detail\": \"Invalid token.\"\n}");
        let body = render_indented(br#"{"a":["x",{}],"b":[]}"#, 1).unwrap();
        assert_eq!(&*body, b"{\n \"a\": [\n  \"x\",\n  {}\n ],\n \"b\": []\n}");
    }

    #[test]
    fn fixed_bodies_match_the_renderer() {
        for (detail, body) in FIXED_BODIES {
            assert_eq!(&*render_detail(detail), *body, "{detail}");
        }
    }

    #[test]
    fn not_authenticated_body_is_58_bytes() {
        assert_eq!(static_body(NOT_AUTHENTICATED).len(), 58);
    }

    #[test]
    fn dict_messages_coerce_leaves_to_strings_in_order() {
        let msg = serde_json::json!({"error": "nope", "n": 1, "ok": true, "f": 1.0, "none": null});
        assert_eq!(
            &*render_message(&msg),
            br#"{"error":"nope","n":"1","ok":"True","f":"1.0","none":"None"}"#
        );
    }

    #[test]
    fn line_separators_are_escaped_and_non_ascii_is_raw() {
        assert_eq!(
            &*render_detail("é\u{2028}x\u{2029}"),
            "{\"detail\":\"é\\u2028x\\u2029\"}".as_bytes()
        );
    }

    #[test]
    fn unauthenticated_is_401_with_a_challenge_else_403() {
        let token: Arc<str> = Arc::from("Token");
        let d = ApiError::NotAuthenticated.into_deny(Some(&token), None);
        assert_eq!(
            (d.status, d.www_authenticate.as_deref()),
            (401, Some("Token"))
        );
        let d = ApiError::AuthenticationFailed(INVALID_TOKEN).into_deny(None, None);
        assert_eq!((d.status, d.www_authenticate), (403, None));
        let d = ApiError::permission_denied().into_deny(Some(&token), None);
        assert_eq!((d.status, d.www_authenticate), (403, None));
    }

    #[test]
    fn method_not_allowed_names_the_method() {
        let d = ApiError::MethodNotAllowed("BREW".into()).into_deny(None, None);
        assert_eq!(d.status, 405);
        assert_eq!(&*d.body, br#"{"detail":"Method \"BREW\" not allowed."}"#);
    }
}
