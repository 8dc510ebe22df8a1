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
#[derive(Clone)]
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

/// Where a class's checks stop before its `exp` meets the clock.
#[derive(Clone)]
enum Stop {
    Refused(Refusal),
    ServerError(String),
}

/// One class's `verify()` after the blacklist, split at the clock: judged once per token when
/// it is verified and cached, so that a request only compares `exp` with `now`.
#[derive(Clone)]
pub(super) struct ClassChecks {
    /// `check_exp`'s `exp` (PyJWT has already judged its value), or why the class stops first.
    exp: Result<f64, Stop>,
    /// The id and the type, which `verify()` checks after `exp`.
    after_exp: Result<(), Refusal>,
}

impl ClassChecks {
    pub(super) fn of(
        class: TokenClass,
        settings: &SimpleJwtSettings,
        claims: &Map<String, Value>,
    ) -> ClassChecks {
        ClassChecks {
            exp: exp_of(claims),
            after_exp: id_and_type(class, settings, claims),
        }
    }

    fn at(&self, settings: &SimpleJwtSettings, now: f64) -> Result<Result<(), Refusal>, Abort> {
        let exp = match &self.exp {
            Ok(exp) => *exp,
            Err(Stop::Refused(refusal)) => return Ok(Err(refusal.clone())),
            Err(Stop::ServerError(why)) => return Err(Abort::ServerError(why.clone())),
        };
        if exp <= now - settings.claims.leeway {
            return Ok(Err(Refusal {
                message: "Token 'exp' claim has expired",
                why: format!("exp {exp} is not after now {now:.0}"),
            }));
        }
        Ok(self.after_exp.clone())
    }
}

/// check_exp: `datetime_from_epoch(claims["exp"])`.
fn exp_of(claims: &Map<String, Value>) -> Result<f64, Stop> {
    let Some(exp) = claims.get("exp") else {
        return Err(Stop::Refused(Refusal {
            message: "Token has no 'exp' claim",
            why: "no \"exp\" claim".into(),
        }));
    };
    let exp = match exp {
        Value::Number(n) => n.as_f64().unwrap_or(f64::INFINITY),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => {
            return Err(Stop::ServerError(
                "\"exp\" is not a number: simplejwt's datetime_from_epoch raises TypeError \
                 (Django answers 500)"
                    .into(),
            ))
        }
    };
    if !(MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&exp) {
        return Err(Stop::ServerError(
            "\"exp\" is beyond the year 9999: datetime_from_epoch raises (Django answers 500)"
                .into(),
        ));
    }
    Ok(exp)
}

/// The token's id (`JTI_CLAIM`), then its type (`TOKEN_TYPE_CLAIM`) for a typed class.
fn id_and_type(
    class: TokenClass,
    settings: &SimpleJwtSettings,
    claims: &Map<String, Value>,
) -> Result<(), Refusal> {
    if let Some(jti_claim) = &settings.jti_claim {
        if !claims.contains_key(jti_claim) {
            return Err(Refusal {
                message: "Token has no id",
                why: format!("no {jti_claim:?} claim (JTI_CLAIM)"),
            });
        }
    }
    if let (Some(type_claim), false) = (&settings.token_type_claim, class == TokenClass::Untyped) {
        match claims.get(type_claim) {
            None => {
                return Err(Refusal {
                    message: "Token has no type",
                    why: format!("no {type_claim:?} claim (TOKEN_TYPE_CLAIM)"),
                })
            }
            Some(Value::String(t)) if t == class.token_type() => {}
            Some(other) => {
                return Err(Refusal {
                    message: "Token has wrong type",
                    why: format!(
                        "{type_claim:?} is {other}, {} wants {:?}",
                        class.class_name(),
                        class.token_type()
                    ),
                })
            }
        }
    }
    Ok(())
}

/// One class's judgement. `decoded` is PyJWT's verdict (the same for every class); `token`
/// the verified token's claims and this class's checks made when it was verified (see
/// [`ClassChecks`]), `None` when no signature verified.
pub(super) fn validate_class(
    class: TokenClass,
    settings: &SimpleJwtSettings,
    decoded: &Result<(), DecodeError>,
    token: Option<(&Map<String, Value>, &ClassChecks)>,
    store: &dyn Store,
    now: f64,
) -> Result<Result<(), Refusal>, Abort> {
    let (claims, checks) = match (token, decoded) {
        (Some(token), Ok(())) => token,
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
    checks.at(settings, now)
}

/// The `messages` entry for a refusal.
pub(super) fn message(class: TokenClass, refusal: &Refusal) -> ClassMessage {
    ClassMessage {
        token_class: class.class_name(),
        token_type: class.token_type(),
        message: refusal.message,
    }
}
