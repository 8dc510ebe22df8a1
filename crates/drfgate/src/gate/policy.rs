//! A view's policy, built once from its configured classes: the authenticators, the challenge
//! that decides 401 against 403, the permissions, the model and the implemented methods (with
//! DRF's `Allow` header).

use std::sync::Arc;

use crate::auth::{
    Authenticator, BasicAuthentication, JwtAuthentication, JwtShared, KnoxAuthentication,
    KnoxShared, RemoteUserAuthentication, SessionAuthentication, TokenAuthentication,
};
use crate::config::{AuthClass, AuthKind, ParserClass};
use crate::permissions::{ModelLabel, Permission};
use crate::routes::RoutePattern;
use crate::throttle::ViewThrottle;

/// One view's policy: its authenticators, permissions and implemented methods.
pub struct Policy {
    pub(crate) authenticators: Vec<Arc<dyn Authenticator>>,
    /// The first class's `authenticate_header()`; decides 401 vs 403.
    pub(super) challenge: Option<Arc<str>>,
    pub(crate) permissions: Vec<Permission>,
    pub(crate) model: Option<ModelLabel>,
    /// `None`: the view answers every method. Otherwise DRF's implemented methods,
    /// with OPTIONS always and HEAD when GET is there.
    pub(super) methods: Option<Vec<Box<[u8]>>>,
    pub(super) allow: Option<Arc<str>>,
    /// The view's throttles, checked after the permissions.
    pub(crate) throttles: Vec<ViewThrottle>,
    /// The view's renderer classes, for content negotiation.
    pub(crate) renderers: Vec<Arc<crate::negotiation::Renderer>>,
    /// Negotiation's answer for `Accept: application/json` without a format, worked out once.
    pub(crate) accept_json: crate::negotiation::Negotiated,
    /// Its answer without `Accept` (or with `*/*`) and without a format, worked out once.
    pub(crate) accept_any: crate::negotiation::Negotiated,
    /// The view's parser classes, which its CSRF check parses a POST body with.
    pub(super) parsers: Arc<[ParserClass]>,
    /// Whether SessionAuthentication is among the authenticators (its CSRF check may read
    /// the body).
    pub(super) uses_session: bool,
    /// Whether a class reads `Authorization` (Token, Basic, knox): the header is then looked
    /// up once for all of them.
    pub(super) reads_authorization: bool,
}

impl Policy {
    /// The view's throttles, in order.
    pub fn throttles(&self) -> &[ViewThrottle] {
        &self.throttles
    }

    /// The configured authentication classes, in order.
    pub fn authentication_classes(&self) -> impl Iterator<Item = &str> {
        self.authenticators.iter().map(|a| &**a.name())
    }

    /// The permission checks, in order (each may be an `& | ~` expression).
    pub fn permissions(&self) -> &[Permission] {
        &self.permissions
    }

    /// The view's model, for `DjangoModelPermissions`.
    pub fn model(&self) -> Option<&ModelLabel> {
        self.model.as_ref()
    }

    pub fn challenge(&self) -> Option<&str> {
        self.challenge.as_deref()
    }

    /// The `Allow` header DRF would send, when the route lists its methods.
    pub fn allow(&self) -> Option<&str> {
        self.allow.as_deref()
    }

    /// The renderer classes negotiation chooses from, in order.
    pub fn renderer_classes(&self) -> impl Iterator<Item = &str> {
        self.renderers.iter().map(|r| &*r.name)
    }

    /// The parser classes a session POST's body is parsed with, in order.
    pub fn parser_classes(&self) -> &[ParserClass] {
        &self.parsers
    }
}

/// A compiled route and its policy.
pub struct GateRoute {
    pub pattern: RoutePattern,
    pub name: Option<String>,
    pub(super) label: Arc<str>,
    pub line: Option<usize>,
    pub policy: Policy,
    /// `pass = true` in the config: matched requests are passed on unjudged.
    pub pass: bool,
}

impl GateRoute {
    /// How the route is named to the application and in logs: its `name`, else its
    /// pattern as written in the config.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// [`GateRoute::label`], shared: for answers that outlive a borrow of the gate.
    pub fn shared_label(&self) -> Arc<str> {
        self.label.clone()
    }
}

/// DRF's `Allow` order: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, then anything else.
const ALLOW_ORDER: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

fn implemented_methods(listed: &[String]) -> Vec<String> {
    let mut set: Vec<String> = listed.to_vec();
    if set.iter().any(|m| m == "GET") && !set.iter().any(|m| m == "HEAD") {
        set.push("HEAD".into());
    }
    if !set.iter().any(|m| m == "OPTIONS") {
        set.push("OPTIONS".into());
    }
    let rank = |m: &String| {
        ALLOW_ORDER
            .iter()
            .position(|o| o == m)
            .unwrap_or(ALLOW_ORDER.len())
    };
    set.sort_by_key(rank);
    set.dedup();
    set
}

/// State the authenticators of one gate share, whatever view they are on: the JWT and knox
/// settings with their caches.
pub(crate) struct SharedAuth {
    /// `None` when the config has no JWT key (then no view uses a JWT class: refused at load).
    pub(crate) jwt: Option<Arc<JwtShared>>,
    pub(crate) knox: Arc<KnoxShared>,
}

fn build_authenticator(
    class: &AuthClass,
    shared: &SharedAuth,
    parsers: &Arc<[ParserClass]>,
) -> Arc<dyn Authenticator> {
    match &class.kind {
        AuthKind::Jwt { stateless } => match &shared.jwt {
            Some(jwt) => Arc::new(JwtAuthentication::new(
                class.name.clone(),
                *stateless,
                jwt.clone(),
            )),
            // Unreachable: the config refuses a JWT class without a key.
            None => Arc::new(SessionAuthentication::new(
                class.name.clone(),
                parsers.clone(),
            )),
        },
        AuthKind::Knox => Arc::new(KnoxAuthentication::new(
            class.name.clone(),
            shared.knox.clone(),
        )),
        AuthKind::Token { keyword } => {
            Arc::new(TokenAuthentication::new(class.name.clone(), keyword))
        }
        AuthKind::Basic { realm } => Arc::new(BasicAuthentication::new(class.name.clone(), realm)),
        AuthKind::Session => Arc::new(SessionAuthentication::new(
            class.name.clone(),
            parsers.clone(),
        )),
        AuthKind::RemoteUser { source } => Arc::new(RemoteUserAuthentication::new(
            class.name.clone(),
            source.clone(),
        )),
    }
}

/// The media types a view speaks: what it renders answers with and parses bodies with.
pub(super) struct ViewMedia {
    pub(super) renderers: Vec<Arc<crate::negotiation::Renderer>>,
    pub(super) parsers: Arc<[ParserClass]>,
}

pub(super) fn build_policy(
    shared: &SharedAuth,
    classes: &[AuthClass],
    permissions: Vec<Permission>,
    model: Option<ModelLabel>,
    methods: Option<&[String]>,
    throttles: Vec<ViewThrottle>,
    media: ViewMedia,
) -> Policy {
    let ViewMedia { renderers, parsers } = media;
    let authenticators: Vec<Arc<dyn Authenticator>> = classes
        .iter()
        .map(|c| build_authenticator(c, shared, &parsers))
        .collect();
    let challenge = authenticators
        .first()
        .and_then(|a| a.authenticate_header().cloned());
    let uses_session = classes.iter().any(|c| c.kind == AuthKind::Session);
    let reads_authorization = classes.iter().any(|c| {
        matches!(
            c.kind,
            AuthKind::Token { .. } | AuthKind::Basic { .. } | AuthKind::Knox
        )
    });
    let methods = methods.map(implemented_methods);
    let allow = methods.as_ref().map(|m| Arc::from(m.join(", ")));
    let accept_json = crate::negotiation::Negotiation::select_json(&renderers);
    let accept_any = crate::negotiation::Negotiation::select_any(&renderers);
    Policy {
        accept_json,
        accept_any,
        authenticators,
        challenge,
        permissions,
        model,
        methods: methods.map(|m| {
            m.into_iter()
                .map(|s| s.into_bytes().into_boxed_slice())
                .collect()
        }),
        allow,
        throttles,
        renderers,
        parsers,
        uses_session,
        reads_authorization,
    }
}
