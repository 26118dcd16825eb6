//! The live events (`live_events`, see its migration): written in the transaction of each change
//! by that change's store module, read by `crate::live` for the streams, pruned by age.
//!
//! Positions are `Cursor`s, `(tx, seq)`; a row is *settled* once its transaction id is below the
//! oldest transaction still running, and only settled rows are delivered, in cursor order: no row
//! can then appear behind a delivered one.

use std::sync::LazyLock;
use std::time::Duration;

use diesel::pg::Pg;
use diesel::query_builder::AstPass;
use diesel::sql_types::{Array, BigInt, Bool, Interval, Text, Uuid as SqlUuid};
use diesel::{QueryResult, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::answer::LoadOne;
use super::{site_of, with_connection, StoreError};
use crate::db::Pool;
use crate::domain::live::{Cursor, LiveKind};
use crate::domain::review::ReviewStatus;

/// A change to announce on the live streams.
#[derive(Debug, Clone, Copy)]
pub struct LiveChange<'a> {
    pub article_id: &'a str,
    pub review_id: Uuid,
    pub kind: LiveKind,
}

/// Writes `changes` in the caller's transaction, in their order.
pub(super) async fn record(
    conn: &mut AsyncPgConnection,
    changes: &[LiveChange<'_>],
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let articles: Vec<&str> = changes.iter().map(|change| change.article_id).collect();
    let reviews: Vec<Uuid> = changes.iter().map(|change| change.review_id).collect();
    let kinds: Vec<&str> = changes.iter().map(|change| change.kind.as_str()).collect();
    diesel::sql_query(
        "INSERT INTO live_events (article_id, review_id, kind) \
         SELECT article_id, review_id, kind \
         FROM unnest($1::text[], $2::uuid[], $3::text[]) WITH ORDINALITY \
         AS change (article_id, review_id, kind, position) ORDER BY position",
    )
    .bind::<Array<Text>, _>(&articles)
    .bind::<Array<SqlUuid>, _>(&reviews)
    .bind::<Array<Text>, _>(&kinds)
    .execute(conn)
    .await?;
    Ok(())
}

/// The kind of a new review's event by its stored status, as SQL over the submission statement's
/// `review` CTE: `LiveKind::of_submission` for every status, so the two cannot disagree.
static SUBMISSION_KIND: LazyLock<String> = LazyLock::new(|| {
    let branches: String = ReviewStatus::ALL
        .iter()
        .map(|status| {
            format!(
                " WHEN '{}' THEN '{}'",
                status.as_str(),
                LiveKind::of_submission(*status).as_str()
            )
        })
        .collect();
    format!("CASE status{branches} END")
});

/// The submission statement's CTE `live`, after its CTE `review`: the new review's event.
pub(super) fn push_submission_event(out: &mut AstPass<'_, '_, Pg>) -> QueryResult<()> {
    out.push_sql(
        "live AS (INSERT INTO live_events (article_id, review_id, kind) SELECT article_id, id, ",
    );
    out.push_sql(&SUBMISSION_KIND);
    out.push_sql(" FROM review)");
    Ok(())
}

/// One stored event.
#[derive(Debug, Clone, QueryableByName)]
pub struct LiveEventRow {
    #[diesel(sql_type = BigInt)]
    tx: i64,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    pub article_id: String,
    #[diesel(sql_type = SqlUuid)]
    pub review_id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    /// Below the oldest running transaction: nothing can be written before it any more.
    #[diesel(sql_type = Bool)]
    pub settled: bool,
}

impl LiveEventRow {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            tx: u64::try_from(self.tx).unwrap_or_default(),
            seq: self.seq,
        }
    }

    /// `None` for a kind this version does not know (written by a newer node): skipped.
    pub fn kind(&self) -> Option<LiveKind> {
        LiveKind::from_stored(&self.kind)
    }
}

const CHANGES_SELECT: &str = "SELECT (tx::text)::bigint AS tx, seq, article_id, review_id, kind, \
                              tx < pg_snapshot_xmin(pg_current_snapshot()) AS settled \
                              FROM live_events WHERE site_id = $1 ";

/// The events of one article after `after`, in order, at most `limit`.
pub async fn article_changes(
    pool: &Pool,
    article_id: &str,
    after: Cursor,
    limit: i64,
) -> Result<Vec<LiveEventRow>, StoreError> {
    let site = site_of(pool)?;
    with_connection(pool, async |conn| {
        Ok(diesel::sql_query(format!(
            "{CHANGES_SELECT}AND article_id = $2 AND (tx, seq) > (($3::text)::xid8, $4) \
             ORDER BY tx, seq LIMIT $5"
        ))
        .bind::<Text, _>(site)
        .bind::<Text, _>(article_id)
        .bind::<Text, _>(after.tx.to_string())
        .bind::<BigInt, _>(after.seq)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?)
    })
    .await
}

/// The events of the whole site after `after`, in order, at most `limit`.
pub async fn site_changes(
    pool: &Pool,
    after: Cursor,
    limit: i64,
) -> Result<Vec<LiveEventRow>, StoreError> {
    let site = site_of(pool)?;
    with_connection(pool, async |conn| {
        Ok(diesel::sql_query(format!(
            "{CHANGES_SELECT}AND (tx, seq) > (($2::text)::xid8, $3) ORDER BY tx, seq LIMIT $4"
        ))
        .bind::<Text, _>(site)
        .bind::<Text, _>(after.tx.to_string())
        .bind::<BigInt, _>(after.seq)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?)
    })
    .await
}

/// Where the changes stand now, for a reader who starts or resumes.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct Head {
    /// The oldest transaction still running (everything below it is settled).
    #[diesel(sql_type = BigInt)]
    oldest_running: i64,
    /// The next transaction id to be assigned: no position at or beyond it was ever sent.
    #[diesel(sql_type = BigInt)]
    next: i64,
    #[diesel(sql_type = BigInt)]
    pruned_tx: i64,
    #[diesel(sql_type = BigInt)]
    pruned_seq: i64,
}

impl Head {
    /// Everything settled now: where a new reader starts.
    pub fn settled(&self) -> Cursor {
        Cursor::before_transaction(u64::try_from(self.oldest_running).unwrap_or_default())
    }

    /// Whether a reader at `cursor` can resume from the stored events: nothing after it was
    /// pruned, and it is a position this database could have sent (not from another database
    /// or made up).
    pub fn can_resume(&self, cursor: Cursor) -> bool {
        let pruned = Cursor {
            tx: u64::try_from(self.pruned_tx).unwrap_or_default(),
            seq: self.pruned_seq,
        };
        cursor >= pruned && cursor.tx < u64::try_from(self.next).unwrap_or_default()
    }
}

pub async fn head(pool: &Pool) -> Result<Head, StoreError> {
    with_connection(pool, async |conn| {
        Ok(diesel::sql_query(
            "SELECT (pg_snapshot_xmin(s)::text)::bigint AS oldest_running, \
             (pg_snapshot_xmax(s)::text)::bigint AS next, \
             (p.tx::text)::bigint AS pruned_tx, p.seq AS pruned_seq \
             FROM pg_current_snapshot() AS s, live_events_pruned AS p",
        )
        .load_one(conn)
        .await?)
    })
    .await
}

#[derive(QueryableByName)]
struct ChangedArticle {
    #[diesel(sql_type = Text)]
    article_id: String,
}

/// The articles of the site with events from transaction `since_tx` on, and the oldest running
/// transaction now (the next call's `since_tx`: every event not visible now has an id at least
/// that). For the sweep that catches what no notification announced.
pub async fn changed_articles(
    pool: &Pool,
    since_tx: u64,
) -> Result<(Vec<String>, u64), StoreError> {
    let site = site_of(pool)?;
    let since = since_tx.to_string();
    with_connection(pool, async |conn| {
        let articles: Vec<ChangedArticle> = diesel::sql_query(
            "SELECT DISTINCT article_id FROM live_events \
             WHERE site_id = $1 AND tx >= ($2::text)::xid8",
        )
        .bind::<Text, _>(site)
        .bind::<Text, _>(&since)
        .load(conn)
        .await?;
        let head: Head = diesel::sql_query(
            "SELECT (pg_snapshot_xmin(s)::text)::bigint AS oldest_running, \
             (pg_snapshot_xmax(s)::text)::bigint AS next, 0::bigint AS pruned_tx, \
             0::bigint AS pruned_seq FROM pg_current_snapshot() AS s",
        )
        .load_one(conn)
        .await?;
        let oldest = u64::try_from(head.oldest_running).unwrap_or(since_tx);
        Ok((
            articles.into_iter().map(|row| row.article_id).collect(),
            oldest,
        ))
    })
    .await
}

/// Most events deleted by one pruning statement, so that it never holds locks for long.
const PRUNE_BATCH: i64 = 10_000;
/// Most pruning statements in one call: a backlog of up to 1,000,000 events (a little under 28
/// minutes at 600 reviews a second), and a call that ends even if events keep coming faster
/// than they are deleted.
const PRUNE_BATCHES: usize = 100;

/// Deletes the events older than `window` (every site's: an installation handle) and moves the
/// pruned position past them, `PRUNE_BATCH` at a time, until a batch comes back short or
/// `PRUNE_BATCHES` were run. Returns how many were deleted.
///
/// One batch a call could not keep up: a newsroom whose readers post more than `PRUNE_BATCH`
/// reviews between two calls would keep every event for ever, and the streams' reads and the
/// table's upkeep grow with it.
pub async fn prune(pool: &Pool, window: Duration) -> Result<usize, StoreError> {
    let window = diesel::data_types::PgInterval::from_microseconds(
        i64::try_from(window.as_micros()).unwrap_or(i64::MAX),
    );
    let mut deleted = 0;
    for _ in 0..PRUNE_BATCHES {
        let batch = prune_batch(pool, window).await?;
        deleted += batch;
        if batch < PRUNE_BATCH {
            break;
        }
    }
    Ok(usize::try_from(deleted).unwrap_or_default())
}

/// One pruning statement, in a transaction of its own.
async fn prune_batch(
    pool: &Pool,
    window: diesel::data_types::PgInterval,
) -> Result<i64, StoreError> {
    #[derive(QueryableByName)]
    struct Pruned {
        #[diesel(sql_type = BigInt)]
        deleted: i64,
    }
    let pruned: Pruned = with_connection(pool, async |conn| {
        Ok(diesel::sql_query(
            "WITH gone AS (DELETE FROM live_events WHERE ctid IN (SELECT ctid FROM live_events \
             WHERE created_at < now() - $1 LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING tx, seq), \
             newest AS (SELECT tx, seq FROM gone ORDER BY tx DESC, seq DESC LIMIT 1), \
             moved AS (UPDATE live_events_pruned AS p SET tx = newest.tx, seq = newest.seq \
             FROM newest WHERE (newest.tx, newest.seq) > (p.tx, p.seq)) \
             SELECT count(*) AS deleted FROM gone",
        )
        .bind::<Interval, _>(window)
        .bind::<BigInt, _>(PRUNE_BATCH)
        .load_one(conn)
        .await?)
    })
    .await?;
    Ok(pruned.deleted)
}
