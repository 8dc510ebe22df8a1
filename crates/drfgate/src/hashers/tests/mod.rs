//! The password hashers against Django: one file per kind of check.
//!
//! This file has the shared helpers and the setting names; `vectors` checks values made by
//! Django; `refused` checks values Django refuses; `timing` checks Django's timing behaviour
//! (the work done on every refusal); `no_panic` feeds random values.

mod near_misses;
mod no_panic;
mod refused;
mod timing;
mod vectors;

use vectors::DJANGO_SMALL_COST;

use super::{work_done_on_this_thread, HashWork, Hasher, PasswordHashers, UnknownHasher};

/// Every hasher this crate implements, in enum order (MD5 last, so the default is PBKDF2).
fn all_hashers() -> PasswordHashers {
    PasswordHashers::new(Hasher::all().to_vec())
}

/// Same list but with a cheap default hasher, for tests that exercise Django's timing paths.
fn all_hashers_md5_first() -> PasswordHashers {
    let mut list = vec![Hasher::Md5];
    list.extend(Hasher::all().iter().copied().filter(|&h| h != Hasher::Md5));
    PasswordHashers::new(list)
}

fn assert_verifies(hashers: &PasswordHashers, password: &str, encoded: &str) {
    assert!(
        hashers.check_password(password, encoded),
        "should verify: {encoded}"
    );
    let wrong = format!("{password}x");
    assert!(
        !hashers.check_password(&wrong, encoded),
        "wrong password verified: {encoded}"
    );
}

// ---------------------------------------------------------------------------------------------
// Names and configuration
// ---------------------------------------------------------------------------------------------

#[test]
fn setting_names_round_trip_in_full_and_bare() {
    for &hasher in Hasher::all() {
        assert_eq!(Hasher::from_setting(hasher.setting_name()), Some(hasher));
        let bare = hasher.setting_name().rsplit('.').next().unwrap();
        assert_eq!(Hasher::from_setting(bare), Some(hasher));
    }
    assert_eq!(Hasher::all().len(), 7);
}

#[test]
fn class_names_and_algorithms_are_djangos() {
    let expected = [
        ("PBKDF2PasswordHasher", "pbkdf2_sha256"),
        ("PBKDF2SHA1PasswordHasher", "pbkdf2_sha1"),
        ("Argon2PasswordHasher", "argon2"),
        ("BCryptSHA256PasswordHasher", "bcrypt_sha256"),
        ("BCryptPasswordHasher", "bcrypt"),
        ("ScryptPasswordHasher", "scrypt"),
        ("MD5PasswordHasher", "md5"),
    ];
    for (class_name, algorithm) in expected {
        let hasher = Hasher::from_setting(class_name).unwrap();
        assert_eq!(hasher.algorithm(), algorithm);
        assert_eq!(
            hasher.setting_name(),
            format!("django.contrib.auth.hashers.{class_name}")
        );
    }
}

#[test]
fn unknown_or_custom_setting_names_are_refused() {
    for name in [
        "",
        "pbkdf2_sha256",
        "myproject.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.SHA1PasswordHasher",
        "django.contrib.auth.hashers.UnsaltedMD5PasswordHasher",
        "django.contrib.auth.hashers.pbkdf2passwordhasher",
        " django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.",
    ] {
        assert_eq!(Hasher::from_setting(name), None, "{name:?}");
    }
}

#[test]
fn from_setting_names_reports_the_unknown_entry() {
    let parsed = PasswordHashers::from_setting_names([
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "MD5PasswordHasher",
    ])
    .unwrap();
    assert_eq!(parsed.hashers(), [Hasher::Scrypt, Hasher::Md5]);

    let error =
        PasswordHashers::from_setting_names(["PBKDF2PasswordHasher", "x.Custom"]).unwrap_err();
    assert_eq!(error, UnknownHasher("x.Custom".to_owned()));
}

#[test]
fn django_default_list_is_django_5_2s() {
    assert_eq!(
        PasswordHashers::django_default().hashers(),
        [
            Hasher::Pbkdf2Sha256,
            Hasher::Pbkdf2Sha1,
            Hasher::Argon2,
            Hasher::BcryptSha256,
            Hasher::Scrypt
        ]
    );
}

#[test]
fn empty_list_verifies_nothing_and_does_not_panic() {
    let empty = PasswordHashers::new(Vec::new());
    assert!(!empty.check_password("pässwörd", DJANGO_SMALL_COST[6].1));
    assert!(!empty.check_password_timing_like_django("pässwörd", DJANGO_SMALL_COST[6].1));
    empty.run_default_hasher("pässwörd");
}

#[test]
fn identify_follows_djangos_rules() {
    let hashers = all_hashers();
    assert_eq!(hashers.identify("md5$salt$abc"), Some(Hasher::Md5));
    assert_eq!(hashers.identify("bcrypt$$2b$..."), Some(Hasher::Bcrypt));
    assert_eq!(hashers.identify("argon2"), Some(Hasher::Argon2));
    // 37 characters starting md5$$ is the unsalted legacy hasher, not salted md5.
    assert_eq!(
        hashers.identify("md5$$9cc2ae8a1ba7a93da39b46fc1019c481"),
        None
    );
    assert_eq!(hashers.identify("9cc2ae8a1ba7a93da39b46fc1019c481"), None);
    assert_eq!(hashers.identify(""), None);
    assert_eq!(hashers.identify("sha1$salt$abc"), None);
    assert_eq!(
        PasswordHashers::django_default().identify("md5$salt$abc"),
        None,
        "MD5 is not in Django's default list"
    );
}

/// The answer of `check` and the hashing it did on this thread.
fn counting(check: impl FnOnce() -> bool) -> (bool, HashWork) {
    let before = work_done_on_this_thread();
    let answer = check();
    (answer, work_done_on_this_thread().since(&before))
}
