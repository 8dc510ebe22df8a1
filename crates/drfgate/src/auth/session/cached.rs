//! Sessions in Django's `RedisCache`: the `cache` engine's only copy, the `cached_db`
//! engine's copy in front of the database. Django stores the session dict itself there,
//! through `RedisSerializer` (an `int` as its digits, anything else pickled), unsigned.
//! The value is read with `crate::pickle`, which builds plain values and executes nothing.

use serde_json::{Map, Number, Value};

use crate::config::{SessionCache, SessionEngine};
use crate::pickle::{self, Pickle, Refusal};
use crate::redis::Client;

/// `SessionStore.cache_key_prefix` of each engine.
fn engine_prefix(engine: SessionEngine) -> &'static str {
    match engine {
        SessionEngine::CachedDb => "django.contrib.sessions.cached_db",
        _ => "django.contrib.sessions.cache",
    }
}

/// What the cache holds for a session key.
#[derive(Debug)]
pub(crate) enum CacheRead {
    /// No such key (never made, logged out, expired, or another `KEY_PREFIX`/`VERSION`).
    Missing,
    Session(Map<String, Value>),
    /// A value Django reads but that is not a dict (an `int`, a list): `request.session`
    /// lookups then raise, which the gate does not reproduce.
    NotADict,
    /// A value the reader refuses (an object, or not a pickle).
    Unreadable(Refusal),
}

pub(crate) struct DjangoCache {
    settings: SessionCache,
    client: Client,
}

impl DjangoCache {
    pub(crate) fn new(settings: SessionCache) -> DjangoCache {
        let client = Client::new(settings.target.clone(), settings.timeout);
        DjangoCache { settings, client }
    }

    /// The session under `session_key`, as the engine's `load()` gets it from the cache.
    pub(crate) fn load(
        &self,
        engine: SessionEngine,
        session_key: &str,
    ) -> Result<CacheRead, String> {
        let key = self.settings.key(engine_prefix(engine), session_key);
        let Some(data) = self.client.get(&key).map_err(|e| {
            format!(
                "session cache {:?} (Redis at {}:{} db {}): {e}",
                self.settings.alias,
                self.settings.target.host,
                self.settings.target.port,
                self.settings.target.db
            )
        })?
        else {
            return Ok(CacheRead::Missing);
        };
        Ok(read_value(&data))
    }
}

/// `RedisSerializer.loads`, then the session dict as JSON-like values.
pub(crate) fn read_value(data: &[u8]) -> CacheRead {
    if pickle::is_python_int(data) {
        return CacheRead::NotADict;
    }
    match pickle::load(data) {
        Ok(loaded) => match session_map(&loaded) {
            Some(map) => CacheRead::Session(map),
            None => CacheRead::NotADict,
        },
        Err(refusal) => CacheRead::Unreadable(refusal),
    }
}

/// The top-level dict's text keys with their values. What the session checks read is text
/// (or an integer for `_auth_user_id`); a container or a value JSON cannot hold becomes an
/// empty array or object, which every check treats as "not text" (deferred or refused), so
/// nested values are never walked.
fn session_map(loaded: &Pickle) -> Option<Map<String, Value>> {
    let pickle::Value::Dict(items) = loaded.root() else {
        return None;
    };
    let mut map = Map::new();
    for (key, value) in items {
        let pickle::Value::Str(key) = loaded.get(*key) else {
            continue;
        };
        let value = match loaded.get(*value) {
            pickle::Value::None => Value::Null,
            pickle::Value::Bool(b) => Value::Bool(*b),
            pickle::Value::Int(n) => Value::Number((*n).into()),
            pickle::Value::Float(f) => {
                Number::from_f64(*f).map_or(Value::Array(Vec::new()), Value::Number)
            }
            pickle::Value::Str(s) => Value::String(s.clone()),
            pickle::Value::Dict(_) => Value::Object(Map::new()),
            pickle::Value::BigInt
            | pickle::Value::Bytes(_)
            | pickle::Value::List(_)
            | pickle::Value::Tuple(_) => Value::Array(Vec::new()),
        };
        map.insert(key.clone(), value);
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_djangos() {
        let settings = SessionCache {
            alias: "default".into(),
            target: crate::redis::RedisTarget::parse("redis://127.0.0.1").unwrap(),
            key_prefix: "site".into(),
            version: 3,
            timeout: std::time::Duration::from_secs(1),
        };
        assert_eq!(
            settings.key(engine_prefix(SessionEngine::Cache), "abcdefgh"),
            b"site:3:django.contrib.sessions.cacheabcdefgh"
        );
        assert_eq!(
            settings.key(engine_prefix(SessionEngine::CachedDb), "k"),
            b"site:3:django.contrib.sessions.cached_dbk"
        );
    }

    #[test]
    fn values() {
        // pickle.dumps({"_auth_user_id": "1", "n": 7}, 5)
        let data = b"\x80\x05\x95\x1f\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\r_auth_user_id\x94\x8c\x011\x94\x8c\x01n\x94K\x07u.";
        let CacheRead::Session(map) = read_value(data) else {
            panic!()
        };
        assert_eq!(map["_auth_user_id"], Value::String("1".into()));
        assert_eq!(map["n"], Value::Number(7.into()));
        assert!(matches!(read_value(b"42"), CacheRead::NotADict));
        assert!(matches!(read_value(b"\x80\x05]."), CacheRead::NotADict));
        assert!(matches!(
            read_value(b"cos\nsystem\n(S'true'\ntR."),
            CacheRead::Unreadable(Refusal::Opcode("GLOBAL"))
        ));
    }
}
