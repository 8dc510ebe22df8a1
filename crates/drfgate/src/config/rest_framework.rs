//! The `[rest_framework]` section: `DEFAULT_AUTHENTICATION_CLASSES` and
//! `DEFAULT_PERMISSION_CLASSES` (DRF's own defaults when absent); the settings drfgate does not
//! act on load with a warning, any other key is refused.

use std::collections::BTreeMap;

use super::auth_classes::{AuthClass, AuthRegistry};
use super::permission_classes::PermissionRegistry;
use super::raw::{Loader, RawRestFramework};
use super::suggest::suggestion;
use super::ConfigError;
use crate::permissions::{Permission, PermissionClass};

/// REST_FRAMEWORK settings a user may copy over that drfgate does not act on.
const IGNORED_DRF_SETTINGS: &[&str] = &[
    "DEFAULT_RENDERER_CLASSES",
    "DEFAULT_PARSER_CLASSES",
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
    "URL_FORMAT_OVERRIDE",
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
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<AuthClass>, Vec<Permission>), ConfigError> {
        let (default_auth_raw, default_perm_raw, other) = match raw {
            Some(rf) => (
                rf.DEFAULT_AUTHENTICATION_CLASSES,
                rf.DEFAULT_PERMISSION_CLASSES,
                rf.other,
            ),
            None => (None, None, BTreeMap::new()),
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
        Ok((default_authentication, default_permissions))
    }
}
