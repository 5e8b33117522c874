//! The in-process throttle: a fixed window per address, in a bounded moka cache whose entries
//! expire with their window, so memory stays flat whatever the number of addresses.

use super::{budget_key, Clock, Decision, RateLimit, MAX_TRACKED_ADDRESSES};
use moka::sync::Cache;
use std::net::IpAddr;
use std::time::Duration;

/// One address's current window.
#[derive(Clone, Copy)]
struct Window {
    /// When the window began, since the Unix epoch.
    start: Duration,
    count: u32,
}

/// Budgets kept in this process (one instance, or instances that need not share).
pub struct MemoryThrottle {
    limit: RateLimit,
    windows: Cache<IpAddr, Window>,
    clock: Box<dyn Clock>,
}

impl MemoryThrottle {
    /// A throttle remembering up to [`MAX_TRACKED_ADDRESSES`] addresses.
    pub fn new(limit: RateLimit, clock: Box<dyn Clock>) -> MemoryThrottle {
        Self::with_capacity(limit, clock, MAX_TRACKED_ADDRESSES)
    }

    /// As [`MemoryThrottle::new`], remembering at most `capacity` addresses.
    pub fn with_capacity(limit: RateLimit, clock: Box<dyn Clock>, capacity: u64) -> MemoryThrottle {
        MemoryThrottle {
            limit,
            windows: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(limit.window)
                .build(),
            clock,
        }
    }

    /// Counts one submission from `client` and says whether it is within the budget.
    pub fn admit(&self, client: IpAddr) -> Decision {
        let now = self.clock.now();
        let window = self
            .windows
            .entry(budget_key(client))
            .and_upsert_with(|current| match current.map(|e| e.into_value()) {
                Some(w) if now < w.start + self.limit.window => Window {
                    start: w.start,
                    count: w.count.saturating_add(1),
                },
                _ => Window {
                    start: now,
                    count: 1,
                },
            })
            .into_value();
        Decision::in_window(self.limit, window.start, window.count, now)
    }

    /// Addresses currently remembered (after pending evictions run).
    pub fn tracked(&self) -> u64 {
        self.windows.run_pending_tasks();
        self.windows.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::super::ManualClock;
    use super::*;
    use std::sync::Arc;

    fn throttle(clock: &Arc<ManualClock>) -> MemoryThrottle {
        MemoryThrottle::new("3/minute".parse().unwrap(), Box::new(clock.clone()))
    }

    #[test]
    fn counts_per_address_and_resets_with_the_window() {
        let clock = Arc::new(ManualClock::at(Duration::from_secs(1_000_000)));
        let t = throttle(&clock);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let remaining: Vec<_> = (0..3).map(|_| t.admit(a).remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let over = t.admit(a);
        assert!(!over.allowed);
        assert_eq!(over.reset_after, Duration::from_secs(60));
        assert_eq!(over.reset_at, 1_000_060);
        assert!(t.admit(b).allowed, "another address has its own budget");
        clock.advance(Duration::from_secs(59));
        assert!(!t.admit(a).allowed);
        assert_eq!(t.admit(a).reset_after, Duration::from_secs(1));
        clock.advance(Duration::from_secs(1));
        let fresh = t.admit(a);
        assert!(fresh.allowed);
        assert_eq!(fresh.remaining, 2);
    }

    #[test]
    fn memory_stays_within_its_bound() {
        let clock = Arc::new(ManualClock::at(Duration::from_secs(1)));
        let t = MemoryThrottle::with_capacity("3/minute".parse().unwrap(), Box::new(clock), 1000);
        for i in 0..20_000u32 {
            t.admit(IpAddr::V4(i.into()));
        }
        assert!(t.tracked() <= 1000, "{} addresses tracked", t.tracked());
    }
}
