//! The authentication classes: DRF's four built-ins and the config's own
//! `[authentication_classes."…"]` subclasses (a Token keyword, a Basic realm, a RemoteUser
//! header), resolved to what each one does.

use std::collections::BTreeMap;
use std::sync::Arc;

use toml::Spanned;

use super::names::{enter_subclass, ClassName, ClassNames, Classes, Subclass};
use super::raw::{Loader, RawAuthClass};
use super::ConfigError;
use crate::auth::RemoteUserSource;

/// Which scheme a configured authentication class implements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthKind {
    Token {
        keyword: String,
    },
    Basic {
        realm: String,
    },
    Session,
    RemoteUser {
        source: RemoteUserSource,
    },
    /// simplejwt's `JWTAuthentication`, or (`stateless`) `JWTStatelessUserAuthentication`.
    Jwt {
        stateless: bool,
    },
    /// knox's `TokenAuthentication`.
    Knox,
}

/// One authentication class, resolved: its configured name and what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthClass {
    pub name: Arc<str>,
    pub kind: AuthKind,
}

const AUTH_PREFIX: &str = "rest_framework.authentication.";
const BUILTIN_AUTH: [&str; 4] = [
    "TokenAuthentication",
    "BasicAuthentication",
    "SessionAuthentication",
    "RemoteUserAuthentication",
];
/// The other packages' classes, by their full dotted names (`names` also resolves them by
/// their last component when that is not one of DRF's).
const PACKAGE_AUTH: [&str; 4] = [
    "rest_framework_simplejwt.authentication.JWTAuthentication",
    "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication",
    "rest_framework_simplejwt.authentication.JWTTokenUserAuthentication",
    "knox.auth.TokenAuthentication",
];

pub(super) struct AuthRegistry<'l> {
    loader: &'l Loader<'l>,
    classes: Classes<&'static str, AuthClass>,
}

impl Subclass for RawAuthClass {
    fn base(&self) -> &Spanned<String> {
        &self.base
    }
}

fn builtin_auth(short: &str) -> AuthClass {
    if short.contains('.') {
        let kind = match short.rsplit('.').next() {
            Some("JWTAuthentication") => AuthKind::Jwt { stateless: false },
            Some("TokenAuthentication") => AuthKind::Knox,
            _ => AuthKind::Jwt { stateless: true },
        };
        return AuthClass {
            name: Arc::from(short),
            kind,
        };
    }
    let name: Arc<str> = Arc::from(format!("{AUTH_PREFIX}{short}"));
    let kind = match short {
        "TokenAuthentication" => AuthKind::Token {
            keyword: "Token".into(),
        },
        "BasicAuthentication" => AuthKind::Basic {
            realm: "api".into(),
        },
        "RemoteUserAuthentication" => AuthKind::RemoteUser {
            source: RemoteUserSource::ServerVariable,
        },
        _ => AuthKind::Session,
    };
    AuthClass { name, kind }
}

impl<'l> AuthRegistry<'l> {
    pub(super) fn new(
        loader: &'l Loader<'l>,
        raw: &BTreeMap<Spanned<String>, RawAuthClass>,
    ) -> Result<AuthRegistry<'l>, ConfigError> {
        let names = ClassNames::new(
            "authentication class",
            AUTH_PREFIX,
            BUILTIN_AUTH
                .iter()
                .chain(&PACKAGE_AUTH)
                .map(|&short| (short, short))
                .collect(),
            raw.keys().map(|k| k.get_ref().clone()).collect(),
        );
        let mut classes = Classes::new(names);
        for key in raw.keys() {
            let class =
                resolve_custom_auth(loader, classes.names(), raw, key.get_ref(), &mut Vec::new())?;
            classes.add(key.get_ref().clone(), class);
        }
        Ok(AuthRegistry { loader, classes })
    }

    pub(super) fn builtin(&self, short: &str) -> AuthClass {
        builtin_auth(short)
    }

    pub(super) fn resolve_list(
        &self,
        list: &[Spanned<String>],
        key: &str,
    ) -> Result<Vec<AuthClass>, ConfigError> {
        self.classes
            .resolve_list(self.loader, list, key, builtin_auth)
    }
}

/// Resolves the subclass declared as `[authentication_classes."<name>"]`, and the subclasses
/// it is based on.
fn resolve_custom_auth(
    loader: &Loader<'_>,
    names: &ClassNames<&'static str>,
    raw: &BTreeMap<Spanned<String>, RawAuthClass>,
    name: &str,
    seen: &mut Vec<String>,
) -> Result<AuthClass, ConfigError> {
    let (key_name, def, key) = enter_subclass(loader, raw, "authentication_classes", name, seen)?;
    let mut kind = match names.resolve(def.base.get_ref()) {
        Ok(ClassName::Builtin(short)) => builtin_auth(short).kind,
        Ok(ClassName::Custom(full)) => resolve_custom_auth(loader, names, raw, full, seen)?.kind,
        Err(m) => return Err(loader.at(&def.base, format!("{key}.base"), m)),
    };
    let misplaced = |field: &Spanned<String>, what: &str, wants: &str| {
        loader.at(
            field,
            format!("{key}.{what}"),
            format!("`{what}` only applies to subclasses of {wants}"),
        )
    };
    if let Some(keyword) = &def.keyword {
        match &mut kind {
            AuthKind::Token { keyword: k } => {
                let word = keyword.get_ref();
                if word.is_empty()
                    || word
                        .bytes()
                        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
                {
                    return Err(loader.at(
                        keyword,
                        format!("{key}.keyword"),
                        "a keyword is one word without spaces, e.g. \"Bearer\"",
                    ));
                }
                if !word.is_ascii() {
                    return Err(loader.at(keyword, format!("{key}.keyword"), "keep keywords ASCII: header bytes are compared case-insensitively as ASCII"));
                }
                *k = word.clone();
            }
            _ => return Err(misplaced(keyword, "keyword", "TokenAuthentication")),
        }
    }
    if let Some(realm) = &def.www_authenticate_realm {
        match &mut kind {
            AuthKind::Basic { realm: r } => {
                if realm.get_ref().contains(['"', '\\', '\r', '\n']) {
                    return Err(loader.at(
                        realm,
                        format!("{key}.www_authenticate_realm"),
                        "the realm may not contain quotes, backslashes or line breaks",
                    ));
                }
                *r = realm.get_ref().clone();
            }
            _ => {
                return Err(misplaced(
                    realm,
                    "www_authenticate_realm",
                    "BasicAuthentication",
                ))
            }
        }
    }
    if let Some(header) = &def.header {
        match &mut kind {
            AuthKind::RemoteUser { source } => {
                *source = RemoteUserSource::from_meta_key(header.get_ref())
                    .map_err(|m| loader.at(header, format!("{key}.header"), m))?;
            }
            _ => return Err(misplaced(header, "header", "RemoteUserAuthentication")),
        }
    }
    seen.pop();
    Ok(AuthClass {
        name: Arc::from(key_name),
        kind,
    })
}
