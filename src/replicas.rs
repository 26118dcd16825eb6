//! Read replicas for public reads (`DATABASE_READ_URL`), with the primary as the fallback.
//!
//! A monitor asks the primary for its WAL position and each replica for what it has replayed,
//! every `WATCH_EVERY`. A replica serves public reads while it answers, is in recovery, and lags
//! the primary by at most the configured bound; otherwise reads go to the primary until it
//! catches up. Lag is measured in time: how long ago the primary was at the oldest position the
//! replica has not replayed yet (from the monitor's own samples), so an idle primary does not make
//! a replica look late.
//!
//! Reads never go back in time for the person who wrote: every successful write answers with the
//! primary's WAL position after its commit (`Marginalia-Position`, also as a cookie), and a read
//! that sends it back goes to a replica only once the monitor saw that replica replay past it,
//! else to the primary; either way it skips the read cache, whose entries may predate it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::db::Pool;
use crate::domain::position::Position;
use crate::domain::site::SiteId;
use crate::store;

/// How often positions are sampled: the longest a writer's next read waits for the primary
/// before the replica is known to have its write.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// The replicas of an installation (none when `DATABASE_READ_URL` is unset). Cloning is cheap.
#[derive(Clone, Default)]
pub struct Replicas {
    members: Arc<[Replica]>,
    /// Round robin over the usable replicas.
    next: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Replica {
    /// Bound like the primary's pool of the same state (a site's, or unbound).
    pool: Pool,
    health: Arc<Health>,
}

/// What the monitor last saw of one replica.
#[derive(Default)]
struct Health {
    usable: AtomicBool,
    replayed: AtomicU64,
}

impl Replicas {
    /// Replicas reached through these pools (unbound), not usable until the monitor has seen them.
    pub fn new(pools: Vec<Pool>) -> Self {
        let members = pools
            .into_iter()
            .map(|pool| Replica {
                pool,
                health: Arc::default(),
            })
            .collect();
        Self {
            members,
            next: Arc::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The same replicas, their pools bound to `site`.
    pub fn site(&self, site: &SiteId) -> Self {
        Self {
            members: self
                .members
                .iter()
                .map(|replica| Replica {
                    pool: replica.pool.site(site),
                    health: replica.health.clone(),
                })
                .collect(),
            next: self.next.clone(),
        }
    }

    /// The replica a public read goes to: a usable one that has replayed `after` (the reader's
    /// own last write), in turn; `None`: the primary.
    pub fn choose(&self, after: Option<Position>) -> Option<&Pool> {
        let usable = |replica: &&Replica| {
            replica.health.usable.load(Ordering::Relaxed)
                && after.is_none_or(|after| {
                    replica.health.replayed.load(Ordering::Relaxed) >= after.as_u64()
                })
        };
        let count = self.members.iter().filter(usable).count();
        if count == 0 {
            return None;
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % count;
        self.members
            .iter()
            .filter(usable)
            .nth(turn)
            .map(|replica| &replica.pool)
    }

    /// Waits until every usable replica has replayed `position` (as the monitor last saw them),
    /// at most `longest`.
    pub async fn replayed(&self, position: Position, longest: Duration) {
        let deadline = Instant::now() + longest;
        while Instant::now() < deadline
            && self.members.iter().any(|replica| {
                replica.health.usable.load(Ordering::Relaxed)
                    && replica.health.replayed.load(Ordering::Relaxed) < position.as_u64()
            })
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Samples the primary's and the replicas' positions until the process ends, marking each
    /// replica usable or not: lagging more than `max_lag`, not answering, or no longer in recovery
    /// (promoted: it is a primary now, reached through `DATABASE_URL`).
    pub async fn watch(self, primary: Pool, max_lag: Duration) {
        let mut history = History::default();
        let mut every = tokio::time::interval(WATCH_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match store::replication::primary_position(&primary).await {
                Ok(Some(position)) => history.record(Instant::now(), position),
                Ok(None) => tracing::debug!("DATABASE_URL reached a server in recovery"),
                Err(error) => tracing::debug!(%error, "the primary's position is unknown"),
            }
            for (index, replica) in self.members.iter().enumerate() {
                let replayed = store::replication::replayed_position(&replica.pool).await;
                let usable = match &replayed {
                    Ok(Some(position)) => {
                        replica
                            .health
                            .replayed
                            .store(position.as_u64(), Ordering::Relaxed);
                        history.lag(Instant::now(), *position) <= max_lag
                    }
                    Ok(None) | Err(_) => false,
                };
                let was = replica.health.usable.swap(usable, Ordering::Relaxed);
                if was != usable {
                    tracing::info!(
                        replica = index,
                        usable,
                        ?replayed,
                        "replica usability changed"
                    );
                }
                crate::metrics::set_replica_usable(index, usable);
            }
        }
    }
}

/// The primary's recent positions, oldest first, to tell how far back a replica is.
#[derive(Default)]
struct History {
    samples: VecDeque<(Instant, Position)>,
}

/// Samples kept: about 30 s, beyond any sensible lag bound.
const HISTORY: usize = 150;

impl History {
    fn record(&mut self, at: Instant, position: Position) {
        if self.samples.len() == HISTORY {
            self.samples.pop_front();
        }
        self.samples.push_back((at, position));
    }

    /// How long ago the primary first stood past `replayed`: zero when the replica has replayed
    /// everything sampled; longer than any bound when it is behind everything remembered.
    fn lag(&self, now: Instant, replayed: Position) -> Duration {
        let samples = &self.samples;
        match samples.iter().find(|(_, position)| *position > replayed) {
            None => Duration::ZERO,
            Some((at, _)) if samples.front().is_some_and(|(_, first)| *first > replayed) => {
                // Behind the oldest sample: at least that old, and maybe far older.
                now.duration_since(*at).max(Duration::from_secs(3600))
            }
            Some((at, _)) => now.duration_since(*at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn lag_is_how_long_ago_the_primary_passed_what_the_replica_replayed() {
        let base = Instant::now();
        let mut history = History::default();
        history.record(at(base, 0), Position::from_u64(100));
        history.record(at(base, 200), Position::from_u64(150));
        history.record(at(base, 400), Position::from_u64(150));
        history.record(at(base, 600), Position::from_u64(300));
        let now = at(base, 700);
        assert_eq!(history.lag(now, Position::from_u64(300)), Duration::ZERO);
        assert_eq!(history.lag(now, Position::from_u64(400)), Duration::ZERO);
        assert_eq!(
            history.lag(now, Position::from_u64(150)),
            Duration::from_millis(100),
            "missing only the newest sample's WAL"
        );
        assert_eq!(
            history.lag(now, Position::from_u64(120)),
            Duration::from_millis(500)
        );
        assert!(
            history.lag(now, Position::from_u64(10)) >= Duration::from_secs(3600),
            "behind everything remembered"
        );
    }

    #[test]
    fn reads_go_to_a_usable_replica_that_has_the_readers_write_else_the_primary() {
        let primary = crate::db::build_pool(
            "postgres://nobody@127.0.0.1:1/none",
            crate::db::PoolOptions {
                max_size: 1,
                shards: 1,
                acquire_timeout: Duration::from_millis(10),
                statement_timeout: Duration::from_millis(10),
            },
        )
        .unwrap();
        let replicas = Replicas::new(vec![primary.clone(), primary]);
        assert!(replicas.choose(None).is_none(), "none seen yet");
        replicas.members[0]
            .health
            .usable
            .store(true, Ordering::Relaxed);
        replicas.members[0]
            .health
            .replayed
            .store(500, Ordering::Relaxed);
        assert!(replicas.choose(None).is_some());
        assert!(replicas.choose(Some(Position::from_u64(500))).is_some());
        assert!(
            replicas.choose(Some(Position::from_u64(501))).is_none(),
            "the reader's write is not replayed yet: the primary"
        );
        let site = replicas.site(&SiteId::default_site());
        assert!(
            site.choose(None).is_some(),
            "a site's view shares the health"
        );
    }
}
