//! `md5$<salt>$<hex md5(salt ‖ password)>` (Django's MD5PasswordHasher, salted).

use md5::{Digest as _, Md5};

use super::{constant_time_eq, count_hash, split_fields, Hasher, TIMING_SALT};

fn hex_md5(salt: &str, password: &str) -> String {
    count_hash(Hasher::Md5, 1);
    let digest = Md5::new()
        .chain_update(salt.as_bytes())
        .chain_update(password.as_bytes())
        .finalize();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The salt of a value `verify` could ever accept.
fn decode(encoded: &str) -> Option<&str> {
    let [algorithm, salt, _digest] = split_fields::<3>(encoded)?;
    (algorithm == "md5" && !salt.is_empty()).then_some(salt)
}

#[cfg(feature = "internals")]
pub(super) fn decodes(encoded: &str) -> bool {
    decode(encoded).is_some()
}

pub(super) fn verify(password: &str, encoded: &str) -> bool {
    let Some(salt) = decode(encoded) else {
        return false;
    };
    let recomputed = format!("md5${salt}${}", hex_md5(salt, password));
    constant_time_eq(&recomputed, encoded)
}

pub(super) fn hash_at_default_cost(password: &str) {
    std::hint::black_box(hex_md5(TIMING_SALT, password));
}
