//! The Redis throttle in-process, against a real `redis-server`, on a clock the test moves:
//! the same fixed windows as the in-process throttle without waiting an hour, IPv6 per /64,
//! keys that always carry a TTL, and a deadline that bounds what a silent Redis costs (timed
//! on tokio's paused clock, so a busy machine cannot make it flaky).

use crate::instances::RedisServer;
use result_aggregation_server::config::{RedisSettings, RedisUrl, DEFAULT_REDIS_DEADLINE};
use result_aggregation_server::metrics::Metrics;
use result_aggregation_server::throttle::{ManualClock, RedisThrottle};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn settings(redis: &RedisServer, prefix: &str, deadline: Duration) -> RedisSettings {
    RedisSettings {
        url: RedisUrl::new(&redis.url()),
        prefix: prefix.to_owned(),
        deadline,
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[tokio::test]
async fn redis_windows_are_the_in_process_throttles_and_keys_expire_with_them() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let clock = Arc::new(ManualClock::at(Duration::from_secs(2_000_000_000)));
    let throttle = RedisThrottle::connect(
        &settings(&redis, "window:", Duration::from_secs(2)),
        "3/minute".parse().unwrap(),
        clock.clone(),
        Metrics::new(),
    )
    .await
    .unwrap();
    assert!(throttle.is_shared());
    let a = ip("192.0.2.1");
    let mut remaining = Vec::new();
    for _ in 0..3 {
        remaining.push(throttle.admit(a).await.remaining);
    }
    assert_eq!(remaining, [2, 1, 0]);
    let over = throttle.admit(a).await;
    assert!(!over.allowed);
    assert_eq!(over.reset_after, Duration::from_secs(60));
    assert_eq!(over.reset_at, 2_000_000_060);
    assert!(
        throttle.admit(ip("192.0.2.2")).await.allowed,
        "another address, another budget"
    );
    clock.advance(Duration::from_secs(59));
    let still = throttle.admit(a).await;
    assert!(!still.allowed);
    assert_eq!(still.reset_after, Duration::from_secs(1));
    clock.advance(Duration::from_secs(1));
    let fresh = throttle.admit(a).await;
    assert!(fresh.allowed);
    assert_eq!(fresh.remaining, 2);

    // IPv6: one budget per /64, named so in the key.
    let v6 = ip("2001:db8:1:2:aaaa::1");
    assert_eq!(throttle.key(v6), "window:throttle:2001:db8:1:2::/64");
    throttle.admit(v6).await;
    assert_eq!(
        throttle.admit(ip("2001:db8:1:2:bbbb::2")).await.remaining,
        1
    );
    assert_eq!(throttle.admit(ip("2001:db8:1:3::1")).await.remaining, 2);

    let mut conn = redis.connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("window:*").query(&mut conn).unwrap();
    assert_eq!(keys.len(), 4, "{keys:?}");
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).unwrap();
        assert!(ttl > 0 && ttl <= 60_000, "{key}: PTTL {ttl}");
    }
}

#[tokio::test]
async fn a_silent_redis_costs_a_submission_its_deadline_and_no_more() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let clock = Arc::new(ManualClock::at(Duration::from_secs(2_000_000_000)));
    let throttle = RedisThrottle::connect(
        &settings(&redis, "deadline:", DEFAULT_REDIS_DEADLINE),
        "3/minute".parse().unwrap(),
        clock,
        Metrics::new(),
    )
    .await
    .unwrap();
    let a = ip("192.0.2.1");
    // On the real clock, a loaded machine may miss the deadline now and then: count once
    // in Redis, trying again until that works.
    let real = Instant::now();
    loop {
        assert!(
            real.elapsed() < Duration::from_secs(30),
            "Redis never counted"
        );
        if throttle.is_shared() {
            throttle.admit(a).await;
            if throttle.is_shared() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    redis.pause();
    // From here tokio's clock moves only when every task waits on it: the time measured is
    // what the throttle waited on its own timer, however slow the machine.
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let waited_for = throttle.admit(a).await;
    let waited = started.elapsed();
    // Timers fire on whole milliseconds, rounded up.
    let tick = Duration::from_millis(1);
    assert!(waited <= DEFAULT_REDIS_DEADLINE + tick, "waited {waited:?}");
    assert!(waited_for.allowed, "counted in this process instead");
    assert!(!throttle.is_shared());
    let started = tokio::time::Instant::now();
    throttle.admit(a).await;
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "later ones do not ask Redis at all"
    );
    tokio::time::resume();
    redis.resume();

    let real = Instant::now();
    while !throttle.is_shared() {
        assert!(
            real.elapsed() < Duration::from_secs(30),
            "Redis was not used again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut conn = redis.connection().unwrap();
    let key = throttle.key(a);
    let count = |conn: &mut redis::Connection| -> u32 {
        redis::cmd("HGET")
            .arg(&key)
            .arg("count")
            .query(conn)
            .unwrap()
    };
    let before = count(&mut conn);
    throttle.admit(a).await;
    assert_eq!(count(&mut conn), before + 1, "counted in Redis again");
}
