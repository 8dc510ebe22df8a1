//! Sections the core accepts but does not read, for the front end that does (`[serve]`, read
//! by `drfgate serve`): [`Config::section`] deserializes one from the config's own text, so
//! its `Spanned` values keep their positions and its errors name the file, line and key as
//! the core's do ([`Config::error_at`]).

use std::marker::PhantomData;
use std::ops::Range;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserializer;

use super::raw::Loader;
use super::{Config, ConfigError};

impl Config {
    /// The top-level section `name` (one of the sections the core leaves to a front end, e.g.
    /// `"serve"`), deserialized as `T`, or `None` when the file has none. A TOML or serde error
    /// (unknown key, wrong type) names the file and the line, as the core's own errors do.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ConfigError> {
        let loader = self.loader();
        let error = |e: toml::de::Error| loader.error(e.span(), "", e.message().trim_end());
        let document = toml::Deserializer::parse(&self.text).map_err(error)?;
        Section::<T> {
            name,
            found: PhantomData,
        }
        .deserialize(document)
        .map_err(error)
    }

    /// A `ConfigError` at a byte span of the config's text (a `toml::Spanned` value of a
    /// [`section`](Config::section)), in the core's format: `file:line: key: message`.
    pub fn error_at(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        self.loader().error(Some(span), key, message)
    }

    fn loader(&self) -> Loader<'_> {
        Loader {
            text: &self.text,
            origin: &self.origin,
            base: None,
        }
    }
}

/// Visits the document's top-level table, deserializing the one key and skipping the rest.
struct Section<'n, T> {
    name: &'n str,
    found: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for Section<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for Section<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a TOML document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.name {
                found = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}
