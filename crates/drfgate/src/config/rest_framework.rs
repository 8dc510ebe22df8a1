//! The `[rest_framework]` section: `DEFAULT_AUTHENTICATION_CLASSES`,
//! `DEFAULT_PERMISSION_CLASSES`, `DEFAULT_RENDERER_CLASSES` and `URL_FORMAT_OVERRIDE` (DRF's
//! own defaults when absent); the settings drfgate does not
//! act on load with a warning, any other key is refused.

use std::collections::BTreeMap;

use super::auth_classes::{AuthClass, AuthRegistry};
use super::permission_classes::PermissionRegistry;
use super::raw::{Loader, RawRestFramework};
use super::renderer_classes::RendererRegistry;
use super::suggest::suggestion;
use super::ConfigError;
use crate::permissions::{Permission, PermissionClass};

/// REST_FRAMEWORK settings a user may copy over that drfgate does not act on.
const IGNORED_DRF_SETTINGS: &[&str] = &[
    "DEFAULT_CONTENT_NEGOTIATION_CLASS",
    "DEFAULT_METADATA_CLASS",
    "DEFAULT_VERSIONING_CLASS",
    "DEFAULT_PAGINATION_CLASS",
    "DEFAULT_FILTER_BACKENDS",
    "DEFAULT_SCHEMA_CLASS",
    "PAGE_SIZE",
    "SEARCH_PARAM",
    "ORDERING_PARAM",
    "DEFAULT_VERSION",
    "ALLOWED_VERSIONS",
    "VERSION_PARAM",
    "UNAUTHENTICATED_USER",
    "UNAUTHENTICATED_TOKEN",
    "VIEW_NAME_FUNCTION",
    "VIEW_DESCRIPTION_FUNCTION",
    "EXCEPTION_HANDLER",
    "NON_FIELD_ERRORS_KEY",
    "TEST_REQUEST_RENDERER_CLASSES",
    "TEST_REQUEST_DEFAULT_FORMAT",
    "FORMAT_SUFFIX_KWARG",
    "URL_FIELD_NAME",
    "DATE_FORMAT",
    "DATE_INPUT_FORMATS",
    "DATETIME_FORMAT",
    "DATETIME_INPUT_FORMATS",
    "TIME_FORMAT",
    "TIME_INPUT_FORMATS",
    "UNICODE_JSON",
    "COMPACT_JSON",
    "STRICT_JSON",
    "COERCE_DECIMAL_TO_STRING",
    "UPLOADED_FILES_USE_URL",
    "HTML_SELECT_CUTOFF",
    "HTML_SELECT_CUTOFF_TEXT",
    "SCHEMA_COERCE_PATH_PK",
    "SCHEMA_COERCE_METHOD_NAMES",
];

impl Loader<'_> {
    /// The default classes, and a warning for each ignored setting.
    pub(super) fn rest_framework(
        &self,
        raw: Option<RawRestFramework>,
        auth_classes: &AuthRegistry,
        permission_classes: &PermissionRegistry,
        renderer_classes: &RendererRegistry,
        warnings: &mut Vec<String>,
    ) -> Result<RestFrameworkSettings, ConfigError> {
        let (default_auth_raw, default_perm_raw, renderers_raw, format_override, other) = match raw
        {
            Some(rf) => (
                rf.DEFAULT_AUTHENTICATION_CLASSES,
                rf.DEFAULT_PERMISSION_CLASSES,
                rf.DEFAULT_RENDERER_CLASSES,
                rf.URL_FORMAT_OVERRIDE,
                rf.other,
            ),
            None => (None, None, None, None, BTreeMap::new()),
        };
        // The throttle settings are taken out by `Loader::load` before this runs.
        for name in other.keys() {
            // Flattened keys carry no span: find the key's own line.
            let line = self.key_line(name);
            if IGNORED_DRF_SETTINGS.contains(&name.as_str()) {
                warnings.push(format!(
                    "{}{}: rest_framework.{name} is not used by drfgate and is ignored",
                    self.origin,
                    line.map(|l| format!(":{l}")).unwrap_or_default()
                ));
            } else {
                let mut known: Vec<&str> = IGNORED_DRF_SETTINGS.to_vec();
                known.extend([
                    "DEFAULT_AUTHENTICATION_CLASSES",
                    "DEFAULT_PERMISSION_CLASSES",
                    "DEFAULT_THROTTLE_CLASSES",
                    "DEFAULT_THROTTLE_RATES",
                    "NUM_PROXIES",
                    "DEFAULT_RENDERER_CLASSES",
                    "URL_FORMAT_OVERRIDE",
                    "DEFAULT_PARSER_CLASSES",
                ]);
                return Err(ConfigError {
                    origin: self.origin.to_string(),
                    line,
                    key: format!("rest_framework.{name}"),
                    message: format!("unknown REST_FRAMEWORK setting{}", suggestion(name, &known)),
                });
            }
        }

        let default_authentication = match default_auth_raw {
            Some(list) => {
                auth_classes.resolve_list(&list, "rest_framework.DEFAULT_AUTHENTICATION_CLASSES")?
            }
            // DRF's defaults.
            None => vec![
                auth_classes.builtin("SessionAuthentication"),
                auth_classes.builtin("BasicAuthentication"),
            ],
        };
        let default_permissions = match default_perm_raw {
            Some(list) => permission_classes
                .resolve_list(&list, "rest_framework.DEFAULT_PERMISSION_CLASSES")?,
            None => vec![Permission::Class(PermissionClass::AllowAny)],
        };
        let default_renderers = match renderers_raw {
            Some(list) => renderer_classes.resolve_list(
                self,
                &list,
                "rest_framework.DEFAULT_RENDERER_CLASSES",
            )?,
            None => RendererRegistry::drf_default(),
        };
        let url_format_override = match format_override {
            None => Some("format".to_string()),
            Some(value) => match value.get_ref() {
                toml::Value::String(name) => Some(name.clone()),
                toml::Value::Boolean(false) => None,
                _ => {
                    return Err(self.at(
                        &value,
                        "rest_framework.URL_FORMAT_OVERRIDE",
                        "must be a query parameter name, or false for None",
                    ))
                }
            },
        };
        Ok(RestFrameworkSettings {
            default_authentication,
            default_permissions,
            default_renderers,
            url_format_override,
        })
    }
}

/// The `[rest_framework]` settings the gate acts on.
pub(super) struct RestFrameworkSettings {
    pub(super) default_authentication: Vec<AuthClass>,
    pub(super) default_permissions: Vec<Permission>,
    pub(super) default_renderers: Vec<std::sync::Arc<crate::negotiation::Renderer>>,
    pub(super) url_format_override: Option<String>,
}
