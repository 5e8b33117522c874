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

/// The moment the tests' clocks start at, since the Unix epoch.
const NOW: Duration = Duration::from_secs(2_000_000_000);

/// A throttle of 3 a minute counting in `redis` under `prefix`, on a clock the test moves,
/// with a generous deadline (these tests are about windows and keys, not about time).
async fn counting_in(redis: &RedisServer, prefix: &str) -> (RedisThrottle, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at(NOW));
    let throttle = RedisThrottle::connect(
        &settings(redis, prefix, Duration::from_secs(2)),
        "3/minute".parse().unwrap(),
        clock.clone(),
        Metrics::new(),
    )
    .await
    .unwrap();
    assert!(throttle.is_shared());
    (throttle, clock)
}

#[tokio::test]
async fn redis_windows_are_the_in_process_throttles_and_keys_expire_with_them() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (throttle, clock) = counting_in(&redis, "window:").await;
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
    let clock = Arc::new(ManualClock::at(NOW));
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

/// Issue 20, item 8: a key another program wrote under our prefix (another type, a negative
/// or non-numeric count, a window far in the future, no expiry) made every count fail (the
/// instance then fell back to its own memory) or never ran out. Each is replaced by a fresh
/// window in the same script call, with an expiry, and the instance keeps counting in Redis.
#[tokio::test]
async fn keys_written_by_another_program_are_repaired_in_the_same_call() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (throttle, _clock) = counting_in(&redis, "foreign:").await;
    let ms = NOW.as_millis().to_string();
    let future = (NOW.as_millis() + 10 * 365 * 86_400_000).to_string();
    let cases: [(&str, Vec<Vec<&str>>); 7] = [
        ("a string", vec![vec!["SET", "KEY", "garbage"]]),
        ("a list", vec![vec!["RPUSH", "KEY", "a", "b"]]),
        (
            "a negative count",
            vec![vec!["HSET", "KEY", "start", &ms, "count", "-1000"]],
        ),
        (
            "a count that is no number",
            vec![vec!["HSET", "KEY", "start", &ms, "count", "x"]],
        ),
        (
            "a fractional count",
            vec![vec!["HSET", "KEY", "start", &ms, "count", "1.5"]],
        ),
        (
            "a window ten years ahead",
            vec![vec!["HSET", "KEY", "start", &future, "count", "1"]],
        ),
        ("no start", vec![vec!["HSET", "KEY", "count", "2"]]),
    ];
    let mut conn = redis.connection().unwrap();
    for (n, (what, commands)) in cases.iter().enumerate() {
        let client: IpAddr = format!("192.0.2.{}", n + 1).parse().unwrap();
        let key = throttle.key(client);
        for command in commands {
            let mut cmd = redis::cmd(command[0]);
            for arg in &command[1..] {
                cmd.arg(if *arg == "KEY" { key.as_str() } else { arg });
            }
            let _: redis::Value = cmd.query(&mut conn).unwrap();
        }
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).unwrap();
        assert_eq!(ttl, -1, "{what}: written without an expiry");
        let decision = throttle.admit(client).await;
        assert!(throttle.is_shared(), "{what}: still counted in Redis");
        assert_eq!(decision.remaining, 2, "{what}: a fresh window");
        assert_eq!(decision.reset_after, Duration::from_secs(60), "{what}");
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).unwrap();
        assert!(ttl > 0 && ttl <= 60_000, "{what}: PTTL {ttl}");
        let count: u32 = redis::cmd("HGET")
            .arg(&key)
            .arg("count")
            .query(&mut conn)
            .unwrap();
        assert_eq!(count, 1, "{what}");
        assert_eq!(
            throttle.admit(client).await.remaining,
            1,
            "{what}: counted on"
        );
    }
    // A window of ours without an expiry (a PERSIST by hand) gets one back, count kept.
    let client = ip("192.0.2.100");
    throttle.admit(client).await;
    let key = throttle.key(client);
    let _: i64 = redis::cmd("PERSIST").arg(&key).query(&mut conn).unwrap();
    assert_eq!(throttle.admit(client).await.remaining, 1);
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "PTTL {ttl}");
}

/// Issue 20, item 8: a Redis that answers PING but refuses every count (here: out of memory)
/// made the instance flip between "failed" and "answers again" every second, and log each
/// flip. It still tries Redis again each second (the metrics count the errors), but the log
/// tells a failure at most once a minute (and the return after it once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_fails_every_count_is_logged_once_a_minute() {
    use crate::binary::Server;
    use crate::support::{request_from, submit_from};
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let server = Server::start(
        &dir.path().join("ras.db"),
        &["--rate-limit", "1000/hour", "--redis-url", &url],
    );
    server.wait_for_log("rate limit shared through Redis", 1);
    let mut conn = redis.connection().unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1")
        .query(&mut conn)
        .unwrap();
    let errors = || async {
        let (_, text) = request_from("127.0.0.1", server.addr(), "/metrics", "", "").await;
        crate::metrics::parse(&text)
            .unwrap()
            .value("ras_redis_errors_total", &[])
    };
    // Each error after the first is a flip back from "answers again" (a second apart).
    let mut sent = 0;
    while errors().await < 4.0 {
        assert_eq!(submit_from("127.0.0.2", server.addr(), "").await.0, 200);
        sent += 1;
        assert!(sent < 200, "Redis was tried again");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("0")
        .query(&mut conn)
        .unwrap();
    let log = server.log.lock().unwrap().clone();
    let failed = log.matches(&format!("Redis at {url} failed")).count();
    let back = log.matches("answers again: the shared budget").count();
    assert_eq!(failed, 1, "one failure told in the minute:\n{log}");
    assert!(back <= 1, "and the return after it, once:\n{log}");
}
