//! `drfgate serve`'s reading of the original request from X-Original-* / X-Forwarded-*
//! headers (the module is compiled here from the CLI's source). Input: header lines
//! `name: value` separated by `\n`; both families trusted, in both orders.
#![no_main]

use libfuzzer_sys::fuzz_target;

// forwarded.rs names the family type as `super::ForwardedHeaders`: the crate root here.
#[path = "../../crates/drfgate-cli/src/serve/forwarded.rs"]
mod forwarded;
#[allow(dead_code)]
#[path = "../../crates/drfgate-cli/src/serve/settings.rs"]
mod settings;

use forwarded::{is_forwarded, original_request, remote_addr};
use settings::ForwardedHeaders;
use ForwardedHeaders::{XForwarded, XOriginal};

fuzz_target!(|data: &[u8]| {
    let mut headers = http::HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(&line[..colon]),
            http::HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    for trusted in [
        &[][..],
        &[XOriginal],
        &[XForwarded],
        &[XForwarded, XOriginal],
    ] {
        let _ = is_forwarded(&headers, trusted);
        let mut request = http::Request::get("/_drfgate/auth")
            .body(())
            .expect("a valid request");
        *request.headers_mut() = headers.clone();
        match original_request(request, trusted) {
            Ok(original) => assert!(original.uri().path().starts_with('/')),
            Err(bad) => assert!(!bad.detail.is_empty() && !bad.log.is_empty()),
        }
    }
    // `[serve] remote_addr_header`: the client's address for throttling, never the peer's
    // when a header is trusted.
    let peer = bytes::Bytes::from_static(b"127.0.0.1");
    assert_eq!(remote_addr(&headers, None, &peer).unwrap(), peer);
    for name in ["x-real-ip", "x-forwarded-for"] {
        if let Ok(address) = remote_addr(&headers, Some(name), &peer) {
            assert!(address.trim_ascii() == &address[..]);
        }
    }
});
