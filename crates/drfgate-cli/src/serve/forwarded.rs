//! The original request behind a forward-auth request: a reverse proxy asks "may this
//! request pass?" with a request of its own, and names the original method and URI in
//! headers. Only the header families the config trusts are read.
//!
//! A trusted family describes the request completely or not at all: its method header and
//! its URI header are both required, as the forward-auth request's own method (nginx's
//! subrequest is always a GET) says nothing about the original one. When families are
//! trusted, every request but the health check must carry one.

use super::ForwardedHeaders;
use bytes::Bytes;
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
            method: "X-Original-Method",
            uri: "X-Original-URI",
            proto: None,
        },
        ForwardedHeaders::XForwarded => Names {
            method: "X-Forwarded-Method",
            uri: "X-Forwarded-Uri",
            proto: Some("X-Forwarded-Proto"),
        },
    }
}

/// Why the forwarded headers could not describe a request: the 400's detail, and a line for
/// the log that never quotes a header's value (a URI may carry a secret in its query).
#[derive(Debug, PartialEq, Eq)]
pub struct BadForwarded {
    pub detail: String,
    pub log: String,
    /// The proxy, not the client, is at fault (a header it should always set is missing):
    /// worth an error in the log rather than a warning.
    pub misconfigured: bool,
}

impl BadForwarded {
    fn misconfigured(message: String) -> BadForwarded {
        BadForwarded {
            detail: message.clone(),
            log: message,
            misconfigured: true,
        }
    }

    fn malformed(detail: String, log: String) -> BadForwarded {
        BadForwarded {
            detail,
            log,
            misconfigured: false,
        }
    }
}

/// Whether any trusted family's method or URI header is on the request.
pub fn is_forwarded(headers: &HeaderMap, trusted: &[ForwardedHeaders]) -> bool {
    trusted.iter().any(|&family| {
        let names = names(family);
        headers.contains_key(names.method) || headers.contains_key(names.uri)
    })
}

/// The request to decide.
///
/// - No family trusted: the request itself.
/// - Otherwise one trusted family must be complete (method and URI): 400 when a trusted
///   family is only half there (whichever other family is present), when none is there (the
///   proxy does not set the family the config trusts, and deciding the forward-auth request
///   itself would judge `GET /auth` in place of every request), or when two complete
///   families name different requests. The first trusted family then describes the request.
///
/// Headers, extensions and body stay those of the request received.
pub fn original_request<B>(
    request: Request<B>,
    trusted: &[ForwardedHeaders],
) -> Result<Request<B>, BadForwarded> {
    if trusted.is_empty() {
        return Ok(request);
    }
    let headers = request.headers();
    let mut described: Option<(ForwardedHeaders, Method, Uri)> = None;
    for &family in trusted {
        let names = names(family);
        let method = single(headers, names.method)?;
        let uri = single(headers, names.uri)?;
        let (method, uri) = match (method, uri) {
            (None, None) => continue,
            (Some(method), Some(uri)) => (method, uri),
            (present, _) => {
                let (missing, there) = if present.is_some() {
                    (names.uri, names.method)
                } else {
                    (names.method, names.uri)
                };
                return Err(BadForwarded::misconfigured(format!(
                    "{missing} is missing: {there} is present, and a trusted forwarded family \
                     ({}) needs both the original method and URI; set both in the proxy",
                    family.config_name()
                )));
            }
        };
        let method = Method::from_bytes(method.trim_ascii()).map_err(|_| {
            BadForwarded::malformed(
                format!(
                    "{} is not an HTTP method: {:?}",
                    names.method,
                    String::from_utf8_lossy(method)
                ),
                format!("{} is not an HTTP method", names.method),
            )
        })?;
        let uri = origin_form(uri).ok_or_else(|| {
            let what = "is not a request target (a path starting with '/', with an optional query)";
            BadForwarded::malformed(
                format!("{} {what}: {:?}", names.uri, String::from_utf8_lossy(uri)),
                format!("{} {what}", names.uri),
            )
        })?;
        match &described {
            None => described = Some((family, method, uri)),
            Some((first, first_method, first_uri)) => {
                if (first_method, first_uri) != (&method, &uri) {
                    let first = self::names(*first);
                    return Err(BadForwarded::misconfigured(format!(
                        "{} and {} name one request, {} and {} another: two trusted forwarded \
                         families disagree; trust only the family the proxy sets",
                        first.method, first.uri, names.method, names.uri
                    )));
                }
            }
        }
    }
    let Some((family, method, uri)) = described else {
        let expected: Vec<String> = trusted
            .iter()
            .map(|&family| {
                let names = names(family);
                format!("{} and {}", names.method, names.uri)
            })
            .collect();
        return Err(BadForwarded::misconfigured(format!(
            "no forwarded request: expected {} (trusted_forwarded); the proxy must set them \
             on every forward-auth request",
            expected.join(", or ")
        )));
    };
    let names = names(family);
    let secure = match names.proto {
        Some(proto) => {
            single(headers, proto)?.map(|value| value.trim_ascii().eq_ignore_ascii_case(b"https"))
        }
        None => None,
    };
    let (mut parts, body) = request.into_parts();
    parts.method = method;
    parts.uri = uri;
    if let Some(secure) = secure {
        let connection = parts.extensions.get_or_insert_with(ConnectionInfo::default);
        connection.secure = secure;
    }
    Ok(Request::from_parts(parts, body))
}

/// `REMOTE_ADDR` for the gate: the header the proxy names the client in, when the config
/// trusts one (required then: a proxy that does not set it is misconfigured), else the peer.
pub fn remote_addr(
    headers: &HeaderMap,
    header: Option<&str>,
    peer: &Bytes,
) -> Result<Bytes, BadForwarded> {
    let Some(name) = header else {
        return Ok(peer.clone());
    };
    match single(headers, name)? {
        Some(value) => Ok(Bytes::copy_from_slice(value.trim_ascii())),
        None => Err(BadForwarded::misconfigured(format!(
            "{name} is missing: remote_addr_header names it as the client's address; the \
             proxy must set it on every request"
        ))),
    }
}

/// A header that must appear at most once: two values would leave the original request in
/// doubt, so they are refused.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h [u8]>, BadForwarded> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        let message = format!("{name} appears more than once");
        return Err(BadForwarded::malformed(message.clone(), message));
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
    use crate::serve::ForwardedHeaders::{XForwarded, XOriginal};

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

    fn refused(request: Result<Request<()>, BadForwarded>) -> BadForwarded {
        request.map(|r| r.uri().to_string()).unwrap_err()
    }

    #[test]
    fn with_nothing_trusted_the_request_itself_is_decided() {
        let r = request(&[
            ("x-original-method", b"DELETE"),
            ("x-original-uri", b"/api/orders/"),
            ("x-forwarded-uri", b"/api/x/"),
        ]);
        assert_eq!(
            seen(original_request(r, &[])),
            ("GET".into(), "/_drfgate/auth".into(), false)
        );
    }

    #[test]
    fn untrusted_families_are_ignored() {
        let r = request(&[
            ("x-original-method", b"GET"),
            ("x-original-uri", b"/api/public/"),
            ("x-forwarded-method", b"DELETE"),
            ("x-forwarded-uri", b"/api/orders/7/"),
        ]);
        assert_eq!(
            seen(original_request(r, &[XOriginal])),
            ("GET".into(), "/api/public/".into(), false)
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
        let r = request(&[("x-original-method", b"BREW"), ("x-original-uri", b"/")]);
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
    fn half_a_family_is_refused_naming_the_missing_header() {
        // nginx's own auth_request example sets X-Original-URI only: the subrequest's GET
        // would stand for a DELETE.
        let bad = refused(original_request(
            request(&[("x-original-uri", b"/api/orders/7/")]),
            &[XOriginal],
        ));
        assert!(bad.misconfigured);
        assert!(
            bad.detail
                .starts_with("X-Original-Method is missing: X-Original-URI is present"),
            "{}",
            bad.detail
        );
        let bad = refused(original_request(
            request(&[("x-forwarded-method", b"DELETE")]),
            &[XForwarded],
        ));
        assert!(
            bad.detail
                .starts_with("X-Forwarded-Uri is missing: X-Forwarded-Method is present"),
            "{}",
            bad.detail
        );
        // A complete family does not excuse a half one, whichever comes first.
        let headers: &[(&str, &[u8])] = &[
            ("x-original-method", b"GET"),
            ("x-original-uri", b"/api/public/"),
            ("x-forwarded-uri", b"/api/orders/7/"),
        ];
        for trusted in [[XOriginal, XForwarded], [XForwarded, XOriginal]] {
            let bad = refused(original_request(request(headers), &trusted));
            assert!(
                bad.detail.starts_with("X-Forwarded-Method is missing"),
                "{}",
                bad.detail
            );
        }
        // Two halves: the first trusted family's missing header is named.
        let headers: &[(&str, &[u8])] = &[
            ("x-original-uri", b"/api/a/"),
            ("x-forwarded-method", b"DELETE"),
        ];
        let bad = refused(original_request(request(headers), &[XOriginal, XForwarded]));
        assert!(
            bad.detail.starts_with("X-Original-Method is missing"),
            "{}",
            bad.detail
        );
    }

    #[test]
    fn a_trusted_family_must_be_there() {
        // Not the forward-auth request itself: a proxy that does not set the trusted family
        // would have `GET /_drfgate/auth` decided in place of every request.
        let r = request(&[("x-forwarded-uri", b"/api/orders/")]);
        let bad = refused(original_request(r, &[XOriginal]));
        assert!(bad.misconfigured);
        assert!(
            bad.detail
                .starts_with("no forwarded request: expected X-Original-Method and X-Original-URI"),
            "{}",
            bad.detail
        );
        let bad = refused(original_request(request(&[]), &[XOriginal, XForwarded]));
        assert!(
            bad.detail.contains(
                "X-Original-Method and X-Original-URI, or X-Forwarded-Method and X-Forwarded-Uri"
            ),
            "{}",
            bad.detail
        );
    }

    #[test]
    fn two_complete_families_must_agree() {
        let agreeing: &[(&str, &[u8])] = &[
            ("x-original-method", b"GET"),
            ("x-original-uri", b"/a/"),
            ("x-forwarded-method", b"GET"),
            ("x-forwarded-uri", b"https://shop.example/a/"),
            ("x-forwarded-proto", b"https"),
        ];
        // The first trusted family describes the request, its scheme included.
        assert_eq!(
            seen(original_request(
                request(agreeing),
                &[XOriginal, XForwarded]
            )),
            ("GET".into(), "/a/".into(), false)
        );
        assert_eq!(
            seen(original_request(
                request(agreeing),
                &[XForwarded, XOriginal]
            )),
            ("GET".into(), "/a/".into(), true)
        );
        // A client-sent copy of the family the proxy does not set never wins.
        for disagreeing in [
            &[
                ("x-original-method", &b"GET"[..]),
                ("x-original-uri", b"/a/"),
                ("x-forwarded-method", b"GET"),
                ("x-forwarded-uri", b"/b/"),
            ][..],
            &[
                ("x-original-method", b"DELETE"),
                ("x-original-uri", b"/a/"),
                ("x-forwarded-method", b"GET"),
                ("x-forwarded-uri", b"/a/"),
            ],
        ] {
            let bad = refused(original_request(
                request(disagreeing),
                &[XForwarded, XOriginal],
            ));
            assert!(bad.detail.contains("disagree"), "{}", bad.detail);
        }
    }

    #[test]
    fn absolute_uris_give_their_path_and_query() {
        let r = request(&[
            ("x-forwarded-method", b"GET"),
            ("x-forwarded-uri", b"https://shop.example/api/orders/?q=1"),
        ]);
        assert_eq!(
            seen(original_request(r, &[XForwarded])).1,
            "/api/orders/?q=1"
        );
    }

    #[test]
    fn malformed_or_repeated_headers_are_refused() {
        for headers in [
            &[
                ("x-original-method", &b"GET"[..]),
                ("x-original-uri", b"api/orders/"),
            ][..],
            &[("x-original-method", b"GET"), ("x-original-uri", b"/a b/")],
            &[("x-original-method", b"GE T"), ("x-original-uri", b"/")],
            &[("x-original-method", b""), ("x-original-uri", b"/")],
            &[
                ("x-original-method", b"GET"),
                ("x-original-uri", b"/a/"),
                ("x-original-uri", b"/b/"),
            ],
            &[
                ("x-original-method", b"GET"),
                ("x-original-method", b"GET"),
                ("x-original-uri", b"/a/"),
            ],
        ] {
            let bad = refused(original_request(request(headers), &[XOriginal]));
            assert!(!bad.misconfigured, "{headers:?}");
        }
    }

    #[test]
    fn the_log_line_never_quotes_a_value() {
        let r = request(&[
            ("x-original-method", b"GET"),
            ("x-original-uri", b"api/?token=s3cret"),
        ]);
        let bad = refused(original_request(r, &[XOriginal]));
        assert!(bad.detail.contains("s3cret"), "{}", bad.detail);
        assert!(!bad.log.contains("s3cret"), "{}", bad.log);
        assert!(bad
            .log
            .starts_with("X-Original-URI is not a request target"));
    }

    #[test]
    fn raw_bytes_in_the_uri_pass_unchanged_or_are_refused_as_malformed() {
        let get: (&str, &[u8]) = ("x-original-method", b"GET");
        let r = request(&[get, ("x-original-uri", b"/caf\xc3\xa9/")]);
        assert_eq!(seen(original_request(r, &[XOriginal])).1, "/caf\u{e9}/");
        // Every byte a header value may hold (HeaderValue refuses the controls), alone and after
        // the start of a UTF-8 sequence: the URI reaches the gate byte for byte (less a
        // fragment) or is refused as the client's malformed URI, in a 400 whose log line does
        // not quote it, never as the proxy's misconfiguration. Beyond ASCII, exactly the
        // UTF-8 ones pass.
        let mut passed = 0;
        for lead in [&b""[..], b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98"] {
            for byte in (0x20..=0xffu8).filter(|&b| b != 0x7f) {
                let value = [b"/", lead, &[byte], b"/"].concat();
                let r = request(&[get, ("x-original-uri", &value)]);
                let answer = original_request(r, &[XOriginal]);
                if value.iter().any(|b| !b.is_ascii()) {
                    let utf8 = std::str::from_utf8(&value).is_ok();
                    assert_eq!(answer.is_ok(), utf8, "{value:x?}: {answer:?}");
                }
                match answer {
                    Ok(r) => {
                        let sent = value.split(|&b| b == b'#').next().unwrap();
                        assert_eq!(r.uri().to_string().as_bytes(), sent, "{value:x?}");
                        passed += 1;
                    }
                    Err(bad) => {
                        assert!(!bad.misconfigured, "{value:x?}: {bad:?}");
                        assert!(
                            bad.log
                                .starts_with("X-Original-URI is not a request target"),
                            "{value:x?}: {bad:?}"
                        );
                    }
                }
            }
        }
        assert!(passed > 64 * 3, "{passed}");
    }

    #[test]
    fn is_forwarded_looks_at_trusted_families_only() {
        let r = request(&[("x-forwarded-uri", b"/b/")]);
        assert!(!is_forwarded(r.headers(), &[XOriginal]));
        assert!(is_forwarded(r.headers(), &[XOriginal, XForwarded]));
    }
}
