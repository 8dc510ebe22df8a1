//! CPython's lenient `b64decode`: any bytes; the output is never longer than the data
//! characters allow, and a well-formed encoding decodes back to what was encoded.
#![no_main]

use drfgate::base64::{b64decode_lenient, decode_basic_text};
use libfuzzer_sys::fuzz_target;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

fuzz_target!(|input: &[u8]| {
    if let Ok(decoded) = b64decode_lenient(input) {
        let data_characters = input.iter().filter(|b| ALPHABET.contains(b)).count();
        assert!(decoded.len() <= data_characters * 3 / 4);
        let _ = decode_basic_text(&decoded);
    }
    assert_eq!(b64decode_lenient(&encode(input)).as_deref(), Ok(input));
});
