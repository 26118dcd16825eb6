//! Rate limits on public writes, per client address, with `governor`'s GCRA (a token bucket
//! that stores one timestamp per key). Limits are per process: N instances allow N times the
//! rate, which the documentation states.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::client::network_of;
use crate::metrics;

/// Which public writes a limit covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitedWrite {
    /// Submitting, editing and deleting reviews.
    Reviews,
    /// Helpful votes and flags.
    Reactions,
}

impl LimitedWrite {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reviews => "reviews",
            Self::Reactions => "reactions",
        }
    }
}

/// One limit: `per_minute` requests a minute per address, all of which may come at once.
/// `None` when the limit is off.
#[derive(Clone)]
pub struct Limit {
    kind: LimitedWrite,
    per_minute: u32,
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

impl Limit {
    pub fn per_minute(kind: LimitedWrite, per_minute: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute)
            .map(|rate| Arc::new(RateLimiter::dashmap(Quota::per_minute(rate))));
        Self {
            kind,
            per_minute,
            limiter,
        }
    }

    /// Requests a minute per address (0: no limit).
    pub fn per_minute_rate(&self) -> u32 {
        self.per_minute
    }

    /// Whether both count in the same buckets (a site without limits of its own shares the
    /// installation's).
    pub fn same_buckets(&self, other: &Limit) -> bool {
        match (&self.limiter, &other.limiter) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Counts one request from `address` (its network: an IPv6 client is its /64); over the
    /// limit, a refusal that says when to retry (answered as a 429).
    pub fn check(&self, address: IpAddr) -> Result<(), OverLimit> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&network_of(address)).map_err(|refusal| {
            let wait = refusal.wait_time_from(DefaultClock::default().now());
            metrics::record_rate_limited(self.kind.as_str());
            OverLimit {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }

    /// Forgets addresses whose buckets are full again, so memory follows the recent clients.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// A request over its limit, and when the client may try again.
#[derive(Debug, thiserror::Error)]
#[error("too many requests from this client; retry in {retry_after_secs} s")]
pub struct OverLimit {
    /// Whole seconds until the bucket admits a request again, rounded up.
    pub retry_after_secs: u64,
}

/// How often idle addresses are forgotten.
pub const FORGET_EVERY: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_limit_is_told_when_to_retry_and_others_are_not_affected() {
        let limit = Limit::per_minute(LimitedWrite::Reviews, 3);
        let first: IpAddr = "203.0.113.1".parse().unwrap();
        let second: IpAddr = "203.0.113.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limit.check(first).is_ok());
        }
        match limit.check(first) {
            Err(OverLimit { retry_after_secs }) => {
                assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("expected a 429, got {other:?}"),
        }
        assert!(limit.check(second).is_ok());
        // Another address of the same IPv6 /64 is the same client.
        let v6 = Limit::per_minute(LimitedWrite::Reviews, 1);
        assert!(v6.check("2001:db8::1".parse().unwrap()).is_ok());
        assert!(v6.check("2001:db8::2".parse().unwrap()).is_err());
        let off = Limit::per_minute(LimitedWrite::Reviews, 0);
        for _ in 0..1000 {
            assert!(off.check(first).is_ok());
        }
    }
}
