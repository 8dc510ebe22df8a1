//! DRF's `Authorization` tokenizer: any bytes, three keywords; the fields it yields are
//! never empty and never hold a separator of Python's `bytes.split()`.
#![no_main]

use drfgate::header::{scheme_credentials, split_ascii_whitespace, SchemeCredentials};
use libfuzzer_sys::fuzz_target;

fn python_bytes_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

fuzz_target!(|value: &[u8]| {
    for field in split_ascii_whitespace(value) {
        assert!(!field.is_empty());
        assert!(!field.iter().copied().any(python_bytes_whitespace));
    }
    for keyword in [&b"token"[..], b"basic", b"bearer"] {
        if let SchemeCredentials::Credentials(credentials) = scheme_credentials(value, keyword) {
            assert!(!credentials.is_empty());
            assert!(!credentials.iter().copied().any(python_bytes_whitespace));
        }
    }
});
