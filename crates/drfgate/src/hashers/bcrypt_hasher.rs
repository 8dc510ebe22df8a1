//! `bcrypt_sha256$$2b$<cost>$<22 salt><31 hash>` and `bcrypt$$2b$…` (Django's
//! BCryptSHA256PasswordHasher and BCryptPasswordHasher).
//!
//! Django verifies by calling `bcrypt.hashpw(password, <stored bcrypt string>)` and comparing the
//! whole result. hashpw always writes `$<version>$<two-digit cost>$<22 salt chars><31 hash chars>`
//! and echoes the version it was given, so only values of exactly that shape can match. bcrypt-python
//! 5 accepts the versions `2a`, `2b`, `2y` and `2x` and computes all of them the same way, so
//! Django 5.2 verifies a `$2x$` value too; this module does the same.

use base64::alphabet::BCRYPT;
use base64::engine::general_purpose::NO_PAD;
use base64::engine::GeneralPurpose;
use base64::Engine;
use bcrypt::Version;
use sha2::{Digest as _, Sha256};

use super::{constant_time_eq, count_hash, Hasher, TIMING_SALT};

/// Django 5.2's `BCryptSHA256PasswordHasher.rounds`.
const DJANGO_DEFAULT_COST: u32 = 12;

/// Work is counted in rounds of the key schedule, `2^cost` per hash.
pub(super) const DEFAULT_COST: u64 = 1 << DJANGO_DEFAULT_COST;

/// bcrypt reads at most this many password bytes; bcrypt-python 5 raises beyond it.
const MAX_PASSWORD_BYTES: usize = 72;

const BCRYPT_BASE64: GeneralPurpose = GeneralPurpose::new(&BCRYPT, NO_PAD);

/// `$2b$12$` + 22 salt chars + 31 hash chars.
const BCRYPT_STRING_LEN: usize = 60;

#[derive(Clone, Copy)]
enum Variant {
    /// bcrypt over the lowercase hex SHA-256 of the password (64 ASCII bytes), so no length limit.
    Sha256,
    /// bcrypt over the password itself.
    Plain,
}

impl Variant {
    fn algorithm(self) -> &'static str {
        self.hasher().algorithm()
    }

    fn hasher(self) -> Hasher {
        match self {
            Variant::Sha256 => Hasher::BcryptSha256,
            Variant::Plain => Hasher::Bcrypt,
        }
    }

    /// bcrypt of `input` with `salt`, counted as one hash of this variant.
    fn bcrypt(
        self,
        input: Vec<u8>,
        cost: u32,
        salt: [u8; 16],
    ) -> Result<bcrypt::HashParts, bcrypt::BcryptError> {
        let hashed = bcrypt::hash_with_salt(input, cost, salt);
        // Only a cost bcrypt accepts (4..=31) does the work.
        if hashed.is_ok() {
            count_hash(self.hasher(), 1 << cost);
        }
        hashed
    }

    /// The bytes bcrypt is given; `None` where Django would raise (plain bcrypt over 72 bytes).
    fn bcrypt_input(self, password: &str) -> Option<Vec<u8>> {
        match self {
            Variant::Sha256 => {
                let digest = Sha256::digest(password.as_bytes());
                Some(hex_lower(&digest).into_bytes())
            }
            Variant::Plain if password.len() > MAX_PASSWORD_BYTES => None,
            Variant::Plain => Some(password.as_bytes().to_vec()),
        }
    }
}

fn is_bcrypt_base64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'/'
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

struct Decoded {
    version: Version,
    cost: u32,
    salt: [u8; 16],
}

fn decode(variant: Variant, encoded: &str) -> Option<Decoded> {
    let bcrypt_string = encoded
        .strip_prefix(variant.algorithm())?
        .strip_prefix('$')?;
    let bytes = bcrypt_string.as_bytes();
    if bytes.len() != BCRYPT_STRING_LEN || bytes[0] != b'$' || bytes[3] != b'$' || bytes[6] != b'$'
    {
        return None;
    }
    let version = match &bytes[1..3] {
        b"2a" => Version::TwoA,
        b"2b" => Version::TwoB,
        b"2y" => Version::TwoY,
        b"2x" => Version::TwoX,
        _ => return None,
    };
    // hashpw never writes anything else there; refusing it early spares work on junk.
    if !bytes[29..].iter().all(|&byte| is_bcrypt_base64(byte)) {
        return None;
    }
    // hashpw writes the cost as exactly two digits, zero-padded.
    let cost = match &bytes[4..6] {
        [tens @ b'0'..=b'9', units @ b'0'..=b'9'] => {
            u32::from(tens - b'0') * 10 + u32::from(units - b'0')
        }
        _ => return None,
    };
    let salt = BCRYPT_BASE64.decode(&bytes[7..29]).ok()?;
    Some(Decoded {
        version,
        cost,
        salt: salt.try_into().ok()?,
    })
}

/// The bcrypt string hashpw would return; `None` where hashpw would raise (cost outside 4..=31,
/// plain password too long).
fn hashpw(
    variant: Variant,
    password: &str,
    cost: u32,
    salt: [u8; 16],
) -> Option<bcrypt::HashParts> {
    let input = variant.bcrypt_input(password)?;
    variant.bcrypt(input, cost, salt).ok()
}

fn verify(variant: Variant, password: &str, encoded: &str) -> bool {
    let Some(decoded) = decode(variant, encoded) else {
        return false;
    };
    hashpw(variant, password, decoded.cost, decoded.salt).is_some_and(|parts| {
        let recomputed = format!(
            "{}${}",
            variant.algorithm(),
            parts.format_for_version(decoded.version)
        );
        constant_time_eq(&recomputed, encoded)
    })
}

/// Plain bcrypt: a password longer than 72 bytes makes bcrypt-python 5 (and so Django 5.2) raise
/// instead of truncating; here it never matches (fails closed).
#[cfg(feature = "internals")]
pub(super) fn decodes_plain(encoded: &str) -> bool {
    decode(Variant::Plain, encoded).is_some()
}

#[cfg(feature = "internals")]
pub(super) fn decodes_sha256(encoded: &str) -> bool {
    decode(Variant::Sha256, encoded).is_some()
}

pub(super) fn verify_plain(password: &str, encoded: &str) -> bool {
    verify(Variant::Plain, password, encoded)
}

pub(super) fn verify_sha256(password: &str, encoded: &str) -> bool {
    verify(Variant::Sha256, password, encoded)
}

fn timing_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&TIMING_SALT.as_bytes()[..16]);
    salt
}

/// For timing only, so a plain password over 72 bytes is cut to 72 rather than skipped.
fn hash_at_default_cost(variant: Variant, password: &str) {
    let input = match variant {
        Variant::Plain => password.as_bytes()[..password.len().min(MAX_PASSWORD_BYTES)].to_vec(),
        Variant::Sha256 => variant.bcrypt_input(password).unwrap_or_default(),
    };
    std::hint::black_box(
        variant
            .bcrypt(input, DJANGO_DEFAULT_COST, timing_salt())
            .ok(),
    );
}

pub(super) fn hash_sha256_at_default_cost(password: &str) {
    hash_at_default_cost(Variant::Sha256, password);
}

pub(super) fn hash_plain_at_default_cost(password: &str) {
    hash_at_default_cost(Variant::Plain, password);
}

/// Django's harden_runtime: bcrypt's cost is a power of two, so a value `k` below the default
/// is made up for with `2^k - 1` further hashes at the stored cost.
fn harden_runtime(variant: Variant, password: &str, encoded: &str) {
    let Some(decoded) = decode(variant, encoded) else {
        return;
    };
    let Some(shortfall) = DJANGO_DEFAULT_COST.checked_sub(decoded.cost) else {
        return;
    };
    for _ in 1..(1u32 << shortfall) {
        std::hint::black_box(hashpw(variant, password, decoded.cost, decoded.salt));
    }
}

pub(super) fn harden_runtime_sha256(password: &str, encoded: &str) {
    harden_runtime(Variant::Sha256, password, encoded);
}

pub(super) fn harden_runtime_plain(password: &str, encoded: &str) {
    harden_runtime(Variant::Plain, password, encoded);
}
