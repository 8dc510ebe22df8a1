//! The tower Layer under hyper, as a reverse proxy in front of a WSGI server: the front end
//! that tests/paths/differential.py (`make differential-paths`) drives for the Layer.
//!
//! ```sh
//! path_proxy LISTEN UPSTREAM [CONFIG]
//! ```
//!
//! Serves HTTP/1.1 on LISTEN with hyper and passes every request on to UPSTREAM (a
//! `HOST:PORT`, e.g. gunicorn) with its request target exactly as hyper received it
//! (origin-form `path?query`, or the absolute form) and its headers, minus hop-by-hop ones and
//! any client-sent `X-Drfgate-*`. With CONFIG (a drfgate config file) the DrfGate Layer sits
//! in front: refusals are its answers, and an allowed request carries the route the gate
//! judged in `X-Drfgate-Route` (percent-encoded UTF-8; absent when no configured route
//! matched) and the identity as `drfgate serve` hands it on: `X-Drfgate-Auth` (the scheme, or
//! `anonymous`), `X-Drfgate-User` and `X-Drfgate-User-Id` (percent-encoded), and with
//! `[handoff]` in CONFIG the signed `X-Drfgate-Signature` and `X-Drfgate-User-Flags` that
//! python/drfgate-django's `GateAuthentication` trusts (nothing of it for a request the Layer
//! passed on without an opinion). Without CONFIG it is the same proxy without the Layer: the
//! differential's reference, so both sides see hyper's own HTTP parsing. One line on stdout
//! once listening.
//!
//! The Layer reads bodies where the decision needs them ([`DrfGateLayer::reading_bodies`]),
//! and the answer of a request it let through says how, for the conformance differential's
//! body cases (tests/conformance/differential.py --layer-proxy): `X-Drfgate-Decision:
//! pass` (deferred, no identity) or `allow`, with `X-Drfgate-User` (percent-encoded) for an
//! authenticated user. Refusals are the Layer's own answers, without them.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use drfgate_tower::{DrfGateLayer, Handoff, Identity, JudgedRoute, Passed};
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, ServiceExt};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (listen, upstream, config) = match &args[..] {
        [listen, upstream] => (listen, upstream, None),
        [listen, upstream, config] => (listen, upstream, Some(config)),
        _ => {
            eprintln!("usage: path_proxy LISTEN UPSTREAM [CONFIG]");
            std::process::exit(2);
        }
    };
    let layer = config.map(|path| {
        DrfGateLayer::from_config_file(Path::new(path)).unwrap_or_else(|error| {
            eprintln!("path_proxy: {error}");
            std::process::exit(2);
        })
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(serve(listen, Arc::from(upstream.as_str()), layer));
}

async fn serve(listen: &str, upstream: Arc<str>, layer: Option<DrfGateLayer>) {
    let listener = TcpListener::bind(listen).await.unwrap_or_else(|error| {
        eprintln!("path_proxy: cannot listen on {listen}: {error}");
        std::process::exit(2);
    });
    let address = listener.local_addr().expect("a bound address");
    let gated = if layer.is_some() { "with" } else { "without" };
    println!("path_proxy: listening on http://{address}, {gated} the Layer, to {upstream}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let upstream = upstream.clone();
        let is_gated = layer.is_some();
        let forward = tower::service_fn(move |request: Request<axum::body::Body>| {
            forward(request, upstream.clone(), is_gated)
        });
        let layer = layer.clone();
        tokio::spawn(async move {
            let io = TokioIo::new(stream);
            let result = match layer {
                Some(layer) => {
                    let gated = layer.reading_bodies().layer(forward);
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        gated.clone().oneshot(request.map(axum::body::Body::new))
                    });
                    http1::Builder::new().serve_connection(io, service).await
                }
                None => {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        forward.clone().oneshot(request.map(axum::body::Body::new))
                    });
                    http1::Builder::new().serve_connection(io, service).await
                }
            };
            if let Err(error) = result {
                eprintln!("path_proxy: connection: {error}");
            }
        });
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the framing this proxy sets itself.
fn not_passed_on(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
    )
}

async fn forward(
    request: Request<axum::body::Body>,
    upstream: Arc<str>,
    gated: bool,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let verdict = if gated {
        verdict_headers(&parts)
    } else {
        Vec::new()
    };
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(status_only(StatusCode::BAD_REQUEST)),
    };
    // The target as hyper parsed it: `path?query` as sent, or the absolute form.
    let mut raw = format!("{} {} HTTP/1.1\r\n", parts.method, parts.uri).into_bytes();
    for (name, value) in &parts.headers {
        if not_passed_on(name) || name.as_str().starts_with("x-drfgate-") {
            continue;
        }
        raw.extend_from_slice(name.as_str().as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value.as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    if let Some(JudgedRoute(route)) = parts.extensions.get::<JudgedRoute>() {
        raw.extend_from_slice(format!("x-drfgate-route: {}\r\n", percent_encode(route)).as_bytes());
    }
    let identity = if gated {
        identity_headers(&parts)
    } else {
        Vec::new()
    };
    for (name, value) in identity {
        raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    raw.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    raw.extend_from_slice(&body);
    match exchange(&upstream, &raw).await {
        Ok(answer) => {
            let mut response = parse_response(&answer).unwrap_or_else(|| {
                eprintln!("path_proxy: not an HTTP response from {upstream}");
                status_only(StatusCode::BAD_GATEWAY)
            });
            for (name, value) in verdict {
                response.headers_mut().insert(name, value);
            }
            Ok(response)
        }
        Err(error) => {
            eprintln!("path_proxy: {upstream}: {error}");
            Ok(status_only(StatusCode::BAD_GATEWAY))
        }
    }
}

/// The identity the Layer decided, for the upstream request, under `drfgate serve`'s header
/// names (crates/drfgate-cli/src/serve/answer.rs): the client's own `X-Drfgate-*` headers are
/// never passed on (the Layer removes them, and so does `forward`), so these are the gate's.
fn identity_headers(parts: &http::request::Parts) -> Vec<(&'static str, String)> {
    if parts.extensions.get::<Passed>().is_some() {
        return Vec::new(); // no identity: the application's own classes judge it
    }
    let identity = parts.extensions.get::<Identity>();
    let mut headers = match identity {
        Some(identity) => vec![
            ("x-drfgate-auth", identity.scheme.as_str().to_string()),
            ("x-drfgate-user", percent_encode(&identity.user.username)),
            (
                "x-drfgate-user-id",
                percent_encode(&identity.user.pk.to_string()),
            ),
        ],
        None => vec![("x-drfgate-auth", "anonymous".to_string())],
    };
    if let Some(handoff) = parts.extensions.get::<Handoff>() {
        headers.push(("x-drfgate-signature", handoff.signature.clone()));
        if identity.is_some() {
            headers.push(("x-drfgate-user-flags", handoff.flags.to_string()));
        }
    }
    headers
}

/// How the Layer let the request through, for the response (nothing without the Layer).
fn verdict_headers(parts: &http::request::Parts) -> Vec<(HeaderName, HeaderValue)> {
    let decision = HeaderName::from_static("x-drfgate-decision");
    if parts.extensions.get::<Passed>().is_some() {
        return vec![(decision, HeaderValue::from_static("pass"))];
    }
    let Some(identity) = parts.extensions.get::<Identity>() else {
        return vec![
            (decision, HeaderValue::from_static("allow")),
            (
                HeaderName::from_static("x-drfgate-auth"),
                HeaderValue::from_static("anonymous"),
            ),
        ];
    };
    let user = percent_encode(&identity.user.username);
    vec![
        (decision, HeaderValue::from_static("allow")),
        (
            HeaderName::from_static("x-drfgate-user"),
            HeaderValue::from_str(&user).unwrap_or(HeaderValue::from_static("")),
        ),
    ]
}

async fn exchange(upstream: &str, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    stream.write_all(raw).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

/// The upstream's answer (read to the end of the connection) as a response.
fn parse_response(raw: &[u8]) -> Option<Response<Full<Bytes>>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_length) = parsed.parse(raw).ok()? else {
        return None;
    };
    let rest = &raw[head_length..];
    let chunked = parsed.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding") && h.value.eq_ignore_ascii_case(b"chunked")
    });
    let length = parsed
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        });
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest[..length.unwrap_or(rest.len()).min(rest.len())].to_vec()
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(parsed.code?).ok()?;
    for header in parsed.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).ok()?;
        if not_passed_on(&name) {
            continue;
        }
        let value = HeaderValue::from_bytes(header.value).ok()?;
        response.headers_mut().append(name, value);
    }
    Some(response)
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

fn status_only(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
}

/// As `drfgate serve` encodes `X-Drfgate-Route`: ASCII letters, digits and `-._~@+` as they
/// are, every other byte of the UTF-8 as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@+".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
