//! DRF's renderer classes as negotiation sees them: a media type and a format. Only
//! `JSONRenderer` (and subclasses that keep its rendering) renders the way the gate writes
//! refusals.

use std::sync::Arc;

use super::media_type::MediaType;

/// One renderer class of a view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renderer {
    /// The class as the config names it.
    pub name: Arc<str>,
    pub(crate) media_type: MediaType,
    pub format: String,
    /// Whether it renders like DRF's `JSONRenderer` (what the gate's refusal bodies are).
    pub renders_json: bool,
}

impl Renderer {
    /// A renderer from its `media_type` and `format` attributes.
    pub fn new(name: &str, media_type: &str, format: &str, renders_json: bool) -> Option<Renderer> {
        Some(Renderer {
            name: Arc::from(name),
            media_type: MediaType::parse(media_type).ok()?,
            format: format.to_string(),
            renders_json,
        })
    }
}

/// DRF's renderers: short name, `media_type`, `format`.
pub(crate) const BUILTIN_RENDERERS: &[(&str, &str, &str)] = &[
    ("JSONRenderer", "application/json", "json"),
    ("BrowsableAPIRenderer", "text/html", "api"),
    ("TemplateHTMLRenderer", "text/html", "html"),
    ("StaticHTMLRenderer", "text/html", "html"),
    ("AdminRenderer", "text/html", "admin"),
    ("HTMLFormRenderer", "text/html", "form"),
    (
        "MultiPartRenderer",
        "multipart/form-data; boundary=BoUnDaRyStRiNg",
        "multipart",
    ),
    ("DocumentationRenderer", "text/html", "html"),
    ("SchemaJSRenderer", "application/javascript", "javascript"),
    ("CoreJSONRenderer", "application/coreapi+json", "corejson"),
    ("OpenAPIRenderer", "application/vnd.oai.openapi", "openapi"),
    (
        "JSONOpenAPIRenderer",
        "application/vnd.oai.openapi+json",
        "openapi-json",
    ),
];

/// A built-in renderer by its short name, as the config spells the class.
pub(crate) fn builtin_renderer(short: &str, name: &str) -> Option<Renderer> {
    let (_, media_type, format) = BUILTIN_RENDERERS.iter().find(|(s, _, _)| *s == short)?;
    Renderer::new(name, media_type, format, short == "JSONRenderer")
}
