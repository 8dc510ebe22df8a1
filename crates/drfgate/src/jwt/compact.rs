//! The JWS compact serialization as PyJWT 2.15's `PyJWS._load` and `_validate_headers` read
//! it: `header.payload.signature`, each segment base64url with at most two trailing `=`, in
//! canonical form; a header that is a JSON object whose `kid` (if any) is a string and whose
//! `crit` (if any) lists only extensions PyJWT knows; no `b64: false` (a detached payload,
//! which simplejwt never passes).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// A token split into its parts; the payload is still bytes (PyJWT parses it after the
/// signature is checked).
#[derive(Debug)]
pub struct Compact {
    pub header: Map<String, Value>,
    pub payload: Vec<u8>,
    /// `header_segment.payload_segment`, the bytes that were signed.
    pub signing_input: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Why a token is malformed (all `DecodeError`/`InvalidTokenError` in PyJWT: `Token is invalid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompactError {
    NotEnoughSegments,
    Padding(&'static str),
    Header(String),
    Payload(String),
}

impl fmt::Display for CompactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompactError::NotEnoughSegments => f.write_str("not a JWT: fewer than three segments"),
            CompactError::Padding(which) => write!(f, "the {which} segment is not base64url"),
            CompactError::Header(why) => write!(f, "bad header: {why}"),
            CompactError::Payload(why) => write!(f, "bad payload: {why}"),
        }
    }
}

/// PyJWT's `_decode_base64url_segment`.
fn segment(bytes: &[u8], name: &'static str) -> Result<Vec<u8>, CompactError> {
    let stripped_len = bytes.len() - bytes.iter().rev().take_while(|&&b| b == b'=').count();
    let padding = bytes.len() - stripped_len;
    if padding > 2 || (padding > 0 && bytes.len() % 4 != 0) {
        return Err(CompactError::Padding(name));
    }
    let stripped = &bytes[..stripped_len];
    // The engine refuses characters outside the URL-safe alphabet, a length of 4n+1 and
    // non-canonical trailing bits, as PyJWT's re-encoding comparison does.
    URL_SAFE_NO_PAD
        .decode(stripped)
        .map_err(|_| CompactError::Padding(name))
}

/// Python's `json.loads` for the header and the payload. Differences (refused here, accepted
/// by Python): `NaN`/`Infinity` literals, lone surrogate escapes, nesting deeper than 128,
/// UTF-16/32 or BOM-prefixed text; all are listed in docs/differences.md.
fn json_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("the {what} is not a JSON object")),
        Err(e) => Err(format!("the {what} is not JSON ({e})")),
    }
}

/// Extensions PyJWT understands in `crit`.
const SUPPORTED_CRIT: &[&str] = &["b64"];

fn validate_header(header: &Map<String, Value>) -> Result<(), CompactError> {
    let bad = |why: &str| Err(CompactError::Header(why.into()));
    if let Some(kid) = header.get("kid") {
        if !kid.is_string() {
            return bad("\"kid\" is not a string");
        }
    }
    if let Some(crit) = header.get("crit") {
        let Some(list) = crit.as_array().filter(|l| !l.is_empty()) else {
            return bad("\"crit\" is not a non-empty list");
        };
        for ext in list {
            let Some(ext) = ext.as_str() else {
                return bad("\"crit\" holds a non-string");
            };
            if !SUPPORTED_CRIT.contains(&ext) {
                return bad("\"crit\" names an unsupported extension");
            }
            if !header.contains_key(ext) {
                return bad("\"crit\" names an extension missing from the header");
            }
        }
    }
    if header.get("b64") == Some(&Value::Bool(false)) {
        // A detached payload: simplejwt never supplies one, so PyJWT refuses the token.
        return bad("\"b64\": false (detached payload)");
    }
    Ok(())
}

/// Splits and decodes a compact token: `rsplit('.', 1)` then `split('.', 1)`, as PyJWT does
/// (so a payload segment containing a dot fails at base64, not at splitting).
pub fn decode_compact(token: &[u8]) -> Result<Compact, CompactError> {
    let last_dot = token
        .iter()
        .rposition(|&b| b == b'.')
        .ok_or(CompactError::NotEnoughSegments)?;
    let (signing_input, crypto) = (&token[..last_dot], &token[last_dot + 1..]);
    let first_dot = signing_input
        .iter()
        .position(|&b| b == b'.')
        .ok_or(CompactError::NotEnoughSegments)?;
    let (header_segment, payload_segment) =
        (&signing_input[..first_dot], &signing_input[first_dot + 1..]);
    let header_bytes = segment(header_segment, "header")?;
    let header = json_object(&header_bytes, "header").map_err(CompactError::Header)?;
    if header.get("b64") == Some(&Value::Bool(false)) && !payload_segment.is_empty() {
        return Err(CompactError::Payload(
            "non-empty with \"b64\": false".into(),
        ));
    }
    let payload = if header.get("b64") == Some(&Value::Bool(false)) {
        Vec::new()
    } else {
        segment(payload_segment, "payload")?
    };
    let signature = segment(crypto, "crypto")?;
    validate_header(&header)?;
    Ok(Compact {
        header,
        payload,
        signing_input: signing_input.to_vec(),
        signature,
    })
}

impl Compact {
    /// PyJWT's `_decode_payload`: the payload must be a JSON object.
    pub fn payload_object(&self) -> Result<Map<String, Value>, String> {
        json_object(&self.payload, "payload")
    }
}
