//! simplejwt's `get_validated_token`: every class of `AUTH_TOKEN_CLASSES` in turn, the first
//! that accepts the token wins. One class's `Token.__init__` + `verify()`: PyJWT's decode
//! (signature, then claims at the current time), then for refresh and sliding classes the
//! blacklist (when the app is installed), then `exp`, the id and the type.

use serde_json::{Map, Value};

use super::body::ClassMessage;
use crate::config::{SimpleJwtSettings, TokenClass};
use crate::jwt::{python_str, DecodeError};
use crate::store::{Store, StoreError};

/// Why one class refused the token: simplejwt's message and, for `explain`, the detail.
pub(super) struct Refusal {
    pub(super) message: &'static str,
    pub(super) why: String,
}

/// What stops the loop before any class answers: simplejwt raising something that is not a
/// `TokenError` (Django answers 500), or the store failing.
pub(super) enum Abort {
    ServerError(String),
    Store(StoreError),
}

/// `datetime.fromtimestamp` accepts years 1 to 9999.
const MAX_TIMESTAMP: f64 = 253_402_300_799.0;
const MIN_TIMESTAMP: f64 = -62_135_596_800.0;

/// One class's judgement. `decoded` is PyJWT's verdict (the same for every class).
pub(super) fn validate_class(
    class: TokenClass,
    settings: &SimpleJwtSettings,
    decoded: &Result<(), DecodeError>,
    claims: Option<&Map<String, Value>>,
    store: &dyn Store,
    now: f64,
) -> Result<Result<(), Refusal>, Abort> {
    let (claims, decoded) = match (claims, decoded) {
        (Some(claims), Ok(())) => (claims, ()),
        (_, Err(DecodeError::Expired { exp })) => {
            return Ok(Err(Refusal {
                message: "Token is expired",
                why: format!(
                    "expired: exp {exp:.0} is not after now {now:.0} (leeway {})",
                    settings.claims.leeway
                ),
            }))
        }
        (_, Err(DecodeError::Invalid(why))) => {
            return Ok(Err(Refusal {
                message: "Token is invalid",
                why: why.clone(),
            }))
        }
        (None, Ok(())) => {
            return Ok(Err(Refusal {
                message: "Token is invalid",
                why: "no payload".into(),
            }))
        }
    };
    let () = decoded;
    if class.uses_blacklist() && settings.blacklist_app {
        // `self.payload[JTI_CLAIM]`: a KeyError (not a TokenError) when absent.
        let jti = settings
            .jti_claim
            .as_ref()
            .and_then(|c| claims.get(c))
            .ok_or_else(|| {
                Abort::ServerError(format!(
                    "{}: the blacklist check reads the id claim, which the token lacks \
                     (simplejwt raises KeyError: Django answers 500)",
                    class.class_name()
                ))
            })?;
        let jti = python_str(jti).unwrap_or_else(|| jti.to_string());
        if store.jti_blacklisted(&jti).map_err(Abort::Store)? {
            return Ok(Err(Refusal {
                message: "Token is blacklisted",
                why: "its jti is in token_blacklist_blacklistedtoken".into(),
            }));
        }
    }
    // check_exp: `datetime_from_epoch(claims["exp"])` (PyJWT has already judged its value).
    let Some(exp) = claims.get("exp") else {
        return Ok(Err(Refusal {
            message: "Token has no 'exp' claim",
            why: "no \"exp\" claim".into(),
        }));
    };
    let exp = match exp {
        Value::Number(n) => n.as_f64().unwrap_or(f64::INFINITY),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => {
            return Err(Abort::ServerError(
                "\"exp\" is not a number: simplejwt's datetime_from_epoch raises TypeError \
                 (Django answers 500)"
                    .into(),
            ))
        }
    };
    if !(MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&exp) {
        return Err(Abort::ServerError(
            "\"exp\" is beyond the year 9999: datetime_from_epoch raises (Django answers 500)"
                .into(),
        ));
    }
    if exp <= now - settings.claims.leeway {
        return Ok(Err(Refusal {
            message: "Token 'exp' claim has expired",
            why: format!("exp {exp} is not after now {now:.0}"),
        }));
    }
    if let Some(jti_claim) = &settings.jti_claim {
        if !claims.contains_key(jti_claim) {
            return Ok(Err(Refusal {
                message: "Token has no id",
                why: format!("no {jti_claim:?} claim (JTI_CLAIM)"),
            }));
        }
    }
    if let (Some(type_claim), false) = (&settings.token_type_claim, class == TokenClass::Untyped) {
        match claims.get(type_claim) {
            None => {
                return Ok(Err(Refusal {
                    message: "Token has no type",
                    why: format!("no {type_claim:?} claim (TOKEN_TYPE_CLAIM)"),
                }))
            }
            Some(Value::String(t)) if t == class.token_type() => {}
            Some(other) => {
                return Ok(Err(Refusal {
                    message: "Token has wrong type",
                    why: format!(
                        "{type_claim:?} is {other}, {} wants {:?}",
                        class.class_name(),
                        class.token_type()
                    ),
                }))
            }
        }
    }
    Ok(Ok(()))
}

/// The `messages` entry for a refusal.
pub(super) fn message(class: TokenClass, refusal: &Refusal) -> ClassMessage {
    ClassMessage {
        token_class: class.class_name(),
        token_type: class.token_type(),
        message: refusal.message,
    }
}
