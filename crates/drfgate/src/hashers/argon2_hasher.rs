//! `argon2$argon2id$v=19$m=<KiB>,t=<t>,p=<p>$<b64 salt>$<b64 hash>` (Django's
//! Argon2PasswordHasher): `"argon2"` followed by an Argon2 encoded string.
//!
//! Django hands the encoded string to argon2-cffi's `PasswordHasher.verify`, i.e. the reference C
//! library's `argon2_verify`, instead of re-encoding. Its decoder is strict, and this parser
//! accepts exactly what it accepts, checked against argon2-cffi 25.1:
//! `$<type>[$v=<n>]$m=<n>,t=<n>,p=<n>$<salt>$<hash>` with the type `argon2id`, `argon2i` or
//! `argon2d`; decimals without sign or leading zeros; salt and hash in unpadded standard base64
//! whose unused trailing bits are zero; nothing after the hash. A missing `v=` means version 16.
//!
//! Deliberate differences, all failing closed: versions other than 16 and 19 (the C library
//! computes something for them, but no Argon2 implementation writes them); a NUL byte, where C
//! would stop reading; and memory costs above [`MAX_ARGON2_MEMORY_KIB`].

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::{count_hash, parse_canonical_decimal, Hasher, TIMING_SALT};

/// Largest `m` (KiB) verified: 1 GiB. Django's default is 102400 KiB (100 MiB); this admits ten
/// times that while keeping a hostile stored value from making us allocate without bound.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;

/// Argon2's own limit on lanes (`ARGON2_MAX_LANES`).
const MAX_LANES: u32 = 0x00FF_FFFF;

/// Django 5.2's `Argon2PasswordHasher` parameters, with argon2-cffi's default hash length.
const DJANGO_DEFAULT_TIME_COST: u32 = 2;
const DJANGO_DEFAULT_MEMORY_COST_KIB: u32 = 102_400;
const DJANGO_DEFAULT_PARALLELISM: u32 = 8;
const DJANGO_DEFAULT_HASH_LEN: usize = 32;

/// Work is counted in KiB of memory filled per pass, times passes.
pub(super) const DEFAULT_COST: u64 =
    DJANGO_DEFAULT_TIME_COST as u64 * DJANGO_DEFAULT_MEMORY_COST_KIB as u64;

/// Argon2 with `params`, counted as one hash when it ran.
fn hash_into(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &str,
    salt: &[u8],
    output: &mut [u8],
) -> bool {
    let cost = u64::from(params.t_cost()) * u64::from(params.m_cost());
    let hashed = Argon2::new(algorithm, version, params).hash_password_into(
        password.as_bytes(),
        salt,
        output,
    );
    if hashed.is_ok() {
        count_hash(Hasher::Argon2, cost);
    }
    hashed.is_ok()
}

struct Decoded {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

pub(super) fn verify(password: &str, encoded: &str) -> bool {
    let Some(decoded) = encoded.strip_prefix("argon2").and_then(decode_phc) else {
        return false;
    };
    let mut recomputed = vec![0u8; decoded.hash.len()];
    let hashed = hash_into(
        decoded.algorithm,
        decoded.version,
        decoded.params,
        password,
        &decoded.salt,
        &mut recomputed,
    );
    hashed && bool::from(recomputed.ct_eq(&decoded.hash))
}

#[cfg(feature = "internals")]
pub(super) fn decodes(encoded: &str) -> bool {
    encoded.strip_prefix("argon2").and_then(decode_phc).is_some()
}

/// Decodes the Argon2 encoded string (starting at its leading `$`), enforcing the reference
/// decoder's grammar and validation plus our memory limit.
fn decode_phc(phc: &str) -> Option<Decoded> {
    let mut rest = phc.strip_prefix('$')?;
    let (variant, after_variant) = rest.split_once('$')?;
    let algorithm = match variant {
        "argon2id" => Algorithm::Argon2id,
        "argon2i" => Algorithm::Argon2i,
        "argon2d" => Algorithm::Argon2d,
        _ => return None,
    };
    rest = after_variant;

    let mut version_number = 0x10;
    if let Some(after_v) = rest.strip_prefix("v=") {
        let (version_field, after_version) = after_v.split_once('$')?;
        version_number = parse_u32(version_field)?;
        rest = after_version;
    }
    let version = Version::try_from(version_number).ok()?;

    let mut fields = rest.split('$');
    let (params_field, salt_field, hash_field) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() {
        return None;
    }
    let mut costs = params_field.split(',');
    let memory = parse_u32(costs.next()?.strip_prefix("m=")?)?;
    let time = parse_u32(costs.next()?.strip_prefix("t=")?)?;
    let lanes = parse_u32(costs.next()?.strip_prefix("p=")?)?;
    if costs.next().is_some() {
        return None;
    }
    // Checked before Params::new, whose `8 * lanes` would overflow for absurd lane counts.
    if memory > MAX_ARGON2_MEMORY_KIB || !(1..=MAX_LANES).contains(&lanes) {
        return None;
    }

    let salt = STANDARD_NO_PAD.decode(salt_field).ok()?;
    let hash = STANDARD_NO_PAD.decode(hash_field).ok()?;
    let params = Params::new(memory, time, lanes, Some(hash.len())).ok()?;
    Some(Decoded {
        algorithm,
        version,
        params,
        salt,
        hash,
    })
}

fn parse_u32(field: &str) -> Option<u32> {
    parse_canonical_decimal(field).and_then(|value| u32::try_from(value).ok())
}

pub(super) fn hash_at_default_cost(password: &str) {
    let Ok(params) = Params::new(
        DJANGO_DEFAULT_MEMORY_COST_KIB,
        DJANGO_DEFAULT_TIME_COST,
        DJANGO_DEFAULT_PARALLELISM,
        Some(DJANGO_DEFAULT_HASH_LEN),
    ) else {
        return;
    };
    let mut output = [0u8; DJANGO_DEFAULT_HASH_LEN];
    let hashed = hash_into(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        password,
        TIMING_SALT.as_bytes(),
        &mut output,
    );
    std::hint::black_box((hashed, output));
}

#[cfg(test)]
mod limits {
    use super::{decode_phc, MAX_ARGON2_MEMORY_KIB};

    fn phc(params: &str) -> String {
        format!("$argon2id$v=19${params}$c2FsdHNhbHRzYWx0MTIzNA$bn03OqpgUI9z+qVbG4o6ESMLYrQLywh6kEKjlmeeaIk")
    }

    #[test]
    fn memory_limit_admits_four_times_djangos_default() {
        assert!(decode_phc(&phc("m=102400,t=2,p=8")).is_some());
        assert!(decode_phc(&phc("m=409600,t=8,p=32")).is_some());
        assert!(decode_phc(&phc(&format!("m={MAX_ARGON2_MEMORY_KIB},t=1,p=1"))).is_some());
        assert!(decode_phc(&phc(&format!("m={},t=1,p=1", MAX_ARGON2_MEMORY_KIB + 1))).is_none());
    }
}
