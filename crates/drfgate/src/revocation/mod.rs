//! Revocation pushed to every running gate: one listener thread per gate (one connection per
//! process) hears that a user's credentials changed and drops everything the gate cached about
//! that user, so a token deleted, a password changed or a user deactivated or deleted in Django
//! stops working within the notification's delivery time rather than after `[cache]
//! ttl_seconds`.
//!
//! Notifications come from PostgreSQL (`LISTEN`, fed by the triggers of
//! `python/drfgate-django/src/drfgate_django/sql/revocation_postgres.sql`) or from Redis
//! (`SUBSCRIBE`, fed by `drfgate_django.revocation`'s signal handlers). A payload is a user's
//! primary key as text, or `*` for "anything may have changed" (a group's permissions), or `+`
//! and a primary key for "this user has a new token" (nothing to revoke; the token filter reads
//! the user's keys); raw token keys never travel.
//!
//! While the listener is not connected, notifications are lost, so the gate cannot trust what it
//! cached: the thread drops every cached credential when the connection is lost, again every
//! `disconnected_ttl` until it is back, and once more as soon as it is back (what was cached
//! before the subscription took effect may already be revoked). Every answer from the caches
//! is then at most `disconnected_ttl` old.
//!
//! The thread starts at the first decision the gate makes, not when it is built: Apache's
//! parent builds gates only to check configs and forks its children afterwards, and a thread
//! does not survive a fork. It ends by itself within a second of the gate being dropped.
//!
//! The same notifications keep the token filter (`store/token_filter.rs`, kept by
//! `store/filter_keeper.rs`) true: loaded once subscribed, refreshed for each user named, and
//! distrusted while the subscription is lost.
//!
//! One job per file: this file holds the settings and the listener loop (reconnecting with
//! backoff, the incident log, the cache dropping); `postgres` and `redis` each hold one kind of
//! subscription.

#[cfg(feature = "postgres")]
mod postgres;
mod redis;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once, Weak};
use std::time::{Duration, Instant};

use crate::decision::UserPk;
use crate::incident::Incident;
use crate::redis::RedisTarget;
use crate::store::network::NetworkDatabase;

/// `[revocation]`: where notifications come from. Absent: no listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationSettings {
    pub source: RevocationSource,
    /// The PostgreSQL channel or Redis channel notifications are published on.
    pub channel: String,
    /// While the listener is disconnected, the longest a cached credential is trusted.
    pub disconnected_ttl: Duration,
}

/// The default channel, the same in the SQL triggers and the Django signal handlers.
pub const DEFAULT_CHANNEL: &str = "drfgate_revocation";
/// The default `disconnected_ttl`.
pub const DEFAULT_DISCONNECTED_TTL: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevocationSource {
    /// `LISTEN` on the PostgreSQL database the gate reads.
    Postgres(Box<NetworkDatabase>),
    /// `SUBSCRIBE` on a Redis server.
    Redis(RedisTarget),
}

impl RevocationSource {
    fn describe(&self, channel: &str) -> String {
        match self {
            RevocationSource::Postgres(db) => format!("LISTEN {channel} on {}", db.location()),
            RevocationSource::Redis(t) => {
                format!("SUBSCRIBE {channel} on Redis at {}:{}", t.host, t.port)
            }
        }
    }
}

/// What the listener drops caches through (the gate's caches).
pub(crate) trait Revocable: Send + Sync {
    /// Drops everything cached about one user.
    fn revoke_user(&self, pk: &UserPk) -> usize;
    /// Drops every cached credential.
    fn revoke_all(&self) -> usize;
    /// The subscription is in place: what is kept fresh by notifications (the token filter)
    /// may be loaded now without missing any.
    fn subscribed(&self) {}
    /// The subscription is lost: notifications may be missed until the next `subscribed`.
    fn unsubscribed(&self) {}
    /// A notification named this user (its primary key as text), after `revoke_user`.
    fn user_changed(&self, pk: &str) {
        let _ = pk;
    }
    /// Called between notifications (at least every `TICK`) while subscribed.
    fn tick(&self) {}
}

/// One subscription: a connection that yields payloads.
trait Subscription {
    /// The next payload, or `None` when nothing came within `wait`.
    fn next(&mut self, wait: Duration) -> Result<Option<String>, String>;
}

/// The gate's side: starts the listener thread once, at the first decision.
pub(crate) struct Listener {
    settings: RevocationSettings,
    target: Weak<dyn Revocable>,
    started: Once,
    /// Subscribed, and the caches dropped since: notifications are being heard.
    listening: Arc<AtomicBool>,
}

impl Listener {
    pub(crate) fn new(settings: RevocationSettings, target: &Arc<dyn Revocable>) -> Listener {
        Listener {
            settings,
            target: Arc::downgrade(target),
            started: Once::new(),
            listening: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Starts the listener thread unless it runs already; cheap after the first call.
    pub(crate) fn ensure_started(&self) {
        self.started.call_once(|| {
            let settings = self.settings.clone();
            let target = self.target.clone();
            let listening = self.listening.clone();
            let spawned = std::thread::Builder::new()
                .name("drfgate-revocation".into())
                .spawn(move || listen(&settings, &target, &listening));
            if let Err(e) = spawned {
                log::error!("revocation: cannot start the listener thread: {e}");
            }
        });
    }

    /// Whether notifications are being heard now.
    pub(crate) fn listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    pub(crate) fn describe(&self) -> String {
        self.settings.source.describe(&self.settings.channel)
    }
}

/// How often an idle listener wakes to see whether its gate is gone.
const TICK: Duration = Duration::from_millis(500);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

fn subscribe(settings: &RevocationSettings) -> Result<Box<dyn Subscription>, String> {
    match &settings.source {
        #[cfg(feature = "postgres")]
        RevocationSource::Postgres(db) => Ok(Box::new(postgres::PgSubscription::connect(
            db,
            &settings.channel,
        )?)),
        #[cfg(not(feature = "postgres"))]
        RevocationSource::Postgres(_) => Err("built without the postgres feature".into()),
        RevocationSource::Redis(target) => Ok(Box::new(redis::RedisSubscription::connect(
            target,
            &settings.channel,
        )?)),
    }
}

/// The listener thread: subscribe, apply payloads; on a lost connection, drop the caches and
/// keep dropping them every `disconnected_ttl` while reconnecting with backoff.
fn listen(settings: &RevocationSettings, target: &Weak<dyn Revocable>, listening: &AtomicBool) {
    let what = settings.source.describe(&settings.channel);
    let incident = Incident::default();
    let mut backoff = FIRST_BACKOFF;
    let mut ever_connected = false;
    loop {
        if target.strong_count() == 0 {
            return;
        }
        match subscribe(settings) {
            Ok(mut subscription) => {
                // Anything cached before the subscription took effect may have missed a
                // notification.
                drop_everything(target);
                listening.store(true, Ordering::Release);
                if let Some(gate) = target.upgrade() {
                    gate.subscribed();
                }
                backoff = FIRST_BACKOFF;
                if let Some(failures) = incident.answered() {
                    log::warn!(
                        "revocation: {what} is back after {failures} failed attempt(s); \
                         cached credentials trusted again for their ttl"
                    );
                } else if !ever_connected {
                    log::info!("revocation: {what}");
                }
                ever_connected = true;
                let lost = follow(subscription.as_mut(), target);
                listening.store(false, Ordering::Release);
                if let Some(gate) = target.upgrade() {
                    gate.unsubscribed();
                }
                let Some(lost) = lost else { return };
                drop_everything(target);
                if incident.failed() {
                    log::error!(
                        "revocation: lost {what}: {lost}; reconnecting, and until then cached \
                         credentials are trusted for at most {:?}",
                        settings.disconnected_ttl
                    );
                }
            }
            Err(e) => {
                drop_everything(target);
                if incident.failed() {
                    log::error!(
                        "revocation: cannot {what}: {e}; retrying, and until then cached \
                         credentials are trusted for at most {:?}",
                        settings.disconnected_ttl
                    );
                }
            }
        }
        wait_dropping(backoff, settings.disconnected_ttl, target);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Applies payloads until the connection fails (`Some(why)`) or the gate is gone (`None`).
fn follow(subscription: &mut dyn Subscription, target: &Weak<dyn Revocable>) -> Option<String> {
    loop {
        match subscription.next(TICK) {
            Ok(Some(payload)) => {
                let gate = target.upgrade()?;
                apply(gate.as_ref(), &payload);
                gate.tick();
            }
            Ok(None) => target.upgrade()?.tick(),
            Err(e) => return Some(e),
        }
    }
}

/// Sleeps `backoff`, dropping the caches at least every `ttl` meanwhile.
fn wait_dropping(backoff: Duration, ttl: Duration, target: &Weak<dyn Revocable>) {
    let until = Instant::now() + backoff;
    let step = ttl.clamp(Duration::from_millis(10), TICK);
    loop {
        let now = Instant::now();
        if now >= until || target.strong_count() == 0 {
            return;
        }
        std::thread::sleep(step.min(until - now));
        drop_everything(target);
    }
}

fn drop_everything(target: &Weak<dyn Revocable>) {
    if let Some(gate) = target.upgrade() {
        gate.revoke_all();
    }
}

/// Payloads longer than any primary key are ignored.
const MAX_PAYLOAD: usize = 256;

/// Applies one payload: a user's primary key, `*`, or `+` and a user's primary key.
fn apply(gate: &dyn Revocable, payload: &str) {
    let payload = payload.trim();
    if payload == "*" {
        gate.revoke_all();
        return;
    }
    // A new token: nothing cached is wrong, only the token filter learns of its key.
    let (payload, new_token) = match payload.strip_prefix('+') {
        Some(pk) => (pk, true),
        None => (payload, false),
    };
    if payload.is_empty() || payload.len() > MAX_PAYLOAD {
        log::warn!("revocation: ignored a notification that names no user");
        return;
    }
    if new_token {
        gate.user_changed(payload);
        return;
    }
    // A numeric text key and an integer key print alike; the gate may hold either.
    if let Ok(n) = payload.parse::<i64>() {
        gate.revoke_user(&UserPk::Int(n));
    }
    gate.revoke_user(&UserPk::Text(payload.into()));
    gate.user_changed(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Revocable for Recorder {
        fn revoke_user(&self, pk: &UserPk) -> usize {
            self.0.lock().unwrap().push(format!("{pk:?}"));
            1
        }
        fn revoke_all(&self) -> usize {
            self.0.lock().unwrap().push("all".into());
            1
        }
        fn user_changed(&self, pk: &str) {
            self.0.lock().unwrap().push(format!("changed {pk}"));
        }
    }

    #[test]
    fn payloads_name_a_user_or_everyone() {
        let recorder = Recorder::default();
        apply(&recorder, "42");
        apply(&recorder, "*");
        apply(&recorder, "3f2a-uuid");
        apply(&recorder, "");
        apply(&recorder, &"x".repeat(MAX_PAYLOAD + 1));
        apply(&recorder, "+7");
        apply(&recorder, "+");
        assert_eq!(
            *recorder.0.lock().unwrap(),
            [
                "Int(42)",
                "Text(\"42\")",
                "changed 42",
                "all",
                "Text(\"3f2a-uuid\")",
                "changed 3f2a-uuid",
                "changed 7"
            ]
        );
    }
}
