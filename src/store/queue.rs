//! What moderators read: the queue and its counts, an author's other reviews, and the audit log.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::answer::LoadOne;
use super::moderation::ModeratedReviewRow;
use super::sql::lower;
use super::{site_of, with_connection, StoreError};
use crate::db::schema::{articles, moderation_log, reviews};
use crate::db::Pool;
use crate::domain::query::{LogFilter, QueueFilter};

/// A review in the queue, with its article's title.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct QueueRow {
    #[diesel(embed)]
    pub review: ModeratedReviewRow,
    #[diesel(select_expression = articles::title)]
    #[diesel(select_expression_type = articles::title)]
    pub article_title: Option<String>,
}

/// The join of a review to its article: the article of the same id in the same site.
pub(super) fn article_of_review() -> diesel::dsl::And<
    diesel::dsl::Eq<articles::site_id, reviews::site_id>,
    diesel::dsl::Eq<articles::article_id, reviews::article_id>,
> {
    articles::site_id
        .eq(reviews::site_id)
        .and(articles::article_id.eq(reviews::article_id))
}

/// Keeps the first `limit` rows and says whether more followed (pages fetch `limit + 1`).
fn page<T>(mut rows: Vec<T>, limit: i64) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

/// One page of the queue, oldest first, and whether more follow.
pub async fn queue(pool: &Pool, filter: &QueueFilter) -> Result<(Vec<QueueRow>, bool), StoreError> {
    let mut select = reviews::table
        .inner_join(articles::table.on(article_of_review()))
        .filter(reviews::site_id.eq(site_of(pool)?))
        .filter(reviews::status.eq(filter.status.as_str()))
        .select(QueueRow::as_select())
        .order(reviews::id)
        .limit(filter.limit + 1)
        .into_boxed();
    if let Some(article_id) = &filter.article_id {
        select = select.filter(reviews::article_id.eq(article_id.clone()));
    }
    if let Some(reason) = filter.reason {
        select = select.filter(reviews::reasons.contains(vec![reason.as_str().to_owned()]));
    }
    if let Some(language) = &filter.language {
        select = select.filter(reviews::language.eq(language.clone()));
    }
    if filter.flagged {
        select = select.filter(reviews::flag_count.gt(0));
    }
    if let Some(after) = filter.after {
        select = select.filter(reviews::id.gt(after));
    }
    let rows = with_connection(pool, async |conn| Ok(select.load(conn).await?)).await?;
    Ok(page(rows, filter.limit))
}

/// The reviews of `ids` as the queue shows them, whatever their status, in no order.
pub async fn rows_among(pool: &Pool, ids: &[Uuid]) -> Result<Vec<QueueRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let select = reviews::table
        .inner_join(articles::table.on(article_of_review()))
        .filter(reviews::site_id.eq(site_of(pool)?))
        .filter(reviews::id.eq_any(ids))
        .select(QueueRow::as_select());
    with_connection(pool, async |conn| Ok(select.load(conn).await?)).await
}

/// The most flags shown with a review, newest first: enough to see what readers object to,
/// bounded because one network may send many flags (each counts once towards the threshold).
pub const FLAGS_SHOWN: i64 = 20;

/// A reader's flag as moderators see it: why and the reader's note, never who or from where.
#[derive(Debug, Clone, QueryableByName)]
pub struct FlagRow {
    #[diesel(sql_type = SqlUuid)]
    pub review_id: Uuid,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub note: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

/// The newest `FLAGS_SHOWN` flags of each review of `ids`, by review, newest first.
pub async fn flags_of(
    pool: &Pool,
    ids: &[Uuid],
) -> Result<BTreeMap<Uuid, Vec<FlagRow>>, StoreError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let query = diesel::sql_query(
        "SELECT review_id, reason, note, created_at FROM ( \
         SELECT review_id, reason, note, created_at, row_number() OVER ( \
         PARTITION BY review_id ORDER BY created_at DESC, voter) AS n \
         FROM review_flags WHERE site_id = $3 AND review_id = ANY ($1)) f \
         WHERE n <= $2 ORDER BY review_id, created_at DESC",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<BigInt, _>(FLAGS_SHOWN)
    .bind::<Text, _>(site_of(pool)?);
    let rows: Vec<FlagRow> =
        with_connection(pool, async |conn| Ok(query.load(conn).await?)).await?;
    let mut by_review: BTreeMap<Uuid, Vec<FlagRow>> = BTreeMap::new();
    for row in rows {
        by_review.entry(row.review_id).or_default().push(row);
    }
    Ok(by_review)
}

/// How many reviews wait in each tab of the queue, each counted up to `QueueCounts::CAP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct QueueCounts {
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    /// Published reviews readers flagged at least once.
    #[diesel(sql_type = BigInt)]
    pub flagged: i64,
    #[diesel(sql_type = BigInt)]
    pub spam: i64,
}

impl QueueCounts {
    /// Counting stops here, so a neglected queue of millions costs no more than a busy one.
    pub const CAP: i64 = 10_000;
}

/// The queue's counts: three bounded index scans.
pub async fn counts(pool: &Pool) -> Result<QueueCounts, StoreError> {
    let query = diesel::sql_query(
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM reviews WHERE site_id = $2 AND status = 'pending' LIMIT $1) p) AS pending, \
         (SELECT count(*) FROM (SELECT 1 FROM reviews WHERE site_id = $2 AND status = 'published' AND flag_count > 0 LIMIT $1) f) AS flagged, \
         (SELECT count(*) FROM (SELECT 1 FROM reviews WHERE site_id = $2 AND status = 'spam' LIMIT $1) s) AS spam",
    )
    .bind::<BigInt, _>(QueueCounts::CAP)
    .bind::<Text, _>(site_of(pool)?);
    with_connection(pool, async |conn| Ok(query.load_one(conn).await?)).await
}

/// The most reviews `author_reviews` returns.
pub const AUTHOR_REVIEWS_LIMIT: i64 = 10;

/// The other reviews by the author of review `id` (the same email, in any letter case), newest
/// first; `None` when there is no such review, an empty list when it has no email.
pub async fn author_reviews(
    pool: &Pool,
    id: Uuid,
) -> Result<Option<(bool, Vec<QueueRow>)>, StoreError> {
    let site = site_of(pool)?;
    with_connection(pool, async |conn| {
        let email: Option<Option<String>> = reviews::table
            .find(id)
            .select(reviews::author_email)
            .first(conn)
            .await
            .optional()?;
        let Some(email) = email else {
            return Ok(None);
        };
        let Some(email) = email else {
            return Ok(Some((false, Vec::new())));
        };
        let rows = reviews::table
            .inner_join(articles::table.on(article_of_review()))
            .filter(reviews::site_id.eq(site))
            .filter(lower(reviews::author_email).eq(lower(Some(email))))
            .filter(reviews::id.ne(id))
            .select(QueueRow::as_select())
            .order(reviews::created_at.desc())
            .limit(AUTHOR_REVIEWS_LIMIT)
            .load(conn)
            .await?;
        Ok(Some((true, rows)))
    })
    .await
}

/// One entry of the audit log, with the article of its review.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = moderation_log, check_for_backend(diesel::pg::Pg))]
pub struct LogRow {
    pub id: Uuid,
    pub review_id: Uuid,
    #[diesel(select_expression = reviews::article_id)]
    #[diesel(select_expression_type = reviews::article_id)]
    pub article_id: String,
    pub actor: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reasons: Vec<String>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Audit entries matching `filter`, newest first, older than `before`: at most `limit`, and
/// whether more follow.
pub async fn log(
    pool: &Pool,
    filter: &LogFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<(Vec<LogRow>, bool), StoreError> {
    let mut select = moderation_log::table
        .inner_join(reviews::table)
        .filter(moderation_log::site_id.eq(site_of(pool)?))
        .select(LogRow::as_select())
        .order(moderation_log::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(review_id) = filter.review_id {
        select = select.filter(moderation_log::review_id.eq(review_id));
    }
    if let Some(article_id) = &filter.article_id {
        select = select.filter(reviews::article_id.eq(article_id.clone()));
    }
    if let Some(actor) = &filter.actor {
        select = select.filter(moderation_log::actor.eq(actor.clone()));
    }
    if let Some(action) = &filter.action {
        select = select.filter(moderation_log::action.eq(action.clone()));
    }
    if let Some(since) = filter.since {
        select = select.filter(moderation_log::created_at.ge(since));
    }
    if let Some(until) = filter.until {
        select = select.filter(moderation_log::created_at.lt(until));
    }
    if let Some(before) = before {
        select = select.filter(moderation_log::id.lt(before));
    }
    let rows = with_connection(pool, async |conn| Ok(select.load(conn).await?)).await?;
    Ok(page(rows, limit))
}
