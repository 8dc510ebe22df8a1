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

/// One of `iat`, `nbf`, `exp` as PyJWT's `int()` leaves it, before it meets the clock.
#[derive(Clone, Debug, PartialEq)]
enum TimeClaim {
    Absent,
    NotInteger,
    At(f64),
}

impl TimeClaim {
    fn of(claims: &Map<String, Value>, name: &str) -> TimeClaim {
        match claims.get(name) {
            None => TimeClaim::Absent,
            Some(value) => python_int(value).map_or(TimeClaim::NotInteger, |n| TimeClaim::At(n.as_f64())),
        }
    }
}

/// [`ClaimRules::validate`] for one token, split at the clock: what does not depend on the
/// time is judged once, when the token's signature is verified and it is cached; only the
/// comparisons with `now` are left for each request. The checks run in PyJWT's order, so
/// the first failure (and its message) is the one `validate` gives.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimChecks {
    leeway: f64,
    iat: TimeClaim,
    nbf: TimeClaim,
    exp: TimeClaim,
    /// `iss`, `aud`, `sub` and `jti`, which come after the times.
    rest: Result<(), DecodeError>,
}

impl ClaimChecks {
    /// PyJWT's verdict on the claims at `now`.
    pub fn validate(&self, now: f64) -> Result<(), DecodeError> {
        let leeway = self.leeway;
        for (name, claim) in [("iat", &self.iat), ("nbf", &self.nbf)] {
            match *claim {
                TimeClaim::Absent => {}
                TimeClaim::NotInteger => return Err(invalid(format!("\"{name}\" is not an integer"))),
                TimeClaim::At(at) if at > now + leeway => {
                    return Err(invalid(format!(
                        "\"{name}\" {at} is in the future (now {now:.0}, leeway {leeway})"
                    )))
                }
                TimeClaim::At(_) => {}
            }
        }
        match self.exp {
            TimeClaim::Absent => {}
            TimeClaim::NotInteger => return Err(invalid("\"exp\" is not an integer")),
            TimeClaim::At(exp) if exp <= now - leeway => return Err(DecodeError::Expired { exp }),
            TimeClaim::At(_) => {}
        }
        self.rest.clone()
    }
}

impl ClaimRules {
    /// PyJWT's `_validate_claims` at `now`.
    pub fn validate(&self, claims: &Map<String, Value>, now: f64) -> Result<(), DecodeError> {
        self.checks(claims).validate(now)
    }

    /// What [`ClaimChecks::validate`] needs of these claims, the clock aside.
    pub fn checks(&self, claims: &Map<String, Value>) -> ClaimChecks {
        ClaimChecks {
            leeway: self.leeway,
            iat: TimeClaim::of(claims, "iat"),
            nbf: TimeClaim::of(claims, "nbf"),
            exp: TimeClaim::of(claims, "exp"),
            rest: self.validate_untimed(claims),
        }
    }

    /// The claims after the times: `iss`, `aud`, then the types of `sub` and `jti`.
    fn validate_untimed(&self, claims: &Map<String, Value>) -> Result<(), DecodeError> {
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
