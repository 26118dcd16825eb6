//! The rating counters, `article_stats` (per article and stripe) and `article_daily_stats` (per
//! article, UTC day, language and stripe): the one module that moves them, for a submission (as
//! common table expressions of the submission statement) and for every status change (`Counting`).
//! Both use the same SQL text per upsert, so the two paths cannot drift apart.
//!
//! Only published reviews are counted (`ReviewStatus::is_public`); a review is counted in the
//! stripe of its id (`stats::stripe_of`), on the UTC day it was created, under its language
//! (`''` when it has none).
//!
//! Rows are inserted into the site the connection is bound to (`site_id`'s default) and changed
//! only there (`current_setting('marginalia.site')` in every condition).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::NaiveDate;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, Date, Integer, SmallInt, Text};
use diesel::QueryResult;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::reviews::PublicReviewRow;
use super::{stats, StoreError};
use crate::domain::review::ReviewStatus;

/// The upsert of an `article_stats` row, before its row source (`VALUES …` or `SELECT …`)…
const TOTALS_INTO: &str = "INSERT INTO article_stats AS s (article_id, stripe, review_count, \
                           rating_sum, count_1, count_2, count_3, count_4, count_5, unrated) ";
/// …and after it: an existing row adds the proposed row's counts.
const TOTALS_ADD: &str = " ON CONFLICT (site_id, article_id, stripe) DO UPDATE SET \
                          review_count = s.review_count + excluded.review_count, \
                          rating_sum = s.rating_sum + excluded.rating_sum, \
                          count_1 = s.count_1 + excluded.count_1, \
                          count_2 = s.count_2 + excluded.count_2, \
                          count_3 = s.count_3 + excluded.count_3, \
                          count_4 = s.count_4 + excluded.count_4, \
                          count_5 = s.count_5 + excluded.count_5, \
                          unrated = s.unrated + excluded.unrated";

/// The same for an `article_daily_stats` row.
const DAILY_INTO: &str = "INSERT INTO article_daily_stats AS d (article_id, day, language, \
                          stripe, count_1, count_2, count_3, count_4, count_5, unrated) ";
const DAILY_ADD: &str = " ON CONFLICT (site_id, article_id, day, language, stripe) DO UPDATE SET \
                         count_1 = d.count_1 + excluded.count_1, \
                         count_2 = d.count_2 + excluded.count_2, \
                         count_3 = d.count_3 + excluded.count_3, \
                         count_4 = d.count_4 + excluded.count_4, \
                         count_5 = d.count_5 + excluded.count_5, \
                         unrated = d.unrated + excluded.unrated";

/// The counts of one rating in the five `count_n` columns and `unrated`, from a row's `rating`
/// column (0: no rating, see `store::reviews::UNRATED`).
const RATING_COLUMNS: &str = "(rating = 1)::int, (rating = 2)::int, (rating = 3)::int, \
                              (rating = 4)::int, (rating = 5)::int, (rating = 0)::int";

/// Writes the submission statement's counter expressions, `counted` and `counted_daily`, after
/// its CTE `review` (the inserted review: `article_id`, `rating`, `status`, `language`,
/// `created_at`), binding the review's `stripe` twice. A held review is not counted.
pub(super) fn push_submission_counts<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    stripe: &'b i16,
) -> QueryResult<()> {
    out.push_sql("counted AS (");
    out.push_sql(TOTALS_INTO);
    out.push_sql("SELECT article_id, ");
    out.push_bind_param::<SmallInt, i16>(stripe)?;
    out.push_sql(", 1, rating, ");
    out.push_sql(RATING_COLUMNS);
    out.push_sql(" FROM review WHERE status = 'published'");
    out.push_sql(TOTALS_ADD);
    out.push_sql("), counted_daily AS (");
    out.push_sql(DAILY_INTO);
    out.push_sql(
        "SELECT article_id, (created_at AT TIME ZONE 'UTC')::date, COALESCE(language, ''), ",
    );
    out.push_bind_param::<SmallInt, i16>(stripe)?;
    out.push_sql(", ");
    out.push_sql(RATING_COLUMNS);
    out.push_sql(" FROM review WHERE status = 'published'");
    out.push_sql(DAILY_ADD);
    out.push_sql(")");
    Ok(())
}

/// Increases of many `article_stats` rows in one statement: the submission's upsert over arrays
/// of (article, stripe, review count, rating sum, counts of 1 to 5, unrated), one element per
/// row. Rows are locked in the arrays' order, which `Counting` keeps sorted, so two transactions
/// never wait for each other's rows in opposite orders.
static TOTALS_UPSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{TOTALS_INTO}SELECT * FROM unnest($1::text[], $2::int2[], $3::int4[], $4::int4[], \
         $5::int4[], $6::int4[], $7::int4[], $8::int4[], $9::int4[], $10::int4[]) AS c{TOTALS_ADD}"
    )
});

/// The same for `article_daily_stats`: (article, day, language, stripe, counts of 1 to 5,
/// unrated).
static DAILY_UPSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{DAILY_INTO}SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::int2[], \
         $5::int4[], $6::int4[], $7::int4[], $8::int4[], $9::int4[], $10::int4[]) AS c{DAILY_ADD}"
    )
});

/// A decrease of a row that must exist: (article, stripe, review count, rating sum, counts of 1
/// to 5, unrated).
const TOTALS_SUBTRACT: &str = "UPDATE article_stats SET review_count = review_count + $3, \
                               rating_sum = rating_sum + $4, count_1 = count_1 + $5, \
                               count_2 = count_2 + $6, count_3 = count_3 + $7, \
                               count_4 = count_4 + $8, count_5 = count_5 + $9, \
                               unrated = unrated + $10 WHERE site_id = current_setting('marginalia.site') \
                               AND article_id = $1 AND stripe = $2";

/// The same for a daily row: (article, day, language, stripe, counts of 1 to 5, unrated).
const DAILY_SUBTRACT: &str = "UPDATE article_daily_stats SET count_1 = count_1 + $5, \
                              count_2 = count_2 + $6, count_3 = count_3 + $7, \
                              count_4 = count_4 + $8, count_5 = count_5 + $9, \
                              unrated = unrated + $10 WHERE site_id = current_setting('marginalia.site') \
                              AND article_id = $1 AND day = $2 AND language = $3 AND stripe = $4";

/// What the counters know of a review: its stripe (from the id), article, rating (stored: 0 for
/// none), UTC day and language.
pub(super) struct Counted<'a> {
    pub id: uuid::Uuid,
    pub article_id: &'a str,
    pub rating: i16,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub language: Option<&'a str>,
}

/// Counter changes gathered per article stripe and rating, and per article day, language and
/// stripe, applied in one statement per row. Each holds the counts of ratings 1 to 5 at index 0
/// to 4 and of unrated reviews at index 5.
#[derive(Default)]
pub(super) struct Counting {
    totals: BTreeMap<(String, i16), [i32; 6]>,
    daily: BTreeMap<(String, NaiveDate, String, i16), [i32; 6]>,
}

impl Counting {
    /// Counts (`sign` 1) or uncounts (-1) a review in `status`; only published ones count.
    pub(super) fn change(&mut self, review: &PublicReviewRow, status: ReviewStatus, sign: i32) {
        self.change_counted(
            Counted {
                id: review.id,
                article_id: &review.article_id,
                rating: review.rating,
                created_at: review.created_at,
                language: review.language.as_deref(),
            },
            status,
            sign,
        );
    }

    /// `change` for a review known by its counted fields only.
    pub(super) fn change_counted(&mut self, review: Counted<'_>, status: ReviewStatus, sign: i32) {
        if !status.is_public() {
            return;
        }
        let slot = match review.rating {
            0 => 5,
            rating @ 1..=5 => usize::from(rating.unsigned_abs() - 1),
            _ => return,
        };
        let stripe = stats::stripe_of(&review.id);
        let article_id = review.article_id.to_owned();
        self.totals.entry((article_id.clone(), stripe)).or_default()[slot] += sign;
        let day = review.created_at.date_naive();
        let language = review.language.unwrap_or_default().to_owned();
        self.daily
            .entry((article_id, day, language, stripe))
            .or_default()[slot] += sign;
    }

    /// The articles whose counters this changes.
    pub(super) fn articles(&self) -> impl Iterator<Item = &str> {
        self.totals
            .keys()
            .map(|(article_id, _)| article_id.as_str())
    }

    /// An uncounted review was counted in its own rows, so a row with any decrease exists and
    /// is updated (one statement each: decreases are few, moderators' changes); the rows with
    /// only increases may be new and are upserted together, each run of them between two
    /// decreases in one statement (a CHECK would refuse the negative values of an upsert's
    /// proposed row). Rows are visited in key order, so every transaction locks them in it.
    pub(super) async fn apply(self, conn: &mut AsyncPgConnection) -> Result<(), StoreError> {
        let mut increases = TotalsColumns::default();
        for ((article_id, stripe), counts) in self.totals {
            if counts.iter().all(|count| *count == 0) {
                continue;
            }
            let review_count: i32 = counts.iter().sum();
            let rating_sum: i32 = counts[..5]
                .iter()
                .zip(1..)
                .map(|(count, rating)| count * rating)
                .sum();
            if counts.iter().all(|count| *count >= 0) {
                increases.push(article_id, stripe, review_count, rating_sum, counts);
                continue;
            }
            // The increases before it first: rows stay locked in one ascending order.
            std::mem::take(&mut increases).upsert(conn).await?;
            let changed = diesel::sql_query(TOTALS_SUBTRACT)
                .bind::<Text, _>(&article_id)
                .bind::<SmallInt, _>(stripe)
                .bind::<Integer, _>(review_count)
                .bind::<Integer, _>(rating_sum)
                .bind::<Integer, _>(counts[0])
                .bind::<Integer, _>(counts[1])
                .bind::<Integer, _>(counts[2])
                .bind::<Integer, _>(counts[3])
                .bind::<Integer, _>(counts[4])
                .bind::<Integer, _>(counts[5])
                .execute(conn)
                .await?;
            ensure_one_row(changed, &article_id)?;
        }
        increases.upsert(conn).await?;
        let mut daily_increases = DailyColumns::default();
        for ((article_id, day, language, stripe), counts) in self.daily {
            if counts.iter().all(|count| *count == 0) {
                continue;
            }
            if counts.iter().all(|count| *count >= 0) {
                daily_increases.push(article_id, day, language, stripe, counts);
                continue;
            }
            std::mem::take(&mut daily_increases).upsert(conn).await?;
            let changed = diesel::sql_query(DAILY_SUBTRACT)
                .bind::<Text, _>(&article_id)
                .bind::<Date, _>(day)
                .bind::<Text, _>(&language)
                .bind::<SmallInt, _>(stripe)
                .bind::<Integer, _>(counts[0])
                .bind::<Integer, _>(counts[1])
                .bind::<Integer, _>(counts[2])
                .bind::<Integer, _>(counts[3])
                .bind::<Integer, _>(counts[4])
                .bind::<Integer, _>(counts[5])
                .execute(conn)
                .await?;
            ensure_one_row(changed, &article_id)?;
        }
        daily_increases.upsert(conn).await
    }
}

/// The six counts of a row as six columns (ratings 1 to 5, unrated), one element per row.
#[derive(Default)]
struct CountColumns([Vec<i32>; 6]);

impl CountColumns {
    fn push(&mut self, counts: [i32; 6]) {
        for (column, count) in self.0.iter_mut().zip(counts) {
            column.push(count);
        }
    }

    /// `query` (its row keys bound) with the six count columns bound after them.
    fn bound_to<'a>(
        &'a self,
        query: BoxedSqlQuery<'a, Pg, SqlQuery>,
    ) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
        self.0.iter().fold(query, |query, column| {
            query.bind::<Array<Integer>, _>(column)
        })
    }
}

/// `article_stats` increases, column by column, for `TOTALS_UPSERT`.
#[derive(Default)]
struct TotalsColumns {
    article_ids: Vec<String>,
    stripes: Vec<i16>,
    review_counts: Vec<i32>,
    rating_sums: Vec<i32>,
    counts: CountColumns,
}

impl TotalsColumns {
    fn push(&mut self, article_id: String, stripe: i16, reviews: i32, sum: i32, counts: [i32; 6]) {
        self.article_ids.push(article_id);
        self.stripes.push(stripe);
        self.review_counts.push(reviews);
        self.rating_sums.push(sum);
        self.counts.push(counts);
    }

    async fn upsert(self, conn: &mut AsyncPgConnection) -> Result<(), StoreError> {
        if self.article_ids.is_empty() {
            return Ok(());
        }
        let keys = diesel::sql_query(TOTALS_UPSERT.as_str())
            .into_boxed()
            .bind::<Array<Text>, _>(&self.article_ids)
            .bind::<Array<SmallInt>, _>(&self.stripes)
            .bind::<Array<Integer>, _>(&self.review_counts)
            .bind::<Array<Integer>, _>(&self.rating_sums);
        self.counts.bound_to(keys).execute(conn).await?;
        Ok(())
    }
}

/// `article_daily_stats` increases, column by column, for `DAILY_UPSERT`.
#[derive(Default)]
struct DailyColumns {
    article_ids: Vec<String>,
    days: Vec<NaiveDate>,
    languages: Vec<String>,
    stripes: Vec<i16>,
    counts: CountColumns,
}

impl DailyColumns {
    fn push(
        &mut self,
        article_id: String,
        day: NaiveDate,
        language: String,
        stripe: i16,
        counts: [i32; 6],
    ) {
        self.article_ids.push(article_id);
        self.days.push(day);
        self.languages.push(language);
        self.stripes.push(stripe);
        self.counts.push(counts);
    }

    async fn upsert(self, conn: &mut AsyncPgConnection) -> Result<(), StoreError> {
        if self.article_ids.is_empty() {
            return Ok(());
        }
        let keys = diesel::sql_query(DAILY_UPSERT.as_str())
            .into_boxed()
            .bind::<Array<Text>, _>(&self.article_ids)
            .bind::<Array<Date>, _>(&self.days)
            .bind::<Array<Text>, _>(&self.languages)
            .bind::<Array<SmallInt>, _>(&self.stripes);
        self.counts.bound_to(keys).execute(conn).await?;
        Ok(())
    }
}

/// A counted review always has its counter rows; anything else is a bug, and rolling back beats
/// counters that silently drift.
fn ensure_one_row(changed: usize, article_id: &str) -> Result<(), StoreError> {
    if changed == 1 {
        return Ok(());
    }
    tracing::error!(%article_id, "a review's stats row is missing");
    Err(StoreError::Query(std::sync::Arc::new(
        diesel::result::Error::NotFound,
    )))
}
