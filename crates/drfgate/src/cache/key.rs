//! Cache keys: a keyed 128-bit SipHash-1-3 of a credential's framed parts, under a key drawn
//! at random once per cache, so raw secrets never enter the cache and keys are neither
//! reversible nor comparable across caches or processes.
//!
//! Why SipHash, and why here rather than a faster unkeyed hash: a cache key *is* the
//! credential as far as the cache knows (the secret itself is not stored to compare), so two
//! credentials with one key would authenticate as each other. An attacker chooses the
//! credentials he sends; with a keyed pseudo-random function whose key he never sees (drawn
//! from the OS per cache, never logged, never sent), finding two that collide in 128 bits
//! takes about 2^64 guesses, each a request. SipHash-1-3 is such a function, and the
//! cheapest well-studied one: the rounds below are the reference algorithm's.
//!
//! It is computed here on whole 64-bit words, one compression per word, without the
//! byte-wise buffering of a general `Hasher`: every framed field is its length as a word,
//! then its bytes zero-padded to whole words, so the message (what SipHash sees) is a
//! sequence of words and decodes back to exactly one list of fields (each length says where
//! its field and padding end). On the hot path (a cached Token allow) this halved the cost
//! of a key (BENCHMARKS.md); the result is SipHash-1-3 of that message, as any conforming
//! implementation computes it (a test compares with the `siphasher` crate).

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};

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
/// [`CredentialCache::key`](super::CredentialCache::key). The message is the domain's tag,
/// then each part, each framed (see the module's documentation); the list is self-delimiting,
/// so `["ab", "c"]` and `["a", "bc"]`, or one empty part and none, are different messages.
/// `tagged` is the state after a domain's tag, kept by the cache for the domain it serves:
/// used when it is this domain's, it saves hashing the tag on every request.
pub(super) fn derive(
    hash_keys: (u64, u64),
    tagged: &Tagged,
    domain: KeyDomain,
    parts: &[&[u8]],
) -> CacheKey {
    let mut sip = if tagged.is_for(domain) {
        tagged.state.clone()
    } else {
        Tagged::new(hash_keys, domain).state
    };
    for part in parts {
        sip.framed(part);
    }
    CacheKey(sip.finish())
}

/// The SipHash state once a domain's tag has been absorbed.
pub(super) struct Tagged {
    tag: &'static str,
    state: Sip13,
}

impl Tagged {
    pub(super) fn new(hash_keys: (u64, u64), domain: KeyDomain) -> Tagged {
        let mut state = Sip13::new(hash_keys);
        state.framed(domain.tag().as_bytes());
        Tagged {
            tag: domain.tag(),
            state,
        }
    }

    /// The same tag: the very same constant (its address and length) is all this compares,
    /// which is enough, as anything else is hashed afresh with the same result.
    fn is_for(&self, domain: KeyDomain) -> bool {
        std::ptr::eq(self.tag, domain.tag())
    }
}

/// SipHash-1-3 with its 128-bit output, over a message of whole 64-bit little-endian words.
#[derive(Clone)]
struct Sip13 {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
    /// Bytes absorbed so far (a multiple of 8); SipHash binds the length into the last block.
    len: u64,
}

impl Sip13 {
    fn new((k0, k1): (u64, u64)) -> Sip13 {
        Sip13 {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            // The 128-bit output's domain separation from the 64-bit one.
            v1: k1 ^ 0x646f_7261_6e64_6f6d ^ 0xee,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
            len: 0,
        }
    }

    #[inline(always)]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13) ^ self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16) ^ self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21) ^ self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17) ^ self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    /// One compression: a message word, one round (the "1" of SipHash-1-3).
    #[inline(always)]
    fn compress(&mut self, word: u64) {
        self.v3 ^= word;
        self.round();
        self.v0 ^= word;
    }

    #[inline(always)]
    fn word(&mut self, word: u64) {
        self.compress(word);
        self.len = self.len.wrapping_add(8);
    }

    /// A field: its length as a word, then its bytes, the last word zero-padded.
    #[inline(always)]
    fn framed(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        let mut words = bytes.chunks_exact(8);
        for chunk in words.by_ref() {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(word));
        }
    }

    /// The last block (no bytes left over: the length's low byte alone), then the three
    /// finalisation rounds for each half of the output.
    fn finish(mut self) -> u128 {
        self.compress((self.len & 0xff) << 56);
        self.v2 ^= 0xee;
        for _ in 0..3 {
            self.round();
        }
        let low = self.v0 ^ self.v1 ^ self.v2 ^ self.v3;
        self.v1 ^= 0xdd;
        for _ in 0..3 {
            self.round();
        }
        let high = self.v0 ^ self.v1 ^ self.v2 ^ self.v3;
        u128::from(low) | (u128::from(high) << 64)
    }
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

    /// The framed message [`derive`] hashes, byte by byte.
    fn framed_message(domain: KeyDomain, parts: &[&[u8]]) -> Vec<u8> {
        let mut message = Vec::new();
        for field in std::iter::once(domain.tag().as_bytes()).chain(parts.iter().copied()) {
            message.extend_from_slice(&(field.len() as u64).to_le_bytes());
            message.extend_from_slice(field);
            message.resize(message.len().next_multiple_of(8), 0);
        }
        message
    }

    #[test]
    fn keys_are_siphash_1_3_of_the_framed_message() {
        use siphasher::sip128::SipHasher13;
        let cache = CredentialCache::<u32>::new(CacheConfig::default());
        let (k0, k1) = cache.hash_keys;
        let reference = |domain: KeyDomain, parts: &[&[u8]]| {
            let message = framed_message(domain, parts);
            CacheKey(
                SipHasher13::new_with_keys(k0, k1)
                    .hash(&message)
                    .as_u128(),
            )
        };
        let long = vec![b'x'; 1000];
        let cases: [&[&[u8]]; 7] = [
            &[b"short"],
            &[&long, b"y"],
            &[],
            &[b""],
            &[b"0123456789abcdef0123456789abcdef01234567"],
            &[b"john", b"password"],
            &[b"exactly8", b"1234567", b"123456789"],
        ];
        for parts in cases {
            for domain in [TOKEN, BASIC, KeyDomain::new("simplejwt-verified-token")] {
                assert_eq!(cache.key(domain, parts), reference(domain, parts));
            }
        }
        // Every length of a part up to a few words, and so every padding.
        for len in 0..=40 {
            let part: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            assert_eq!(cache.key(TOKEN, &[&part]), reference(TOKEN, &[&part]));
        }
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
