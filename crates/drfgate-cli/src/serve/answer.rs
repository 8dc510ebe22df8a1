//! What `drfgate serve` answers for an allowed request, and for its health endpoint.

use std::sync::LazyLock;

use bytes::Bytes;
use drfgate::{Decision, UserPk};
use drfgate_tower::{deny_response, Judged};
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::Full;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};

pub const HEADER_USER: &str = "x-drfgate-user";
pub const HEADER_USER_ID: &str = "x-drfgate-user-id";
pub const HEADER_AUTH: &str = "x-drfgate-auth";
pub const HEADER_ROUTE: &str = "x-drfgate-route";
pub const HEADER_DECISION: &str = "x-drfgate-decision";
pub const HEADER_SIGNATURE: &str = "x-drfgate-signature";
pub const HEADER_USER_FLAGS: &str = "x-drfgate-user-flags";
pub const HEALTH_PATH: &str = "/.drfgate/health";

/// The names of the identity headers, parsed once.
const USER: HeaderName = HeaderName::from_static(HEADER_USER);
const USER_ID: HeaderName = HeaderName::from_static(HEADER_USER_ID);
const AUTH: HeaderName = HeaderName::from_static(HEADER_AUTH);
const ROUTE: HeaderName = HeaderName::from_static(HEADER_ROUTE);
const DECISION: HeaderName = HeaderName::from_static(HEADER_DECISION);
const SIGNATURE: HeaderName = HeaderName::from_static(HEADER_SIGNATURE);
const USER_FLAGS: HeaderName = HeaderName::from_static(HEADER_USER_FLAGS);

/// 200 with the identity in headers: `X-Drfgate-User` (percent-encoded UTF-8 username),
/// `X-Drfgate-User-Id` (the pk) and `X-Drfgate-Auth` (`token`, `basic`, `remote_user`, or
/// `anonymous` when DRF lets an unauthenticated request through), and `X-Drfgate-Route`
/// (the route's `name`, else its pattern; visible ASCII other than `%` as it is, every other
/// UTF-8 byte as `%XX`) when a configured route decided; `X-Drfgate-Decision: pass` when the
/// gate passed the request on without an opinion (an unmatched path under `unmatched = "pass"`,
/// or a session request it deferred to the application's own DRF). Written straight from the
/// decision ([`drfgate_tower::DrfGateLayer::answer`]); a refusal never reaches here.
pub fn allowed(judged: Judged<'_>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    let identity = match &judged.decision {
        Decision::Allow(identity) => identity.as_ref(),
        Decision::Pass => None,
        // Answered by the Layer before; DRF's refusal all the same, never a 200.
        Decision::Deny(deny) => return deny_response(deny),
    };
    let headers = response.headers_mut();
    match identity {
        Some(identity) => {
            let id = match &identity.user.pk {
                // Digits and `-`: nothing to encode.
                UserPk::Int(pk) => HeaderValue::from(*pk),
                UserPk::Text(pk) => username_value(pk),
            };
            let values = [
                username_value(&identity.user.username),
                id,
                HeaderValue::from_static(identity.scheme.as_str()),
            ];
            match judged.route {
                Some(route) => {
                    let [user, id, auth] = values;
                    *headers = identity_headers(
                        &IDENTITY_AND_ROUTE,
                        [user, id, auth, visible_value(route)],
                    );
                }
                None => *headers = identity_headers(&IDENTITY, values),
            }
        }
        None => {
            headers.insert(AUTH, HeaderValue::from_static("anonymous"));
            if matches!(judged.decision, Decision::Pass) {
                headers.insert(DECISION, HeaderValue::from_static("pass"));
            }
            if let Some(route) = judged.route {
                headers.insert(ROUTE, visible_value(route));
            }
        }
    }
    // `[handoff]`: the identity signed for the application (python/drfgate-django).
    if let Some(handoff) = judged.handoff {
        headers.insert(SIGNATURE, ascii_value(handoff.signature));
        if identity.is_some() {
            headers.insert(USER_FLAGS, ascii_value(handoff.flags.to_owned()));
        }
    }
    response
}

/// The headers of an answer with an identity, in the order they are sent, the names hashed
/// and laid out once: a request's answer is a copy with its values written in place.
static IDENTITY: LazyLock<HeaderMap> = LazyLock::new(|| layout(&[USER, USER_ID, AUTH]));
static IDENTITY_AND_ROUTE: LazyLock<HeaderMap> =
    LazyLock::new(|| layout(&[USER, USER_ID, AUTH, ROUTE]));

fn layout(names: &[HeaderName]) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(names.len() + 2);
    for name in names {
        headers.insert(name.clone(), HeaderValue::from_static(""));
    }
    headers
}

/// `layout`'s names with `values`, in order.
fn identity_headers<const N: usize>(layout: &HeaderMap, values: [HeaderValue; N]) -> HeaderMap {
    let mut headers = layout.clone();
    debug_assert_eq!(headers.len(), N);
    for (slot, value) in headers.values_mut().zip(values) {
        *slot = value;
    }
    headers
}

pub fn health() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"{\"status\":\"ok\"}")));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// DRF's 500, for an answer asked for twice (never, from hyper).
pub fn server_error() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(
        b"{\"detail\":\"A server error occurred.\"}",
    )));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
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
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// [`percent_encode`]d as a header value; copied as it is when nothing needs encoding (the
/// usual username), without formatting.
fn username_value(text: &str) -> HeaderValue {
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~@+".contains(&b))
    {
        return HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""));
    }
    ascii_value(percent_encode(text))
}

/// [`percent_encode_visible`]d as a header value; copied as it is when nothing needs
/// encoding (the usual route label).
fn visible_value(text: &str) -> HeaderValue {
    if text.bytes().all(|b| b.is_ascii_graphic() && b != b'%') {
        return HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""));
    }
    ascii_value(percent_encode_visible(text))
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
    fn identity_headers_are_the_names_in_order_with_their_values() {
        let headers = identity_headers(
            &IDENTITY_AND_ROUTE,
            [
                HeaderValue::from_static("john"),
                HeaderValue::from(7i64),
                HeaderValue::from_static("token"),
                HeaderValue::from_static("api/x/"),
            ],
        );
        let sent: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.to_str().unwrap()))
            .collect();
        assert_eq!(
            sent,
            [
                (HEADER_USER, "john"),
                (HEADER_USER_ID, "7"),
                (HEADER_AUTH, "token"),
                (HEADER_ROUTE, "api/x/"),
            ]
        );
        assert_eq!(headers.get(HEADER_USER_ID).unwrap(), "7");
        let headers = identity_headers(
            &IDENTITY,
            [
                HeaderValue::from_static("a"),
                HeaderValue::from_static("b"),
                HeaderValue::from_static("c"),
            ],
        );
        assert_eq!(headers.len(), 3);
        assert_eq!(headers.get(HEADER_AUTH).unwrap(), "c");
        assert!(headers.get(HEADER_ROUTE).is_none());
    }

    #[test]
    fn the_unencoded_shortcuts_give_the_encoded_values() {
        let texts = [
            "john",
            "john.doe+x@example-1_~",
            "walterwhité",
            "a b%\r\n",
            "api/orders/<int:pk>/",
            "^caf\u{e9} 100%$",
            "\u{7f}",
            "",
        ];
        for text in texts {
            assert_eq!(
                username_value(text),
                HeaderValue::from_str(&percent_encode(text)).unwrap(),
                "{text:?}"
            );
            assert_eq!(
                visible_value(text),
                HeaderValue::from_str(&percent_encode_visible(text)).unwrap(),
                "{text:?}"
            );
        }
        for pk in [0i64, 7, -3, i64::MAX, i64::MIN] {
            assert_eq!(HeaderValue::from(pk), pk.to_string().as_str());
        }
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
