//! simplejwt and knox through the whole gate, with tokens minted by the real packages
//! (tests/django/jwt_fixtures.py, `make fixture-db`): decisions, and cache-only answers once a
//! token has been seen. Every failure body is compared with DRF in the differential suite.

use std::collections::BTreeMap;
use std::path::Path;

use drfgate::{Decision, Gate, Request};
use drfgate_test_support::{fixture_db, repo_root};

fn tokens() -> BTreeMap<String, String> {
    let path = repo_root().join("build/django/jwt/tokens.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("make fixture-db")).unwrap()
}

fn gate(db: &Path, simple_jwt: &str) -> Gate {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
[simple_jwt]
SIGNING_KEY = "drfgate-test-secret-key-not-for-production-0123456789abcdef"
{simple_jwt}
[[routes]]
path = "api/jwt/"
authentication_classes = ["JWTAuthentication"]
permission_classes = ["IsAuthenticated"]
[[routes]]
path = "api/knox/"
authentication_classes = ["knox.auth.TokenAuthentication"]
permission_classes = ["IsAuthenticated"]
"#,
        db = db.display()
    );
    Gate::from_config_str(&text, None).expect("config")
}

/// The decision, and (`cached`) the cache-only one made just before it.
fn decide(gate: &Gate, path: &[u8], authorization: &str) -> (Option<Decision>, Decision) {
    let headers = [(&b"Authorization"[..], authorization.as_bytes())];
    let request = Request::new(b"GET", path).with_headers(&headers);
    (gate.decide_cached(&request), gate.decide(&request))
}

fn user(decision: &Decision) -> Option<String> {
    match decision {
        Decision::Allow(Some(identity)) => Some(identity.user.username.to_string()),
        _ => None,
    }
}

#[test]
fn real_tokens_through_the_gate_and_then_from_the_caches() {
    let Some(db) = fixture_db() else { return };
    let tokens = tokens();
    let gate = gate(&db, "");
    for (path, header) in [
        (
            &b"/api/jwt/"[..],
            format!("Bearer {}", tokens["access_john"]),
        ),
        (&b"/api/knox/"[..], format!("Token {}", tokens["knox_john"])),
    ] {
        let (cached, decided) = decide(&gate, path, &header);
        assert!(cached.is_none(), "nothing cached yet");
        assert_eq!(user(&decided).as_deref(), Some("john"));
        let (cached, _) = decide(&gate, path, &header);
        assert_eq!(user(&cached.expect("a cache hit")).as_deref(), Some("john"));
    }
}

#[test]
fn refusals_of_real_tokens() {
    let Some(db) = fixture_db() else { return };
    let tokens = tokens();
    let gate = gate(&db, "");
    let deny = |path: &[u8], header: String| match decide(&gate, path, &header).1 {
        Decision::Deny(deny) => (
            deny.status,
            String::from_utf8_lossy(&deny.body).into_owned(),
        ),
        other => panic!("{header}: {other:?}"),
    };
    assert_eq!(
        deny(b"/api/jwt/", format!("Bearer {}", tokens["access_expired"])).1,
        r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is expired"}]}"#
    );
    assert_eq!(
        deny(b"/api/jwt/", format!("Bearer {}", tokens["access_ina"])).1,
        r#"{"detail":"User is inactive","code":"user_inactive"}"#
    );
    assert_eq!(
        deny(b"/api/knox/", format!("Token {}", tokens["knox_expired"])),
        (401, r#"{"detail":"Invalid token."}"#.to_string())
    );
    assert_eq!(
        deny(b"/api/knox/", format!("Token {}", tokens["knox_ina"])).1,
        r#"{"detail":"User inactive or deleted."}"#
    );
}

#[test]
fn algorithm_confusion_is_refused() {
    let Some(db) = fixture_db() else { return };
    let tokens = tokens();
    let key = repo_root().join("build/django/jwt/rsa.pub.pem");
    let gate = gate(
        &db,
        &format!(
            "ALGORITHM = \"RS256\"\nVERIFYING_KEY_FILE = \"{}\"",
            key.display()
        ),
    );
    let allow =
        |name: &str| user(&decide(&gate, b"/api/jwt/", &format!("Bearer {}", tokens[name])).1);
    assert_eq!(allow("access_rs256").as_deref(), Some("john"));
    assert_eq!(allow("access_alg_confusion"), None);
    assert_eq!(allow("access_rs256_other_key"), None);
    assert_eq!(allow("access_john"), None);
}
