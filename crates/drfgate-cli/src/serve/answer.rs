//! What `drfgate serve` answers for an allowed request, and for its health endpoint.

use std::convert::Infallible;

use bytes::Bytes;
use drfgate::handoff::Handoff;
use drfgate::Identity;
use drfgate_tower::JudgedRoute;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};

pub const HEADER_USER: &str = "x-drfgate-user";
pub const HEADER_USER_ID: &str = "x-drfgate-user-id";
pub const HEADER_AUTH: &str = "x-drfgate-auth";
pub const HEADER_ROUTE: &str = "x-drfgate-route";
pub const HEADER_SIGNATURE: &str = "x-drfgate-signature";
pub const HEADER_USER_FLAGS: &str = "x-drfgate-user-flags";
pub const HEALTH_PATH: &str = "/.drfgate/health";

/// 200 with the identity in headers: `X-Drfgate-User` (percent-encoded UTF-8 username),
/// `X-Drfgate-User-Id` (the pk) and `X-Drfgate-Auth` (`token`, `basic`, `remote_user`, or
/// `anonymous` when DRF lets an unauthenticated request through), and `X-Drfgate-Route`
/// (the route's `name`, else its pattern; visible ASCII other than `%` as it is, every other
/// UTF-8 byte as `%XX`) when a configured route decided.
pub async fn allowed<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::default());
    let headers = response.headers_mut();
    match request.extensions().get::<Identity>() {
        Some(identity) => {
            headers.insert(
                HEADER_USER,
                ascii_value(percent_encode(&identity.user.username)),
            );
            headers.insert(
                HEADER_USER_ID,
                ascii_value(percent_encode(&identity.user.pk.to_string())),
            );
            headers.insert(
                HEADER_AUTH,
                HeaderValue::from_static(identity.scheme.as_str()),
            );
        }
        None => {
            headers.insert(HEADER_AUTH, HeaderValue::from_static("anonymous"));
        }
    }
    if let Some(JudgedRoute(route)) = request.extensions().get::<JudgedRoute>() {
        headers.insert(HEADER_ROUTE, ascii_value(percent_encode_visible(route)));
    }
    // `[handoff]`: the identity signed for the application (python/drfgate-django).
    if let Some(handoff) = request.extensions().get::<Handoff>() {
        headers.insert(HEADER_SIGNATURE, ascii_value(handoff.signature.clone()));
        if request.extensions().get::<Identity>().is_some() {
            headers.insert(HEADER_USER_FLAGS, ascii_value(handoff.flags.to_string()));
        }
    }
    Ok(response)
}

pub fn health() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"{\"status\":\"ok\"}")));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A request `serve` cannot read (bad forwarded headers): 400 with DRF's JSON shape.
pub fn bad_request(message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "detail": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// What [`percent_encode`] encodes: all but ASCII letters, digits and `-._~@+` (non-ASCII
/// bytes are always encoded).
const USERNAME: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b'+');

/// What [`percent_encode_visible`] encodes: controls, space and `%` (and non-ASCII bytes).
const INVISIBLE: &AsciiSet = &CONTROLS.add(b' ').add(b'%');

/// Text for a header value: RFC 3986's unreserved characters (and `@`, `+`, common in
/// Django usernames) as they are, every other UTF-8 byte as `%XX`. Usernames may be in any
/// script; this keeps the header ASCII and unambiguous.
pub fn percent_encode(text: &str) -> String {
    utf8_percent_encode(text, USERNAME).to_string()
}

/// Text for a header value that keeps a pattern readable: visible ASCII (but `%`) as it is,
/// every other UTF-8 byte (space, controls, non-ASCII) as `%XX`.
pub fn percent_encode_visible(text: &str) -> String {
    utf8_percent_encode(text, INVISIBLE).to_string()
}

fn ascii_value(text: String) -> HeaderValue {
    // Only ASCII letters, digits, `-._~@+` and `%XX` remain: always a valid value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_percent_encoded_beyond_the_safe_set() {
        assert_eq!(
            percent_encode("john.doe+x@example-1_~"),
            "john.doe+x@example-1_~"
        );
        assert_eq!(percent_encode("walterwhité"), "walterwhit%C3%A9");
        assert_eq!(percent_encode("a b%\r\n"), "a%20b%25%0D%0A");
    }

    #[test]
    fn route_labels_keep_visible_ascii() {
        assert_eq!(
            percent_encode_visible("api/orders/<int:pk>/"),
            "api/orders/<int:pk>/"
        );
        assert_eq!(
            percent_encode_visible("^caf\u{e9} 100%$"),
            "^caf%C3%A9%20100%25$"
        );
    }

    #[test]
    fn the_ascii_sets_keep_exactly_the_documented_bytes() {
        for byte in 0u8..0x80 {
            let text = char::from(byte).to_string();
            let encoded = format!("%{byte:02X}");
            let username_keeps = byte.is_ascii_alphanumeric() || b"-._~@+".contains(&byte);
            let visible_keeps = byte.is_ascii_graphic() && byte != b'%';
            let expect = |keeps: bool| if keeps { text.clone() } else { encoded.clone() };
            assert_eq!(percent_encode(&text), expect(username_keeps), "{byte:#04x}");
            assert_eq!(
                percent_encode_visible(&text),
                expect(visible_keeps),
                "{byte:#04x}"
            );
        }
    }
}
