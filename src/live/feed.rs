//! One feed: the new events of an article (or of a site's queue) read from the table, rendered
//! once, and broadcast to this node's subscribers in order.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web::Bytes;
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{lock, FeedKey, Message, FEED_CAPACITY};
use crate::db::Pool;
use crate::domain::live::{in_queue_tabs, Cursor, LiveKind};
use crate::metrics;
use crate::store::live::LiveEventRow;
use crate::store::{self, StoreError};
use crate::views::moderation::{ModeratedReview, QueueCountsBody};
use crate::views::review::Review;
use crate::views::stats::ArticleStats;

/// Most events read and rendered at once; more are read in the next round at once.
const BATCH: i64 = 100;
/// Most events a resuming reader is sent from the table; one further behind reloads.
pub(super) const CATCH_UP_AT_MOST: i64 = 500;
/// While an event waits for an older transaction to finish, how long until looking again: from
/// the first, doubling up to the last.
const SETTLE_FIRST: Duration = Duration::from_millis(5);
const SETTLE_LAST: Duration = Duration::from_millis(200);

pub(super) struct Feed {
    key: FeedKey,
    pool: Pool,
    newsroom: Arc<str>,
    sender: broadcast::Sender<Message>,
    progress: Mutex<Progress>,
    /// Moderators' feeds: the digests of the keys their streams were opened with, and how many
    /// streams hold each.
    keys: Mutex<HashMap<Arc<[u8]>, usize>>,
}

struct Progress {
    /// Every event up to here was broadcast (or skipped as not for this feed).
    cursor: Cursor,
    /// A task is reading new events.
    reading: bool,
    /// Woken while reading: read once more when done.
    again: bool,
}

impl Feed {
    pub(super) fn new(key: FeedKey, pool: Pool, newsroom: Arc<str>, start: Cursor) -> Arc<Self> {
        let (sender, _) = broadcast::channel(FEED_CAPACITY);
        Arc::new(Self {
            key,
            pool,
            newsroom,
            sender,
            progress: Mutex::new(Progress {
                cursor: start,
                reading: false,
                again: false,
            }),
            keys: Mutex::default(),
        })
    }

    /// A new subscriber's receiver and the position it starts after: taken together, so every
    /// event after that position reaches the receiver.
    pub(super) fn subscribe(&self) -> (broadcast::Receiver<Message>, Cursor) {
        let progress = lock(&self.progress);
        (self.sender.subscribe(), progress.cursor)
    }

    pub(super) fn is_read(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    pub(super) fn send(&self, message: Message) {
        // Fails only when nobody subscribes, and then nobody needs it.
        let _ = self.sender.send(message);
    }

    /// Reads the new events soon, in a task of its own (one at a time per feed).
    pub(super) fn wake(self: &Arc<Self>) {
        if !self.is_read() {
            return;
        }
        {
            let mut progress = lock(&self.progress);
            if progress.reading {
                progress.again = true;
                return;
            }
            progress.reading = true;
        }
        let feed = self.clone();
        tokio::spawn(async move { feed.read_new().await });
    }

    /// Reads and broadcasts the settled events after the cursor until there are none, waiting
    /// for unsettled ones to settle.
    async fn read_new(self: Arc<Self>) {
        let mut settle = SETTLE_FIRST;
        loop {
            let cursor = lock(&self.progress).cursor;
            let more = match self.read_once(cursor).await {
                Ok(more) => more,
                Err(error) => {
                    // The sweep wakes the feed again.
                    tracing::warn!(%error, feed = ?self.key, "could not read live events");
                    Round::Done
                }
            };
            match more {
                Round::Full => continue,
                Round::Unsettled => {
                    tokio::time::sleep(settle).await;
                    settle = (settle * 2).min(SETTLE_LAST);
                    continue;
                }
                Round::Done => {}
            }
            let mut progress = lock(&self.progress);
            if progress.again {
                progress.again = false;
                continue;
            }
            progress.reading = false;
            return;
        }
    }

    /// One round: reads up to `BATCH` events after `cursor`, renders and broadcasts the settled
    /// ones, moves the cursor past them.
    async fn read_once(&self, cursor: Cursor) -> Result<Round, StoreError> {
        let rows = match &self.key.article {
            Some(article) => {
                store::live::article_changes(&self.pool, article, cursor, BATCH).await?
            }
            None => store::live::site_changes(&self.pool, cursor, BATCH).await?,
        };
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= BATCH;
        let settled: Vec<LiveEventRow> =
            rows.iter().take_while(|row| row.settled).cloned().collect();
        let unsettled = settled.len() < rows.len();
        if let Some(last) = settled.last().map(LiveEventRow::cursor) {
            let messages = self.render(&settled).await?;
            let mut progress = lock(&self.progress);
            for message in messages {
                self.send(message);
            }
            progress.cursor = last;
        }
        Ok(if unsettled {
            Round::Unsettled
        } else if full {
            Round::Full
        } else {
            Round::Done
        })
    }

    async fn render(&self, rows: &[LiveEventRow]) -> Result<Vec<Message>, StoreError> {
        let (stream, messages) = match &self.key.article {
            Some(article) => ("article", self.render_public(article, rows).await?),
            None => ("moderation", self.render_queue(rows).await?),
        };
        metrics::record_live_events(stream, messages.len());
        Ok(messages)
    }

    /// The public events of `rows`, each from the review as a public read shows it now (an event
    /// of a review that is no longer public is skipped), then the article's stats.
    async fn render_public(
        &self,
        article: &str,
        rows: &[LiveEventRow],
    ) -> Result<Vec<Message>, StoreError> {
        render_public_events(&self.pool, &self.newsroom, article, rows).await
    }

    /// The queue items of `rows`' reviews as moderators see them now (or that they left the
    /// queue), then the counts.
    async fn render_queue(&self, rows: &[LiveEventRow]) -> Result<Vec<Message>, StoreError> {
        let mut latest: BTreeMap<Uuid, usize> = BTreeMap::new();
        for (order, row) in rows.iter().enumerate() {
            latest.insert(row.review_id, order);
        }
        let ids: Vec<Uuid> = latest.keys().copied().collect();
        let found = store::queue::rows_among(&self.pool, &ids).await?;
        let mut reviews = ModeratedReview::all(found, &self.pool, &self.newsroom).await?;
        reviews.sort_by_key(|review| latest.get(&review.review.id).copied());
        let mut messages: Vec<Message> = reviews
            .iter()
            .map(|review| {
                let frame = if in_queue_tabs(review.review.status, review.flag_count) {
                    frame(None, "queue.item", review)
                } else {
                    let settled = json!({"id": review.review.id, "status": review.review.status});
                    frame(None, "queue.settled", &settled)
                };
                Message::Frame(frame)
            })
            .collect();
        messages.push(Message::Frame(counts_frame(&self.pool).await?));
        Ok(messages)
    }

    /// The events between a resuming reader's `from` and the feed's `to`, read back from the
    /// table and rendered; `None` when there are more than a reader is sent (it reloads).
    pub(super) async fn missed(
        &self,
        from: Cursor,
        to: Cursor,
    ) -> Result<Option<Vec<Bytes>>, StoreError> {
        let Some(article) = self.key.article.as_deref().filter(|_| from < to) else {
            return Ok(Some(Vec::new()));
        };
        let rows =
            store::live::article_changes(&self.pool, article, from, CATCH_UP_AT_MOST + 1).await?;
        let rows: Vec<LiveEventRow> = rows.into_iter().filter(|row| row.cursor() <= to).collect();
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) > CATCH_UP_AT_MOST {
            return Ok(None);
        }
        let messages = render_public_events(&self.pool, &self.newsroom, article, &rows).await?;
        Ok(Some(
            messages
                .into_iter()
                .filter_map(|message| match message {
                    Message::Event(_, frame) | Message::Frame(frame) => Some(frame),
                    Message::Close | Message::Revoked(_) => None,
                })
                .collect(),
        ))
    }

    /// A moderators' stream opened with the key of digest `key`.
    pub(super) fn hold_key(&self, key: &Arc<[u8]>) {
        *lock(&self.keys).entry(key.clone()).or_default() += 1;
    }

    /// Ends the streams whose key is no longer active, and forgets the keys nobody streams with.
    pub(super) async fn end_revoked_keys(&self) {
        let held: Vec<Arc<[u8]>> = {
            let mut keys = lock(&self.keys);
            keys.retain(|_, streams| *streams > 0);
            keys.keys().cloned().collect()
        };
        for key in held {
            match store::api_keys::find_active(&self.pool, &key).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    lock(&self.keys).remove(&key);
                    self.send(Message::Revoked(key));
                }
                Err(error) => tracing::warn!(%error, "could not check a moderator's key"),
            }
        }
    }

    /// A moderators' stream with the key of digest `key` ended.
    pub(super) fn release_key(&self, key: &Arc<[u8]>) {
        if let Some(streams) = lock(&self.keys).get_mut(key) {
            *streams = streams.saturating_sub(1);
        }
    }
}

/// How a round of reading ended.
enum Round {
    /// A full batch: read on at once.
    Full,
    /// An event waits for an older transaction: look again in a moment.
    Unsettled,
    Done,
}

async fn render_public_events(
    pool: &Pool,
    newsroom: &str,
    article: &str,
    rows: &[LiveEventRow],
) -> Result<Vec<Message>, StoreError> {
    let shown: Vec<Uuid> = rows
        .iter()
        .filter(|row| {
            row.kind()
                .is_some_and(|kind| kind.is_public() && kind != LiveKind::Removed)
        })
        .map(|row| row.review_id)
        .collect();
    let reviews: HashMap<Uuid, Review> = store::reviews::published_among(pool, &shown)
        .await?
        .into_iter()
        .map(|row| (row.id, Review::new(&row, newsroom)))
        .collect();
    let mut messages = Vec::new();
    for row in rows {
        let Some((kind, name)) = row
            .kind()
            .and_then(|kind| Some((kind, kind.public_event()?)))
        else {
            continue;
        };
        let cursor = row.cursor();
        let rendered = if kind == LiveKind::Removed {
            frame(Some(cursor), name, &json!({"id": row.review_id}))
        } else if let Some(review) = reviews.get(&row.review_id) {
            frame(Some(cursor), name, review)
        } else {
            continue;
        };
        messages.push(Message::Event(cursor, rendered));
    }
    if !messages.is_empty() {
        let counters = store::stats::for_article(pool, article)
            .await?
            .unwrap_or_default();
        let stats = ArticleStats::new(article.to_owned(), counters);
        messages.push(Message::Frame(frame(None, "stats", &stats)));
    }
    Ok(messages)
}

/// The queue's counts, as the first frame of a moderators' stream and after each change.
pub(super) async fn counts_frame(pool: &Pool) -> Result<Bytes, StoreError> {
    let counts = QueueCountsBody::from(store::queue::counts(pool).await?);
    Ok(frame(None, "counts", &counts))
}

/// One Server-Sent Event: its id (when it has a position), name and data (compact JSON, so one
/// `data:` line).
pub(super) fn frame(id: Option<Cursor>, name: &str, data: &impl Serialize) -> Bytes {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "null".to_owned());
    let mut text = String::with_capacity(json.len() + name.len() + 48);
    if let Some(id) = id {
        text.push_str("id: ");
        text.push_str(&id.to_string());
        text.push('\n');
    }
    text.push_str("event: ");
    text.push_str(name);
    text.push_str("\ndata: ");
    text.push_str(&json);
    text.push_str("\n\n");
    Bytes::from(text)
}
