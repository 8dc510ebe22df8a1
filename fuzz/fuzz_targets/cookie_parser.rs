//! Django's `parse_cookie` for one name: any header bytes and names, under both decodings.
//! Input: the cookie name, a 0 byte, the `Cookie` header (else the name is `sessionid`).
#![no_main]

use drfgate::header::{cookie_value, HeaderTextDecoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (name, header) = match data.iter().position(|&b| b == 0) {
        Some(at) => (String::from_utf8_lossy(&data[..at]), &data[at + 1..]),
        None => ("sessionid".into(), data),
    };
    for decoding in [HeaderTextDecoding::Wsgi, HeaderTextDecoding::Asgi] {
        if let Some(value) = cookie_value(header, &name, decoding) {
            // A value is never longer than the header's text, whatever unquoting did.
            assert!(value.chars().count() <= header.len());
        }
    }
});
