//! Class names as a config writes them, resolved in one place for every key that names a
//! class — the defaults, a route's classes, a subclass's `base` — so a name means the same
//! thing wherever it is written: DRF's built-ins by their short or dotted name, the config's
//! own subclasses by their full name or, when exactly one subclass has it, by their last
//! component. A short name that several subclasses share is refused, naming every candidate.
//!
//! Also the cycle check of subclasses that base themselves on each other.

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
    seen.push(name.to_string());
    Ok(())
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
