//! From what a front end has to Django's `request.path_info`: a raw request target as gunicorn
//! reads it ([`django_path_info`]), or WSGI's `PATH_INFO` as mod_wsgi hands it over
//! ([`wsgi_path_info`]).
//!
//! Every step mirrors CPython and Django byte for byte: `urllib.parse.urlsplit` for the path
//! of the target, `urllib.parse.unquote_to_bytes` for percent-decoding (the `percent-encoding`
//! crate's `percent_decode` follows the same rule: `%` and two ASCII hex digits of either case
//! is one byte, any other `%` is literal), and Django's `repercent_broken_unicode` for bytes
//! that are not UTF-8.
//! `tests/cpython_parity.rs` compares them with CPython on generated targets.

use std::borrow::Cow;

use percent_encoding::percent_decode;

/// `request.path_info` for a raw request target as gunicorn reads it: the path part of the
/// target (see [`target_path`]), percent-decoded, then UTF-8 with each byte of an invalid
/// sequence written back as `%XX`. Borrows unless decoding changed something.
pub fn django_path_info(raw_target: &[u8]) -> Cow<'_, str> {
    if raw_target.first() == Some(&b'/') {
        // The usual origin-form target: its path ends at the first `?` or `#`, and without a
        // `%` nothing is decoded (what the general steps below conclude, found in one pass).
        let scanned = scan_origin_path(raw_target);
        if !scanned.percent {
            return checked_path_info(&raw_target[..scanned.end], scanned.ascii);
        }
    }
    let path = target_path(raw_target);
    if !path.contains(&b'%') {
        return wsgi_path_info(path);
    }
    match String::from_utf8(percent_decode(path).collect()) {
        Ok(text) => Cow::Owned(text),
        Err(failure) => Cow::Owned(repercent_broken_unicode(failure.as_bytes())),
    }
}

/// [`django_path_info`] and [`target_query`] of one target, which the usual origin-form
/// target gives in one pass.
pub(crate) fn django_path_info_and_query(raw_target: &[u8]) -> (Cow<'_, str>, &[u8]) {
    if raw_target.first() == Some(&b'/') {
        let scanned = scan_origin_path(raw_target);
        let query = match raw_target[scanned.end..].strip_prefix(b"?") {
            Some(query) => &query[..query.iter().position(|&b| b == b'#').unwrap_or(query.len())],
            None => b"",
        };
        if !scanned.percent {
            let path = checked_path_info(&raw_target[..scanned.end], scanned.ascii);
            return (path, query);
        }
        return (django_path_info(raw_target), query);
    }
    (django_path_info(raw_target), target_query(raw_target))
}

/// `request.path_info` for WSGI's `PATH_INFO` bytes, already percent-decoded by the server
/// (mod_wsgi hands Django Apache's decoded, normalised path): nothing is cut or decoded
/// again, only Django's repair of invalid UTF-8 applies.
pub fn wsgi_path_info(path_info: &[u8]) -> Cow<'_, str> {
    if path_info.is_empty() {
        // get_path_info's default and WSGIRequest's `or "/"`.
        return Cow::Borrowed("/");
    }
    match std::str::from_utf8(path_info) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(repercent_broken_unicode(path_info)),
    }
}

/// [`wsgi_path_info`] of a path the scan found all ASCII, or not known to be: an ASCII path
/// (nearly every one) is UTF-8 already, without validating it a second time.
fn checked_path_info(path: &[u8], ascii: bool) -> Cow<'_, str> {
    if ascii && !path.is_empty() {
        debug_assert!(path.is_ascii());
        // SAFETY: ASCII is UTF-8 (the scan saw no byte with its high bit set).
        return Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(path) });
    }
    wsgi_path_info(path)
}

/// The path of a request target, still percent-encoded, as gunicorn splits it with
/// `urllib.parse.urlsplit`: the fragment (`#…`, never sent to the application) and the query
/// are cut off; an absolute-form target (`http://host/path`) gives its path, the authority
/// being ignored; a target starting with `/` is a path even when it starts with `//`.
pub fn target_path(target: &[u8]) -> &[u8] {
    let mut rest = target;
    if rest.first() != Some(&b'/') {
        if let Some(after_scheme) = strip_url_scheme(rest) {
            rest = after_scheme;
            if let Some(authority_and_path) = rest.strip_prefix(b"//") {
                let path_start = authority_and_path
                    .iter()
                    .position(|&byte| matches!(byte, b'/' | b'?' | b'#'))
                    .unwrap_or(authority_and_path.len());
                rest = &authority_and_path[path_start..];
            }
        }
    }
    let end = rest
        .iter()
        .position(|&byte| byte == b'?' || byte == b'#')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The query of a request target as gunicorn splits it: from the first `?` after the path
/// (see [`target_path`]) to the fragment's `#`; empty when there is none.
pub fn target_query(target: &[u8]) -> &[u8] {
    if target.first() == Some(&b'/') && scan_origin_path(target).end == target.len() {
        return b"";
    }
    let path = target_path(target);
    // `path` borrows `target`: what follows it starts with `?`, `#` or nothing.
    let offset = path.as_ptr() as usize - target.as_ptr() as usize + path.len();
    let rest = &target[offset.min(target.len())..];
    match rest.strip_prefix(b"?") {
        Some(query) => {
            let end = query.iter().position(|&b| b == b'#').unwrap_or(query.len());
            &query[..end]
        }
        None => b"",
    }
}

/// What one pass over an origin-form target (starting with `/`) found.
struct OriginPath {
    /// Where the path ends: the first `?` or `#`, else the end.
    end: usize,
    /// Whether a `%` comes before `end`.
    percent: bool,
    /// Whether every byte before `end` is ASCII (then it is UTF-8 without checking again).
    /// Only ever false where a byte before `end` may be non-ASCII.
    ascii: bool,
}

/// Scans an origin-form target eight bytes at a time: this runs on every request.
fn scan_origin_path(target: &[u8]) -> OriginPath {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of every byte of `word` that equals `byte` (and perhaps of bytes after
    // it, which is why only the lowest flagged byte is trusted).
    let equal = |word: u64, byte: u8| {
        let diff = word ^ (ONES * u64::from(byte));
        diff.wrapping_sub(ONES) & !diff & HIGHS
    };
    // Where a word's path ends (`None`: not in it), and whether a `%` comes before that.
    let scan = |word: u64| {
        let ends = equal(word, b'?') | equal(word, b'#');
        let percents = equal(word, b'%');
        let end = (ends != 0).then(|| (ends.trailing_zeros() / 8) as usize);
        // Only a `%` before the end counts; the lowest flagged byte is exact.
        let percent = percents != 0 && end.is_none_or(|end| (percents.trailing_zeros() / 8) < end as u32);
        (end, percent)
    };
    let mut percent = false;
    // Bytes at and after the end count towards `ascii` too: at worst a needless check later.
    let mut high_bits = 0u64;
    let mut chunks = target.chunks_exact(8);
    for (index, chunk) in chunks.by_ref().enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_le_bytes(bytes);
        let (end, percent_in_word) = scan(word);
        percent |= percent_in_word;
        high_bits |= word;
        if let Some(end) = end {
            return OriginPath {
                end: index * 8 + end,
                percent,
                ascii: high_bits & HIGHS == 0,
            };
        }
    }
    let done = target.len() - chunks.remainder().len();
    let rest = chunks.remainder().len();
    if rest == 0 {
        return OriginPath {
            end: done,
            percent,
            ascii: high_bits & HIGHS == 0,
        };
    }
    // The bytes left over as one word: the last eight bytes of the target shifted so that
    // only those not yet seen remain, or, for a target shorter than eight bytes, its bytes
    // copied. Either way the high bytes are zeros, which match nothing and are ASCII.
    let word = if done > 0 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&target[target.len() - 8..]);
        u64::from_le_bytes(bytes) >> ((8 - rest) * 8)
    } else {
        let mut bytes = [0u8; 8];
        bytes[..rest].copy_from_slice(target);
        u64::from_le_bytes(bytes)
    };
    let (end, percent_in_word) = scan(word);
    OriginPath {
        end: done + end.unwrap_or(rest),
        percent: percent || percent_in_word,
        ascii: (high_bits | word) & HIGHS == 0,
    }
}

/// What follows `scheme:` when the target starts with a URL scheme (`urlsplit`: an ASCII
/// letter, then letters, digits, `+`, `-`, `.`).
fn strip_url_scheme(target: &[u8]) -> Option<&[u8]> {
    let colon = target.iter().position(|&byte| byte == b':')?;
    let (scheme, rest) = (&target[..colon], &target[colon + 1..]);
    let valid = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.'));
    valid.then_some(rest)
}

/// Invalid UTF-8 bytes are always ≥ 0x80, none in `quote`'s safe set, so each becomes `%XX`.
fn repercent_broken_unicode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 3);
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            text.push_str(&format!("%{byte:02X}"));
        }
    }
    text
}

#[cfg(test)]
mod query_tests {
    use super::target_query;

    #[test]
    fn queries_as_gunicorn_splits_them() {
        assert_eq!(target_query(b"/a?x=1#f"), b"x=1");
        assert_eq!(target_query(b"/a#f?x=1"), b"");
        assert_eq!(target_query(b"/a?"), b"");
        assert_eq!(target_query(b"/a"), b"");
        assert_eq!(target_query(b"http://h/p?format=api"), b"format=api");
        assert_eq!(target_query(b"http://h?format=api"), b"format=api");
        assert_eq!(target_query(b"//x?a?b"), b"a?b");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_info_decoding() {
        assert!(matches!(
            django_path_info(b"/api/x/"),
            Cow::Borrowed("/api/x/")
        ));
        assert!(matches!(
            django_path_info("/caf\u{e9}/".as_bytes()),
            Cow::Borrowed(_)
        ));
        assert_eq!(django_path_info(b""), "/");
        assert_eq!(django_path_info(b"/a?b=%FF"), "/a");
        assert_eq!(django_path_info(b"/caf%C3%A9/"), "/caf\u{e9}/");
        assert_eq!(django_path_info(b"/caf%c3%a9/"), "/caf\u{e9}/");
        // Broken UTF-8 comes back re-percent-encoded, upper case.
        assert_eq!(django_path_info(b"/caf%e9/"), "/caf%E9/");
        assert_eq!(django_path_info(b"/caf\xe9/"), "/caf%E9/");
        assert_eq!(django_path_info(b"/%ED%A0%80"), "/%ED%A0%80");
        // A '%' not followed by two hex digits stays.
        assert_eq!(django_path_info(b"/100%/%4/%zz"), "/100%/%4/%zz");
        // unquote_to_bytes: a '%' that starts no escape does not hide the next one.
        assert_eq!(django_path_info(b"/%%41/%4%41/%"), "/%A/%4A/%");
        assert_eq!(django_path_info(b"/%aF"), "/%AF");
        // Only ASCII hex digits count (Arabic-Indic digits after '%' stay as they are).
        assert_eq!(
            django_path_info("/%\u{661}\u{662}".as_bytes()),
            "/%\u{661}\u{662}"
        );
        assert_eq!(django_path_info(b"/a%2Fb"), "/a/b");
        assert_eq!(django_path_info(b"/%25E9"), "/%E9");
        // gunicorn's urlsplit: the fragment never reaches Django, an absolute-form target
        // gives its path, a leading `//` stays part of the path.
        assert_eq!(django_path_info(b"/a#frag"), "/a");
        assert_eq!(django_path_info(b"/a%23b#c"), "/a#b");
        assert_eq!(django_path_info(b"http://other.example/a%2Fb?x=1"), "/a/b");
        assert_eq!(django_path_info(b"HTTP://OTHER.example:99/p"), "/p");
        assert_eq!(django_path_info(b"http://other.example"), "/");
        assert_eq!(django_path_info(b"//a//b"), "//a//b");
        assert_eq!(django_path_info(b"/a:b/"), "/a:b/");
    }

    #[test]
    fn wsgi_path_info_is_not_decoded_again() {
        // mod_wsgi's PATH_INFO for `/api/reports/q1%3F/` and `/a%252F`: already decoded.
        assert_eq!(wsgi_path_info(b"/api/reports/q1?/"), "/api/reports/q1?/");
        assert_eq!(wsgi_path_info(b"/a%2F"), "/a%2F");
        assert_eq!(wsgi_path_info(b"/a#b"), "/a#b");
        assert_eq!(wsgi_path_info(b"/caf\xc3\xa9"), "/caf\u{e9}");
        assert_eq!(wsgi_path_info(b"/caf\xe9"), "/caf%E9");
        assert_eq!(wsgi_path_info(b""), "/");
    }

    proptest::proptest! {
        /// The eight-bytes-at-a-time scan finds what a byte-by-byte one finds, wherever the
        /// `?`, `#` and `%` fall against the eight-byte boundaries.
        #[test]
        fn the_origin_path_scan_agrees_with_a_plain_one(
            rest in proptest::collection::vec(
                proptest::sample::select(b"ab/?#%\x00\x80\xff".to_vec()),
                0..40,
            ),
        ) {
            let mut target = vec![b'/'];
            target.extend_from_slice(&rest);
            let end = target.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(target.len());
            let percent = target[..end].contains(&b'%');
            let scanned = scan_origin_path(&target);
            proptest::prop_assert_eq!((scanned.end, scanned.percent), (end, percent));
            // Never ASCII when a byte before the end is not (after it, it may say either).
            proptest::prop_assert!(!scanned.ascii || target[..end].is_ascii());
            proptest::prop_assert!(scanned.ascii || !target.is_ascii());
            let query = &target[end.min(target.len())..];
            let expected_query = match query.strip_prefix(b"?") {
                Some(q) => &q[..q.iter().position(|&b| b == b'#').unwrap_or(q.len())],
                None => b"".as_slice(),
            };
            proptest::prop_assert_eq!(target_query(&target), expected_query);
            proptest::prop_assert_eq!(
                django_path_info_and_query(&target),
                (django_path_info(&target), expected_query)
            );
        }
    }
}
