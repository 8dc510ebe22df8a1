//! Django URL patterns (`path()` and `re_path()`), matched against `request.path_info` the way
//! Django's resolver matches it.
//!
//! `path_info` comes from the request target in two steps: the WSGI server percent-decodes
//! the target's path into `PATH_INFO` (gunicorn decodes every `%XX`; Apache has already
//! decoded and normalised it when mod_wsgi hands it over), then Django decodes those bytes
//! as UTF-8 with every byte that is not part of a valid sequence
//! re-percent-encoded (`repercent_broken_unicode`), and the root resolver strips the leading
//! `/`. A `path()` route then has to match the rest completely; a `re_path()` regex is
//! searched (or fully matched when it ends with `$`). Python's `re` syntax is translated to
//! the `regex` crate's, and constructs it cannot express are refused with an error rather than
//! silently matched differently.

use std::borrow::Cow;
use std::fmt;

/// One compiled Django URL pattern.
#[derive(Debug, Clone)]
pub struct RoutePattern {
    source: String,
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// A `path()` route without converters matches only its own text.
    Literal(String),
    Regex(regex::Regex),
}

/// Why a route could not be compiled; names the route, the byte offset in it and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    pub route: String,
    pub offset: usize,
    pub kind: RouteErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteErrorKind {
    /// `path()`: whitespace between `<` and `>` (Django refuses it).
    WhitespaceInParameter,
    /// `path()` parameter or `re_path()` group name that is not a Python identifier.
    InvalidParameterName(String),
    /// `path()` converter other than str, int, slug, uuid, path.
    UnknownConverter(String),
    /// The same parameter or group name twice (Python's `re` refuses it).
    DuplicateName(String),
    /// Valid Python `re` syntax the `regex` crate cannot express (lookaround, backreferences…).
    UnsupportedRegex(String),
    /// Syntax Python's `re` itself rejects.
    InvalidRegex(String),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "URL route {:?}, at byte {}: ", self.route, self.offset)?;
        match &self.kind {
            RouteErrorKind::WhitespaceInParameter => {
                f.write_str("whitespace inside angle brackets <…>")
            }
            RouteErrorKind::InvalidParameterName(name) => {
                write!(f, "name {name:?} is not a valid Python identifier")
            }
            RouteErrorKind::UnknownConverter(name) => write!(
                f,
                "unknown converter {name:?} (known: str, int, slug, uuid, path)"
            ),
            RouteErrorKind::DuplicateName(name) => write!(f, "name {name:?} is used twice"),
            RouteErrorKind::UnsupportedRegex(what) => {
                write!(f, "{what} is not supported by drfgate's regex engine")
            }
            RouteErrorKind::InvalidRegex(what) => write!(f, "invalid regular expression: {what}"),
        }
    }
}

impl std::error::Error for RouteError {}

/// `django.urls.converters.DEFAULT_CONVERTERS`, as regex-crate syntax (identical to Python's).
fn converter_regex(name: &str) -> Option<&'static str> {
    Some(match name {
        "str" => "[^/]+",
        "int" => "[0-9]+",
        "slug" => "[-a-zA-Z0-9_]+",
        "uuid" => "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "path" => ".+",
        _ => return None,
    })
}

impl RoutePattern {
    /// Django `path()` syntax, e.g. `api/orders/<int:pk>/`, with the default converters.
    ///
    /// Errors where Django raises `ImproperlyConfigured` or Python's `re` refuses the
    /// generated regex. Where Django only warns (unmatched `<`/`>`, a leading `/`) the route is
    /// accepted and means what it means to Django: unmatched brackets are literal text, and a
    /// leading `/` only matches paths that start with `//`.
    pub fn django_path(route: &str) -> Result<RoutePattern, RouteError> {
        let error = |offset, kind| RouteError {
            route: route.to_owned(),
            offset,
            kind,
        };
        let mut regex_source = String::from(r"\A");
        let mut parameter_names: Vec<&str> = Vec::new();
        let mut literal_start = 0;
        let mut search_from = 0;
        while let Some(parameter) = next_route_parameter(route, search_from) {
            let text = &route[parameter.start..parameter.end];
            if text.bytes().any(|byte| b" \t\n\r\x0b\x0c".contains(&byte)) {
                return Err(error(
                    parameter.start,
                    RouteErrorKind::WhitespaceInParameter,
                ));
            }
            if !is_python_identifier(parameter.name) {
                let kind = RouteErrorKind::InvalidParameterName(parameter.name.to_owned());
                return Err(error(parameter.start, kind));
            }
            let Some(converter) = converter_regex(parameter.converter) else {
                let kind = RouteErrorKind::UnknownConverter(parameter.converter.to_owned());
                return Err(error(parameter.start, kind));
            };
            if parameter_names.contains(&parameter.name) {
                let kind = RouteErrorKind::DuplicateName(parameter.name.to_owned());
                return Err(error(parameter.start, kind));
            }
            parameter_names.push(parameter.name);
            regex_source.push_str(&regex::escape(&route[literal_start..parameter.start]));
            regex_source.push_str("(?:");
            regex_source.push_str(converter);
            regex_source.push(')');
            literal_start = parameter.end;
            search_from = parameter.end;
        }
        let matcher = if parameter_names.is_empty() {
            Matcher::Literal(route.to_owned())
        } else {
            regex_source.push_str(&regex::escape(&route[literal_start..]));
            regex_source.push_str(r"\z");
            let compiled = regex::Regex::new(&regex_source)
                .map_err(|failure| error(0, RouteErrorKind::InvalidRegex(failure.to_string())))?;
            Matcher::Regex(compiled)
        };
        Ok(RoutePattern {
            source: route.to_owned(),
            matcher,
        })
    }

    /// Django `re_path()` syntax: Python `re` as far as the `regex` crate can follow it.
    /// Named groups `(?P<name>…)`, classes, escapes, `{m,n}`, lazy quantifiers, inline flags
    /// `i s m x u` work; lookaround, backreferences, conditionals, atomic groups, possessive
    /// quantifiers, word boundaries `\b` `\B`, `\N{…}`, surrogate escapes, the `a`/`L` flags
    /// and scoped `m`/`x` flags are refused.
    pub fn django_regex(regex: &str) -> Result<RoutePattern, RouteError> {
        // RegexPattern.match: an endpoint whose pattern text ends with "$" must match the
        // whole path (fullmatch); any other pattern is searched for.
        let full_match = regex.ends_with('$');
        let translated = PythonRegexTranslator::new(regex, full_match).translate()?;
        let compiled = regex::RegexBuilder::new(&translated)
            .build()
            .map_err(|failure| RouteError {
                route: regex.to_owned(),
                offset: 0,
                kind: RouteErrorKind::InvalidRegex(failure.to_string()),
            })?;
        Ok(RoutePattern {
            source: regex.to_owned(),
            matcher: Matcher::Regex(compiled),
        })
    }

    /// Whether Django would route this raw request target (percent-encoded, as sent on the
    /// request line; see [`django_path_info`]) to this pattern.
    pub fn matches(&self, raw_target: &[u8]) -> bool {
        self.matches_path_info(&django_path_info(raw_target))
    }

    /// Whether Django's resolver would send `request.path_info` to this pattern.
    pub fn matches_path_info(&self, path_info: &str) -> bool {
        let Some(unrooted) = path_info.strip_prefix('/') else {
            return false;
        };
        match &self.matcher {
            Matcher::Literal(route) => unrooted == route,
            Matcher::Regex(regex) => regex.is_match(unrooted),
        }
    }

    /// The route or regex text this pattern was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// `request.path_info` for a raw request target as gunicorn reads it: the path part of the
/// target (see [`target_path`]), percent-decoded, then UTF-8 with each byte of an invalid
/// sequence written back as `%XX`. Borrows unless decoding changed something.
pub fn django_path_info(raw_target: &[u8]) -> Cow<'_, str> {
    let path = target_path(raw_target);
    if !path.contains(&b'%') {
        return wsgi_path_info(path);
    }
    match String::from_utf8(percent_decode(path)) {
        Ok(text) => Cow::Owned(text),
        Err(failure) => Cow::Owned(repercent_broken_unicode(failure.as_bytes())),
    }
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

/// `urllib.parse.unquote_to_bytes`: `%` + two hex digits is a byte, any other `%` is literal.
fn percent_decode(path: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::with_capacity(path.len());
    let mut index = 0;
    while index < path.len() {
        if path[index] == b'%' {
            let high = path.get(index + 1).and_then(|&byte| hex_value(byte));
            let low = path.get(index + 2).and_then(|&byte| hex_value(byte));
            if let (Some(high), Some(low)) = (high, low) {
                decoded.push(high << 4 | low);
                index += 3;
                continue;
            }
        }
        decoded.push(path[index]);
        index += 1;
    }
    decoded
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
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

struct RouteParameter<'r> {
    start: usize,
    end: usize,
    converter: &'r str,
    name: &'r str,
}

/// The next match of Django's `<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>` at or after
/// `from`. The text between `<` and the first `>` after it must be non-empty; the converter is
/// whatever precedes its first `:` when that leaves both sides non-empty, else it is "str".
fn next_route_parameter(route: &str, from: usize) -> Option<RouteParameter<'_>> {
    let open = from + route[from..].find('<')?;
    let close = open + 1 + route[open + 1..].find('>')?;
    let inside = &route[open + 1..close];
    if inside.is_empty() {
        // "<>" is literal; the regex retries at later positions, which cannot start a match
        // before the next '<'.
        return next_route_parameter(route, close);
    }
    let (converter, name) = match inside.split_once(':') {
        Some((converter, name)) if !converter.is_empty() && !name.is_empty() => (converter, name),
        _ => ("str", inside),
    };
    Some(RouteParameter {
        start: open,
        end: close + 1,
        converter,
        name,
    })
}

/// Python's `str.isidentifier()`, approximated with Unicode Alphabetic/Alphanumeric for the
/// XID classes (exact for ASCII).
fn is_python_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first == '_' || first.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// One-pass rewrite of a Python `re` pattern into `regex` crate syntax with the same meaning
/// on `path_info` strings.
struct PythonRegexTranslator<'p> {
    pattern: &'p str,
    chars: Vec<(usize, char)>,
    position: usize,
    full_match: bool,
    multiline: bool,
    verbose: bool,
    group_names: Vec<String>,
    body: String,
}

/// What a backslash sequence stands for.
enum Escape {
    Literal(char),
    /// Rust spelling outside a class, and the spelling usable as an item inside one.
    Class {
        outside: &'static str,
        inside: &'static str,
    },
    /// Zero-width assertion (outside classes only).
    Assertion(&'static str),
}

impl<'p> PythonRegexTranslator<'p> {
    fn new(pattern: &'p str, full_match: bool) -> Self {
        PythonRegexTranslator {
            pattern,
            chars: pattern.char_indices().collect(),
            position: 0,
            full_match,
            multiline: false,
            verbose: false,
            group_names: Vec::new(),
            body: String::with_capacity(pattern.len() + 16),
        }
    }

    fn error(&self, offset: usize, kind: RouteErrorKind) -> RouteError {
        RouteError {
            route: self.pattern.to_owned(),
            offset,
            kind,
        }
    }

    fn invalid(&self, offset: usize, what: &str) -> RouteError {
        self.error(offset, RouteErrorKind::InvalidRegex(what.to_owned()))
    }

    fn unsupported(&self, offset: usize, what: &str) -> RouteError {
        self.error(offset, RouteErrorKind::UnsupportedRegex(what.to_owned()))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).map(|&(_, c)| c)
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.position + ahead).map(|&(_, c)| c)
    }

    fn next(&mut self) -> Option<(usize, char)> {
        let item = self.chars.get(self.position).copied();
        if item.is_some() {
            self.position += 1;
        }
        item
    }

    fn offset_here(&self) -> usize {
        self.chars
            .get(self.position)
            .map_or(self.pattern.len(), |&(offset, _)| offset)
    }

    fn translate(mut self) -> Result<String, RouteError> {
        let mut rust_flags = String::new();
        self.read_global_flags(&mut rust_flags)?;
        while let Some((offset, c)) = self.next() {
            match c {
                '\\' => match self.escape(offset, false)? {
                    Escape::Literal(literal) => push_literal(&mut self.body, literal),
                    Escape::Class { outside, .. } => self.body.push_str(outside),
                    Escape::Assertion(assertion) => self.body.push_str(assertion),
                },
                '[' => self.class(offset)?,
                '(' => self.group(offset)?,
                '$' => self.dollar(),
                '{' => self.brace(offset)?,
                '}' => self.body.push_str(r"\}"),
                ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c' if self.verbose => {}
                '#' if self.verbose => self.skip_verbose_comment(),
                '*' | '+' | '?' => {
                    self.body.push(c);
                    // Python 3.11 possessive quantifiers ("*+"); a lazy '?' is fine.
                    if self.peek() == Some('+') {
                        return Err(self.unsupported(offset, "a possessive quantifier"));
                    }
                }
                ')' | '|' | '.' | '^' => self.body.push(c),
                literal => push_literal(&mut self.body, literal),
            }
        }
        let mut translated = String::with_capacity(self.body.len() + 16);
        if !rust_flags.is_empty() {
            translated.push_str(&format!("(?{rust_flags})"));
        }
        if self.full_match {
            translated.push_str(r"\A(?:");
            translated.push_str(&self.body);
            translated.push_str(r")\z");
        } else {
            translated.push_str(&self.body);
        }
        Ok(translated)
    }

    fn skip_verbose_comment(&mut self) {
        while let Some((_, c)) = self.next() {
            if c == '\n' {
                break;
            }
        }
    }

    fn skip_verbose_space(&mut self) {
        while self.verbose {
            match self.peek() {
                Some(' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c') => self.position += 1,
                Some('#') => self.skip_verbose_comment(),
                _ => break,
            }
        }
    }

    /// Python allows `(?aiLmsux)` only at the start of the pattern.
    fn read_global_flags(&mut self, rust_flags: &mut String) -> Result<(), RouteError> {
        loop {
            self.skip_verbose_space();
            if self.peek() != Some('(') || self.peek_at(1) != Some('?') {
                return Ok(());
            }
            let mut length = 2;
            while self.peek_at(length).is_some_and(|c| "aiLmsux".contains(c)) {
                length += 1;
            }
            if length == 2 || self.peek_at(length) != Some(')') {
                return Ok(());
            }
            let offset = self.offset_here();
            for ahead in 2..length {
                match self.peek_at(ahead) {
                    Some(flag @ ('i' | 's')) if !rust_flags.contains(flag) => rust_flags.push(flag),
                    Some('m') if !self.multiline => {
                        self.multiline = true;
                        rust_flags.push('m');
                    }
                    Some('x') => self.verbose = true,
                    Some('a') => return Err(self.unsupported(offset, "the ASCII flag (?a)")),
                    Some('L') => return Err(self.unsupported(offset, "the LOCALE flag (?L)")),
                    _ => {}
                }
            }
            self.position += length + 1;
        }
    }

    fn dollar(&mut self) {
        if self.multiline {
            // Rust's multi-line '$' is Python's: before any '\n' or at the end.
            self.body.push('$');
        } else if self.full_match {
            // fullmatch cannot end before a trailing newline.
            self.body.push_str(r"\z");
        } else {
            // Python's '$' also matches just before a final '\n'; consuming that newline is
            // equivalent unless something after the '$' has to match it.
            self.body.push_str(r"(?:\n?\z)");
        }
    }

    /// `{m}`, `{m,}`, `{,n}`, `{m,n}`, `{,}` are quantifiers; any other `{` is a literal.
    fn brace(&mut self, offset: usize) -> Result<(), RouteError> {
        let mut ahead = 0;
        let mut minimum = String::new();
        while let Some(digit) = self.peek_at(ahead).filter(char::is_ascii_digit) {
            minimum.push(digit);
            ahead += 1;
        }
        let mut maximum = None;
        if self.peek_at(ahead) == Some(',') {
            ahead += 1;
            let mut digits = String::new();
            while let Some(digit) = self.peek_at(ahead).filter(char::is_ascii_digit) {
                digits.push(digit);
                ahead += 1;
            }
            maximum = Some(digits);
        }
        let is_quantifier = self.peek_at(ahead) == Some('}') && (ahead > 0);
        if !is_quantifier {
            self.body.push_str(r"\{");
            return Ok(());
        }
        self.position += ahead + 1;
        if self.peek() == Some('+') {
            return Err(self.unsupported(offset, "a possessive quantifier"));
        }
        let minimum = if minimum.is_empty() {
            "0".to_owned()
        } else {
            minimum
        };
        match maximum {
            None => self.body.push_str(&format!("{{{minimum}}}")),
            Some(maximum) => self.body.push_str(&format!("{{{minimum},{maximum}}}")),
        }
        Ok(())
    }

    fn group(&mut self, offset: usize) -> Result<(), RouteError> {
        if self.peek() != Some('?') {
            self.body.push('(');
            return Ok(());
        }
        self.position += 1;
        match self.next().map(|(_, c)| c) {
            Some(':') => self.body.push_str("(?:"),
            Some('P') => match self.next().map(|(_, c)| c) {
                Some('<') => self.named_group(offset)?,
                Some('=') => return Err(self.unsupported(offset, "a backreference (?P=…)")),
                _ => return Err(self.invalid(offset, "unknown extension ?P")),
            },
            Some('#') => loop {
                match self.next() {
                    Some((_, ')')) => break,
                    Some(_) => {}
                    None => return Err(self.invalid(offset, "missing ), unterminated comment")),
                }
            },
            Some('=' | '!') => return Err(self.unsupported(offset, "a lookahead")),
            Some('<') if matches!(self.peek(), Some('=' | '!')) => {
                return Err(self.unsupported(offset, "a lookbehind"))
            }
            Some('(') => return Err(self.unsupported(offset, "a conditional group")),
            Some('>') => return Err(self.unsupported(offset, "an atomic group")),
            Some(c) if c == '-' || "aiLmsux".contains(c) => {
                self.position -= 1;
                self.scoped_flags(offset)?;
            }
            _ => return Err(self.invalid(offset, "unknown extension after (?")),
        }
        Ok(())
    }

    fn named_group(&mut self, offset: usize) -> Result<(), RouteError> {
        let mut name = String::new();
        loop {
            match self.next() {
                Some((_, '>')) => break,
                Some((_, c)) => name.push(c),
                None => return Err(self.invalid(offset, "missing >, unterminated name")),
            }
        }
        if !is_python_identifier(&name) {
            return Err(self.error(offset, RouteErrorKind::InvalidParameterName(name)));
        }
        if self.group_names.contains(&name) {
            return Err(self.error(offset, RouteErrorKind::DuplicateName(name)));
        }
        self.group_names.push(name);
        // Only whether the pattern matches matters here, so the name itself is not needed
        // (and Python allows names the regex crate would not).
        self.body.push('(');
        Ok(())
    }

    /// `(?flags-flags:…)`. Only flags that do not change how this translator reads the
    /// pattern (`i`, `s`, `u`) can be scoped.
    fn scoped_flags(&mut self, offset: usize) -> Result<(), RouteError> {
        let mut enabled = String::new();
        let mut disabled = String::new();
        let mut after_minus = false;
        loop {
            match self.next().map(|(_, c)| c) {
                Some(':') => break,
                Some(')') => {
                    return Err(
                        self.invalid(offset, "global flags not at the start of the expression")
                    )
                }
                Some('-') if !after_minus => after_minus = true,
                Some('u') if !after_minus => {}
                Some(flag @ ('i' | 's')) => {
                    if after_minus {
                        disabled.push(flag);
                    } else {
                        enabled.push(flag);
                    }
                }
                Some(flag @ ('m' | 'x' | 'a' | 'L')) => {
                    return Err(self.unsupported(offset, &format!("the scoped flag {flag:?}")))
                }
                _ => return Err(self.invalid(offset, "bad inline flags")),
            }
        }
        self.body.push_str("(?");
        self.body.push_str(&enabled);
        if !disabled.is_empty() {
            self.body.push('-');
            self.body.push_str(&disabled);
        }
        self.body.push(':');
        Ok(())
    }

    /// The backslash at `offset` has been consumed.
    fn escape(&mut self, offset: usize, in_class: bool) -> Result<Escape, RouteError> {
        let Some((_, c)) = self.next() else {
            return Err(self.invalid(offset, "bad escape (end of pattern)"));
        };
        let literal = |c| Ok(Escape::Literal(c));
        match c {
            'a' => literal('\x07'),
            'f' => literal('\x0c'),
            'n' => literal('\n'),
            'r' => literal('\r'),
            't' => literal('\t'),
            'v' => literal('\x0b'),
            'b' if in_class => literal('\x08'),
            // The regex crate's word boundaries use its own \w, which differs from Python's
            // around combining marks, connector punctuation and some numbers.
            'b' | 'B' if !in_class => Err(self.unsupported(offset, r"a word boundary \b or \B")),
            'A' if !in_class => Ok(Escape::Assertion(r"\A")),
            'Z' if !in_class => Ok(Escape::Assertion(r"\z")),
            'd' => Ok(Escape::Class {
                outside: r"\d",
                inside: r"\d",
            }),
            'D' => Ok(Escape::Class {
                outside: r"\D",
                inside: r"\D",
            }),
            // Python's \w is str.isalnum() or '_': letters and numbers, no combining marks or
            // other connector punctuation (which the regex crate's \w includes).
            'w' => Ok(Escape::Class {
                outside: r"[\p{L}\p{N}_]",
                inside: r"\p{L}\p{N}_",
            }),
            'W' => Ok(Escape::Class {
                outside: r"[^\p{L}\p{N}_]",
                inside: r"[^\p{L}\p{N}_]",
            }),
            // Python's \s is str.isspace(), which adds U+001C..U+001F to Unicode White_Space.
            's' => Ok(Escape::Class {
                outside: r"[\s\x1C-\x1F]",
                inside: r"\s\x1C-\x1F",
            }),
            'S' => Ok(Escape::Class {
                outside: r"[^\s\x1C-\x1F]",
                inside: r"[\S&&[^\x1C-\x1F]]",
            }),
            'x' => self.hex_escape(offset, 2).map(Escape::Literal),
            'u' => self.hex_escape(offset, 4).map(Escape::Literal),
            'U' => self.hex_escape(offset, 8).map(Escape::Literal),
            'N' => Err(self.unsupported(offset, r"a named character escape \N{…}")),
            '0' => Ok(Escape::Literal(self.octal_escape(offset, 0, 2)?)),
            '1'..='7' if in_class => Ok(Escape::Literal(self.octal_escape(
                offset,
                octal_digit(c),
                2,
            )?)),
            '1'..='9' if !in_class => {
                let is_three_digit_octal = c <= '7'
                    && self.peek().is_some_and(|d| d.is_digit(8))
                    && self.peek_at(1).is_some_and(|d| d.is_digit(8));
                if is_three_digit_octal {
                    Ok(Escape::Literal(self.octal_escape(
                        offset,
                        octal_digit(c),
                        2,
                    )?))
                } else {
                    Err(self.unsupported(offset, "a backreference"))
                }
            }
            c if c.is_ascii_alphanumeric() => {
                Err(self.invalid(offset, &format!("bad escape \\{c}")))
            }
            c => literal(c),
        }
    }

    fn hex_escape(&mut self, offset: usize, digits: usize) -> Result<char, RouteError> {
        let mut value = 0u32;
        for _ in 0..digits {
            match self.peek().and_then(|c| c.to_digit(16)) {
                Some(digit) => {
                    value = value * 16 + digit;
                    self.position += 1;
                }
                None => return Err(self.invalid(offset, "incomplete hexadecimal escape")),
            }
        }
        if (0xD800..=0xDFFF).contains(&value) {
            return Err(self.unsupported(offset, "a surrogate code point escape"));
        }
        char::from_u32(value).ok_or_else(|| self.invalid(offset, "escape beyond U+10FFFF"))
    }

    /// Reads up to `more_digits` further octal digits after the first one, `value` so far.
    fn octal_escape(
        &mut self,
        offset: usize,
        mut value: u32,
        more_digits: usize,
    ) -> Result<char, RouteError> {
        for _ in 0..more_digits {
            match self.peek().and_then(|c| c.to_digit(8)) {
                Some(digit) => {
                    value = value * 8 + digit;
                    self.position += 1;
                }
                None => break,
            }
        }
        if value > 0o377 {
            return Err(self.invalid(offset, "octal escape value outside of range 0-0o377"));
        }
        Ok(char::from_u32(value).unwrap_or('\0'))
    }

    /// A Python character set, re-emitted with every literal as `\x{…}` so Rust's class
    /// syntax extras (`&&`, `--`, `~~`, nested `[`) can never be triggered by accident.
    fn class(&mut self, offset: usize) -> Result<(), RouteError> {
        let mut class = String::from("[");
        if self.peek() == Some('^') {
            self.position += 1;
            class.push('^');
        }
        let mut has_items = false;
        loop {
            let Some((item_offset, c)) = self.next() else {
                return Err(self.invalid(offset, "unterminated character set"));
            };
            if c == ']' && has_items {
                break;
            }
            has_items = true;
            let first = self.class_item(item_offset, c)?;
            if self.peek() == Some('-') {
                self.position += 1;
                let Some((end_offset, end)) = self.next() else {
                    return Err(self.invalid(offset, "unterminated character set"));
                };
                if end == ']' {
                    push_class_item(&mut class, &first);
                    push_class_literal(&mut class, '-');
                    break;
                }
                let last = self.class_item(end_offset, end)?;
                match (first, last) {
                    (Escape::Literal(low), Escape::Literal(high)) if low <= high => {
                        push_class_literal(&mut class, low);
                        class.push('-');
                        push_class_literal(&mut class, high);
                    }
                    _ => return Err(self.invalid(item_offset, "bad character range")),
                }
            } else {
                push_class_item(&mut class, &first);
            }
        }
        class.push(']');
        self.body.push_str(&class);
        Ok(())
    }

    fn class_item(&mut self, offset: usize, c: char) -> Result<Escape, RouteError> {
        if c == '\\' {
            self.escape(offset, true)
        } else {
            Ok(Escape::Literal(c))
        }
    }
}

fn octal_digit(c: char) -> u32 {
    c.to_digit(8).unwrap_or(0)
}

fn push_literal(out: &mut String, literal: char) {
    let mut buffer = [0u8; 4];
    out.push_str(&regex::escape(literal.encode_utf8(&mut buffer)));
}

fn push_class_literal(class: &mut String, literal: char) {
    class.push_str(&format!(r"\x{{{:X}}}", u32::from(literal)));
}

fn push_class_item(class: &mut String, item: &Escape) {
    match item {
        Escape::Literal(literal) => push_class_literal(class, *literal),
        Escape::Class { inside, .. } => class.push_str(inside),
        // Escape() never yields an assertion inside a class.
        Escape::Assertion(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `%XX` for every byte, upper-case hex (`urllib.parse.quote(safe="")` and more).
    fn percent_encode_all(bytes: &[u8]) -> Vec<u8> {
        bytes
            .iter()
            .flat_map(|byte| format!("%{byte:02X}").into_bytes())
            .collect()
    }

    proptest! {
        #[test]
        fn any_pattern_compiles_or_errors_and_a_literal_route_matches_its_own_path(
            pattern in r"[\\()\[\]{}<>?*+^$|.:=!#P0-9a-zA-Z/ \-,\n\u{e9}%]{0,24}",
            raw_path in proptest::collection::vec(any::<u8>(), 0..24),
        ) {
            let compiled = [RoutePattern::django_regex(&pattern), RoutePattern::django_path(&pattern)];
            for route in compiled.into_iter().flatten() {
                let _ = route.matches(&raw_path);
            }
            // A path() route without converters is its literal text: it matches that path
            // however it is spelled, and nothing longer.
            if let (Ok(route), false) = (RoutePattern::django_path(&pattern), pattern.contains('<')) {
                let path_info = format!("/{pattern}");
                let spelled = [b"/".as_slice(), &percent_encode_all(pattern.as_bytes())].concat();
                prop_assert!(route.matches(&spelled), "{:?} misses {:?}", pattern, spelled);
                prop_assert!(route.matches_path_info(&path_info));
                let longer = path_info.clone() + "x";
                prop_assert!(!route.matches_path_info(&longer));
            }
        }

        #[test]
        fn path_info_decoding_undoes_percent_encoding(
            text in any::<String>(),
            raw_path in proptest::collection::vec(any::<u8>(), 0..24),
        ) {
            let encoded = [b"/".as_slice(), &percent_encode_all(text.as_bytes())].concat();
            prop_assert_eq!(django_path_info(&encoded), format!("/{text}"));
            // Any target's path_info, fully encoded again, decodes to itself.
            let path_info = django_path_info(&raw_path).into_owned();
            let respelled = percent_encode_all(path_info.as_bytes());
            prop_assert_eq!(django_path_info(&respelled), path_info);
        }
    }

    fn path(route: &str) -> RoutePattern {
        RoutePattern::django_path(route).unwrap()
    }

    fn re_path(regex: &str) -> RoutePattern {
        RoutePattern::django_regex(regex).unwrap()
    }

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

    #[test]
    fn literal_path_routes_match_exactly() {
        let orders = path("api/orders/");
        assert!(orders.matches(b"/api/orders/"));
        assert!(orders.matches(b"/api/orders/?page=2"));
        assert!(orders.matches(b"/api/%6Frders/"));
        assert!(!orders.matches(b"/api/orders"));
        assert!(!orders.matches(b"/api/orders/1/"));
        assert!(!orders.matches(b"api/orders/"));
        assert!(!orders.matches(b"//api/orders/"));
        assert!(path("").matches(b"/"));
        assert!(path("").matches(b""));
        assert_eq!(orders.source(), "api/orders/");
    }

    #[test]
    fn leading_slash_route_needs_a_double_slash_like_in_django() {
        let route = path("/lead/x");
        assert!(!route.matches(b"/lead/x"));
        assert!(route.matches(b"//lead/x"));
    }

    #[test]
    fn int_converter() {
        let detail = path("api/orders/<int:pk>/");
        assert!(detail.matches(b"/api/orders/12/"));
        assert!(detail.matches(b"/api/orders/007/"));
        assert!(!detail.matches(b"/api/orders/12a/"));
        assert!(!detail.matches(b"/api/orders/-1/"));
        assert!(!detail.matches(b"/api/orders//"));
        assert!(!detail.matches(b"/api/orders/12/x"));
        // Unicode digits are not [0-9].
        assert!(!detail.matches("/api/orders/\u{661}/".as_bytes()));
        assert!(detail.matches(b"/api/orders/%31%32/"));
    }

    #[test]
    fn str_is_the_default_converter() {
        let route = path("users/<name>/");
        assert!(route.matches(b"/users/j%C3%B6rg/"));
        assert!(route.matches(b"/users/a%20b/"));
        assert!(route.matches(b"/users/caf%E9/"));
        assert!(!route.matches(b"/users/a%2Fb/"));
        assert!(!route.matches(b"/users//"));
    }

    #[test]
    fn slug_converter_is_ascii_only() {
        let route = path("tags/<slug:tag>");
        assert!(route.matches(b"/tags/a-b_C9"));
        assert!(!route.matches(b"/tags/caf%C3%A9"));
        assert!(!route.matches(b"/tags/a.b"));
    }

    #[test]
    fn uuid_converter_is_lowercase_only() {
        let route = path("things/<uuid:id>/");
        assert!(route.matches(b"/things/12345678-9abc-def0-1234-56789abcdef0/"));
        assert!(!route.matches(b"/things/12345678-9ABC-DEF0-1234-56789ABCDEF0/"));
        assert!(!route.matches(b"/things/123456789abcdef0123456789abcdef0/"));
    }

    #[test]
    fn path_converter_spans_slashes_but_not_newlines() {
        let route = path("files/<path:rest>/raw");
        assert!(route.matches(b"/files/a/b/c/raw"));
        assert!(route.matches(b"/files/a/raw/raw"));
        assert!(!route.matches(b"/files//raw"));
        assert!(!route.matches(b"/files/a%0Ab/raw"));
    }

    #[test]
    fn path_route_errors_match_djangos() {
        let kind = |route: &str| RoutePattern::django_path(route).unwrap_err().kind;
        assert_eq!(kind("< x>/"), RouteErrorKind::WhitespaceInParameter);
        assert_eq!(
            kind("<int:9a>/"),
            RouteErrorKind::InvalidParameterName("9a".into())
        );
        assert_eq!(
            kind("<int:>/"),
            RouteErrorKind::InvalidParameterName("int:".into())
        );
        assert_eq!(
            kind("<:x>/"),
            RouteErrorKind::InvalidParameterName(":x".into())
        );
        assert_eq!(
            kind("<foo:x>/"),
            RouteErrorKind::UnknownConverter("foo".into())
        );
        assert_eq!(
            kind("a<b<int:pk>/"),
            RouteErrorKind::UnknownConverter("b<int".into())
        );
        assert_eq!(
            kind("<int:a>/<a>/"),
            RouteErrorKind::DuplicateName("a".into())
        );
        let error = RoutePattern::django_path("x/<foo:x>/").unwrap_err();
        assert_eq!(error.offset, 2);
        assert!(error.to_string().contains("unknown converter \"foo\""));
    }

    #[test]
    fn unmatched_angle_brackets_are_literal_like_in_django() {
        assert!(path("a<b/").matches(b"/a%3Cb/"));
        assert!(path("a<b/").matches(b"/a<b/"));
        assert!(path("<>/x").matches(b"/<>/x"));
        assert!(path("a>b/<int:n>").matches(b"/a>b/5"));
    }

    #[test]
    fn literal_route_text_is_not_regex() {
        let route = path("a.b/(x)/<int:n>");
        assert!(route.matches(b"/a.b/(x)/1"));
        assert!(!route.matches(b"/aXb/(x)/1"));
    }

    #[test]
    fn non_ascii_routes() {
        let route = path("caf\u{e9}/<str:name>/");
        assert!(route.matches(b"/caf%C3%A9/x/"));
        assert!(route.matches("/caf\u{e9}/x/".as_bytes()));
        assert!(!route.matches(b"/caf%E9/x/"));
    }

    #[test]
    fn drf_router_regexes() {
        let list = re_path(r"^orders/$");
        assert!(list.matches(b"/orders/"));
        assert!(!list.matches(b"/orders/x"));
        // fullmatch: '$' does not match before a trailing newline here.
        assert!(!list.matches(b"/orders/%0A"));
        let detail = re_path(r"^orders/(?P<pk>[^/.]+)/$");
        assert!(detail.matches(b"/orders/12/"));
        assert!(!detail.matches(b"/orders/1.json/"));
        let format = re_path(r"^orders/(?P<pk>[^/.]+)\.(?P<format>[a-z0-9]+)/?$");
        assert!(format.matches(b"/orders/12.json"));
        assert!(format.matches(b"/orders/12.json/"));
    }

    #[test]
    fn regex_without_dollar_is_searched() {
        let prefix = re_path(r"^api/");
        assert!(prefix.matches(b"/api/anything"));
        assert!(!prefix.matches(b"/v1/api/"));
        let anywhere = re_path(r"secret");
        assert!(anywhere.matches(b"/a/b/secret/c"));
        // '$' that is not last: Python's '$' also matches before a final newline.
        let inner_dollar = re_path(r"^(?:a/$|b)");
        assert!(inner_dollar.matches(b"/a/"));
        assert!(inner_dollar.matches(b"/a/%0A"));
        assert!(!inner_dollar.matches(b"/a/x"));
    }

    #[test]
    fn python_regex_syntax_translation() {
        // '{' that is not a quantifier is a literal.
        assert!(re_path(r"^a{b}$").matches(b"/a{b}"));
        assert!(re_path(r"^a{,2}$").matches(b"/aa"));
        assert!(!re_path(r"^a{,2}$").matches(b"/aaa"));
        assert!(re_path(r"^a{}$").matches(b"/a{}"));
        // Python's \Z is the very end; \s includes U+001C.
        assert!(re_path(r"^x\Z").matches(b"/x"));
        assert!(!re_path(r"^x\Z").matches(b"/x%0A"));
        assert!(re_path(r"^\s$").matches(b"/%1C"));
        assert!(!re_path(r"^\S$").matches(b"/%1C"));
        assert!(re_path(r"^[\S]$").matches(b"/a"));
        assert!(!re_path(r"^[\S]$").matches(b"/%1F"));
        // \w is letters, numbers and '_': '²' yes, a combining grave accent no.
        assert!(re_path(r"^\w$").matches("/\u{b2}".as_bytes()));
        assert!(!re_path(r"^\w$").matches("/\u{300}".as_bytes()));
        assert!(re_path(r"^[\w.]+$").matches("/a.\u{b2}".as_bytes()));
        assert!(re_path(r"^\W$").matches("/\u{300}".as_bytes()));
        // Class oddities: ']' first, '-' last, '&&' and '[' literal.
        assert!(re_path(r"^[]a]$").matches(b"/]"));
        assert!(re_path(r"^[a-]$").matches(b"/-"));
        assert!(re_path(r"^[&&]$").matches(b"/&"));
        assert!(re_path(r"^[[]$").matches(b"/["));
        assert!(re_path(r"^[\b]$").matches(b"/%08"));
        // Escapes.
        assert!(re_path(r"^\x41\u00e9\101\0$").matches(b"/A%C3%A9A%00"));
        assert!(re_path(r"^\<\/\-$").matches(b"/</-"));
        // Comments, flags, verbose mode.
        assert!(re_path(r"^a(?#note)b$").matches(b"/ab"));
        assert!(re_path(r"(?i)^ABC$").matches(b"/abc"));
        assert!(re_path(r"^(?i:a)b$").matches(b"/Ab"));
        assert!(!re_path(r"^(?i:a)b$").matches(b"/AB"));
        assert!(re_path("(?x) ^ a b # comment\n c $").matches(b"/abc"));
        assert!(re_path(r"(?s)^a.b$").matches(b"/a%0Ab"));
        assert!(!re_path(r"^a.b$").matches(b"/a%0Ab"));
        // fullmatch still starts at the start; searching finds a later line.
        assert!(!re_path(r"(?m)^b$").matches(b"/a%0Ab"));
        assert!(re_path(r"(?m)^b").matches(b"/a%0Ab"));
        assert!(re_path(r"(?m)^a$|^x").matches(b"/a%0Ab"));
        // Lazy quantifiers pass through.
        assert!(re_path(r"^a+?b$").matches(b"/aab"));
        // Group names need not be regex-crate names.
        assert!(re_path("^(?P<cl\u{e9}>x)$").matches(b"/x"));
    }

    #[test]
    fn regex_errors() {
        let kind = |regex: &str| RoutePattern::django_regex(regex).unwrap_err().kind;
        assert!(matches!(
            kind(r"^(?=a)"),
            RouteErrorKind::UnsupportedRegex(_)
        ));
        assert!(matches!(
            kind(r"^(?<!a)b"),
            RouteErrorKind::UnsupportedRegex(_)
        ));
        assert!(matches!(
            kind(r"^(a)\1$"),
            RouteErrorKind::UnsupportedRegex(_)
        ));
        assert!(matches!(
            kind(r"^(?P<a>x)(?P=a)$"),
            RouteErrorKind::UnsupportedRegex(_)
        ));
        assert!(matches!(
            kind(r"^a*+$"),
            RouteErrorKind::UnsupportedRegex(_)
        ));
        assert!(matches!(
            kind(r"^(?>a)$"),
            RouteErrorKind::UnsupportedRegex(_)
        ));
        assert!(matches!(
            kind(r"(?a)^\w$"),
            RouteErrorKind::UnsupportedRegex(_)
        ));
        assert!(matches!(
            kind(r"^\ud800$"),
            RouteErrorKind::UnsupportedRegex(_)
        ));
        assert!(matches!(
            kind(r"\bx\b"),
            RouteErrorKind::UnsupportedRegex(_)
        ));
        assert!(matches!(kind(r"^a\B"), RouteErrorKind::UnsupportedRegex(_)));
        assert!(matches!(kind(r"^\q$"), RouteErrorKind::InvalidRegex(_)));
        assert!(matches!(kind(r"^[a$"), RouteErrorKind::InvalidRegex(_)));
        assert!(matches!(kind(r"^(a$"), RouteErrorKind::InvalidRegex(_)));
        assert!(matches!(kind(r"^[z-a]$"), RouteErrorKind::InvalidRegex(_)));
        assert!(matches!(kind(r"^a(?i)$"), RouteErrorKind::InvalidRegex(_)));
        assert!(matches!(kind(r"^\x4$"), RouteErrorKind::InvalidRegex(_)));
        assert!(matches!(kind(r"^\400$"), RouteErrorKind::InvalidRegex(_)));
        assert_eq!(
            kind(r"^(?P<a>x)(?P<a>y)$"),
            RouteErrorKind::DuplicateName("a".into())
        );
        assert_eq!(
            kind(r"^(?P<1a>x)$"),
            RouteErrorKind::InvalidParameterName("1a".into())
        );
    }
}
