//! simplejwt's refusals, rendered as DRF renders them. simplejwt's exceptions put a dict in
//! `detail` (`DetailDictMixin`), which DRF renders as the body itself: `{"detail", "code"}`,
//! plus `messages` (one per token class tried) for `Given token not valid for any token type`.

use serde_json::{Map, Value};

use crate::decision::Body;
use crate::exceptions::{render_json, ApiError};

pub(super) const BAD_HEADER: &str = "Authorization header must contain two space-delimited values";
pub(super) const NOT_VALID: &str = "Given token not valid for any token type";
pub(super) const NO_USER_ID: &str = "Token contained no recognizable user identification";
pub(super) const USER_NOT_FOUND: &str = "User not found";
pub(super) const USER_INACTIVE: &str = "User is inactive";
pub(super) const PASSWORD_CHANGED: &str = "The user's password has been changed.";

/// `{"detail": detail, "code": code}`.
pub(super) fn detail_code(detail: &str, code: &str) -> ApiError {
    let mut body = Map::new();
    body.insert("detail".into(), Value::String(detail.into()));
    body.insert("code".into(), Value::String(code.into()));
    ApiError::AuthenticationFailedBody(Body::Shared(render_json(&Value::Object(body))))
}

/// One entry of `messages`: which class refused the token and why.
pub(super) struct ClassMessage {
    pub(super) token_class: &'static str,
    pub(super) token_type: &'static str,
    pub(super) message: &'static str,
}

/// `InvalidToken({"detail": …, "messages": […]})`.
pub(super) fn not_valid(messages: &[ClassMessage]) -> ApiError {
    let mut body = Map::new();
    body.insert("detail".into(), Value::String(NOT_VALID.into()));
    body.insert("code".into(), Value::String("token_not_valid".into()));
    let messages = messages
        .iter()
        .map(|m| {
            let mut entry = Map::new();
            entry.insert("token_class".into(), Value::String(m.token_class.into()));
            entry.insert("token_type".into(), Value::String(m.token_type.into()));
            entry.insert("message".into(), Value::String(m.message.into()));
            Value::Object(entry)
        })
        .collect();
    body.insert("messages".into(), Value::Array(messages));
    ApiError::AuthenticationFailedBody(Body::Shared(render_json(&Value::Object(body))))
}
