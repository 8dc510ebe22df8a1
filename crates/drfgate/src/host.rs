//! Django's `request.get_host()`: the one place the gate reads the request's host, for the
//! `ALLOWED_HOSTS` check before a view runs and for the CSRF Origin/Referer checks.
//!
//! The raw host is `X-Forwarded-Host` (with `USE_X_FORWARDED_HOST`), else `Host`, else
//! `SERVER_NAME:SERVER_PORT` — which only the WSGI server knows, so the gate calls it
//! unknown. It is validated against `ALLOWED_HOSTS` (or, when that is empty and `DEBUG` is on,
//! Django's implicit `.localhost`, `127.0.0.1`, `[::1]`) and returned as sent.

use crate::request::Request;

/// The settings `get_host()` reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostSettings {
    /// `ALLOWED_HOSTS` as the config gives it; `None` when the config does not say (Django's
    /// default is `[]`, but the gate then leaves refusing hosts to Django).
    pub allowed_hosts: Option<Vec<String>>,
    /// `DEBUG`: an empty `ALLOWED_HOSTS` then allows the local names, and a refused host gets
    /// Django's technical 400 page, which the gate leaves to Django.
    pub debug: bool,
    pub use_x_forwarded_host: bool,
    /// Only read without a `Host` header (the `SERVER_NAME` branch the gate never takes).
    pub use_x_forwarded_port: bool,
    /// Whether Django validates the host of every request before the view: its
    /// `CommonMiddleware` is in `MIDDLEWARE` (or `MIDDLEWARE` is not given: startproject's
    /// stack has it) and `ALLOWED_HOSTS` is given.
    pub checked_before_views: bool,
}

/// What `get_host()` does for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host<'r> {
    /// Valid: the raw host as sent (case, trailing dot and port kept).
    Valid(std::borrow::Cow<'r, str>),
    /// Django raises `DisallowedHost`.
    Disallowed,
    /// Neither `Host` nor (with `USE_X_FORWARDED_HOST`) `X-Forwarded-Host`: Django would use
    /// `SERVER_NAME` and `SERVER_PORT`, which the gate does not know.
    Unknown,
}

impl HostSettings {
    /// The list `validate_host` uses.
    fn effective_allowed(&self) -> Vec<&str> {
        let given: Vec<&str> = self
            .allowed_hosts
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if given.is_empty() && self.debug {
            vec![".localhost", "127.0.0.1", "[::1]"]
        } else {
            given
        }
    }

    /// The raw host before validation (`_get_raw_host`), as WSGI's ISO-8859-1 text.
    pub(crate) fn raw_host<'r>(&self, request: &Request<'r>) -> Option<String> {
        let value = if self.use_x_forwarded_host {
            request
                .header("X-Forwarded-Host")
                .or_else(|| request.header("Host"))
        } else {
            request.header("Host")
        }?;
        Some(value.iter().map(|&b| b as char).collect())
    }

    /// `request.get_host()`.
    pub fn get_host<'r>(&self, request: &Request<'r>) -> Host<'r> {
        match self.raw_host(request) {
            None => Host::Unknown,
            Some(raw) => match self.validate(&raw) {
                true => Host::Valid(std::borrow::Cow::Owned(raw)),
                false => Host::Disallowed,
            },
        }
    }

    /// `split_domain_port` then `validate_host` on a raw host.
    pub(crate) fn validate(&self, raw: &str) -> bool {
        let Some((domain, _)) = split_domain_port(raw) else {
            return false;
        };
        !domain.is_empty()
            && self
                .effective_allowed()
                .iter()
                .any(|pattern| *pattern == "*" || is_same_domain(&domain, pattern))
    }
}

/// Django's `is_same_domain(host, pattern)`: the pattern is lower-cased, the host is not.
pub(crate) fn is_same_domain(host: &str, pattern: &str) -> bool {
    is_same_domain_lowered(host, &pattern.to_lowercase())
}

/// [`is_same_domain`] with the pattern already lower-cased.
fn is_same_domain_lowered(host: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    match pattern.strip_prefix('.') {
        Some(bare) => host.ends_with(pattern) || host == bare,
        None => pattern == host,
    }
}

/// The check `CommonMiddleware` makes on every request (`get_host()` succeeding or raising
/// `DisallowedHost`), with what the settings fix worked out once: the effective list,
/// lower-cased as `is_same_domain` lower-cases each pattern. A usual host (ASCII, short) is
/// lower-cased on the stack; anything else takes [`HostSettings::validate`]'s own way.
#[derive(Debug)]
pub(crate) struct HostCheck {
    patterns: Box<[String]>,
    use_x_forwarded_host: bool,
}

/// Longer hosts are lower-cased on the heap.
const HOST_ON_STACK: usize = 256;

impl HostCheck {
    pub(crate) fn new(settings: &HostSettings) -> HostCheck {
        HostCheck {
            patterns: settings
                .effective_allowed()
                .iter()
                .map(|pattern| pattern.to_lowercase())
                .collect(),
            use_x_forwarded_host: settings.use_x_forwarded_host,
        }
    }

    /// Whether `get_host()` returns (`Some(true)`) or raises (`Some(false)`); `None` when it
    /// would read `SERVER_NAME` ([`Host::Unknown`]).
    pub(crate) fn allows(&self, request: &Request<'_>) -> Option<bool> {
        let raw = if self.use_x_forwarded_host {
            request
                .header("X-Forwarded-Host")
                .or_else(|| request.header("Host"))
        } else {
            request.header("Host")
        }?;
        Some(self.validate_raw(&raw))
    }

    /// [`HostSettings::validate`] on the raw header bytes (WSGI's ISO-8859-1 text).
    fn validate_raw(&self, raw: &[u8]) -> bool {
        let mut stack = [0u8; HOST_ON_STACK];
        if raw.is_ascii() && raw.len() <= stack.len() {
            let lower = &mut stack[..raw.len()];
            lower.copy_from_slice(raw);
            lower.make_ascii_lowercase();
            // SAFETY: ASCII is UTF-8.
            let lower = unsafe { std::str::from_utf8_unchecked(lower) };
            return self.validate_lowered(lower);
        }
        let text: String = raw.iter().map(|&b| b as char).collect();
        self.validate_lowered(&text.to_lowercase())
    }

    fn validate_lowered(&self, lower: &str) -> bool {
        let Some((domain, _)) = split_lowered_domain_port(lower) else {
            return false;
        };
        !domain.is_empty()
            && self
                .patterns
                .iter()
                .any(|pattern| pattern == "*" || is_same_domain_lowered(domain, pattern))
    }
}

/// Django's `split_domain_port` on the lower-cased host: `None` when it is not
/// `domain[:port]` or `[ipv6][:port]` (one trailing dot of the domain removed).
fn split_domain_port(host: &str) -> Option<(String, String)> {
    let lower = host.to_lowercase();
    split_lowered_domain_port(&lower).map(|(domain, port)| (domain.to_string(), port.to_string()))
}

/// [`split_domain_port`] on a host already lower-cased, borrowing from it.
fn split_lowered_domain_port(lower: &str) -> Option<(&str, &str)> {
    let (domain, port) = if lower.starts_with('[') {
        let end = lower.find(']')?;
        let inside = &lower[1..end];
        let colon = inside.find(':')?;
        let (before, after) = (&inside[..colon], &inside[colon + 1..]);
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if !before.bytes().all(hex)
            || after.is_empty()
            || !after.bytes().all(|b| hex(b) || b == b'.' || b == b':')
        {
            return None;
        }
        (&lower[..=end], &lower[end + 1..])
    } else {
        match lower.find(':') {
            Some(i) => (&lower[..i], &lower[i..]),
            None => (lower, ""),
        }
    };
    if !domain.starts_with('[')
        && (domain.is_empty()
            || !domain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'))
    {
        return None;
    }
    let port = match port.strip_prefix(':') {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits,
        Some(_) => return None,
        None if port.is_empty() => "",
        None => return None,
    };
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    Some((domain, port))
}

/// Django's built-in 400 page (`django.views.defaults.bad_request` with no `400.html`), what
/// `DisallowedHost` becomes with `DEBUG = False`.
pub(crate) const BAD_REQUEST_PAGE: &[u8] = b"\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Bad Request (400)</title>\n</head>\n<body>\n  <h1>Bad Request (400)</h1><p></p>\n</body>\n</html>\n";

/// The 400 Django answers for a disallowed host.
pub(crate) fn bad_request() -> crate::decision::Deny {
    crate::decision::Deny {
        status: 400,
        body: crate::decision::Body::Static(BAD_REQUEST_PAGE),
        www_authenticate: None,
        allow: None,
        content_type: crate::decision::Deny::HTML,
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(list: &[&str]) -> HostSettings {
        HostSettings {
            allowed_hosts: Some(list.iter().map(|s| s.to_string()).collect()),
            ..HostSettings::default()
        }
    }

    fn valid(list: &[&str], raw: &str) -> bool {
        settings(list).validate(raw)
    }

    #[test]
    fn the_400_page_is_djangos() {
        use sha2::Digest;
        assert_eq!(BAD_REQUEST_PAGE.len(), 143);
        let digest = sha2::Sha256::digest(BAD_REQUEST_PAGE);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "65b0d4aef304dcf46bffd8a20b46f7fc441e2ab0848ea3197caf713de1babb63"
        );
    }

    #[test]
    fn validation_follows_the_spec_table() {
        let ex = ["example.com"];
        for ok in [
            "example.com",
            "EXAMPLE.COM",
            "example.com.",
            "example.com:8000",
            "example.com:0080",
            "example.com:99999999",
        ] {
            assert!(valid(&ex, ok), "{ok}");
        }
        for bad in [
            "example.com..",
            "example.com:",
            "example.com:8000:9",
            "",
            "a_b.example.com",
        ] {
            assert!(!valid(&ex, bad), "{bad}");
        }
        assert!(!valid(&["example.com:8000"], "example.com:8000"));
        assert!(valid(&["Example.COM"], "example.com"));
        assert!(!valid(&["example.com."], "example.com"));
        assert!(!valid(&["example.com."], "example.com."));
        for ok in ["example.com", "a.b.example.com", ".example.com"] {
            assert!(valid(&[".example.com"], ok), "{ok}");
        }
        assert!(!valid(&[".example.com"], "badexample.com"));
        assert!(!valid(&["*.example.com"], "a.example.com"));
        for ok in [
            "anything.test",
            "xn--exmple-cua.com",
            "-",
            "[:1]",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(valid(&["*"], ok), "{ok}");
        }
        for bad in [
            "a_b.example.com",
            "",
            "exa mple.com",
            "user@example.com",
            "ex\u{e4}mple.com",
            "example.com,other.com",
            "[::1",
            "[1]",
            "::1",
            "[fe80::1%25eth0]",
        ] {
            assert!(!valid(&["*"], bad), "{bad}");
        }
        assert!(valid(&["[::1]"], "[::1]:8000"));
        assert!(!valid(&["::1"], "[::1]"));
        assert!(valid(&["[2001:DB8::1]"], "[2001:db8::1]"));
        assert!(valid(&["[2001:db8::1]"], "[2001:DB8::1]"));
        assert!(valid(&["127.0.0.1"], "127.0.0.1:8000"));
    }

    #[test]
    fn debug_with_an_empty_list_allows_the_local_names() {
        let mut debug = settings(&[]);
        assert!(!debug.validate("localhost"));
        debug.debug = true;
        for ok in [
            "localhost",
            "LOCALHOST",
            "a.localhost",
            "localhost:8000",
            "localhost.",
            "127.0.0.1",
            "127.0.0.1:9",
            "[::1]",
            "[::1]:8000",
        ] {
            assert!(debug.validate(ok), "{ok}");
        }
        assert!(!debug.validate("testserver"));
        let mut listed = settings(&["example.com"]);
        listed.debug = true;
        assert!(!listed.validate("localhost"));
    }

    #[test]
    fn forwarded_host_when_enabled() {
        let headers: &[(&[u8], &[u8])] = &[
            (b"Host", b"example.com"),
            (b"X-Forwarded-Host", b"evil.com"),
        ];
        let request = Request::new(b"GET", b"/").with_headers(&headers);
        let mut s = settings(&["example.com", "evil.com"]);
        assert_eq!(s.get_host(&request), Host::Valid("example.com".into()));
        s.use_x_forwarded_host = true;
        assert_eq!(s.get_host(&request), Host::Valid("evil.com".into()));
        let headers: &[(&[u8], &[u8])] = &[(b"X-Forwarded-Host", b"a.com, b.com")];
        let request = Request::new(b"GET", b"/").with_headers(&headers);
        let mut star = settings(&["*"]);
        star.use_x_forwarded_host = true;
        assert_eq!(star.get_host(&request), Host::Disallowed);
        let empty: &[(&[u8], &[u8])] = &[(b"X-Forwarded-Host", b""), (b"Host", b"ok.com")];
        let request = Request::new(b"GET", b"/").with_headers(&empty);
        assert_eq!(star.get_host(&request), Host::Disallowed);
        let none = Request::new(b"GET", b"/");
        assert_eq!(star.get_host(&none), Host::Unknown);
    }

    proptest::proptest! {
        /// The per-request check answers as `validate` does, ASCII or not, short or long.
        #[test]
        fn the_precomputed_check_agrees_with_validate(
            raw in proptest::collection::vec(proptest::prop_oneof![
                proptest::sample::select(b"aZ.-:[]19fF_ \xc0\xe4".to_vec()),
                proptest::prelude::any::<u8>(),
            ], 0..24),
            long in proptest::prelude::any::<bool>(),
            debug in proptest::prelude::any::<bool>(),
            list in proptest::sample::select(vec![
                vec![], vec!["*"], vec!["Example.COM", ".B.example.com"], vec!["[::1]", "\u{c0}.com"],
                vec![".localhost", "127.0.0.1"],
            ]),
        ) {
            let mut raw = raw;
            if long {
                raw.splice(0..0, b"a.".repeat(HOST_ON_STACK / 2));
            }
            let mut settings = settings(&list);
            settings.debug = debug;
            let text: String = raw.iter().map(|&b| b as char).collect();
            proptest::prop_assert_eq!(
                HostCheck::new(&settings).validate_raw(&raw),
                settings.validate(&text)
            );
        }
    }

    #[test]
    fn same_domain() {
        assert!(is_same_domain("www.example.com", ".example.com"));
        assert!(is_same_domain("example.com", ".EXAMPLE.com"));
        assert!(!is_same_domain("EXAMPLE.com", "example.com"));
        assert!(!is_same_domain("x", ""));
    }
}
