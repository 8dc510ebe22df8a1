//! simplejwt's order of checks and bodies (spec §8.3), at a fixed clock, over a SQLite database
//! made here with the blacklist tables. Tokens are signed with `jsonwebtoken`; tokens minted
//! by the real simplejwt are compared in the differential suite.

use std::sync::Arc;

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::auth::{Backends, Context, Outcome};
use crate::cache::{CacheConfig, CredentialCache};
use crate::config::Config;
use crate::hashers::PasswordHashers;
use crate::store::{Schema, SqliteStore};
use crate::trace::Tracer;

const SECRET: &str = "jwt-test-secret";
const T: f64 = 1_700_000_000.0;

const ROWS: &str = "
INSERT INTO auth_user (id, password, username, is_active) VALUES
    (1, 'pbkdf2_sha256$1$salt$hash', 'alice', 1), (2, 'x', 'ina', 0);
CREATE TABLE token_blacklist_outstandingtoken (id INTEGER PRIMARY KEY, user_id INTEGER NULL,
    jti VARCHAR(255) NOT NULL UNIQUE, token TEXT NOT NULL, created_at DATETIME NULL,
    expires_at DATETIME NOT NULL);
CREATE TABLE token_blacklist_blacklistedtoken (id INTEGER PRIMARY KEY,
    token_id INTEGER NOT NULL UNIQUE, blacklisted_at DATETIME NOT NULL);
INSERT INTO token_blacklist_outstandingtoken VALUES (1, 1, 'banned', '', NULL, '2030-01-01 00:00:00');
INSERT INTO token_blacklist_blacklistedtoken VALUES (1, 1, '2023-01-01 00:00:00');
";

struct Fixture {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    tokens: CredentialCache<Arc<crate::decision::User>>,
    passwords: CredentialCache<Arc<crate::decision::User>>,
    hashers: PasswordHashers,
    backends: Backends,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = drfgate_test_support::scratch_db(dir.path(), ROWS);
    Fixture {
        store: SqliteStore::open(&db, Schema::default()).unwrap(),
        _dir: dir,
        tokens: CredentialCache::new(CacheConfig::default()),
        passwords: CredentialCache::new(CacheConfig::default()),
        hashers: PasswordHashers::django_default(),
        backends: Backends::default(),
    }
}

fn class(simple_jwt: &str, stateless: bool, now: f64) -> JwtAuthentication {
    let text = format!(
        "[django]\nDATABASE = \"/dev/null/unused.sqlite3\"\nSECRET_KEY = \"{SECRET}\"\n\
         [simple_jwt]\n{simple_jwt}\n"
    );
    let config = Config::from_str_with_origin(&text, "<test>", None).unwrap();
    let shared = JwtShared::with_clock(
        config.simple_jwt.unwrap(),
        &CacheConfig::default(),
        Arc::new(now),
    );
    JwtAuthentication::new("JWTAuthentication".into(), stateless, Arc::new(shared))
}

fn token(claims: Value) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn access(user_id: Value) -> Value {
    json!({"token_type": "access", "exp": T + 300.0, "iat": T, "jti": "abc", "user_id": user_id})
}

/// The outcome: `Ok(username)`, `Err(body)`, or `Err("decline")`.
fn judge(f: &Fixture, class: &JwtAuthentication, header: &str) -> Result<String, String> {
    let cx = Context {
        store: &f.store,
        tokens: &f.tokens,
        passwords: &f.passwords,
        hashers: &f.hashers,
        backends: &f.backends,
        sessions: &crate::auth::Sessions::unused(),
        authorization: b"",
    };
    let headers: Vec<(&[u8], &[u8])> = vec![(b"Authorization", header.as_bytes())];
    let request = Request::new(b"GET", b"/").with_headers(&headers);
    match class.authenticate(&request, &cx, &mut Tracer::off()) {
        Outcome::Decline => Err("decline".into()),
        Outcome::Success(identity) => Ok(identity.user.username.to_string()),
        Outcome::Fail(ApiError::AuthenticationFailedBody(body)) => {
            Err(String::from_utf8_lossy(&body).into_owned())
        }
        Outcome::Fail(other) => Err(format!("{other:?}")),
        Outcome::Defer => Err("defer".into()),
    }
}

fn invalid_because(message: &str) -> String {
    format!(
        r#"{{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{{"token_class":"AccessToken","token_type":"access","message":"{message}"}}]}}"#
    )
}

#[test]
fn header_rules() {
    let f = fixture();
    let jwt = class("", false, T);
    let good = token(access(json!("1")));
    assert_eq!(
        judge(&f, &jwt, &format!("Bearer {good}")),
        Ok("alice".into())
    );
    assert_eq!(
        judge(&f, &jwt, &format!("bearer {good}")),
        Err("decline".into())
    );
    assert_eq!(judge(&f, &jwt, "Token abc"), Err("decline".into()));
    assert_eq!(judge(&f, &jwt, "   "), Err("decline".into()));
    let two = Err(
        r#"{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}"#
            .to_string(),
    );
    assert_eq!(judge(&f, &jwt, "Bearer"), two);
    assert_eq!(judge(&f, &jwt, "Bearer a b"), two);
    assert_eq!(
        &**jwt.authenticate_header().unwrap(),
        "Bearer realm=\"api\""
    );
}

#[test]
fn token_failures_in_simplejwts_order() {
    let f = fixture();
    let jwt = class("", false, T + 10.0);
    let bearer = |claims: Value| format!("Bearer {}", token(claims));
    assert_eq!(
        judge(&f, &jwt, "Bearer garbage"),
        Err(invalid_because("Token is invalid"))
    );
    let mut expired = access(json!("1"));
    expired["exp"] = json!(T + 10.0);
    assert_eq!(
        judge(&f, &jwt, &bearer(expired)),
        Err(invalid_because("Token is expired"))
    );
    let mut future = access(json!("1"));
    future["iat"] = json!(T + 11.0);
    assert_eq!(
        judge(&f, &jwt, &bearer(future)),
        Err(invalid_because("Token is invalid"))
    );
    for (claim, message) in [
        ("exp", "Token has no 'exp' claim"),
        ("jti", "Token has no id"),
        ("token_type", "Token has no type"),
    ] {
        let mut claims = access(json!("1"));
        claims.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            judge(&f, &jwt, &bearer(claims)),
            Err(invalid_because(message))
        );
    }
    let mut refresh = access(json!("1"));
    refresh["token_type"] = json!("refresh");
    assert_eq!(
        judge(&f, &jwt, &bearer(refresh)),
        Err(invalid_because("Token has wrong type"))
    );
    let mut anonymous = access(json!("1"));
    anonymous.as_object_mut().unwrap().remove("user_id");
    assert_eq!(
        judge(&f, &jwt, &bearer(anonymous)),
        Err(r#"{"detail":"Token contained no recognizable user identification","code":"token_not_valid"}"#.into())
    );
}

#[test]
fn users_by_string_or_integer_claim() {
    let f = fixture();
    let jwt = class("", false, T);
    let bearer = |id: Value| format!("Bearer {}", token(access(id)));
    assert_eq!(judge(&f, &jwt, &bearer(json!(1))), Ok("alice".into()));
    assert_eq!(judge(&f, &jwt, &bearer(json!(" 1 "))), Ok("alice".into()));
    assert_eq!(
        judge(&f, &jwt, &bearer(json!("9"))),
        Err(r#"{"detail":"User not found","code":"user_not_found"}"#.into())
    );
    assert_eq!(
        judge(&f, &jwt, &bearer(json!("2"))),
        Err(r#"{"detail":"User is inactive","code":"user_inactive"}"#.into())
    );
    // int("abc") raises in Django's field: 500.
    assert_eq!(
        judge(&f, &jwt, &bearer(json!("abc"))),
        Err("ServerError".into())
    );
    let lenient = class("CHECK_USER_IS_ACTIVE = false", false, T);
    assert_eq!(judge(&f, &lenient, &bearer(json!("2"))), Ok("ina".into()));
    // The stateless class never reads the database.
    let stateless = class("", true, T);
    assert_eq!(judge(&f, &stateless, &bearer(json!("9"))), Ok("".into()));
}

#[test]
fn revoked_passwords() {
    let f = fixture();
    let jwt = class("CHECK_REVOKE_TOKEN = true", false, T);
    let mut claims = access(json!("1"));
    claims["hash_password"] = json!(user::md5_upper("pbkdf2_sha256$1$salt$hash"));
    assert_eq!(
        judge(&f, &jwt, &format!("Bearer {}", token(claims.clone()))),
        Ok("alice".into())
    );
    claims["hash_password"] = json!("0");
    assert_eq!(
        judge(&f, &jwt, &format!("Bearer {}", token(claims))),
        Err(
            r#"{"detail":"The user's password has been changed.","code":"password_changed"}"#
                .into()
        )
    );
}

#[test]
fn blacklist_applies_to_refresh_and_sliding_classes_only() {
    let f = fixture();
    let classes = "AUTH_TOKEN_CLASSES = [\"rest_framework_simplejwt.tokens.AccessToken\", \
                   \"rest_framework_simplejwt.tokens.RefreshToken\", \"SlidingToken\"]\n\
                   token_blacklist_installed = true";
    let jwt = class(classes, false, T);
    let mut banned = access(json!("1"));
    banned["jti"] = json!("banned");
    // Accepted as an access token: access tokens never consult the blacklist.
    assert_eq!(
        judge(&f, &jwt, &format!("Bearer {}", token(banned.clone()))),
        Ok("alice".into())
    );
    banned["token_type"] = json!("sliding");
    banned["refresh_exp"] = json!(T + 1000.0);
    assert_eq!(
        judge(&f, &jwt, &format!("Bearer {}", token(banned))),
        Err(r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"},{"token_class":"RefreshToken","token_type":"refresh","message":"Token is blacklisted"},{"token_class":"SlidingToken","token_type":"sliding","message":"Token is blacklisted"}]}"#.into())
    );
    let mut sliding = access(json!("1"));
    sliding["token_type"] = json!("sliding");
    assert_eq!(
        judge(&f, &jwt, &format!("Bearer {}", token(sliding))),
        Ok("alice".into())
    );
}

#[test]
fn a_cached_token_is_never_accepted_past_its_exp() {
    let f = fixture();
    let clock = Arc::new(parking_lot::Mutex::new(T));
    struct Shared(Arc<parking_lot::Mutex<f64>>);
    impl WallClock for Shared {
        fn unix_now(&self) -> f64 {
            *self.0.lock()
        }
    }
    let text = format!("[django]\nDATABASE = \"/dev/null/x.sqlite3\"\nSECRET_KEY = \"{SECRET}\"\n");
    let config = Config::from_str_with_origin(&text, "<test>", None).unwrap();
    let shared = JwtShared::with_clock(
        config.simple_jwt.unwrap(),
        &CacheConfig::default(),
        Arc::new(Shared(clock.clone())),
    );
    let jwt = JwtAuthentication::new("JWTAuthentication".into(), false, Arc::new(shared));
    let header = format!("Bearer {}", token(access(json!("1"))));
    assert_eq!(judge(&f, &jwt, &header), Ok("alice".into()));
    *clock.lock() = T + 300.0;
    assert_eq!(
        judge(&f, &jwt, &header),
        Err(invalid_because("Token is expired"))
    );
}

#[test]
fn cached_answers_need_no_store_once_seen() {
    let f = fixture();
    let jwt = class("", false, T);
    let cx = Context {
        store: &f.store,
        tokens: &f.tokens,
        passwords: &f.passwords,
        hashers: &f.hashers,
        backends: &f.backends,
        sessions: &crate::auth::Sessions::unused(),
        authorization: b"",
    };
    let header = format!("Bearer {}", token(access(json!("1"))));
    let headers: Vec<(&[u8], &[u8])> = vec![(b"Authorization", header.as_bytes())];
    let request = Request::new(b"GET", b"/").with_headers(&headers);
    assert!(jwt
        .authenticate_cached(&request, &cx, &mut Tracer::off())
        .is_none());
    assert!(matches!(
        jwt.authenticate(&request, &cx, &mut Tracer::off()),
        Outcome::Success(_)
    ));
    assert!(matches!(
        jwt.authenticate_cached(&request, &cx, &mut Tracer::off()),
        Some(Outcome::Success(_))
    ));
}
