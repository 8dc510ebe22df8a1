//! DRF's `TokenAuthentication` (and subclasses with another keyword, such as `Bearer`).

use std::sync::Arc;

use super::{decline, fail, store_failure, succeed, Authenticator, Context, Outcome};
use crate::cache::Cached;
use crate::decision::{AuthObject, Scheme};
use crate::exceptions::{
    INVALID_TOKEN, TOKEN_INVALID_CHARACTERS, TOKEN_NO_CREDENTIALS, TOKEN_SPACES, USER_INACTIVE,
};
use crate::header::{scheme_credentials, SchemeCredentials};
use crate::request::Request;
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

    pub fn keyword(&self) -> &str {
        &self.keyword
    }
}

impl Authenticator for TokenAuthentication {
    fn authenticate(
        &self,
        request: &Request<'_>,
        cx: &Context<'_>,
        trace: &mut Tracer<'_>,
    ) -> Outcome {
        let header = request.header("Authorization").unwrap_or_default();
        let credentials = match scheme_credentials(&header, &self.keyword_lower) {
            SchemeCredentials::NotThisScheme => {
                return decline(&self.name, trace, || {
                    format!("no `Authorization: {} …` header", self.keyword)
                })
            }
            SchemeCredentials::NoCredentials => {
                return fail(&self.name, trace, TOKEN_NO_CREDENTIALS)
            }
            SchemeCredentials::TooManyParts => return fail(&self.name, trace, TOKEN_SPACES),
            SchemeCredentials::Credentials(c) => c,
        };
        let Ok(key) = std::str::from_utf8(credentials) else {
            return fail(&self.name, trace, TOKEN_INVALID_CHARACTERS);
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

    fn authenticate_header(&self) -> Option<&Arc<str>> {
        Some(&self.keyword)
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }
}
