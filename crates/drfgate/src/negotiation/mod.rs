//! DRF's `DefaultContentNegotiation.select_renderer` (3.18.3), which `APIView.initial` runs
//! before authentication: the format (URL suffix, else `?format=`) filters the view's
//! renderers, then the `Accept` tokens are tried by precedence, renderer order first.
//!
//! One job per file: this file selects; `media_type` parses one media type; `query` reads
//! `?format=` as Django's `QueryDict`; `renderers` knows DRF's renderer classes.

mod media_type;
mod query;
mod renderers;

use std::sync::Arc;

pub use renderers::Renderer;
pub(crate) use renderers::{builtin_renderer, BUILTIN_RENDERERS};

use media_type::{python_strip, MediaType};
use query::QueryValue;

/// 3.18.3's limits on the `Accept` header.
const MAX_ACCEPT_LENGTH: usize = 8192;
const MAX_TOKEN_LENGTH: usize = 256;
const MAX_TOKENS: usize = 64;

/// What negotiation decides for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Negotiated {
    /// A renderer was chosen. `refusals` says how DRF would render a refusal of this
    /// request: `Some(indent)` with its JSON renderer (pretty-printed when the accepted media
    /// type has `indent=N`), `None` when the gate cannot write the same bytes (another
    /// renderer, the browsable API's HTML page, or an indent that depends on Python's hash
    /// seed).
    Chosen {
        renderer: Arc<str>,
        refusals: Option<Option<usize>>,
    },
    /// `NotAcceptable` (406), rendered with the view's first renderer.
    NotAcceptable,
    /// `Http404` from the format filter (404 `Not found.`), rendered with the first renderer.
    FormatNotFound(String),
    /// Django would answer something the gate leaves to it.
    Unsure(&'static str),
}

/// The `Accept` tokens DRF considers (`get_accept_list`), as Latin-1 text.
fn accept_tokens(header: Option<&[u8]>) -> Vec<String> {
    let header: String = match header {
        None => "*/*".into(),
        Some(bytes) => bytes.iter().map(|&b| b as char).collect(),
    };
    let header = if header.chars().count() > MAX_ACCEPT_LENGTH {
        // header[:cut + 1] with cut the last ',' before index 8192; no comma → nothing.
        let head: String = header.chars().take(MAX_ACCEPT_LENGTH).collect();
        match head.rfind(',') {
            Some(cut) => head[..=cut].to_string(),
            None => String::new(),
        }
    } else {
        header
    };
    let mut tokens = Vec::new();
    for token in header.split(',') {
        let token = python_strip(token);
        if token.is_empty() || token.chars().count() > MAX_TOKEN_LENGTH {
            continue;
        }
        tokens.push(token.to_string());
        if tokens.len() == MAX_TOKENS {
            break;
        }
    }
    tokens
}

/// Whether the `Accept` tokens are exactly `*/*`: no header (DRF's default), or the value
/// curl and many libraries send. Most requests, and the ones worth answering without
/// parsing.
fn accepts_anything(accept: Option<&[u8]>) -> bool {
    accept.is_none_or(|value| value == b"*/*")
}

/// The view's renderers and the settings negotiation reads.
pub(crate) struct Negotiation<'a> {
    pub(crate) renderers: &'a [Arc<Renderer>],
    /// `URL_FORMAT_OVERRIDE`; `None` disables `?format=`.
    pub(crate) url_format_override: Option<&'a str>,
    /// What this selection concludes for exactly `Accept: application/json` and no format
    /// (what API clients usually send), worked out once with [`Negotiation::select_json`]
    /// when the view's policy was built; `None`: worked out per request.
    pub(crate) accept_json: Option<&'a Negotiated>,
    /// The same for no `Accept` (or exactly `*/*`) and no format, worked out once with
    /// [`Negotiation::select_any`]; `None`: worked out per request.
    pub(crate) accept_any: Option<&'a Negotiated>,
}

/// The `Accept` value [`Negotiation::accept_json`] answers for.
const APPLICATION_JSON: &[u8] = b"application/json";

impl Negotiation<'_> {
    /// What was worked out at load for this request, when it is one of the usual two: no
    /// format (no suffix, and no query to hold `?format=`), and no `Accept`, `*/*` or
    /// `application/json`. Borrowed: the usual request costs no selection and no copy.
    pub(crate) fn known(
        &self,
        accept: Option<&[u8]>,
        query: &[u8],
        format_suffix: Option<&str>,
    ) -> Option<&Negotiated> {
        let no_format = format_suffix.is_none_or(str::is_empty)
            && (query.is_empty() || self.url_format_override.is_none());
        if !no_format {
            return None;
        }
        if accepts_anything(accept) {
            self.accept_any
        } else if accept == Some(APPLICATION_JSON) {
            self.accept_json
        } else {
            None
        }
    }

    /// `select_renderer` for a request's `Accept` header, query string and format suffix.
    pub(crate) fn select(
        &self,
        accept: Option<&[u8]>,
        query: &[u8],
        format_suffix: Option<&str>,
    ) -> Negotiated {
        if let Some(known) = self.known(accept, query, format_suffix) {
            return known.clone();
        }
        let format = match format_suffix.filter(|f| !f.is_empty()) {
            Some(suffix) => Some(suffix.to_string()),
            None => match self.url_format_override {
                None => None,
                Some(name) => match query::last_value(query, name) {
                    QueryValue::Absent => None,
                    QueryValue::Value(v) => Some(v).filter(|v| !v.is_empty()),
                    QueryValue::TooManyFields => {
                        return Negotiated::Unsure(
                            "more query fields than DATA_UPLOAD_MAX_NUMBER_FIELDS: Django refuses \
                             the request itself",
                        )
                    }
                },
            },
        };
        if format.is_none() {
            if accepts_anything(accept) {
                return self.select_for_any_media_type();
            }
            if let (Some(known), Some(APPLICATION_JSON)) = (self.accept_json, accept) {
                return known.clone();
            }
        }
        let candidates: Vec<&Arc<Renderer>> = match &format {
            Some(format) => {
                let kept: Vec<_> = self
                    .renderers
                    .iter()
                    .filter(|r| r.format == **format)
                    .collect();
                if kept.is_empty() {
                    return Negotiated::FormatNotFound(format.clone());
                }
                kept
            }
            None => self.renderers.iter().collect(),
        };
        let mut buckets: [Vec<MediaType>; 4] = Default::default();
        for token in accept_tokens(accept) {
            match MediaType::parse(&token) {
                Ok(parsed) => {
                    let precedence = parsed.precedence();
                    if !buckets[precedence].contains(&parsed) {
                        buckets[precedence].push(parsed);
                    }
                }
                Err(_) => {
                    return Negotiated::Unsure(
                        "an Accept parameter in RFC 2231 form, which Python's email package decodes",
                    )
                }
            }
        }
        for bucket in buckets.iter().rev() {
            if bucket.is_empty() {
                continue;
            }
            for renderer in &candidates {
                // Python iterates a set here, in hash-seed order: every token that matches
                // could be the accepted one.
                let matching: Vec<&MediaType> = bucket
                    .iter()
                    .filter(|token| renderer.media_type.satisfies(token))
                    .collect();
                if matching.is_empty() {
                    continue;
                }
                let refusals = if renderer.renders_json {
                    let indents: Vec<Option<usize>> =
                        matching.iter().map(|token| token.indent()).collect();
                    indents
                        .iter()
                        .all(|i| *i == indents[0])
                        .then_some(indents[0])
                } else {
                    None
                };
                return Negotiated::Chosen {
                    renderer: renderer.name.clone(),
                    refusals,
                };
            }
        }
        Negotiated::NotAcceptable
    }

    /// What [`Negotiation::select`] concludes for `Accept: application/json` without a
    /// format, for [`Negotiation::accept_json`].
    pub(crate) fn select_json(renderers: &[Arc<Renderer>]) -> Negotiated {
        Negotiation {
            renderers,
            url_format_override: None,
            accept_json: None,
            accept_any: None,
        }
        .select(Some(APPLICATION_JSON), b"", None)
    }

    /// What [`Negotiation::select`] concludes without `Accept` and without a format, for
    /// [`Negotiation::accept_any`].
    pub(crate) fn select_any(renderers: &[Arc<Renderer>]) -> Negotiated {
        Negotiation {
            renderers,
            url_format_override: None,
            accept_json: None,
            accept_any: None,
        }
        .select(None, b"", None)
    }

    /// What the general path selects for the single `Accept` token `*/*` and no format,
    /// without parsing it: the first renderer whose media type has no parameter but `q`
    /// (`*/*` carries none, so only those satisfy it), its refusals unindented.
    fn select_for_any_media_type(&self) -> Negotiated {
        let satisfies_any = |r: &&Arc<Renderer>| r.media_type.params.iter().all(|(k, _)| k == "q");
        match self.renderers.iter().find(satisfies_any) {
            Some(renderer) => Negotiated::Chosen {
                renderer: renderer.name.clone(),
                refusals: renderer.renders_json.then_some(None),
            },
            None => Negotiated::NotAcceptable,
        }
    }

    /// Whether DRF renders this view's negotiation failures with its JSON renderer (the
    /// first renderer's, with its bare media type).
    pub(crate) fn failures_render_as_json(&self) -> bool {
        self.renderers.first().is_some_and(|r| r.renders_json)
    }
}

#[cfg(test)]
mod tests;
