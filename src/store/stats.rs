//! Per-article rating counters, updated inside the transaction that changes a review.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{connection, StoreError};
use crate::db::schema::article_stats;
use crate::db::Pool;
use crate::domain::stats::RatingCounters;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = article_stats, check_for_backend(diesel::pg::Pg))]
pub struct StatsRow {
    pub article_id: String,
    pub count_1: i64,
    pub count_2: i64,
    pub count_3: i64,
    pub count_4: i64,
    pub count_5: i64,
}

impl From<StatsRow> for RatingCounters {
    fn from(row: StatsRow) -> Self {
        Self {
            histogram: [
                row.count_1,
                row.count_2,
                row.count_3,
                row.count_4,
                row.count_5,
            ],
        }
    }
}

/// Adds `delta` (+1 or −1) reviews of `rating` to an article's counters, creating them on
/// first use. Must run in the transaction that inserts or changes the review.
pub(crate) async fn record(
    conn: &mut AsyncPgConnection,
    article: &str,
    rating: i16,
    delta: i64,
) -> Result<(), StoreError> {
    use crate::db::schema::article_stats::dsl::*;
    let per = |r: i16| if rating == r { delta } else { 0 };
    diesel::insert_into(article_stats)
        .values((
            article_id.eq(article),
            review_count.eq(delta),
            rating_sum.eq(delta * i64::from(rating)),
            count_1.eq(per(1)),
            count_2.eq(per(2)),
            count_3.eq(per(3)),
            count_4.eq(per(4)),
            count_5.eq(per(5)),
        ))
        .on_conflict(article_id)
        .do_update()
        .set((
            review_count.eq(review_count + excluded(review_count)),
            rating_sum.eq(rating_sum + excluded(rating_sum)),
            count_1.eq(count_1 + excluded(count_1)),
            count_2.eq(count_2 + excluded(count_2)),
            count_3.eq(count_3 + excluded(count_3)),
            count_4.eq(count_4 + excluded(count_4)),
            count_5.eq(count_5 + excluded(count_5)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// One article's counters, or `None` when it has never had a review.
pub async fn for_article(pool: &Pool, id: &str) -> Result<Option<RatingCounters>, StoreError> {
    let mut conn = connection(pool).await?;
    let row = article_stats::table
        .find(id)
        .select(StatsRow::as_select())
        .first(&mut conn)
        .await
        .optional()?;
    Ok(row.map(RatingCounters::from))
}

/// Counters for many articles in one indexed lookup; articles without reviews are absent.
pub async fn for_articles(
    pool: &Pool,
    ids: &[String],
) -> Result<HashMap<String, RatingCounters>, StoreError> {
    let mut conn = connection(pool).await?;
    let rows = article_stats::table
        .filter(article_stats::article_id.eq_any(ids))
        .select(StatsRow::as_select())
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.article_id.clone(), RatingCounters::from(row)))
        .collect())
}
