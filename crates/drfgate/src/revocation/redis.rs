//! A Redis subscription: `SUBSCRIBE <channel>` on a connection of its own, and a `PING` when it
//! has been quiet for a while, so a connection that died silently is noticed.

use std::time::{Duration, Instant};

use super::Subscription;
use crate::redis::{Connection, RedisTarget, Reply};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A quiet connection is pinged this often; no answer within `CONNECT_TIMEOUT` loses it.
const PING_EVERY: Duration = Duration::from_secs(15);

pub(super) struct RedisSubscription {
    connection: Connection,
    channel: String,
    last_heard: Instant,
    ping_sent: Option<Instant>,
}

impl RedisSubscription {
    pub(super) fn connect(target: &RedisTarget, channel: &str) -> Result<Self, String> {
        let mut connection = target.connect(CONNECT_TIMEOUT)?;
        // Named, so an operator (or a test) can find the gates' listeners in CLIENT LIST.
        let name = format!("drfgate-revocation:{channel}");
        connection.call(&[b"CLIENT", b"SETNAME", name.as_bytes()])?;
        let reply = connection.call(&[b"SUBSCRIBE", channel.as_bytes()])?;
        match &reply {
            Reply::Array(items) if matches!(items.first(), Some(Reply::Bulk(kind)) if kind == b"subscribe") =>
                {}
            _ => return Err(format!("Redis answered SUBSCRIBE with {reply:?}")),
        }
        Ok(RedisSubscription {
            connection,
            channel: channel.to_string(),
            last_heard: Instant::now(),
            ping_sent: None,
        })
    }
}

impl Subscription for RedisSubscription {
    fn next(&mut self, wait: Duration) -> Result<Option<String>, String> {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            if let Some(sent) = self.ping_sent {
                if sent.elapsed() > CONNECT_TIMEOUT {
                    return Err("Redis did not answer a PING".into());
                }
            } else if self.last_heard.elapsed() > PING_EVERY {
                self.connection.send(&[b"PING"])?;
                self.ping_sent = Some(Instant::now());
            }
            if !self.connection.wait_readable(left)? {
                continue;
            }
            // The rest of a message that began to arrive may take longer than what was left.
            self.connection
                .reader
                .get_ref()
                .set_read_timeout(Some(CONNECT_TIMEOUT))
                .map_err(|e| format!("Redis: {e}"))?;
            let reply = self.connection.read(0)?;
            self.last_heard = Instant::now();
            self.ping_sent = None;
            let Reply::Array(items) = reply else {
                return Err(format!("Redis sent {reply:?} to a subscriber"));
            };
            match &items[..] {
                [Reply::Bulk(kind), Reply::Bulk(channel), Reply::Bulk(payload)]
                    if kind == b"message" && channel == self.channel.as_bytes() =>
                {
                    return Ok(Some(String::from_utf8_lossy(payload).into_owned()));
                }
                // `pong` and anything else a subscriber may be told.
                _ => {}
            }
        }
    }
}
