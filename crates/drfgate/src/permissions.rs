//! DRF's permission classes and their `&`, `|`, `~` compositions.
//!
//! Expressions are parsed from config text with Python's precedence (`~` binds tighter than
//! `&`, which binds tighter than `|`). As in DRF, a composite has no `message`: only a plain
//! class listed on its own can refuse with its custom message.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::decision::{Body, Identity};
use crate::exceptions::ApiError;
use crate::request::Method;

/// The built-in classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PermissionClass {
    AllowAny,
    IsAuthenticated,
    IsAdminUser,
    IsAuthenticatedOrReadOnly,
    DjangoModelPermissions,
    DjangoModelPermissionsOrAnonReadOnly,
}

impl PermissionClass {
    pub const ALL: [PermissionClass; 6] = [
        PermissionClass::AllowAny,
        PermissionClass::IsAuthenticated,
        PermissionClass::IsAdminUser,
        PermissionClass::IsAuthenticatedOrReadOnly,
        PermissionClass::DjangoModelPermissions,
        PermissionClass::DjangoModelPermissionsOrAnonReadOnly,
    ];

    pub fn short_name(self) -> &'static str {
        match self {
            PermissionClass::AllowAny => "AllowAny",
            PermissionClass::IsAuthenticated => "IsAuthenticated",
            PermissionClass::IsAdminUser => "IsAdminUser",
            PermissionClass::IsAuthenticatedOrReadOnly => "IsAuthenticatedOrReadOnly",
            PermissionClass::DjangoModelPermissions => "DjangoModelPermissions",
            PermissionClass::DjangoModelPermissionsOrAnonReadOnly => {
                "DjangoModelPermissionsOrAnonReadOnly"
            }
        }
    }

    pub fn dotted_name(self) -> String {
        format!("rest_framework.permissions.{}", self.short_name())
    }

    pub fn needs_model(self) -> bool {
        matches!(
            self,
            PermissionClass::DjangoModelPermissions
                | PermissionClass::DjangoModelPermissionsOrAnonReadOnly
        )
    }
}

/// A Django model as `app_label.model_name` (lower case), for DjangoModelPermissions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelLabel {
    pub app_label: String,
    pub model_name: String,
}

impl ModelLabel {
    pub fn parse(text: &str) -> Result<ModelLabel, String> {
        match text.split_once('.') {
            Some((app, model)) if !app.is_empty() && !model.is_empty() && !model.contains('.') => {
                Ok(ModelLabel {
                    app_label: app.to_string(),
                    model_name: model.to_lowercase(),
                })
            }
            _ => Err(format!(
                "model {text:?} must be written app_label.model, e.g. \"shop.order\""
            )),
        }
    }

    /// `<app>.<action>_<model>`, the permission string Django checks.
    fn permission(&self, action: &str) -> String {
        format!("{}.{}_{}", self.app_label, action, self.model_name)
    }
}

/// A permission expression, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Permission {
    Class(PermissionClass),
    /// A configured subclass: a name, a base expression and optionally its own message.
    Named {
        name: Arc<str>,
        base: Box<Permission>,
        message: Option<Body>,
    },
    And(Box<Permission>, Box<Permission>),
    Or(Box<Permission>, Box<Permission>),
    Not(Box<Permission>),
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permission::Class(c) => f.write_str(c.short_name()),
            Permission::Named { name, .. } => f.write_str(name),
            Permission::And(a, b) => write!(f, "({a} & {b})"),
            Permission::Or(a, b) => write!(f, "({a} | {b})"),
            Permission::Not(a) => write!(f, "~{a}"),
        }
    }
}

/// Looks up a user's Django permissions (`app_label.codename`), cached by the gate.
pub type UserPermissions<'a> = &'a dyn Fn(&Identity) -> Result<Arc<HashSet<String>>, ApiError>;

/// What a permission check may need beyond the request: the model, and the user's Django
/// permissions (looked up only when a check really needs them).
pub struct PermissionContext<'a> {
    pub method: &'a Method<'a>,
    pub identity: Option<&'a Identity>,
    pub model: Option<&'a ModelLabel>,
    pub user_permissions: UserPermissions<'a>,
}

impl Permission {
    /// `has_permission`; `Err` for what a permission class raises (405 from
    /// DjangoModelPermissions, a store failure).
    pub fn has_permission(&self, cx: &PermissionContext<'_>) -> Result<bool, ApiError> {
        match self {
            Permission::Class(class) => class_has_permission(*class, cx),
            Permission::Named { base, .. } => base.has_permission(cx),
            Permission::And(a, b) => Ok(a.has_permission(cx)? && b.has_permission(cx)?),
            Permission::Or(a, b) => Ok(a.has_permission(cx)? || b.has_permission(cx)?),
            Permission::Not(a) => Ok(!a.has_permission(cx)?),
        }
    }

    /// The refusal for an authenticated (or auth-less) request: the class's own message if
    /// it is a plain class with one, else DRF's default.
    pub fn denial(&self) -> ApiError {
        match self {
            Permission::Named {
                message: Some(body),
                ..
            } => ApiError::PermissionDenied(body.clone()),
            _ => ApiError::permission_denied(),
        }
    }

    /// Every built-in class the expression uses.
    pub fn classes(&self) -> Vec<PermissionClass> {
        let mut out = Vec::new();
        self.collect_classes(&mut out);
        out
    }

    fn collect_classes(&self, out: &mut Vec<PermissionClass>) {
        match self {
            Permission::Class(c) => out.push(*c),
            Permission::Named { base, .. } => base.collect_classes(out),
            Permission::And(a, b) | Permission::Or(a, b) => {
                a.collect_classes(out);
                b.collect_classes(out);
            }
            Permission::Not(a) => a.collect_classes(out),
        }
    }
}

fn class_has_permission(
    class: PermissionClass,
    cx: &PermissionContext<'_>,
) -> Result<bool, ApiError> {
    let identity = cx.identity;
    Ok(match class {
        PermissionClass::AllowAny => true,
        PermissionClass::IsAuthenticated => identity.is_some(),
        // DRF consults is_staff only: a superuser who is not staff is refused.
        PermissionClass::IsAdminUser => identity.is_some_and(|i| i.user.is_staff),
        PermissionClass::IsAuthenticatedOrReadOnly => cx.method.is_safe() || identity.is_some(),
        PermissionClass::DjangoModelPermissions => model_permissions(cx, true)?,
        PermissionClass::DjangoModelPermissionsOrAnonReadOnly => model_permissions(cx, false)?,
    })
}

fn model_permissions(
    cx: &PermissionContext<'_>,
    authenticated_users_only: bool,
) -> Result<bool, ApiError> {
    if cx.identity.is_none() && authenticated_users_only {
        return Ok(false);
    }
    let action = match cx.method.as_bytes() {
        b"GET" | b"HEAD" | b"OPTIONS" => None,
        b"POST" => Some("add"),
        b"PUT" | b"PATCH" => Some("change"),
        b"DELETE" => Some("delete"),
        _ => return Err(ApiError::MethodNotAllowed(cx.method.to_text().into())),
    };
    let Some(action) = action else {
        return Ok(true);
    };
    let Some(model) = cx.model else {
        // Refused at config load; fail closed should it ever happen.
        return Err(ApiError::ServerError);
    };
    let Some(identity) = cx.identity else {
        // AnonymousUser has no permissions.
        return Ok(false);
    };
    let user = &identity.user;
    if !user.is_active {
        return Ok(false);
    }
    // simplejwt's TokenUser: `has_perms` is always false, superuser claim or not.
    if identity.scheme == crate::decision::Scheme::JwtStateless {
        return Ok(false);
    }
    if user.is_superuser {
        return Ok(true);
    }
    let granted = (cx.user_permissions)(identity)?;
    Ok(granted.contains(&model.permission(action)))
}

/// A syntax error in a permission expression, with the byte offset where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

/// How deep parentheses and `~` may nest in one expression.
pub const MAX_EXPRESSION_NESTING: usize = 16;
/// How many class names one expression may combine.
pub const MAX_EXPRESSION_NAMES: usize = 64;

/// Parses `A | B & ~(C | D)` over class names; `resolve` turns a name into its permission.
///
/// Nesting and size are bounded ([`MAX_EXPRESSION_NESTING`], [`MAX_EXPRESSION_NAMES`]): the
/// parser, the evaluation and the drop of the tree all recurse, and a config must not be able
/// to exhaust a server thread's stack.
pub fn parse_expression(
    text: &str,
    resolve: &mut dyn FnMut(&str, usize) -> Result<Permission, ExprError>,
) -> Result<Permission, ExprError> {
    let tokens = tokenize(text)?;
    let names = tokens
        .iter()
        .filter(|(t, _)| matches!(t, Token::Name(_)))
        .count();
    if names > MAX_EXPRESSION_NAMES {
        return Err(ExprError {
            offset: 0,
            message: format!(
                "{names} class names in one expression; at most {MAX_EXPRESSION_NAMES} \
                 (define a permission class for a part of it)"
            ),
        });
    }
    let mut parser = Parser {
        tokens: &tokens,
        pos: 0,
        end: text.len(),
        depth: 0,
        resolve,
    };
    let expr = parser.or()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(expr),
        Some((tok, at)) => Err(ExprError {
            offset: *at,
            message: format!("unexpected {}", tok.describe()),
        }),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token<'a> {
    Name(&'a str),
    And,
    Or,
    Not,
    Open,
    Close,
}

impl Token<'_> {
    fn describe(&self) -> String {
        match self {
            Token::Name(n) => format!("name {n:?}"),
            Token::And => "`&`".into(),
            Token::Or => "`|`".into(),
            Token::Not => "`~`".into(),
            Token::Open => "`(`".into(),
            Token::Close => "`)`".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(Token<'_>, usize)>, ExprError> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let single = match c {
            b'&' => Some(Token::And),
            b'|' => Some(Token::Or),
            b'~' => Some(Token::Not),
            b'(' => Some(Token::Open),
            b')' => Some(Token::Close),
            _ => None,
        };
        if let Some(tok) = single {
            out.push((tok, i));
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
            {
                i += 1;
            }
            out.push((Token::Name(&text[start..i]), start));
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(ExprError {
                offset: i,
                message: format!(
                    "unexpected character {ch:?}; expressions use names, &, |, ~ and parentheses"
                ),
            });
        }
    }
    Ok(out)
}

struct Parser<'t, 'r> {
    tokens: &'t [(Token<'t>, usize)],
    pos: usize,
    end: usize,
    /// Parentheses and `~` entered and not yet left.
    depth: usize,
    resolve: &'r mut dyn FnMut(&str, usize) -> Result<Permission, ExprError>,
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<&Token<'_>> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn or(&mut self) -> Result<Permission, ExprError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            left = Permission::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Permission, ExprError> {
        let mut left = self.not()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            left = Permission::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    /// Enters one more level of `(` or `~`, refusing past [`MAX_EXPRESSION_NESTING`].
    fn nested<T>(
        &mut self,
        parse: impl FnOnce(&mut Self) -> Result<T, ExprError>,
    ) -> Result<T, ExprError> {
        if self.depth >= MAX_EXPRESSION_NESTING {
            let offset = self.tokens.get(self.pos).map_or(self.end, |(_, at)| *at);
            return Err(ExprError {
                offset,
                message: format!(
                    "parentheses and `~` nest more than {MAX_EXPRESSION_NESTING} deep"
                ),
            });
        }
        self.depth += 1;
        let parsed = parse(self);
        self.depth -= 1;
        parsed
    }

    fn not(&mut self) -> Result<Permission, ExprError> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            return self.nested(|p| Ok(Permission::Not(Box::new(p.not()?))));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Permission, ExprError> {
        match self.tokens.get(self.pos).cloned() {
            Some((Token::Name(name), at)) => {
                self.pos += 1;
                (self.resolve)(name, at)
            }
            Some((Token::Open, at)) => {
                self.pos += 1;
                let inner = self.nested(|p| p.or())?;
                if self.peek() != Some(&Token::Close) {
                    return Err(ExprError {
                        offset: at,
                        message: "`(` is never closed".into(),
                    });
                }
                self.pos += 1;
                Ok(inner)
            }
            Some((tok, at)) => Err(ExprError {
                offset: at,
                message: format!("expected a class name, found {}", tok.describe()),
            }),
            None => Err(ExprError {
                offset: self.end,
                message: "expected a class name, found the end".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin(name: &str, at: usize) -> Result<Permission, ExprError> {
        PermissionClass::ALL
            .into_iter()
            .find(|c| c.short_name() == name)
            .map(Permission::Class)
            .ok_or(ExprError {
                offset: at,
                message: format!("unknown {name}"),
            })
    }

    fn parse(text: &str) -> Result<Permission, ExprError> {
        parse_expression(text, &mut builtin)
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let e = parse("~AllowAny & IsAuthenticated | IsAdminUser").unwrap();
        assert_eq!(
            e.to_string(),
            "((~AllowAny & IsAuthenticated) | IsAdminUser)"
        );
        let e = parse("IsAdminUser | IsAuthenticated & ~(AllowAny | IsAdminUser)").unwrap();
        assert_eq!(
            e.to_string(),
            "(IsAdminUser | (IsAuthenticated & ~(AllowAny | IsAdminUser)))"
        );
        let e = parse("~~AllowAny").unwrap();
        assert_eq!(e.to_string(), "~~AllowAny");
    }

    #[test]
    fn syntax_errors_say_where() {
        assert_eq!(parse("IsAdminUser |").unwrap_err().offset, 13);
        assert_eq!(
            parse("(AllowAny").unwrap_err().message,
            "`(` is never closed"
        );
        assert_eq!(parse("AllowAny AllowAny").unwrap_err().offset, 9);
        assert_eq!(parse("Nope").unwrap_err().message, "unknown Nope");
        assert!(parse("AllowAny + X").unwrap_err().message.contains("'+'"));
        assert!(parse("").is_err());
    }

    #[test]
    fn model_labels() {
        let m = ModelLabel::parse("shop.Order").unwrap();
        assert_eq!(m.permission("add"), "shop.add_order");
        assert!(ModelLabel::parse("order").is_err());
        assert!(ModelLabel::parse("a.b.c").is_err());
    }
}
