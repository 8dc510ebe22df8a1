//! django-rest-knox 5.x's `knox.auth.TokenAuthentication` (spec §9.3): the header as DRF's
//! Token reads it but with `AUTH_HEADER_PREFIX`; the rows whose `token_key` is the token's
//! first 15 characters; the one whose `digest` is the hex SHA-512 of the token (compared in
//! constant time); expired rows skipped (knox also deletes them: drfgate never writes, see
//! docs/differences.md); inactive users refused.
//!
//! Caching: the matching row's user and expiry are kept under a keyed hash of the token for
//! `ttl_seconds`; the expiry is judged against the clock on every request, so a cached token
//! is never accepted past it. Tokens without a row are remembered in the negative space.

use std::sync::Arc;

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use super::{decline, fail, store_failure, succeed, Authenticator, Context, Outcome};
use crate::cache::{CacheConfig, Cached, CredentialCache, KeyDomain};
use crate::config::KnoxSettings;
use crate::decision::{AuthObject, Scheme, User};
use crate::exceptions::{
    ApiError, INVALID_TOKEN, TOKEN_NO_CREDENTIALS, TOKEN_SPACES, USER_INACTIVE,
};
use crate::header::{scheme_credentials, SchemeCredentials};
use crate::jwt::{SystemWallClock, WallClock};
use crate::request::Request;
use crate::store::StoreError;
use crate::trace::Tracer;

const KNOX_KEYS: KeyDomain = KeyDomain::new("knox-token");
/// knox's `CONSTANTS.TOKEN_KEY_LENGTH`.
const TOKEN_KEY_LENGTH: usize = 15;

/// The row a token matched: its user and expiry (Unix seconds; `None` never expires).
#[derive(Clone, Debug)]
pub(crate) struct KnoxHit {
    pub(crate) user: Arc<User>,
    expiry: Option<f64>,
}

/// What every knox class of a gate shares.
pub(crate) struct KnoxShared {
    prefix: Arc<str>,
    prefix_lower: Box<[u8]>,
    clock: Arc<dyn WallClock>,
    tokens: CredentialCache<Arc<KnoxHit>>,
}

impl KnoxShared {
    pub(crate) fn new(settings: &KnoxSettings, cache: &CacheConfig) -> KnoxShared {
        KnoxShared::with_clock(settings, cache, Arc::new(SystemWallClock))
    }

    pub(crate) fn with_clock(
        settings: &KnoxSettings,
        cache: &CacheConfig,
        clock: Arc<dyn WallClock>,
    ) -> KnoxShared {
        KnoxShared {
            prefix: Arc::from(settings.auth_header_prefix.as_str()),
            prefix_lower: settings
                .auth_header_prefix
                .to_ascii_lowercase()
                .into_bytes()
                .into_boxed_slice(),
            clock,
            tokens: CredentialCache::new(cache.clone()),
        }
    }

    pub(crate) fn invalidate_all(&self) -> usize {
        self.tokens.invalidate_where(|_| true)
    }

    pub(crate) fn invalidate_user(&self, pk: &crate::decision::UserPk) -> usize {
        self.tokens.invalidate_where(|hit| hit.user.pk == *pk)
    }
}

pub(crate) struct KnoxAuthentication {
    name: Arc<str>,
    shared: Arc<KnoxShared>,
}

/// knox's `hash_token`: hex SHA-512 of the token's UTF-8 bytes (prefix included).
fn digest(token: &str) -> String {
    Sha512::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl KnoxAuthentication {
    pub(crate) fn new(name: Arc<str>, shared: Arc<KnoxShared>) -> KnoxAuthentication {
        KnoxAuthentication { name, shared }
    }

    fn token<'h>(&self, header: &'h [u8], trace: &mut Tracer<'_>) -> Result<&'h str, Outcome> {
        let credentials = match scheme_credentials(header, &self.shared.prefix_lower) {
            SchemeCredentials::NotThisScheme => {
                return Err(decline(&self.name, trace, || {
                    format!("no `Authorization: {} …` header", self.shared.prefix)
                }))
            }
            SchemeCredentials::NoCredentials => {
                return Err(fail(&self.name, trace, TOKEN_NO_CREDENTIALS))
            }
            SchemeCredentials::TooManyParts => return Err(fail(&self.name, trace, TOKEN_SPACES)),
            SchemeCredentials::Credentials(c) => c,
        };
        // knox's `token.decode("utf-8")` raises on anything else: Django answers 500.
        std::str::from_utf8(credentials).map_err(|_| {
            trace.hint(|| "the token is not UTF-8: knox raises UnicodeDecodeError (500)".into());
            Outcome::Fail(ApiError::ServerError)
        })
    }

    fn load(&self, token: &str, cx: &Context<'_>) -> Result<Cached<Arc<KnoxHit>>, StoreError> {
        let token_key: String = token.chars().take(TOKEN_KEY_LENGTH).collect();
        let wanted = digest(token);
        let rows = cx.store.knox_tokens(&token_key)?;
        // The digest is the table's primary key: at most one row matches.
        let hit = rows
            .into_iter()
            .find(|row| bool::from(row.digest.as_bytes().ct_eq(wanted.as_bytes())));
        Ok(match hit {
            Some(row) => Cached::Found(Arc::new(KnoxHit {
                user: Arc::new(row.user),
                expiry: row.expiry,
            })),
            None => Cached::Unknown,
        })
    }

    fn finish(
        &self,
        found: Result<Cached<Arc<KnoxHit>>, Arc<StoreError>>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let hit = match found {
            Ok(Cached::Found(hit)) => hit,
            Ok(Cached::Unknown) => {
                trace.hint(|| {
                    "no knox_authtoken row has this token's digest: logged out, or another \
                     database?"
                        .into()
                });
                return fail(&self.name, trace, INVALID_TOKEN);
            }
            Err(err) => return store_failure(&self.name, &err),
        };
        let now = self.shared.clock.unix_now();
        if let Some(expiry) = hit.expiry.filter(|&e| e < now) {
            trace.hint(|| format!("the token expired at {expiry:.0} (now {now:.0})"));
            return fail(&self.name, trace, INVALID_TOKEN);
        }
        if !hit.user.is_active {
            trace.hint(|| format!("user {:?} has is_active = false", hit.user.username));
            return fail(&self.name, trace, USER_INACTIVE);
        }
        succeed(
            &self.name,
            trace,
            hit.user.clone(),
            Scheme::Knox,
            AuthObject::Token,
        )
    }
}

impl Authenticator for KnoxAuthentication {
    fn authenticate(
        &self,
        _request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let header = cx.authorization;
        let token = match self.token(header, trace) {
            Ok(token) => token,
            Err(outcome) => return outcome,
        };
        let key = self.shared.tokens.key(KNOX_KEYS, &[token.as_bytes()]);
        let found = self
            .shared
            .tokens
            .get_or_load(key, || self.load(token, cx).map_err(Arc::new));
        self.finish(found, trace)
    }

    fn authenticate_cached(
        &self,
        _request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Option<Outcome> {
        let _ = cx;
        let header = cx.authorization;
        let token = match self.token(header, trace) {
            Ok(token) => token,
            Err(outcome) => return Some(outcome),
        };
        let key = self.shared.tokens.key(KNOX_KEYS, &[token.as_bytes()]);
        let found = self.shared.tokens.get(&key)?;
        Some(self.finish(Ok(found), trace))
    }

    fn authenticate_header(&self) -> Option<&Arc<str>> {
        Some(&self.shared.prefix)
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Backends;
    use crate::hashers::PasswordHashers;
    use crate::store::{Schema, SqliteStore};

    const T: f64 = 1_700_000_000.0; // 2023-11-14 22:13:20 UTC
    const TOKEN: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    /// `Ok(username)` or `Err(detail)`, at `now`, through one shared cache.
    fn judge(
        store: &SqliteStore,
        shared: &Arc<KnoxShared>,
        header: &str,
    ) -> Result<String, String> {
        let tokens = CredentialCache::new(CacheConfig::default());
        let passwords = CredentialCache::new(CacheConfig::default());
        let (hashers, backends) = (PasswordHashers::django_default(), Backends::default());
        let cx = Context {
            store,
            tokens: &tokens,
            passwords: &passwords,
            hashers: &hashers,
            backends: &backends,
            sessions: &crate::auth::Sessions::unused(),
            authorization: header.as_bytes(),
        };
        let headers: Vec<(&[u8], &[u8])> = vec![(b"Authorization", header.as_bytes())];
        let request = Request::new(b"GET", b"/").with_headers(&headers);
        let knox = KnoxAuthentication::new("knox.auth.TokenAuthentication".into(), shared.clone());
        match knox.authenticate(&request, &cx, &mut Tracer::off()) {
            Outcome::Success(identity) => Ok(identity.user.username.to_string()),
            Outcome::Fail(error) => Err(error.describe()),
            Outcome::Decline => Err("decline".into()),
            Outcome::Defer => Err("defer".into()),
        }
    }

    #[test]
    fn rows_expiry_and_inactive_users_at_a_fixed_clock() {
        let dir = tempfile::tempdir().unwrap();
        let rows = format!(
            "INSERT INTO auth_user (id, password, username, is_active) VALUES (1, 'x', 'alice', 1), (2, 'x', 'ina', 0);
             CREATE TABLE knox_authtoken (digest VARCHAR(128) PRIMARY KEY, token_key VARCHAR(25) NOT NULL,
                 user_id INTEGER NOT NULL, created DATETIME NOT NULL, expiry DATETIME NULL);
             INSERT INTO knox_authtoken VALUES ('{}', '{}', 1, '2023-11-14 00:00:00', '2023-11-14 22:13:30');
             INSERT INTO knox_authtoken VALUES ('{}', '{}', 2, '2023-11-14 00:00:00', NULL);",
            digest(TOKEN),
            &TOKEN[..15],
            digest(&format!("ina{TOKEN}")),
            &format!("ina{TOKEN}")[..15],
        );
        let db = drfgate_test_support::scratch_db(dir.path(), &rows);
        let store = SqliteStore::open(&db, Schema::default()).unwrap();
        let now = Arc::new(parking_lot::Mutex::new(T));
        struct Clock(Arc<parking_lot::Mutex<f64>>);
        impl WallClock for Clock {
            fn unix_now(&self) -> f64 {
                *self.0.lock()
            }
        }
        let shared = Arc::new(KnoxShared::with_clock(
            &KnoxSettings::default(),
            &CacheConfig::default(),
            Arc::new(Clock(now.clone())),
        ));
        let header = format!("token {TOKEN}");
        assert_eq!(judge(&store, &shared, &header), Ok("alice".into()));
        // Now answered from the cache, and still never past the row's expiry.
        *now.lock() = T + 10.5;
        assert_eq!(judge(&store, &shared, &header), Err(INVALID_TOKEN.into()));
        assert_eq!(
            judge(&store, &shared, &format!("Token ina{TOKEN}")),
            Err(USER_INACTIVE.into())
        );
        assert_eq!(
            judge(&store, &shared, &format!("Token {}0", &TOKEN[..63])),
            Err(INVALID_TOKEN.into())
        );
        assert_eq!(
            judge(&store, &shared, "Token"),
            Err(TOKEN_NO_CREDENTIALS.into())
        );
        assert_eq!(
            judge(&store, &shared, "Token a b"),
            Err(TOKEN_SPACES.into())
        );
        assert_eq!(judge(&store, &shared, "Bearer x"), Err("decline".into()));
    }

    #[test]
    fn the_spec_vector_digest() {
        // Spec §9.2 [MG+X].
        let token = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(
            digest(token),
            "286f37dd952ff65ef75ffdc183e73b33e111d0d1652c3356e4bc54c714a34df8c3bb4c8d48b799e11e97ff2bd86f4d396bd13e764c81d2be8ead32d47bd8f848"
        );
        assert_eq!(
            digest(&format!("myapp_{token}")),
            "658a0e58d5869b49a469a3f0b026059432054645bd7ca313663fac2ae510fc5b8bca65f352c9ffbfb8ae523c39fcdd6c0e2e652f29488bb780e9e54bde217f36"
        );
    }
}
