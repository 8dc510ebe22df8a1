//! Stored `auth_user.password` values: Django's `identify_hasher` and every hasher's decoder
//! (without the key derivation), on any text. MD5 values are cheap enough to verify too.
#![no_main]

use drfgate::hashers::{Hasher, PasswordHashers};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn every_hasher() -> &'static PasswordHashers {
    static ALL: OnceLock<PasswordHashers> = OnceLock::new();
    ALL.get_or_init(|| PasswordHashers::new(Hasher::all().to_vec()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(encoded) = std::str::from_utf8(data) else {
        return;
    };
    let identified = every_hasher().identify(encoded);
    for &hasher in Hasher::all() {
        if hasher.decodes(encoded) {
            assert_eq!(identified, Some(hasher), "{encoded:?}");
        }
    }
    if identified == Some(Hasher::Md5) {
        let _ = every_hasher().check_password("password", encoded);
    }
});
