//! Where users, tokens and permissions live: Django's own database, read directly.
//!
//! A store answers the handful of questions DRF's classes ask the ORM, one prepared query
//! each. It never writes.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::decision::{User, UserPk};

mod budget;
pub(crate) mod filter_keeper;
mod outage;
#[cfg(feature = "sqlite")]
mod sqlite;
pub(crate) mod token_filter;

pub(crate) use outage::Watched;

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

pub mod network;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod pool;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod sql;

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub(crate) use postgres::client_config as postgres_client_config;
#[cfg(feature = "postgres")]
use postgres::PostgresStore;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
use mysql::MysqlStore;

use network::{Engine, NetworkDatabase};

/// Table and column names, for custom user models and token models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    /// `AUTH_USER_MODEL`'s table, `auth_user` by default.
    pub user_table: String,
    /// `USERNAME_FIELD`'s column, `username` by default.
    pub username_field: String,
    /// DRF's token table, `authtoken_token` by default.
    pub token_table: String,
    /// knox's token table (`REST_KNOX["TOKEN_MODEL"]`), `knox_authtoken` by default.
    pub knox_table: String,
}

impl Default for Schema {
    fn default() -> Self {
        Schema {
            user_table: "auth_user".into(),
            username_field: "username".into(),
            token_table: "authtoken_token".into(),
            knox_table: "knox_authtoken".into(),
        }
    }
}

impl Schema {
    /// Django names a user model's M2M tables after its table: `<table>_groups`,
    /// `<table>_user_permissions`.
    pub fn user_groups_table(&self) -> String {
        format!("{}_groups", self.user_table)
    }

    pub fn user_permissions_table(&self) -> String {
        format!("{}_user_permissions", self.user_table)
    }
}

/// A user row together with its stored password hash (for Basic authentication).
#[derive(Clone, Debug)]
pub struct UserWithPassword {
    pub user: User,
    pub password: String,
}

/// What `User.objects.get(<field>=<claim>)` found (simplejwt's `get_user`).
#[derive(Clone, Debug)]
pub enum FieldLookup {
    Found(UserWithPassword),
    NotFound,
    /// Django's field would raise converting the value (`int("abc")` for an integer column):
    /// simplejwt does not catch that, so Django answers 500.
    Unconvertible,
}

/// One row of knox's token table whose `token_key` matched, with its user.
#[derive(Clone, Debug)]
pub struct KnoxRow {
    /// Hex SHA-512 of the token, as stored.
    pub digest: String,
    /// `expiry` as Unix seconds; `None` is knox's "never expires".
    pub expiry: Option<f64>,
    pub user: User,
}

/// What `drfgate check` reports about an opened store.
#[derive(Clone, Debug)]
pub struct StoreSummary {
    pub backend: &'static str,
    pub location: String,
    pub users: i64,
    pub tokens: Option<i64>,
}

/// A lookup that could not be answered. Most are the database failing (down, locked, a table
/// missing): the gate answers 503 and tells the log once per incident (`outage`). A few are a
/// question Django itself would raise on ([`StoreError::raised`]): DRF answers those 500.
#[derive(Debug)]
pub struct StoreError {
    message: String,
    raised: bool,
    unreachable: bool,
}

impl StoreError {
    /// The database failed to answer.
    pub fn new(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            raised: false,
            unreachable: false,
        }
    }

    /// The database server could not be reached, or did not answer in time: an outage, which
    /// a gate may start (or reload) during, refusing what needs it until the server answers.
    pub fn unreachable(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            raised: false,
            unreachable: true,
        }
    }

    /// The database is fine, but Django would raise on this lookup (e.g. a JWT claim its
    /// field cannot convert): DRF's answer is a 500, not an outage.
    pub fn raised(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            raised: true,
            unreachable: false,
        }
    }

    /// Whether Django would raise here (500) rather than the database failing (503).
    pub fn is_raised(&self) -> bool {
        self.raised
    }

    /// Whether the server could not be reached ([`StoreError::unreachable`]) rather than
    /// answering something wrong (a table missing, a value it refused).
    pub fn is_unreachable(&self) -> bool {
        self.unreachable
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

/// The queries DRF's authentication and permission classes make.
pub trait Store: Send + Sync {
    /// `Token.objects.select_related('user').get(key=key)`: the token's user, or `None`.
    fn user_by_token(&self, key: &str) -> Result<Option<User>, StoreError>;

    /// The longest key (in characters) the token table's `key` column can hold, when the
    /// database enforces the column's declared length (`VARCHAR(40)` on PostgreSQL, MySQL in
    /// strict mode): a longer key matches no row, so the gate answers `Invalid token.` without
    /// a query. `None`, the default, when the database may hold longer keys: SQLite stores any
    /// length in a `VARCHAR(40)`, and Django's `save()` does not check `max_length`.
    fn token_key_max_chars(&self) -> Option<usize> {
        None
    }

    /// Whether the database compares token keys byte for byte (PostgreSQL, SQLite), so that a
    /// filter of the keys' hashes knows which keys can match a row (`token_filter.rs`). MySQL's
    /// collations call other keys equal (case, trailing spaces): `false`, the default.
    fn token_keys_compare_exactly(&self) -> bool {
        false
    }

    /// Up to `limit` keys of the token table greater than `after`, in order: a page of the
    /// token filter's full load. A store that cannot list keys refuses (the filter then stays
    /// off).
    fn token_keys_after(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let _ = (after, limit);
        Err(StoreError::new("this store does not list token keys"))
    }

    /// The keys of one user's tokens (a notification named the user), the user's primary key
    /// as text.
    fn token_keys_of_user(&self, pk: &str) -> Result<Vec<String>, StoreError> {
        let _ = pk;
        Err(StoreError::new("this store does not list token keys"))
    }

    /// `UserModel._default_manager.get_by_natural_key(username)` with its password hash.
    fn user_by_username(&self, username: &str) -> Result<Option<UserWithPassword>, StoreError>;

    /// `ModelBackend.get_all_permissions` for an active, non-superuser user: the union of its
    /// own and its groups' permissions as `app_label.codename`.
    fn user_permissions(&self, pk: &UserPk) -> Result<HashSet<String>, StoreError>;

    /// Checks that the tables are there and readable.
    fn summary(&self) -> Result<StoreSummary, StoreError>;

    /// `django_session.session_data` of the row with this key whose `expire_date` is later
    /// than `now` (Django's text form, `YYYY-MM-DD HH:MM:SS[.ffffff]` UTC), as the db and
    /// cached_db engines load it. A store that cannot read sessions refuses (fail closed).
    fn session_data(&self, session_key: &str, now: &str) -> Result<Option<String>, StoreError> {
        let _ = (session_key, now);
        Err(StoreError::new("this store does not read Django sessions"))
    }

    /// `ModelBackend.get_user`'s lookup: the user with this primary key, and its password
    /// hash (for `_auth_user_hash`).
    fn user_by_pk(&self, pk: &UserPk) -> Result<Option<UserWithPassword>, StoreError> {
        let _ = pk;
        Err(StoreError::new(
            "this store does not look users up by primary key",
        ))
    }
    /// simplejwt's `User.objects.get(**{USER_ID_FIELD: claim})`, converting the claim as
    /// Django's field would. Stores that cannot answer refuse (the gate fails closed).
    fn user_by_field(
        &self,
        field: &str,
        value: &serde_json::Value,
    ) -> Result<FieldLookup, StoreError> {
        let _ = (field, value);
        Err(StoreError::new(
            "this store cannot look users up by a JWT claim",
        ))
    }

    /// `BlacklistedToken.objects.filter(token__jti=jti).exists()`.
    fn jti_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        let _ = jti;
        Err(StoreError::new("this store has no simplejwt blacklist"))
    }

    /// Whether the simplejwt blacklist tables are there.
    fn has_jwt_blacklist(&self) -> bool {
        false
    }

    /// knox's `AuthToken.objects.filter(token_key=…).select_related('user')`.
    fn knox_tokens(&self, token_key: &str) -> Result<Vec<KnoxRow>, StoreError> {
        let _ = token_key;
        Err(StoreError::new("this store has no knox token table"))
    }

    /// Whether knox's token table is there.
    fn has_knox_table(&self) -> bool {
        false
    }
}

/// A `DATABASE` setting (or `DATABASES["default"]`), parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    /// PostgreSQL or MySQL/MariaDB.
    Server(NetworkDatabase),
}

impl DatabaseUrl {
    /// Accepts `sqlite:///absolute/path`, `sqlite://relative/path` (relative to `base`, the
    /// config file's folder), a bare path ending in a SQLite file, and
    /// `postgres://`/`postgresql://`/`mysql://` URLs ([`NetworkDatabase::parse_url`]).
    pub fn parse(url: &str, base: Option<&Path>) -> Result<DatabaseUrl, String> {
        let resolve = |p: &str| -> PathBuf {
            let path = Path::new(p);
            match base {
                Some(base) if path.is_relative() => base.join(path),
                _ => path.to_path_buf(),
            }
        };
        if let Some(rest) = url.strip_prefix("sqlite://") {
            if rest.is_empty() {
                return Err("sqlite:// needs a path, e.g. sqlite:///srv/app/db.sqlite3".into());
            }
            return DatabaseUrl::Sqlite(resolve(rest)).available();
        }
        for (scheme, engine) in [
            ("postgres://", Engine::Postgres),
            ("postgresql://", Engine::Postgres),
            ("mysql://", Engine::Mysql),
        ] {
            if let Some(rest) = url.strip_prefix(scheme) {
                return DatabaseUrl::Server(NetworkDatabase::parse_url(engine, rest)?).available();
            }
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(format!(
                "unsupported database scheme {scheme:?}; expected sqlite://, postgres:// or mysql://"
            ));
        }
        if url.is_empty() {
            return Err("DATABASE is empty; expected e.g. sqlite:///srv/app/db.sqlite3".into());
        }
        DatabaseUrl::Sqlite(resolve(url)).available()
    }

    /// The URL, or a config error when its backend's feature was left out of this build.
    pub fn available(self) -> Result<DatabaseUrl, String> {
        let (present, name) = match &self {
            DatabaseUrl::Sqlite(_) => (cfg!(feature = "sqlite"), "sqlite"),
            DatabaseUrl::Server(db) => match db.engine {
                Engine::Postgres => (cfg!(feature = "postgres"), "postgres"),
                Engine::Mysql => (cfg!(feature = "mysql"), "mysql"),
            },
        };
        if present {
            Ok(self)
        } else {
            Err(format!(
                "{name} databases are not available: drfgate was built without the {name} \
                 feature (enable the drfgate crate's `{name}` feature)"
            ))
        }
    }

    /// What `drfgate check` and errors show: a path, or a URL without its password.
    pub fn location(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => path.display().to_string(),
            DatabaseUrl::Server(db) => db.location(),
        }
    }

    /// The store for this database. A SQLite file is opened now; a server is not asked until
    /// the first lookup (its settings were checked when the config loaded), so a gate starts
    /// while its database is down.
    pub fn open(&self, schema: &Schema) -> Result<Box<dyn Store>, StoreError> {
        let _ = schema;
        match self {
            #[cfg(feature = "sqlite")]
            DatabaseUrl::Sqlite(path) => Ok(Box::new(SqliteStore::open(path, schema.clone())?)),
            #[cfg(feature = "postgres")]
            DatabaseUrl::Server(db) if db.engine == Engine::Postgres => {
                Ok(Box::new(PostgresStore::connect(db, schema)?))
            }
            #[cfg(feature = "mysql")]
            DatabaseUrl::Server(db) if db.engine == Engine::Mysql => {
                Ok(Box::new(MysqlStore::connect(db, schema)?))
            }
            other => Err(StoreError::new(
                other
                    .clone()
                    .available()
                    .err()
                    .unwrap_or_else(|| "this database is not available in this build".into()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "sqlite")]
    fn database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///srv/db.sqlite3", None),
            Ok(DatabaseUrl::Sqlite("/srv/db.sqlite3".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://db.sqlite3", Some(Path::new("/etc/drfgate"))),
            Ok(DatabaseUrl::Sqlite("/etc/drfgate/db.sqlite3".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("db.sqlite3", Some(Path::new("/x"))),
            Ok(DatabaseUrl::Sqlite("/x/db.sqlite3".into()))
        );
        assert!(DatabaseUrl::parse("oracle://x", None)
            .unwrap_err()
            .contains("oracle"));
        assert!(DatabaseUrl::parse("", None).is_err());
    }

    #[test]
    #[cfg(not(feature = "sqlite"))]
    fn sqlite_urls_without_the_feature_are_a_config_error() {
        for url in ["sqlite:///srv/db.sqlite3", "db.sqlite3"] {
            let err = DatabaseUrl::parse(url, None).unwrap_err();
            assert!(err.contains("built without the sqlite feature"), "{err}");
        }
    }
}
