//! `scrypt$<N>$<salt>$<r>$<p>$<b64std(dk)>` with a 64-byte dk (Django's ScryptPasswordHasher).
//!
//! Django computes with `hashlib.scrypt(..., maxmem=0)`, which leaves OpenSSL's default memory
//! limit of 32 MiB in force: OpenSSL refuses any N, r, p needing more, and Django then raises.
//! This module admits exactly the parameters OpenSSL admits, so it verifies the same values as a
//! stock Django 5.2 and never allocates more than that limit.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{
    constant_time_eq, count_hash, parse_canonical_decimal, split_fields, Hasher, TIMING_SALT,
};

/// OpenSSL's default `maxmem` for scrypt (`SCRYPT_MAX_MEM`), which Django does not raise.
/// It bounds `128·r·(N + 2) + 128·r·p` bytes. Django's default N=2^14, r=8, p=5 needs about
/// 16 MiB; quadrupling p (20) still fits, but doubling N or r does not, and real Django raises
/// for those, so they are refused here too.
pub const MAX_SCRYPT_MEMORY_BYTES: u64 = 32 * 1024 * 1024;

/// OpenSSL's `SCRYPT_PR_MAX`: r·p must stay at or below it.
const MAX_R_TIMES_P: u64 = (1 << 30) - 1;

const DERIVED_KEY_LEN: usize = 64;

/// Django 5.2's `ScryptPasswordHasher` parameters.
const DJANGO_DEFAULT_LOG_N: u8 = 14;
const DJANGO_DEFAULT_R: u32 = 8;
const DJANGO_DEFAULT_P: u32 = 5;

/// Work is counted as `N·r·p`.
pub(super) const DEFAULT_COST: u64 =
    (1 << DJANGO_DEFAULT_LOG_N) * DJANGO_DEFAULT_R as u64 * DJANGO_DEFAULT_P as u64;

struct Decoded<'a> {
    n: u64,
    salt: &'a str,
    r: u64,
    p: u64,
    params: scrypt::Params,
}

fn decode(encoded: &str) -> Option<Decoded<'_>> {
    let [algorithm, n, salt, r, p, _derived] = split_fields::<6>(encoded)?;
    if algorithm != "scrypt" || salt.is_empty() {
        return None;
    }
    // Zero is replaced by Django's default when re-encoding, so it can never match.
    let positive = |field| parse_canonical_decimal(field).filter(|&value| value > 0);
    let (n, r, p) = (positive(n)?, positive(r)?, positive(p)?);
    if !openssl_admits(n, r, p) {
        return None;
    }
    let log_n = u8::try_from(n.trailing_zeros()).ok()?;
    let params = scrypt::Params::new(
        log_n,
        u32::try_from(r).ok()?,
        u32::try_from(p).ok()?,
        DERIVED_KEY_LEN,
    )
    .ok()?;
    Some(Decoded {
        n,
        salt,
        r,
        p,
        params,
    })
}

#[cfg(feature = "internals")]
pub(super) fn decodes(encoded: &str) -> bool {
    decode(encoded).is_some()
}

/// The parameter checks of OpenSSL's `EVP_PBE_scrypt` (as called by Python's hashlib).
fn openssl_admits(n: u64, r: u64, p: u64) -> bool {
    if n < 2 || !n.is_power_of_two() || r.saturating_mul(p) > MAX_R_TIMES_P {
        return false;
    }
    // RFC 7914 requires N < 2^(128·r/8).
    if 16 * r <= 63 && n >= 1 << (16 * r) {
        return false;
    }
    let memory = u128::from(r) * 128 * (u128::from(n) + 2) + u128::from(r) * 128 * u128::from(p);
    memory <= u128::from(MAX_SCRYPT_MEMORY_BYTES)
}

fn derive(password: &str, salt: &str, params: &scrypt::Params) -> Option<[u8; DERIVED_KEY_LEN]> {
    let mut derived = [0u8; DERIVED_KEY_LEN];
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), params, &mut derived).ok()?;
    let cost = (1u64 << params.log_n()) * u64::from(params.r()) * u64::from(params.p());
    count_hash(Hasher::Scrypt, cost);
    Some(derived)
}

pub(super) fn verify(password: &str, encoded: &str) -> bool {
    let Some(decoded) = decode(encoded) else {
        return false;
    };
    derive(password, decoded.salt, &decoded.params).is_some_and(|derived| {
        let recomputed = format!(
            "scrypt${}${}${}${}${}",
            decoded.n,
            decoded.salt,
            decoded.r,
            decoded.p,
            STANDARD.encode(derived)
        );
        constant_time_eq(&recomputed, encoded)
    })
}

pub(super) fn hash_at_default_cost(password: &str) {
    if let Ok(params) = scrypt::Params::new(
        DJANGO_DEFAULT_LOG_N,
        DJANGO_DEFAULT_R,
        DJANGO_DEFAULT_P,
        DERIVED_KEY_LEN,
    ) {
        std::hint::black_box(derive(password, TIMING_SALT, &params));
    }
}

#[cfg(test)]
mod limits {
    use super::openssl_admits;

    #[test]
    fn admits_exactly_what_openssl_admits_by_default() {
        // Django's defaults and 4x their parallelism.
        assert!(openssl_admits(1 << 14, 8, 5));
        assert!(openssl_admits(1 << 14, 8, 20));
        // Python 3.11 + OpenSSL 3.0: p = 252 passes and 253 fails at N = 2, r = 1024
        // (128·1024·4 + 128·1024·252 is exactly 32 MiB).
        assert!(openssl_admits(2, 1024, 252));
        assert!(!openssl_admits(2, 1024, 253));
        // 2 KiB over the limit: Django raises "memory limit exceeded".
        assert!(!openssl_admits(1 << 15, 8, 1));
        // N must stay below 2^(16·r).
        assert!(openssl_admits(1 << 15, 1, 1));
        assert!(!openssl_admits(1 << 16, 1, 1));
        assert!(!openssl_admits(u64::MAX, u64::MAX, u64::MAX));
    }
}
