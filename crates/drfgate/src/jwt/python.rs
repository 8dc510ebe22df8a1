//! The few Python semantics that decide how a JSON claim is judged: `int(value)` (PyJWT's
//! `iat`/`nbf`/`exp` checks and Django's integer lookups), `str(value)` (Django's text
//! lookups) and truthiness (PyJWT's `if not alg`, TokenUser's `is_staff`).

use serde_json::Value;

/// A Python `int`, as far as a claim can make one: exact within `i128`, otherwise (a longer
/// digit string) approximated by a float, which only ever meets absurd timestamps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PyInt {
    Exact(i128),
    Huge(f64),
}

impl PyInt {
    pub fn as_f64(self) -> f64 {
        match self {
            PyInt::Exact(n) => n as f64,
            PyInt::Huge(f) => f,
        }
    }

    /// The value as an SQLite integer, when it fits one.
    #[cfg(feature = "sqlite")]
    pub fn as_i64(self) -> Option<i64> {
        match self {
            PyInt::Exact(n) => i64::try_from(n).ok(),
            PyInt::Huge(_) => None,
        }
    }
}

/// Python's `int(value)` for a JSON value: `None` where Python raises (`TypeError` for null,
/// lists and objects; `ValueError` for a string that is not an integer literal).
pub fn python_int(value: &Value) -> Option<PyInt> {
    match value {
        Value::Bool(b) => Some(PyInt::Exact(i128::from(*b))),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(PyInt::Exact(i128::from(i)))
            } else if let Some(u) = n.as_u64() {
                Some(PyInt::Exact(i128::from(u)))
            } else {
                // A float (or an integer literal beyond u64, which serde_json reads as one):
                // int() truncates toward zero.
                let f = n.as_f64()?.trunc();
                if !f.is_finite() {
                    return None;
                }
                if f.abs() < 1e38 {
                    Some(PyInt::Exact(f as i128))
                } else {
                    Some(PyInt::Huge(f))
                }
            }
        }
        Value::String(s) => int_literal(s),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// `int(str)`: surrounding whitespace, an optional sign, ASCII digits with single underscores
/// between them. (Python also takes other Unicode decimal digits; those are refused here,
/// see docs/differences.md.)
fn int_literal(text: &str) -> Option<PyInt> {
    let text = text.trim_matches(char::is_whitespace);
    let (negative, digits) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_digit() || !bytes[bytes.len() - 1].is_ascii_digit() {
        return None;
    }
    let mut clean = String::with_capacity(bytes.len() + 1);
    if negative {
        clean.push('-');
    }
    let mut previous_underscore = false;
    for &b in bytes {
        match b {
            b'0'..=b'9' => {
                clean.push(b as char);
                previous_underscore = false;
            }
            b'_' if !previous_underscore => previous_underscore = true,
            _ => return None,
        }
    }
    match clean.parse::<i128>() {
        Ok(n) => Some(PyInt::Exact(n)),
        Err(_) => clean.parse::<f64>().ok().map(PyInt::Huge),
    }
}

/// Python's `str(value)` for a scalar JSON value (`None` for lists and objects, whose `repr`
/// no lookup would match).
pub fn python_str(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Null => Some("None".into()),
        Value::Number(n) => Some(match n.as_f64().filter(|_| n.is_f64()) {
            Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
            Some(f) => format!("{f}"),
            None => n.to_string(),
        }),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Python's truthiness of a JSON value.
pub fn python_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}
