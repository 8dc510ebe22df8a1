//! Django `signing.loads` for session data: raw signed values (the signature check), and the
//! bytes after it — a payload signed with the key here, so base64, zlib, the timestamp and
//! JSON are reached. Input: value bytes; a first byte of 1 means "sign it first".
#![no_main]

use drfgate::signing::{loads, salted_hmac_sha256};
use libfuzzer_sys::fuzz_target;

const SALT: &str = "django.contrib.sessions.SessionStore";
const KEY: &str = "fuzz-secret-key";

fn b64url_nopad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(value) = std::str::from_utf8(rest) else {
        return;
    };
    let signed = if mode == 1 {
        let signature = salted_hmac_sha256(&format!("{SALT}signer"), value.as_bytes(), KEY);
        format!("{value}:{}", b64url_nopad(&signature))
    } else {
        value.to_owned()
    };
    for max_age in [None, Some(1_209_600)] {
        let _ = loads(&signed, SALT, &[KEY, "old-key"], max_age, 1.7e9);
    }
});
