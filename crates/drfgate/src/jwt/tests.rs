//! Spec §8.2 vectors ([MG+X]) and PyJWT's judgement of edge cases, at a fixed clock.

use serde_json::json;

use super::python::{python_int, PyInt};
use super::*;

const SECRET: &str = "vector-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz";
const ACCESS: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNzAwMDAwMzAwLCJpYXQiOjE3MDAwMDAwMDAsImp0aSI6IjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwidXNlcl9pZCI6IjEifQ.Wo8bMt5nGwNNoYU4opyy5_V7z2KT116A2lJ88zxpwto";
const T: f64 = 1_700_000_000.0;

fn hs256() -> Verifier {
    Verifier::hmac(Algorithm::HS256, SECRET.as_bytes()).unwrap()
}

fn rules() -> ClaimRules {
    ClaimRules {
        leeway: 0.0,
        audience: None,
        issuer: None,
    }
}

#[test]
fn the_spec_access_token_verifies_and_expires_at_its_exp() {
    let signed = verify_signature(ACCESS.as_bytes(), &hs256()).unwrap();
    assert_eq!(signed.claims["user_id"], json!("1"));
    assert_eq!(rules().validate(&signed.claims, T + 299.9), Ok(()));
    assert_eq!(
        rules().validate(&signed.claims, T + 300.0),
        Err(DecodeError::Expired {
            exp: 1_700_000_300.0
        })
    );
    let lenient = ClaimRules {
        leeway: 10.0,
        ..rules()
    };
    assert_eq!(lenient.validate(&signed.claims, T + 309.0), Ok(()));
    // iat in the future is invalid (PyJWT >= 2.10), leeway included.
    assert!(matches!(
        rules().validate(&signed.claims, T - 1.0),
        Err(DecodeError::Invalid(_))
    ));
    assert_eq!(lenient.validate(&signed.claims, T - 10.0), Ok(()));
}

#[test]
fn tampering_padding_and_other_algorithms_are_invalid() {
    let mut tampered = ACCESS.as_bytes().to_vec();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    assert!(verify_signature(&tampered, &hs256()).is_err());
    // Up to two '=' on a segment whose length is a multiple of four pass in PyJWT 2.15.
    let parts: Vec<&str> = ACCESS.split('.').collect();
    let padded = format!("{}.{}.{}=", parts[0], parts[1], parts[2]);
    assert!(verify_signature(padded.as_bytes(), &hs256()).is_ok());
    let hs512 = Verifier::hmac(Algorithm::HS512, SECRET.as_bytes()).unwrap();
    assert!(verify_signature(ACCESS.as_bytes(), &hs512).is_err());
    assert!(verify_signature(b"garbage", &hs256()).is_err());
    assert!(verify_signature(b"a.b", &hs256()).is_err());
}

#[test]
fn python_int_is_pythons() {
    assert_eq!(python_int(&json!("  17 ")), Some(PyInt::Exact(17)));
    assert_eq!(python_int(&json!("1_000")), Some(PyInt::Exact(1000)));
    assert_eq!(python_int(&json!("1__0")), None);
    assert_eq!(python_int(&json!("_1")), None);
    assert_eq!(python_int(&json!("1.5")), None);
    assert_eq!(python_int(&json!(1.9)), Some(PyInt::Exact(1)));
    assert_eq!(python_int(&json!(-1.9)), Some(PyInt::Exact(-1)));
    assert_eq!(python_int(&json!(true)), Some(PyInt::Exact(1)));
    assert_eq!(python_int(&json!(null)), None);
    assert_eq!(python_int(&json!([1])), None);
    assert_eq!(python_str(&json!(1.0)).as_deref(), Some("1.0"));
    assert_eq!(python_str(&json!(true)).as_deref(), Some("True"));
}

#[test]
fn claims_in_pyjwt_order() {
    let claims = |v: serde_json::Value| v.as_object().unwrap().clone();
    // A future iat is reported before an expired exp.
    let both = claims(json!({"iat": T + 100.0, "exp": T - 100.0}));
    assert!(matches!(
        rules().validate(&both, T),
        Err(DecodeError::Invalid(_))
    ));
    // exp as a numeric string passes int().
    assert_eq!(
        rules().validate(&claims(json!({"exp": "1700000300"})), T),
        Ok(())
    );
    assert!(rules()
        .validate(&claims(json!({"exp": "soon"})), T)
        .is_err());
    assert!(rules().validate(&claims(json!({"jti": 5})), T).is_err());
    assert!(rules().validate(&claims(json!({"sub": 5})), T).is_err());
    // aud is ignored unless AUDIENCE is set.
    assert_eq!(rules().validate(&claims(json!({"aud": 5})), T), Ok(()));
    let aud = ClaimRules {
        audience: Some(vec!["api".into()]),
        issuer: Some("me".into()),
        ..rules()
    };
    assert_eq!(
        aud.validate(&claims(json!({"aud": ["x", "api"], "iss": "me"})), T),
        Ok(())
    );
    assert!(aud
        .validate(&claims(json!({"aud": "x", "iss": "me"})), T)
        .is_err());
    assert!(aud.validate(&claims(json!({"aud": "api"})), T).is_err());
    assert!(aud
        .validate(&claims(json!({"aud": "api", "iss": 1})), T)
        .is_err());
}

#[test]
fn keys_that_pyjwt_would_refuse_are_refused_at_load() {
    assert!(Verifier::hmac(Algorithm::HS256, b"-----BEGIN PUBLIC KEY-----\nx").is_err());
    assert!(Verifier::hmac(Algorithm::HS256, b"ssh-rsa AAAA").is_err());
    assert!(Verifier::public_key(Algorithm::RS256, "").is_err());
    assert!(Verifier::public_key(Algorithm::RS256, "not a key").is_err());
    assert!(Algorithm::from_setting("none").is_err());
    assert!(Algorithm::from_setting("ES512").is_err());
    assert_eq!(Algorithm::from_setting("PS384"), Ok(Algorithm::PS384));
}
