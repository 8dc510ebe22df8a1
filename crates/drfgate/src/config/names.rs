//! Class names as a config writes them, resolved in one place for every key that names a
//! class — the defaults, a route's classes, a subclass's `base` — so a name means the same
//! thing wherever it is written: DRF's built-ins by their short or dotted name, the config's
//! own subclasses by their full name or, when exactly one subclass has it, by their last
//! component. A short name that several subclasses share is refused, naming every candidate.
//!
//! Also the subclasses resolved so far, and the cycle check of subclasses that base
//! themselves on each other.

use std::collections::BTreeMap;

use toml::Spanned;

use super::raw::Loader;
use super::suggest::suggestion;
use super::ConfigError;

/// What a class name resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ClassName<'n, B> {
    /// One of DRF's classes.
    Builtin(B),
    /// One of the config's own subclasses, by its full name as declared.
    Custom(&'n str),
}

/// The classes of one kind a config can name: DRF's and the config's own.
pub(super) struct ClassNames<B> {
    /// "authentication class" or "permission class", for messages.
    what: &'static str,
    /// DRF's module, e.g. `rest_framework.permissions.`.
    prefix: &'static str,
    /// DRF's classes by short name.
    builtins: Vec<(&'static str, B)>,
    /// The config's own subclasses, by full name, in the order they are declared in (sorted).
    custom: Vec<String>,
}

impl<B: Copy> ClassNames<B> {
    pub(super) fn new(
        what: &'static str,
        prefix: &'static str,
        builtins: Vec<(&'static str, B)>,
        custom: Vec<String>,
    ) -> ClassNames<B> {
        ClassNames {
            what,
            prefix,
            builtins,
            custom,
        }
    }

    /// The class `name` means, or why it means none: unknown (with a suggestion when a known
    /// name is close) or ambiguous (with every candidate).
    pub(super) fn resolve(&self, name: &str) -> Result<ClassName<'_, B>, String> {
        let short = name.strip_prefix(self.prefix).unwrap_or(name);
        if let Some(&(_, builtin)) = self.builtins.iter().find(|(s, _)| *s == short) {
            return Ok(ClassName::Builtin(builtin));
        }
        // Another package's class (a dotted built-in) by its last component, unless that is
        // also the name of one of DRF's (knox's `TokenAuthentication` is written in full).
        let packaged: Vec<B> = self
            .builtins
            .iter()
            .filter(|(s, _)| s.contains('.') && s.rsplit('.').next() == Some(name))
            .map(|&(_, b)| b)
            .collect();
        if let [builtin] = packaged[..] {
            return Ok(ClassName::Builtin(builtin));
        }
        if let Some(full) = self.custom.iter().find(|full| *full == name) {
            return Ok(ClassName::Custom(full));
        }
        let candidates: Vec<&str> = self
            .custom
            .iter()
            .map(String::as_str)
            .filter(|full| full.rsplit('.').next() == Some(name))
            .collect();
        match candidates[..] {
            [full] => Ok(ClassName::Custom(full)),
            [] => {
                let known = self.known();
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                Err(format!(
                    "unknown {} {name:?}{}",
                    self.what,
                    suggestion(name, &known)
                ))
            }
            _ => Err(format!(
                "{name:?} is ambiguous: it could be {}; write the full name",
                one_of(&candidates)
            )),
        }
    }

    /// Every name a class can be given by in full: DRF's dotted names, then the config's own.
    fn known(&self) -> Vec<String> {
        let builtins = self.builtins.iter().map(|(short, _)| {
            if short.contains('.') {
                short.to_string()
            } else {
                format!("{}{short}", self.prefix)
            }
        });
        builtins.chain(self.custom.iter().cloned()).collect()
    }
}

/// `"a" or "b"`, `"a", "b" or "c"`.
fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("{name:?}")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// A `[<table>."<name>"]` subclass definition: what the cycle check needs of it.
pub(super) trait Subclass {
    /// The class it is based on, as written.
    fn base(&self) -> &Spanned<String>;
}

/// The subclass `name` declared in `[<table>."…"]`, marked as being resolved: its name as
/// declared, its definition and its config key (`table."name"`). Refuses one that is not
/// declared, and one that (indirectly) bases itself on itself or inherits too deep.
pub(super) fn enter_subclass<'r, R: Subclass>(
    loader: &Loader<'_>,
    raw: &'r BTreeMap<Spanned<String>, R>,
    table: &str,
    name: &str,
    seen: &mut Vec<String>,
) -> Result<(&'r str, &'r R, String), ConfigError> {
    let Some((declared, def)) = raw.get_key_value(name) else {
        return Err(loader.error(None, table, format!("class {name:?} is not defined")));
    };
    let declared = declared.get_ref().as_str();
    let key = format!("{table}.\"{declared}\"");
    let base = def.base();
    if seen.iter().any(|s| s == declared) {
        return Err(loader.at(
            base,
            format!("{key}.base"),
            "classes inherit from each other in a cycle",
        ));
    }
    if seen.len() >= MAX_CLASS_DEPTH {
        return Err(loader.at(
            base,
            format!("{key}.base"),
            format!(
                "classes inherit more than {MAX_CLASS_DEPTH} deep; flatten the chain \
                 (the depth is bounded so that no config can exhaust the stack)"
            ),
        ));
    }
    seen.push(declared.to_string());
    Ok((declared, def, key))
}

/// The classes of one kind resolved to what they do: DRF's built-ins made on demand by the
/// kind's own constructor, the config's subclasses resolved once at load.
pub(super) struct Classes<B, T> {
    names: ClassNames<B>,
    /// The config's own subclasses resolved so far, by their full names.
    custom: Vec<(String, T)>,
}

impl<B: Copy, T: Clone> Classes<B, T> {
    pub(super) fn new(names: ClassNames<B>) -> Classes<B, T> {
        Classes {
            names,
            custom: Vec::new(),
        }
    }

    pub(super) fn names(&self) -> &ClassNames<B> {
        &self.names
    }

    pub(super) fn add(&mut self, full: String, class: T) {
        self.custom.push((full, class));
    }

    /// A subclass already resolved, by its full name.
    pub(super) fn custom(&self, full: &str) -> Option<T> {
        self.custom
            .iter()
            .find(|(k, _)| k == full)
            .map(|(_, class)| class.clone())
    }

    /// The class `name` means: a built-in made by `builtin`, or a resolved subclass.
    pub(super) fn find(&self, name: &str, builtin: impl Fn(B) -> T) -> Result<T, String> {
        match self.names.resolve(name)? {
            ClassName::Builtin(b) => Ok(builtin(b)),
            ClassName::Custom(full) => self
                .custom(full)
                .ok_or_else(|| format!("class {full:?} is not defined")),
        }
    }

    /// A list of class names, each resolved; `key` names the list in errors.
    pub(super) fn resolve_list(
        &self,
        loader: &Loader<'_>,
        list: &[Spanned<String>],
        key: &str,
        builtin: impl Fn(B) -> T,
    ) -> Result<Vec<T>, ConfigError> {
        list.iter()
            .enumerate()
            .map(|(i, entry)| {
                self.find(entry.get_ref(), &builtin)
                    .map_err(|m| loader.at(entry, format!("{key}[{i}]"), m))
            })
            .collect()
    }
}

/// How deep custom classes may inherit from one another (`base` naming another custom class).
pub(super) const MAX_CLASS_DEPTH: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> ClassNames<u8> {
        ClassNames::new(
            "permission class",
            "rest_framework.permissions.",
            vec![("IsAuthenticated", 1), ("IsAdminUser", 2)],
            vec![
                "a.IsOwner".into(),
                "b.IsOwner".into(),
                "c.Other".into(),
                "IsAdminUser".into(),
            ],
        )
    }

    #[test]
    fn builtins_then_full_names_then_unique_short_names() {
        let names = names();
        assert_eq!(names.resolve("IsAuthenticated"), Ok(ClassName::Builtin(1)));
        assert_eq!(
            names.resolve("rest_framework.permissions.IsAdminUser"),
            Ok(ClassName::Builtin(2))
        );
        // A built-in's name is DRF's even when a subclass is declared under it.
        assert_eq!(names.resolve("IsAdminUser"), Ok(ClassName::Builtin(2)));
        assert_eq!(
            names.resolve("b.IsOwner"),
            Ok(ClassName::Custom("b.IsOwner"))
        );
        assert_eq!(names.resolve("Other"), Ok(ClassName::Custom("c.Other")));
        // The short name is the last component, not any suffix.
        assert!(names.resolve("Owner").is_err());
    }

    #[test]
    fn ambiguous_and_unknown_names_say_why() {
        let names = names();
        assert_eq!(
            names.resolve("IsOwner"),
            Err("\"IsOwner\" is ambiguous: it could be \"a.IsOwner\" or \"b.IsOwner\"; write the full name".into())
        );
        assert_eq!(
            names.resolve("IsAuthenticatd"),
            Err("unknown permission class \"IsAuthenticatd\" (did you mean \"rest_framework.permissions.IsAuthenticated\"?)".into())
        );
        assert_eq!(one_of(&["a", "b", "c"]), "\"a\", \"b\" or \"c\"");
        assert_eq!(one_of(&["a"]), "\"a\"");
    }
}
