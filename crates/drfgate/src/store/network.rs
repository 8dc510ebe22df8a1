//! Where a PostgreSQL or MariaDB/MySQL server is and how to talk to it: host or socket,
//! database, user, password (never shown), TLS, and the gate's own pool size and timeouts.
//!
//! Both spellings of Django's setting end here: a URL (`postgres://user@host:5432/app?…`) and
//! a `DATABASES["default"]` table (`config/databases.rs`).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Which server speaks the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Engine::Postgres => 5432,
            Engine::Mysql => 3306,
        }
    }
}

/// A password, kept out of `Debug` and `Display`: configs, `drfgate check` and `explain`
/// print the database's location, never this.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// Where the server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Tcp(String),
    /// A Unix socket: for PostgreSQL the folder holding `.s.PGSQL.<port>` (libpq's
    /// `host=/run/postgresql`), for MySQL the socket file itself (`unix_socket`).
    Socket(PathBuf),
}

/// How much TLS the connection insists on, in libpq's words (MySQL's `ssl_mode` maps onto
/// them: DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    /// TLS when the server offers it, else plain (libpq's default).
    Prefer,
    /// TLS or nothing, without checking the certificate.
    Require,
    /// TLS with a certificate signed by a trusted CA, for any host name.
    VerifyCa,
    /// TLS with a trusted certificate naming the host.
    VerifyFull,
}

impl TlsMode {
    /// libpq's `sslmode` values (`allow` is taken as `prefer`: drfgate never needs to fall
    /// back the other way).
    pub fn from_sslmode(value: &str) -> Option<TlsMode> {
        Some(match value {
            "disable" => TlsMode::Disable,
            "allow" | "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            _ => return None,
        })
    }

    /// MySQL's `ssl_mode` values, any case.
    pub fn from_mysql_ssl_mode(value: &str) -> Option<TlsMode> {
        Some(match value.to_ascii_uppercase().as_str() {
            "DISABLED" => TlsMode::Disable,
            "PREFERRED" => TlsMode::Prefer,
            "REQUIRED" => TlsMode::Require,
            "VERIFY_CA" => TlsMode::VerifyCa,
            "VERIFY_IDENTITY" => TlsMode::VerifyFull,
            _ => return None,
        })
    }
}

/// The gate's side of the connections: how many, and how long anything may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections open at once to the server, per gate (per process); a lookup that finds
    /// them all busy waits for one, within its statement timeout.
    pub pool_size: usize,
    /// How long opening a connection (TCP, TLS, login) may take.
    pub connect_timeout: Duration,
    /// How long one lookup may take, waiting for a connection and connecting included;
    /// the server is also told to cancel a statement running longer.
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            pool_size: 4,
            connect_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(2),
        }
    }
}

/// A PostgreSQL or MySQL database, as the config named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkDatabase {
    pub engine: Engine,
    pub host: Host,
    pub port: u16,
    pub name: String,
    pub user: String,
    pub password: Option<Password>,
    pub tls: TlsMode,
    /// A CA bundle (PEM) to trust besides the system's (`sslrootcert`, `ssl.ca`).
    pub tls_ca: Option<PathBuf>,
    pub pool: PoolSettings,
}

impl NetworkDatabase {
    /// `postgres://user@host:5432/name`, without the password: what `drfgate check`, logs and
    /// errors show.
    pub fn location(&self) -> String {
        let host = match &self.host {
            Host::Tcp(host) if host.contains(':') => format!("[{host}]:{}", self.port),
            Host::Tcp(host) => format!("{host}:{}", self.port),
            Host::Socket(path) => format!("{}", path.display()),
        };
        format!(
            "{}://{}@{host}/{}",
            self.engine.name(),
            self.user,
            self.name
        )
    }

    /// Parses `postgres://`/`postgresql://`/`mysql://` URLs:
    /// `scheme://[user[:password]@][host][:port]/name[?key=value&…]` with percent-encoded
    /// parts. Query keys: `sslmode`/`ssl_mode`, `sslrootcert`/`ssl_ca`, `host` or
    /// `unix_socket` (a socket path), `pool_size`, `connect_timeout`, `statement_timeout`
    /// (seconds), `password_file`, `password_env`.
    pub fn parse_url(engine: Engine, rest: &str) -> Result<NetworkDatabase, String> {
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (authority, name) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((user, password)) => (decode(user)?, Some(Password(decode(password)?))),
                None => (decode(info)?, None),
            },
            None => (String::new(), None),
        };
        let (host, port) = split_host_port(hostport)?;
        let mut options = Options::new(engine);
        options.name = decode(name)?;
        options.user = user;
        options.password = password;
        if !host.is_empty() {
            options.host = Some(Host::Tcp(decode(&host)?));
        }
        options.port = port;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (key, value) = (decode(key)?, decode(value)?);
            options.set(&key, &value)?;
        }
        options.finish()
    }
}

fn decode(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("{text:?} is not UTF-8 once percent-decoded"))
}

fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{hostport:?}: unclosed [ in the host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(port) => Some(
            port.parse::<u16>()
                .map_err(|_| format!("{port:?} is not a port number"))?,
        ),
    };
    Ok((host.to_string(), port))
}

/// The settings gathered from a URL or a `DATABASES` table, checked and completed by
/// [`Options::finish`].
pub struct Options {
    pub engine: Engine,
    pub name: String,
    pub user: String,
    pub password: Option<Password>,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    pub host: Option<Host>,
    pub port: Option<u16>,
    pub tls: Option<TlsMode>,
    pub tls_ca: Option<PathBuf>,
    pub pool: PoolSettings,
}

impl Options {
    pub fn new(engine: Engine) -> Options {
        Options {
            engine,
            name: String::new(),
            user: String::new(),
            password: None,
            password_file: None,
            password_env: None,
            host: None,
            port: None,
            tls: None,
            tls_ca: None,
            pool: PoolSettings::default(),
        }
    }

    /// One URL query key (or `OPTIONS`/gate key of the table form, lower-cased).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let seconds = |value: &str| -> Result<Duration, String> {
            let n: f64 = value
                .parse()
                .map_err(|_| format!("{key} = {value:?} is not a number of seconds"))?;
            if !(n > 0.0 && n <= 3600.0) {
                return Err(format!("{key} = {value:?}: give 0 < seconds <= 3600"));
            }
            Ok(Duration::from_secs_f64(n))
        };
        match key {
            "sslmode" => {
                self.tls = Some(TlsMode::from_sslmode(value).ok_or_else(|| {
                    format!(
                        "sslmode = {value:?}: expected disable, prefer, require, verify-ca or \
                         verify-full"
                    )
                })?)
            }
            "ssl_mode" => {
                self.tls = Some(TlsMode::from_mysql_ssl_mode(value).ok_or_else(|| {
                    format!(
                        "ssl_mode = {value:?}: expected DISABLED, PREFERRED, REQUIRED, \
                         VERIFY_CA or VERIFY_IDENTITY"
                    )
                })?)
            }
            "sslrootcert" | "ssl_ca" => self.tls_ca = Some(PathBuf::from(value)),
            "host" | "unix_socket" if value.starts_with('/') => {
                self.host = Some(Host::Socket(PathBuf::from(value)))
            }
            "host" => self.host = Some(Host::Tcp(value.to_string())),
            "port" => {
                self.port = Some(
                    value
                        .parse()
                        .map_err(|_| format!("port = {value:?} is not a port number"))?,
                )
            }
            "pool_size" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| format!("pool_size = {value:?} is not a whole number"))?;
                if !(1..=64).contains(&n) {
                    return Err(format!("pool_size = {n}: give 1 to 64"));
                }
                self.pool.pool_size = n;
            }
            "connect_timeout" => self.pool.connect_timeout = seconds(value)?,
            "statement_timeout" => self.pool.statement_timeout = seconds(value)?,
            "password_file" => self.password_file = Some(PathBuf::from(value)),
            "password_env" => self.password_env = Some(value.to_string()),
            other => {
                return Err(format!(
                    "unknown database option {other:?}; known: sslmode, ssl_mode, sslrootcert, \
                     ssl_ca, host, unix_socket, port, pool_size, connect_timeout, \
                     statement_timeout, password_file, password_env"
                ))
            }
        }
        Ok(())
    }

    /// The password from wherever it was given (at most one place), and defaults.
    pub fn finish(self) -> Result<NetworkDatabase, String> {
        let given = [
            self.password.is_some(),
            self.password_file.is_some(),
            self.password_env.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given > 1 {
            return Err(
                "give the password one way: in the URL/PASSWORD, PASSWORD_FILE or PASSWORD_ENV"
                    .into(),
            );
        }
        let password = if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?;
            Some(Password(text.trim_end_matches(['\n', '\r']).to_string()))
        } else if let Some(var) = &self.password_env {
            Some(Password(std::env::var(var).map_err(|_| {
                format!("the environment variable {var} (the database password) is not set")
            })?))
        } else {
            self.password
        };
        if self.name.is_empty() {
            return Err("no database name (e.g. postgres://user@host/app)".into());
        }
        if self.user.is_empty() {
            return Err("no database user (e.g. postgres://user@host/app)".into());
        }
        // No host: the local socket, as libpq and libmysqlclient (so Django) use then.
        let host = self.host.unwrap_or_else(|| match self.engine {
            Engine::Postgres => Host::Socket(PathBuf::from("/var/run/postgresql")),
            Engine::Mysql => Host::Socket(PathBuf::from("/run/mysqld/mysqld.sock")),
        });
        // A socket needs no TLS; over TCP libpq and mysqlclient prefer it.
        let tls = self.tls.unwrap_or(match host {
            Host::Socket(_) => TlsMode::Disable,
            Host::Tcp(_) => TlsMode::Prefer,
        });
        Ok(NetworkDatabase {
            engine: self.engine,
            port: self.port.unwrap_or(self.engine.default_port()),
            host,
            name: self.name,
            user: self.user,
            password,
            tls,
            tls_ca: self.tls_ca,
            pool: self.pool,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let db = NetworkDatabase::parse_url(
            Engine::Postgres,
            "gate:s%40cret@db.internal:6432/app?sslmode=require&pool_size=8&statement_timeout=0.5",
        )
        .unwrap();
        assert_eq!(db.host, Host::Tcp("db.internal".into()));
        assert_eq!(db.port, 6432);
        assert_eq!(db.user, "gate");
        assert_eq!(db.password, Some(Password("s@cret".into())));
        assert_eq!(db.tls, TlsMode::Require);
        assert_eq!(db.pool.pool_size, 8);
        assert_eq!(db.pool.statement_timeout, Duration::from_millis(500));
        assert_eq!(db.location(), "postgres://gate@db.internal:6432/app");
        assert!(!format!("{db:?}").contains("s@cret"));

        let db = NetworkDatabase::parse_url(
            Engine::Mysql,
            "gate@/app?unix_socket=/run/mysqld/mysqld.sock",
        )
        .unwrap();
        assert_eq!(db.host, Host::Socket("/run/mysqld/mysqld.sock".into()));
        assert_eq!(db.tls, TlsMode::Disable);
        assert_eq!(db.port, 3306);

        for bad in [
            "gate@h/app?pool_size=0",
            "gate@h/app?sslmode=maybe",
            "gate@h:99999/app",
            "gate@h/",
            "h/app",
            "gate@h/app?bogus=1",
            "gate:x@h/app?password_env=DRFGATE_TEST_UNSET_VARIABLE",
        ] {
            assert!(
                NetworkDatabase::parse_url(Engine::Postgres, bad).is_err(),
                "{bad}"
            );
        }
        let err = NetworkDatabase::parse_url(
            Engine::Postgres,
            "gate@h/app?password_env=DRFGATE_TEST_UNSET_VARIABLE",
        )
        .unwrap_err();
        assert!(err.contains("DRFGATE_TEST_UNSET_VARIABLE"), "{err}");
    }
}
