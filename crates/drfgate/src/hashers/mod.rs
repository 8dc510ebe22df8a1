//! Django's password hashers (`django.contrib.auth.hashers`, Django 5.2): which ones a project
//! has configured, and whether a raw password matches a stored `auth_user.password` value.
//!
//! Every verification here returns `false` where Django would raise (malformed strings, parameters
//! the Python libraries refuse): Django turns those into a server error, never into a login, so
//! failing closed keeps the same outcome for the client.

mod argon2_hasher;
mod bcrypt_hasher;
mod md5_hasher;
mod pbkdf2_hasher;
mod scrypt_hasher;

#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::fmt;

use subtle::ConstantTimeEq;


const DJANGO_HASHERS_MODULE: &str = "django.contrib.auth.hashers.";

/// Stored values starting with this are deliberately unusable (`set_unusable_password()`).
const UNUSABLE_PASSWORD_PREFIX: char = '!';

/// One Django password hasher, named as in the PASSWORD_HASHERS setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hasher {
    Pbkdf2Sha256,
    Pbkdf2Sha1,
    Argon2,
    BcryptSha256,
    /// Plain bcrypt. Django 5.2 with bcrypt-python 5 raises for passwords longer than 72 bytes;
    /// here such a password simply does not match (fails closed).
    Bcrypt,
    Scrypt,
    Md5,
}

impl Hasher {
    const ALL: [Hasher; 7] = [
        Hasher::Pbkdf2Sha256,
        Hasher::Pbkdf2Sha1,
        Hasher::Argon2,
        Hasher::BcryptSha256,
        Hasher::Bcrypt,
        Hasher::Scrypt,
        Hasher::Md5,
    ];

    /// Reads one PASSWORD_HASHERS entry: the full dotted path
    /// (`"django.contrib.auth.hashers.PBKDF2PasswordHasher"`) or the bare class name
    /// (`"PBKDF2PasswordHasher"`). A class under any other module is a different (custom) class,
    /// possibly with other behaviour, so it is not recognised.
    pub fn from_setting(name: &str) -> Option<Hasher> {
        let class_name = name.strip_prefix(DJANGO_HASHERS_MODULE).unwrap_or(name);
        Hasher::ALL
            .into_iter()
            .find(|hasher| hasher.class_name() == class_name)
    }

    /// The full dotted name, as written in PASSWORD_HASHERS.
    pub fn setting_name(self) -> &'static str {
        match self {
            Hasher::Pbkdf2Sha256 => "django.contrib.auth.hashers.PBKDF2PasswordHasher",
            Hasher::Pbkdf2Sha1 => "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
            Hasher::Argon2 => "django.contrib.auth.hashers.Argon2PasswordHasher",
            Hasher::BcryptSha256 => "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
            Hasher::Bcrypt => "django.contrib.auth.hashers.BCryptPasswordHasher",
            Hasher::Scrypt => "django.contrib.auth.hashers.ScryptPasswordHasher",
            Hasher::Md5 => "django.contrib.auth.hashers.MD5PasswordHasher",
        }
    }

    fn class_name(self) -> &'static str {
        &self.setting_name()[DJANGO_HASHERS_MODULE.len()..]
    }

    /// The algorithm name that starts every value this hasher stores (`"pbkdf2_sha256"`, ...).
    pub fn algorithm(self) -> &'static str {
        match self {
            Hasher::Pbkdf2Sha256 => "pbkdf2_sha256",
            Hasher::Pbkdf2Sha1 => "pbkdf2_sha1",
            Hasher::Argon2 => "argon2",
            Hasher::BcryptSha256 => "bcrypt_sha256",
            Hasher::Bcrypt => "bcrypt",
            Hasher::Scrypt => "scrypt",
            Hasher::Md5 => "md5",
        }
    }

    pub fn all() -> &'static [Hasher] {
        &Hasher::ALL
    }

    fn index(self) -> usize {
        self as usize
    }

    /// What one hash at Django 5.2's default parameters costs, in the unit of [`HashWork`].
    #[doc(hidden)]
    pub fn default_cost(self) -> u64 {
        match self {
            Hasher::Pbkdf2Sha256 | Hasher::Pbkdf2Sha1 => pbkdf2_hasher::DEFAULT_COST,
            Hasher::Argon2 => argon2_hasher::DEFAULT_COST,
            Hasher::BcryptSha256 | Hasher::Bcrypt => bcrypt_hasher::DEFAULT_COST,
            Hasher::Scrypt => scrypt_hasher::DEFAULT_COST,
            Hasher::Md5 => 1,
        }
    }

    /// Whether `password` matches `encoded`, which must be a value of this hasher's algorithm.
    fn verify(self, password: &str, encoded: &str) -> bool {
        match self {
            Hasher::Pbkdf2Sha256 => pbkdf2_hasher::verify_sha256(password, encoded),
            Hasher::Pbkdf2Sha1 => pbkdf2_hasher::verify_sha1(password, encoded),
            Hasher::Argon2 => argon2_hasher::verify(password, encoded),
            Hasher::BcryptSha256 => bcrypt_hasher::verify_sha256(password, encoded),
            Hasher::Bcrypt => bcrypt_hasher::verify_plain(password, encoded),
            Hasher::Scrypt => scrypt_hasher::verify(password, encoded),
            Hasher::Md5 => md5_hasher::verify(password, encoded),
        }
    }

    /// Whether `encoded` parses as a value of this hasher (the decoding half of `verify`,
    /// without the hashing), so the fuzz targets can run the parsers on millions of inputs
    /// without paying for a key derivation each time.
    #[cfg(feature = "internals")]
    pub fn decodes(self, encoded: &str) -> bool {
        match self {
            Hasher::Pbkdf2Sha256 => pbkdf2_hasher::decodes_sha256(encoded),
            Hasher::Pbkdf2Sha1 => pbkdf2_hasher::decodes_sha1(encoded),
            Hasher::Argon2 => argon2_hasher::decodes(encoded),
            Hasher::BcryptSha256 => bcrypt_hasher::decodes_sha256(encoded),
            Hasher::Bcrypt => bcrypt_hasher::decodes_plain(encoded),
            Hasher::Scrypt => scrypt_hasher::decodes(encoded),
            Hasher::Md5 => md5_hasher::decodes(encoded),
        }
    }

    /// Hashes `password` once at Django 5.2's default cost, for the time it takes.
    fn hash_at_default_cost(self, password: &str) {
        match self {
            Hasher::Pbkdf2Sha256 => pbkdf2_hasher::hash_sha256_at_default_cost(password),
            Hasher::Pbkdf2Sha1 => pbkdf2_hasher::hash_sha1_at_default_cost(password),
            Hasher::Argon2 => argon2_hasher::hash_at_default_cost(password),
            Hasher::BcryptSha256 => bcrypt_hasher::hash_sha256_at_default_cost(password),
            Hasher::Bcrypt => bcrypt_hasher::hash_plain_at_default_cost(password),
            Hasher::Scrypt => scrypt_hasher::hash_at_default_cost(password),
            Hasher::Md5 => md5_hasher::hash_at_default_cost(password),
        }
    }

    /// Django's `harden_runtime`: after a wrong password against a work factor below the default,
    /// spend the time the missing work would have cost. Only PBKDF2 and bcrypt do anything.
    fn harden_runtime(self, password: &str, encoded: &str) {
        match self {
            Hasher::Pbkdf2Sha256 => pbkdf2_hasher::harden_runtime_sha256(password, encoded),
            Hasher::Pbkdf2Sha1 => pbkdf2_hasher::harden_runtime_sha1(password, encoded),
            Hasher::BcryptSha256 => bcrypt_hasher::harden_runtime_sha256(password, encoded),
            Hasher::Bcrypt => bcrypt_hasher::harden_runtime_plain(password, encoded),
            Hasher::Argon2 | Hasher::Scrypt | Hasher::Md5 => {}
        }
    }
}

impl fmt::Display for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.setting_name())
    }
}

/// A PASSWORD_HASHERS entry that names no hasher this crate implements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownHasher(pub String);

impl fmt::Display for UnknownHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported password hasher in PASSWORD_HASHERS: {:?}",
            self.0
        )
    }
}

impl std::error::Error for UnknownHasher {}

/// The configured PASSWORD_HASHERS, in order (the first is Django's default hasher).
#[derive(Clone, Debug)]
pub struct PasswordHashers {
    hashers: Vec<Hasher>,
}

impl PasswordHashers {
    /// `list` should be non-empty. An empty list is accepted and behaves like Django with
    /// `PASSWORD_HASHERS = []`, where every password check raises: here no password ever
    /// verifies, and [`run_default_hasher`](Self::run_default_hasher) does nothing.
    pub fn new(list: Vec<Hasher>) -> Self {
        PasswordHashers { hashers: list }
    }

    /// Reads PASSWORD_HASHERS entries (see [`Hasher::from_setting`]), failing on the first one
    /// this crate does not implement.
    pub fn from_setting_names<I, S>(names: I) -> Result<Self, UnknownHasher>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let hashers = names
            .into_iter()
            .map(|name| {
                let name = name.as_ref();
                Hasher::from_setting(name).ok_or_else(|| UnknownHasher(name.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PasswordHashers::new(hashers))
    }

    /// Django 5.2's default list: PBKDF2, PBKDF2SHA1, Argon2, BCryptSHA256, Scrypt.
    pub fn django_default() -> Self {
        PasswordHashers::new(vec![
            Hasher::Pbkdf2Sha256,
            Hasher::Pbkdf2Sha1,
            Hasher::Argon2,
            Hasher::BcryptSha256,
            Hasher::Scrypt,
        ])
    }

    pub fn hashers(&self) -> &[Hasher] {
        &self.hashers
    }

    /// Django's `identify_hasher`: the configured hasher whose algorithm `encoded` names, if any.
    /// Bare 32-hex values, `md5$$…` of 37 chars and `sha1$$…` of 46 chars belong to the unsalted
    /// legacy hashers, which Django 5.2 no longer ships, so they identify as nothing.
    pub fn identify(&self, encoded: &str) -> Option<Hasher> {
        let algorithm = legacy_unsalted_algorithm(encoded)
            .unwrap_or_else(|| encoded.split('$').next().unwrap_or(encoded));
        self.hashers
            .iter()
            .copied()
            .find(|hasher| hasher.algorithm() == algorithm)
    }

    /// Django's check_password: true iff `encoded` is a usable hash of an algorithm in this list
    /// and `password` (UTF-8) matches it. `!`-prefixed (unusable) values, `""` and unknown or
    /// unconfigured algorithms never match; malformed values never match and never panic.
    /// Everything the password is compared against is compared in constant time.
    ///
    /// This does only the verification; for Django's timing behaviour around it, use
    /// [`check_password_timing_like_django`](Self::check_password_timing_like_django).
    pub fn check_password(&self, password: &str, encoded: &str) -> bool {
        if encoded.starts_with(UNUSABLE_PASSWORD_PREFIX) {
            return false;
        }
        self.identify(encoded)
            .is_some_and(|hasher| hasher.verify(password, encoded))
    }

    /// [`check_password`](Self::check_password) plus the extra work Django's `verify_password`
    /// does so that failures take about as long as successes: for an unusable or unidentifiable
    /// value it hashes once with the default hasher; for a wrong password against a value of the
    /// default hasher with an outdated work factor it runs that hasher's `harden_runtime`.
    pub fn check_password_timing_like_django(&self, password: &str, encoded: &str) -> bool {
        let hasher = match self.identify(encoded) {
            Some(hasher) if !encoded.starts_with(UNUSABLE_PASSWORD_PREFIX) => hasher,
            _ => {
                self.run_default_hasher(password);
                return false;
            }
        };
        let is_correct = hasher.verify(password, encoded);
        // Django hardens only when the value needs an update; every hardening step has work to
        // do only when the stored work factor is below the default, which implies that.
        if !is_correct && self.hashers.first() == Some(&hasher) {
            hasher.harden_runtime(password, encoded);
        }
        is_correct
    }

    /// What Django's ModelBackend does for an unknown username: hash the password once with the
    /// first hasher at Django 5.2's default cost (pbkdf2 1_000_000 iterations; argon2id t=2,
    /// m=102400 KiB, p=8; bcrypt cost 12; scrypt N=2^14, r=8, p=5), so a missing user costs the
    /// same time as a wrong password. The result is discarded.
    pub fn run_default_hasher(&self, password: &str) {
        if let Some(&default_hasher) = self.hashers.first() {
            default_hasher.hash_at_default_cost(password);
        }
    }
}

/// The hashing one thread has done, per algorithm: how many hashes and their summed cost, in
/// each algorithm's own unit of work (PBKDF2 iterations, bcrypt `2^cost` rounds, Argon2 passes ×
/// KiB, scrypt `N·r·p`, one per MD5). Lets tests check that every way a password check can fail
/// costs the same work, by counting instead of timing.
#[doc(hidden)]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct HashWork {
    hashes: [u64; Hasher::ALL.len()],
    cost: [u64; Hasher::ALL.len()],
}

impl HashWork {
    /// One hash with `hasher` at Django 5.2's default cost.
    #[cfg(any(test, feature = "internals"))]
    pub fn one_default_hash(hasher: Hasher) -> HashWork {
        let mut work = HashWork::default();
        work.add(hasher, hasher.default_cost());
        work
    }

    pub fn hashes(&self, hasher: Hasher) -> u64 {
        self.hashes[hasher.index()]
    }

    pub fn cost(&self, hasher: Hasher) -> u64 {
        self.cost[hasher.index()]
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn total_hashes(&self) -> u64 {
        self.hashes.iter().sum()
    }

    /// The work done after `earlier` was taken.
    #[cfg(any(test, feature = "internals"))]
    pub fn since(&self, earlier: &HashWork) -> HashWork {
        let mut work = *self;
        for i in 0..Hasher::ALL.len() {
            work.hashes[i] = work.hashes[i].wrapping_sub(earlier.hashes[i]);
            work.cost[i] = work.cost[i].wrapping_sub(earlier.cost[i]);
        }
        work
    }

    fn add(&mut self, hasher: Hasher, cost: u64) {
        let i = hasher.index();
        self.hashes[i] = self.hashes[i].wrapping_add(1);
        self.cost[i] = self.cost[i].wrapping_add(cost);
    }
}

impl fmt::Debug for HashWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for &hasher in Hasher::all() {
            if self.hashes(hasher) > 0 {
                list.entry(&format_args!(
                    "{} ×{} cost {}",
                    hasher.algorithm(),
                    self.hashes(hasher),
                    self.cost(hasher)
                ));
            }
        }
        list.finish()
    }
}

thread_local! {
    static WORK_DONE: Cell<HashWork> = const {
        Cell::new(HashWork {
            hashes: [0; Hasher::ALL.len()],
            cost: [0; Hasher::ALL.len()],
        })
    };
}

/// Everything the hashers have computed on the calling thread so far (see [`HashWork`]).
#[doc(hidden)]
#[cfg(any(test, feature = "internals"))]
pub fn work_done_on_this_thread() -> HashWork {
    WORK_DONE.with(Cell::get)
}

/// Called by each hasher as it computes one hash (a verification, a hash for timing or a
/// hardening step), with its cost in the unit of [`HashWork`].
fn count_hash(hasher: Hasher, cost: u64) {
    WORK_DONE.with(|work| {
        let mut done = work.get();
        done.add(hasher, cost);
        work.set(done);
    });
}

/// Django's special cases in `identify_hasher` for values without a usable salt. Lengths count
/// characters, as Python's `len(str)` does.
fn legacy_unsalted_algorithm(encoded: &str) -> Option<&'static str> {
    let length = encoded.chars().count();
    if (length == 32 && !encoded.contains('$')) || (length == 37 && encoded.starts_with("md5$$")) {
        Some("unsalted_md5")
    } else if length == 46 && encoded.starts_with("sha1$$") {
        Some("unsalted_sha1")
    } else {
        None
    }
}

/// Django's `constant_time_compare` on two encoded values: equal lengths and equal bytes, with the
/// time independent of where they differ.
fn constant_time_eq(recomputed: &str, stored: &str) -> bool {
    recomputed.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// A decimal field exactly as Python's `"%d" % n` or Argon2's encoder writes it: ASCII digits, no
/// sign, no leading zero (except `"0"` itself), no surrounding space. Anything else — even what
/// Python's `int()` would accept — can never equal a re-encoded value, so it is refused here.
fn parse_canonical_decimal(field: &str) -> Option<u64> {
    let canonical = !field.is_empty()
        && field.bytes().all(|byte| byte.is_ascii_digit())
        && (field == "0" || !field.starts_with('0'));
    if canonical {
        field.parse().ok()
    } else {
        None
    }
}

/// The salt Django would have generated is random; timing only needs one of the same length.
const TIMING_SALT: &str = "drfgateTimingSalt00000";

/// Splits `encoded` like Python's `encoded.split("$", N - 1)` unpacked into exactly `N` names;
/// `None` when there are too few separators. Surplus `$` stay in the last field, where the final
/// whole-string comparison rejects them (Python would already have raised; the outcome is the same).
fn split_fields<const N: usize>(encoded: &str) -> Option<[&str; N]> {
    let mut fields = [""; N];
    let mut parts = encoded.splitn(N, '$');
    for field in fields.iter_mut() {
        *field = parts.next()?;
    }
    Some(fields)
}
