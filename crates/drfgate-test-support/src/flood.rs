//! The tokens the flood tests send: the valid ones their databases hold, and junk keys shaped
//! like real ones (40 hex characters) so that nothing about a junk key gives it away.

/// The `i`-th valid token key of a flood test's database.
pub fn valid_token(i: usize) -> String {
    format!("v{i:039}")
}

/// The `i`-th junk key: distinct for every `i`, 40 hex characters like a real key.
pub fn junk_token(i: usize) -> String {
    format!(
        "{:040x}",
        (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    )
}
