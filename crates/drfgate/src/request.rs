//! The gate's view of one HTTP request: borrowed, raw bytes, built by a front end.
//!
//! Header values are never decoded to text here: DRF works on the exact octets (WSGI hands
//! Django ISO-8859-1 strings, and DRF re-encodes them), so the authenticators do too.

use std::borrow::Cow;

/// Where header values come from. Front ends implement this over their own header storage,
/// so nothing is copied unless a header is repeated.
pub trait HeaderSource {
    /// Every value of the header `name` (ASCII case-insensitive), in arrival order.
    fn for_each_value(&self, name: &str, f: &mut dyn FnMut(&[u8]));

    /// The header's value as Django sees it: absent → `None`; repeated → joined with `,`
    /// (what Django's ASGI handler does; WSGI servers join similarly).
    fn get(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        let mut first: Option<Vec<u8>> = None;
        let mut count = 0usize;
        self.for_each_value(name, &mut |value| {
            count += 1;
            match first.as_mut() {
                None => first = Some(value.to_vec()),
                Some(joined) => {
                    joined.push(b',');
                    joined.extend_from_slice(value);
                }
            }
        });
        first.map(Cow::Owned).filter(|_| count > 0)
    }
}

/// Header names compare ASCII case-insensitively; most arrive spelt as asked for, which
/// a plain comparison settles faster.
fn same_name(got: &[u8], name: &str) -> bool {
    crate::bytes::same(got, name.as_bytes()) || got.eq_ignore_ascii_case(name.as_bytes())
}

fn pairs_for_each(pairs: &[(&[u8], &[u8])], name: &str, f: &mut dyn FnMut(&[u8])) {
    for (n, v) in pairs {
        if same_name(n, name) {
            f(v);
        }
    }
}

/// Borrows the value when the header appears once, which is nearly always.
fn pairs_get<'p>(pairs: &'p [(&[u8], &[u8])], name: &str) -> Option<Cow<'p, [u8]>> {
    let mut matches = pairs.iter().filter(|(n, _)| same_name(n, name));
    let (_, first) = matches.next()?;
    match matches.next() {
        None => Some(Cow::Borrowed(*first)),
        Some((_, second)) => {
            let mut joined = first.to_vec();
            for value in std::iter::once(second).chain(matches.map(|(_, v)| v)) {
                joined.push(b',');
                joined.extend_from_slice(value);
            }
            Some(Cow::Owned(joined))
        }
    }
}

/// `(name, value)` byte pairs, in arrival order.
impl HeaderSource for &[(&[u8], &[u8])] {
    fn for_each_value(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        pairs_for_each(self, name, f)
    }

    fn get(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        pairs_get(self, name)
    }
}

impl<const N: usize> HeaderSource for [(&[u8], &[u8]); N] {
    fn for_each_value(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        pairs_for_each(self, name, f)
    }

    fn get(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        pairs_get(self, name)
    }
}

impl HeaderSource for Vec<(&[u8], &[u8])> {
    fn for_each_value(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        pairs_for_each(self, name, f)
    }

    fn get(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        pairs_get(self, name)
    }
}

/// Owned header pairs, e.g. parsed from a command line.
impl HeaderSource for Vec<(Vec<u8>, Vec<u8>)> {
    fn for_each_value(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for (n, v) in self {
            if same_name(n, name) {
                f(v);
            }
        }
    }
}

const NO_HEADERS: &[(&[u8], &[u8]); 0] = &[];

/// What a front end hands over as [`Request::path`], which decides how the gate turns it
/// into Django's `request.path_info`. The two must never be confused: decoding an already
/// decoded path a second time makes `%253F` a `?` (or `%3F` a cut), and the gate would
/// judge a route other than the one Django runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PathForm {
    /// The request target as the client sent it (still percent-encoded; a query, a
    /// fragment and an absolute-form `scheme://authority` are cut off as gunicorn does).
    /// What an HTTP server sees before any WSGI server: `drfgate serve`, the Layer.
    #[default]
    RawTarget,
    /// WSGI's `PATH_INFO`: already percent-decoded (and, behind Apache, normalised), with
    /// any `SCRIPT_NAME` removed. Taken byte for byte; only Django's repair of invalid
    /// UTF-8 applies. What mod_wsgi gives Django, so what the Apache module hands over.
    PathInfo,
}

/// One request as the gate sees it.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// The method as sent; the gate upper-cases it as Django does.
    pub method: &'a [u8],
    /// The path, in the form [`Request::path_form`] says.
    pub path: &'a [u8],
    pub path_form: PathForm,
    pub headers: &'a dyn HeaderSource,
    /// The `REMOTE_USER` server variable, set by the front end (e.g. Apache's `r->user`).
    /// Never taken from a client header.
    pub remote_user: Option<&'a [u8]>,
    /// Whether the client connection is HTTPS (`request.is_secure()`).
    pub secure: bool,
    /// The `REMOTE_ADDR` server variable: the address of the peer that connected to the
    /// server in front of Django, as text. DRF's throttles identify an anonymous client by it
    /// (`get_ident`). `None`: not known, which DRF would see as Python's `None`.
    pub remote_addr: Option<&'a [u8]>,
    /// WSGI's `QUERY_STRING` (raw, without `?`), for DRF's `?format=`. `None`: the query of a
    /// [`PathForm::RawTarget`] path, if it has one.
    pub query: Option<&'a [u8]>,
    /// The request body, when the front end has read it (see [`RequestBody`]); `None`: not
    /// read, and the gate defers what depends on it.
    pub body: Option<RequestBody<'a>>,
    /// WSGI's `SERVER_PORT` as the application will see it (Apache: `ap_get_server_port`,
    /// what mod_wsgi hands Django), as text: Django's `request.get_port()` without
    /// `X-Forwarded-Port`. `None`: not known (a proxy in front of another server), and the
    /// gate defers what depends on it.
    pub server_port: Option<&'a [u8]>,
}

/// The body a front end read for the gate: never more than `DATA_UPLOAD_MAX_MEMORY_SIZE`
/// bytes (`Gate::body_wanted` says when and how much).
#[derive(Clone, Copy, Debug)]
pub struct RequestBody<'a> {
    pub bytes: &'a [u8],
    /// Whether `bytes` is the whole body. A cut body (over the bound, or the client went
    /// away) only ever makes the gate defer.
    pub complete: bool,
}

impl<'a> Request<'a> {
    /// A request whose `target` is the raw request target (see [`PathForm::RawTarget`]).
    pub fn new(method: &'a [u8], target: &'a [u8]) -> Request<'a> {
        Request {
            method,
            path: target,
            path_form: PathForm::RawTarget,
            headers: NO_HEADERS,
            remote_user: None,
            secure: false,
            remote_addr: None,
            query: None,
            body: None,
            server_port: None,
        }
    }

    /// A request whose path is WSGI's `PATH_INFO` (see [`PathForm::PathInfo`]).
    pub fn with_path_info(method: &'a [u8], path_info: &'a [u8]) -> Request<'a> {
        Request {
            path_form: PathForm::PathInfo,
            ..Request::new(method, path_info)
        }
    }

    /// Django's `request.path_info` for this request.
    pub fn path_info(&self) -> Cow<'a, str> {
        match self.path_form {
            PathForm::RawTarget => crate::routes::django_path_info(self.path),
            PathForm::PathInfo => crate::routes::wsgi_path_info(self.path),
        }
    }

    /// [`Request::path_info`] and [`Request::query_string`], the raw target read once.
    pub(crate) fn path_info_and_query(&self) -> (Cow<'a, str>, &'a [u8]) {
        match (self.path_form, self.query) {
            (PathForm::RawTarget, None) => crate::routes::django_path_info_and_query(self.path),
            _ => (self.path_info(), self.query_string()),
        }
    }

    pub fn with_headers(mut self, headers: &'a dyn HeaderSource) -> Self {
        self.headers = headers;
        self
    }

    pub fn with_remote_user(mut self, remote_user: Option<&'a [u8]>) -> Self {
        self.remote_user = remote_user;
        self
    }

    pub fn with_remote_addr(mut self, remote_addr: Option<&'a [u8]>) -> Self {
        self.remote_addr = remote_addr;
        self
    }

    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The query string as the front end has it apart from the path (raw, without `?`).
    pub fn with_query(mut self, query: Option<&'a [u8]>) -> Self {
        self.query = query;
        self
    }

    /// WSGI's `QUERY_STRING`: the one given, else the raw target's (between `?` and `#`, as
    /// gunicorn splits it), else empty.
    pub fn query_string(&self) -> &'a [u8] {
        if let Some(query) = self.query {
            return query;
        }
        match self.path_form {
            PathForm::RawTarget => crate::routes::target_query(self.path),
            PathForm::PathInfo => b"",
        }
    }

    /// The application server's own port (see [`Request::server_port`]).
    pub fn with_server_port(mut self, server_port: Option<&'a [u8]>) -> Self {
        self.server_port = server_port;
        self
    }

    /// The body the front end read (see [`RequestBody`]).
    pub fn with_body(mut self, body: Option<RequestBody<'a>>) -> Self {
        self.body = body;
        self
    }

    pub fn header(&self, name: &str) -> Option<Cow<'a, [u8]>> {
        self.headers.get(name)
    }

    /// A cookie's value from the `Cookie` header(s), parsed as Django under WSGI does.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookie_text(name).map(Cow::into_owned)
    }

    /// [`Request::cookie`], borrowed from the header when it can be.
    pub(crate) fn cookie_text(&self, name: &str) -> Option<Cow<'a, str>> {
        let wsgi = crate::header::HeaderTextDecoding::Wsgi;
        match self.headers.get("Cookie")? {
            Cow::Borrowed(header) => crate::header::cookie_value(header, name, wsgi),
            Cow::Owned(header) => crate::header::cookie_value(&header, name, wsgi)
                .map(|value| Cow::Owned(value.into_owned())),
        }
    }
}

/// The method as Django's `request.method` has it: ASCII upper case. A method sent in upper
/// case (nearly every one) is borrowed as it is; others are upper-cased on the stack, or on
/// the heap when long.
pub struct Method<'a> {
    text: MethodText<'a>,
}

enum MethodText<'a> {
    /// Already upper case: the bytes as sent.
    AsSent(&'a [u8]),
    Short {
        buf: [u8; 16],
        len: u8,
    },
    Long(Box<[u8]>),
}

impl<'a> Method<'a> {
    pub fn new(raw: &'a [u8]) -> Method<'a> {
        let text = if !raw.iter().any(u8::is_ascii_lowercase) {
            MethodText::AsSent(raw)
        } else if raw.len() <= 16 {
            let mut buf = [0; 16];
            buf[..raw.len()].copy_from_slice(raw);
            buf[..raw.len()].make_ascii_uppercase();
            MethodText::Short {
                buf,
                len: raw.len() as u8,
            }
        } else {
            MethodText::Long(raw.to_ascii_uppercase().into_boxed_slice())
        };
        Method { text }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.text {
            MethodText::AsSent(raw) => raw,
            MethodText::Short { buf, len } => &buf[..usize::from(*len)],
            MethodText::Long(heap) => heap,
        }
    }

    /// DRF's `SAFE_METHODS`.
    pub fn is_safe(&self) -> bool {
        matches!(self.as_bytes(), b"GET" | b"HEAD" | b"OPTIONS")
    }

    /// For messages: Django decodes the method as ISO-8859-1.
    pub fn to_text(&self) -> String {
        self.as_bytes().iter().map(|&b| b as char).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_headers_join_with_a_comma() {
        let pairs: &[(&[u8], &[u8])] = &[
            (b"Authorization", b"Token abcd1234"),
            (b"X-Other", b"1"),
            (b"authorization", b"Token x"),
        ];
        let req = Request::new(b"GET", b"/").with_headers(&pairs);
        assert_eq!(
            req.header("AUTHORIZATION").as_deref(),
            Some(&b"Token abcd1234,Token x"[..])
        );
        assert_eq!(req.header("x-other").as_deref(), Some(&b"1"[..]));
        assert_eq!(req.header("Missing"), None);
    }

    #[test]
    fn owned_pairs_use_the_default_join() {
        let pairs = vec![
            (b"A".to_vec(), b"1".to_vec()),
            (b"a".to_vec(), b"2".to_vec()),
        ];
        assert_eq!(pairs.get("a").as_deref(), Some(&b"1,2"[..]));
        assert_eq!(pairs.get("b"), None);
    }

    #[test]
    fn methods_are_upper_cased_like_django() {
        assert_eq!(Method::new(b"brew").as_bytes(), b"BREW");
        assert!(Method::new(b"options").is_safe());
        assert!(!Method::new(b"TRACE").is_safe());
        let long = Method::new(b"a-very-long-method-name-indeed");
        assert_eq!(long.as_bytes(), b"A-VERY-LONG-METHOD-NAME-INDEED");
        assert_eq!(Method::new(b"\xe9t").to_text(), "\u{e9}T");
        assert_eq!(Method::new(b"GET").as_bytes(), b"GET");
        assert_eq!(Method::new(b"M-SEARCH").as_bytes(), b"M-SEARCH");
        assert_eq!(Method::new(b"Get").as_bytes(), b"GET");
        assert_eq!(Method::new(b"\xe9").as_bytes(), b"\xe9");
    }
}
