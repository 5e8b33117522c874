//! Throttling: how many submissions one client address may make per window. One small
//! interface, [`Throttle::admit`], over the backends, chosen once at start-up.

mod clock;
mod memory;

pub use clock::{Clock, ManualClock, SystemClock};
pub use memory::MemoryThrottle;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

/// The seed's figure: 100 submissions an hour per address.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    count: 100,
    window: Duration::from_secs(3600),
};
/// Addresses remembered at once by the in-process throttle. Each costs about a hundred bytes,
/// so memory stays near 10 MiB however many addresses arrive; past the bound the least used
/// are forgotten (a flood from more addresses than this can get more than its share).
pub const MAX_TRACKED_ADDRESSES: u64 = 100_000;

/// `count` submissions per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub window: Duration,
}

impl FromStr for RateLimit {
    type Err = String;

    /// `N/second`, `N/minute`, `N/hour` or `N/day` (`off` is handled by the caller).
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let expected = "expected N/minute, N/hour, N/day or off, e.g. 100/hour";
        let (count, unit) = spec.split_once('/').ok_or_else(|| expected.to_string())?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("'{count}' is not a positive whole number; {expected}"))?;
        let seconds = match unit.trim().trim_end_matches('s') {
            "second" | "sec" => 1,
            "minute" | "min" => 60,
            "hour" | "h" => 3600,
            "day" | "d" => 86_400,
            other => return Err(format!("unknown period '{other}'; {expected}")),
        };
        Ok(RateLimit {
            count,
            window: Duration::from_secs(seconds),
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.window.as_secs() {
            1 => "second",
            60 => "minute",
            3600 => "hour",
            86_400 => "day",
            s => return write!(f, "{}/{s}s", self.count),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// The answer for one submission, with what the rate-limit headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Time until the window resets.
    pub reset_after: Duration,
    /// The same instant as seconds since the Unix epoch (X-RateLimit-Reset, as the original).
    pub reset_at: u64,
}

impl Decision {
    /// Whole seconds until the window resets, rounded up (for Retry-After).
    pub fn retry_after_secs(&self) -> u64 {
        self.reset_after.as_millis().div_ceil(1000).max(1) as u64
    }
}

/// The throttle chosen at start-up.
pub enum Throttle {
    Off,
    Memory(MemoryThrottle),
}

impl Throttle {
    /// Counts one submission from `client`; `None` when throttling is off.
    pub fn admit(&self, client: IpAddr) -> Option<Decision> {
        match self {
            Throttle::Off => None,
            Throttle::Memory(throttle) => Some(throttle.admit(client)),
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
    fn rate_limit_specs() {
        assert_eq!("100/hour".parse::<RateLimit>().unwrap(), DEFAULT_RATE_LIMIT);
        assert_eq!(
            "5/minute".parse::<RateLimit>().unwrap().window.as_secs(),
            60
        );
        assert_eq!(
            "1000/day".parse::<RateLimit>().unwrap().window.as_secs(),
            86_400
        );
        assert_eq!("2/hours".parse::<RateLimit>().unwrap().count, 2);
        for bad in ["", "100", "0/hour", "-1/hour", "x/hour", "100/fortnight"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
        assert_eq!(DEFAULT_RATE_LIMIT.to_string(), "100/hour");
    }

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
