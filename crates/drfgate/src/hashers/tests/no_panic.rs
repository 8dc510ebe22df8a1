//! No stored value or password makes a hasher panic or verify by accident.

use proptest::prelude::*;

use super::all_hashers_md5_first;

// ---------------------------------------------------------------------------------------------
// No input panics
// ---------------------------------------------------------------------------------------------

/// Shapes near each format, with costs kept small so a debug build stays fast.
fn near_valid_encoded() -> impl Strategy<Value = String> {
    prop_oneof![
        "pbkdf2_sha(256|1)\\$0?[0-9]{1,3}\\$[a-zA-Z0-9ä]{0,22}\\$[A-Za-z0-9+/=]{0,44}",
        "argon2\\$\\$?argon2(id|i|d|x)?(\\$v=(16|19|0|20|019))?\\$m=[0-9]{1,3},t=[0-3],p=[0-4](,keyid=A)?\\$[A-Za-z0-9+/=]{0,24}\\$[A-Za-z0-9+/=]{0,44}",
        "bcrypt(_sha256)?\\$\\$?2[abxyzB]\\$0?[0-6]\\$[./A-Za-z0-9]{20,24}[./A-Za-z0-9$]{29,33}",
        "scrypt\\$0?(0|1|2|3|4|8|16)\\$[a-z]{0,5}\\$0?[0-9]{1,2}\\$0?[0-9]\\$[A-Za-z0-9+/=]{0,90}",
        "md5\\$[^$]{0,10}\\$[0-9a-fA-F]{0,33}",
    ]
}

/// `$`-separated junk after each algorithm prefix. Numbers are either tiny or far beyond every
/// limit (a mid-sized PBKDF2 count would be verified, just slowly).
fn junk_encoded() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec![
        "pbkdf2_sha256$",
        "pbkdf2_sha1$",
        "argon2$",
        "argon2$argon2id$",
        "argon2$argon2i$v=19$",
        "argon2$argon2d$",
        "bcrypt_sha256$",
        "bcrypt_sha256$$2b$",
        "bcrypt$$2a$",
        "scrypt$",
        "md5$",
        "sha1$",
        "!",
        "",
    ]);
    let field = prop_oneof![
        "[0-9]",
        "0[0-9]",
        "1[0-9]",
        "[3-9][0-9]{9,24}",
        "[a-zA-Z0-9./+=]{0,30}",
        "(v=1[0-9]|m=[0-9]{1,2},t=[0-9],p=[0-9])",
        "\\PC{0,8}",
        ".{0,8}",
    ];
    (prefix, prop::collection::vec(field, 0..8))
        .prop_map(|(prefix, fields)| format!("{prefix}{}", fields.join("$")))
}

fn any_encoded() -> impl Strategy<Value = String> {
    prop_oneof![near_valid_encoded(), junk_encoded(), any::<String>()]
}

pub(super) fn any_password() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "\\PC{0,100}", Just(String::new())]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_values_never_panic_and_never_verify(encoded in any_encoded(), password in any_password()) {
        let hashers = all_hashers_md5_first();
        prop_assert!(!hashers.check_password(&password, &encoded));
        prop_assert!(!hashers.check_password_timing_like_django(&password, &encoded));
    }
}
