//! DRF's refusal as an `http` response.

use bytes::Bytes;
use drfgate::{Body, Deny};
use http::header::{HeaderValue, ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

/// The response DRF sends for `deny`: its status, its body with its `Content-Type`
/// (`application/json` for DRF's JSON, Django's HTML for the 400 of a refused host), `WWW-Authenticate` (401 only) and `Allow` (when the
/// route lists its methods). A server sends no body for HEAD by itself.
pub fn deny_response<B: From<Bytes>>(deny: &Deny) -> Response<B> {
    let body = match &deny.body {
        Body::Static(bytes) => Bytes::from_static(bytes),
        Body::Shared(bytes) => Bytes::from_owner(bytes.clone()),
    };
    let mut response = Response::new(B::from(body));
    *response.status_mut() =
        StatusCode::from_u16(deny.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(deny.content_type));
    // Both come from the config (a keyword, a realm, method names); a value that is not a
    // valid header would already be refused by DRF's own server, so it is left out.
    if let Some(value) = deny.www_authenticate.as_deref().and_then(header_value) {
        headers.insert(WWW_AUTHENTICATE, value);
    }
    if let Some(value) = deny.allow.as_deref().and_then(header_value) {
        headers.insert(ALLOW, value);
    }
    if let Some(seconds) = deny.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}

/// DRF's 500, for when the decision itself could not be made.
pub(crate) fn server_error<B: From<Bytes>>() -> Response<B> {
    deny_response(&drfgate::exceptions::ApiError::ServerError.into_deny(None, None))
}

/// 503 when the decisions waiting for the blocking pool are at their limit: the body of
/// the `ServiceUnavailable` exception in DRF's documentation, and `Retry-After: 1`.
pub(crate) fn busy<B: From<Bytes>>() -> Response<B> {
    let mut response = Response::new(B::from(Bytes::from_static(
        b"{\"detail\":\"Service temporarily unavailable, try again later.\"}",
    )));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(Deny::CONTENT_TYPE));
    headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_refusal_has_drf_status_body_and_headers() {
        let deny = Deny {
            status: 401,
            body: Body::Static(b"{\"detail\":\"Invalid token.\"}"),
            www_authenticate: Some(Arc::from("Token")),
            allow: Some(Arc::from("GET, HEAD, OPTIONS")),
            retry_after: None,
            content_type: Deny::CONTENT_TYPE,
        };
        let response: Response<Bytes> = deny_response(&deny);
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Token");
        assert_eq!(response.headers()[ALLOW], "GET, HEAD, OPTIONS");
        assert_eq!(response.body(), &b"{\"detail\":\"Invalid token.\"}"[..]);
    }

    #[test]
    fn shared_bodies_and_absent_headers() {
        let deny = Deny {
            status: 403,
            body: Body::Shared(Arc::from(&b"{\"error\":\"nope\"}"[..])),
            www_authenticate: None,
            allow: None,
            retry_after: None,
            content_type: Deny::CONTENT_TYPE,
        };
        let response: Response<Bytes> = deny_response(&deny);
        assert_eq!(response.status(), 403);
        assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
        assert!(response.headers().get(ALLOW).is_none());
        assert_eq!(response.body(), &b"{\"error\":\"nope\"}"[..]);
        let response: Response<Bytes> = server_error();
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.body(),
            &b"{\"detail\":\"A server error occurred.\"}"[..]
        );
    }
}
