//! STUB until wip/cache lands.
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;
#[derive(Clone, Debug)]
pub struct CacheConfig {
    pub max_entries: usize,
    pub ttl: Duration,
    pub negative_max_entries: usize,
    pub negative_ttl: Duration,
    pub shards: usize,
}
impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_entries: 100_000,
            ttl: Duration::from_secs(60),
            negative_max_entries: 25_000,
            negative_ttl: Duration::from_secs(5),
            shards: 16,
        }
    }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey(u128);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyDomain {
    Token,
    Basic,
    Permissions,
}
#[derive(Clone, Debug)]
pub enum Cached<V> {
    Found(V),
    Unknown,
}
#[derive(Clone, Debug, Default)]
pub struct CacheStats {
    pub hits: u64,
    pub negative_hits: u64,
    pub misses: u64,
    pub loads: u64,
    pub evictions: u64,
    pub expirations: u64,
    pub invalidations: u64,
    pub entries: usize,
    pub negative_entries: usize,
}
pub struct CredentialCache<V> {
    map: Mutex<HashMap<CacheKey, Cached<V>>>,
}
impl<V: Clone + Send + Sync> CredentialCache<V> {
    pub fn new(_cfg: CacheConfig) -> Self {
        CredentialCache {
            map: Mutex::new(HashMap::new()),
        }
    }
    pub fn key(&self, domain: KeyDomain, parts: &[&[u8]]) -> CacheKey {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        domain.hash(&mut h);
        parts.hash(&mut h);
        CacheKey(h.finish() as u128)
    }
    pub fn get(&self, key: &CacheKey) -> Option<Cached<V>> {
        self.map.lock().get(key).cloned()
    }
    pub fn get_or_load<E: Clone>(
        &self,
        key: CacheKey,
        load: impl FnOnce() -> Result<Cached<V>, E>,
    ) -> Result<Cached<V>, E> {
        if let Some(v) = self.get(&key) {
            return Ok(v);
        }
        let v = load()?;
        self.map.lock().insert(key, v.clone());
        Ok(v)
    }
    pub fn insert(&self, key: CacheKey, value: Cached<V>) {
        self.map.lock().insert(key, value);
    }
    pub fn invalidate(&self, key: &CacheKey) {
        self.map.lock().remove(key);
    }
    pub fn invalidate_where(&self, pred: impl Fn(&V) -> bool) -> usize {
        let mut m = self.map.lock();
        let n = m.len();
        m.retain(|_, v| !matches!(v, Cached::Found(x) if pred(x)));
        n - m.len()
    }
    pub fn clear(&self) {
        self.map.lock().clear()
    }
    pub fn stats(&self) -> CacheStats {
        CacheStats::default()
    }
}
