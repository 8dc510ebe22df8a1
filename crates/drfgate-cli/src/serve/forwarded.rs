//! The original request behind a forward-auth request: a reverse proxy asks "may this
//! request pass?" with a request of its own, and names the original method and URI in
//! headers. Only the header families the config trusts are read.

use bytes::Bytes;
use drfgate::ForwardedHeaders;
use drfgate_tower::ConnectionInfo;
use http::{HeaderMap, Method, Request, Uri};

struct Names {
    method: &'static str,
    uri: &'static str,
    proto: Option<&'static str>,
}

fn names(family: ForwardedHeaders) -> Names {
    match family {
        ForwardedHeaders::XOriginal => Names {
            method: "x-original-method",
            uri: "x-original-uri",
            proto: None,
        },
        ForwardedHeaders::XForwarded => Names {
            method: "x-forwarded-method",
            uri: "x-forwarded-uri",
            proto: Some("x-forwarded-proto"),
        },
    }
}

/// Why the forwarded headers could not describe a request.
#[derive(Debug, PartialEq, Eq)]
pub struct BadForwarded(pub String);

/// Whether any trusted family's headers are on the request.
pub fn is_forwarded(headers: &HeaderMap, trusted: &[ForwardedHeaders]) -> bool {
    trusted.iter().any(|&family| {
        let names = names(family);
        headers.contains_key(names.method) || headers.contains_key(names.uri)
    })
}

/// The request to decide: rebuilt from the first trusted family present, else the request
/// itself. Headers, extensions and body stay those of the request received.
pub fn original_request<B>(
    request: Request<B>,
    trusted: &[ForwardedHeaders],
) -> Result<Request<B>, BadForwarded> {
    let Some(family) = trusted.iter().copied().find(|&family| {
        let names = names(family);
        request.headers().contains_key(names.method) || request.headers().contains_key(names.uri)
    }) else {
        return Ok(request);
    };
    let names = names(family);
    let (mut parts, body) = request.into_parts();
    if let Some(value) = single(&parts.headers, names.method)? {
        parts.method = Method::from_bytes(value.trim_ascii()).map_err(|_| {
            BadForwarded(format!(
                "{} is not an HTTP method: {:?}",
                names.method,
                String::from_utf8_lossy(value)
            ))
        })?;
    }
    if let Some(value) = single(&parts.headers, names.uri)? {
        parts.uri = origin_form(value).ok_or_else(|| {
            BadForwarded(format!(
                "{} is not a request target (a path starting with '/', with an optional query): {:?}",
                names.uri,
                String::from_utf8_lossy(value)
            ))
        })?;
    }
    if let Some(proto) = names.proto {
        if let Some(value) = single(&parts.headers, proto)? {
            let secure = value.trim_ascii().eq_ignore_ascii_case(b"https");
            let connection = parts.extensions.get_or_insert_with(ConnectionInfo::default);
            connection.secure = secure;
        }
    }
    Ok(Request::from_parts(parts, body))
}

/// A header that must appear at most once: two values would leave the original request in
/// doubt, so they are refused.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h [u8]>, BadForwarded> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(BadForwarded(format!("{name} appears more than once")));
    }
    Ok(first.map(|v| v.as_bytes()))
}

/// `/path?query` as sent (still percent-encoded). An absolute URI's path and query are
/// taken too, as some proxies send one.
fn origin_form(value: &[u8]) -> Option<Uri> {
    let uri = Uri::from_maybe_shared(Bytes::copy_from_slice(value.trim_ascii())).ok()?;
    let path_and_query = uri.path_and_query()?.clone();
    if !path_and_query.path().starts_with('/') {
        return None;
    }
    Uri::from_maybe_shared(Bytes::copy_from_slice(path_and_query.as_str().as_bytes())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use drfgate::ForwardedHeaders::{XForwarded, XOriginal};

    fn request(headers: &[(&str, &[u8])]) -> Request<()> {
        let mut builder = Request::get("/_drfgate/auth");
        for (name, value) in headers {
            builder = builder.header(*name, http::HeaderValue::from_bytes(value).unwrap());
        }
        builder.body(()).unwrap()
    }

    fn seen(request: Result<Request<()>, BadForwarded>) -> (String, String, bool) {
        let request = request.unwrap();
        let secure = request
            .extensions()
            .get::<ConnectionInfo>()
            .is_some_and(|c| c.secure);
        (
            request.method().to_string(),
            request.uri().to_string(),
            secure,
        )
    }

    #[test]
    fn untrusted_headers_are_ignored() {
        let r = request(&[
            ("x-original-uri", b"/api/orders/"),
            ("x-forwarded-uri", b"/api/x/"),
        ]);
        assert_eq!(
            seen(original_request(r, &[])),
            ("GET".into(), "/_drfgate/auth".into(), false)
        );
        let r = request(&[("x-original-uri", b"/api/orders/")]);
        assert_eq!(
            seen(original_request(r, &[XForwarded])),
            ("GET".into(), "/_drfgate/auth".into(), false)
        );
    }

    #[test]
    fn nginx_auth_request_headers() {
        let r = request(&[
            ("x-original-method", b"POST"),
            ("x-original-uri", b"/api/orders/?page=2"),
        ]);
        assert_eq!(
            seen(original_request(r, &[XOriginal])),
            ("POST".into(), "/api/orders/?page=2".into(), false)
        );
        // Any extension method DRF would see, as sent.
        let r = request(&[("x-original-method", b"BREW")]);
        assert_eq!(
            seen(original_request(r, &[XOriginal])).0,
            "BREW".to_string()
        );
    }

    #[test]
    fn caddy_and_traefik_headers_with_the_scheme() {
        let r = request(&[
            ("x-forwarded-method", b"DELETE"),
            ("x-forwarded-uri", b"/api/orders/7/"),
            ("x-forwarded-proto", b"https"),
        ]);
        assert_eq!(
            seen(original_request(r, &[XOriginal, XForwarded])),
            ("DELETE".into(), "/api/orders/7/".into(), true)
        );
    }

    #[test]
    fn the_first_trusted_family_present_wins() {
        let headers: &[(&str, &[u8])] = &[("x-original-uri", b"/a/"), ("x-forwarded-uri", b"/b/")];
        assert_eq!(
            seen(original_request(request(headers), &[XOriginal, XForwarded])).1,
            "/a/"
        );
        assert_eq!(
            seen(original_request(request(headers), &[XForwarded, XOriginal])).1,
            "/b/"
        );
    }

    #[test]
    fn absolute_uris_give_their_path_and_query() {
        let r = request(&[("x-forwarded-uri", b"https://shop.example/api/orders/?q=1")]);
        assert_eq!(
            seen(original_request(r, &[XForwarded])).1,
            "/api/orders/?q=1"
        );
    }

    #[test]
    fn malformed_or_repeated_headers_are_refused() {
        for headers in [
            &[("x-original-uri", &b"api/orders/"[..])][..],
            &[("x-original-uri", b"/a b/")],
            &[("x-original-method", b"GE T")],
            &[("x-original-method", b"")],
            &[("x-original-uri", b"/a/"), ("x-original-uri", b"/b/")],
        ] {
            assert!(
                original_request(request(headers), &[XOriginal]).is_err(),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn raw_bytes_in_the_uri_never_panic() {
        let r = request(&[("x-original-uri", b"/caf\xc3\xa9/")]);
        assert_eq!(seen(original_request(r, &[XOriginal])).1, "/caf\u{e9}/");
        for byte in 0x80..=0xffu8 {
            let value = [b'/', byte, b'/'];
            let _ = original_request(request(&[("x-original-uri", &value)]), &[XOriginal]);
        }
    }

    #[test]
    fn is_forwarded_looks_at_trusted_families_only() {
        let r = request(&[("x-forwarded-uri", b"/b/")]);
        assert!(!is_forwarded(r.headers(), &[XOriginal]));
        assert!(is_forwarded(r.headers(), &[XOriginal, XForwarded]));
    }
}
