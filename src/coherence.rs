//! Keeps every node's read cache coherent with changes committed through the others.
//!
//! After each commit that changes what a public read shows, the node announces the article on the
//! PostgreSQL channel `CHANNEL`, as `<site>/<article>` (`Announcer`, fed by
//! `services::after_commit`, the one place every write passes). Each node listens on one
//! connection of its own, outside the pool, and makes its cached reads of that article stale the
//! moment the notification arrives; a moderator's reject through one node is then not served from
//! another node's memory.
//!
//! Announced after the commit, batched, in a transaction of their own, rather than by a trigger in
//! the writing transaction: a transaction that notifies holds PostgreSQL's cluster-wide
//! notification lock from its commit until the commit is durable (with synchronous replication,
//! until the standby has it), so notifying inside every write would make all writes commit one at
//! a time. The price: a node that dies between a commit and its announcement leaves the other
//! nodes' cached reads of that article stale for their TTL.
//!
//! With read replicas, a read right after the notification may still come from a replica that
//! has not replayed the change, and be cached. So the changes heard are gathered for
//! `GATHER_FOR`, the primary's position is asked once for the batch, and when every usable
//! replica has replayed past it the same articles are made stale once more: staleness is bounded
//! by the replicas' lag, not by the TTL.
//!
//! Notifications are not queued for a listener that is away, so whenever the connection is
//! (re)established every cached read is made stale: what changed meanwhile cannot be served. While
//! the connection is down, the cache's TTL is what bounds staleness. The connection is checked
//! every `KEEPALIVE` so that a silent network failure is noticed too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::StreamExt;

use crate::db::Pool;
use crate::metrics;
use crate::replicas::Replicas;
use crate::sites::SiteDirectory;
use crate::store;

/// Where changes are announced (the migration's trigger names it too).
pub const CHANNEL: &str = "marginalia_reads";
/// The listening session's `application_name`.
pub const LISTENER_NAME: &str = "marginalia-listener";
/// How long a node gathers its own changes before announcing them in one statement.
const ANNOUNCE_EVERY: Duration = Duration::from_millis(5);
/// Most changes announced in one statement.
const ANNOUNCE_AT_MOST: usize = 500;

/// Hands this node's committed changes to the task that announces them. Cloning is cheap.
#[derive(Clone)]
pub struct Announcer {
    changes: tokio::sync::mpsc::UnboundedSender<String>,
    /// This process's name in its announcements, so that its listener skips its own (the write
    /// already made this node's cached reads stale at commit).
    node: Arc<str>,
}

/// The task's end of the `Announcer`.
pub struct Announcing {
    changes: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Announcer {
    pub fn new() -> (Self, Announcing) {
        let (changes, receiver) = tokio::sync::mpsc::unbounded_channel();
        let node = Arc::from(uuid::Uuid::now_v7().simple().to_string());
        (Self { changes, node }, Announcing { changes: receiver })
    }

    /// Announces (soon) a committed change to `site`'s `article_id`, as
    /// `<node> <site>/<article>`.
    pub fn announce(&self, site: &str, article_id: &str) {
        // Fails only once the task is gone, when the process stops.
        let _ = self
            .changes
            .send(format!("{} {site}/{article_id}", self.node));
    }

    pub fn node(&self) -> &str {
        &self.node
    }
}

impl Announcing {
    /// Announces what the node committed, every `ANNOUNCE_EVERY` at most, through `pool` (the
    /// primary), until every `Announcer` is dropped. A batch that cannot be sent is dropped: the
    /// other nodes' TTL covers it.
    pub async fn run(mut self, pool: Pool) {
        let mut batch = Vec::new();
        while self.changes.recv_many(&mut batch, ANNOUNCE_AT_MOST).await > 0 {
            tokio::time::sleep(ANNOUNCE_EVERY).await;
            while batch.len() < ANNOUNCE_AT_MOST {
                match self.changes.try_recv() {
                    Ok(change) => batch.push(change),
                    Err(_) => break,
                }
            }
            batch.sort_unstable();
            batch.dedup();
            if let Err(error) = store::notifications::announce(&pool, CHANNEL, &batch).await {
                tracing::warn!(%error, changes = batch.len(),
                    "could not announce changes; other nodes serve them after their cache TTL");
            }
            batch.clear();
        }
    }
}

/// Whether this node is one of several on its database. A lone node's own count is the whole
/// truth, and asking the shared buckets would cost every limited write a round trip.
#[derive(Clone)]
pub struct OtherNodes(Arc<AtomicBool>);

impl Default for OtherNodes {
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl OtherNodes {
    pub fn set(&self, present: bool) {
        self.0.store(present, Ordering::Relaxed);
    }

    pub fn present(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How often the nodes on the database are counted.
const COUNT_NODES_EVERY: Duration = Duration::from_secs(5);

/// Lone counts in a row before a node trusts its own count: a node that has just started, or whose
/// listener is reconnecting, is briefly not counted, so one lone count proves nothing.
const LONE_COUNTS: u32 = 3;

/// Counts the nodes serving the database (one listening session each) until the process ends,
/// telling the rate limits whether they must count in the shared buckets: at once when another
/// node shows up, only after `LONE_COUNTS` lone counts in a row when it seems alone. A node that
/// cannot count keeps what it knew (at start: that there are others, the safe side).
pub async fn count_nodes(pool: Pool, other_nodes: OtherNodes) {
    let mut lone_counts = 0;
    loop {
        tokio::time::sleep(COUNT_NODES_EVERY).await;
        match store::notifications::sessions_named(&pool, LISTENER_NAME).await {
            Ok(nodes) => {
                lone_counts = if nodes > 1 { 0 } else { lone_counts + 1 };
                let others = lone_counts < LONE_COUNTS;
                if others != other_nodes.present() {
                    tracing::info!(
                        nodes,
                        "rate limits count {}",
                        if others {
                            "in the shared buckets"
                        } else {
                            "on this node alone"
                        }
                    );
                }
                other_nodes.set(others);
            }
            Err(error) => tracing::debug!(%error, "could not count the nodes"),
        }
    }
}

/// How long changes heard are gathered before the primary's position is asked for them all.
const GATHER_FOR: Duration = Duration::from_millis(20);
/// Longest the second round waits for the replicas: the highest `MARGINALIA_READ_MAX_LAG_MS`
/// allows (a replica further behind is not usable, so nothing is read from it).
const REPLAY_WAIT: Duration = crate::config::READ_MAX_LAG_LIMIT;
/// How often a quiet connection is asked whether it is still there, and how long it may take.
const KEEPALIVE: Duration = Duration::from_secs(5);
/// Longest wait before connecting again after a failure (doubling from `FIRST_RETRY`).
const LONGEST_RETRY: Duration = Duration::from_secs(5);
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Listens for changes on the database at `database_url` (the primary: notifications are not
/// replicated) until the process ends, reconnecting by itself.
pub async fn listen(database_url: String, directory: Arc<SiteDirectory>) {
    let mut retry = FIRST_RETRY;
    loop {
        let error = listen_once(&database_url, &directory, &mut retry).await;
        metrics::set_read_cache_listening(false);
        directory.record_unknown_writes();
        tracing::warn!(%error, retry_ms = retry.as_millis() as u64,
            "not listening for other nodes' changes; cached reads live at most their TTL meanwhile");
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LONGEST_RETRY);
    }
}

/// One connection's life: connect, listen, apply notifications until something fails.
async fn listen_once(
    database_url: &str,
    directory: &Arc<SiteDirectory>,
    retry: &mut Duration,
) -> String {
    let connecting = AsyncPgConnection::establish(database_url);
    let mut connection = match tokio::time::timeout(KEEPALIVE, connecting).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => return format!("connecting: {error}"),
        Err(_) => return "connecting timed out".to_owned(),
    };
    // Named, so that an operator sees which session listens (and can end it to test recovery).
    let listen = format!("SET application_name = '{LISTENER_NAME}'; LISTEN {CHANNEL}");
    if let Err(error) = connection.batch_execute(&listen).await {
        return format!("LISTEN: {error}");
    }
    // Whatever changed before this point was not heard of; and once the replicas have replayed
    // it, what was read from them meanwhile is stale too.
    directory.record_unknown_writes();
    directory.live().changed_anywhere();
    everything_again_once_replayed(directory);
    metrics::set_read_cache_listening(true);
    *retry = FIRST_RETRY;
    tracing::info!(channel = CHANNEL, "listening for other nodes' changes");
    let with_replicas = !directory.replicas().0.is_empty();
    loop {
        {
            let notifications = connection.notifications_stream();
            let mut notifications = std::pin::pin!(notifications);
            let quiet = tokio::time::sleep(KEEPALIVE);
            let mut quiet = std::pin::pin!(quiet);
            let mut heard = Vec::new();
            let gathered = tokio::time::sleep(GATHER_FOR);
            let mut gathered = std::pin::pin!(gathered);
            loop {
                tokio::select! {
                    received = notifications.next() => match received {
                        Some(Ok(notification)) => {
                            let change = apply(directory, &notification.payload).await;
                            // Kept only for the second round, which only replicas need.
                            if let Some(change) = change.filter(|_| with_replicas) {
                                if heard.is_empty() {
                                    gathered.as_mut().reset(tokio::time::Instant::now() + GATHER_FOR);
                                }
                                heard.push(change);
                            }
                        }
                        Some(Err(error)) => return format!("receiving: {error}"),
                        None => return "the connection closed".to_owned(),
                    },
                    () = &mut gathered, if !heard.is_empty() => {
                        again_once_replayed(directory, std::mem::take(&mut heard));
                    }
                    () = &mut quiet => break,
                }
            }
            again_once_replayed(directory, heard);
        }
        match tokio::time::timeout(KEEPALIVE, connection.batch_execute("SELECT 1")).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return format!("keepalive: {error}"),
            Err(_) => return "keepalive timed out".to_owned(),
        }
    }
}

/// Makes another node's change's article stale; returns it (site, article) for the second round,
/// which this node's own changes need too (read from a late replica after their commit).
async fn apply(directory: &SiteDirectory, payload: &str) -> Option<(String, String)> {
    match parse(payload) {
        Some((node, site, article_id)) => {
            if node != directory.own_node() {
                metrics::record_read_change_heard();
                directory.record_write(site, article_id).await;
                directory.live().changed(site, article_id);
            }
            Some((site.to_owned(), article_id.to_owned()))
        }
        None => {
            tracing::warn!(payload, "ignoring a malformed change notification");
            None
        }
    }
}

/// With replicas: makes every cached read stale again once every usable replica has replayed
/// what the primary holds now.
fn everything_again_once_replayed(directory: &Arc<SiteDirectory>) {
    let (replicas, primary) = directory.replicas();
    if replicas.is_empty() {
        return;
    }
    let (replicas, primary, directory) = (replicas.clone(), primary.clone(), directory.clone());
    tokio::spawn(async move {
        wait_for_replicas(&replicas, &primary).await;
        directory.record_unknown_writes();
    });
}

/// Until every usable replica has replayed what the primary holds now.
async fn wait_for_replicas(replicas: &Replicas, primary: &Pool) {
    match store::replication::primary_position(primary).await {
        Ok(Some(position)) => replicas.replayed(position, REPLAY_WAIT).await,
        // Unknown: the longest a usable replica may lag is the safe wait.
        _ => tokio::time::sleep(REPLAY_WAIT).await,
    }
}

/// With replicas: makes `changes` stale again once every usable replica has replayed them, so
/// that what was read from a replica in between is not served on.
fn again_once_replayed(directory: &Arc<SiteDirectory>, changes: Vec<(String, String)>) {
    let (replicas, primary) = directory.replicas();
    if changes.is_empty() || replicas.is_empty() {
        return;
    }
    let (replicas, primary, directory) = (replicas.clone(), primary.clone(), directory.clone());
    tokio::spawn(async move {
        wait_for_replicas(&replicas, &primary).await;
        for (site, article_id) in changes {
            directory.record_write(&site, &article_id).await;
        }
    });
}

/// `<node> <site>/<article>`; node and site ids hold no space or `/`, article ids may.
fn parse(payload: &str) -> Option<(&str, &str, &str)> {
    let (node, change) = payload.split_once(' ')?;
    let (site, article) = change.split_once('/')?;
    (!node.is_empty() && !site.is_empty() && !article.is_empty()).then_some((node, site, article))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_notification_names_the_node_the_site_and_the_article() {
        assert_eq!(parse("n1 default/a-1"), Some(("n1", "default", "a-1")));
        assert_eq!(
            parse("n1 news/2026/12 story"),
            Some(("n1", "news", "2026/12 story"))
        );
        assert_eq!(parse("n1 no-slash"), None);
        assert_eq!(parse("default/a-1"), None, "no node");
        assert_eq!(parse("n1 /article"), None);
        assert_eq!(parse("n1 site/"), None);
        assert_eq!(parse(" site/a"), None);
    }
}
