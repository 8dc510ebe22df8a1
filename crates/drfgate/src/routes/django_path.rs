//! Django's `path()` syntax (`api/orders/<int:pk>/`): parameters, the default converters
//! (`str`, `int`, `slug`, `uuid`, `path`), and the errors Django raises for a bad route.

use super::converters::{Converter, PathPieces, Piece};
use super::{is_python_identifier, Matcher, RouteError, RouteErrorKind, RoutePattern};

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
        let mut pieces: Vec<Piece> = Vec::new();
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
            let Some(converter) = Converter::named(parameter.converter) else {
                let kind = RouteErrorKind::UnknownConverter(parameter.converter.to_owned());
                return Err(error(parameter.start, kind));
            };
            if parameter_names.contains(&parameter.name) {
                let kind = RouteErrorKind::DuplicateName(parameter.name.to_owned());
                return Err(error(parameter.start, kind));
            }
            parameter_names.push(parameter.name);
            push_literal(&mut pieces, &route[literal_start..parameter.start]);
            pieces.push(Piece::Converter(converter));
            literal_start = parameter.end;
            search_from = parameter.end;
        }
        let matcher = if parameter_names.is_empty() {
            Matcher::Literal(route.to_owned())
        } else {
            push_literal(&mut pieces, &route[literal_start..]);
            Matcher::Path(PathPieces::new(pieces))
        };
        Ok(RoutePattern {
            source: route.to_owned(),
            matcher,
        })
    }
}

fn push_literal(pieces: &mut Vec<Piece>, text: &str) {
    if !text.is_empty() {
        pieces.push(Piece::Literal(text.into()));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn path(route: &str) -> RoutePattern {
        RoutePattern::django_path(route).unwrap()
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
}
