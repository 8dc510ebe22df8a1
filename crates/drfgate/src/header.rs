//! Reading request headers the way Django and DRF read them: the `Authorization` tokenizer that
//! DRF's Token and Basic authenticators share (spec §1), and Django's `Cookie` header parser.
//!
//! Everything works on the raw header octets: Django hands DRF the header decoded as ISO-8859-1
//! and DRF encodes it back, so DRF effectively sees the exact bytes the client sent.
//!
//! The tokenizer is hand-written on purpose and must match CPython byte for byte: Python's
//! `bytes.split()` (which separators count, and which do not) and DRF's keyword comparison
//! decide which header a class accepts, so any difference is a request judged differently from
//! DRF; `tests/cpython_parity.rs` compares it with CPython on generated headers.

use std::borrow::Cow;

/// The bytes Python's `bytes.split()` treats as separators. Notably not NBSP (0xA0), 0x85 or
/// 0x1C–0x1F, which `str.split()` would split on.
fn is_python_bytes_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// Python's `bytes.split()` with no separator: runs of ASCII whitespace separate fields, and
/// leading or trailing whitespace yields no empty fields.
pub fn split_ascii_whitespace(value: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    value
        .split(|&byte| is_python_bytes_whitespace(byte))
        .filter(|field| !field.is_empty())
}

/// `bytes` as text when they are UTF-8, like `std::str::from_utf8`, with a cheaper check for
/// the usual case: credentials and paths are nearly always ASCII, and a short ASCII string
/// costs the general validation several times what a word-at-a-time ASCII test does.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    match ascii(bytes) {
        Some(text) => Ok(text),
        None => std::str::from_utf8(bytes),
    }
}

/// `bytes` as text when they are all ASCII, tested a word at a time.
fn ascii(bytes: &[u8]) -> Option<&str> {
    // SAFETY: ASCII is UTF-8.
    bytes
        .is_ascii()
        .then(|| unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// What DRF's Token/Basic authenticators make of an `Authorization` value for one scheme keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemeCredentials<'a> {
    /// Empty or all-whitespace value, or a different scheme: the authenticator declines.
    NotThisScheme,
    /// Only the keyword: "... No credentials provided."
    NoCredentials,
    /// Three or more fields: "... should not contain spaces."
    TooManyParts,
    /// Exactly keyword and one credentials field.
    Credentials(&'a [u8]),
}

/// Tokenizes `value` like DRF's `get_authorization_header(request).split()` and compares the
/// first field, ASCII-lowercased, with `keyword_lower`.
///
/// `keyword_lower` must already be lowercase; DRF lowercases the configured keyword once too.
pub fn scheme_credentials<'a>(value: &'a [u8], keyword_lower: &[u8]) -> SchemeCredentials<'a> {
    if value.is_empty() {
        // No header (what a request without credentials sends every class that reads it).
        return SchemeCredentials::NotThisScheme;
    }
    if let Some(credentials) = keyword_space_credentials(value, keyword_lower) {
        return SchemeCredentials::Credentials(credentials);
    }
    split_scheme_credentials(value, keyword_lower)
}

/// [`scheme_credentials`] by the general split alone.
fn split_scheme_credentials<'a>(value: &'a [u8], keyword_lower: &[u8]) -> SchemeCredentials<'a> {
    let mut fields = split_ascii_whitespace(value);
    let Some(scheme) = fields.next() else {
        return SchemeCredentials::NotThisScheme;
    };
    // bytes.lower() only touches A–Z, which is exactly what eq_ignore_ascii_case compares; the
    // keyword side is lowercase by contract, so an uppercase byte there can never match.
    let scheme_matches = scheme.len() == keyword_lower.len()
        && scheme
            .iter()
            .zip(keyword_lower)
            .all(|(&got, &want)| got.to_ascii_lowercase() == want);
    if !scheme_matches {
        return SchemeCredentials::NotThisScheme;
    }
    match (fields.next(), fields.next()) {
        (None, _) => SchemeCredentials::NoCredentials,
        (Some(credentials), None) => SchemeCredentials::Credentials(credentials),
        (Some(_), Some(_)) => SchemeCredentials::TooManyParts,
    }
}

/// The usual header, `<keyword> <credentials>` with one space and no other byte at or below
/// `b' '` (so no separator), is exactly two fields; checked a word at a time. `None`: any
/// other value, which the general split judges (with the same answer for this shape).
fn keyword_space_credentials<'a>(value: &'a [u8], keyword_lower: &[u8]) -> Option<&'a [u8]> {
    let (scheme, rest) = value.split_at_checked(keyword_lower.len())?;
    let credentials = rest.strip_prefix(b" ")?;
    let scheme_matches = !keyword_lower.is_empty()
        && scheme
            .iter()
            .zip(keyword_lower)
            .all(|(&got, &want)| got > b' ' && got.to_ascii_lowercase() == want);
    (scheme_matches && !credentials.is_empty() && !has_byte_at_most_space(credentials))
        .then_some(credentials)
}

/// The second of exactly two fields when `value` is `<prefix> <field>` with one space and no
/// byte at or below `b' '` in either (so no separator of [`split_ascii_whitespace`]): then
/// `value.split()` is `[prefix, field]`. `None` for any other value, which the general split
/// judges. For simplejwt's `AUTH_HEADER_TYPES`, compared case-sensitively.
pub(crate) fn exact_prefix_space_field<'a>(value: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let field = value.strip_prefix(prefix)?.strip_prefix(b" ")?;
    (!prefix.is_empty()
        && !field.is_empty()
        && !has_byte_at_most_space(prefix)
        && !has_byte_at_most_space(field))
    .then_some(field)
}

/// Whether any byte is `<= b' '` (every separator of [`split_ascii_whitespace`] is).
fn has_byte_at_most_space(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_ne_bytes(word.try_into().expect("eight bytes"));
        // A byte below 0x21 borrows into its high bit, which the byte itself lacks; exact
        // for "is there one" (a borrow only ever travels up from a byte that is one).
        if word.wrapping_sub(ONES * 0x21) & !word & HIGHS != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&byte| byte <= b' ')
}

/// How the front end's server would have turned the `Cookie` header into text for Django.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderTextDecoding {
    /// Django's WSGI handler: UTF-8, invalid sequences replaced by U+FFFD
    /// (`get_str_from_wsgi`).
    #[default]
    Wsgi,
    /// Django's ASGI handler: every header value decoded as ISO-8859-1. No front end runs
    /// under ASGI yet; the parity tests check it against Django.
    #[cfg(any(test, feature = "internals"))]
    Asgi,
}

/// The value Django's `request.COOKIES[name]` would hold for this `Cookie` header, following
/// `django.http.cookie.parse_cookie`: chunks split on `;`, name and value split at the first
/// `=`, both stripped of (Unicode) whitespace, a chunk without `=` is a value with the empty
/// name, the last occurrence of a name wins, and a double-quoted value is unquoted with
/// Python's `http.cookies` rules.
///
/// Borrows from the header unless decoding or unquoting changed the text.
pub fn cookie_value<'a>(
    cookie_header: &'a [u8],
    name: &str,
    decoding: HeaderTextDecoding,
) -> Option<Cow<'a, str>> {
    // Nearly every Cookie header is ASCII: then both decodings leave it as it is, and Python's
    // whitespace within ASCII is a set of bytes, so it is split and stripped byte by byte
    // instead of char by char.
    if let Some(text) = ascii(cookie_header) {
        return ascii_cookie_value(text, name).map(unquote_cookie_value);
    }
    match header_text(cookie_header, decoding) {
        Cow::Borrowed(text) => cookie_value_in_text(text, name),
        Cow::Owned(text) => {
            cookie_value_in_text(&text, name).map(|value| Cow::Owned(value.into_owned()))
        }
    }
}

fn header_text(raw: &[u8], decoding: HeaderTextDecoding) -> Cow<'_, str> {
    match decoding {
        HeaderTextDecoding::Wsgi => String::from_utf8_lossy(raw),
        #[cfg(any(test, feature = "internals"))]
        HeaderTextDecoding::Asgi => match std::str::from_utf8(raw) {
            Ok(text) if text.is_ascii() => Cow::Borrowed(text),
            _ => Cow::Owned(raw.iter().map(|&byte| char::from(byte)).collect()),
        },
    }
}

fn cookie_value_in_text<'t>(text: &'t str, wanted_name: &str) -> Option<Cow<'t, str>> {
    let mut last_value = None;
    for chunk in text.split(';') {
        let (name, value) = chunk.split_once('=').unwrap_or(("", chunk));
        let (name, value) = (
            strip_python_whitespace(name),
            strip_python_whitespace(value),
        );
        if name == wanted_name && !(name.is_empty() && value.is_empty()) {
            last_value = Some(value);
        }
    }
    last_value.map(unquote_cookie_value)
}

/// [`cookie_value_in_text`] for ASCII text: the same rules in one pass over the bytes, each
/// chunk's `;` and first `=` found together.
fn ascii_cookie_value<'t>(text: &'t str, wanted_name: &str) -> Option<&'t str> {
    let bytes = text.as_bytes();
    let mut last_value = None;
    let mut start = 0;
    loop {
        let mut end = start;
        let mut equals = None;
        while end < bytes.len() && bytes[end] != b';' {
            if bytes[end] == b'=' && equals.is_none() {
                equals = Some(end);
            }
            end += 1;
        }
        let (name, value) = match equals {
            Some(equals) => (
                strip_python_ascii_whitespace(text, start, equals),
                strip_python_ascii_whitespace(text, equals + 1, end),
            ),
            None => ("", strip_python_ascii_whitespace(text, start, end)),
        };
        if name == wanted_name && !(name.is_empty() && value.is_empty()) {
            last_value = Some(value);
        }
        if end == bytes.len() {
            return last_value;
        }
        start = end + 1;
    }
}

/// `text[start..end]` (ASCII) without Python's whitespace at either end.
fn strip_python_ascii_whitespace(text: &str, mut start: usize, mut end: usize) -> &str {
    let bytes = text.as_bytes();
    while start < end && is_python_ascii_whitespace(bytes[start]) {
        start += 1;
    }
    while end > start && is_python_ascii_whitespace(bytes[end - 1]) {
        end -= 1;
    }
    // ASCII: every index is a char boundary.
    &text[start..end]
}

/// [`is_python_str_whitespace`] for an ASCII character: `\t \n \x0b \x0c \r`, the
/// information separators `\x1c`–`\x1f`, and the space.
fn is_python_ascii_whitespace(byte: u8) -> bool {
    matches!(byte, b'\t'..=b'\r' | 0x1c..=0x1f | b' ')
}

/// Python's `str.isspace()`: Unicode White_Space plus the four ASCII information separators.
fn is_python_str_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

fn strip_python_whitespace(text: &str) -> &str {
    text.trim_matches(is_python_str_whitespace)
}

/// `http.cookies._unquote`: only a value wrapped in double quotes is touched; inside it a
/// backslash followed by three octal digits (first 0–3) is that code point, a backslash
/// followed by any other character except a newline is that character, and any other
/// backslash stays.
fn unquote_cookie_value(value: &str) -> Cow<'_, str> {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return Cow::Borrowed(value);
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut unquoted = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(backslash) = rest.find('\\') {
        unquoted.push_str(&rest[..backslash]);
        let after = &rest[backslash + 1..];
        if let Some(code) = octal_escape(after) {
            unquoted.push(code);
            rest = &after[3..];
            continue;
        }
        match after.chars().next() {
            Some(escaped) if escaped != '\n' => {
                unquoted.push(escaped);
                rest = &after[escaped.len_utf8()..];
            }
            _ => {
                unquoted.push('\\');
                rest = after;
            }
        }
    }
    unquoted.push_str(rest);
    Cow::Owned(unquoted)
}

fn octal_escape(after_backslash: &str) -> Option<char> {
    match after_backslash.as_bytes() {
        [first @ b'0'..=b'3', second @ b'0'..=b'7', third @ b'0'..=b'7', ..] => {
            let code = (first - b'0') * 64 + (second - b'0') * 8 + (third - b'0');
            Some(char::from(code))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SchemeCredentials::*;

    proptest::proptest! {
        /// The one-space shortcut answers as the general split does, on values near its shape.
        #[test]
        fn the_shortcut_agrees_with_the_split(
            value in proptest::collection::vec(proptest::prop_oneof![
                proptest::sample::select(b"tokenTOKEN \t\r\n\x0b\x0c\x00\x1f!~\xa0\x85ab09".to_vec()),
                proptest::prelude::any::<u8>(),
            ], 0..40),
            keyword in proptest::sample::select(vec![&b"token"[..], b"", b"to ken", b"t\xc3\xa9"]),
        ) {
            proptest::prop_assert_eq!(
                scheme_credentials(&value, keyword),
                split_scheme_credentials(&value, keyword)
            );
            let mut usual = b"Token ".to_vec();
            usual.extend_from_slice(&value);
            proptest::prop_assert_eq!(
                scheme_credentials(&usual, b"token"),
                split_scheme_credentials(&usual, b"token")
            );
        }
    }

    fn token(value: &[u8]) -> SchemeCredentials<'_> {
        scheme_credentials(value, b"token")
    }

    #[test]
    fn split_matches_python_bytes_split() {
        let fields: Vec<&[u8]> = split_ascii_whitespace(b" \t a\x0bb\x0c\r\nc  ").collect();
        assert_eq!(fields, [&b"a"[..], b"b", b"c"]);
        assert_eq!(split_ascii_whitespace(b"").count(), 0);
        assert_eq!(split_ascii_whitespace(b" \t\r\n\x0b\x0c").count(), 0);
        let kept: Vec<&[u8]> = split_ascii_whitespace(b"a\xa0b\x1cc\x85d\x1fe").collect();
        assert_eq!(kept, [&b"a\xa0b\x1cc\x85d\x1fe"[..]]);
    }

    // Spec §11 rows 1–22, the tokenizer's part of each.
    #[test]
    fn spec_rows_missing_empty_or_blank_header_decline() {
        assert_eq!(token(b""), NotThisScheme); // rows 1, 2
        assert_eq!(token(b"    "), NotThisScheme); // row 3
    }

    #[test]
    fn spec_rows_keyword_only_has_no_credentials() {
        assert_eq!(token(b"Token"), NoCredentials); // row 4
        assert_eq!(token(b"Token "), NoCredentials); // row 5
    }

    #[test]
    fn spec_rows_keyword_matches_case_insensitively_around_any_ascii_whitespace() {
        assert_eq!(token(b"Token abcd1234"), Credentials(b"abcd1234")); // row 6
        assert_eq!(token(b"token abcd1234"), Credentials(b"abcd1234")); // row 7
        assert_eq!(token(b"TOKEN abcd1234"), Credentials(b"abcd1234")); // row 7
        assert_eq!(token(b"tOkEn abcd1234"), Credentials(b"abcd1234"));
        assert_eq!(token(b"  Token   abcd1234  "), Credentials(b"abcd1234")); // row 8
        assert_eq!(token(b"Token\x09abcd1234"), Credentials(b"abcd1234")); // row 9
        assert_eq!(token(b"Token\x0babcd1234"), Credentials(b"abcd1234")); // row 9
    }

    #[test]
    fn spec_rows_non_ascii_separators_and_glued_keywords_decline() {
        assert_eq!(token(b"Token\xa0abcd1234"), NotThisScheme); // row 10
        assert_eq!(token(b"Token\x1cabcd1234"), NotThisScheme); // row 11
        assert_eq!(token(b"Tokenabcd1234"), NotThisScheme); // row 12
        assert_eq!(token(b"Token: abcd1234"), NotThisScheme); // row 13
        assert_eq!(token(b"Bearer abcd1234"), NotThisScheme); // row 24
        assert_eq!(token(b"Toke abcd1234"), NotThisScheme);
    }

    #[test]
    fn spec_rows_extra_fields_are_too_many_parts() {
        assert_eq!(token(b"Token  a  b"), TooManyParts); // row 14
        assert_eq!(token(b"Token abcd1234 extra"), TooManyParts); // row 15
        assert_eq!(token(b"Token abcd1234,Token x"), TooManyParts); // row 18
    }

    #[test]
    fn spec_rows_credentials_are_passed_through_byte_exact() {
        assert_eq!(token(b"Token ABCD1234"), Credentials(b"ABCD1234")); // row 16
        assert_eq!(token(b"Token wxyz6789"), Credentials(b"wxyz6789")); // row 17
        assert_eq!(token(b"Token abcd1234\xb8"), Credentials(b"abcd1234\xb8")); // row 19
        assert_eq!(
            token(b"Token abcd1234\xc2\xb8"),
            Credentials(b"abcd1234\xc2\xb8")
        ); // row 20
        let cyrillic = "Token ключ".as_bytes();
        assert_eq!(token(cyrillic), Credentials("ключ".as_bytes())); // row 21
        let long = [b"Token ".as_slice(), &[b'a'; 60]].concat();
        assert_eq!(token(&long), Credentials(&[b'a'; 60][..])); // row 22
    }

    #[test]
    fn other_keywords() {
        assert_eq!(
            scheme_credentials(b"bearer x", b"bearer"),
            Credentials(b"x")
        ); // row 33
        assert_eq!(scheme_credentials(b"Token x", b"bearer"), NotThisScheme); // row 34
        assert_eq!(scheme_credentials(b"BASIC x", b"basic"), Credentials(b"x")); // row 38
        assert_eq!(scheme_credentials(b"Basic", b"basic"), NoCredentials); // row 37
        assert_eq!(scheme_credentials(b"Basic foo bar", b"basic"), TooManyParts);
        // row 39
    }

    fn cookie(header: &[u8], name: &str) -> Option<String> {
        cookie_value(header, name, HeaderTextDecoding::Wsgi).map(Cow::into_owned)
    }

    proptest::proptest! {
        // Whenever the shortcut answers, the general split agrees: two fields, the prefix first.
        #[test]
        fn the_exact_prefix_shortcut_agrees_with_split(
            value in proptest::collection::vec(proptest::prop_oneof![
                proptest::sample::select(b"Bearer JWT \t\r\n\x0b\x0c\x00\x1f\x85\xa0.".to_vec()),
                proptest::prelude::any::<u8>(),
            ], 0..24),
            prefix in proptest::sample::select(vec![&b"Bearer"[..], b"JWT", b"", b"Be arer", b"B\xc3\xa9"]),
        ) {
            let mut header = prefix.to_vec();
            header.extend_from_slice(&value);
            for candidate in [&header[..], &value[..]] {
                if let Some(field) = exact_prefix_space_field(candidate, prefix) {
                    let fields: Vec<&[u8]> = split_ascii_whitespace(candidate).collect();
                    proptest::prop_assert_eq!(fields, vec![prefix, field]);
                }
            }
        }
    }

    #[test]
    fn python_ascii_whitespace_is_isspace_on_ascii() {
        for byte in 0u8..=127 {
            assert_eq!(
                is_python_ascii_whitespace(byte),
                is_python_str_whitespace(char::from(byte)),
                "{byte:#04x}"
            );
        }
    }

    proptest::proptest! {
        // The byte-wise ASCII path gives what the char-wise rules give on the same text.
        #[test]
        fn ascii_cookies_are_parsed_as_by_the_general_rules(
            header in proptest::collection::vec(proptest::prop_oneof![
                proptest::sample::select(b"sessionid= ;=\t\r\n\x0b\x0c\x1c\x1f\\\"0a".to_vec()),
                0u8..=127,
            ], 0..48),
            name in proptest::sample::select(vec!["sessionid", "", "a", "0"]),
        ) {
            let text = std::str::from_utf8(&header).unwrap();
            proptest::prop_assert_eq!(
                ascii_cookie_value(text, name).map(unquote_cookie_value),
                cookie_value_in_text(text, name)
            );
        }
    }

    #[test]
    fn cookie_plain_values_borrow() {
        let header = b"csrftoken=abc; sessionid=xyz";
        let value = cookie_value(header, "sessionid", HeaderTextDecoding::Wsgi).unwrap();
        assert!(matches!(value, Cow::Borrowed("xyz")));
        assert_eq!(cookie(header, "csrftoken").as_deref(), Some("abc"));
        assert_eq!(cookie(header, "missing"), None);
    }

    #[test]
    fn cookie_follows_parse_cookie_splitting_rules() {
        // Whitespace around names and values is stripped, the first '=' splits, later ones stay.
        assert_eq!(cookie(b" a = b=c ;", "a").as_deref(), Some("b=c"));
        // A chunk without '=' is a value under the empty name.
        assert_eq!(cookie(b"lonely; a=1", "").as_deref(), Some("lonely"));
        // Chunks that are empty after stripping are skipped rather than overwriting.
        assert_eq!(cookie(b"lonely; ; =", "").as_deref(), Some("lonely"));
        // `=x` is an empty name with a value.
        assert_eq!(cookie(b"lonely; =x", "").as_deref(), Some("x"));
        // The last occurrence wins, also when it is empty.
        assert_eq!(cookie(b"a=1; a=2", "a").as_deref(), Some("2"));
        assert_eq!(cookie(b"a=1; a=", "a").as_deref(), Some(""));
        // Names are case-sensitive and compared after stripping.
        assert_eq!(cookie(b"A=1", "a"), None);
        // str.strip() also removes the ASCII information separators.
        assert_eq!(cookie(b"a=\x1cv\x1f", "a").as_deref(), Some("v"));
    }

    #[test]
    fn cookie_unquotes_like_http_cookies() {
        assert_eq!(cookie(br#"a="xyz""#, "a").as_deref(), Some("xyz"));
        assert_eq!(cookie(br#"a="x\"y\\z""#, "a").as_deref(), Some("x\"y\\z"));
        assert_eq!(cookie(br#"a="\101\1""#, "a").as_deref(), Some("A1"));
        assert_eq!(
            cookie(br#"a="\377\400""#, "a").as_deref(),
            Some("\u{ff}400")
        );
        assert_eq!(cookie(br#"a="tail\""#, "a").as_deref(), Some("tail\\"));
        assert_eq!(cookie(br#"a=""#, "a").as_deref(), Some("\""));
        assert_eq!(cookie(br#"a="""#, "a").as_deref(), Some(""));
        assert_eq!(cookie(br#"a=x"y""#, "a").as_deref(), Some("x\"y\""));
    }

    #[test]
    fn cookie_text_decoding_differs_between_wsgi_and_asgi() {
        // WSGI: a lone 0xA0 is invalid UTF-8, becomes U+FFFD, and is not whitespace.
        assert_eq!(cookie(b"a=v\xa0", "a").as_deref(), Some("v\u{fffd}"));
        // ASGI: the same byte is NBSP and str.strip() removes it.
        let asgi = cookie_value(b"a=v\xa0", "a", HeaderTextDecoding::Asgi).map(Cow::into_owned);
        assert_eq!(asgi.as_deref(), Some("v"));
        // UTF-8 NBSP is whitespace under WSGI, two Latin-1 characters under ASGI.
        assert_eq!(cookie("a=v\u{a0}".as_bytes(), "a").as_deref(), Some("v"));
        let asgi = cookie_value("a=v\u{a0}".as_bytes(), "a", HeaderTextDecoding::Asgi);
        assert_eq!(asgi.as_deref(), Some("v\u{c2}"));
    }
}
