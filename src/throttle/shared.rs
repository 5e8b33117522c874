//! The shared throttle: budgets counted in Redis, so every instance that names the same Redis
//! and prefix draws on one budget per address. Redis helps but is never needed: each call has
//! a deadline, and when Redis fails or misses it this instance counts in its own memory
//! (logging the change once), retries Redis in the background, and goes back to the shared
//! budget as soon as Redis answers.

use super::{budget_key, Clock, Decision, MemoryThrottle, RateLimit};
use crate::config::RedisSettings;
use crate::metrics::{Backend, Metrics};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How long connecting (or a retry's PING) may take. Off the request path, so it can be
/// longer than a submission's deadline; short, so that start-up is not held up.
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(1);
/// Pause between retries while Redis does not answer.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Failed retries after which the connection is thrown away and made anew, in case the
/// client's own reconnecting is stuck.
const RENEW_AFTER: u32 = 3;

/// One fixed window per key, as the in-process throttle keeps it: it begins at the window's
/// first submission (ARGV[1], ms since the epoch, from the instance's clock) and lasts ARGV[2]
/// ms. The count and the expiry change in one atomic step, so no key is ever left without a
/// TTL. A key that another program wrote (another type, a count or start that is not a
/// whole number of ours, a negative count, a window that begins more than a window from
/// now) is replaced by a fresh window in the same step: an error here would make every
/// submission fall back to this process's count, and a bad count would never run out.
/// Returns the count in this window and when it began.
const COUNT_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local kind = redis.call('TYPE', KEYS[1])['ok']
local start, count
if kind == 'hash' then
  local fields = redis.call('HMGET', KEYS[1], 'start', 'count')
  local ours = function(text)
    return type(text) == 'string' and #text <= 15 and string.match(text, '^%d+$') ~= nil
  end
  if ours(fields[1]) and ours(fields[2]) then
    start = tonumber(fields[1])
    count = tonumber(fields[2])
  end
end
if start == nil or now >= start + window or start > now + window then
  if kind ~= 'none' then
    redis.call('DEL', KEYS[1])
  end
  start = now
  count = 1
  redis.call('HSET', KEYS[1], 'start', ARGV[1], 'count', 1)
else
  count = redis.call('HINCRBY', KEYS[1], 'count', 1)
end
redis.call('PEXPIRE', KEYS[1], math.max(start + window - now, 1))
return {count, start}
";

/// How often at most the log says that Redis failed: a Redis that answers PING but fails
/// every count would otherwise flip the instance, and its log, between "failed" and "answers
/// again" every second.
const FAILURES_LOGGED_EVERY: Duration = Duration::from_secs(60);

/// Changes of backend as the log tells them: a failure at most once a minute; the return
/// only after a failure that was told, so the log's last word is never "answers again" for
/// long while Redis fails, nor "failed" once it answers. Changes not told are counted, and
/// the next line that is told says how many.
#[derive(Default)]
struct ChangeLog {
    told: std::sync::Mutex<Told>,
}

#[derive(Default)]
struct Told {
    /// When a failure was last told.
    failure_at: Option<std::time::Instant>,
    /// Whether the last line told is a failure.
    failure_last: bool,
    /// Changes since the last line told.
    untold: u64,
}

impl Told {
    /// Whether a failure was told less than a minute before `now`.
    fn failure_told_within(&self, now: std::time::Instant) -> bool {
        self.failure_at
            .is_some_and(|at| now.duration_since(at) < FAILURES_LOGGED_EVERY)
    }

    /// Notes a failure told at `now`; the changes not told before it.
    fn tell_failure(&mut self, now: std::time::Instant) -> u64 {
        self.failure_at = Some(now);
        self.failure_last = true;
        std::mem::take(&mut self.untold)
    }
}

impl ChangeLog {
    fn told(&self) -> std::sync::MutexGuard<'_, Told> {
        self.told
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Redis failed at `now`: `Some(changes not told before)` when the log tells it.
    fn failed(&self, now: std::time::Instant) -> Option<u64> {
        let mut told = self.told();
        if told.failure_told_within(now) {
            told.untold += 1;
            return None;
        }
        Some(told.tell_failure(now))
    }

    /// Redis answers again: told when the last line told is a failure.
    fn answered(&self) -> Option<u64> {
        let mut told = self.told();
        if !told.failure_last {
            told.untold += 1;
            return None;
        }
        told.failure_last = false;
        Some(std::mem::take(&mut told.untold))
    }

    /// Redis still fails at `now` (the retrier asks each second): told when a failure was
    /// not, once a minute has passed since the last one that was.
    fn still_failing(&self, now: std::time::Instant) -> Option<u64> {
        let mut told = self.told();
        if told.failure_last || told.failure_told_within(now) {
            return None;
        }
        Some(told.tell_failure(now))
    }
}

/// `line`, with the number of changes the log left out before it, if any.
fn with_untold(line: std::fmt::Arguments<'_>, untold: u64) -> String {
    if untold == 0 {
        line.to_string()
    } else {
        format!("{line} ({untold} changes between Redis and this process's count were not logged in the last minute)")
    }
}

/// Budgets in Redis, with this process's memory standing in while Redis does not answer.
pub struct RedisThrottle {
    link: Arc<Link>,
    fallback: MemoryThrottle,
    limit: RateLimit,
    prefix: String,
    deadline: Duration,
    clock: Arc<dyn Clock>,
    script: redis::Script,
    /// Retries Redis while it does not answer; stopped when the throttle is dropped.
    retrier: JoinHandle<()>,
}

/// Why a call to Redis failed.
#[derive(Debug, thiserror::Error)]
enum RedisFailure {
    #[error("{0}")]
    Failed(#[source] redis::RedisError),
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
}

/// What submissions and the retrier share: the connection, and whether to use it.
struct Link {
    client: redis::Client,
    /// Replaced when retries keep failing.
    connection: RwLock<ConnectionManager>,
    /// True while Redis answers; false while this process counts on its own.
    shared: AtomicBool,
    /// Wakes the retrier when Redis stops answering.
    lost: Notify,
    metrics: Metrics,
    /// The URL with its password redacted, for the log.
    shown: String,
    /// Changes of backend, told at most once a minute.
    changes: ChangeLog,
}

impl RedisThrottle {
    /// Connects to the Redis `settings` name, waiting at most [`CONNECT_DEADLINE`] for its
    /// first answer (without one, counting starts in this process, with a warning). Fails
    /// only for a URL the client cannot use.
    pub async fn connect(
        settings: &RedisSettings,
        limit: RateLimit,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
    ) -> Result<RedisThrottle, redis::RedisError> {
        let client = redis::Client::open(settings.url.expose())?;
        let link = Arc::new(Link {
            connection: RwLock::new(lazy_connection(&client)?),
            client,
            shared: AtomicBool::new(false),
            lost: Notify::new(),
            metrics,
            shown: settings.url.to_string(),
            changes: ChangeLog::default(),
        });
        match link.ping().await {
            Ok(()) => {
                link.shared.store(true, Ordering::SeqCst);
                link.metrics.throttle_backend(Backend::Redis);
                log::info!(
                    "rate limit shared through Redis at {} (keys {}throttle:*)",
                    link.shown,
                    settings.prefix
                );
            }
            Err(why) => {
                link.metrics.redis_error();
                link.metrics.throttle_backend(Backend::Fallback);
                log::warn!(
                    "Redis at {} does not answer ({why}): counting submissions in this \
                     process until it does; retrying every {} s",
                    link.shown,
                    RETRY_INTERVAL.as_secs()
                );
                link.lost.notify_one();
            }
        }
        let retrier = tokio::spawn(retry(link.clone()));
        Ok(RedisThrottle {
            link,
            fallback: MemoryThrottle::new(limit, Box::new(clock.clone())),
            limit,
            prefix: settings.prefix.clone(),
            deadline: settings.deadline,
            clock,
            script: redis::Script::new(COUNT_SCRIPT),
            retrier,
        })
    }

    /// Counts one submission from `client`: in Redis while it answers within the deadline,
    /// otherwise in this process.
    pub async fn admit(&self, client: IpAddr) -> Decision {
        if self.is_shared() {
            match self.count_in_redis(client).await {
                Ok(decision) => return decision,
                Err(why) => self.link.lose(&why),
            }
        }
        self.fallback.admit(client)
    }

    /// Whether submissions are counted in Redis now (rather than in this process).
    pub fn is_shared(&self) -> bool {
        self.link.shared.load(Ordering::SeqCst)
    }

    /// The key holding `client`'s budget: `PREFIXthrottle:192.0.2.7` or, for IPv6, the /64:
    /// `PREFIXthrottle:2001:db8:1:2::/64`.
    pub fn key(&self, client: IpAddr) -> String {
        match budget_key(client) {
            IpAddr::V4(v4) => format!("{}throttle:{v4}", self.prefix),
            IpAddr::V6(v6) => format!("{}throttle:{v6}/64", self.prefix),
        }
    }

    async fn count_in_redis(&self, client: IpAddr) -> Result<Decision, RedisFailure> {
        let now = self.clock.now();
        let mut connection = self.link.connection();
        let mut invocation = self.script.key(self.key(client));
        invocation
            .arg(now.as_millis() as u64)
            .arg(self.limit.window.as_millis() as u64);
        let call = invocation.invoke_async::<(i64, i64)>(&mut connection);
        let (count, start) = match tokio::time::timeout(self.deadline, call).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(RedisFailure::Failed(e)),
            Err(_) => return Err(RedisFailure::NoAnswer(self.deadline)),
        };
        let count = u32::try_from(count.max(1)).unwrap_or(u32::MAX);
        let start = Duration::from_millis(start.max(0) as u64);
        Ok(Decision::in_window(self.limit, start, count, now))
    }
}

impl Drop for RedisThrottle {
    fn drop(&mut self) {
        self.retrier.abort();
    }
}

impl Link {
    fn connection(&self) -> ConnectionManager {
        self.connection
            .read()
            .expect("redis connection lock")
            .clone()
    }

    /// A PING within [`CONNECT_DEADLINE`].
    async fn ping(&self) -> Result<(), RedisFailure> {
        let mut connection = self.connection();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        match tokio::time::timeout(CONNECT_DEADLINE, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(RedisFailure::Failed(e)),
            Err(_) => Err(RedisFailure::NoAnswer(CONNECT_DEADLINE)),
        }
    }

    /// What the log says when Redis fails.
    fn failed_line(&self, why: &RedisFailure, untold: u64) -> String {
        with_untold(
            format_args!(
                "Redis at {} failed ({why}): counting submissions in this process until it \
                 answers again",
                self.shown
            ),
            untold,
        )
    }

    /// A call failed: count it, and on the first failure since Redis last answered, switch to
    /// this process's budgets, say so once, and wake the retrier.
    fn lose(&self, why: &RedisFailure) {
        self.metrics.redis_error();
        if self.shared.swap(false, Ordering::SeqCst) {
            self.metrics.throttle_backend(Backend::Fallback);
            if let Some(untold) = self.changes.failed(std::time::Instant::now()) {
                log::warn!("{}", self.failed_line(why, untold));
            }
            self.lost.notify_one();
        }
    }
}

/// The retrier: asleep while Redis answers; once it does not, PINGs it every
/// [`RETRY_INTERVAL`] until it does, then puts the shared budget back in use.
async fn retry(link: Arc<Link>) {
    loop {
        link.lost.notified().await;
        let mut failures: u32 = 0;
        loop {
            tokio::time::sleep(RETRY_INTERVAL).await;
            match link.ping().await {
                Ok(()) => break,
                Err(why) => {
                    link.metrics.redis_error();
                    failures += 1;
                    log::debug!("Redis at {} still does not answer: {why}", link.shown);
                    if let Some(untold) = link.changes.still_failing(std::time::Instant::now()) {
                        log::warn!("{}", link.failed_line(&why, untold));
                    }
                    if failures.is_multiple_of(RENEW_AFTER) {
                        match lazy_connection(&link.client) {
                            Ok(fresh) => {
                                *link.connection.write().expect("redis connection lock") = fresh
                            }
                            Err(e) => log::debug!("cannot renew the Redis connection: {e}"),
                        }
                    }
                }
            }
        }
        link.shared.store(true, Ordering::SeqCst);
        link.metrics.throttle_backend(Backend::Redis);
        if let Some(untold) = link.changes.answered() {
            let line = format_args!(
                "Redis at {} answers again: the shared budget is in use again",
                link.shown
            );
            log::info!("{}", with_untold(line, untold));
        }
    }
}

/// A connection that is made on first use and remade by the client when it breaks.
fn lazy_connection(client: &redis::Client) -> Result<ConnectionManager, redis::RedisError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_DEADLINE))
        // Each call has its own deadline; the client should not add another.
        .set_response_timeout(None)
        .set_number_of_retries(1);
    ConnectionManager::new_lazy_with_config(client.clone(), config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Issue 20, item 8: a Redis that answers PING but fails every count made the log say
    /// "failed" and "answers again" twice a second. A failure is told at most once a minute,
    /// the return only after a told failure, and what was not told is counted.
    #[test]
    fn backend_changes_are_told_at_most_once_a_minute() {
        let log = ChangeLog::default();
        let start = Instant::now();
        let at = |half_seconds: u64| start + Duration::from_millis(500 * half_seconds);
        assert_eq!(log.failed(at(0)), Some(0));
        assert_eq!(log.answered(), Some(0), "the return after a told failure");
        // Flipping every half second for a minute: nothing more is told.
        for half_seconds in (2..120).step_by(2) {
            assert_eq!(log.failed(at(half_seconds)), None);
            assert_eq!(log.answered(), None);
        }
        assert_eq!(
            log.failed(at(120)),
            Some(118),
            "a minute on, with the count"
        );
        // A failure that was not told is told by the retrier once the minute is over.
        assert_eq!(log.answered(), Some(0));
        assert_eq!(log.failed(at(122)), None);
        assert_eq!(log.still_failing(at(200)), None, "not a minute yet");
        assert_eq!(log.still_failing(at(242)), Some(1));
        assert_eq!(log.still_failing(at(244)), None, "told already");
        assert_eq!(log.answered(), Some(0));
    }
}
