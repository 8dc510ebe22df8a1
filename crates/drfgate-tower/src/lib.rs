//! A [tower] `Layer` that puts Django REST Framework's authentication and permission checks
//! in front of any `http` service, with DRF's exact answers.
//!
//! [`DrfGateLayer`] wraps a service in [`DrfGate`]. For every request the gate decides as
//! DRF's `APIView.initial` would (route, authenticators, permissions, method):
//!
//! - **allowed**: the request goes to the inner service with the user in its extensions
//!   (a [`drfgate::Identity`]: pk, username, flags, scheme); an anonymous request that
//!   DRF lets through carries no `Identity`. With `[handoff]` in the config it also carries
//!   a signed [`Handoff`] for an application behind a proxy (python/drfgate-django's
//!   `GateAuthentication`: examples/path_proxy.rs sends it on as `drfgate serve`'s
//!   `X-Drfgate-*` headers). Any `X-Drfgate-*` header the client sent is removed;
//! - **denied**: the inner service is not called; the answer is DRF's status, its JSON body
//!   (`Content-Type: application/json`), `WWW-Authenticate` on a 401, and `Allow` when
//!   the route lists its methods.
//!
//! Route policy comes from a drfgate config file ([`DrfGateLayer::from_config_file`]), the
//! same file `drfgate check` and `drfgate serve` read, or from a [`Gate`] built in code.
//!
//! # Never blocking the executor
//!
//! Looking a token up in Django's SQLite database, or checking a password with a slow
//! hasher, blocks. The service first asks [`Gate::decide_cached`], which answers from the
//! caches or from the request alone (no credentials, a malformed header, a token or a
//! password verified within the cache TTL) — the common case, answered inline. Only when
//! that cannot answer is [`Gate::decide`] run on tokio's blocking pool
//! ([`tokio::task::spawn_blocking`]), with the request head moved there and back (no copy);
//! the body stays where it is. Outside a tokio runtime the decision is made inline.
//!
//! The blocking pool queues without bound: a locked database (each lookup waits out the
//! SQLite busy timeout) or a burst of password checks would let requests pile up.
//! [`DrfGateLayer::max_blocking_decisions`] caps the decisions on the pool at once and
//! answers `503` with `Retry-After: 1` beyond the cap (`drfgate serve` sets it from
//! `[serve] max_blocking_decisions`); a layer built without it keeps no cap.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//!
//! use bytes::Bytes;
//! use drfgate::{Gate, Identity};
//! use drfgate_tower::DrfGateLayer;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! # use std::collections::HashSet;
//! # use drfgate::store::{Store, StoreError, StoreSummary, UserWithPassword};
//! # use drfgate::{User, UserPk};
//! # /// One user with one token, in place of Django's database.
//! # struct OneToken;
//! # impl Store for OneToken {
//! #     fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError> {
//! #         Ok((key == "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b").then(|| User {
//! #             pk: UserPk::Int(1), username: "alice".into(),
//! #             is_active: true, is_staff: false, is_superuser: false,
//! #         }))
//! #     }
//! #     fn user_by_username(&self, _: &str) -> Result<Option<UserWithPassword>, StoreError> { Ok(None) }
//! #     fn user_permissions(&self, _: &UserPk) -> Result<HashSet<String>, StoreError> { Ok(HashSet::new()) }
//! #     fn summary(&self) -> Result<StoreSummary, StoreError> {
//! #         Ok(StoreSummary { backend: "memory", location: "doc".into(), users: 1, tokens: Some(1) })
//! #     }
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // The guide's OrderViewSet: TokenAuthentication, IsAuthenticated.
//! let config = drfgate::Config::from_str_with_origin(r#"
//!     [django]
//!     DATABASE = "sqlite:///srv/app/db.sqlite3"
//!     [[routes]]
//!     path = "api/orders/"
//!     methods = ["GET", "POST"]
//!     authentication_classes = ["TokenAuthentication"]
//!     permission_classes = ["IsAuthenticated"]
//! "#, "drfgate.toml", None).unwrap();
//! // In a real service: `DrfGateLayer::from_config_file(path)?`, over Django's database.
//! let gate = Arc::new(Gate::with_store(config, Box::new(OneToken)).unwrap());
//!
//! let orders = service_fn(|request: Request<Full<Bytes>>| async move {
//!     let user = request.extensions().get::<Identity>().map(|i| i.user.username.clone());
//!     let body = format!("orders of {}", user.as_deref().unwrap_or("nobody"));
//!     Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
//! });
//! let service = ServiceBuilder::new()
//!     .layer(DrfGateLayer::new(gate))
//!     .service(orders);
//!
//! // No credentials: DRF's 401, and the orders service is never called.
//! let request = Request::get("/api/orders/").body(Full::default()).unwrap();
//! let response = service.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], "Token");
//! assert_eq!(response.headers()["content-type"], "application/json");
//! assert_eq!(response.headers()["allow"], "GET, POST, HEAD, OPTIONS");
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, r#"{"detail":"Authentication credentials were not provided."}"#);
//!
//! // A valid token: the user is in the request's extensions.
//! let request = Request::get("/api/orders/")
//!     .header("Authorization", "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")
//!     .body(Full::default())
//!     .unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, "orders of alice");
//! # }
//! ```
//!
//! # Routes are Django's patterns, not the inner service's
//!
//! The gate never sees the inner service's routing. It judges a request by the config's
//! `[[routes]]`: Django `path()` and `re_path()` patterns, first match wins, matched against
//! the path as Django would resolve it (`request.path_info`: the raw path percent-decoded,
//! so `/api/%6Frders/` is `api/orders/` and `%2F` is a `/`). A router in front of which the
//! Layer sits (axum, say) matches its own routes, often on the raw path, with its own idea of
//! a path parameter; where the two disagree, the gate's answer is for the Django route, or
//! for no route, while the handler the router picks runs.
//!
//! A path no `[[routes]]` entry matches is decided by `[gate] unmatched`:
//!
//! - `"defaults"` (the default): DRF's `DEFAULT_AUTHENTICATION_CLASSES` and
//!   `DEFAULT_PERMISSION_CLASSES`, as for a Django view that sets none;
//! - `"pass"`: the inner service is called, with no [`drfgate::Identity`]; in front of
//!   Django, Django answers (usually 404), but in front of any other service that handler
//!   runs unjudged;
//! - `"deny"`: DRF's `404 {"detail":"Not found."}`, and the inner service is not called.
//!
//! In front of a service that is not Django, use `"deny"` and give every handler a
//! `[[routes]]` entry whose pattern accepts no more than the handler's route: a path only the
//! router knows is then refused instead of being judged by the defaults or let through. Put
//! the Layer around the finished router (axum's `Router::layer` wraps only the routes added
//! before it). `examples/orders.rs` does both.
//!
//! ```
//! # use std::collections::HashSet;
//! # use std::convert::Infallible;
//! # use std::sync::atomic::{AtomicUsize, Ordering};
//! # use std::sync::Arc;
//! # use bytes::Bytes;
//! # use drfgate::store::{Store, StoreError, StoreSummary, UserWithPassword};
//! # use drfgate::{Gate, User, UserPk};
//! # use drfgate_tower::DrfGateLayer;
//! # use http::{Request, Response, StatusCode};
//! # use http_body_util::{BodyExt, Full};
//! # use tower::{service_fn, Layer, ServiceExt};
//! # struct NoUsers;
//! # impl Store for NoUsers {
//! #     fn user_by_token(&self, _: &str) -> Result<Option<User>, StoreError> { Ok(None) }
//! #     fn user_by_username(&self, _: &str) -> Result<Option<UserWithPassword>, StoreError> { Ok(None) }
//! #     fn user_permissions(&self, _: &UserPk) -> Result<HashSet<String>, StoreError> { Ok(HashSet::new()) }
//! #     fn summary(&self) -> Result<StoreSummary, StoreError> {
//! #         Ok(StoreSummary { backend: "memory", location: "doc".into(), users: 0, tokens: Some(0) })
//! #     }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let config = drfgate::Config::from_str_with_origin(r#"
//!     [django]
//!     DATABASE = "sqlite:///srv/app/db.sqlite3"
//!     [rest_framework]
//!     DEFAULT_PERMISSION_CLASSES = ["AllowAny"]
//!     [gate]
//!     unmatched = "deny"
//!     [[routes]]
//!     path = "api/orders/"
//!     authentication_classes = ["TokenAuthentication"]
//!     permission_classes = ["IsAuthenticated"]
//! "#, "drfgate.toml", None).unwrap();
//! let gate = Arc::new(Gate::with_store(config, Box::new(NoUsers)).unwrap());
//!
//! // An inner service that answers every path, as a router with more routes than the config.
//! let calls = Arc::new(AtomicUsize::new(0));
//! let counted = calls.clone();
//! let inner = service_fn(move |_: Request<Full<Bytes>>| {
//!     counted.fetch_add(1, Ordering::SeqCst);
//!     async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("served")))) }
//! });
//! let service = DrfGateLayer::new(gate).layer(inner);
//! let get = |path: &str| Request::get(path).body(Full::default()).unwrap();
//!
//! // No `[[routes]]` entry: refused, although the inner service would answer it. With
//! // `unmatched = "defaults"` it would be judged by AllowAny and served.
//! let response = service.clone().oneshot(get("/api/orders/export/")).await.unwrap();
//! assert_eq!(response.status(), StatusCode::NOT_FOUND);
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, r#"{"detail":"Not found."}"#);
//!
//! // Percent-decoded as Django would: this is `api/orders/`, so IsAuthenticated applies.
//! let response = service.clone().oneshot(get("/api/%6Frders/")).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(calls.load(Ordering::SeqCst), 0);
//! # }
//! ```
//!
//! # Request bodies
//!
//! For a session-authenticated POST, DRF's CSRF check reads `request.POST`: it parses the
//! body, looks for the `csrfmiddlewaretoken` form field before the `X-CSRFToken` header, and
//! refuses a body it cannot parse. [`DrfGateLayer`] never reads bodies, and passes such a
//! request on without an identity ([`Passed`]) for the application's DRF to decide.
//! [`DrfGateLayer::reading_bodies`] reads the body of just those requests (bounded by
//! `DATA_UPLOAD_MAX_MEMORY_SIZE`) and hands the inner service the same bytes; the table of
//! what is answered and what deferred is in docs/sessions.md.
//!
//! # Server variables
//!
//! WSGI servers hand Django facts that are not in the HTTP request: whether the connection
//! is HTTPS, and `REMOTE_USER` (set by the web server after its own authentication). A
//! front end that knows them puts a [`ConnectionInfo`] in the request's extensions. An
//! absolute-form `https://` request target does not make a request secure: WSGI servers take
//! the scheme from the connection, not from what the client wrote.
//!
//! [tower]: https://docs.rs/tower

mod bodies;
mod request;
mod response;
mod service;

pub use bodies::{DrfGateBodies, DrfGateBodiesLayer};
pub use request::{ConnectionInfo, HttpHeaders};
pub use response::deny_response;
pub use service::{
    Answer, Deciding, DrfGate, DrfGateLayer, Judged, JudgedRoute, Passed, ResponseFuture,
};

pub use drfgate::handoff::Handoff;
pub use drfgate::{Decision, Deny, Gate, Identity};
