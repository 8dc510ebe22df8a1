use crate::routes::{RouteErrorKind, RoutePattern};

fn re_path(regex: &str) -> RoutePattern {
    RoutePattern::django_regex(regex).unwrap()
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

#[test]
fn quantifiers_cpython_refuses_are_refused() {
    let kind = |p: &str| RoutePattern::django_regex(p).unwrap_err().kind;
    for pattern in [
        r"^*", r"$+", r"^a|*b", r"(*a)", r"\A?", r"a**", r".+{2,}", r"a???", r"a{2}{3}",
        r"a*?*", r"^{1,2}",
    ] {
        assert!(
            matches!(kind(pattern), RouteErrorKind::InvalidRegex(_)),
            "{pattern} must be refused"
        );
    }
    for pattern in [r"^a*?$", r"^a{2}?$", r"^(a)*$", r"^[a]+$", r"^a(?#c)*$", r"^{$", r"^a{,}$"] {
        assert!(RoutePattern::django_regex(pattern).is_ok(), "{pattern} loads");
    }
}
