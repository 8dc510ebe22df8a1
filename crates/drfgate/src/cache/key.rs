//! Cache keys: a keyed 128-bit SipHash-1-3 of a credential's framed parts, under a key drawn
//! at random once per cache, so raw secrets never enter the cache and keys are neither
//! reversible nor comparable across caches or processes.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};

use siphasher::sip128::{Hasher128, SipHasher13};

/// Separates kinds of credentials so that, say, a token and a user+password pair whose bytes
/// happen to coincide never map to the same key. Callers define their own tags as constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyDomain(&'static str);

impl KeyDomain {
    pub const fn new(tag: &'static str) -> Self {
        Self(tag)
    }

    pub const fn tag(self) -> &'static str {
        self.0
    }
}

/// A keyed 128-bit hash of a credential; the only form in which a credential enters the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CacheKey(pub(super) u128);

impl CacheKey {
    /// Selects the shard; the low half is left for the shard's own hash table, so that the
    /// entries of one shard still spread over all of its buckets.
    pub(super) fn high(self) -> u64 {
        (self.0 >> 64) as u64
    }

    fn low(self) -> u64 {
        self.0 as u64
    }
}

impl Hash for CacheKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already a uniform keyed hash: hashing it again would only cost time.
        state.write_u64(self.low());
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({:032x})", self.0)
    }
}

/// Passes a [`CacheKey`]'s own hash through to the shard's hash table.
#[derive(Clone, Copy, Default)]
pub(super) struct KeyHashBuilder;

impl BuildHasher for KeyHashBuilder {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached if something other than `CacheKey::hash` feeds this hasher.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The key of a credential made of `parts` under the cache's `hash_keys`; see
/// [`CredentialCache::key`](super::CredentialCache::key).
pub(super) fn derive(hash_keys: (u64, u64), domain: KeyDomain, parts: &[&[u8]]) -> CacheKey {
    let hasher = SipHasher13::new_with_keys(hash_keys.0, hash_keys.1);
    let tag = domain.tag().as_bytes();
    let framed_len = parts.iter().fold(FRAME_LEN * 2 + tag.len(), |len, part| {
        len.saturating_add(FRAME_LEN + part.len())
    });
    // Hashing the framed message in one piece is several times faster than feeding the
    // hasher field by field, and gives the same hash (SipHash of the concatenation).
    let mut buffer = [0u8; SMALL_CREDENTIAL];
    if let Some(message) = buffer.get_mut(..framed_len) {
        let mut writer = FrameWriter { rest: message };
        writer.framed(tag);
        writer.put(&(parts.len() as u64).to_le_bytes());
        for part in parts {
            writer.framed(part);
        }
        return CacheKey(hasher.hash(message).as_u128());
    }
    let mut hasher = hasher;
    write_framed(&mut hasher, tag);
    hasher.write(&(parts.len() as u64).to_le_bytes());
    for part in parts {
        write_framed(&mut hasher, part);
    }
    CacheKey(hasher.finish128().as_u128())
}

/// Bytes of the length that precedes every framed field.
const FRAME_LEN: usize = 8;

/// Framed credentials up to this size are hashed from a stack buffer in one call.
const SMALL_CREDENTIAL: usize = 256;

/// Fills a buffer sized exactly for the framed message.
struct FrameWriter<'a> {
    rest: &'a mut [u8],
}

impl FrameWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let rest = std::mem::take(&mut self.rest);
        let (head, tail) = rest.split_at_mut(bytes.len().min(rest.len()));
        head.copy_from_slice(&bytes[..head.len()]);
        self.rest = tail;
    }

    fn framed(&mut self, bytes: &[u8]) {
        self.put(&(bytes.len() as u64).to_le_bytes());
        self.put(bytes);
    }
}

fn write_framed(hasher: &mut SipHasher13, bytes: &[u8]) {
    hasher.write(&(bytes.len() as u64).to_le_bytes());
    hasher.write(bytes);
}

/// Draws the per-cache SipHash key. Should the OS refuse randomness, std's randomly keyed
/// hasher state (seeded by std from the OS at thread start) mixed with the wall clock keeps the
/// cache working rather than failing the whole gate.
pub(crate) fn random_hash_keys() -> (u64, u64) {
    let mut seed = [0u8; 16];
    if getrandom::fill(&mut seed).is_ok() {
        let [k0, k1] = [&seed[..8], &seed[8..]].map(|half| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(half);
            u64::from_le_bytes(bytes)
        });
        return (k0, k1);
    }
    let wall_clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let [k0, k1] = [0u8, 1].map(|lane| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u8(lane);
        hasher.write_u128(wall_clock);
        hasher.finish()
    });
    (k0, k1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{CacheConfig, Cached, CredentialCache};

    const TOKEN: KeyDomain = KeyDomain::new("token");
    const BASIC: KeyDomain = KeyDomain::new("basic");

    #[test]
    fn keys_differ_across_domains_framings_and_caches() {
        let first = CredentialCache::<u32>::new(CacheConfig::default());
        let second = CredentialCache::<u32>::new(CacheConfig::default());
        let secret: &[u8] = b"0123456789abcdef0123456789abcdef01234567";
        assert_eq!(first.key(TOKEN, &[secret]), first.key(TOKEN, &[secret]));
        assert_ne!(first.key(TOKEN, &[secret]), second.key(TOKEN, &[secret]));
        assert_ne!(first.key(TOKEN, &[secret]), first.key(BASIC, &[secret]));
        assert_ne!(
            first.key(BASIC, &[b"ab", b"c"]),
            first.key(BASIC, &[b"a", b"bc"])
        );
        assert_ne!(first.key(BASIC, &[b"ab", b""]), first.key(BASIC, &[b"ab"]));
        assert_ne!(
            first.key(KeyDomain::new("ab"), &[b"c"]),
            first.key(KeyDomain::new("a"), &[b"bc"])
        );
    }

    #[test]
    fn long_credentials_hash_like_short_ones() {
        let cache = CredentialCache::<u32>::new(CacheConfig::default());
        let streamed = |parts: &[&[u8]]| {
            let (k0, k1) = cache.hash_keys;
            let mut hasher = SipHasher13::new_with_keys(k0, k1);
            write_framed(&mut hasher, TOKEN.tag().as_bytes());
            hasher.write(&(parts.len() as u64).to_le_bytes());
            for part in parts {
                write_framed(&mut hasher, part);
            }
            CacheKey(hasher.finish128().as_u128())
        };
        let long = vec![b'x'; 1000];
        for parts in [&[b"short".as_slice()][..], &[&long, b"y"], &[], &[b""]] {
            assert_eq!(cache.key(TOKEN, parts), streamed(parts));
        }
        // Exactly at the buffer's size and one past it.
        let fits = vec![b'z'; SMALL_CREDENTIAL - 3 * FRAME_LEN - TOKEN.tag().len()];
        let overflows = vec![b'z'; fits.len() + 1];
        assert_eq!(cache.key(TOKEN, &[&fits]), streamed(&[&fits]));
        assert_eq!(cache.key(TOKEN, &[&overflows]), streamed(&[&overflows]));
    }

    #[test]
    fn debug_output_shows_only_the_hash() {
        let cache = CredentialCache::<u32>::new(CacheConfig::default());
        let secret = "s3cr3t-password";
        let key = cache.key(BASIC, &[b"alice", secret.as_bytes()]);
        let shown = format!("{key:?}");
        let hex = shown
            .strip_prefix("CacheKey(")
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap();
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!shown.contains(secret) && !shown.contains("alice"));
        let secret_hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&secret_hex[..8]));

        cache.insert(key, Cached::Found(1));
        let shown = format!("{cache:?}");
        assert!(!shown.contains(hex) && !shown.contains(secret));
    }
}
