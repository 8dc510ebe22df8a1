//! The configured algorithm and key, and signature verification through `jsonwebtoken`.
//!
//! Keys are checked when the config loads, so that a key PyJWT would turn into a 500 on every
//! request (an `HS*` secret that is a PEM or SSH public key, an empty `VERIFYING_KEY`) or one
//! the RustCrypto backend cannot use (an RSA modulus over 4096 bits, a curve other than the
//! algorithm's) is an error naming the key, never a silently refused token.

use jsonwebtoken::{Algorithm as JoseAlgorithm, DecodingKey};
use rsa::pkcs1::DecodeRsaPublicKey;

/// The algorithms simplejwt allows and drfgate verifies. (`ES512` and Ed448 keys are allowed
/// by simplejwt but not by `jsonwebtoken`: refused at load, see docs/differences.md.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

const ALL: [Algorithm; 12] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The `ALGORITHM` setting's value, or why it is refused.
    pub fn from_setting(name: &str) -> Result<Algorithm, String> {
        if let Some(alg) = ALL.iter().find(|a| a.name() == name) {
            return Ok(*alg);
        }
        match name {
            "ES512" | "ES256K" => Err(format!(
                "{name} is not supported by drfgate (its signature library has no {name}); \
                 use ES256 or ES384"
            )),
            "none" => Err("\"none\" is not an algorithm simplejwt accepts".into()),
            _ => {
                let names: Vec<&str> = ALL.iter().map(|a| a.name()).collect();
                Err(format!(
                    "unrecognized algorithm {name:?}; one of {}",
                    names.join(", ")
                ))
            }
        }
    }

    /// HMAC algorithms verify with `SIGNING_KEY`; the others with `VERIFYING_KEY`.
    pub fn is_hmac(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }

    fn jose(self) -> JoseAlgorithm {
        match self {
            Algorithm::HS256 => JoseAlgorithm::HS256,
            Algorithm::HS384 => JoseAlgorithm::HS384,
            Algorithm::HS512 => JoseAlgorithm::HS512,
            Algorithm::RS256 => JoseAlgorithm::RS256,
            Algorithm::RS384 => JoseAlgorithm::RS384,
            Algorithm::RS512 => JoseAlgorithm::RS512,
            Algorithm::PS256 => JoseAlgorithm::PS256,
            Algorithm::PS384 => JoseAlgorithm::PS384,
            Algorithm::PS512 => JoseAlgorithm::PS512,
            Algorithm::ES256 => JoseAlgorithm::ES256,
            Algorithm::ES384 => JoseAlgorithm::ES384,
            Algorithm::EdDSA => JoseAlgorithm::EdDSA,
        }
    }
}

/// Why a configured key cannot be used.
pub type KeyError = String;

/// The configured algorithm with its key, ready to verify. Its `Debug` shows no key.
pub struct Verifier {
    algorithm: Algorithm,
    key: DecodingKey,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier({}, key …)", self.algorithm.name())
    }
}

/// What PyJWT's `HMACAlgorithm.prepare_key` refuses (`is_pem_format` / `is_ssh_key`).
fn looks_asymmetric(secret: &[u8]) -> bool {
    let text = String::from_utf8_lossy(secret);
    text.contains("-----BEGIN ")
        || [
            "ssh-rsa",
            "ssh-ed25519",
            "ssh-dss",
            "ecdsa-sha2-",
            "sk-ecdsa-sha2-",
            "sk-ssh-ed25519",
        ]
        .iter()
        .any(|p| text.starts_with(p))
}

impl Verifier {
    /// An `HS*` verifier over the raw bytes of `SIGNING_KEY` (simplejwt derives nothing).
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Verifier, KeyError> {
        if !algorithm.is_hmac() {
            return Err(format!("{} does not use a shared secret", algorithm.name()));
        }
        if looks_asymmetric(secret) {
            return Err(
                "the HMAC secret is a PEM or SSH public key; PyJWT refuses such a \
                 key for HS* algorithms (every request would fail with 500)"
                    .into(),
            );
        }
        Ok(Verifier {
            algorithm,
            key: DecodingKey::from_secret(secret),
        })
    }

    /// An asymmetric verifier over a PEM public key (`VERIFYING_KEY`).
    pub fn public_key(algorithm: Algorithm, pem: &str) -> Result<Verifier, KeyError> {
        let pem = pem.trim();
        if pem.is_empty() {
            return Err(format!(
                "{} needs VERIFYING_KEY (a PEM public key)",
                algorithm.name()
            ));
        }
        let bad = |e: jsonwebtoken::errors::Error| {
            format!(
                "not a PEM public key for {}: {e} (expected \"-----BEGIN PUBLIC KEY-----\"{})",
                algorithm.name(),
                if matches!(algorithm.jose(), JoseAlgorithm::RS256) {
                    " or \"-----BEGIN RSA PUBLIC KEY-----\""
                } else {
                    ""
                }
            )
        };
        let key = match algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                return Err("HS* algorithms verify with SIGNING_KEY".into())
            }
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => {
                let key = DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(bad)?;
                rsa::RsaPublicKey::from_pkcs1_der(key.as_bytes()).map_err(|e| {
                    format!("the RSA public key cannot be used: {e} (at most 4096 bits)")
                })?;
                key
            }
            Algorithm::ES256 | Algorithm::ES384 => {
                DecodingKey::from_ec_pem(pem.as_bytes()).map_err(bad)?
            }
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem.as_bytes()).map_err(bad)?,
        };
        // The verifier is built per call; building one now refuses a key of the wrong curve
        // (a P-384 key for ES256, an Ed448 key) here rather than on every request.
        if jsonwebtoken::crypto::verify("", b"", &key, algorithm.jose()).is_err() {
            return Err(format!(
                "the public key does not fit {} (wrong curve or key type)",
                algorithm.name()
            ));
        }
        Ok(Verifier { algorithm, key })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether `signature` signs `signing_input` under the configured algorithm and key.
    pub fn verify(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        // jsonwebtoken takes the signature base64url-encoded; the bytes were decoded (and
        // judged canonical) already, so this re-encoding is exact.
        use base64::Engine;
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature);
        matches!(
            jsonwebtoken::crypto::verify(&encoded, signing_input, &self.key, self.algorithm.jose()),
            Ok(true)
        )
    }
}
