//! The two decoding steps DRF's BasicAuthentication applies to the credentials field (spec §3):
//! CPython's non-strict `base64.b64decode`, then strict UTF-8 falling back to ISO-8859-1.
//!
//! A strict RFC 4648 decoder disagrees with CPython on real inputs (junk bytes, padding in the
//! middle, data after the padding), so this is a byte-for-byte model of `binascii.a2b_base64`.
//! It is hand-written on purpose and must keep matching CPython byte for byte — the same
//! output and the same error for every input — or a credential DRF refuses would be accepted
//! (or the reverse); `tests/cpython_parity.rs` compares it with CPython on generated inputs.

use std::borrow::Cow;
use std::fmt;

/// Why CPython's `base64.b64decode` would raise `binascii.Error`. Carries no input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Error {
    /// The input ended one data character past a complete quad.
    LoneTrailingCharacter {
        /// The count CPython puts in its message (data characters consumed, quads rounded).
        data_characters: usize,
    },
    /// The input ended with two or three data characters of an unterminated quad.
    IncorrectPadding,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base64Error::LoneTrailingCharacter { data_characters } => write!(
                f,
                "Invalid base64-encoded string: number of data characters ({data_characters}) \
                 cannot be 1 more than a multiple of 4"
            ),
            Base64Error::IncorrectPadding => f.write_str("Incorrect padding"),
        }
    }
}

impl std::error::Error for Base64Error {}

const PAD: u8 = b'=';

fn sextet(byte: u8) -> Option<u8> {
    match SEXTETS[usize::from(byte)] {
        NOT_BASE64 => None,
        value => Some(value),
    }
}

/// [`sextet_of`] for every byte, worked out at compile time.
const SEXTETS: [u8; 256] = {
    let mut table = [NOT_BASE64; 256];
    let mut byte = 0;
    while byte < 256 {
        if let Some(value) = sextet_of(byte as u8) {
            table[byte] = value;
        }
        byte += 1;
    }
    table
};
const NOT_BASE64: u8 = 0xff;

const fn sextet_of(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// `base64.b64decode(input)` with CPython's default (non-strict) rules:
/// bytes outside the standard alphabet are skipped; `=` is ignored until two data characters of
/// the current quad are pending, after which pads count toward completing the quad and a
/// completed quad ends decoding (the rest of the input is ignored); a data character resets
/// the pad count; leftover trailing bits are dropped.
pub fn b64decode_lenient(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
    let mut decoded = Vec::with_capacity(decoded_len_bound(input.len()));
    decode_each(input, |byte| decoded.push(byte))?;
    Ok(decoded)
}

/// [`b64decode_lenient`] into `buffer`, for a caller that keeps short credentials on the
/// stack; `None` when `buffer` may be too small for `input`.
pub(crate) fn b64decode_lenient_into<'b>(
    input: &[u8],
    buffer: &'b mut [u8],
) -> Option<Result<&'b [u8], Base64Error>> {
    if decoded_len_bound(input.len()) > buffer.len() {
        return None;
    }
    // Whole quads of alphabet characters (all of a well-formed credential but its last quad)
    // decode to three bytes each whatever the rules for junk and padding say; the loop below
    // takes over, from a quad boundary, at the first quad that holds anything else.
    let mut len = 0;
    let mut quads = input.chunks_exact(4);
    for quad in &mut quads {
        let [a, b, c, d] = [quad[0], quad[1], quad[2], quad[3]].map(|byte| SEXTETS[usize::from(byte)]);
        // A sextet has its two high bits clear; NOT_BASE64 has them set.
        if (a | b | c | d) & 0xc0 != 0 {
            break;
        }
        let bits = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
        buffer[len..len + 3].copy_from_slice(&bits.to_be_bytes()[1..]);
        len += 3;
    }
    let input = &input[len / 3 * 4..];
    let decoded_before = len;
    let outcome = decode_each_from(decoded_before, input, |byte| {
        if let Some(slot) = buffer.get_mut(len) {
            *slot = byte;
        }
        len += 1;
    });
    Some(outcome.map(|()| &buffer[..len.min(buffer.len())]))
}

/// At most this many bytes decode from `input_len` characters (three per four).
fn decoded_len_bound(input_len: usize) -> usize {
    input_len / 4 * 3 + 2
}

/// The decoding loop of [`b64decode_lenient`], handing each decoded byte to `push`.
fn decode_each(input: &[u8], push: impl FnMut(u8)) -> Result<(), Base64Error> {
    decode_each_from(0, input, push)
}

/// [`decode_each`] resumed at a quad boundary after `decoded_before` bytes (which only the
/// error's character count needs).
fn decode_each_from(
    decoded_before: usize,
    input: &[u8],
    mut push: impl FnMut(u8),
) -> Result<(), Base64Error> {
    let mut decoded_len = decoded_before;
    let mut quad_position = 0usize;
    let mut pending_bits = 0u8;
    let mut pads_counted = 0usize;

    for &byte in input {
        if byte == PAD {
            if quad_position >= 2 {
                pads_counted += 1;
                if quad_position + pads_counted >= 4 {
                    return Ok(());
                }
            }
            continue;
        }
        let Some(value) = sextet(byte) else {
            continue;
        };
        pads_counted = 0;
        quad_position = match quad_position {
            0 => {
                pending_bits = value;
                1
            }
            1 => {
                push((pending_bits << 2) | (value >> 4));
                decoded_len += 1;
                pending_bits = value & 0x0f;
                2
            }
            2 => {
                push((pending_bits << 4) | (value >> 2));
                decoded_len += 1;
                pending_bits = value & 0x03;
                3
            }
            _ => {
                push((pending_bits << 6) | value);
                decoded_len += 1;
                pending_bits = 0;
                0
            }
        };
    }

    match quad_position {
        0 => Ok(()),
        1 => Err(Base64Error::LoneTrailingCharacter {
            data_characters: decoded_len / 3 * 4 + 1,
        }),
        _ => Err(Base64Error::IncorrectPadding),
    }
}

/// DRF's text step: strict UTF-8 (no overlongs, no surrogates), and if that fails the whole
/// blob as ISO-8859-1, which never fails. Borrows when the bytes are valid UTF-8.
pub fn decode_basic_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(bytes.iter().map(|&byte| char::from(byte)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::base64::Engine as _;
    use proptest::prelude::*;

    fn decode(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
        b64decode_lenient(input)
    }

    proptest! {
        /// Decoding into a caller's buffer gives what decoding into a `Vec` gives, error
        /// included, and refuses a buffer that could be too small.
        #[test]
        fn decoding_into_a_buffer_agrees(
            input in proptest::collection::vec(
                prop::sample::select(b"QUJDRGVmZ2g=+/!*-_. \t\x80\xff".to_vec()),
                0..80,
            ),
        ) {
            let mut buffer = [0u8; 64];
            match b64decode_lenient_into(&input, &mut buffer) {
                Some(into) => prop_assert_eq!(into.map(<[u8]>::to_vec), decode(&input)),
                None => prop_assert!(input.len() / 4 * 3 + 2 > 64),
            }
        }

        /// The same after whole quads of alphabet characters, where decoding into a buffer
        /// takes its shortcut before the general loop takes over.
        #[test]
        fn decoding_into_a_buffer_agrees_after_whole_quads(
            quads in proptest::collection::vec(any::<u8>(), 0..12),
            tail in proptest::collection::vec(
                prop::sample::select(b"QUJDRGVmZ2g=+/!*-_. \t\x80\xff".to_vec()),
                0..12,
            ),
        ) {
            let whole = &quads[..quads.len() / 3 * 3];
            let mut input = ::base64::engine::general_purpose::STANDARD.encode(whole).into_bytes();
            input.extend_from_slice(&tail);
            let mut buffer = [0u8; 64];
            let into = b64decode_lenient_into(&input, &mut buffer).expect("fits");
            prop_assert_eq!(into.map(<[u8]>::to_vec), decode(&input));
        }

        /// Decoding undoes a standard encoder's output (the `base64` crate's), also with
        /// characters outside the alphabet strewn in, which CPython discards.
        #[test]
        fn decoding_undoes_encoding_whatever_junk_is_strewn_in(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            junk in proptest::collection::vec(
                (any::<prop::sample::Index>(), prop::sample::select(b"!*-_. \t\r\n\x80\xb8\xff".to_vec())),
                0..8,
            ),
        ) {
            let mut encoded = ::base64::engine::general_purpose::STANDARD.encode(&bytes).into_bytes();
            prop_assert_eq!(decode(&encoded), Ok(bytes.clone()));
            for (at, byte) in junk {
                encoded.insert(at.index(encoded.len() + 1), byte);
            }
            prop_assert_eq!(decode(&encoded), Ok(bytes));
        }
    }

    #[test]
    fn spec_section_3_examples() {
        assert_eq!(decode(b"YQ"), Err(Base64Error::IncorrectPadding));
        assert_eq!(decode(b"YQ="), Err(Base64Error::IncorrectPadding));
        assert_eq!(decode(b"YQ=="), Ok(b"a".to_vec()));
        assert_eq!(decode(b"YW=Jj"), Ok(b"abc".to_vec()));
        assert_eq!(
            decode(b"=a="),
            Err(Base64Error::LoneTrailingCharacter { data_characters: 1 })
        );
        assert_eq!(decode(b"!!!"), Ok(Vec::new()));
        assert_eq!(decode(b"YWI=Y"), Ok(b"ab".to_vec()));
        assert_eq!(decode(b"YR=="), Ok(b"a".to_vec()));
        assert_eq!(decode(b""), Ok(Vec::new()));
    }

    #[test]
    fn extra_pads_after_completion_are_ignored() {
        assert_eq!(decode(b"YQ===="), Ok(b"a".to_vec()));
        assert_eq!(decode(b"YWJj===="), Ok(b"abc".to_vec()));
        assert_eq!(decode(b"===="), Ok(Vec::new()));
    }

    #[test]
    fn a_data_character_resets_the_pad_count() {
        // "YW=" then "J" resets; "Jj" completes the quad "YWJj".
        assert_eq!(decode(b"YW=Jj"), Ok(b"abc".to_vec()));
        // "YW=" + "J" (pads reset) + "=" -> 3 + 1 = 4 completes.
        assert_eq!(decode(b"YW=J=xyz"), Ok(b"ab".to_vec()));
    }

    #[test]
    fn error_message_counts_like_cpython() {
        assert_eq!(
            decode(b"YWJjZ").unwrap_err().to_string(),
            "Invalid base64-encoded string: number of data characters (5) cannot be 1 more than \
             a multiple of 4"
        );
        assert_eq!(
            decode(b"YWJjZA").unwrap_err().to_string(),
            "Incorrect padding"
        );
    }

    // Spec §11: the base64 and text parts of rows 40–46 and 53–54.
    #[test]
    fn spec_rows_40_to_46() {
        assert!(decode(b"=a=").is_err()); // row 40
        assert!(decode(b"am9objpwYXNzd29yZA").is_err()); // row 41
        assert_eq!(decode(b"!!!"), Ok(Vec::new())); // row 42 (then: no ':' -> error)
        assert_eq!(
            decode(b"am9objpwYXNzd29yZA==garbage"),
            Ok(b"john:password".to_vec())
        ); // 43
        assert_eq!(
            decode(b"am9o!*bjpwYXNzd29yZA=="),
            Ok(b"john:password".to_vec())
        ); // row 44
           // Row 45: a 0xB8 after the padding is never looked at.
        assert_eq!(
            decode(b"am9objpwYXNzd29yZA==\xb8"),
            Ok(b"john:password".to_vec())
        );
        // Row 46: '-' is skipped, leaving 23 data characters: 3 pending -> incorrect padding.
        assert_eq!(
            decode(b"am9objpwYXNzd29yZD8-"),
            Err(Base64Error::IncorrectPadding)
        );
    }

    #[test]
    fn spec_row_53_latin1_credentials() {
        let latin1 = b"latin:p\xe4ssw\xf6rd";
        let decoded = decode(b"bGF0aW46cORzc3f2cmQ=").unwrap();
        assert_eq!(decoded, latin1);
        let text = decode_basic_text(&decoded);
        assert!(matches!(text, Cow::Owned(_)));
        assert_eq!(text, "latin:pässwörd");
    }

    #[test]
    fn spec_row_54_invalid_utf8_falls_back_to_latin1() {
        let decoded = decode(b"//46AA==").unwrap();
        assert_eq!(decoded, [0xff, 0xfe, b':', 0x00]);
        assert_eq!(decode_basic_text(&decoded), "\u{ff}\u{fe}:\u{0}");
    }

    #[test]
    fn valid_utf8_is_borrowed_and_mixed_encodings_fall_to_latin1() {
        let utf8 = "walterwhité:pässwörd".as_bytes();
        assert!(matches!(decode_basic_text(utf8), Cow::Borrowed(_)));
        assert_eq!(decode_basic_text(utf8), "walterwhité:pässwörd");
        // UTF-8 é followed by a Latin-1 ä: the whole blob becomes Latin-1.
        assert_eq!(decode_basic_text(b"\xc3\xa9\xe4"), "\u{c3}\u{a9}\u{e4}");
        // Encoded surrogates and overlongs are not UTF-8 to Python either.
        assert_eq!(decode_basic_text(b"\xed\xa0\x80"), "\u{ed}\u{a0}\u{80}");
        assert_eq!(decode_basic_text(b"\xc0\xaf"), "\u{c0}\u{af}");
    }
}
