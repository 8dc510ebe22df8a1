//! DRF's `TokenAuthentication` (and subclasses with another keyword, such as `Bearer`).

use std::sync::Arc;

use super::{decline, fail, store_failure, succeed, Authenticator, Context, Outcome};
use crate::cache::Cached;
use crate::decision::{AuthObject, Scheme, User};
use crate::exceptions::{
    INVALID_TOKEN, TOKEN_INVALID_CHARACTERS, TOKEN_NO_CREDENTIALS, TOKEN_SPACES, USER_INACTIVE,
};
use crate::header::{scheme_credentials, SchemeCredentials};
use crate::request::Request;
use crate::store::StoreError;
use crate::trace::Tracer;

pub struct TokenAuthentication {
    name: Arc<str>,
    /// Compared case-insensitively with the header's first field.
    keyword_lower: Box<[u8]>,
    /// Sent verbatim as `WWW-Authenticate`.
    keyword: Arc<str>,
}

impl TokenAuthentication {
    pub fn new(name: Arc<str>, keyword: &str) -> TokenAuthentication {
        TokenAuthentication {
            name,
            // DRF lower-cases the keyword with Unicode rules, then encodes it as UTF-8.
            keyword_lower: keyword.to_lowercase().into_bytes().into_boxed_slice(),
            keyword: Arc::from(keyword),
        }
    }
}

impl TokenAuthentication {
    /// The key from `Authorization: <keyword> <key>`, or the outcome that ends this class's turn.
    fn key<'h>(&self, header: &'h [u8], trace: &mut Tracer<'_>) -> Result<&'h str, Outcome> {
        let credentials = match scheme_credentials(header, &self.keyword_lower) {
            SchemeCredentials::NotThisScheme => {
                return Err(decline(&self.name, trace, || {
                    format!("no `Authorization: {} …` header", self.keyword)
                }))
            }
            SchemeCredentials::NoCredentials => {
                return Err(fail(&self.name, trace, TOKEN_NO_CREDENTIALS))
            }
            SchemeCredentials::TooManyParts => return Err(fail(&self.name, trace, TOKEN_SPACES)),
            SchemeCredentials::Credentials(c) => c,
        };
        crate::header::utf8(credentials)
            .map_err(|_| fail(&self.name, trace, TOKEN_INVALID_CHARACTERS))
    }

    /// DRF's `authenticate_credentials` once the token's user (or its absence) is known.
    fn finish(
        &self,
        found: Result<Cached<Arc<User>>, Arc<StoreError>>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let user = match found {
            Ok(Cached::Found(user)) => user,
            Ok(Cached::Unknown) => {
                trace.hint(|| {
                    "the token is not in the token table: was it deleted or regenerated, or is \
                     it from another environment's database?"
                        .into()
                });
                return fail(&self.name, trace, INVALID_TOKEN);
            }
            Err(err) => return store_failure(&self.name, &err),
        };
        if !user.is_active {
            trace.hint(|| format!("user {:?} has is_active = false", user.username));
            return fail(&self.name, trace, USER_INACTIVE);
        }
        succeed(&self.name, trace, user, Scheme::Token, AuthObject::Token)
    }
}

impl Authenticator for TokenAuthentication {
    fn authenticate(
        &self,
        _request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let header = cx.authorization;
        let key = match self.key(header, trace) {
            Ok(key) => key,
            Err(outcome) => return outcome,
        };
        let cache_key = cx.tokens.key(super::TOKEN_KEYS, &[key.as_bytes()]);
        let found = cx.tokens.get_or_load(cache_key, || {
            cx.store
                .user_by_token(key)
                .map(|user| match user {
                    Some(user) => Cached::Found(Arc::new(user)),
                    None => Cached::Unknown,
                })
                .map_err(Arc::new)
        });
        self.finish(found, trace)
    }

    fn authenticate_cached(
        &self,
        _request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Option<Outcome> {
        let header = cx.authorization;
        let key = match self.key(header, trace) {
            Ok(key) => key,
            Err(outcome) => return Some(outcome),
        };
        let cache_key = cx.tokens.key(super::TOKEN_KEYS, &[key.as_bytes()]);
        let found = cx.tokens.get(&cache_key)?;
        Some(self.finish(Ok(found), trace))
    }

    fn authenticate_header(&self) -> Option<&Arc<str>> {
        Some(&self.keyword)
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }
}
