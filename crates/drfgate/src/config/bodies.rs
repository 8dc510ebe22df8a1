//! What DRF's `request.POST` needs when the CSRF check reads it: `[rest_framework]
//! DEFAULT_PARSER_CLASSES` and `[django] DATA_UPLOAD_MAX_MEMORY_SIZE` and
//! `DATA_UPLOAD_MAX_NUMBER_FIELDS`, named and defaulted as DRF and Django do.

use toml::Spanned;

use super::raw::Loader;
use super::ConfigError;

/// One of `DEFAULT_PARSER_CLASSES`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParserClass {
    /// `rest_framework.parsers.JSONParser` (`application/json`).
    Json,
    /// `rest_framework.parsers.FormParser` (`application/x-www-form-urlencoded`).
    Form,
    /// `rest_framework.parsers.MultiPartParser` (`multipart/form-data`).
    MultiPart,
    /// `rest_framework.parsers.FileUploadParser` (`*/*`).
    FileUpload,
    /// Any other class: its media type is unknown to the gate.
    Other(String),
}

impl ParserClass {
    fn from_name(name: &str) -> ParserClass {
        match name {
            "rest_framework.parsers.JSONParser" => ParserClass::Json,
            "rest_framework.parsers.FormParser" => ParserClass::Form,
            "rest_framework.parsers.MultiPartParser" => ParserClass::MultiPart,
            "rest_framework.parsers.FileUploadParser" => ParserClass::FileUpload,
            other => ParserClass::Other(other.to_string()),
        }
    }

    /// The parser's `media_type`; `None` for a class the gate does not know.
    pub fn media_type(&self) -> Option<&'static str> {
        match self {
            ParserClass::Json => Some("application/json"),
            ParserClass::Form => Some("application/x-www-form-urlencoded"),
            ParserClass::MultiPart => Some("multipart/form-data"),
            ParserClass::FileUpload => Some("*/*"),
            ParserClass::Other(_) => None,
        }
    }
}

/// Django's default `DATA_UPLOAD_MAX_MEMORY_SIZE` (2.5 MiB).
pub const DJANGO_MAX_MEMORY_SIZE: u64 = 2_621_440;

#[derive(Clone, Debug)]
pub struct BodySettings {
    /// `DEFAULT_PARSER_CLASSES`, in order.
    pub parsers: Vec<ParserClass>,
    /// `DATA_UPLOAD_MAX_MEMORY_SIZE`; `None`: Python's `None` (no limit).
    pub max_memory_size: Option<u64>,
    /// `DATA_UPLOAD_MAX_NUMBER_FIELDS`; `None`: Python's `None` (no limit).
    pub max_number_fields: Option<u64>,
}

impl Default for BodySettings {
    /// DRF's and Django's defaults.
    fn default() -> Self {
        BodySettings {
            parsers: vec![ParserClass::Json, ParserClass::Form, ParserClass::MultiPart],
            max_memory_size: Some(DJANGO_MAX_MEMORY_SIZE),
            max_number_fields: Some(1000),
        }
    }
}

impl BodySettings {
    /// The most body bytes a front end reads for the gate: Django's limit, or its default
    /// when the project has none (a longer body is deferred, never judged).
    pub fn read_limit(&self) -> u64 {
        self.max_memory_size.unwrap_or(DJANGO_MAX_MEMORY_SIZE)
    }
}

impl Loader<'_> {
    /// `DATA_UPLOAD_MAX_MEMORY_SIZE` or `DATA_UPLOAD_MAX_NUMBER_FIELDS`: a number, or `false`
    /// for Python's `None` (TOML has no null).
    pub(super) fn upload_limit(
        &self,
        value: Option<Spanned<toml::Value>>,
        key: &str,
        default: Option<u64>,
    ) -> Result<Option<u64>, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        match value.get_ref() {
            toml::Value::Integer(n) if *n >= 0 => Ok(Some(*n as u64)),
            toml::Value::Boolean(false) => Ok(None),
            _ => Err(self.at(
                &value,
                key,
                "must be a number of bytes or fields (0 or more), or false for Python's None",
            )),
        }
    }

    pub(super) fn parser_classes(&self, list: Option<Vec<Spanned<String>>>) -> Vec<ParserClass> {
        match list {
            None => BodySettings::default().parsers,
            Some(list) => list
                .iter()
                .map(|name| ParserClass::from_name(name.get_ref()))
                .collect(),
        }
    }
}
