//! The identity the gate hands to the application, signed so the application can trust it
//! without asking the database again (python/drfgate-django, `GateAuthentication`).
//!
//! HMAC-SHA256 keyed with a secret file both sides read (`[handoff] SECRET_FILE`), over a
//! version tag, the time, the method and `path_info` as Django will see them, and the identity
//! (scheme, pk, username, flags). Each field is length-prefixed, so no two lists of fields sign
//! the same bytes. The application refuses a signature outside a short clock skew, or for
//! another method or path: a copy of the headers is worth nothing elsewhere or later.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::decision::{Identity, User, UserPk};

const VERSION: &[u8] = b"drfgate-handoff-v1";
/// Shorter keys are refused at load: the key is all that stands between a client and any
/// identity it would like to claim.
pub const MIN_KEY_BYTES: usize = 32;

/// The shared secret, kept as HMAC-SHA256 already keyed with it: each signature then hashes
/// only its own fields (keying costs two SHA-256 blocks of the ≈ five a signature takes). The
/// key's bytes are not kept, and never printed.
pub struct HandoffKey(Hmac<Sha256>);

impl fmt::Debug for HandoffKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandoffKey(..)")
    }
}

/// What goes to the application with an allowed request: `X-Drfgate-Signature` (`t=…,v1=…`)
/// and, with an identity, `X-Drfgate-User-Flags`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handoff {
    pub signature: String,
    pub flags: &'static str,
}

impl HandoffKey {
    /// The key from a file's bytes, a trailing newline dropped.
    pub fn from_file_bytes(mut bytes: Vec<u8>) -> Result<HandoffKey, String> {
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the hand-off secret must be at least {MIN_KEY_BYTES} bytes (it has {})",
                bytes.len()
            ));
        }
        let keyed = Hmac::<Sha256>::new_from_slice(&bytes).expect("HMAC takes any key length");
        bytes.fill(0);
        Ok(HandoffKey(keyed))
    }

    /// Signs what the gate decided for one request, now.
    pub fn sign_now(&self, method: &[u8], path_info: &str, identity: Option<&Identity>) -> Handoff {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.sign(now, method, path_info, identity)
    }

    /// The signature over [`VERSION`] and each field as `\n<length in bytes>:<field>`: the
    /// time, the method as Django sees it, `path_info`, then the identity's scheme, pk,
    /// username and flags (`anonymous` and three empty fields without one).
    pub fn sign(
        &self,
        timestamp: u64,
        method: &[u8],
        path_info: &str,
        identity: Option<&Identity>,
    ) -> Handoff {
        let mut timestamp_text = itoa::Buffer::new();
        let timestamp = timestamp_text.format(timestamp);
        // Django upper-cases REQUEST_METHOD into request.method (a latin-1 decoded str); sent
        // in upper-case ASCII, as nearly always, it is signed as it came.
        let upper;
        let method = if method
            .iter()
            .all(|b| b.is_ascii() && !b.is_ascii_lowercase())
        {
            // ASCII throughout, so valid UTF-8.
            std::str::from_utf8(method).unwrap_or_default()
        } else {
            upper = String::from_utf8_lossy(method).to_ascii_uppercase();
            &upper
        };
        let mut pk_text = itoa::Buffer::new();
        let (auth, pk, username, flags) = match identity {
            Some(identity) => (
                identity.scheme.as_str(),
                match &identity.user.pk {
                    UserPk::Int(n) => pk_text.format(*n),
                    UserPk::Text(text) => &**text,
                },
                &*identity.user.username,
                flags(&identity.user),
            ),
            None => ("anonymous", "", "", ""),
        };
        let mut mac = self.0.clone();
        mac.update(VERSION);
        for field in [timestamp, method, path_info, auth, pk, username, flags] {
            let mut length = itoa::Buffer::new();
            mac.update(b"\n");
            mac.update(length.format(field.len()).as_bytes());
            mac.update(b":");
            mac.update(field.as_bytes());
        }
        let digest = mac.finalize().into_bytes();
        let mut signature = String::with_capacity(2 + timestamp.len() + 4 + 2 * digest.len());
        signature.push_str("t=");
        signature.push_str(timestamp);
        signature.push_str(",v1=");
        for byte in digest {
            signature.push(HEX[usize::from(byte >> 4)] as char);
            signature.push(HEX[usize::from(byte & 0xf)] as char);
        }
        Handoff {
            signature,
            flags: if identity.is_some() { flags } else { "" },
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The user's flags the application would otherwise load: `staff`, `superuser`.
fn flags(user: &User) -> &'static str {
    match (user.is_staff, user.is_superuser) {
        (true, true) => "staff,superuser",
        (true, false) => "staff",
        (false, true) => "superuser",
        (false, false) => "",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::decision::{AuthObject, Scheme, UserPk};

    fn key() -> HandoffKey {
        HandoffKey::from_file_bytes(b"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\n".to_vec()).unwrap()
    }

    // The same vectors are asserted by python/drfgate-django/tests/test_authentication.py.
    #[test]
    fn signatures_match_the_python_side() {
        let identity = Identity {
            user: Arc::new(User {
                pk: UserPk::Int(1),
                username: "walterwhité".into(),
                is_active: true,
                is_staff: true,
                is_superuser: false,
            }),
            scheme: Scheme::Token,
            authenticator: "rest_framework.authentication.TokenAuthentication".into(),
            auth: AuthObject::None,
        };
        let signed = key().sign(1700000000, b"get", "/api/orders/1/", Some(&identity));
        assert_eq!(
            signed.signature,
            "t=1700000000,v1=bd9abe4e9079ea4b5e5221630a19a24f122f27da5534e4d21bfe65f566ed11ac"
        );
        assert_eq!(signed.flags, "staff");
        let anonymous = key().sign(1700000000, b"POST", "/api/open/", None);
        assert_eq!(
            anonymous.signature,
            "t=1700000000,v1=501dbc36ef61ef0e25b94c5e90ad69ab16490c9c9c5f644535c322dbec8c4837"
        );
    }

    /// The signature as first written, field by field through `format!`: what the faster
    /// `sign` must go on producing, byte for byte.
    fn reference_signature(
        key: &[u8],
        timestamp: u64,
        method: &[u8],
        path_info: &str,
        identity: Option<&Identity>,
    ) -> String {
        let method = String::from_utf8_lossy(method).to_ascii_uppercase();
        let (auth, pk, username, flags) = match identity {
            Some(identity) => (
                identity.scheme.as_str(),
                identity.user.pk.to_string(),
                identity.user.username.to_string(),
                flags(&identity.user),
            ),
            None => ("anonymous", String::new(), String::new(), ""),
        };
        let timestamp = timestamp.to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(VERSION);
        for field in [
            timestamp.as_str(),
            &method,
            path_info,
            auth,
            &pk,
            &username,
            flags,
        ] {
            mac.update(format!("\n{}:", field.len()).as_bytes());
            mac.update(field.as_bytes());
        }
        let digest: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("t={timestamp},v1={digest}")
    }

    proptest::proptest! {
        #[test]
        fn signatures_are_the_reference_signatures(
            key in proptest::collection::vec(proptest::num::u8::ANY, 32..80),
            timestamp in proptest::num::u64::ANY,
            method in proptest::collection::vec(proptest::num::u8::ANY, 0..10),
            upper_method in "[A-Z]{0,8}",
            path_info in "\\PC{0,40}",
            int_pk in proptest::option::of(proptest::num::i64::ANY),
            text_pk in "\\PC{0,20}",
            username in "\\PC{0,30}",
            staff in proptest::bool::ANY,
            superuser in proptest::bool::ANY,
            anonymous in proptest::bool::ANY,
        ) {
            // The file's trailing newlines are not part of the key.
            let mut file = key.clone();
            while matches!(file.last(), Some(b'\n' | b'\r')) {
                file.pop();
            }
            proptest::prop_assume!(file.len() >= MIN_KEY_BYTES);
            let signer = HandoffKey::from_file_bytes(key).unwrap();
            let identity = Identity {
                user: Arc::new(User {
                    pk: int_pk.map_or_else(|| UserPk::Text(text_pk.into()), UserPk::Int),
                    username: username.into(),
                    is_active: true,
                    is_staff: staff,
                    is_superuser: superuser,
                }),
                scheme: Scheme::Token,
                authenticator: "rest_framework.authentication.TokenAuthentication".into(),
                auth: AuthObject::None,
            };
            let identity = (!anonymous).then_some(&identity);
            for method in [&method[..], upper_method.as_bytes()] {
                proptest::prop_assert_eq!(
                    signer.sign(timestamp, method, &path_info, identity).signature,
                    reference_signature(&file, timestamp, method, &path_info, identity)
                );
            }
        }
    }

    #[test]
    fn a_short_key_is_refused_and_never_printed() {
        assert!(HandoffKey::from_file_bytes(b"short\n".to_vec()).is_err());
        assert_eq!(format!("{:?}", key()), "HandoffKey(..)");
    }
}
