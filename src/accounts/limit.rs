//! Attempt limits for sign-in and sign-up, per client IP and per email address.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

/// Keys kept before idle ones are dropped; bounds memory under many distinct keys.
const PRUNE_AT: usize = 50_000;

/// A per-minute limit for each key, with the whole minute's allowance as burst.
pub struct Limiter {
    inner: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl Limiter {
    /// Allows `per_minute` attempts per key (0 is treated as 1).
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            inner: RateLimiter::keyed(Quota::per_minute(n)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts an attempt; Err carries how long until the next one is allowed.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if self.inner.len() >= PRUNE_AT {
            self.inner.retain_recent();
            self.inner.shrink_to_fit();
        }
        self.inner
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_allowance_per_key() {
        let l = Limiter::per_minute(2);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        let wait = l.check("a").expect_err("third attempt allowed");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(30));
        assert!(l.check("b").is_ok());
    }
}
