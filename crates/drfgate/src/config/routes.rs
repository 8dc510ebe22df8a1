//! The `[[routes]]` entries: each one's Django pattern (`path` or `regex`), methods, classes
//! and model, compiled.

use toml::Spanned;

use super::auth_classes::{AuthClass, AuthRegistry};
use super::permission_classes::{needs_model, PermissionRegistry};
use super::raw::{Loader, RawRoute};
use super::renderer_classes::RendererRegistry;
use super::{ConfigError, ParserClass};
use crate::permissions::{ModelLabel, Permission};
use crate::routes::RoutePattern;
use crate::throttle::ViewThrottle;

use super::throttles::{ThrottleClass, ThrottleRegistry};

/// One `[[routes]]` entry, compiled.
pub struct Route {
    pub pattern: RoutePattern,
    pub name: Option<String>,
    pub methods: Option<Vec<String>>,
    pub authentication: Option<Vec<AuthClass>>,
    pub permissions: Option<Vec<Permission>>,
    pub model: Option<ModelLabel>,
    /// The view's throttles, resolved (its own `throttle_classes` or the defaults, with its
    /// `throttle_scope`).
    pub throttles: Vec<ViewThrottle>,
    /// The view's `renderer_classes`; `None`: `DEFAULT_RENDERER_CLASSES`.
    pub renderers: Option<Vec<std::sync::Arc<crate::negotiation::Renderer>>>,
    /// The view's `parser_classes` (what its CSRF check parses a POST body with); `None`:
    /// `DEFAULT_PARSER_CLASSES`.
    pub parsers: Option<Vec<ParserClass>>,
    /// `pass = true`: matched requests go to the application unjudged, as `[gate] unmatched =
    /// "pass"` does for paths no route matches.
    pub pass: bool,
    pub line: Option<usize>,
}

/// The class registries a route's names resolve against, and the defaults it inherits.
pub(super) struct ClassRegistries<'a> {
    pub(super) auth: &'a AuthRegistry<'a>,
    pub(super) perms: &'a PermissionRegistry<'a>,
    pub(super) throttles: &'a ThrottleRegistry<'a>,
    pub(super) default_throttles: &'a [ThrottleClass],
    pub(super) renderers: &'a RendererRegistry,
}

impl Loader<'_> {
    pub(super) fn route(
        &self,
        index: usize,
        raw: &Spanned<RawRoute>,
        classes: &ClassRegistries<'_>,
    ) -> Result<Route, ConfigError> {
        let ClassRegistries {
            auth,
            perms,
            throttles,
            default_throttles,
            renderers,
        } = *classes;
        let key = |k: &str| format!("routes[{index}].{k}");
        let route = raw.get_ref();
        let pattern = match (&route.path, &route.regex) {
            (Some(path), None) => RoutePattern::django_path(path.get_ref())
                .map_err(|e| self.at(path, key("path"), e.to_string()))?,
            (None, Some(regex)) => RoutePattern::django_regex(regex.get_ref())
                .map_err(|e| self.at(regex, key("regex"), e.to_string()))?,
            (Some(_), Some(regex)) => {
                return Err(self.at(
                    regex,
                    key("regex"),
                    "a route has either path or regex, not both",
                ))
            }
            (None, None) => {
                return Err(self.at(
                    raw,
                    format!("routes[{index}]"),
                    "a route needs path = \"…\" or regex = \"…\"",
                ))
            }
        };
        let pass = route.r#pass.as_ref().is_some_and(|p| *p.get_ref());
        if pass {
            // A pass route is not judged: classes, methods or a model on it would say otherwise.
            let judged = [
                ("methods", route.methods.as_ref().map(|_| ())),
                (
                    "authentication_classes",
                    route.authentication_classes.as_ref().map(|_| ()),
                ),
                (
                    "permission_classes",
                    route.permission_classes.as_ref().map(|_| ()),
                ),
                ("model", route.model.as_ref().map(|_| ())),
                (
                    "throttle_classes",
                    route.throttle_classes.as_ref().map(|_| ()),
                ),
                ("throttle_scope", route.throttle_scope.as_ref().map(|_| ())),
                (
                    "renderer_classes",
                    route.renderer_classes.as_ref().map(|_| ()),
                ),
                ("parser_classes", route.parser_classes.as_ref().map(|_| ())),
            ];
            if let Some((name, _)) = judged.iter().find(|(_, set)| set.is_some()) {
                return Err(self.at(
                    raw,
                    key(name),
                    "a route with pass = true is not judged by the gate: remove this key",
                ));
            }
        }
        let methods = match &route.methods {
            None => None,
            Some(list) => {
                let mut methods = Vec::new();
                for (i, m) in list.iter().enumerate() {
                    let name = m.get_ref();
                    if name.is_empty()
                        || !name
                            .bytes()
                            .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')
                    {
                        return Err(self.at(
                            m,
                            format!("routes[{index}].methods[{i}]"),
                            format!("{name:?} is not an HTTP method name"),
                        ));
                    }
                    methods.push(name.to_ascii_uppercase());
                }
                Some(methods)
            }
        };
        let authentication = route
            .authentication_classes
            .as_ref()
            .map(|list| auth.resolve_list(list, &key("authentication_classes")))
            .transpose()?;
        let permissions = route
            .permission_classes
            .as_ref()
            .map(|list| perms.resolve_list(list, &key("permission_classes")))
            .transpose()?;
        let model = route
            .model
            .as_ref()
            .map(|m| ModelLabel::parse(m.get_ref()).map_err(|e| self.at(m, key("model"), e)))
            .transpose()?;
        let line = Some(self.line_of(raw.span().start));
        let throttles = if pass {
            Vec::new()
        } else {
            let own = route
                .throttle_classes
                .as_ref()
                .map(|list| throttles.resolve_list(list, &key("throttle_classes")))
                .transpose()?;
            let scope_line = route
                .throttle_scope
                .as_ref()
                .map(|s| self.line_of(s.span().start))
                .or(line);
            throttles.view_throttles(
                own.as_deref().unwrap_or(default_throttles),
                route.throttle_scope.as_ref().map(|s| s.get_ref().as_str()),
                scope_line,
                &key("throttle_classes"),
            )?
        };
        let renderers = route
            .renderer_classes
            .as_ref()
            .map(|list| renderers.resolve_list(self, list, &key("renderer_classes")))
            .transpose()?;
        let parsers = route
            .parser_classes
            .as_ref()
            .map(|list| self.parser_classes(Some(list.clone())));
        Ok(Route {
            renderers,
            parsers,
            pattern,
            name: route.name.clone(),
            methods,
            authentication,
            permissions,
            model,
            throttles,
            pass,
            line,
        })
    }

    /// Refuses a route whose permissions (its own, or the defaults it falls back on) include
    /// `DjangoModelPermissions` when it names no model: only a route can give one.
    pub(super) fn check_models(
        &self,
        routes: &[Route],
        default_permissions: &[Permission],
    ) -> Result<(), ConfigError> {
        for (i, route) in routes.iter().enumerate().filter(|(_, r)| !r.pass) {
            let permissions = route.permissions.as_deref().unwrap_or(default_permissions);
            if needs_model(permissions) && route.model.is_none() {
                return Err(ConfigError {
                    origin: self.origin.to_string(),
                    line: route.line,
                    key: format!("routes[{i}].model"),
                    message: "DjangoModelPermissions needs the view's model: add model = \"app_label.model\"".into(),
                });
            }
        }
        Ok(())
    }
}
