use std::sync::Arc;

use super::*;
use crate::decision::{AuthObject, Scheme, User, UserPk};

fn view(class: &str, kind: ThrottleKind, scope: &str, rate: &str) -> ViewThrottle {
    ViewThrottle {
        class: class.into(),
        kind,
        scope: scope.into(),
        rate: Some(parse_rate(rate).unwrap()),
    }
}

fn user(pk: i64) -> Identity {
    Identity {
        user: Arc::new(User {
            pk: UserPk::Int(pk),
            username: "u".into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
        }),
        scheme: Scheme::Token,
        authenticator: "TokenAuthentication".into(),
        auth: AuthObject::Token,
    }
}

fn throttling(clock: &Arc<ManualClock>) -> Throttling {
    Throttling::new(Box::new(MemoryWindows::new(1000)), clock.clone(), None)
}

/// The 429 DRF would send for these throttles now, or `None` when allowed.
fn answer(
    t: &Throttling,
    throttles: &[ViewThrottle],
    identity: Option<&Identity>,
) -> Option<(String, Option<u64>)> {
    let request = Request::new(b"GET", b"/").with_remote_addr(Some(b"127.0.0.1"));
    let refusals = t.check(throttles, identity, &request, true).unwrap();
    if refusals.is_empty() {
        return None;
    }
    let deny = throttled(longest_wait(&refusals), None);
    assert_eq!(deny.status, 429);
    Some((deny.detail().unwrap(), deny.retry_after))
}

fn expected(seconds: u64) -> Option<(String, Option<u64>)> {
    let unit = if seconds == 1 { "second" } else { "seconds" };
    Some((
        format!("Request was throttled. Expected available in {seconds} {unit}."),
        Some(seconds),
    ))
}

#[test]
fn the_anon_timeline_of_the_spec() {
    // Spec §3.8.
    let clock = Arc::new(ManualClock::at(1000.0));
    let t = throttling(&clock);
    let anon = [view("AnonRateThrottle", ThrottleKind::Anon, "anon", "3/m")];
    for now in [1000.0, 1001.0, 1002.0] {
        clock.set(now);
        assert_eq!(answer(&t, &anon, None), None);
    }
    for (now, seconds) in [(1003.0, 57), (1003.5, 57), (1059.2, 1), (1059.99, 1)] {
        clock.set(now);
        assert_eq!(answer(&t, &anon, None), expected(seconds), "t={now}");
    }
    clock.set(1060.0);
    assert_eq!(answer(&t, &anon, None), None);
    clock.set(1060.5);
    assert_eq!(answer(&t, &anon, None), expected(1));
    clock.set(1061.0);
    assert_eq!(answer(&t, &anon, None), None);
    // An authenticated user is never an AnonRateThrottle's business.
    assert_eq!(answer(&t, &anon, Some(&user(1))), None);
}

#[test]
fn user_and_scoped_timelines_of_the_spec() {
    let clock = Arc::new(ManualClock::at(4000.0));
    let t = throttling(&clock);
    let users = [view("UserRateThrottle", ThrottleKind::User, "user", "2/m")];
    let alice = user(1);
    assert_eq!(answer(&t, &users, Some(&alice)), None);
    clock.set(4001.0);
    assert_eq!(answer(&t, &users, Some(&alice)), None);
    clock.set(4002.0);
    assert_eq!(answer(&t, &users, Some(&alice)), expected(58));
    clock.set(4003.0);
    assert_eq!(
        answer(&t, &users, None),
        None,
        "throttle_user_127.0.0.1 is another key"
    );

    let uploads = [view(
        "ScopedRateThrottle",
        ThrottleKind::Scoped,
        "uploads",
        "2/h",
    )];
    let unscoped = [ViewThrottle {
        rate: None,
        ..uploads[0].clone()
    }];
    clock.set(5000.0);
    assert_eq!(answer(&t, &uploads, None), None);
    clock.set(5001.0);
    assert_eq!(answer(&t, &uploads, Some(&alice)), None);
    clock.set(5002.0);
    assert_eq!(answer(&t, &unscoped, None), None);
    clock.set(5003.0);
    assert_eq!(answer(&t, &uploads, None), None);
    clock.set(5004.0);
    assert_eq!(answer(&t, &uploads, None), expected(3596));
}

#[test]
fn several_throttles_all_run_and_the_longest_wait_wins() {
    // Spec §3.7.
    let clock = Arc::new(ManualClock::at(6000.0));
    let t = throttling(&clock);
    let pair = [
        view("One", ThrottleKind::Anon, "one", "1/m"),
        view("Hour", ThrottleKind::Anon, "hour", "1/h"),
    ];
    assert_eq!(answer(&t, &pair, None), None);
    clock.set(6010.0);
    assert_eq!(answer(&t, &pair, None), expected(3590));

    let pair = [
        view("One", ThrottleKind::Anon, "one2", "1/m"),
        view("Three", ThrottleKind::Anon, "three", "3/m"),
    ];
    clock.set(7000.0);
    assert_eq!(answer(&t, &pair, None), None);
    for (now, seconds) in [(7001.0, 59), (7002.0, 58), (7003.0, 57)] {
        clock.set(now);
        assert_eq!(answer(&t, &pair, None), expected(seconds), "t={now}");
    }
}

#[test]
fn zero_negative_and_rateless_throttles() {
    let clock = Arc::new(ManualClock::at(1.0));
    let t = throttling(&clock);
    assert_eq!(
        answer(&t, &[view("Z", ThrottleKind::Anon, "z", "0/m")], None),
        expected(60)
    );
    assert_eq!(
        answer(&t, &[view("N", ThrottleKind::Anon, "n", "-1/m")], None),
        Some(("Request was throttled.".to_string(), None))
    );
    let none = ViewThrottle {
        class: "A".into(),
        kind: ThrottleKind::Anon,
        scope: "anon".into(),
        rate: None,
    };
    assert_eq!(answer(&t, &[none], None), None);
}

#[test]
fn the_body_is_drfs_bytes() {
    let deny = throttled(Some(56.5), None);
    assert_eq!(
        &*deny.body,
        br#"{"detail":"Request was throttled. Expected available in 57 seconds."}"#
    );
    assert_eq!(deny.retry_after, Some(57));
    assert_eq!(throttled(Some(0.01), None).retry_after, Some(1));
    let none = throttled(None, None);
    assert_eq!(&*none.body, br#"{"detail":"Request was throttled."}"#);
    assert_eq!(none.retry_after, None);
}

#[test]
fn checking_without_recording_answers_the_same_and_leaves_the_history() {
    let clock = Arc::new(ManualClock::at(1.0));
    let t = throttling(&clock);
    let one = [view("A", ThrottleKind::Anon, "anon", "1/m")];
    let request = Request::new(b"GET", b"/").with_remote_addr(Some(b"127.0.0.1"));
    for _ in 0..3 {
        assert!(t.check(&one, None, &request, false).unwrap().is_empty());
    }
    assert!(t.check(&one, None, &request, true).unwrap().is_empty());
    assert_eq!(t.check(&one, None, &request, false).unwrap().len(), 1);
}
