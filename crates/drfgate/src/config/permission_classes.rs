//! The permission classes: DRF's built-ins, the config's own `[permission_classes."…"]`
//! subclasses (a base expression and an optional message), and the expressions (`A | B & ~C`)
//! routes and defaults write with them.

use std::collections::BTreeMap;
use std::sync::Arc;

use toml::Spanned;

use super::names::{enter_subclass, ClassName, ClassNames, Classes, Subclass};
use super::raw::{Loader, RawPermissionClass};
use super::ConfigError;
use crate::decision::Body;
use crate::exceptions::render_message;
use crate::permissions::{parse_expression, ExprError, Permission, PermissionClass};

const PERMISSION_PREFIX: &str = "rest_framework.permissions.";

pub(super) struct PermissionRegistry<'l> {
    loader: &'l Loader<'l>,
    classes: Classes<PermissionClass, Permission>,
}

impl Subclass for RawPermissionClass {
    fn base(&self) -> &Spanned<String> {
        &self.base
    }
}

impl<'l> PermissionRegistry<'l> {
    pub(super) fn new(
        loader: &'l Loader<'l>,
        raw: &BTreeMap<Spanned<String>, RawPermissionClass>,
    ) -> Result<PermissionRegistry<'l>, ConfigError> {
        let mut registry = PermissionRegistry {
            loader,
            classes: Classes::new(ClassNames::new(
                "permission class",
                PERMISSION_PREFIX,
                PermissionClass::ALL
                    .iter()
                    .map(|&class| (class.short_name(), class))
                    .collect(),
                raw.keys().map(|k| k.get_ref().clone()).collect(),
            )),
        };
        for key in raw.keys() {
            let perm = registry.resolve_custom(raw, key.get_ref(), &mut Vec::new())?;
            registry.classes.add(key.get_ref().clone(), perm);
        }
        Ok(registry)
    }

    /// Resolves the subclass declared as `[permission_classes."<name>"]`, and the subclasses
    /// its base expression names.
    fn resolve_custom(
        &self,
        raw: &BTreeMap<Spanned<String>, RawPermissionClass>,
        name: &str,
        seen: &mut Vec<String>,
    ) -> Result<Permission, ConfigError> {
        let loader = self.loader;
        let (key_name, def, key) = enter_subclass(loader, raw, "permission_classes", name, seen)?;
        let base_text = def.base.get_ref();
        let base_span = def.base.span();
        let mut nested_error: Option<ConfigError> = None;
        let base = parse_expression(base_text, &mut |n, at| {
            let failed = |message| ExprError {
                offset: at,
                message,
            };
            match self.classes.names().resolve(n).map_err(failed)? {
                ClassName::Builtin(class) => Ok(Permission::Class(class)),
                ClassName::Custom(full) => {
                    if let Some(p) = self.classes.custom(full) {
                        return Ok(p);
                    }
                    self.resolve_custom(raw, full, seen).map_err(|e| {
                        let message = e.message.clone();
                        nested_error = Some(e);
                        failed(message)
                    })
                }
            }
        });
        let base = match base {
            Ok(b) => b,
            Err(e) => {
                if let Some(nested) = nested_error {
                    return Err(nested);
                }
                return Err(loader.error(
                    Some(base_span),
                    format!("{key}.base"),
                    describe_expr_error(base_text, &e),
                ));
            }
        };
        let message: Option<Body> = def.message.as_ref().map(|m| {
            let json = toml_to_json(m);
            Body::Shared(render_message(&json))
        });
        seen.pop();
        Ok(Permission::Named {
            name: Arc::from(key_name),
            base: Box::new(base),
            message,
        })
    }

    fn resolve_expression(&self, text: &str) -> Result<Permission, ExprError> {
        parse_expression(text, &mut |n, at| {
            let failed = |message| ExprError {
                offset: at,
                message,
            };
            match self.classes.names().resolve(n).map_err(failed)? {
                ClassName::Builtin(class) => Ok(Permission::Class(class)),
                ClassName::Custom(full) => self
                    .classes
                    .custom(full)
                    .ok_or_else(|| failed(format!("class {full:?} is not defined"))),
            }
        })
    }

    pub(super) fn resolve_list(
        &self,
        list: &[Spanned<String>],
        key: &str,
    ) -> Result<Vec<Permission>, ConfigError> {
        list.iter()
            .enumerate()
            .map(|(i, entry)| {
                self.resolve_expression(entry.get_ref()).map_err(|e| {
                    self.loader.at(
                        entry,
                        format!("{key}[{i}]"),
                        describe_expr_error(entry.get_ref(), &e),
                    )
                })
            })
            .collect()
    }
}

/// The position only helps inside an expression; for a lone class name it is noise.
fn describe_expr_error(text: &str, error: &ExprError) -> String {
    if text.contains(['&', '|', '~', '(', ')']) {
        error.to_string()
    } else {
        error.message.clone()
    }
}

/// Whether any of these permissions is a `DjangoModelPermissions`, which needs the view's model.
pub(super) fn needs_model(perms: &[Permission]) -> bool {
    perms
        .iter()
        .any(|p| p.classes().iter().any(|c| c.needs_model()))
}

fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}
