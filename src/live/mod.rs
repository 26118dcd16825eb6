//! Live updates: readers' streams of an article's public changes and moderators' streams of a
//! site's queue, as Server-Sent Events, on every node (docs/live.md).
//!
//! Every change is written to `live_events` in its own transaction (`store::live`). A node keeps
//! one *feed* per article (and one per site for moderators) that has subscribers here; idle
//! articles have no feed and cost nothing. A feed reads its new events when something may have
//! changed: this node's own commits (`services::after_commit`), the other nodes' announcements
//! heard by `coherence::listen` (one LISTEN connection per node), and a sweep every
//! `SWEEP_EVERY` per site with subscribers, which catches a change whose announcement was lost
//! (a node that died between its commit and its announcement). Each event is rendered once per
//! feed, from the review as a public read shows it, and broadcast to the feed's subscribers.
//!
//! A reader resumes with `Last-Event-ID`: the events after it are read back from the table
//! (whichever node wrote them), and any event the feed broadcasts that the reader has already
//! had is skipped, so a reconnection to another node neither loses nor repeats an event.

mod feed;
mod stream;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use actix_web::web::Bytes;

use crate::config;
use crate::db::pool::Scope;
use crate::db::Pool;
use crate::domain::live::Cursor;
use crate::metrics;
use crate::store::{self, StoreError};

pub use stream::LiveStream;

/// How often each site with subscribers is swept for changes no announcement told of, and the
/// moderators' keys are checked again.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// How often events older than the resume window are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Messages a feed keeps for a subscriber that has not read them yet; one further behind ends its
/// stream, and the reader resumes from the table with `Last-Event-ID`.
const FEED_CAPACITY: usize = 256;

/// Why a stream was not opened.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("this node holds its most live streams ({0})")]
    NodeFull(u64),
    #[error("this client network holds its most live streams on this node ({0})")]
    ClientFull(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a feed sends its subscribers.
#[derive(Debug, Clone)]
enum Message {
    /// An event at its position: a stream already past it skips it.
    Event(Cursor, Bytes),
    /// Sent as is (stats, counts, queue items, keep-alives).
    Frame(Bytes),
    /// The node is stopping: tell the reader and end.
    Close,
    /// This key was revoked: the moderators' streams opened with it end.
    Revoked(Arc<[u8]>),
}

/// Whose changes a feed follows: one article's, or (`article: None`) the whole site's queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FeedKey {
    site: String,
    article: Option<String>,
}

/// The live streams of this node. Cloning is cheap.
#[derive(Clone)]
pub struct Live(Arc<Hub>);

struct Hub {
    settings: config::Live,
    feeds: Mutex<HashMap<FeedKey, Arc<feed::Feed>>>,
    /// Per site with feeds: its handle and the oldest transaction that was running at the last
    /// sweep (every event not yet seen then is at or after it).
    sweeps: Mutex<HashMap<String, (Pool, u64)>>,
    /// Open streams per client network.
    clients: Mutex<HashMap<IpAddr, u64>>,
    open: AtomicUsize,
    closing: AtomicBool,
}

/// Locks `mutex`, taking over its value if a holder panicked: every value kept here stays valid
/// between statements.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Live {
    pub fn new(settings: config::Live) -> Self {
        Self(Arc::new(Hub {
            settings,
            feeds: Mutex::default(),
            sweeps: Mutex::default(),
            clients: Mutex::default(),
            open: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
        }))
    }

    /// Something may have changed on `site`'s `article_id`: its feed, and the site's moderators'
    /// feed, read their new events, if this node has them.
    pub fn changed(&self, site: &str, article_id: &str) {
        let feeds = lock(&self.0.feeds);
        if feeds.is_empty() {
            return;
        }
        let article = FeedKey {
            site: site.to_owned(),
            article: Some(article_id.to_owned()),
        };
        let queue = FeedKey {
            site: site.to_owned(),
            article: None,
        };
        for key in [article, queue] {
            if let Some(feed) = feeds.get(&key) {
                feed.wake();
            }
        }
    }

    /// Anything may have changed (the announcements were not heard for a while): every feed
    /// reads its new events.
    pub fn changed_anywhere(&self) {
        for feed in lock(&self.0.feeds).values() {
            feed.wake();
        }
    }

    /// A reader's stream of `article_id` on the site `pool` is bound to, from `last_event_id`
    /// when resuming.
    pub async fn subscribe_article(
        &self,
        pool: &Pool,
        newsroom: &Arc<str>,
        article_id: &str,
        client: IpAddr,
        last_event_id: Option<Cursor>,
    ) -> Result<LiveStream, LiveError> {
        if self.is_closing() {
            return Ok(LiveStream::closing_only());
        }
        let permit = self.admit(client)?;
        let head = store::live::head(pool).await?;
        let key = FeedKey {
            site: site_of(pool)?,
            article: Some(article_id.to_owned()),
        };
        let feed = self.feed(key, pool, newsroom, head.settled());
        let (receiver, position) = feed.subscribe();
        let mut stream = LiveStream::new(receiver, Some(position), None, permit);
        if let Some(cursor) = last_event_id {
            if head.can_resume(cursor) {
                let missed = feed.missed(cursor, position).await?;
                stream.resume_from(cursor, missed, position);
            } else {
                stream.reload(
                    position,
                    "the stream's last event is older than the resume window",
                );
            }
        }
        Ok(stream)
    }

    /// A moderator's stream of the queue of the site `pool` is bound to, opened with the key of
    /// digest `key`: it ends when the key is revoked.
    pub async fn subscribe_queue(
        &self,
        pool: &Pool,
        newsroom: &Arc<str>,
        client: IpAddr,
        key: Arc<[u8]>,
    ) -> Result<LiveStream, LiveError> {
        if self.is_closing() {
            return Ok(LiveStream::closing_only());
        }
        let permit = self.admit(client)?;
        let head = store::live::head(pool).await?;
        let counts = feed::counts_frame(pool).await?;
        let site_key = FeedKey {
            site: site_of(pool)?,
            article: None,
        };
        let feed = self.feed(site_key, pool, newsroom, head.settled());
        feed.hold_key(&key);
        let (receiver, _) = feed.subscribe();
        let hold = stream::KeyHold { digest: key, feed };
        let mut stream = LiveStream::new(receiver, None, Some(hold), permit);
        stream.push_frame(counts);
        Ok(stream)
    }

    /// Ends every stream politely (the node is stopping): each reader is told to come back after
    /// a moment, which its browser does, to another node, resuming where it was.
    pub fn close_all(&self) {
        self.0.closing.store(true, Ordering::SeqCst);
        for feed in lock(&self.0.feeds).values() {
            feed.send(Message::Close);
        }
    }

    /// The node is stopping: a new stream is told to come back (to another node) at once.
    fn is_closing(&self) -> bool {
        self.0.closing.load(Ordering::SeqCst)
    }

    /// The feed of `key`, created (starting at `start`) if this node has none.
    fn feed(
        &self,
        key: FeedKey,
        pool: &Pool,
        newsroom: &Arc<str>,
        start: Cursor,
    ) -> Arc<feed::Feed> {
        lock(&self.0.sweeps)
            .entry(key.site.clone())
            .or_insert_with(|| (pool.clone(), start.tx.saturating_add(1)));
        lock(&self.0.feeds)
            .entry(key.clone())
            .or_insert_with(|| feed::Feed::new(key, pool.clone(), newsroom.clone(), start))
            .clone()
    }

    /// Counts a new stream of `client`, or refuses it over a cap.
    fn admit(&self, client: IpAddr) -> Result<stream::Permit, LiveError> {
        let hub = &self.0;
        let network = crate::client::network_of(client);
        let mut clients = lock(&hub.clients);
        let held = clients.get(&network).copied().unwrap_or(0);
        if held >= hub.settings.max_streams_per_client {
            metrics::record_live_refused("client_full");
            return Err(LiveError::ClientFull(hub.settings.max_streams_per_client));
        }
        let open = hub.open.load(Ordering::SeqCst);
        if u64::try_from(open).unwrap_or(u64::MAX) >= hub.settings.max_streams {
            metrics::record_live_refused("node_full");
            return Err(LiveError::NodeFull(hub.settings.max_streams));
        }
        clients.insert(network, held + 1);
        hub.open.store(open + 1, Ordering::SeqCst);
        metrics::set_live_streams(open + 1);
        Ok(stream::Permit {
            live: self.clone(),
            network,
        })
    }

    /// A stream of `network` ended.
    fn release(&self, network: IpAddr) {
        let hub = &self.0;
        let mut clients = lock(&hub.clients);
        match clients.get_mut(&network) {
            Some(held) if *held > 1 => *held -= 1,
            _ => {
                clients.remove(&network);
            }
        }
        let open = hub.open.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        metrics::set_live_streams(open);
    }

    /// Streams open on this node now.
    pub fn open_streams(&self) -> usize {
        self.0.open.load(Ordering::SeqCst)
    }

    /// Keeps the streams alive until the process ends: keep-alive comments every heartbeat, the
    /// sweep for unannounced changes and revoked keys, forgetting feeds nobody reads, and
    /// deleting events older than the resume window (through `installation`, which sees every
    /// site).
    pub async fn run(self, installation: Pool) {
        let mut heartbeat = tokio::time::interval(self.0.settings.heartbeat);
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        for timer in [&mut heartbeat, &mut sweep] {
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        // Polled alongside the timers rather than in their turn: pruning a backlog takes several
        // statements, and the keep-alives must not wait for them.
        let pruning = prune_forever(installation, self.0.settings.window);
        tokio::pin!(pruning);
        loop {
            tokio::select! {
                _ = heartbeat.tick() => self.keep_alive(),
                _ = sweep.tick() => self.sweep().await,
                () = &mut pruning => {}
            }
        }
    }

    fn keep_alive(&self) {
        let keep_alive = Bytes::from_static(b": \n\n");
        for feed in lock(&self.0.feeds).values() {
            feed.send(Message::Frame(keep_alive.clone()));
        }
    }

    /// Forgets the feeds nobody reads; then, per site that still has some, wakes those whose
    /// article changed since the last sweep, and ends the moderators' streams whose key was
    /// revoked.
    async fn sweep(&self) {
        let sites: Vec<(String, Pool, u64)> = {
            let mut feeds = lock(&self.0.feeds);
            feeds.retain(|_, feed| feed.is_read());
            let mut sweeps = lock(&self.0.sweeps);
            sweeps.retain(|site, _| feeds.keys().any(|key| &key.site == site));
            sweeps
                .iter()
                .map(|(site, (pool, since))| (site.clone(), pool.clone(), *since))
                .collect()
        };
        for (site, pool, since) in sites {
            match store::live::changed_articles(&pool, since).await {
                Ok((articles, next)) => {
                    if let Some(entry) = lock(&self.0.sweeps).get_mut(&site) {
                        entry.1 = next;
                    }
                    for article in &articles {
                        self.changed(&site, article);
                    }
                }
                Err(error) => tracing::warn!(%error, site, "live sweep failed; will try again"),
            }
            let queue = lock(&self.0.feeds)
                .get(&FeedKey {
                    site: site.clone(),
                    article: None,
                })
                .cloned();
            if let Some(queue) = queue {
                queue.end_revoked_keys().await;
            }
        }
    }
}

/// The site a pool is bound to: streams belong to one site.
fn site_of(pool: &Pool) -> Result<String, StoreError> {
    match pool.scope() {
        Scope::Site(site) => Ok(site.as_str().to_owned()),
        other => Err(StoreError::Unscoped(other.clone())),
    }
}

/// Deletes the events older than the resume window every `PRUNE_EVERY`, for as long as the
/// process runs.
async fn prune_forever(installation: Pool, window: Duration) {
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        prune.tick().await;
        match store::live::prune(&installation, window).await {
            Ok(deleted) => metrics::record_live_events_pruned(deleted),
            Err(error) => {
                tracing::warn!(%error, "could not prune the live events; will try again");
            }
        }
    }
}
