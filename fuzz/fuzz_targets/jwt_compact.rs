//! simplejwt's token reading as PyJWT does it: the compact split, base64url, the header
//! checks and the claims (`int()` over times, `aud`, `iss`, `sub`, `jti`). Raw tokens stop
//! at the signature; with a first byte of 1 the rest is `header \0 payload`, signed here with
//! HS256 so the claims are reached.
#![no_main]

use drfgate::jwt::{decode_compact, verify_signature, Algorithm, ClaimRules, Verifier};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const SECRET: &[u8] = b"fuzz-signing-key-of-thirty-two-bytes";

fn b64url(bytes: &[u8]) -> String {
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

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn rules() -> &'static [ClaimRules; 2] {
    static RULES: OnceLock<[ClaimRules; 2]> = OnceLock::new();
    RULES.get_or_init(|| {
        [
            ClaimRules {
                leeway: 0.0,
                audience: None,
                issuer: None,
            },
            ClaimRules {
                leeway: 30.5,
                audience: Some(vec!["api".into(), "web".into()]),
                issuer: Some("https://issuer.example".into()),
            },
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let verifier = Verifier::hmac(Algorithm::HS256, SECRET).expect("HS256 key");
    let token = match data.split_first() {
        Some((1, rest)) => {
            let (header, payload) = match rest.iter().position(|&b| b == 0) {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (&br#"{"alg":"HS256","typ":"JWT"}"#[..], rest),
            };
            let signing_input = format!("{}.{}", b64url(header), b64url(payload));
            let signature = hmac_sha256(SECRET, signing_input.as_bytes());
            format!("{signing_input}.{}", b64url(&signature)).into_bytes()
        }
        _ => data.to_vec(),
    };
    if let Ok(compact) = decode_compact(&token) {
        if let Ok(claims) = compact.payload_object() {
            for rules in rules() {
                let _ = rules.validate(&claims, 1.7e9);
            }
        }
    }
    if let Ok(signed) = verify_signature(&token, &verifier) {
        for rules in rules() {
            let _ = rules.validate(&signed.claims, 1.7e9);
        }
    }
});
