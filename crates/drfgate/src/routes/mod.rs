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
//!
//! One job per file:
//! * this file: a compiled [`RoutePattern`], its errors, and matching it against `path_info`;
//! * `path_info`: from a request target or WSGI `PATH_INFO` to Django's `request.path_info`;
//! * `django_path`: Django's `path()` syntax, compiled to pieces;
//! * `converters`: matching those pieces (Django's default converters) without a regex engine;
//! * `python_regex`: `re_path()`, through the Python-regex-to-`regex`-crate translator.

mod converters;
mod django_path;
mod path_info;
mod python_regex;

use std::fmt;

pub use path_info::{django_path_info, target_query, wsgi_path_info};
pub(crate) use path_info::django_path_info_and_query;
#[cfg(any(test, feature = "internals"))]
pub use path_info::target_path;

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
    /// A `path()` route with converters, matched without a regex engine.
    Path(converters::PathPieces),
    /// A `re_path()` route.
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

impl RoutePattern {
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
            Matcher::Path(pieces) => pieces.full_match(unrooted),
            Matcher::Regex(regex) => regex.is_match(unrooted),
        }
    }

    /// The `format` keyword argument Django would pass the view (DRF's
    /// `FORMAT_SUFFIX_KWARG`) for a `path_info` this pattern matches: the `format` group of a
    /// `re_path()` (`format_suffix_patterns` adds `\.(?P<format>[a-z0-9]+)/?$`), or of its
    /// `drf_format_suffix` converter exported as a group (`\.[a-z0-9]+/?`, whose `to_python`
    /// strips the dot and the slash).
    pub fn format_kwarg(&self, path_info: &str) -> Option<String> {
        // Only a `re_path()` has groups: a `path()` route answers before looking at the path.
        let Matcher::Regex(regex) = &self.matcher else {
            return None;
        };
        let unrooted = path_info.strip_prefix('/')?;
        let value = regex.captures(unrooted)?.name("format")?.as_str();
        Some(if value.starts_with('.') {
            value.trim_matches(['.', '/']).to_string()
        } else {
            value.to_string()
        })
    }

    /// The route or regex text this pattern was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }
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
}
