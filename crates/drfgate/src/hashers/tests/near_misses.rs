//! A Django-made value verifies its password and nothing near it.

use proptest::prelude::*;

use super::all_hashers_md5_first;
use super::no_panic::any_password;
use super::vectors::DJANGO_SMALL_COST;

/// The characters a digest field holds (base64 with padding, bcrypt's base64, hex).
const DIGEST_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=.";

/// The byte offsets of the characters of `encoded`'s last field, its digest.
fn digest_offsets(encoded: &str) -> Vec<usize> {
    let start = encoded.rfind('$').unwrap() + 1;
    encoded[start..]
        .char_indices()
        .map(|(i, _)| start + i)
        .collect()
}

/// `encoded` with the character at byte `at` replaced by `new`; `None` when it is `new`.
fn with_typo(encoded: &str, at: usize, new: char) -> Option<String> {
    let old = encoded[at..].chars().next().unwrap();
    (old != new).then(|| {
        let mut typo = encoded.to_owned();
        typo.replace_range(at..at + old.len_utf8(), new.encode_utf8(&mut [0; 4]));
        typo
    })
}

/// Django compares whole encoded values (and libargon2 refuses non-canonical base64), so no
/// change in a digest's last three characters verifies, not even one that only touches the
/// padding or base64's unused trailing bits (which lie there in every format).
#[test]
fn no_change_near_the_end_of_a_digest_verifies() {
    let hashers = all_hashers_md5_first();
    for (password, encoded) in DJANGO_SMALL_COST {
        let offsets = digest_offsets(encoded);
        for &at in &offsets[offsets.len() - 3..] {
            for new in DIGEST_ALPHABET.chars() {
                if let Some(typo) = with_typo(encoded, at, new) {
                    assert!(!hashers.check_password(password, &typo), "{typo} verified");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A value verifies its own password and no other, and changing any one character of its
    /// digest (each to the character `shift` places further in the alphabet) makes it verify
    /// nothing.
    #[test]
    fn a_django_value_verifies_its_password_and_nothing_near(
        (password, encoded) in prop::sample::select(DJANGO_SMALL_COST),
        shift in 1..DIGEST_ALPHABET.len(),
        other in any_password(),
    ) {
        let hashers = all_hashers_md5_first();
        prop_assert!(hashers.check_password(password, encoded));
        prop_assert!(hashers.check_password_timing_like_django(password, encoded));
        prop_assert_eq!(hashers.check_password(&other, encoded), other == password);
        let alphabet: Vec<char> = DIGEST_ALPHABET.chars().collect();
        for at in digest_offsets(encoded) {
            let old = alphabet.iter().position(|&c| encoded[at..].starts_with(c)).unwrap();
            let typo = with_typo(encoded, at, alphabet[(old + shift) % alphabet.len()]).unwrap();
            prop_assert!(!hashers.check_password(password, &typo), "{} verified", typo);
        }
    }
}
