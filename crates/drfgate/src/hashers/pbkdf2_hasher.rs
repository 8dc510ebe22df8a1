//! `pbkdf2_sha256$<iterations>$<salt>$<b64std(dk)>` and `pbkdf2_sha1$…` (Django's
//! PBKDF2PasswordHasher and PBKDF2SHA1PasswordHasher).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::Sha1;
use sha2::Sha256;

use super::{
    constant_time_eq, count_hash, parse_canonical_decimal, split_fields, Hasher, TIMING_SALT,
};

/// Django 5.2's `PBKDF2PasswordHasher.iterations` (shared by the SHA-1 variant).
const DJANGO_DEFAULT_ITERATIONS: u32 = 1_000_000;

/// Work is counted in iterations.
pub(super) const DEFAULT_COST: u64 = DJANGO_DEFAULT_ITERATIONS as u64;

/// Python's `hashlib.pbkdf2_hmac` raises OverflowError above C's INT_MAX.
const MAX_ITERATIONS: u64 = i32::MAX as u64;

#[derive(Clone, Copy)]
enum Digest {
    Sha256,
    Sha1,
}

impl Digest {
    fn algorithm(self) -> &'static str {
        self.hasher().algorithm()
    }

    fn hasher(self) -> Hasher {
        match self {
            Digest::Sha256 => Hasher::Pbkdf2Sha256,
            Digest::Sha1 => Hasher::Pbkdf2Sha1,
        }
    }

    /// PBKDF2 with dklen = the digest size, as Django leaves dklen unset.
    fn derive(self, password: &str, salt: &str, iterations: u32) -> Vec<u8> {
        count_hash(self.hasher(), u64::from(iterations));
        let (password, salt) = (password.as_bytes(), salt.as_bytes());
        match self {
            Digest::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec()
            }
            Digest::Sha1 => {
                pbkdf2::pbkdf2_hmac_array::<Sha1, 20>(password, salt, iterations).to_vec()
            }
        }
    }

    fn encode(self, password: &str, salt: &str, iterations: u32) -> String {
        let derived = STANDARD.encode(self.derive(password, salt, iterations));
        format!("{}${iterations}${salt}${derived}", self.algorithm())
    }
}

/// The parts of a stored value that Django's `decode` would accept and that could ever re-encode
/// to the same string.
struct Decoded<'a> {
    iterations: u32,
    salt: &'a str,
}

fn decode(digest: Digest, encoded: &str) -> Option<Decoded<'_>> {
    let [algorithm, iterations, salt, _derived] = split_fields::<4>(encoded)?;
    if algorithm != digest.algorithm() || salt.is_empty() {
        return None;
    }
    // Zero is replaced by the default iteration count when re-encoding, so it never matches.
    let iterations =
        parse_canonical_decimal(iterations).filter(|&n| (1..=MAX_ITERATIONS).contains(&n))?;
    Some(Decoded {
        iterations: u32::try_from(iterations).ok()?,
        salt,
    })
}

fn verify(digest: Digest, password: &str, encoded: &str) -> bool {
    decode(digest, encoded).is_some_and(|decoded| {
        constant_time_eq(
            &digest.encode(password, decoded.salt, decoded.iterations),
            encoded,
        )
    })
}

#[cfg(feature = "internals")]
pub(super) fn decodes_sha256(encoded: &str) -> bool {
    decode(Digest::Sha256, encoded).is_some()
}

#[cfg(feature = "internals")]
pub(super) fn decodes_sha1(encoded: &str) -> bool {
    decode(Digest::Sha1, encoded).is_some()
}

pub(super) fn verify_sha256(password: &str, encoded: &str) -> bool {
    verify(Digest::Sha256, password, encoded)
}

pub(super) fn verify_sha1(password: &str, encoded: &str) -> bool {
    verify(Digest::Sha1, password, encoded)
}

pub(super) fn hash_sha256_at_default_cost(password: &str) {
    std::hint::black_box(Digest::Sha256.derive(password, TIMING_SALT, DJANGO_DEFAULT_ITERATIONS));
}

pub(super) fn hash_sha1_at_default_cost(password: &str) {
    std::hint::black_box(Digest::Sha1.derive(password, TIMING_SALT, DJANGO_DEFAULT_ITERATIONS));
}

/// Runs the iterations the stored value is short of the default, as Django does.
fn harden_runtime(digest: Digest, password: &str, encoded: &str) {
    if let Some(decoded) = decode(digest, encoded) {
        let missing = DJANGO_DEFAULT_ITERATIONS.saturating_sub(decoded.iterations);
        if missing > 0 {
            std::hint::black_box(digest.derive(password, decoded.salt, missing));
        }
    }
}

pub(super) fn harden_runtime_sha256(password: &str, encoded: &str) {
    harden_runtime(Digest::Sha256, password, encoded);
}

pub(super) fn harden_runtime_sha1(password: &str, encoded: &str) {
    harden_runtime(Digest::Sha1, password, encoded);
}
