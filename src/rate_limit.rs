//! Rate limits on public writes, per client address, shared by every node.
//!
//! A limit is a GCRA bucket (a token bucket that stores one timestamp per client) kept in
//! PostgreSQL (`store::rate_limits`), so that a client sending through N nodes gets what one node
//! would allow, not N times that. Each node also counts in its own memory with `governor`'s GCRA,
//! first: a client over its limit on this node alone is over it everywhere, and is refused without
//! a database round trip (what keeps a flood from one address off the database).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::client::network_of;
use crate::db::Pool;
use crate::domain::site::SiteId;
use crate::metrics;
use crate::store::{self, StoreError};
use crate::tokens::ClientDigests;

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

/// The shared buckets' owner of the installation's limits.
const INSTALLATION: &str = "*";

/// One limit: `per_minute` requests a minute per address, all of which may come at once.
#[derive(Clone)]
pub struct Limit {
    kind: LimitedWrite,
    per_minute: u32,
    /// This node's own count; `None` when the limit is off.
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    /// Whose shared buckets it counts in: the installation's (`*`) or a site's own.
    owner: Arc<str>,
}

impl Limit {
    /// The installation's limit, which every site without one of its own shares.
    pub fn per_minute(kind: LimitedWrite, per_minute: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute)
            .map(|rate| Arc::new(RateLimiter::dashmap(Quota::per_minute(rate))));
        Self {
            kind,
            per_minute,
            limiter,
            owner: Arc::from(INSTALLATION),
        }
    }

    /// A site's own limit, counted apart from the installation's.
    pub fn of_site(site: &SiteId, kind: LimitedWrite, per_minute: u32) -> Self {
        Self {
            owner: Arc::from(site.as_str()),
            ..Self::per_minute(kind, per_minute)
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

    /// Counts one request from `address` (its network: an IPv6 client is its /64), on this node
    /// and then in the shared bucket; over the limit, a refusal that says when to retry
    /// (answered as a 429).
    /// `shared`: other nodes serve the same database, so the shared bucket decides; a lone
    /// node's own count is the whole truth.
    pub async fn admit(
        &self,
        pool: &Pool,
        digests: &ClientDigests,
        address: IpAddr,
        shared: bool,
    ) -> Result<(), LimitError> {
        self.check_here(address)?;
        if self.limiter.is_none() || !shared {
            return Ok(());
        }
        let client = digests.rate_limited(address);
        let wait = store::rate_limits::take(
            pool,
            &self.owner,
            self.kind.as_str(),
            &client,
            self.per_minute,
        )
        .await?;
        if wait.is_zero() {
            Ok(())
        } else {
            Err(self.refused(wait).into())
        }
    }

    /// Counts one request on this node alone.
    fn check_here(&self, address: IpAddr) -> Result<(), OverLimit> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(&network_of(address))
            .map_err(|refusal| self.refused(refusal.wait_time_from(DefaultClock::default().now())))
    }

    fn refused(&self, wait: Duration) -> OverLimit {
        metrics::record_rate_limited(self.kind.as_str());
        OverLimit {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
    }

    /// Forgets addresses whose buckets are full again, so memory follows the recent clients.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Why a request was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error(transparent)]
    Over(#[from] OverLimit),
    /// The shared buckets could not be asked (the write would fail the same way).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Forgets the shared buckets that are full again, so the table follows the recent clients.
pub async fn forget_full_buckets(pool: &Pool) -> Result<usize, StoreError> {
    store::rate_limits::forget_full(pool).await
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
            assert!(limit.check_here(first).is_ok());
        }
        match limit.check_here(first) {
            Err(OverLimit { retry_after_secs }) => {
                assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("expected a 429, got {other:?}"),
        }
        assert!(limit.check_here(second).is_ok());
        // Another address of the same IPv6 /64 is the same client.
        let v6 = Limit::per_minute(LimitedWrite::Reviews, 1);
        assert!(v6.check_here("2001:db8::1".parse().unwrap()).is_ok());
        assert!(v6.check_here("2001:db8::2".parse().unwrap()).is_err());
        let off = Limit::per_minute(LimitedWrite::Reviews, 0);
        for _ in 0..1000 {
            assert!(off.check_here(first).is_ok());
        }
    }
}
