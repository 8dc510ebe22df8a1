//! `request.query_params.get(name)`: Django's `QueryDict` over WSGI's `QUERY_STRING`
//! (CPython's `parse_qsl` with `keep_blank_values`, `&` only, `+` as space, `%XX` decoded as
//! UTF-8 with replacement characters), the last value of the name.

use percent_encoding::percent_decode;

/// `DATA_UPLOAD_MAX_NUMBER_FIELDS`' default: more fields and Django refuses the request
/// (`TooManyFieldsSent`, a 400 the gate leaves to the application).
pub(crate) const MAX_FIELDS: usize = 1000;

/// What reading one query parameter gives.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum QueryValue {
    Absent,
    Value(String),
    /// More than [`MAX_FIELDS`] fields: Django raises before any value is read.
    TooManyFields,
}

/// `urllib.parse.unquote(text, errors="replace")`, with `+` already made a space.
fn unquote(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    // Percent-decoding of the UTF-8 text, then one lossy decode: the literal parts are
    // valid UTF-8 already and stay what they were.
    String::from_utf8_lossy(&percent_decode(text.as_bytes()).collect::<Vec<u8>>()).into_owned()
}

/// The last value of `name` in `query` (the raw query string, without `?`).
pub(crate) fn last_value(query: &[u8], name: &str) -> QueryValue {
    if query.is_empty() {
        return QueryValue::Absent;
    }
    // QueryDict: UTF-8, else ISO-8859-1 for misbehaving clients.
    let text = match std::str::from_utf8(query) {
        Ok(text) => text.to_string(),
        Err(_) => query.iter().map(|&b| b as char).collect(),
    };
    if text.matches('&').count() + 1 > MAX_FIELDS {
        return QueryValue::TooManyFields;
    }
    let mut found = QueryValue::Absent;
    for field in text.split('&') {
        if field.is_empty() {
            continue;
        }
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        if unquote(&key.replace('+', " ")) == name {
            found = QueryValue::Value(unquote(&value.replace('+', " ")));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(query: &str) -> QueryValue {
        last_value(query.as_bytes(), "format")
    }

    fn value(v: &str) -> QueryValue {
        QueryValue::Value(v.into())
    }

    #[test]
    fn like_query_dict() {
        assert_eq!(get(""), QueryValue::Absent);
        assert_eq!(get("format=json"), value("json"));
        assert_eq!(get("format="), value(""));
        assert_eq!(get("format"), value(""));
        assert_eq!(get("format=json&format=api"), value("api"));
        assert_eq!(get("a=1&&format=js%6Fn"), value("json"));
        assert_eq!(get("%66ormat=api"), value("api"));
        assert_eq!(get("format=a+b"), value("a b"));
        assert_eq!(get("format=json;x=1"), value("json;x=1"));
        assert_eq!(get("form+at=json"), QueryValue::Absent);
        assert_eq!(get("format=%E9"), value("\u{fffd}"));
        assert_eq!(get(&"a&".repeat(1000)), QueryValue::TooManyFields);
        assert_eq!(get(&"a&".repeat(999)), QueryValue::Absent);
        assert_eq!(
            last_value(b"format=\xe9", "format"),
            QueryValue::Value("\u{e9}".into())
        );
    }
}
