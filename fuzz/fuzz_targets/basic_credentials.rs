//! `Authorization: Basic …` up to the user lookup: any header bytes give a decline, one of
//! DRF's three details, or a username and password that came out of the header.
#![no_main]

use drfgate::auth::{basic_credentials, BasicCredentials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|header: &[u8]| {
    match basic_credentials(header) {
        BasicCredentials::NotBasic => {}
        BasicCredentials::Refused(detail) => assert!(detail.starts_with("Invalid basic header.")),
        BasicCredentials::UsernamePassword(username, password) => {
            assert!(!username.contains(':'));
            // Each decoded character came from at least one byte of the base64 field.
            assert!(username.chars().count() + password.chars().count() < header.len());
        }
    }
    // The same credentials field with the scheme the fuzzer did not have to find.
    let mut prefixed = b"Basic ".to_vec();
    prefixed.extend_from_slice(header);
    let _ = basic_credentials(&prefixed);
});
