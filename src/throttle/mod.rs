//! Throttling: how many submissions one client address may make per window. One small
//! interface, [`Throttle::admit`], over the backends, chosen once at start-up: none, this
//! process's memory, or Redis shared by several instances (with this process's memory as
//! its stand-in while Redis does not answer).

mod clock;
mod memory;
mod shared;

pub use clock::{Clock, ManualClock, SystemClock};
pub use memory::MemoryThrottle;
pub use shared::{RedisThrottle, CONNECT_DEADLINE, RETRY_INTERVAL};

use crate::config::Config;
pub use crate::config::RateLimit;
use crate::metrics::{Backend, Metrics};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Addresses remembered at once by the in-process throttle. Each costs about a hundred bytes,
/// so memory stays near 10 MiB however many addresses arrive; past the bound the least used
/// are forgotten (a flood from more addresses than this can get more than its share).
pub const MAX_TRACKED_ADDRESSES: u64 = 100_000;

/// The answer for one submission, with what the rate-limit headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// False: over the limit, refuse with 429.
    pub allowed: bool,
    /// The limit per window (X-RateLimit-Limit).
    pub limit: u32,
    /// Submissions left in this window (X-RateLimit-Remaining).
    pub remaining: u32,
    /// Time until the window resets.
    pub reset_after: Duration,
    /// The same instant as seconds since the Unix epoch (X-RateLimit-Reset, as the original).
    pub reset_at: u64,
}

impl Decision {
    /// The decision for the `count`th submission of a window that began at `start` (both
    /// times since the Unix epoch): every backend answers alike.
    fn in_window(limit: RateLimit, start: Duration, count: u32, now: Duration) -> Decision {
        let reset_at = start + limit.window;
        Decision {
            allowed: count <= limit.count,
            limit: limit.count,
            remaining: limit.count.saturating_sub(count),
            reset_after: reset_at.saturating_sub(now),
            reset_at: reset_at.as_secs() + u64::from(reset_at.subsec_nanos() > 0),
        }
    }

    /// Whole seconds until the window resets, rounded up (for Retry-After).
    pub fn retry_after_secs(&self) -> u64 {
        self.reset_after.as_millis().div_ceil(1000).max(1) as u64
    }
}

/// The throttle chosen at start-up.
pub enum Throttle {
    /// Every submission is admitted (`--rate-limit off`).
    Off,
    /// Budgets kept in this process.
    Memory(MemoryThrottle),
    /// Budgets kept in Redis, shared by every instance that uses it.
    Redis(RedisThrottle),
}

impl Throttle {
    /// An in-process throttle for `limit` (or none), on the system clock.
    pub fn from_limit(limit: Option<RateLimit>) -> Throttle {
        match limit {
            Some(limit) => Throttle::Memory(MemoryThrottle::new(limit, Box::new(SystemClock))),
            None => Throttle::Off,
        }
    }

    /// The throttle `config` asks for, on the system clock, reporting its backend to
    /// `metrics`. With Redis it waits for a first answer only briefly: an unreachable Redis
    /// means counting in this process from the first request, not a server that cannot start.
    pub async fn start(config: &Config, metrics: &Metrics) -> Result<Throttle, redis::RedisError> {
        let throttle = match (config.rate_limit, &config.redis) {
            (None, redis) => {
                if redis.is_some() {
                    log::warn!("--redis-url is not used: the rate limit is off");
                }
                metrics.throttle_backend(Backend::Off);
                Throttle::Off
            }
            (Some(limit), None) => {
                metrics.throttle_backend(Backend::Memory);
                Throttle::from_limit(Some(limit))
            }
            (Some(limit), Some(redis)) => {
                let clock = Arc::new(SystemClock);
                Throttle::Redis(RedisThrottle::connect(redis, limit, clock, metrics.clone()).await?)
            }
        };
        Ok(throttle)
    }

    /// Counts one submission from `client`; `None` when throttling is off.
    pub async fn admit(&self, client: IpAddr) -> Option<Decision> {
        match self {
            Throttle::Off => None,
            Throttle::Memory(throttle) => Some(throttle.admit(client)),
            Throttle::Redis(throttle) => Some(throttle.admit(client).await),
        }
    }
}

/// The address a budget belongs to: IPv4 as it is, IPv6 by its /64 (one host usually holds a
/// whole /64, so counting single IPv6 addresses would let it rotate through them).
pub fn budget_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_counted_per_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(budget_key(a), budget_key(b));
        assert_ne!(budget_key(a), budget_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(budget_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
