//! PyJWT 2.15's `_validate_claims` with simplejwt's options: `iat`, `nbf`, `exp` (each through
//! Python's `int()`, against a float `now` and `leeway`), then `iss` when an issuer is set,
//! `aud` only when an audience is set (simplejwt passes `verify_aud = AUDIENCE is not None`),
//! then the types of `sub` and `jti`. The first failure decides the message.

use serde_json::{Map, Value};

use super::python::python_int;
use super::DecodeError;

/// The claim settings simplejwt hands PyJWT.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimRules {
    /// `LEEWAY`, in seconds.
    pub leeway: f64,
    /// `AUDIENCE`: a string, or a list of them (a match with any is enough).
    pub audience: Option<Vec<String>>,
    /// `ISSUER`.
    pub issuer: Option<String>,
}

fn invalid(why: impl Into<String>) -> DecodeError {
    DecodeError::Invalid(why.into())
}

impl ClaimRules {
    pub fn validate(&self, claims: &Map<String, Value>, now: f64) -> Result<(), DecodeError> {
        let leeway = self.leeway;
        if let Some(iat) = claims.get("iat") {
            let iat = python_int(iat)
                .ok_or_else(|| invalid("\"iat\" is not an integer"))?
                .as_f64();
            if iat > now + leeway {
                return Err(invalid(format!(
                    "\"iat\" {iat} is in the future (now {now:.0}, leeway {leeway})"
                )));
            }
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = python_int(nbf)
                .ok_or_else(|| invalid("\"nbf\" is not an integer"))?
                .as_f64();
            if nbf > now + leeway {
                return Err(invalid(format!(
                    "\"nbf\" {nbf} is in the future (now {now:.0}, leeway {leeway})"
                )));
            }
        }
        if let Some(exp) = claims.get("exp") {
            let exp = python_int(exp)
                .ok_or_else(|| invalid("\"exp\" is not an integer"))?
                .as_f64();
            if exp <= now - leeway {
                return Err(DecodeError::Expired { exp });
            }
        }
        if let Some(issuer) = &self.issuer {
            match claims.get("iss") {
                None => return Err(invalid("no \"iss\" claim (ISSUER is set)")),
                Some(Value::String(iss)) if iss == issuer => {}
                Some(Value::String(_)) => return Err(invalid("\"iss\" is not ISSUER")),
                Some(_) => return Err(invalid("\"iss\" is not a string")),
            }
        }
        if let Some(audience) = &self.audience {
            // The claimed audiences as a slice of JSON values, all strings (checked before
            // any is compared, as PyJWT does); no list is built, so a cached decision does
            // not allocate.
            let claimed: &[Value] = match claims.get("aud") {
                None => return Err(invalid("no \"aud\" claim (AUDIENCE is set)")),
                Some(aud) if !super::python_truthy(aud) => {
                    return Err(invalid("empty \"aud\" claim (AUDIENCE is set)"))
                }
                Some(one @ Value::String(_)) => std::slice::from_ref(one),
                Some(Value::Array(many)) => {
                    if !many.iter().all(Value::is_string) {
                        return Err(invalid("\"aud\" holds a non-string"));
                    }
                    many
                }
                Some(_) => return Err(invalid("\"aud\" is neither a string nor a list")),
            };
            if audience
                .iter()
                .all(|a| !claimed.iter().any(|c| c.as_str() == Some(a.as_str())))
            {
                return Err(invalid("\"aud\" does not name AUDIENCE"));
            }
        }
        if claims.get("sub").is_some_and(|sub| !sub.is_string()) {
            return Err(invalid("\"sub\" is not a string"));
        }
        if claims.get("jti").is_some_and(|jti| !jti.is_string()) {
            return Err(invalid("\"jti\" is not a string"));
        }
        Ok(())
    }
}
