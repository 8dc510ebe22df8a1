//! A small RESP2 client of our own, shared by the throttle histories (`throttle/redis.rs`), the
//! revocation listener (`revocation/redis.rs`) and Django's cached sessions
//! (`auth/session/cached.rs`): the gate sends a handful of commands (`EVAL`, `SUBSCRIBE`, `PING`,
//! `GET`), and the `redis` crate's current releases need a newer Rust
//! than the workspace's and pull `url`/ICU in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use parking_lot::Mutex;

/// Where the Redis server is, as `redis://[[user]:password@]host[:port][/db]` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisTarget {
    pub host: String,
    pub port: u16,
    pub db: u32,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl RedisTarget {
    pub fn parse(url: &str) -> Result<RedisTarget, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("{url:?} is not a redis:// URL"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => match info.split_once(':') {
                Some((user, password)) => (
                    (!user.is_empty()).then(|| user.to_string()),
                    Some(password.to_string()),
                ),
                None => (Some(info.to_string()), None),
            },
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || hostport.starts_with('[') => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("{port:?} is not a port number"))?,
            ),
            _ => (hostport, 6379),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("{url:?} names no host"));
        }
        let db = match path.trim_end_matches('/') {
            "" => 0,
            db => db
                .parse::<u32>()
                .map_err(|_| format!("{db:?} is not a database number"))?,
        };
        Ok(RedisTarget {
            host: host.to_string(),
            port,
            db,
            username,
            password,
        })
    }

    pub(crate) fn connect(&self, timeout: Duration) -> Result<Connection, String> {
        let address = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("{} has no address", self.host))?;
        let stream = TcpStream::connect_timeout(&address, timeout)
            .map_err(|e| format!("cannot connect to Redis at {address}: {e}"))?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| format!("Redis at {address}: {e}"))?;
        let mut connection = Connection {
            reader: BufReader::new(stream),
        };
        if let Some(password) = &self.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &self.username {
                args.push(user.as_bytes());
            }
            args.push(password.as_bytes());
            connection.call(&args)?;
        }
        if self.db != 0 {
            connection.call(&[b"SELECT", self.db.to_string().as_bytes()])?;
        }
        Ok(connection)
    }
}

/// Pooled connections to one Redis server, for request/reply commands (not `SUBSCRIBE`).
pub struct Client {
    target: RedisTarget,
    timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

/// Idle connections kept for reuse; more in flight at once are opened and closed.
const POOL: usize = 16;

impl Client {
    pub fn new(target: RedisTarget, timeout: Duration) -> Client {
        Client {
            target,
            timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The server this client talks to.
    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// `GET key`: the value, or `None` when the key does not exist.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match self.call(&[b"GET", key])? {
            Reply::Nil => Ok(None),
            Reply::Bulk(value) => Ok(Some(value)),
            other => Err(format!("Redis answered GET with {other:?}")),
        }
    }

    /// Runs one command on a pooled connection, or a new one. A pooled connection that fails
    /// (Redis restarted, or closed it while idle) gets one retry on a fresh connection; a
    /// connection that failed is never reused.
    pub fn call(&self, args: &[&[u8]]) -> Result<Reply, String> {
        let pooled = self.idle.lock().pop();
        if let Some(mut connection) = pooled {
            if let Ok(reply) = connection.call(args) {
                self.put_back(connection);
                return Ok(reply);
            }
        }
        let mut connection = self.target.connect(self.timeout)?;
        let reply = connection.call(args)?;
        self.put_back(connection);
        Ok(reply)
    }

    fn put_back(&self, connection: Connection) {
        let mut idle = self.idle.lock();
        if idle.len() < POOL {
            idle.push(connection);
        }
    }
}

/// A RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Integer(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
}

pub(crate) struct Connection {
    pub(crate) reader: BufReader<TcpStream>,
}

/// Replies are small (a script's few items, a pub/sub message); anything bigger is refused.
const MAX_BULK: usize = 1 << 20;
const MAX_ITEMS: usize = 1024;

impl Connection {
    /// Writes one command without waiting for its reply (a subscribed connection's replies
    /// arrive among its messages).
    pub(crate) fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut command = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            command.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            command.extend_from_slice(arg);
            command.extend_from_slice(b"\r\n");
        }
        self.reader
            .get_mut()
            .write_all(&command)
            .map_err(|e| format!("writing to Redis: {e}"))
    }

    /// Waits up to `wait` for the server to send something; `Ok(false)` when it sent nothing.
    /// The read timeout stays `wait` afterwards, for the reply that follows.
    pub(crate) fn wait_readable(&mut self, wait: Duration) -> Result<bool, String> {
        if !self.reader.buffer().is_empty() {
            return Ok(true);
        }
        self.reader
            .get_ref()
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .map_err(|e| format!("Redis: {e}"))?;
        match self.reader.fill_buf() {
            Ok([]) => Err("Redis closed the connection".into()),
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(format!("reading from Redis: {e}")),
        }
    }

    pub(crate) fn call(&mut self, args: &[&[u8]]) -> Result<Reply, String> {
        self.send(args)?;
        match self.read(0)? {
            Reply::Status(error) if error.starts_with('-') => {
                Err(format!("Redis refused: {}", &error[1..]))
            }
            reply => Ok(reply),
        }
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = Vec::new();
        (&mut self.reader)
            .take(64 * 1024)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("reading from Redis: {e}"))?;
        if !line.ends_with(b"\r\n") {
            return Err("Redis closed the connection or sent a malformed reply".into());
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).map_err(|_| "Redis sent a reply line that is not UTF-8".into())
    }

    pub(crate) fn read(&mut self, depth: usize) -> Result<Reply, String> {
        if depth > 4 {
            return Err("Redis sent a reply nested too deep".into());
        }
        let line = self.line()?;
        let (kind, rest) = line.split_at(line.len().min(1));
        let number = || {
            rest.parse::<i64>()
                .map_err(|_| format!("Redis sent a malformed reply {line:?}"))
        };
        Ok(match kind {
            "+" => Reply::Status(rest.to_string()),
            // Kept as a status starting with '-' so `call` can turn it into an error.
            "-" => Reply::Status(line.clone()),
            ":" => Reply::Integer(number()?),
            "$" => match number()? {
                -1 => Reply::Nil,
                n if n < 0 || n as usize > MAX_BULK => {
                    return Err(format!("Redis sent a bulk string of {n} bytes"))
                }
                n => {
                    let mut data = vec![0; n as usize + 2];
                    self.reader
                        .read_exact(&mut data)
                        .map_err(|e| format!("reading from Redis: {e}"))?;
                    data.truncate(n as usize);
                    Reply::Bulk(data)
                }
            },
            "*" => match number()? {
                -1 => Reply::Nil,
                n if n < 0 || n as usize > MAX_ITEMS => {
                    return Err(format!("Redis sent an array of {n} items"))
                }
                n => {
                    let mut items = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        items.push(self.read(depth + 1)?);
                    }
                    Reply::Array(items)
                }
            },
            _ => return Err(format!("Redis sent an unknown reply {line:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = RedisTarget::parse("redis://127.0.0.1:6379/2").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.db), ("127.0.0.1", 6379, 2));
        let t = RedisTarget::parse("redis://:secret@cache").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.db), ("cache", 6379, 0));
        assert_eq!(t.password.as_deref(), Some("secret"));
        assert_eq!(t.username, None);
        let t = RedisTarget::parse("redis://u:p@[::1]:7000/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 7000));
        assert_eq!(t.username.as_deref(), Some("u"));
        for bad in ["http://x", "redis://", "redis://h:port", "redis://h/x"] {
            assert!(RedisTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
