//! Django's `django.utils.crypto.salted_hmac` and the reading half of `django.core.signing`
//! (`Signer`/`TimestampSigner.unsign`, `loads`): what sessions are signed with. Only reading:
//! the gate never signs anything.
//!
//! Django 4.1+ behaviour: SHA-256 signatures, `SECRET_KEY` then each of `SECRET_KEY_FALLBACKS`.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// `salted_hmac(key_salt, value, secret, algorithm="sha256").digest()`: the key is
/// SHA-256(salt ‖ secret), with no separator.
pub fn salted_hmac_sha256(key_salt: &str, value: &[u8], secret: &str) -> [u8; 32] {
    let mut key = Sha256::new();
    key.update(key_salt.as_bytes());
    key.update(secret.as_bytes());
    let key = key.finalize();
    // HMAC accepts a key of any length: this cannot fail.
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex, as Python's `hexdigest()`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// URL-safe base64 without padding (Django's `b64_encode(...).strip(b"=")`).
fn b64url_nopad(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Django's `b64_decode`: pad, map the URL-safe alphabet to the standard one and decode with
/// Python's lenient rules (`base64.urlsafe_b64decode`).
fn b64url_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut translated: Vec<u8> = text
        .iter()
        .map(|&b| match b {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    let pad = (4 - text.len() % 4) % 4;
    translated.extend(std::iter::repeat_n(b'=', pad));
    crate::base64::b64decode_lenient(&translated).ok()
}

/// Constant-time equality of two byte strings (different lengths compare false).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Why a signed value was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum BadSignature {
    /// No `:` in the value.
    NoSeparator,
    /// No key (current or fallback) signed it.
    Mismatch,
    /// `TimestampSigner`: the timestamp is not base 62.
    BadTimestamp,
    /// `TimestampSigner`: older than `max_age` (`Signature age <age> > <max_age> seconds`).
    Expired { age: f64, max_age: u64 },
    /// The payload is not base64, zlib or JSON.
    BadPayload,
}

/// `Signer(key, salt=salt, fallback_keys=…).unsign(signed)`: the value, if one of `keys`
/// (current first) signed it.
pub fn unsign<'s>(signed: &'s str, salt: &str, keys: &[&str]) -> Result<&'s str, BadSignature> {
    let (value, signature) = signed.rsplit_once(':').ok_or(BadSignature::NoSeparator)?;
    let key_salt = format!("{salt}signer");
    for key in keys {
        let expected = b64url_nopad(&salted_hmac_sha256(&key_salt, value.as_bytes(), key));
        if constant_time_eq(signature.as_bytes(), expected.as_bytes()) {
            return Ok(value);
        }
    }
    Err(BadSignature::Mismatch)
}

/// Django's `b62_decode` (alphabet digits, upper, lower; a leading `-` negates).
fn b62_decode(text: &str) -> Option<i64> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let mut number: i64 = 0;
    for b in digits.bytes() {
        let digit = ALPHABET.iter().position(|&a| a == b)? as i64;
        number = number.checked_mul(62)?.checked_add(digit)?;
    }
    Some(sign * number)
}

/// `signing.loads(signed, salt=salt, max_age=max_age)` with the JSON serializer: the
/// signature (all keys), then the age against `now` (seconds since the epoch, as a float,
/// like `time.time()`), then the payload (`.`-prefixed: zlib-compressed).
pub fn loads(
    signed: &str,
    salt: &str,
    keys: &[&str],
    max_age: Option<u64>,
    now: f64,
) -> Result<serde_json::Value, BadSignature> {
    let value = unsign(signed, salt, keys)?;
    let (payload, timestamp) = value.rsplit_once(':').ok_or(BadSignature::NoSeparator)?;
    let timestamp = b62_decode(timestamp).ok_or(BadSignature::BadTimestamp)?;
    if let Some(max_age) = max_age {
        let age = now - timestamp as f64;
        if age > max_age as f64 {
            return Err(BadSignature::Expired { age, max_age });
        }
    }
    let (compressed, payload) = match payload.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, payload),
    };
    let mut data = b64url_decode(payload.as_bytes()).ok_or(BadSignature::BadPayload)?;
    if compressed {
        data = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&data, MAX_SESSION_BYTES)
            .map_err(|_| BadSignature::BadPayload)?;
    }
    // Django decodes the bytes as latin-1 before json.loads; its own output is ASCII (JSON
    // with ensure_ascii), so UTF-8 and latin-1 agree on everything it writes.
    let text: String = data.iter().map(|&b| char::from(b)).collect();
    serde_json::from_str(&text).map_err(|_| BadSignature::BadPayload)
}

/// A session blob larger than this once decompressed is refused (a zlib bomb would otherwise
/// cost memory; Django sessions are a few hundred bytes).
const MAX_SESSION_BYTES: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    // django-formats.md §0 / §2.3 vectors, made by Django itself.
    const KEY: &str = "vector-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz";
    const FALLBACK: &str = "old-vector-secret-key-9876543210";
    const T: f64 = 1_700_000_000.0;

    #[test]
    fn salted_hmac_matches_django() {
        assert_eq!(
            hex(&salted_hmac_sha256("test.salt", b"hello", KEY)),
            "58e532c98fc78e3a3b1e662566599247165ffbe5f89ef6427a5a94700bbb219d"
        );
    }

    #[test]
    fn signer_vectors() {
        let keys = [KEY];
        assert_eq!(
            unsign(
                "hello:tomjgAlokzRXN5Ueh0S4FC5ff5GV9jptVqAHyTbRyj0",
                "django.core.signing.Signer",
                &keys
            ),
            Ok("hello")
        );
        assert_eq!(
            unsign(
                "hello:2ewDCCGatSGfmmHOsBt3RHgiAawpMt0RZ4UAfRRMje0",
                "my.salt",
                &keys
            ),
            Ok("hello")
        );
        assert_eq!(
            unsign(
                "hello:2ewDCCGatSGfmmHOsBt3RHgiAawpMt0RZ4UAfRRMje1",
                "my.salt",
                &keys
            ),
            Err(BadSignature::Mismatch)
        );
        assert_eq!(
            unsign("hello", "my.salt", &keys),
            Err(BadSignature::NoSeparator)
        );
    }

    #[test]
    fn loads_vectors_with_fallbacks_and_age() {
        let salt = "django.core.signing";
        let signed = "eyJhIjoxfQ:1r31eq:mvKyk6R21V9W6i3mSZbDXNZ9dZYcMmvBNF8Ox9e3am8";
        assert_eq!(
            loads(signed, salt, &[KEY], None, T),
            Ok(serde_json::json!({"a": 1}))
        );
        let by_fallback = "eyJhIjoxfQ:1r31eq:LS_Jw9CvE5KB4OBpITsaC3zCa7XUzy01T193KkM_4-o";
        assert_eq!(
            loads(by_fallback, salt, &[KEY], None, T),
            Err(BadSignature::Mismatch)
        );
        assert!(loads(by_fallback, salt, &[KEY, FALLBACK], None, T).is_ok());
        assert!(loads(signed, salt, &[KEY], Some(60), T + 60.0).is_ok());
        assert_eq!(
            loads(signed, salt, &[KEY], Some(60), T + 100.0),
            Err(BadSignature::Expired {
                age: 100.0,
                max_age: 60
            })
        );
        let compressed = ".eJwNy7kNgDAURMFeHL_Auz6-TSuIApDIIEP0jtOR5k3XeT9p2zPCFCqNTjCYaKGQUUEVNdRRoIEmzngd44IrbrjjwAPP4_sBe8cS7A:1r31eq:7qEUSPh50TMJLFE3kTICFFrO5e_GIfp5Vb_po8wsO0M";
        let list: Vec<u32> = (0..30).collect();
        assert_eq!(
            loads(compressed, salt, &[KEY], None, T),
            Ok(serde_json::json!({ "list": list }))
        );
    }

    #[test]
    fn session_vector() {
        let data = ".eJxVjEEOwiAQRe_C2hCY6VBw6b5nIMCgVA0kpV0Z765NutDtf-_9l_BhW4vfel78zOIstDj9bjGkR6474HuotyZTq-syR7kr8qBdTo3z83K4fwcl9PKtM0ICIhyv5CInIu20GawOJg9KU8QEiIzMYIhHRRSUscohRALrIoj3B7rsNnc:1r31eq:RvOpsGb85kYbK_Goq5VBp0AfKlXWAbsQdsm2Lr19dvU";
        let session = loads(
            data,
            "django.contrib.sessions.SessionStore",
            &[KEY],
            None,
            T,
        )
        .unwrap();
        assert_eq!(session["_auth_user_id"], "1");
        assert_eq!(
            session["_auth_user_hash"],
            "e32c25537f59bdc551916481a6e4015b3c233d3dd265d7055a0680932b5289b2"
        );
        let password = "pbkdf2_sha256$1000000$vectorsalt0123456789ab$TnFLbqsJJ1veTVCQVc5zgmEIPUUzN7RCqWaDPD9Iznw=";
        let salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";
        assert_eq!(
            hex(&salted_hmac_sha256(salt, password.as_bytes(), KEY)),
            "e32c25537f59bdc551916481a6e4015b3c233d3dd265d7055a0680932b5289b2"
        );
        assert_eq!(
            hex(&salted_hmac_sha256(salt, password.as_bytes(), FALLBACK)),
            "a43c833654126f62ea0049c5e06506ddf825bb70d4fc2feb5a44ecf923cc0637"
        );
    }

    #[test]
    fn signed_cookie_session_vector_and_garbage() {
        let cookie = ".eJxVjEEOwiAQRe_C2hCY6VBw6b5nIMCgVA0kpV0Z765NutDtf-_9l_BhW4vfel78zOIstDj9bjGkR6474HuotyZTq-syR7kr8qBdTo3z83K4fwcl9PKtM0ICIhyv5CInIu20GawOJg9KU8QEiIzMYIhHRRSUscohRALrIoj3B7rsNnc:1r31eq:2EOnuw0DMyWJMu2EfpxKl-HPJVdlrjObN4vhiX5Jxpc";
        let salt = "django.contrib.sessions.backends.signed_cookies";
        assert!(loads(cookie, salt, &[KEY], Some(1_209_600), T + 1_209_600.0).is_ok());
        assert!(matches!(
            loads(cookie, salt, &[KEY], Some(1_209_600), T + 1_209_600.5),
            Err(BadSignature::Expired { .. })
        ));
        for junk in ["", ":", "a:b:c", "::::", "\u{e9}:x"] {
            assert!(loads(junk, salt, &[KEY], None, T).is_err());
        }
    }
}
