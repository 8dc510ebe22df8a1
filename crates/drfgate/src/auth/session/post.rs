//! DRF's `request.POST` as Django's CSRF check reads it (`csrfmiddlewaretoken`), for a
//! session-authenticated POST: DRF parses the whole body there with the first of the view's
//! parser classes (a route's `parser_classes`, else `DEFAULT_PARSER_CLASSES`) whose media
//! type matches `Content-Type`, so its errors are the
//! answer (415 when no parser matches; Django's 400 page when the body is over
//! `DATA_UPLOAD_MAX_MEMORY_SIZE` or has too many fields). Only a form body gives a field; any
//! other body leaves the token to the header.
//!
//! Where DRF's answer hangs on what the gate does not reproduce (a JSON syntax error's
//! Python message, a multipart body, a charset other than UTF-8, a parser class it does not
//! know, or a body the front end did not read), the answer is [`PostToken::Defer`].

use crate::config::{BodySettings, ParserClass};
use crate::exceptions::ApiError;
use crate::request::Request;

/// What `request.POST.get("csrfmiddlewaretoken", "")` comes to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PostToken {
    /// `""`: no body, a body that is not a form, or a form without the field (or with it
    /// empty): Django falls back to the CSRF header.
    Header,
    /// The field's (last) value, not empty.
    Field(String),
    /// DRF raised an API exception while parsing (415).
    Refuse(ApiError),
    /// Django raised a `SuspiciousOperation` (its 400 page).
    BadRequest,
    /// DRF's answer depends on what the gate does not reproduce.
    Defer(&'static str),
}

/// DRF's `select_parser` refuses longer `Content-Type` values (a 415).
const MAX_MEDIA_TYPE_LENGTH: usize = 256;

/// The parts of a `Content-Type` the gate can read exactly as Django's
/// `parse_header_parameters` does: the lower-cased `type/subtype` and a `charset`.
struct MediaType {
    main: String,
    sub: String,
    charset: Option<String>,
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b)
}

/// `None` when the value has parameters in a shape whose parsing by Python's `email` package
/// the gate does not reproduce (quotes, RFC 2231, stray spaces).
fn media_type(value: &str) -> Option<MediaType> {
    let (full, params) = match value.split_once(';') {
        // Django's fast path: no parameters, strip and lower-case.
        None => (value.trim_matches(' ').to_ascii_lowercase(), None),
        Some((full, params)) => {
            if !full
                .bytes()
                .all(|b| is_token_byte(b) || b == b'/' || b == b'*')
            {
                return None;
            }
            (full.to_ascii_lowercase(), Some(params))
        }
    };
    let mut charset = None;
    if let Some(params) = params {
        for param in params.split(';') {
            let param = param.strip_prefix(' ').unwrap_or(param);
            let (name, value) = param.split_once('=')?;
            if name.is_empty()
                || value.is_empty()
                || !name.bytes().all(is_token_byte)
                || !value.bytes().all(is_token_byte)
            {
                return None;
            }
            if name.eq_ignore_ascii_case("charset") {
                charset = Some(value.to_string());
            }
        }
    }
    let (main, sub) = match full.split_once('/') {
        Some((main, sub)) => (main.to_string(), sub.to_string()),
        None => (full, String::new()),
    };
    Some(MediaType { main, sub, charset })
}

/// `media_type_matches(parser.media_type, content_type)` for the gate's known parsers, which
/// have no parameters.
fn parser_matches(parser: &str, request: &MediaType) -> bool {
    let (main, sub) = parser.split_once('/').unwrap_or((parser, ""));
    let sub_ok = sub == "*" || request.sub == "*" || request.sub == sub;
    let main_ok = main == "*" || request.main == "*" || request.main == main;
    sub_ok && main_ok
}

/// Django's `DEFAULT_CHARSET`, which the gate assumes the project keeps.
fn is_utf8(charset: &str) -> bool {
    charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
}

/// The `Content-Length` DRF reads, when the request's framing is one the gate can follow.
pub(crate) fn content_length(request: &Request<'_>) -> Result<u64, &'static str> {
    if request.header("Transfer-Encoding").is_some() {
        return Err("a chunked body, whose length only the WSGI server knows");
    }
    match request.header("Content-Length") {
        None => Ok(0),
        Some(value) => std::str::from_utf8(&value)
            .ok()
            .map(|v| v.trim_matches(' '))
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok())
            .ok_or("a Content-Length that is not one number"),
    }
}

/// Which parser DRF selects, when the gate can tell.
enum Selected {
    Parser(ParserClass),
    /// No parser matches: DRF's 415, with the `Content-Type` as Django's META holds it.
    None(String),
}

fn select(
    request: &Request<'_>,
    parsers: &[ParserClass],
) -> Result<(Selected, MediaType), &'static str> {
    let raw = request.header("Content-Type");
    // gunicorn keeps the last of repeated headers in CONTENT_TYPE, Django's ASGI joins them.
    let mut count = 0;
    request
        .headers
        .for_each_value("Content-Type", &mut |_| count += 1);
    if count > 1 {
        return Err("a repeated Content-Type, which WSGI servers read differently");
    }
    let raw = raw.as_deref().unwrap_or(b"");
    if !raw.iter().all(|&b| (b' '..=b'~').contains(&b)) {
        return Err("a Content-Type with bytes outside printable ASCII");
    }
    // Printable ASCII: the bytes are the text.
    let content_type: String = raw.iter().map(|&b| char::from(b)).collect();
    let content_type = content_type.trim_matches(' ').to_string();
    let Some(parsed) = media_type(&content_type) else {
        return Err("Content-Type parameters that Python's email parser reads its own way");
    };
    if content_type.len() > MAX_MEDIA_TYPE_LENGTH {
        return Ok((Selected::None(content_type), parsed));
    }
    for parser in parsers {
        let Some(media) = parser.media_type() else {
            return Err("a parser class the gate does not know comes first");
        };
        if parser_matches(media, &parsed) {
            return Ok((Selected::Parser(parser.clone()), parsed));
        }
    }
    Ok((Selected::None(content_type), parsed))
}

/// What the CSRF check's `request.POST` gives for this POST. `bad_request_is_ours`: Django
/// answers a `SuspiciousOperation` with the 400 page the gate sends (not with `DEBUG`).
pub(crate) fn csrf_field(
    request: &Request<'_>,
    settings: &BodySettings,
    parsers: &[ParserClass],
    bad_request_is_ours: bool,
) -> PostToken {
    let (length, parser, media) = match before_body(request, settings, parsers, bad_request_is_ours)
    {
        Ok(parse) => parse,
        Err(answer) => return answer,
    };
    let body = match request.body {
        Some(body) if body.complete && body.bytes.len() as u64 == length => body.bytes,
        Some(_) => return PostToken::Defer("the body was not read whole"),
        None => return PostToken::Defer(BODY_NOT_READ),
    };
    if parser == ParserClass::Json {
        // Whatever serde_json accepts, Python's json accepts too; the reverse is not true
        // (1e400), and DRF's message for an error is Python's: those are deferred.
        if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() {
            return PostToken::Defer(
                "a JSON body serde_json refuses; DRF's ParseError message is Python's",
            );
        }
        // request.POST of a JSON body is empty (only a form media type gives fields).
        return PostToken::Header;
    }
    form_field(body, media_is_form(&media), settings, bad_request_is_ours)
}

const BODY_NOT_READ: &str = "the body, which this front end did not read";

/// How many bytes of the body the answer needs, when it needs them: a front end reads that
/// much (never more than `DATA_UPLOAD_MAX_MEMORY_SIZE`) and decides again with it.
pub(crate) fn body_needed(
    request: &Request<'_>,
    settings: &BodySettings,
    parsers: &[ParserClass],
) -> Option<u64> {
    match before_body(request, settings, parsers, true) {
        Ok((length, _, _)) => Some(length),
        Err(_) => None,
    }
}

/// DRF's steps up to reading the body: the length, the parser, Django's size check. `Err`:
/// the answer is known without the body.
fn before_body(
    request: &Request<'_>,
    settings: &BodySettings,
    parsers: &[ParserClass],
    bad_request_is_ours: bool,
) -> Result<(u64, ParserClass, MediaType), PostToken> {
    let length = content_length(request).map_err(PostToken::Defer)?;
    // DRF: no stream, no parsing; request.POST is empty.
    if length == 0 {
        return Err(PostToken::Header);
    }
    let (parser, media) = select(request, parsers).map_err(PostToken::Defer)?;
    let parser = match parser {
        Selected::None(content_type) => {
            return Err(PostToken::Refuse(ApiError::UnsupportedMediaType(
                content_type,
            )))
        }
        Selected::Parser(parser) => parser,
    };
    if !matches!(parser, ParserClass::Json | ParserClass::Form) {
        return Err(PostToken::Defer(
            "a multipart or file upload body, parsed by Django's MultiPartParser",
        ));
    }
    if media.charset.as_deref().is_some_and(|c| !is_utf8(c)) {
        return Err(PostToken::Defer("a charset other than UTF-8"));
    }
    // request.body: Django refuses a declared length over the limit before reading.
    if settings.max_memory_size.is_some_and(|max| length > max) {
        return Err(if bad_request_is_ours {
            PostToken::BadRequest
        } else {
            PostToken::Defer(
                "a body over DATA_UPLOAD_MAX_MEMORY_SIZE, which DEBUG answers with its technical page",
            )
        });
    }
    if length > settings.read_limit() {
        return Err(PostToken::Defer("a body longer than the gate reads"));
    }
    Ok((length, parser, media))
}

/// DRF's `is_form_media_type`.
fn media_is_form(media: &MediaType) -> bool {
    (media.main == "application" && media.sub == "x-www-form-urlencoded")
        || (media.main == "multipart" && media.sub == "form-data")
}

/// `QueryDict(body).get("csrfmiddlewaretoken", "")`, when `request.POST` is the parsed form.
fn form_field(
    body: &[u8],
    is_form_media: bool,
    settings: &BodySettings,
    bad_request_is_ours: bool,
) -> PostToken {
    // QueryDict: UTF-8, or ISO-8859-1 when that fails.
    let text = match std::str::from_utf8(body) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => std::borrow::Cow::Owned(body.iter().map(|&b| char::from(b)).collect::<String>()),
    };
    // parse_qsl's max_num_fields: 1 + the number of separators.
    let fields = 1 + text.matches('&').count() as u64;
    if settings.max_number_fields.is_some_and(|max| fields > max) {
        return if bad_request_is_ours {
            PostToken::BadRequest
        } else {
            PostToken::Defer("a form with more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS, which DEBUG answers with its technical page")
        };
    }
    if !is_form_media {
        return PostToken::Header;
    }
    let mut token = None;
    for pair in text.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if unquote_plus(name) == "csrfmiddlewaretoken" {
            token = Some(value);
        }
    }
    match token.map(unquote_plus) {
        Some(value) if !value.is_empty() => PostToken::Field(value),
        _ => PostToken::Header,
    }
}

/// Python's `unquote(s.replace('+', ' '), encoding='utf-8', errors='replace')`: runs of
/// `%XX` become bytes, decoded as UTF-8 with U+FFFD for what is not; anything else is kept.
fn unquote_plus(text: &str) -> String {
    let text = text.replace('+', " ");
    if !text.contains('%') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut pending: Vec<u8> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
            pending.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            i += 3;
            continue;
        }
        // An ASCII byte or a whole non-ASCII character, kept as it is.
        let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
        if !pending.is_empty() {
            out.push_str(&String::from_utf8_lossy(&pending));
            pending.clear();
        }
        out.push(ch);
        i += ch.len_utf8();
    }
    if !pending.is_empty() {
        out.push_str(&String::from_utf8_lossy(&pending));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_plus_as_python() {
        assert_eq!(unquote_plus("a+b%20c"), "a b c");
        assert_eq!(unquote_plus("%zz%4"), "%zz%4");
        assert_eq!(unquote_plus("%C3%A9"), "é");
        assert_eq!(unquote_plus("%C3"), "\u{fffd}");
        assert_eq!(unquote_plus("%41é%42"), "AéB");
    }

    #[test]
    fn media_types_as_django() {
        let m = media_type("Application/JSON").unwrap();
        assert_eq!((m.main.as_str(), m.sub.as_str()), ("application", "json"));
        let m = media_type("application/x-www-form-urlencoded; charset=UTF-8").unwrap();
        assert_eq!(m.charset.as_deref(), Some("UTF-8"));
        assert!(media_type("text/plain; charset=\"utf-8\"").is_none());
        assert!(media_type("text/plain ; charset=utf-8").is_none());
    }

    #[test]
    fn parsers_match_as_drf() {
        let json = media_type("application/json").unwrap();
        assert!(parser_matches("application/json", &json));
        assert!(!parser_matches("application/x-www-form-urlencoded", &json));
        assert!(parser_matches(
            "application/json",
            &media_type("*/*").unwrap()
        ));
        assert!(!parser_matches(
            "application/json",
            &media_type("").unwrap()
        ));
    }
}
