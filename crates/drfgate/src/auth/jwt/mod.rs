//! simplejwt's `JWTAuthentication` and `JWTStatelessUserAuthentication`, in simplejwt 5.5.1's
//! order (spec §8.3): the header (`AUTH_HEADER_TYPES`, case-sensitive; exactly two parts),
//! the token classes, then the user.
//!
//! Caching: a token whose signature verified is kept under a keyed hash of the token (its own
//! [`KeyDomain`]) for `ttl_seconds`, with what its claims' checks concluded apart from the
//! clock ([`VerifiedToken`]); the times are judged against the clock on every request, so a
//! cached token is never accepted past its `exp` (nor before its `iat`/`nbf`). The user a claim names is cached like a DRF
//! token's user (the negative space remembers unknown ids). The blacklist is never cached.
//!
//! One job per file: this file holds the header step and the order of the steps; `token_classes`
//! judges the token for each configured class; `user` makes the user; `body` renders
//! simplejwt's refusals.

mod body;
mod token_classes;
mod user;

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::{succeed, Authenticator, Context, Outcome};
use crate::cache::{CacheConfig, Cached, CredentialCache, KeyDomain};
use crate::config::SimpleJwtSettings;
use crate::decision::{AuthObject, Scheme, User};
use crate::exceptions::ApiError;
use crate::header::{exact_prefix_space_field, split_ascii_whitespace};
use crate::jwt::{
    verify_signature, ClaimChecks, DecodeError, SignedPayload, SystemWallClock, WallClock,
};
use crate::request::Request;
use crate::store::FieldLookup;
use crate::trace::{Stage, Tracer};

pub(crate) use user::JwtUser;

const TOKEN_KEYS: KeyDomain = KeyDomain::new("simplejwt-verified-token");
const USER_KEYS: KeyDomain = KeyDomain::new("simplejwt-user-id");

/// A token whose signature verified, as the cache keeps it: its claims, and what the claim
/// checks (PyJWT's, then each of `AUTH_TOKEN_CLASSES`'s) concluded without the clock, so
/// that a request only compares the times with `now` instead of looking each claim up again.
pub(crate) struct VerifiedToken {
    payload: SignedPayload,
    claims: ClaimChecks,
    /// One per `AUTH_TOKEN_CLASSES` entry, in order.
    classes: Vec<token_classes::ClassChecks>,
    /// The `USER_ID_CLAIM` claim and its JSON text, which keys the user cache (`5` and `"5"`
    /// apart).
    user_id: Option<(Value, Box<[u8]>)>,
}

impl VerifiedToken {
    fn new(payload: SignedPayload, settings: &SimpleJwtSettings) -> VerifiedToken {
        let claims = &payload.claims;
        let user_id = claims.get(&settings.user_id_claim).map(|id| {
            let text = serde_json::to_vec(id).unwrap_or_else(|_| id.to_string().into_bytes());
            (id.clone(), text.into_boxed_slice())
        });
        VerifiedToken {
            user_id,
            claims: settings.claims.checks(claims),
            classes: settings
                .token_classes
                .iter()
                .map(|&class| token_classes::ClassChecks::of(class, settings, claims))
                .collect(),
            payload,
        }
    }
}

/// What every JWT class of a gate shares: the settings, the clock and the caches.
pub(crate) struct JwtShared {
    settings: SimpleJwtSettings,
    /// `'<AUTH_HEADER_TYPES[0]> realm="api"'`.
    challenge: Arc<str>,
    clock: Arc<dyn WallClock>,
    tokens: CredentialCache<Arc<VerifiedToken>>,
    users: CredentialCache<Arc<JwtUser>>,
}

impl JwtShared {
    pub(crate) fn new(settings: SimpleJwtSettings, cache: &CacheConfig) -> JwtShared {
        JwtShared::with_clock(settings, cache, Arc::new(SystemWallClock))
    }

    pub(crate) fn with_clock(
        settings: SimpleJwtSettings,
        cache: &CacheConfig,
        clock: Arc<dyn WallClock>,
    ) -> JwtShared {
        let challenge = Arc::from(format!("{} realm=\"api\"", settings.auth_header_types[0]));
        JwtShared {
            settings,
            challenge,
            clock,
            // Invalid tokens are not remembered: their reason is worth showing every time.
            tokens: CredentialCache::new(CacheConfig {
                negative_max_entries: 0,
                ..cache.clone()
            }),
            users: CredentialCache::new(cache.clone()),
        }
    }

    /// Forgets the cached users with this pk; returns how many there were.
    pub(crate) fn invalidate_all(&self) -> usize {
        self.tokens.invalidate_where(|_| true) + self.users.invalidate_where(|_| true)
    }

    pub(crate) fn invalidate_user(&self, pk: &crate::decision::UserPk) -> usize {
        self.users.invalidate_where(|u| u.user.pk == *pk)
    }
}

pub(crate) struct JwtAuthentication {
    name: Arc<str>,
    stateless: bool,
    shared: Arc<JwtShared>,
}

impl JwtAuthentication {
    pub(crate) fn new(name: Arc<str>, stateless: bool, shared: Arc<JwtShared>) -> Self {
        JwtAuthentication {
            name,
            stateless,
            shared,
        }
    }

    fn step(&self, trace: &mut Tracer<'_>, what: impl FnOnce() -> String) {
        trace.step(Stage::Authentication, || self.name.to_string(), what);
    }

    fn fail(
        &self,
        trace: &mut Tracer<'_>,
        error: ApiError,
        why: impl FnOnce() -> String,
    ) -> Outcome {
        self.step(trace, || format!("failed: {}", why()));
        Outcome::Fail(error)
    }

    fn server_error(&self, trace: &mut Tracer<'_>, why: String) -> Outcome {
        log::warn!("{}: {why}", self.name);
        self.fail(trace, ApiError::ServerError, || why)
    }

    /// `get_raw_token`: the token (borrowed from `header`), or the outcome that ends this
    /// class's turn.
    fn raw_token<'h>(
        &self,
        header: Option<&'h [u8]>,
        trace: &mut Tracer<'_>,
    ) -> Result<&'h [u8], Outcome> {
        let settings = &self.shared.settings;
        let Some(header) = header else {
            self.step(trace, || {
                format!("declined: no {} header", settings.auth_header)
            });
            return Err(Outcome::Decline);
        };
        // The usual header, `<type> <token>`, without splitting a long token byte by byte.
        if let Some(token) = settings
            .auth_header_types
            .iter()
            .find_map(|t| exact_prefix_space_field(header, t.as_bytes()))
        {
            return Ok(token);
        }
        let mut parts = split_ascii_whitespace(header);
        let Some(first) = parts.next() else {
            self.step(trace, || "declined: the header is empty".into());
            return Err(Outcome::Decline);
        };
        if !settings
            .auth_header_types
            .iter()
            .any(|t| t.as_bytes() == first)
        {
            self.step(trace, || {
                format!(
                    "declined: the header's first word is not one of AUTH_HEADER_TYPES {:?} \
                     (compared case-sensitively)",
                    settings.auth_header_types
                )
            });
            return Err(Outcome::Decline);
        }
        // Exactly two parts, counted without collecting them (no allocation per request).
        match (parts.next(), parts.next()) {
            (Some(token), None) => Ok(token),
            (second, third) => {
                let count = 1 + usize::from(second.is_some()) + usize::from(third.is_some());
                let count = count + parts.count();
                Err(self.fail(
                    trace,
                    body::detail_code(body::BAD_HEADER, "bad_authorization_header"),
                    || format!("{} (it has {count} parts)", body::BAD_HEADER),
                ))
            }
        }
    }

    /// The verified token: from the cache at `now` (the caches' clock), else verified here.
    fn verified(&self, token: &[u8], now: Instant) -> Result<Arc<VerifiedToken>, Arc<DecodeError>> {
        let key = self.shared.tokens.key(TOKEN_KEYS, &[token]);
        if let Some(Cached::Found(payload)) = self.shared.tokens.get_at(&key, now) {
            return Ok(payload);
        }
        match self.shared.tokens.get_or_load(key, || {
            let settings = &self.shared.settings;
            verify_signature(token, &settings.verifier)
                .map(|p| Cached::Found(Arc::new(VerifiedToken::new(p, settings))))
                .map_err(Arc::new)
        }) {
            Ok(Cached::Found(payload)) => Ok(payload),
            Ok(Cached::Unknown) => Err(Arc::new(DecodeError::Invalid("unknown".into()))),
            Err(e) => Err(e),
        }
    }

    /// Everything after the header: the token classes, then the user. `cache_now`: the
    /// caches' clock, read once per decision; `cached_only`: answer from the caches alone (`None`
    /// when they cannot), never asking the store.
    fn judge(
        &self,
        signed: Result<Arc<VerifiedToken>, Arc<DecodeError>>,
        cx: &Context<'_>,
        cache_now: Instant,
        cached_only: bool,
        trace: &mut Tracer<'_>,
    ) -> Option<Outcome> {
        let settings = &self.shared.settings;
        let now = self.shared.clock.unix_now();
        let (verified, decoded) = match &signed {
            Ok(verified) => (Some(&**verified), verified.claims.validate(now)),
            Err(e) => (None, Err((**e).clone())),
        };
        if cached_only
            && decoded.is_ok()
            && settings.blacklist_app
            && settings.token_classes.iter().any(|c| c.uses_blacklist())
        {
            return None; // the blacklist is a store query
        }
        let mut messages = Vec::new();
        let mut accepted = false;
        for (index, &class) in settings.token_classes.iter().enumerate() {
            let token = verified.map(|v| (&v.payload.claims, &v.classes[index]));
            match token_classes::validate_class(class, settings, &decoded, token, cx.store, now) {
                Ok(Ok(())) => {
                    self.step(trace, || {
                        format!("the token is a valid {}", class.class_name())
                    });
                    accepted = true;
                    break;
                }
                Ok(Err(refusal)) => {
                    self.step(trace, || {
                        format!(
                            "{} refused it: {} ({})",
                            class.class_name(),
                            refusal.message,
                            refusal.why
                        )
                    });
                    messages.push(token_classes::message(class, &refusal));
                }
                Err(token_classes::Abort::ServerError(why)) => {
                    return Some(self.server_error(trace, why))
                }
                Err(token_classes::Abort::Store(err)) => {
                    return Some(super::store_failure(&self.name, &err))
                }
            }
        }
        if !accepted {
            return Some(self.fail(trace, body::not_valid(&messages), || {
                body::NOT_VALID.to_string()
            }));
        }
        let verified = verified?;
        let claims = &verified.payload.claims;
        let Some((user_id, user_id_text)) = &verified.user_id else {
            return Some(self.fail(
                trace,
                body::detail_code(body::NO_USER_ID, "token_not_valid"),
                || {
                    format!(
                        "{} (no {:?} claim)",
                        body::NO_USER_ID,
                        settings.user_id_claim
                    )
                },
            ));
        };
        if self.stateless {
            let user = Arc::new(user::token_user(claims, user_id));
            return Some(succeed(
                &self.name,
                trace,
                user,
                Scheme::JwtStateless,
                AuthObject::Token,
            ));
        }
        let found = self.user(user_id, user_id_text, cx, cache_now, cached_only)?;
        Some(self.check_user(found, claims, user_id, trace))
    }

    /// The user the claim names (`id_text`: its JSON text, see [`VerifiedToken`]).
    fn user(
        &self,
        user_id: &Value,
        id_text: &[u8],
        cx: &Context<'_>,
        now: Instant,
        cached_only: bool,
    ) -> Option<Result<Cached<Arc<JwtUser>>, Arc<crate::store::StoreError>>> {
        let field = &self.shared.settings.user_id_field;
        let key = self
            .shared
            .users
            .key(USER_KEYS, &[field.as_bytes(), id_text]);
        let cached = self.shared.users.get_at(&key, now);
        if cached.is_some() || cached_only {
            return cached.map(Ok);
        }
        Some(
            self.shared
                .users
                .get_or_load(key, || match cx.store.user_by_field(field, user_id) {
                    Ok(FieldLookup::Found(row)) => Ok(Cached::Found(Arc::new(JwtUser {
                        password_md5: user::md5_upper(&row.password),
                        user: Arc::new(row.user),
                    }))),
                    Ok(FieldLookup::NotFound) => Ok(Cached::Unknown),
                    Ok(FieldLookup::Unconvertible) => {
                        Err(Arc::new(crate::store::StoreError::raised(format!(
                            "the {:?} claim cannot be converted for the user table's {field:?} \
                         column (Django raises: 500)",
                            self.shared.settings.user_id_claim
                        ))))
                    }
                    Err(e) => Err(Arc::new(e)),
                }),
        )
    }

    fn check_user(
        &self,
        found: Result<Cached<Arc<JwtUser>>, Arc<crate::store::StoreError>>,
        claims: &serde_json::Map<String, Value>,
        user_id: &Value,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let settings = &self.shared.settings;
        let row = match found {
            Ok(Cached::Found(row)) => row,
            Ok(Cached::Unknown) => {
                return self.fail(
                    trace,
                    body::detail_code(body::USER_NOT_FOUND, "user_not_found"),
                    || format!("no user has {} = {user_id}", settings.user_id_field),
                )
            }
            Err(err) => return super::store_failure(&self.name, &err),
        };
        if settings.check_user_is_active && !row.user.is_active {
            return self.fail(
                trace,
                body::detail_code(body::USER_INACTIVE, "user_inactive"),
                || {
                    format!(
                        "user {:?} is inactive (CHECK_USER_IS_ACTIVE)",
                        row.user.username
                    )
                },
            );
        }
        if settings.check_revoke_token {
            let claimed = claims.get(&settings.revoke_token_claim);
            if claimed.and_then(Value::as_str) != Some(row.password_md5.as_str()) {
                return self.fail(
                    trace,
                    body::detail_code(body::PASSWORD_CHANGED, "password_changed"),
                    || {
                        format!(
                            "the {:?} claim does not match the user's current password \
                             (CHECK_REVOKE_TOKEN)",
                            settings.revoke_token_claim
                        )
                    },
                );
            }
        }
        let user: Arc<User> = row.user.clone();
        succeed(&self.name, trace, user, Scheme::Jwt, AuthObject::Token)
    }
}

impl Authenticator for JwtAuthentication {
    fn authenticate(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let header = request.header(&self.shared.settings.auth_header);
        let token = match self.raw_token(header.as_deref(), trace) {
            Ok(token) => token,
            Err(outcome) => return outcome,
        };
        // One reading of the caches' clock for the token and the user (both caches keep the
        // monotonic clock); the claims are judged against the wall clock, read once too.
        let now = self.shared.tokens.now();
        let signed = self.verified(token, now);
        self.judge(signed, cx, now, false, trace)
            .unwrap_or(Outcome::Fail(ApiError::ServerError))
    }

    fn authenticate_cached(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Option<Outcome> {
        let header = request.header(&self.shared.settings.auth_header);
        let token = match self.raw_token(header.as_deref(), trace) {
            Ok(token) => token,
            Err(outcome) => return Some(outcome),
        };
        let key = self.shared.tokens.key(TOKEN_KEYS, &[token]);
        // One reading of the caches' clock for the token and the user (both caches keep
        // the monotonic clock); the claims are judged against the wall clock, read once too.
        let now = self.shared.tokens.now();
        let signed = match self.shared.tokens.get_at(&key, now)? {
            Cached::Found(payload) => Ok(payload),
            Cached::Unknown => return None,
        };
        self.judge(signed, cx, now, true, trace)
    }

    fn authenticate_header(&self) -> Option<&Arc<str>> {
        Some(&self.shared.challenge)
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }
}

#[cfg(test)]
mod tests;
