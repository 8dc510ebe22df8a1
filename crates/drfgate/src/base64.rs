//! STUB until wip/parsing lands.
use std::borrow::Cow;
#[derive(Debug)]
pub struct Base64Error;
impl std::fmt::Display for Base64Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bad base64")
    }
}
pub fn b64decode_lenient(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(input)
        .map_err(|_| Base64Error)
}
pub fn decode_basic_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
    }
}
