//! Class names as a config writes them: built-in short or dotted names, and the config's own
//! subclasses by their full name or their last component; and the cycle check of subclasses
//! that base themselves on each other.

use std::collections::BTreeMap;

use toml::Spanned;

use super::raw::Loader;
use super::ConfigError;

/// Marks a custom class as being resolved, refusing one that (indirectly) bases itself on itself.
pub(super) fn enter_class(
    loader: &Loader<'_>,
    seen: &mut Vec<String>,
    name: &str,
    base: &Spanned<String>,
    key: &str,
) -> Result<(), ConfigError> {
    if seen.iter().any(|s| s == name) {
        return Err(loader.at(
            base,
            format!("{key}.base"),
            "classes inherit from each other in a cycle",
        ));
    }
    seen.push(name.to_string());
    Ok(())
}

/// Resolves class names: built-in short or dotted names, and the config's own subclasses
/// (by their full name, or by their last component when that is unambiguous).
pub(super) fn lookup_custom<'k, V>(
    map: &'k BTreeMap<Spanned<String>, V>,
    name: &str,
) -> Result<Option<(&'k str, &'k V)>, String> {
    if let Some((k, v)) = map.iter().find(|(k, _)| k.get_ref() == name) {
        return Ok(Some((k.get_ref().as_str(), v)));
    }
    let mut by_short = map
        .iter()
        .filter(|(k, _)| k.get_ref().rsplit('.').next() == Some(name));
    match (by_short.next(), by_short.next()) {
        (Some((k, v)), None) => Ok(Some((k.get_ref().as_str(), v))),
        (Some((a, _)), Some((b, _))) => Err(format!(
            "{name:?} is ambiguous: it could be {:?} or {:?}; write the full name",
            a.get_ref(),
            b.get_ref()
        )),
        _ => Ok(None),
    }
}
