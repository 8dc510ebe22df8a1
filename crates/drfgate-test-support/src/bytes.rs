//! Bytes in text: the conformance table's notation and hex.

use std::fmt::Write as _;

/// The table's notation (`tests/conformance/cases.json`, as `oracle.py` reads it): `\xNN` is one
/// raw byte, every other character its UTF-8.
pub fn table_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\\x") {
        out.extend_from_slice(&rest.as_bytes()[..i]);
        let digits = rest.get(i + 2..i + 4).expect("\\x and two hex digits");
        out.push(u8::from_str_radix(digits, 16).expect("\\x and two hex digits"));
        rest = &rest[i + 4..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

/// Lower-case hex, two digits a byte (`bytes.hex()` in Python).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// The bytes of [`hex`] text (either case; `bytes.fromhex()` without the spaces).
pub fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd-length hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_notation() {
        assert_eq!(table_bytes("Token abc\\xb8"), b"Token abc\xb8");
        assert_eq!(table_bytes("\\x00\\xFFé"), b"\x00\xff\xc3\xa9");
        assert_eq!(table_bytes("plain"), b"plain");
    }

    #[test]
    fn hex_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(hex(b"\x00\xabZ"), "00ab5a");
        assert_eq!(unhex(&hex(&all)), all);
        assert_eq!(unhex("ABcd"), [0xab, 0xcd]);
    }
}
