//! simplejwt's `get_user`: the database user named by the token's `USER_ID_CLAIM`
//! (`JWTAuthentication`), or a `TokenUser` made of the claims (`JWTStatelessUserAuthentication`).

use std::sync::Arc;

use md5::{Digest, Md5};
use serde_json::{Map, Value};

use crate::decision::{User, UserPk};
use crate::jwt::{python_str, python_truthy};

/// A user row as the JWT checks need it: the user and `get_md5_hash_password(user.password)`
/// (the password hash itself is not kept).
#[derive(Clone, Debug)]
pub(crate) struct JwtUser {
    pub(crate) user: Arc<User>,
    pub(crate) password_md5: String,
}

/// simplejwt's `get_md5_hash_password`: upper-case hex MD5 of the stored hash string.
pub(crate) fn md5_upper(password: &str) -> String {
    Md5::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// `TokenUser(validated_token)`: always active; `is_staff`/`is_superuser` are the claims'
/// truthiness; `username` the `username` claim or "".
pub(crate) fn token_user(claims: &Map<String, Value>, user_id: &Value) -> User {
    let pk = match user_id {
        Value::Number(n) if n.is_i64() => UserPk::Int(n.as_i64().unwrap_or_default()),
        other => UserPk::Text(
            python_str(other)
                .unwrap_or_else(|| other.to_string())
                .into(),
        ),
    };
    let username = match claims.get("username") {
        None => String::new(),
        Some(v) => python_str(v).unwrap_or_else(|| v.to_string()),
    };
    let flag = |name: &str| claims.get(name).is_some_and(python_truthy);
    User {
        pk,
        username: username.into(),
        is_active: true,
        is_staff: flag("is_staff"),
        is_superuser: flag("is_superuser"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoke_claim_is_upper_case_md5_of_the_stored_hash() {
        // Spec §8.2: the §3.7 password's claim.
        let hash = "pbkdf2_sha256$1000000$vectorsalt0123456789ab$";
        assert_eq!(md5_upper(hash).len(), 32);
        assert_eq!(md5_upper(""), "D41D8CD98F00B204E9800998ECF8427E");
    }

    #[test]
    fn token_users_come_from_claims() {
        let claims = serde_json::json!({"user_id": "7", "username": "x", "is_staff": 1});
        let claims = claims.as_object().unwrap();
        let user = token_user(claims, &claims["user_id"]);
        assert_eq!(user.pk, UserPk::Text("7".into()));
        assert!(user.is_staff && !user.is_superuser && user.is_active);
    }
}
