//! What the CSRF checks ask of the request besides tokens: `request.get_host()` (the `Host`
//! header validated against `ALLOWED_HOSTS`), `request.is_secure()` (the front end's flag, or
//! `SECURE_PROXY_SSL_HEADER`), `get_port()`, Django's `is_same_domain`, and the parts of
//! Python's `urlsplit` the checks read.

/// Django's `is_same_domain(host, pattern)`: the pattern is lower-cased, the host is not.
pub(crate) fn is_same_domain(host: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let pattern = pattern.to_lowercase();
    match pattern.strip_prefix('.') {
        Some(bare) => host.ends_with(&pattern) || host == bare,
        None => pattern == host,
    }
}

/// Django's `split_domain_port` on the lower-cased host: `None` when it is not
/// `domain[:port]` or `[ipv6][:port]` (one trailing dot of the domain removed).
fn split_domain_port(host: &str) -> Option<(String, String)> {
    let lower = host.to_ascii_lowercase();
    let (domain, port) = if lower.starts_with('[') {
        let end = lower.find(']')?;
        let inside = &lower[1..end];
        let colon = inside.find(':')?;
        let (before, after) = (&inside[..colon], &inside[colon + 1..]);
        if !before.bytes().all(|b| b.is_ascii_hexdigit())
            || after.is_empty()
            || !after
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
        {
            return None;
        }
        (&lower[..=end], &lower[end + 1..])
    } else {
        match lower.find(':') {
            Some(i) => (&lower[..i], &lower[i..]),
            None => (lower.as_str(), ""),
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
    Some((domain.to_string(), port.to_string()))
}

/// `request.get_host()` from the raw `Host` value: `Ok(host as sent)` when `ALLOWED_HOSTS`
/// accepts it, `Err(())` where Django raises `DisallowedHost`.
pub(crate) fn get_host<'h>(raw: &'h str, allowed_hosts: &[String]) -> Result<&'h str, ()> {
    let Some((domain, _)) = split_domain_port(raw) else {
        return Err(());
    };
    let valid = !domain.is_empty()
        && allowed_hosts
            .iter()
            .any(|pattern| pattern == "*" || is_same_domain(&domain, pattern));
    if valid {
        Ok(raw)
    } else {
        Err(())
    }
}

/// The port part of a `Host` value, if it names one.
pub(crate) fn host_port(raw: &str) -> Option<&str> {
    let after = match raw.rfind(']') {
        Some(end) => &raw[end + 1..],
        None => raw,
    };
    after.rsplit_once(':').map(|(_, port)| port)
}

/// What `urlsplit` gives the CSRF checks.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SplitUrl {
    pub(crate) scheme: String,
    pub(crate) netloc: String,
    path: String,
    query: String,
    fragment: String,
}

/// Python 3.11's `urllib.parse.urlsplit` on a header's text (ISO-8859-1, so every character
/// is at most U+00FF: its NFKC check of a non-ASCII netloc never raises for those). `None`
/// where it raises `ValueError` (an unbalanced `[`/`]` in the netloc); `Err` for a bracketed
/// netloc, which Python 3.11.4+ validates as an IP address and older versions do not, so the
/// caller defers.
pub(crate) fn urlsplit(url: &str) -> Result<Option<SplitUrl>, ()> {
    // Leading C0 controls and spaces stripped; tabs and newlines removed anywhere.
    let url: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let mut rest = url.as_str();
    let mut scheme = String::new();
    if let Some(i) = rest.find(':') {
        let candidate = &rest[..i];
        if i > 0
            && candidate.is_ascii()
            && candidate.as_bytes()[0].is_ascii_alphabetic()
            && candidate
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            scheme = candidate.to_ascii_lowercase();
            rest = &rest[i + 1..];
        }
    }
    let mut netloc = String::new();
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = after[..end].to_string();
        rest = &after[end..];
        if netloc.contains('[') != netloc.contains(']') {
            return Ok(None);
        }
        if netloc.contains('[') {
            // Python 3.11.4+ also validates the bracketed address; not followed here.
            return Err(());
        }
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, f.to_string()),
        None => (rest, String::new()),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (rest.to_string(), String::new()),
    };
    Ok(Some(SplitUrl {
        scheme,
        netloc,
        path,
        query,
        fragment,
    }))
}

impl SplitUrl {
    /// `geturl()`: Python 3.11's `urlunsplit` (empty query and fragment dropped).
    pub(crate) fn geturl(&self) -> String {
        let mut url = self.path.clone();
        if !self.netloc.is_empty() {
            if !url.is_empty() && !url.starts_with('/') {
                url.insert(0, '/');
            }
            url = format!("//{}{url}", self.netloc);
        }
        if !self.scheme.is_empty() {
            url = format!("{}:{url}", self.scheme);
        }
        if !self.query.is_empty() {
            url = format!("{url}?{}", self.query);
        }
        if !self.fragment.is_empty() {
            url = format!("{url}#{}", self.fragment);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn get_host_follows_the_spec_table() {
        let ex = hosts(&["example.com"]);
        for ok in [
            "example.com",
            "EXAMPLE.COM",
            "example.com.",
            "example.com:8000",
        ] {
            assert_eq!(get_host(ok, &ex), Ok(ok), "{ok}");
        }
        for bad in [
            "example.com..",
            "example.com:",
            "example.com:8000:9",
            "",
            "a_b.example.com",
        ] {
            assert_eq!(get_host(bad, &ex), Err(()), "{bad}");
        }
        assert!(get_host("example.com:8000", &hosts(&["example.com:8000"])).is_err());
        let dotted = hosts(&[".example.com"]);
        for ok in ["example.com", "a.b.example.com", ".example.com"] {
            assert!(get_host(ok, &dotted).is_ok(), "{ok}");
        }
        assert!(get_host("badexample.com", &dotted).is_err());
        assert!(get_host("a.example.com", &hosts(&["*.example.com"])).is_err());
        assert!(get_host("[::1]:8000", &hosts(&["[::1]"])).is_ok());
        assert!(get_host("[::1", &hosts(&["*"])).is_err());
        assert!(get_host("anything.test", &hosts(&["*"])).is_ok());
        assert!(get_host("localhost", &[]).is_err());
    }

    #[test]
    fn same_domain() {
        assert!(is_same_domain("www.example.com", ".example.com"));
        assert!(is_same_domain("example.com", ".EXAMPLE.com"));
        assert!(!is_same_domain("EXAMPLE.com", "example.com"));
        assert!(!is_same_domain("x", ""));
    }

    #[test]
    fn urls_split_and_rejoin_like_python() {
        let u = urlsplit("https://evil.example/page?").unwrap().unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.netloc.as_str()),
            ("https", "evil.example")
        );
        assert_eq!(u.geturl(), "https://evil.example/page");
        let u = urlsplit("HTTPS://x.com").unwrap().unwrap();
        assert_eq!(u.geturl(), "https://x.com");
        let u = urlsplit("nonsense").unwrap().unwrap();
        assert_eq!((u.scheme.as_str(), u.netloc.as_str()), ("", ""));
        assert_eq!(urlsplit("https://[::1/").unwrap(), None);
        let u = urlsplit("https://exämple.com/").unwrap().unwrap();
        assert_eq!(u.netloc, "exämple.com");
        assert!(urlsplit("https://[::1]/").is_err());
    }
}
