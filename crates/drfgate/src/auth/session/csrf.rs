//! Django ≥ 4.0's `CsrfViewMiddleware` checks as DRF's `SessionAuthentication.enforce_csrf`
//! runs them for a session-authenticated user: Origin, then (HTTPS only) Referer, then the
//! secret (cookie or session) and the request's token. Every reason string is Django's.
//!
//! The one part that depends on the body is the POST form field `csrfmiddlewaretoken`: DRF
//! parses the body to look for it (`post`), which may also raise (415, Django's 400 page).
//! What the gate cannot reproduce there, or a body the front end did not read, is
//! [`Csrf::Defer`]red.

use super::post::{csrf_field, PostToken};
use super::url::urlsplit;
use crate::config::{ParserClass, SessionSettings};
use crate::exceptions::ApiError;
use crate::host::{is_same_domain, Host};
use crate::request::{Method, Request};

const ALPHABET: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_LENGTH: usize = 32;
const TOKEN_LENGTH: usize = 64;

/// The outcome of the check.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Csrf {
    /// Accepted; the steps taken, for `explain`.
    Pass(&'static str),
    /// `CSRF Failed: <reason>` (403).
    Fail(String),
    /// An exception raised while DRF parsed the body for `request.POST` (415, 400).
    Raise(ApiError),
    /// Needs what the gate does not have (the body, the server's own name): the application decides.
    Defer(&'static str),
}

/// One header's value as Django's META holds it (ISO-8859-1 text).
fn meta(request: &Request<'_>, name: &str) -> Option<String> {
    request
        .header(name)
        .map(|v| v.iter().map(|&b| char::from(b)).collect())
}

/// `request.is_secure()`.
pub(crate) fn is_secure(request: &Request<'_>, settings: &SessionSettings) -> bool {
    if let Some((header, secure_value)) = &settings.secure_proxy_ssl_header {
        if let Some(value) = meta(request, header) {
            let first = value.split(',').next().unwrap_or("");
            return first.trim() == secure_value;
        }
    }
    request.secure
}

/// `_check_token_format`: the reason when the format is wrong.
fn token_format(token: &str) -> Result<(), &'static str> {
    // Python's len() counts characters.
    let length = token.chars().count();
    if length != SECRET_LENGTH && length != TOKEN_LENGTH {
        return Err("has incorrect length");
    }
    if !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("has invalid characters");
    }
    Ok(())
}

fn index(b: u8) -> usize {
    ALPHABET.iter().position(|&a| a == b).unwrap_or(0)
}

/// `_unmask_cipher_token`: for a checked 64-character token.
fn unmask(token: &[u8]) -> Vec<u8> {
    let (mask, cipher) = token.split_at(SECRET_LENGTH);
    cipher
        .iter()
        .zip(mask)
        .map(|(&c, &m)| ALPHABET[(index(c) + 62 - index(m)) % 62])
        .collect()
}

/// The secret a checked (32- or 64-character) value stands for.
fn secret_of(value: &str) -> Vec<u8> {
    if value.len() == TOKEN_LENGTH {
        unmask(value.as_bytes())
    } else {
        value.as_bytes().to_vec()
    }
}

/// `HttpHeaders.parse_header_name`: `X-Csrftoken` from `HTTP_X_CSRFTOKEN` (Python's
/// `str.title()`: a letter is upper case after a non-letter, lower case after a letter).
fn header_title(meta_name: &str) -> String {
    let name = meta_name.strip_prefix("HTTP_").unwrap_or(meta_name);
    let mut previous_letter = false;
    name.chars()
        .map(|c| {
            let c = if c == '_' { '-' } else { c };
            let out = if previous_letter {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            };
            previous_letter = c.is_ascii_alphabetic();
            out
        })
        .collect()
}

pub(crate) struct Check<'a> {
    pub(crate) settings: &'a SessionSettings,
    /// The view's parser classes, for the POST body.
    pub(crate) parsers: &'a [ParserClass],
    /// The session's `_csrftoken` (with `CSRF_USE_SESSIONS`); `Some(Err)` when not text.
    pub(crate) session_secret: Option<&'a Result<String, ()>>,
}

impl Check<'_> {
    /// `CsrfViewMiddleware.process_view` for DRF's `CSRFCheck`.
    pub(crate) fn run(&self, request: &Request<'_>, method: &Method<'_>) -> Csrf {
        if matches!(method.as_bytes(), b"GET" | b"HEAD" | b"OPTIONS" | b"TRACE") {
            return Csrf::Pass("a safe method for CSRF (GET, HEAD, OPTIONS, TRACE): not checked");
        }
        let csrf = &self.settings.csrf;
        let host = self.settings.hosts.get_host(request);
        let secure = is_secure(request, self.settings);
        if let Some(origin) = meta(request, "Origin") {
            match self.origin_verified(&origin, &host, secure) {
                Ok(true) => {}
                Ok(false) => {
                    return Csrf::Fail(format!(
                        "Origin checking failed - {origin} does not match any trusted origins."
                    ))
                }
                Err(why) => return Csrf::Defer(why),
            }
        } else if secure {
            if let Err(outcome) = self.check_referer(request, &host) {
                return outcome;
            }
        }
        // _check_token: the secret first.
        let secret = if csrf.use_sessions {
            match self.session_secret {
                None => None,
                Some(Ok(value)) if token_format(value).is_ok() => Some(secret_of(value)),
                // Django does not check the session's value and may fail oddly on it.
                Some(_) => return Csrf::Defer("the session's _csrftoken is not a CSRF secret"),
            }
        } else {
            match request.cookie(&csrf.cookie_name) {
                None => None,
                Some(cookie) => match token_format(&cookie) {
                    Ok(()) => Some(secret_of(&cookie)),
                    Err(reason) => return Csrf::Fail(format!("CSRF cookie {reason}.")),
                },
            }
        };
        let Some(secret) = secret else {
            return Csrf::Fail("CSRF cookie not set.".into());
        };
        // request.POST is read for a POST only; an empty field falls back to the header.
        let field = if method.as_bytes() == b"POST" {
            match csrf_field(
                request,
                &self.settings.body,
                self.parsers,
                !self.settings.hosts.debug,
            ) {
                PostToken::Header => None,
                PostToken::Field(token) => Some(token),
                PostToken::Refuse(error) => return Csrf::Raise(error),
                PostToken::BadRequest => return Csrf::Raise(ApiError::BadRequest),
                PostToken::Defer(why) => return Csrf::Defer(why),
            }
        } else {
            None
        };
        let (token, source) = match field {
            Some(token) => (token, "POST".to_string()),
            None => {
                let Some(token) = meta(request, &csrf.header_name) else {
                    return Csrf::Fail("CSRF token missing.".into());
                };
                let source = format!("the '{}' HTTP header", header_title(&csrf.header_meta_name));
                (token, source)
            }
        };
        if let Err(reason) = token_format(&token) {
            return Csrf::Fail(format!("CSRF token from {source} {reason}."));
        }
        if !crate::signing::constant_time_eq(&secret_of(&token), &secret) {
            return Csrf::Fail(format!("CSRF token from {source} incorrect."));
        }
        Csrf::Pass(if source == "POST" {
            "Origin/Referer, CSRF secret and the csrfmiddlewaretoken form field all check out"
        } else {
            "Origin/Referer, CSRF secret and token header all check out"
        })
    }

    /// `_origin_verified`; `Err` when the gate cannot tell.
    fn origin_verified(
        &self,
        origin: &str,
        host: &Host<'_>,
        secure: bool,
    ) -> Result<bool, &'static str> {
        let csrf = &self.settings.csrf;
        // A disallowed host is skipped silently, as Django swallows its DisallowedHost here.
        if let Host::Valid(good) = host {
            let scheme = if secure { "https" } else { "http" };
            if origin == format!("{scheme}://{good}") {
                return Ok(true);
            }
        }
        // Without a Host header Django would compare with SERVER_NAME:SERVER_PORT, which the
        // gate does not know: only a trusted origin can then decide.
        let unknown_host = *host == Host::Unknown;
        if csrf
            .trusted_origins
            .iter()
            .any(|t| !t.contains('*') && t == origin)
        {
            return Ok(true);
        }
        let not_trusted = if unknown_host {
            Err("no Host header: Django would compare the Origin with SERVER_NAME")
        } else {
            Ok(false)
        };
        let wildcards: Vec<&String> = csrf
            .trusted_origins
            .iter()
            .filter(|t| t.contains('*'))
            .collect();
        if wildcards.is_empty() {
            return not_trusted;
        }
        let parsed = match urlsplit(origin) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return not_trusted,
            Err(()) => return Err("a bracketed Origin, which Python versions parse differently"),
        };
        for trusted in wildcards {
            let Ok(Some(t)) = urlsplit(trusted) else {
                continue;
            };
            if t.scheme == parsed.scheme
                && is_same_domain(&parsed.netloc, t.netloc.trim_start_matches('*'))
            {
                return Ok(true);
            }
        }
        not_trusted
    }

    /// `_check_referer` (HTTPS without an Origin header).
    fn check_referer(&self, request: &Request<'_>, host: &Host<'_>) -> Result<(), Csrf> {
        let fail = |reason: String| Err(Csrf::Fail(reason));
        let Some(referer) = meta(request, "Referer") else {
            return fail("Referer checking failed - no Referer.".into());
        };
        let parsed = match urlsplit(&referer) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return fail("Referer checking failed - Referer is malformed.".into()),
            Err(()) => {
                return Err(Csrf::Defer(
                    "a bracketed Referer, which Python versions parse differently",
                ))
            }
        };
        if parsed.scheme.is_empty() || parsed.netloc.is_empty() {
            return fail("Referer checking failed - Referer is malformed.".into());
        }
        if parsed.scheme != "https" {
            return fail(
                "Referer checking failed - Referer is insecure while host is secure.".into(),
            );
        }
        let csrf = &self.settings.csrf;
        for trusted in &csrf.trusted_origins {
            if let Ok(Some(t)) = urlsplit(trusted) {
                if is_same_domain(&parsed.netloc, t.netloc.trim_start_matches('*')) {
                    return Ok(());
                }
            }
        }
        let no_match = || {
            Csrf::Fail(format!(
                "Referer checking failed - {} does not match any trusted origins.",
                parsed.geturl()
            ))
        };
        let domain = if csrf.use_sessions {
            &self.settings.session_cookie_domain
        } else {
            &csrf.cookie_domain
        };
        let good = match domain {
            None => match host {
                Host::Unknown => {
                    return Err(Csrf::Defer(
                        "no Host header: Django would compare the Referer with SERVER_NAME",
                    ))
                }
                Host::Valid(good) => good.to_string(),
                Host::Disallowed => return Err(no_match()),
            },
            Some(domain) => {
                // get_port(): X-Forwarded-Port with USE_X_FORWARDED_PORT, else SERVER_PORT:
                // the application server's own port (gunicorn over TCP: the port it listens
                // on, whatever the Host header says), which only a front end that is that
                // server (Apache under mod_wsgi) knows.
                let forwarded = self
                    .settings
                    .hosts
                    .use_x_forwarded_port
                    .then(|| meta(request, "X-Forwarded-Port"))
                    .flatten();
                // (Latin-1 text, as WSGI's environ strings are.)
                let server_port = || {
                    Some(
                        request
                            .server_port?
                            .iter()
                            .map(|&b| char::from(b))
                            .collect(),
                    )
                };
                match forwarded.or_else(server_port) {
                    Some(port) if port == "443" || port == "80" => domain.clone(),
                    Some(port) => format!("{domain}:{port}"),
                    None => {
                        return Err(referer_against_unknown_port(&parsed.netloc, domain)
                            .map_or_else(no_match, Csrf::Defer))
                    }
                }
            }
        };
        if is_same_domain(&parsed.netloc, &good) {
            Ok(())
        } else {
            Err(no_match())
        }
    }
}

/// The Referer check against the cookie domain when `SERVER_PORT` is unknown: Django's
/// `good_referer` is the domain when that port is 80 or 443, else `domain:port`. `None` when
/// no port would make `netloc` match (refused, whatever the port), else why the answer
/// depends on the port (deferred).
fn referer_against_unknown_port(netloc: &str, domain: &str) -> Option<&'static str> {
    if is_same_domain(netloc, domain) {
        return Some(
            "CSRF_COOKIE_DOMAIN: the Referer matches the domain only if the application \
             server's own port (SERVER_PORT) is 80 or 443, which the gate does not know",
        );
    }
    // `domain:port` matches only a netloc ending in `:port`, that port being SERVER_PORT.
    let (host, port) = netloc.rsplit_once(':')?;
    // (An empty SERVER_PORT is gunicorn's on a Unix socket without a Host header.)
    let could_be_server_port =
        port.bytes().all(|b| b.is_ascii_digit()) && port != "80" && port != "443";
    (could_be_server_port && is_same_domain(host, domain)).then_some(
        "CSRF_COOKIE_DOMAIN: a Referer with a port matches the domain only if that port is the \
         application server's own (SERVER_PORT), which the gate does not know",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmasking_matches_django() {
        // django-formats.md §4.2.
        let token = b"m3Pq8RtY2uI5oA7sD9fG1hJ4kL6zX0cVbqNAoJ4aFoXMlSQNp0D7UkeZqi2IxZep";
        assert_eq!(unmask(token), b"Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE");
    }

    #[test]
    fn header_names_are_title_cased_like_python() {
        assert_eq!(header_title("HTTP_X_CSRFTOKEN"), "X-Csrftoken");
        assert_eq!(header_title("HTTP_X_XSRF_TOKEN"), "X-Xsrf-Token");
        assert_eq!(header_title("HTTP_X2CSRF"), "X2Csrf");
    }

    #[test]
    fn a_referer_no_server_port_could_match_is_refused_the_others_deferred() {
        let domain = ".example.test";
        for refused in [
            "evil.test",
            "www.example.test.evil",
            "notexample.test",
            "WWW.Example.Test",
            "www.example.test:443",
            "www.example.test:80",
            "www.example.test:8x",
            "evil.test:8443",
        ] {
            assert_eq!(
                referer_against_unknown_port(refused, domain),
                None,
                "{refused}"
            );
        }
        for deferred in [
            "www.example.test",
            "example.test",
            "a.b.example.test",
            "www.example.test:8443",
            "example.test:8000",
            "www.example.test:",
        ] {
            assert!(
                referer_against_unknown_port(deferred, domain).is_some(),
                "{deferred}"
            );
        }
    }

    #[test]
    fn token_formats() {
        assert_eq!(token_format("abc"), Err("has incorrect length"));
        assert_eq!(token_format(&"!".repeat(64)), Err("has invalid characters"));
        assert_eq!(token_format(&"A".repeat(32)), Ok(()));
    }
}
