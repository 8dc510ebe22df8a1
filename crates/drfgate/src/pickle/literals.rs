//! Python's text and byte forms of integers and strings as the pickle opcodes carry them:
//! `int(text)` for `INT`/`LONG`, little-endian `LONG1`/`LONG4`, memo indexes, and
//! `raw_unicode_escape` for `UNICODE`.

use super::{Refusal, Value};

/// A little-endian two's complement integer (`LONG1`, `LONG4`).
pub(super) fn long_from_le(bytes: &[u8]) -> Value {
    if bytes.len() > 8 {
        // Beyond 64 bits unless it is a sign extension of a smaller value.
        let (low, high) = bytes.split_at(8);
        let negative = low[7] & 0x80 != 0;
        let fill = if negative { 0xff } else { 0 };
        if high.iter().all(|&b| b == fill) {
            return long_from_le(low);
        }
        return Value::BigInt;
    }
    if bytes.is_empty() {
        return Value::Int(0);
    }
    let negative = bytes[bytes.len() - 1] & 0x80 != 0;
    let mut buf = if negative { [0xffu8; 8] } else { [0u8; 8] };
    buf[..bytes.len()].copy_from_slice(bytes);
    Value::Int(i64::from_le_bytes(buf))
}

/// A non-negative decimal index, as `int(line)` reads a memo index.
pub(super) fn decimal(line: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(line).ok()?.trim();
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `int(text)` for the text opcodes (`INT`, `LONG`): surrounding whitespace, a sign, decimal
/// digits with single underscores between them. Other bases (`int(text, 0)` accepts `0x…`)
/// are not followed: no Python pickler writes them.
pub fn python_int(text: &[u8], big_ok: bool) -> Result<Value, Refusal> {
    let bad = Refusal::Malformed("an integer that does not parse");
    let text = trim_ascii_whitespace(text);
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if !is_python_digits(digits) {
        return Err(bad);
    }
    let plain: String = digits
        .iter()
        .filter(|&&b| b != b'_')
        .map(|&b| b as char)
        .collect();
    let signed = if negative {
        format!("-{plain}")
    } else {
        plain
    };
    match signed.parse::<i64>() {
        Ok(n) => Ok(Value::Int(n)),
        Err(_) if big_ok => Ok(Value::BigInt),
        Err(_) => Err(bad),
    }
}

/// Decimal digits, underscores only between two digits (Python's integer literal rule).
fn is_python_digits(digits: &[u8]) -> bool {
    !digits.is_empty()
        && digits[0].is_ascii_digit()
        && digits[digits.len() - 1].is_ascii_digit()
        && digits.iter().all(|&b| b.is_ascii_digit() || b == b'_')
        && !digits.windows(2).any(|w| w == b"__")
}

/// Python's whitespace for `int()` on bytes.
fn trim_ascii_whitespace(mut text: &[u8]) -> &[u8] {
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c');
    while text.first().is_some_and(space) {
        text = &text[1..];
    }
    while text.last().is_some_and(space) {
        text = &text[..text.len() - 1];
    }
    text
}

/// Whether `int(data)` succeeds on bytes (Django's `RedisSerializer.loads` tries it before
/// unpickling, since it stores an `int` as its digits).
pub fn is_python_int(data: &[u8]) -> bool {
    python_int(data, true).is_ok()
}

/// CPython's `raw_unicode_escape` decoding: bytes are Latin-1 code points, except `\uXXXX`
/// and `\UXXXXXXXX` after an odd number of backslashes.
pub(super) fn raw_unicode_escape(bytes: &[u8]) -> Result<String, Refusal> {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(char::from(bytes[i]));
            i += 1;
            continue;
        }
        let run_start = i;
        while i < bytes.len() && bytes[i] == b'\\' {
            out.push('\\');
            i += 1;
        }
        if (i - run_start) % 2 == 0 || i >= bytes.len() || !matches!(bytes[i], b'u' | b'U') {
            continue;
        }
        out.pop();
        let count = if bytes[i] == b'u' { 4 } else { 8 };
        i += 1;
        let hex = bytes
            .get(i..i + count)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .ok_or(Refusal::Malformed("truncated \\uXXXX escape"))?;
        i += count;
        let code = u32::from_str_radix(std::str::from_utf8(hex).expect("hex digits"), 16)
            .map_err(|_| Refusal::Malformed("bad \\U escape"))?;
        let c = char::from_u32(code).ok_or(Refusal::Malformed(
            "\\U escape out of range (or a lone surrogate)",
        ))?;
        out.push(c);
    }
    Ok(out)
}
