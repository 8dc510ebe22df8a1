//! The renderer classes content negotiation chooses from: DRF's built-ins, and the config's
//! own `[renderer_classes."…"]` (a renderer's `media_type` and `format`, and `base =
//! "JSONRenderer"` when it renders as DRF's JSON renderer does).

use std::collections::BTreeMap;
use std::sync::Arc;

use toml::Spanned;

use super::names::{ClassName, ClassNames};
use super::raw::{Loader, RawRendererClass};
use super::ConfigError;
use crate::negotiation::{builtin_renderer, Renderer};

const RENDERER_PREFIX: &str = "rest_framework.renderers.";

pub(super) struct RendererRegistry {
    names: ClassNames<&'static str>,
    custom: Vec<(String, Arc<Renderer>)>,
}

impl RendererRegistry {
    pub(super) fn new(
        loader: &Loader<'_>,
        raw: &BTreeMap<Spanned<String>, RawRendererClass>,
    ) -> Result<RendererRegistry, ConfigError> {
        let builtins: Vec<(&'static str, &'static str)> = crate::negotiation::BUILTIN_RENDERERS
            .iter()
            .map(|(short, _, _)| (*short, *short))
            .collect();
        let names = ClassNames::new(
            "renderer class",
            RENDERER_PREFIX,
            builtins.clone(),
            raw.keys().map(|k| k.get_ref().clone()).collect(),
        );
        let builtin_names =
            ClassNames::new("renderer class", RENDERER_PREFIX, builtins, Vec::new());
        let mut custom = Vec::new();
        for (name, class) in raw {
            let key = format!("renderer_classes.{:?}", name.get_ref());
            let renders_json = match &class.base {
                None => false,
                Some(base) => match builtin_names.resolve(base.get_ref()) {
                    Ok(ClassName::Builtin(short)) => short == "JSONRenderer",
                    Ok(ClassName::Custom(_)) => false,
                    Err(why) => return Err(loader.at(base, format!("{key}.base"), why)),
                },
            };
            let renderer = Renderer::new(
                name.get_ref(),
                class.media_type.get_ref(),
                class.format.get_ref(),
                renders_json,
            )
            .ok_or_else(|| {
                loader.at(
                    &class.media_type,
                    format!("{key}.media_type"),
                    "a parameter in RFC 2231 form (name*=…) is not supported",
                )
            })?;
            custom.push((name.get_ref().clone(), Arc::new(renderer)));
        }
        Ok(RendererRegistry { names, custom })
    }

    /// A list of renderer class names, each resolved; `key` names the list in errors.
    pub(super) fn resolve_list(
        &self,
        loader: &Loader<'_>,
        list: &[Spanned<String>],
        key: &str,
    ) -> Result<Vec<Arc<Renderer>>, ConfigError> {
        let mut renderers = Vec::with_capacity(list.len());
        for (i, name) in list.iter().enumerate() {
            let resolved = match self.names.resolve(name.get_ref()) {
                Ok(ClassName::Builtin(short)) => {
                    builtin_renderer(short, name.get_ref()).map(Arc::new)
                }
                Ok(ClassName::Custom(full)) => self
                    .custom
                    .iter()
                    .find(|(n, _)| n == full)
                    .map(|(_, r)| r.clone()),
                Err(why) => return Err(loader.at(name, format!("{key}[{i}]"), why)),
            };
            match resolved {
                Some(renderer) => renderers.push(renderer),
                None => {
                    return Err(loader.at(name, format!("{key}[{i}]"), "unknown renderer class"))
                }
            }
        }
        Ok(renderers)
    }

    /// DRF's default: `JSONRenderer`, `BrowsableAPIRenderer`.
    pub(super) fn drf_default() -> Vec<Arc<Renderer>> {
        ["JSONRenderer", "BrowsableAPIRenderer"]
            .iter()
            .filter_map(|short| {
                builtin_renderer(short, &format!("{RENDERER_PREFIX}{short}")).map(Arc::new)
            })
            .collect()
    }
}
