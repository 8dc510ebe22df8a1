//! A filter of the token keys the token table holds, so that a flood of distinct junk tokens
//! does not become a flood of database queries (issue 15, part 5).
//!
//! Every distinct unknown token costs one lookup before the negative cache can answer it; on a
//! network database a flood of them is as many queries. The filter knows every key of the
//! token table, as a 64-bit keyed hash (SipHash-1-3 under a key drawn once per gate, as the
//! caches' keys; never the raw key): a key it does not hold cannot match a row.
//!
//! It is kept by `[revocation]`'s listener, which is what makes it trustworthy: loaded in full
//! once the subscription is in place (so no insert between the load and the subscription is
//! missed: the insert's notification comes after the subscription and is applied after the
//! load), and refreshed for one user (that user's keys read again) on each notification naming
//! the user; the PostgreSQL triggers and the Django signal handlers notify on a token's insert
//! as well as its deletion. It is *authoritative* only while the listener is connected and the
//! load has completed; otherwise (no listener, the listener reconnecting, a load or a refresh
//! that failed) every unknown key is looked up as before.
//!
//! While authoritative, a key the filter does not hold is still looked up while a small budget
//! per second (`[cache] unlisted_token_lookups_per_second`) has room: without a flood nothing
//! changes, and a token created a moment ago whose notification is still on its way is found.
//! Past the budget, such a key is answered `Invalid token.` without a query. The race this
//! leaves: a brand-new token presented during a junk flood, before its notification arrives
//! (milliseconds), is refused; its notification then drops that refusal from the negative
//! cache, so the next request finds it (unless a refusal decided just before the notification
//! is stored just after it, a window of microseconds: then until `negative_ttl_seconds`).
//!
//! The filter only ever says "maybe there" for a key it holds: a deleted token's key stays in it
//! (looked up, and refused, as before) until the next full load, which happens when the filter
//! has grown to twice its loaded size (plus `RELOAD_SLACK`), so churn cannot grow it without
//! bound. Two keys sharing a 64-bit hash only make a junk key look listed (one query, as
//! before); with 10^6 keys the chance for one junk key is about 5 × 10^-14.
//!
//! Memory: 8 bytes and a control byte per bucket of a hash table whose load factor stays between
//! 7/16 and 7/8 (it doubles as it grows), so 10.3–20.6 bytes per key: at most 21 MB for 10^6
//! tokens. A full load reads the table in pages of `LOAD_PAGE` keys, so the load itself holds no
//! more than a page besides the new table (the old one is dropped when the new one is in).

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use siphasher::sip::SipHasher13;

use super::budget::LookupBudget;
use super::{Store, StoreError};

/// Keys read per query of a full load.
pub(crate) const LOAD_PAGE: usize = 10_000;
/// Growth past twice the loaded size tolerated before a full load drops deleted keys.
const RELOAD_SLACK: usize = 1_024;

/// What the filter says about a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Look it up: the filter holds it, or is not authoritative now, or the budget for keys it
    /// does not hold had room.
    LookUp,
    /// Not in the token table (the filter is authoritative and does not hold it) and this
    /// second's budget for such keys is spent: `Invalid token.` without a query.
    Refuse,
}

struct Keys {
    /// Loaded in full since the listener last (re)subscribed, and no refresh failed since.
    authoritative: bool,
    /// The size of the last full load, to know when churn calls for another.
    loaded: usize,
    hashes: HashSet<u64, PassThrough>,
}

/// The filter; see the module documentation.
pub(crate) struct TokenFilter {
    hash_keys: (u64, u64),
    keys: RwLock<Keys>,
    unlisted_budget: LookupBudget,
    /// Keys refused without a query since the gate was built.
    refused: AtomicU64,
}

impl TokenFilter {
    pub(crate) fn new(unlisted_lookups_per_second: u32) -> TokenFilter {
        TokenFilter {
            hash_keys: crate::cache::random_hash_keys(),
            keys: RwLock::new(Keys {
                authoritative: false,
                loaded: 0,
                hashes: HashSet::with_hasher(PassThrough),
            }),
            unlisted_budget: LookupBudget::new(
                unlisted_lookups_per_second,
                "unlisted_token_lookups_per_second",
                "lookups of tokens the token filter does not hold (a flood of junk tokens?); \
                 such tokens are answered \"Invalid token.\" without a query for the rest of \
                 each second",
            ),
            refused: AtomicU64::new(0),
        }
    }

    fn hash(&self, key: &str) -> u64 {
        let mut sip = SipHasher13::new_with_keys(self.hash_keys.0, self.hash_keys.1);
        sip.write(key.as_bytes());
        sip.finish()
    }

    /// Whether a key the caches could not answer may be looked up.
    pub(crate) fn admit(&self, key: &str, location: &str) -> Admission {
        let hash = self.hash(key);
        {
            let keys = self.keys.read();
            if !keys.authoritative || keys.hashes.contains(&hash) {
                return Admission::LookUp;
            }
        }
        if self.unlisted_budget.take(location) {
            return Admission::LookUp;
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        Admission::Refuse
    }

    /// Not trusted until the next full load (the listener lost its subscription, or a refresh
    /// failed); the memory is given back.
    pub(crate) fn distrust(&self) {
        let mut keys = self.keys.write();
        keys.authoritative = false;
        keys.loaded = 0;
        keys.hashes = HashSet::with_hasher(PassThrough);
    }

    pub(crate) fn is_authoritative(&self) -> bool {
        self.keys.read().authoritative
    }

    /// Whether churn has grown the filter enough that a full load should drop deleted keys.
    pub(crate) fn wants_reload(&self) -> bool {
        let keys = self.keys.read();
        !keys.authoritative || keys.hashes.len() > 2 * keys.loaded + RELOAD_SLACK
    }

    /// Reads every key of the token table, page by page, and makes the filter authoritative
    /// with them. On failure the filter stays distrusted.
    pub(crate) fn load(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let mut hashes = HashSet::with_hasher(PassThrough);
        let mut after = String::new();
        loop {
            let page = store.token_keys_after(&after, LOAD_PAGE)?;
            hashes.reserve(page.len());
            for key in &page {
                hashes.insert(self.hash(key));
            }
            match page.last() {
                Some(last) if page.len() == LOAD_PAGE => after.clone_from(last),
                _ => break,
            }
        }
        hashes.shrink_to_fit();
        let count = hashes.len();
        let mut keys = self.keys.write();
        *keys = Keys {
            authoritative: true,
            loaded: count,
            hashes,
        };
        Ok(count)
    }

    /// Adds a user's current keys (read after the notification naming the user), and returns
    /// those the filter did not hold: a refusal of one of them may be in the negative cache.
    pub(crate) fn add<'k>(&self, user_keys: &'k [String]) -> Vec<&'k str> {
        let mut keys = self.keys.write();
        if !keys.authoritative {
            return Vec::new();
        }
        user_keys
            .iter()
            .filter(|key| keys.hashes.insert(self.hash(key)))
            .map(String::as_str)
            .collect()
    }

    /// Keys held now.
    pub(crate) fn len(&self) -> usize {
        self.keys.read().hashes.len()
    }

    /// Bytes the key table holds now (its buckets and control bytes).
    pub(crate) fn table_bytes(&self) -> usize {
        let capacity = self.keys.read().hashes.capacity();
        // hashbrown: `capacity` is 7/8 of the buckets; one control byte per bucket.
        (capacity * 8 / 7 + 1) * (std::mem::size_of::<u64>() + 1)
    }

    /// Keys refused without a query since the gate was built.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// The keys are already keyed hashes: the table uses them as they are.
#[derive(Clone, Copy, Default)]
struct PassThrough;

impl BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{User, UserPk};
    use crate::store::{StoreSummary, UserWithPassword};
    use std::sync::atomic::AtomicUsize;

    /// A token table of `n` keys, answering the filter's pages in key order.
    struct Table {
        keys: Vec<String>,
        pages: AtomicUsize,
    }

    impl Table {
        fn new(n: usize) -> Table {
            let mut keys: Vec<String> = (0..n).map(|i| format!("key{i:08}")).collect();
            keys.sort();
            Table {
                keys,
                pages: AtomicUsize::new(0),
            }
        }
    }

    impl Store for Table {
        fn user_by_token(&self, _: &str) -> Result<Option<User>, StoreError> {
            unreachable!()
        }
        fn user_by_username(&self, _: &str) -> Result<Option<UserWithPassword>, StoreError> {
            unreachable!()
        }
        fn user_permissions(&self, _: &UserPk) -> Result<HashSet<String>, StoreError> {
            unreachable!()
        }
        fn summary(&self) -> Result<StoreSummary, StoreError> {
            unreachable!()
        }
        fn token_keys_after(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
            self.pages.fetch_add(1, Ordering::Relaxed);
            Ok(self
                .keys
                .iter()
                .filter(|k| k.as_str() > after)
                .take(limit)
                .cloned()
                .collect())
        }
    }

    #[test]
    fn not_authoritative_until_loaded_then_refuses_unlisted_keys_past_the_budget() {
        let filter = TokenFilter::new(3);
        // Not loaded: everything is looked up, no budget spent.
        for i in 0..10 {
            assert_eq!(filter.admit(&format!("junk{i}"), "db"), Admission::LookUp);
        }
        let table = Table::new(2 * LOAD_PAGE + 5);
        assert_eq!(filter.load(&table).unwrap(), 2 * LOAD_PAGE + 5);
        assert_eq!(table.pages.load(Ordering::Relaxed), 3, "read page by page");
        assert!(filter.is_authoritative());
        // Listed keys always; unlisted ones while this second's budget lasts.
        let mut refused = 0;
        for i in 0..100 {
            assert_eq!(filter.admit(&table.keys[i], "db"), Admission::LookUp);
            if filter.admit(&format!("junk{i}"), "db") == Admission::Refuse {
                refused += 1;
            }
        }
        // At most two one-second windows passed: 3 or 6 unlisted lookups let through.
        assert!((94..=97).contains(&refused), "{refused}");
        assert_eq!(filter.refused(), refused);
    }

    #[test]
    fn a_refreshed_user_adds_keys_and_distrust_drops_everything() {
        let filter = TokenFilter::new(0);
        let table = Table::new(10);
        filter.load(&table).unwrap();
        assert_eq!(filter.admit("new-key", "db"), Admission::Refuse);
        let user_keys = vec!["new-key".to_string(), table.keys[0].clone()];
        assert_eq!(filter.add(&user_keys), vec!["new-key"]);
        assert_eq!(filter.admit("new-key", "db"), Admission::LookUp);
        assert_eq!(filter.len(), 11);

        filter.distrust();
        assert!(!filter.is_authoritative());
        assert_eq!(filter.len(), 0);
        assert_eq!(filter.admit("other", "db"), Admission::LookUp);
        // Nothing is added to a filter that is not loaded.
        assert!(filter.add(&user_keys).is_empty());
    }

    #[test]
    fn churn_calls_for_a_reload() {
        let filter = TokenFilter::new(0);
        assert!(filter.wants_reload(), "never loaded");
        filter.load(&Table::new(100)).unwrap();
        assert!(!filter.wants_reload());
        let churn: Vec<String> = (0..100 + RELOAD_SLACK + 1)
            .map(|i| format!("regenerated{i}"))
            .collect();
        filter.add(&churn);
        assert!(filter.wants_reload());
    }

    #[test]
    fn the_table_costs_at_most_21_bytes_a_key() {
        for n in [1_000, 57_345, 100_000] {
            let filter = TokenFilter::new(0);
            filter.load(&Table::new(n)).unwrap();
            let per_key = filter.table_bytes() as f64 / n as f64;
            assert!(per_key <= 20.6, "{n} keys: {per_key} bytes a key");
        }
    }

    #[test]
    fn keys_are_hashed_under_a_key_of_each_filter() {
        let a = TokenFilter::new(0);
        let b = TokenFilter::new(0);
        assert_ne!(a.hash("same"), b.hash("same"));
        assert_eq!(a.hash("same"), a.hash("same"));
    }
}
