//! What the revocation listener acts on: the gate's caches of what credentials resolved to,
//! emptied for one user or for everyone when a notification says so, and the token filter kept
//! fresh from the same notifications.

use std::collections::HashSet;
use std::sync::Arc;

use super::PERMISSION_KEYS;
use crate::cache::CredentialCache;
use crate::decision::{User, UserPk};

/// The caches that hold what a user's credentials resolved to, shared with the revocation
/// listener's thread.
pub(super) struct CachedCredentials {
    pub(super) tokens: Arc<CredentialCache<Arc<User>>>,
    pub(super) passwords: Arc<CredentialCache<Arc<User>>>,
    pub(super) permissions: Arc<CredentialCache<Arc<HashSet<String>>>>,
    pub(super) sessions: Arc<CredentialCache<Arc<crate::auth::SessionUser>>>,
    pub(super) jwt: Option<Arc<crate::auth::JwtShared>>,
    pub(super) knox: Arc<crate::auth::KnoxShared>,
    /// Keeps the token filter fresh from the listener's notifications.
    pub(super) filter_keeper: Option<crate::store::filter_keeper::FilterKeeper>,
}

impl CachedCredentials {
    pub(super) fn invalidate_user(&self, pk: &UserPk) -> usize {
        let by_pk = |u: &Arc<User>| u.pk == *pk;
        let key = self
            .permissions
            .key(PERMISSION_KEYS, &[pk.to_string().as_bytes()]);
        let jwt = self.jwt.as_ref().map_or(0, |jwt| jwt.invalidate_user(pk));
        self.tokens.invalidate_where(by_pk)
            + jwt
            + self.knox.invalidate_user(pk)
            + self.passwords.invalidate_where(by_pk)
            + self.sessions.invalidate_where(|s| s.user.pk == *pk)
            + usize::from(self.permissions.invalidate(&key))
    }
}

impl crate::revocation::Revocable for CachedCredentials {
    fn revoke_user(&self, pk: &UserPk) -> usize {
        self.invalidate_user(pk)
    }

    fn revoke_all(&self) -> usize {
        let jwt = self.jwt.as_ref().map_or(0, |jwt| jwt.invalidate_all());
        self.tokens.invalidate_where(|_| true)
            + jwt
            + self.knox.invalidate_all()
            + self.passwords.invalidate_where(|_| true)
            + self.sessions.invalidate_where(|_| true)
            + self.permissions.invalidate_where(|_| true)
    }

    fn subscribed(&self) {
        if let Some(keeper) = &self.filter_keeper {
            keeper.subscribed();
        }
    }

    fn unsubscribed(&self) {
        if let Some(keeper) = &self.filter_keeper {
            keeper.unsubscribed();
        }
    }

    fn user_changed(&self, pk: &str) {
        let Some(keeper) = &self.filter_keeper else {
            return;
        };
        // A key new to the filter may have been refused by it before its notification came:
        // that refusal, in the negative cache, must not outlive the notification. (A key found
        // meanwhile, within the budget, stays cached: a new token revokes nothing.)
        for key in keeper.user_changed(pk) {
            let key = self.tokens.key(crate::auth::TOKEN_KEYS, &[key.as_bytes()]);
            self.tokens.forget_unknown(&key);
        }
    }

    fn tick(&self) {
        if let Some(keeper) = &self.filter_keeper {
            keeper.tick();
        }
    }
}
