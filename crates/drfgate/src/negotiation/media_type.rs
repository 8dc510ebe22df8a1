//! One media type as DRF's `_MediaType` reads it: Django's `parse_header_parameters` (the
//! `email` package's `Content-Type` parameter rules), its precedence, and `match`.
//!
//! Text is the header's ISO-8859-1 decoding, as WSGI hands it to Django, so Python's
//! `str.strip()` and `str.lower()` are applied to Latin-1 characters.

/// Python's `str.isspace()` for a Latin-1 character.
fn is_python_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | '\u{1c}'..='\u{1f}' | ' ' | '\u{85}' | '\u{a0}'
    )
}

/// Python's `str.strip()`.
pub(super) fn python_strip(text: &str) -> &str {
    text.trim_matches(is_python_space)
}

/// Python's `str.lower()`.
fn python_lower(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// A parsed media type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MediaType {
    pub(crate) main_type: String,
    pub(crate) sub_type: String,
    /// Names lower-cased, values unquoted; a repeated name keeps its first place, last value.
    pub(crate) params: Vec<(String, String)>,
}

/// Why a token cannot be judged here.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unparsed {
    /// An RFC 2231 parameter (`name*=charset''value`, `name*0=`): Python decodes it, or fails
    /// on an unknown charset; the gate leaves such a request to the application.
    Rfc2231,
}

/// `email.message._parseparam`: split on `;` outside double quotes, the name before `=`
/// stripped and lower-cased.
fn parse_params(line: &str) -> Vec<String> {
    let mut s = format!(";{line}");
    let mut out = Vec::new();
    while let Some(rest) = s.strip_prefix(';') {
        let rest = rest.to_string();
        let mut end = rest.find(';').map(|e| e as isize).unwrap_or(-1);
        while end > 0 {
            let before = &rest[..end as usize];
            let quotes = before.matches('"').count() - before.matches("\\\"").count();
            if quotes % 2 == 0 {
                break;
            }
            end = rest[end as usize + 1..]
                .find(';')
                .map(|e| (e + end as usize + 1) as isize)
                .unwrap_or(-1);
        }
        let end = if end < 0 { rest.len() } else { end as usize };
        let field = &rest[..end];
        let field = match field.find('=') {
            Some(i) => format!(
                "{}={}",
                python_lower(python_strip(&field[..i])),
                python_strip(&field[i + 1..])
            ),
            None => field.to_string(),
        };
        out.push(python_strip(&field).to_string());
        s = rest[end..].to_string();
    }
    out
}

/// `email.utils.unquote`.
fn email_unquote(value: &str) -> String {
    if value.chars().count() > 1 {
        if value.starts_with('"') && value.ends_with('"') {
            return value[1..value.len() - 1]
                .replace("\\\\", "\\")
                .replace("\\\"", "\"");
        }
        if value.starts_with('<') && value.ends_with('>') {
            return value[1..value.len() - 1].to_string();
        }
    }
    value.to_string()
}

/// `email.utils.quote`.
fn email_quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

impl MediaType {
    /// `_MediaType(text)`: Django's `parse_header_parameters`, then `partition("/")`.
    pub(crate) fn parse(text: &str) -> Result<MediaType, Unparsed> {
        let (full, params) = if text.is_empty() {
            (String::new(), Vec::new())
        } else if !text.contains(';') {
            (python_lower(python_strip(text)), Vec::new())
        } else {
            let mut pieces = parse_params(text).into_iter();
            let first = pieces.next().unwrap_or_default();
            let key = match first.split_once('=') {
                Some((name, _)) => python_strip(name).to_string(),
                None => python_strip(&first).to_string(),
            };
            let mut params: Vec<(String, String)> = Vec::new();
            for piece in pieces {
                let (name, value) = match piece.split_once('=') {
                    Some((n, v)) => (python_strip(n).to_string(), python_strip(v).to_string()),
                    None => (python_strip(&piece).to_string(), String::new()),
                };
                if name.contains('*') {
                    return Err(Unparsed::Rfc2231);
                }
                if name.is_empty() {
                    continue;
                }
                // decode_params quotes the unquoted value, get_params unquotes it again.
                let value = email_unquote(&format!("\"{}\"", email_quote(&email_unquote(&value))));
                match params.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = value,
                    None => params.push((name, value)),
                }
            }
            (python_lower(&key), params)
        };
        let (main_type, sub_type) = match full.split_once('/') {
            Some((main, sub)) => (main.to_string(), sub.to_string()),
            None => (full, String::new()),
        };
        Ok(MediaType {
            main_type,
            sub_type,
            params,
        })
    }

    /// `_MediaType.precedence`.
    pub(crate) fn precedence(&self) -> usize {
        if self.main_type == "*" {
            0
        } else if self.sub_type == "*" {
            1
        } else if self.params.is_empty() || (self.params.len() == 1 && self.params[0].0 == "q") {
            2
        } else {
            3
        }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `_MediaType.match`: whether this (a renderer's) media type satisfies `other` (a token).
    pub(crate) fn satisfies(&self, other: &MediaType) -> bool {
        for (key, value) in &self.params {
            if key != "q" && other.param(key) != Some(value.as_str()) {
                return false;
            }
        }
        if self.sub_type != "*" && other.sub_type != "*" && other.sub_type != self.sub_type {
            return false;
        }
        if self.main_type != "*" && other.main_type != "*" && other.main_type != self.main_type {
            return false;
        }
        true
    }

    /// `JSONRenderer.get_indent` for this accepted media type: `indent=N` clamped to 0..=8,
    /// 0 and anything that is not a Python int meaning none.
    pub(crate) fn indent(&self) -> Option<usize> {
        let value = self.param("indent")?;
        let n = python_int(value)?;
        let n = n.clamp(0, 8) as usize;
        (n != 0).then_some(n)
    }
}

/// Python's `int(text)` for a decimal string: surrounding whitespace, a sign and `_` between
/// digits allowed.
fn python_int(text: &str) -> Option<i64> {
    let t = python_strip(text);
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    // Anything beyond i64 clamps to 8 or 0 anyway.
    let n = clean.parse::<i64>().unwrap_or(i64::MAX);
    Some(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mt(text: &str) -> MediaType {
        MediaType::parse(text).unwrap()
    }

    #[test]
    fn parses_like_django() {
        let m = mt("APPLICATION/JSON");
        assert_eq!((m.main_type.as_str(), m.sub_type.as_str()), ("application", "json"));
        let m = mt("application/json ; Indent=4");
        assert_eq!(m.params, vec![("indent".to_string(), "4".to_string())]);
        let m = mt("text/html; charset=\"utf-8\"; level=1");
        assert_eq!(m.param("charset"), Some("utf-8"));
        assert_eq!(m.precedence(), 3);
        assert_eq!(mt("*/*").precedence(), 0);
        assert_eq!(mt("*").precedence(), 0);
        assert_eq!(mt("text/*").precedence(), 1);
        assert_eq!(mt("application/json;q=0").precedence(), 2);
        assert_eq!(mt("*").sub_type, "");
        assert_eq!(
            MediaType::parse("application/json; a*=bogus''x"),
            Err(Unparsed::Rfc2231)
        );
        let m = mt("a/b; x=\"1;2\"; y=3");
        assert_eq!(m.param("x"), Some("1;2"));
        assert_eq!(m.param("y"), Some("3"));
    }

    #[test]
    fn indent_like_the_json_renderer() {
        assert_eq!(mt("application/json; indent=4").indent(), Some(4));
        assert_eq!(mt("application/json; indent=\"5\"").indent(), Some(5));
        assert_eq!(mt("application/json; indent=100").indent(), Some(8));
        assert_eq!(mt("application/json; indent=abc").indent(), None);
        assert_eq!(mt("application/json; indent=0").indent(), None);
        assert_eq!(mt("application/json; indent=-3").indent(), None);
        assert_eq!(mt("application/json; indent=1_0").indent(), Some(8));
    }

    #[test]
    fn matching() {
        let json = mt("application/json");
        assert!(json.satisfies(&mt("*/*")));
        assert!(json.satisfies(&mt("*/json")));
        assert!(json.satisfies(&mt("application/*")));
        assert!(!json.satisfies(&mt("*")));
        assert!(json.satisfies(&mt("application/json;q=0")));
        assert!(!json.satisfies(&mt("text/html")));
        let multipart = mt("multipart/form-data; boundary=BoUnDaRyStRiNg");
        assert!(!multipart.satisfies(&mt("multipart/form-data")));
        assert!(multipart.satisfies(&mt("multipart/form-data; boundary=BoUnDaRyStRiNg")));
    }
}
