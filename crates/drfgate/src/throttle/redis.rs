//! Histories in Redis, shared by every gate process and host that names the same server:
//! the same sliding window as DRF's, applied atomically by one Lua script per request.
//!
//! The format is drfgate's own (Django's cache stores a pickled list, which the gate never
//! reads or writes): under `<KEY_PREFIX><DRF's cache key>` (e.g.
//! `drfgate:throttle_anon_203.0.113.7`), a Redis list of request times as decimal UNIX
//! seconds, newest first, with a TTL of the window's duration as DRF's `cache.set` gives.
//!
//! Over the shared RESP client (`crate::redis`); connections are pooled there and a failure
//! fails closed.

use std::time::Duration;

use super::rate::Rate;
use super::window::{Op, Window, WindowStore};
// Kept here too: the config names `throttle::redis::RedisTarget`.
pub use crate::redis::{RedisTarget, Reply};

/// The window operation, atomically: drop the times that left the window, decide, record.
/// Returns `{allowed, len, oldest}`, `oldest` as the stored text (a Lua number would be
/// truncated to an integer on the way back).
const SCRIPT: &str = r#"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local duration = tonumber(ARGV[2])
local num = tonumber(ARGV[3])
local op = ARGV[4]
local horizon = now - duration
while true do
  local last = redis.call('LINDEX', key, -1)
  if not last then break end
  local t = tonumber(last)
  if t ~= nil and t > horizon then break end
  redis.call('RPOP', key)
end
local len = redis.call('LLEN', key)
local oldest = redis.call('LINDEX', key, -1)
local allowed = 1
if op ~= 'record' and len >= num then allowed = 0 end
if (op == 'throttle' and allowed == 1) or op == 'record' then
  redis.call('LPUSH', key, ARGV[1])
  if op == 'record' then redis.call('LTRIM', key, 0, math.max(num, 1) - 1) end
  redis.call('EXPIRE', key, duration)
end
return {allowed, len, oldest}
"#;

/// Histories in Redis.
pub struct RedisWindows {
    client: crate::redis::Client,
    prefix: String,
}

impl RedisWindows {
    pub fn new(target: RedisTarget, prefix: String, timeout: Duration) -> RedisWindows {
        RedisWindows {
            client: crate::redis::Client::new(target, timeout),
            prefix,
        }
    }

    /// Runs one command (see [`crate::redis::Client::call`]).
    pub fn call(&self, args: &[&[u8]]) -> Result<Reply, String> {
        self.client.call(args)
    }
}

impl WindowStore for RedisWindows {
    fn apply(&self, key: &[u8], now: f64, rate: Rate, op: Op) -> Result<Window, String> {
        let mut full_key = self.prefix.as_bytes().to_vec();
        full_key.extend_from_slice(key);
        let now_text = format!("{now}");
        let op_text: &[u8] = match op {
            Op::Throttle => b"throttle",
            Op::Peek => b"peek",
            Op::Record => b"record",
        };
        let reply = self.call(&[
            b"EVAL",
            SCRIPT.as_bytes(),
            b"1",
            &full_key,
            now_text.as_bytes(),
            rate.duration.to_string().as_bytes(),
            rate.num.to_string().as_bytes(),
            op_text,
        ])?;
        let bad = || format!("Redis answered the throttle script with {reply:?}");
        let Reply::Array(items) = &reply else {
            return Err(bad());
        };
        let [Reply::Integer(allowed), Reply::Integer(len), oldest] = &items[..] else {
            return Err(bad());
        };
        let oldest = match oldest {
            Reply::Nil => None,
            Reply::Bulk(text) => Some(
                std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                    .ok_or_else(bad)?,
            ),
            _ => return Err(bad()),
        };
        Ok(Window {
            allowed: *allowed == 1,
            len: usize::try_from(*len).map_err(|_| bad())?,
            oldest,
        })
    }

    fn blocking(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!(
            "Redis at {}:{} db {} (keys {}…)",
            self.client.target().host,
            self.client.target().port,
            self.client.target().db,
            self.prefix
        )
    }
}
