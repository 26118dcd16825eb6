//! Per-article rating counters; `reviews::insert` keeps them in step with every review.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

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
