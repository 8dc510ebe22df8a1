//! The parts of Python's `urlsplit` the CSRF checks read (the host itself is `crate::host`'s).

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
