//! Imports from other systems (docs/import.md): one batch of reviews per transaction, keyed by
//! (source, source id) so that a second run finds what the first wrote, with the counters moved
//! in the same transaction and replies linked to their parents as those arrive.
//!
//! Every statement runs on a connection bound to the import's site: row-level security keeps
//! the lookups to that site and gives inserted rows its `site_id`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::answer::LoadOne;
use super::counters::{Counted, Counting};
use super::{outbox, StoreError};
use crate::db::schema::{articles, reviews};
use crate::domain::review::ReviewStatus;

/// One review to import, as it will be stored.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = reviews, check_for_backend(diesel::pg::Pg))]
pub struct ImportRow {
    pub id: Uuid,
    pub article_id: String,
    /// Stored: 0 for none (`Rating::to_stored`).
    pub rating: i16,
    pub title: Option<String>,
    pub body: String,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub language: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub reasons: Vec<String>,
    pub helpful_count: i32,
    pub unhelpful_count: i32,
    pub flag_count: i32,
    pub edited_at: Option<DateTime<Utc>>,
    pub reply_body: Option<String>,
    pub reply_created_at: Option<DateTime<Utc>>,
    pub reply_updated_at: Option<DateTime<Utc>>,
    pub erased_at: Option<DateTime<Utc>>,
    pub reader_id: Option<String>,
    pub reader_badges: Vec<String>,
    pub import_source: String,
    pub import_id: String,
    pub import_parent: Option<String>,
    pub import_digest: Vec<u8>,
}

/// What one batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The new reviews' statuses, one per review written.
    pub inserted: Vec<ReviewStatus>,
    pub updated: u64,
    pub unchanged: u64,
    /// Replies linked to their parent by this batch (theirs or earlier ones').
    pub linked: u64,
    /// Articles whose published counts moved.
    pub counted_articles: Vec<String>,
}

/// A review an earlier run imported, as far as a new run needs it.
#[derive(Debug, QueryableByName)]
struct Earlier {
    #[diesel(sql_type = Text)]
    import_id: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Bytea>)]
    digest: Option<Vec<u8>>,
    #[diesel(sql_type = Text)]
    article_id: String,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    rating: i16,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    language: Option<String>,
}

/// The reviews of earlier runs among a batch's keys, locked. Planned for each batch's values
/// (a statement diesel does not cache): a plan kept from the run's first batches, made while the
/// table was small, would go on reading the whole table as it grows. The site is named as well
/// as bound, because row-level security's condition (which also admits the installation's
/// scope) cannot lead an index scan.
const EARLIER: &str = "SELECT import_id, id, import_digest AS digest, article_id, rating, status, \
                       created_at, language FROM reviews \
                       WHERE site_id = $1 AND import_source = $2 AND import_id = ANY($3) FOR UPDATE";

/// Writes one batch in one transaction: new reviews inserted, reviews of an earlier run whose
/// source text changed brought up to date (text and rating only: their status is the
/// moderators' now), the rest left alone; counters moved; waiting replies linked.
pub async fn write_batch(
    conn: &mut AsyncPgConnection,
    site: &str,
    source: &str,
    rows: Vec<ImportRow>,
) -> Result<BatchOutcome, StoreError> {
    conn.transaction::<_, StoreError, _>(async |conn| {
        let keys: Vec<String> = rows.iter().map(|row| row.import_id.clone()).collect();
        let earlier: HashMap<String, Earlier> = diesel::sql_query(EARLIER)
            .bind::<Text, _>(site)
            .bind::<Text, _>(source)
            .bind::<Array<Text>, _>(&keys)
            .load::<Earlier>(conn)
            .await?
            .into_iter()
            .map(|row| (row.import_id.clone(), row))
            .collect();
        let mut outcome = BatchOutcome::default();
        let mut counting = Counting::default();
        let mut new_rows = Vec::new();
        for row in rows {
            match earlier.get(&row.import_id) {
                None => {
                    let status =
                        ReviewStatus::from_stored(&row.status).unwrap_or(ReviewStatus::Pending);
                    counting.change_counted(counted(&row), status, 1);
                    outcome.inserted.push(status);
                    new_rows.push(row);
                }
                Some(old) if old.digest.as_deref() == Some(row.import_digest.as_slice()) => {
                    outcome.unchanged += 1;
                }
                Some(old) => {
                    update_text(conn, old, &row, &mut counting).await?;
                    outcome.updated += 1;
                }
            }
        }
        // A statement takes at most 65,535 parameters; a row has 31.
        for chunk in new_rows.chunks(1_000) {
            diesel::insert_into(reviews::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        outcome.counted_articles = counting.articles().map(str::to_owned).collect();
        outcome.counted_articles.dedup();
        counting.apply(conn).await?;
        outcome.linked = link_replies(conn, site, source, &keys).await?;
        Ok(outcome)
    })
    .await
}

fn counted(row: &ImportRow) -> Counted<'_> {
    Counted {
        id: row.id,
        article_id: &row.article_id,
        rating: row.rating,
        created_at: row.created_at,
        language: row.language.as_deref(),
    }
}

/// Brings an earlier run's review up to the source's text, moving the counters when its rating
/// changed while it is published.
async fn update_text(
    conn: &mut AsyncPgConnection,
    old: &Earlier,
    row: &ImportRow,
    counting: &mut Counting,
) -> Result<(), StoreError> {
    diesel::update(reviews::table.find(old.id))
        .set((
            reviews::title.eq(&row.title),
            reviews::body.eq(&row.body),
            reviews::author_name.eq(&row.author_name),
            reviews::author_email.eq(&row.author_email),
            reviews::rating.eq(row.rating),
            reviews::import_digest.eq(&row.import_digest),
            reviews::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    if old.rating != row.rating {
        let status = ReviewStatus::from_stored(&old.status).unwrap_or(ReviewStatus::Pending);
        let was = Counted {
            id: old.id,
            article_id: &old.article_id,
            rating: old.rating,
            created_at: old.created_at,
            language: old.language.as_deref(),
        };
        counting.change_counted(was, status, -1);
        let now = Counted {
            id: old.id,
            article_id: &old.article_id,
            rating: row.rating,
            created_at: old.created_at,
            language: old.language.as_deref(),
        };
        counting.change_counted(now, status, 1);
    }
    Ok(())
}

/// Links the replies that this batch makes complete: its own replies whose parent exists, and
/// the replies waiting for a parent that this batch brought; returns how many were linked. Each
/// side is an index probe by this batch's keys (the waiting replies by `reviews_import_waiting`,
/// the batch's own by the import key), and each parent one probe (`LATERAL … LIMIT 1`), planned
/// for the batch's values: work in proportion to the batch, never to the table (a reply is
/// waiting until its parent arrives, and the planner cannot know how few of them wait).
async fn link_replies(
    conn: &mut AsyncPgConnection,
    site: &str,
    source: &str,
    keys: &[String],
) -> Result<u64, StoreError> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        reply: Uuid,
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        parent: Uuid,
    }
    let found: Vec<Found> = diesel::sql_query(
        "SELECT waiting.id AS reply, parent.id AS parent FROM reviews AS waiting \
         CROSS JOIN LATERAL (SELECT candidate.id FROM reviews AS candidate \
         WHERE candidate.site_id = $1 AND candidate.import_source = $2 \
         AND candidate.import_id = waiting.import_parent \
         AND candidate.article_id = waiting.article_id LIMIT 1) AS parent \
         WHERE waiting.site_id = $1 AND waiting.import_source = $2 \
         AND waiting.import_parent IS NOT NULL AND waiting.in_reply_to IS NULL \
         AND (waiting.import_parent = ANY($3) OR waiting.import_id = ANY($3))",
    )
    .bind::<Text, _>(site)
    .bind::<Text, _>(source)
    .bind::<Array<Text>, _>(keys)
    .load(conn)
    .await?;
    if found.is_empty() {
        return Ok(0);
    }
    let (replies, parents): (Vec<Uuid>, Vec<Uuid>) = found
        .into_iter()
        .map(|pair| (pair.reply, pair.parent))
        .unzip();
    let linked = diesel::sql_query(
        "UPDATE reviews SET in_reply_to = pair.parent \
         FROM unnest($1::uuid[], $2::uuid[]) AS pair (reply, parent) WHERE reviews.id = pair.reply",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(&replies)
    .bind::<Array<diesel::sql_types::Uuid>, _>(&parents)
    .execute(conn)
    .await?;
    Ok(u64::try_from(linked).unwrap_or(0))
}

/// Replies of `source` whose parent is in no import of it (shown as top-level reviews).
pub async fn orphans(
    conn: &mut AsyncPgConnection,
    site: &str,
    source: &str,
) -> Result<u64, StoreError> {
    let count: i64 = reviews::table
        .filter(reviews::site_id.eq(site))
        .filter(reviews::import_source.eq(source))
        .filter(reviews::import_parent.is_not_null())
        .filter(reviews::in_reply_to.is_null())
        .count()
        .load_one(conn)
        .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The article ids among `ids` that exist.
pub async fn known_ids(
    conn: &mut AsyncPgConnection,
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    Ok(articles::table
        .filter(articles::article_id.eq_any(ids))
        .select(articles::article_id)
        .load(conn)
        .await?)
}

/// The article registered under each of `urls` (the first by id when several share one).
pub async fn ids_by_url(
    conn: &mut AsyncPgConnection,
    urls: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    let found: Vec<(Option<String>, String)> = articles::table
        .filter(articles::url.eq_any(urls))
        .select((articles::url, articles::article_id))
        .order(articles::article_id.desc())
        .load(conn)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(url, id)| Some((url?, id)))
        .collect())
}

/// An article an import creates for a thread Marginalia did not know.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = articles, check_for_backend(diesel::pg::Pg))]
pub struct NewArticle {
    pub article_id: String,
    pub title: Option<String>,
    pub url: Option<String>,
}

/// Creates the articles that do not exist yet; returns how many it created.
pub async fn create_articles(
    conn: &mut AsyncPgConnection,
    new: &[NewArticle],
) -> Result<u64, StoreError> {
    let created = diesel::insert_into(articles::table)
        .values(new)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(u64::try_from(created).unwrap_or(0))
}

/// Queues one `article.stats_changed` event per article, due at once (`--announce summary`).
pub async fn announce_summaries(
    conn: &mut AsyncPgConnection,
    site: &str,
    article_ids: &[String],
) -> Result<(), StoreError> {
    let articles: Vec<(&str, &str)> = article_ids.iter().map(|id| (site, id.as_str())).collect();
    outbox::queue_stats_events(
        conn,
        &articles,
        outbox::pg_interval(std::time::Duration::ZERO),
    )
    .await
}

/// Takes the lock that keeps two runs of one source into one site apart, for as long as the
/// connection lives or until `unlock`; `false` when another run holds it.
pub async fn try_lock(
    conn: &mut AsyncPgConnection,
    site: &str,
    source: &str,
) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let key = lock_key(site, source);
    let row: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
        .bind::<BigInt, _>(key)
        .load_one(conn)
        .await?;
    Ok(row.locked)
}

pub async fn unlock(
    conn: &mut AsyncPgConnection,
    site: &str,
    source: &str,
) -> Result<(), StoreError> {
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(lock_key(site, source))
        .execute(conn)
        .await?;
    Ok(())
}

/// The advisory lock key of (site, source): a digest, in a space no other lock of ours uses.
fn lock_key(site: &str, source: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("marginalia-import\u{0}{site}\u{0}{source}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}
