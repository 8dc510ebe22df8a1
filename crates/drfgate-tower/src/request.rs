//! The gate's borrowed view of an `http` request head.

use std::borrow::Cow;

use bytes::Bytes;
use drfgate::HeaderSource;
use http::header::{self, HeaderName};
use http::request::Parts;
use http::HeaderMap;

/// What a WSGI server would tell Django beyond the HTTP request itself. Put it in the
/// request's extensions before the gate runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The client's connection is HTTPS (`request.is_secure()`).
    pub secure: bool,
    /// The `REMOTE_USER` server variable, for `RemoteUserAuthentication`. Set it only from
    /// the front end's own authentication, never from a client header.
    pub remote_user: Option<Bytes>,
    /// The `REMOTE_ADDR` server variable (the client's address as text), which DRF's
    /// throttles identify anonymous clients by. `None`: unknown (DRF would key on `None`).
    pub remote_addr: Option<Bytes>,
}

/// `http`'s header map as the gate reads headers: raw value bytes, in arrival order.
pub struct HttpHeaders<'a>(pub &'a HeaderMap);

/// The names the gate asks for on every request (or on every request of a kind), already
/// parsed: looking one up by text parses and lower-cases the text first.
fn known(name: &str) -> Option<HeaderName> {
    Some(match name {
        "Authorization" => header::AUTHORIZATION,
        "Accept" => header::ACCEPT,
        "Cookie" => header::COOKIE,
        "Host" => header::HOST,
        "Content-Type" => header::CONTENT_TYPE,
        "Content-Length" => header::CONTENT_LENGTH,
        "Transfer-Encoding" => header::TRANSFER_ENCODING,
        "Origin" => header::ORIGIN,
        "Referer" => header::REFERER,
        _ => return None,
    })
}

impl HttpHeaders<'_> {
    fn all(&self, name: &str) -> http::header::GetAll<'_, http::HeaderValue> {
        match known(name) {
            Some(name) => self.0.get_all(name),
            None => self.0.get_all(name),
        }
    }
}

impl HeaderSource for HttpHeaders<'_> {
    fn for_each_value(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for value in self.all(name) {
            f(value.as_bytes());
        }
    }

    /// Borrows the value when the header appears once, which is nearly always.
    fn get(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        let mut values = self.all(name).iter();
        let first = values.next()?;
        let Some(second) = values.next() else {
            return Some(Cow::Borrowed(first.as_bytes()));
        };
        let mut joined = first.as_bytes().to_vec();
        for value in std::iter::once(second).chain(values) {
            joined.push(b',');
            joined.extend_from_slice(value.as_bytes());
        }
        Some(Cow::Owned(joined))
    }
}

/// Calls `f` with the gate's view of `parts`, its server variables from the [`ConnectionInfo`]
/// in its extensions.
pub(crate) fn with_gate_request<T>(parts: &Parts, f: impl FnOnce(&drfgate::Request<'_>) -> T) -> T {
    with_gate_view(parts, parts.extensions.get::<ConnectionInfo>(), f)
}

/// Calls `f` with the gate's view of `parts`, its server variables from `connection`.
pub(crate) fn with_gate_view<T>(
    parts: &Parts,
    connection: Option<&ConnectionInfo>,
    f: impl FnOnce(&drfgate::Request<'_>) -> T,
) -> T {
    let headers = HttpHeaders(&parts.headers);
    // The connection's, never the target's: an absolute-form `https://` target sent over plain
    // HTTP is not secure to any WSGI server (gunicorn and mod_wsgi take the scheme from the
    // connection), so Django's CSRF Origin and Referer checks stay those of HTTP.
    let secure = connection.is_some_and(|c| c.secure);
    let request = drfgate::Request::new(parts.method.as_str().as_bytes(), path_of(parts))
        .with_headers(&headers)
        .with_remote_user(connection.and_then(|c| c.remote_user.as_deref()))
        .with_remote_addr(connection.and_then(|c| c.remote_addr.as_deref()))
        .with_secure(secure)
        .with_query(Some(parts.uri.query().unwrap_or("").as_bytes()))
        .with_body(
            parts
                .extensions
                .get::<crate::bodies::ReadBody>()
                .map(|read| drfgate::RequestBody {
                    bytes: &read.bytes,
                    complete: read.complete,
                }),
        );
    f(&request)
}

/// The request target's path as sent; `*` and authority-form targets have none, and are
/// seen as `/` (what Django's `path_info` would be).
fn path_of(parts: &Parts) -> &[u8] {
    match parts.uri.path() {
        "" | "*" => b"/",
        path => path.as_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_headers_join_with_a_comma_in_arrival_order() {
        let mut map = HeaderMap::new();
        map.append("authorization", "Token a".parse().unwrap());
        map.append("x-other", "1".parse().unwrap());
        map.append("Authorization", "Token b".parse().unwrap());
        let headers = HttpHeaders(&map);
        assert_eq!(
            headers.get("AUTHORIZATION").as_deref(),
            Some(&b"Token a,Token b"[..])
        );
        assert!(matches!(headers.get("x-other"), Some(Cow::Borrowed(b"1"))));
        assert_eq!(headers.get("missing"), None);
        // Not a valid header name: simply absent, never a panic.
        assert_eq!(headers.get("bad name\n"), None);
        // A name parsed in advance finds what its text finds, in any case the client sent.
        map.append("cookie", "a=1".parse().unwrap());
        map.append("COOKIE", "b=2".parse().unwrap());
        assert_eq!(headers_of(&map, "Cookie"), headers_of(&map, "cOOKIE"));
        assert_eq!(headers_of(&map, "Cookie"), Some(b"a=1,b=2".to_vec()));
        for name in ["Authorization", "Accept", "Cookie", "Host", "Content-Type"] {
            assert_eq!(known(name).unwrap().as_str(), name.to_ascii_lowercase());
        }
    }

    fn headers_of(map: &HeaderMap, name: &str) -> Option<Vec<u8>> {
        HttpHeaders(map).get(name).map(Cow::into_owned)
    }

    #[test]
    fn header_values_keep_their_raw_bytes() {
        let mut map = HeaderMap::new();
        map.insert(
            "authorization",
            http::HeaderValue::from_bytes(b"Token abcd1234\xb8").unwrap(),
        );
        assert_eq!(
            HttpHeaders(&map).get("Authorization").as_deref(),
            Some(&b"Token abcd1234\xb8"[..])
        );
    }

    #[test]
    fn the_view_carries_method_path_and_server_variables() {
        let (mut parts, ()) = http::Request::builder()
            .method("brew")
            .uri("https://example.com/api/x%2Fy/?a=1")
            .body(())
            .unwrap()
            .into_parts();
        parts.extensions.insert(ConnectionInfo {
            secure: true,
            remote_user: Some(Bytes::from_static(b"john")),
            remote_addr: Some(Bytes::from_static(b"203.0.113.7")),
        });
        with_gate_request(&parts, |request| {
            assert_eq!(request.method, b"brew");
            assert_eq!(request.path, b"/api/x%2Fy/");
            assert!(request.secure);
            assert_eq!(request.remote_user, Some(&b"john"[..]));
            assert_eq!(request.remote_addr, Some(&b"203.0.113.7"[..]));
        });
        let (parts, ()) = http::Request::builder()
            .method("OPTIONS")
            .uri("*")
            .body(())
            .unwrap()
            .into_parts();
        with_gate_request(&parts, |request| {
            assert_eq!(request.path, b"/");
            assert!(!request.secure);
            assert_eq!(request.remote_user, None);
        });
    }

    #[test]
    fn an_https_target_over_plain_http_is_not_secure() {
        // gunicorn and mod_wsgi ignore the absolute form's scheme (wsgi.url_scheme is the
        // connection's): the differential's "request targets" DELETEs with a session.
        for connection in [None, Some(ConnectionInfo::default())] {
            let (mut parts, ()) = http::Request::builder()
                .method("DELETE")
                .uri("https://127.0.0.1/api/session-ia/")
                .body(())
                .unwrap()
                .into_parts();
            if let Some(connection) = connection {
                parts.extensions.insert(connection);
            }
            with_gate_request(&parts, |request| {
                assert_eq!(request.path, b"/api/session-ia/");
                assert!(!request.secure);
            });
        }
    }
}
