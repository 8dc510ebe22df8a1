//! Values Django 5.2 refuses never verify, whatever the password.

use super::vectors::{BCRYPT_72_BYTES, DJANGO_SMALL_COST};
use super::{all_hashers, assert_verifies, counting};
use crate::hashers::PasswordHashers;

// ---------------------------------------------------------------------------------------------
// Values Django 5.2 refuses (each outcome checked against real Django: False, or an exception)
// ---------------------------------------------------------------------------------------------

fn assert_refused(hashers: &PasswordHashers, password: &str, encoded: &str) {
    assert!(
        !hashers.check_password(password, encoded),
        "should not verify: {encoded:?}"
    );
}

#[test]
fn non_canonical_pbkdf2_values_never_verify() {
    let hashers = all_hashers();
    let (password, encoded) = DJANGO_SMALL_COST[0];
    for iterations in ["01000", "+1000", " 1000", "1_000", "1000 ", "１０００"] {
        assert_refused(
            &hashers,
            password,
            &encoded.replace("$1000$", &format!("${iterations}$")),
        );
    }
    assert_refused(&hashers, password, encoded.trim_end_matches('='));
    assert_refused(&hashers, password, &format!("{encoded}$"));
    assert_refused(&hashers, password, &format!("{encoded}\n"));
    assert_refused(
        &hashers,
        password,
        &encoded.replace("pbkdf2_sha256", "PBKDF2_SHA256"),
    );
    // Zero is replaced by the default count; above INT_MAX Python raises; an empty salt raises.
    assert_refused(&hashers, password, "pbkdf2_sha256$0$salt$hash");
    assert_refused(&hashers, password, "pbkdf2_sha256$2147483648$salt$hash");
    assert_refused(
        &hashers,
        password,
        "pbkdf2_sha256$99999999999999999999999$salt$hash",
    );
    assert_refused(&hashers, password, "pbkdf2_sha256$1000$$hash");
    assert_refused(&hashers, password, "pbkdf2_sha256");
    assert_refused(&hashers, password, "pbkdf2_sha256$1000$salt");
}

#[test]
fn non_canonical_md5_values_never_verify() {
    let hashers = all_hashers();
    let (password, encoded) = DJANGO_SMALL_COST[6];
    let (head, digest) = encoded.rsplit_once('$').unwrap();
    assert_refused(
        &hashers,
        password,
        &format!("{head}${}", digest.to_uppercase()),
    );
    assert_refused(&hashers, password, "md5$$d41d8cd98f00b204e9800998ecf8427e");
    assert_refused(&hashers, password, "md5$salt");
}

#[test]
fn bcrypt_accepts_every_version_bcrypt_python_accepts() {
    let hashers = all_hashers();
    for (password, encoded) in [DJANGO_SMALL_COST[3], DJANGO_SMALL_COST[4]] {
        for version in ["2a", "2y", "2x"] {
            assert_verifies(
                &hashers,
                password,
                &encoded.replace("$2b$", &format!("${version}$")),
            );
        }
        for version in ["2", "2c", "3a", "2B"] {
            assert_refused(
                &hashers,
                password,
                &encoded.replacen("$2b$", &format!("${version}$"), 1),
            );
        }
    }
}

#[test]
fn non_canonical_bcrypt_values_never_verify() {
    let hashers = all_hashers();
    let (password, encoded) = DJANGO_SMALL_COST[3];
    assert_refused(&hashers, password, &encoded.replace("$04$", "$4$"));
    assert_refused(&hashers, password, &encoded.replace("$04$", "$004$"));
    assert_refused(
        &hashers,
        password,
        &encoded.replace("bcrypt_sha256$$", "bcrypt_sha256$"),
    );
    assert_refused(&hashers, password, &format!("{encoded}x"));
    assert_refused(&hashers, password, &encoded[..encoded.len() - 1]);
    // Cost outside bcrypt's 4..=31 makes hashpw raise.
    assert_refused(&hashers, password, &encoded.replace("$04$", "$03$"));
    assert_refused(&hashers, password, &encoded.replace("$04$", "$32$"));
    // The bcrypt prefix belongs to the other variant.
    assert_refused(
        &hashers,
        password,
        &encoded.replace("bcrypt_sha256$", "bcrypt$"),
    );
}

#[test]
fn plain_bcrypt_admits_72_bytes_and_refuses_more() {
    let hashers = all_hashers();
    let (password, encoded) = BCRYPT_72_BYTES;
    assert_eq!(password.len(), 72);
    assert!(hashers.check_password(password, encoded));
    // bcrypt-python 5 raises instead of truncating, so the 72-byte prefix must not let it in.
    assert!(!hashers.check_password(&format!("{password}a"), encoded));
    assert!(!hashers.check_password(&format!("{password}ö"), encoded));
}

#[test]
fn non_canonical_scrypt_values_never_verify() {
    let hashers = all_hashers();
    let (password, encoded) = DJANGO_SMALL_COST[5];
    assert_refused(&hashers, password, &encoded.replace("$8$2$", "$08$2$"));
    assert_refused(&hashers, password, &encoded.replace("$8$2$", "$8$02$"));
    assert_refused(
        &hashers,
        password,
        &encoded.replace("scrypt$256$", "scrypt$0256$"),
    );
    assert_refused(&hashers, password, &format!("{encoded}$x"));
    assert_refused(&hashers, password, &encoded.replace("$8$2$", "$0$2$"));
}

#[test]
fn scrypt_parameters_openssl_refuses_never_verify() {
    let hashers = all_hashers();
    let hash = "A".repeat(86) + "==";
    for (n, r, p) in [
        (32768, 8, 1),    // 32 MiB + 2 KiB: over OpenSSL's default maxmem, as Django 5.2 finds
        (16384, 16, 1),   // likewise
        (255, 8, 1),      // not a power of two
        (1, 8, 1),        // N must be at least 2
        (65536, 1, 1),    // N must be below 2^(16·r)
        (2, 1, 1 << 30),  // r·p above 2^30 - 1
        (1 << 40, 8, 1),  // absurd: would need 128 TiB
        (2, 1 << 31, 1),  // absurd block size
        (u64::MAX, 8, 1), // absurd and not a power of two
    ] {
        let encoded = format!("scrypt${n}$salt${r}${p}${hash}");
        let (verified, work) = counting(|| hashers.check_password("pw", &encoded));
        assert!(!verified, "should not verify: {encoded:?}");
        // Refused from the parameters alone: no hashing (and no huge allocation) at all.
        assert_eq!(work.total_hashes(), 0, "refusing {encoded} hashed");
    }
}

#[test]
fn argon2_values_the_reference_decoder_refuses_never_verify() {
    let hashers = all_hashers();
    let (password, encoded) = DJANGO_SMALL_COST[2];
    let refused = [
        encoded.replace("v=19", "v=019"),
        encoded.replace("m=64", "m=064"),
        encoded.replace("m=64,t=1,p=2", "t=1,m=64,p=2"),
        encoded.replace("m=64,t=1", "m=64, t=1"),
        encoded.replace("p=2", "p=2,keyid=AAAA"),
        encoded.replace("p=2", "p=2,data=AAAA"),
        encoded.replace("argon2id", "ARGON2ID"),
        encoded.replace("argon2id", "argon2"),
        encoded.replace(
            "QU5HRXh2bEZleTVXUmlOM0QxeVYxeQ$",
            "QU5HRXh2bEZleTVXUmlOM0QxeVYxeQ==$",
        ),
        // Non-zero unused bits in the last salt character.
        encoded.replace("UmlOM0QxeVYxeQ$", "UmlOM0QxeVYxeR$"),
        format!("{encoded}="),
        format!("{encoded}$"),
        format!("{encoded}\0junk"),
        encoded.replace("m=64", "m=15"),
        encoded.replace("t=1", "t=0"),
        encoded.replace("p=2", "p=0"),
        // Versions the C library would compute something for but nothing ever writes.
        encoded.replace("v=19", "v=20"),
        encoded.replace("v=19", "v=5"),
        encoded.replace("argon2$argon2id", "argon2argon2id"),
        "argon2".to_owned(),
        "argon2$".to_owned(),
        "argon2$argon2id$v=19$m=64,t=1,p=2$QU5HRXh2bEZleTVXUmlOM0QxeVYxeQ$".to_owned(),
        "argon2$argon2id$v=19$m=64,t=1,p=2$$HNQkm+jFz4P5IeUXS8Xksa+6yp91ejAPQYgpYdX4/Rk".to_owned(),
        "argon2$argon2id$v=19$m=64,t=1,p=2$AAAAAA$HNQkm+jFz4P5IeUXS8Xksa+6yp91ejAPQYgpYdX4/Rk"
            .to_owned(),
        "argon2$argon2id$v=19$m=64,t=1,p=2$QU5HRXh2bEZleTVXUmlOM0QxeVYxeQ$AAAA".to_owned(),
    ];
    for value in &refused {
        assert_refused(&hashers, password, value);
    }
    // A changed variant is a different hash, so it is merely a mismatch.
    assert_refused(&hashers, password, &encoded.replace("argon2id", "argon2i"));
}

#[test]
fn argon2_absurd_parameters_are_refused_without_allocating() {
    let hashers = all_hashers();
    let tail = "QU5HRXh2bEZleTVXUmlOM0QxeVYxeQ$HNQkm+jFz4P5IeUXS8Xksa+6yp91ejAPQYgpYdX4/Rk";
    for params in [
        "m=4294967295,t=1,p=1",
        "m=1048577,t=1,p=1",
        "m=64,t=1,p=16777216",
        "m=64,t=1,p=4294967295",
        "m=4294967296,t=1,p=1",
        "m=64,t=4294967296,p=1",
    ] {
        let encoded = format!("argon2$argon2id$v=19${params}${tail}");
        let (verified, work) = counting(|| hashers.check_password("pässwörd", &encoded));
        assert!(!verified, "should not verify: {encoded:?}");
        // Refused from the parameters alone: no hashing (and no huge allocation) at all.
        assert_eq!(work.total_hashes(), 0, "refusing {encoded} hashed");
    }
}
