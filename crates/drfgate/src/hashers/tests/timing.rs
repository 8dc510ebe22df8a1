//! Django's timing behaviour: every refusal costs one hash at the default cost, and an
//! outdated work factor is made up to the default.

use std::time::Instant;

use super::vectors::{DJANGO_SMALL_COST, SPEC_PASSWORD};
use super::{all_hashers_md5_first, counting};
use crate::hashers::{HashWork, Hasher, PasswordHashers};

// ---------------------------------------------------------------------------------------------
// Django's timing behaviour
// ---------------------------------------------------------------------------------------------

#[test]
fn timing_like_django_gives_the_same_answers() {
    let hashers = all_hashers_md5_first();
    let (password, encoded) = DJANGO_SMALL_COST[6];
    assert!(hashers.check_password_timing_like_django(password, encoded));
    assert!(!hashers.check_password_timing_like_django("wrong", encoded));
    assert!(!hashers.check_password_timing_like_django(password, "!"));
    assert!(!hashers.check_password_timing_like_django(password, ""));
    assert!(!hashers.check_password_timing_like_django(password, "sha1$a$b"));
    // Another algorithm than the default: verified, no hardening.
    let (password, encoded) = DJANGO_SMALL_COST[3];
    assert!(hashers.check_password_timing_like_django(password, encoded));
    assert!(!hashers.check_password_timing_like_django("wrong", encoded));
}

#[test]
fn bcrypt_hardening_runs_for_a_wrong_password_at_a_low_cost() {
    let hashers = PasswordHashers::new(vec![Hasher::BcryptSha256]);
    let (_, encoded) = DJANGO_SMALL_COST[3];
    let (verified, work) = counting(|| hashers.check_password_timing_like_django("wrong", encoded));
    assert!(!verified);
    // 1 verification + 2^(12-4) - 1 = 255 hardening hashes at cost 4: the work of one hash
    // at the default cost 12, counted rather than timed.
    assert_eq!(work.hashes(Hasher::BcryptSha256), 256);
    assert_eq!(
        work.cost(Hasher::BcryptSha256),
        Hasher::BcryptSha256.default_cost()
    );
}

#[test]
fn every_refusal_costs_one_hash_at_the_default_cost() {
    let hashers = all_hashers_md5_first();
    let one = HashWork::one_default_hash(Hasher::Md5);
    let (password, encoded) = DJANGO_SMALL_COST[6];
    let unusable = "!IZRSuBFyZjNPx9cRfRnsfr4NnvHCYwSqG2EwcBy";
    for (case, password, encoded) in [
        ("wrong password", "wrong", encoded),
        ("unusable password", password, unusable),
        ("empty value", password, ""),
        ("unknown algorithm", password, "sha1$a$b"),
        (
            "unsalted legacy md5",
            password,
            "9cc2ae8a1ba7a93da39b46fc1019c481",
        ),
    ] {
        let (answer, work) =
            counting(|| hashers.check_password_timing_like_django(password, encoded));
        assert!(!answer, "{case}");
        assert_eq!(work, one, "{case}");
    }
    let (answer, work) = counting(|| hashers.check_password_timing_like_django(password, encoded));
    assert!(answer);
    assert_eq!(work, one, "right password");
    let (_, work) = counting(|| {
        hashers.run_default_hasher(password);
        false
    });
    assert_eq!(work, one, "unknown user");
}

#[test]
fn an_outdated_work_factor_is_made_up_to_the_default() {
    // Verified at 2^4 rounds, then 2^(12-4) - 1 more hashes at 2^4: 2^12 in all.
    let hashers = PasswordHashers::new(vec![Hasher::BcryptSha256]);
    let (password, encoded) = DJANGO_SMALL_COST[3];
    let (answer, work) = counting(|| hashers.check_password_timing_like_django("wrong", encoded));
    assert!(!answer);
    assert_eq!(work.hashes(Hasher::BcryptSha256), 256);
    assert_eq!(
        work.cost(Hasher::BcryptSha256),
        Hasher::BcryptSha256.default_cost()
    );
    assert_eq!(work.total_hashes(), 256);
    // A right password, or a hasher other than the default, is not hardened (as in Django).
    let (answer, work) = counting(|| hashers.check_password_timing_like_django(password, encoded));
    assert!(answer);
    assert_eq!(work.cost(Hasher::BcryptSha256), 16);
    let hashers = all_hashers_md5_first();
    let (_, work) = counting(|| hashers.check_password_timing_like_django("wrong", encoded));
    assert_eq!(
        (work.total_hashes(), work.cost(Hasher::BcryptSha256)),
        (1, 16)
    );
}

#[test]
fn default_costs_are_counted_in_the_hashers_units() {
    for &hasher in Hasher::all() {
        let hashers = PasswordHashers::new(vec![hasher]);
        let (_, work) = counting(|| {
            hashers.run_default_hasher(SPEC_PASSWORD);
            false
        });
        assert_eq!(work, HashWork::one_default_hash(hasher), "{hasher}");
    }
    assert_eq!(Hasher::Pbkdf2Sha256.default_cost(), 1_000_000);
    assert_eq!(Hasher::Argon2.default_cost(), 2 * 102_400);
    assert_eq!(Hasher::Bcrypt.default_cost(), 4096);
    assert_eq!(Hasher::Scrypt.default_cost(), 16_384 * 8 * 5);
}

/// Not an assertion: prints what a missing user costs with each default hasher. Run with
/// `cargo test --release -p drfgate --lib hashers -- --ignored --nocapture`.
#[test]
#[ignore = "measurement; meaningful in release builds"]
fn measure_default_hasher_cost() {
    for &hasher in Hasher::all() {
        let hashers = PasswordHashers::new(vec![hasher]);
        let started = Instant::now();
        hashers.run_default_hasher("correct horse battery staple");
        eprintln!(
            "run_default_hasher {:<14} {:?}",
            hasher.algorithm(),
            started.elapsed()
        );
    }
}
