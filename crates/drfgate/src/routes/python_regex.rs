//! Django's `re_path()`: a Python `re` pattern, translated in one pass into the `regex` crate's
//! syntax with the same meaning on `path_info` strings.
//!
//! The translator is hand-written because it must match CPython's `re` byte for byte: every
//! construct it lets through has to match exactly the paths Python's `re` matches (its `\w`,
//! `\s`, `$`, `{` and class rules differ from the `regex` crate's), and every construct the
//! `regex` crate cannot express the same way (lookaround, backreferences, word boundaries, …) is
//! refused with an error instead of being matched differently. `tests/cpython_parity.rs`
//! compares it with CPython.

use super::{is_python_identifier, Matcher, RouteError, RouteErrorKind, RoutePattern};

impl RoutePattern {
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

    /// The `regex` crate pattern `django_regex` compiles, before compiling it: what the
    /// `python_regex` fuzz target checks, since compiling is the `regex` crate's work and
    /// costs a thousand times more than translating.
    #[cfg(feature = "internals")]
    pub fn django_regex_translation(regex: &str) -> Result<String, RouteError> {
        PythonRegexTranslator::new(regex, regex.ends_with('$')).translate()
    }
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
    /// What a quantifier here would repeat: CPython's `sre_parse` refuses a quantifier on
    /// nothing or on an anchor ("nothing to repeat") and on another quantifier ("multiple
    /// repeat"), where the regex crate accepts both; Django then fails on the route.
    last: Last,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    /// The pattern's start, just after `(` or `|`.
    Nothing,
    /// `^`, `$`, `\A`, `\Z`, `\b`, `\B`.
    Anchor,
    /// Something a quantifier can repeat.
    Item,
    /// A quantifier, which only a lazy `?` may follow.
    Repeat,
    /// A lazy quantifier.
    LazyRepeat,
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
            last: Last::Nothing,
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
                    Escape::Literal(literal) => {
                        push_literal(&mut self.body, literal);
                        self.last = Last::Item;
                    }
                    Escape::Class { outside, .. } => {
                        self.body.push_str(outside);
                        self.last = Last::Item;
                    }
                    Escape::Assertion(assertion) => {
                        self.body.push_str(assertion);
                        self.last = Last::Anchor;
                    }
                },
                '[' => {
                    self.class(offset)?;
                    self.last = Last::Item;
                }
                '(' => {
                    let before = self.body.len();
                    self.group(offset)?;
                    // A `(?#…)` comment adds nothing and leaves what a quantifier repeats.
                    if self.body.len() != before {
                        self.last = Last::Nothing;
                    }
                }
                '$' => {
                    self.dollar();
                    self.last = Last::Anchor;
                }
                '{' => self.brace(offset)?,
                '}' => {
                    self.body.push_str(r"\}");
                    self.last = Last::Item;
                }
                ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c' if self.verbose => {}
                '#' if self.verbose => self.skip_verbose_comment(),
                '*' | '+' | '?' => {
                    // Python 3.11 possessive quantifiers ("*+"); a lazy '?' is fine.
                    if self.last == Last::Repeat && self.peek() != Some('+') && c == '?' {
                        self.body.push(c);
                        self.last = Last::LazyRepeat;
                        continue;
                    }
                    self.check_repeatable(offset)?;
                    self.body.push(c);
                    if self.peek() == Some('+') {
                        return Err(self.unsupported(offset, "a possessive quantifier"));
                    }
                    self.last = Last::Repeat;
                }
                ')' | '.' => {
                    self.body.push(c);
                    self.last = Last::Item;
                }
                '|' => {
                    self.body.push(c);
                    self.last = Last::Nothing;
                }
                '^' => {
                    self.body.push(c);
                    self.last = Last::Anchor;
                }
                literal => {
                    push_literal(&mut self.body, literal);
                    self.last = Last::Item;
                }
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

    /// CPython's refusals of a quantifier with nothing it may repeat.
    fn check_repeatable(&self, offset: usize) -> Result<(), RouteError> {
        match self.last {
            Last::Item => Ok(()),
            Last::Nothing | Last::Anchor => Err(self.invalid(offset, "nothing to repeat")),
            Last::Repeat | Last::LazyRepeat => Err(self.invalid(offset, "multiple repeat")),
        }
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
            self.last = Last::Item;
            return Ok(());
        }
        self.check_repeatable(offset)?;
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
        self.last = Last::Repeat;
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
        // Matching does not need the name, but DRF's format suffix is read from the `format`
        // group (`RoutePattern::format_kwarg`). ASCII names are kept; Python allows names the
        // regex crate may not, and those are never `format`.
        if name.is_ascii() {
            self.body.push_str(&format!("(?P<{name}>"));
        } else {
            self.body.push('(');
        }
        self.group_names.push(name);
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
mod tests;
