//! STUB until wip/hashers lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hasher {
    Pbkdf2Sha256,
    Pbkdf2Sha1,
    Argon2,
    BcryptSha256,
    Bcrypt,
    Scrypt,
    Md5,
}
impl Hasher {
    pub fn from_setting(name: &str) -> Option<Hasher> {
        Self::all()
            .iter()
            .copied()
            .find(|h| h.setting_name() == name || h.setting_name().rsplit('.').next() == Some(name))
    }
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
    pub fn algorithm(self) -> &'static str {
        "pbkdf2_sha256"
    }
    pub fn all() -> &'static [Hasher] {
        &[
            Hasher::Pbkdf2Sha256,
            Hasher::Pbkdf2Sha1,
            Hasher::Argon2,
            Hasher::BcryptSha256,
            Hasher::Bcrypt,
            Hasher::Scrypt,
            Hasher::Md5,
        ]
    }
}
#[derive(Clone, Debug)]
pub struct PasswordHashers {
    list: Vec<Hasher>,
}
impl PasswordHashers {
    pub fn new(list: Vec<Hasher>) -> Self {
        PasswordHashers { list }
    }
    pub fn django_default() -> Self {
        Self::new(vec![
            Hasher::Pbkdf2Sha256,
            Hasher::Pbkdf2Sha1,
            Hasher::Argon2,
            Hasher::BcryptSha256,
            Hasher::Scrypt,
        ])
    }
    pub fn hashers(&self) -> &[Hasher] {
        &self.list
    }
    pub fn check_password(&self, password: &str, encoded: &str) -> bool {
        let _ = (password, encoded);
        false
    }
    pub fn run_default_hasher(&self, password: &str) {
        let _ = password;
    }
}
