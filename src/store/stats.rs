//! Per-article rating counters; `reviews::insert` keeps them in step with every review.
//!
//! An article's counters are spread over a few stripes (rows) so that concurrent reviews of one
//! busy article do not all wait for the same row lock; reads sum the stripes.

use std::collections::HashMap;

use diesel::dsl::sum;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use chrono::NaiveDate;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Date, Nullable, Text};
use diesel_async::AsyncPgConnection;

use super::answer::LoadOne;
use super::{site_of, with_connection, StoreError};
use crate::db::schema::article_stats::dsl as stats;
use crate::db::schema::articles;
use crate::db::Pool;
use crate::domain::article::Lifecycle;
use crate::domain::stats::{DayRange, RatingCounters};

/// How many rows an article's counters are spread over (the migration allows 0–7).
pub const STRIPES: u8 = 8;

/// The per-rating sums over an article's stripes, then the unrated reviews'; all `None` when it
/// has none.
type Sums = (
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The SQL of `Sums`: each rating's count summed over the selected stripes.
type SumColumns = (
    diesel::helper_types::sum<stats::count_1>,
    diesel::helper_types::sum<stats::count_2>,
    diesel::helper_types::sum<stats::count_3>,
    diesel::helper_types::sum<stats::count_4>,
    diesel::helper_types::sum<stats::count_5>,
    diesel::helper_types::sum<stats::unrated>,
);

fn summed() -> SumColumns {
    (
        sum(stats::count_1),
        sum(stats::count_2),
        sum(stats::count_3),
        sum(stats::count_4),
        sum(stats::count_5),
        sum(stats::unrated),
    )
}

fn counters(sums: Sums) -> Option<RatingCounters> {
    let (one, two, three, four, five, unrated) = sums;
    let histogram = [one?, two?, three?, four?, five?];
    Some(RatingCounters {
        histogram,
        unrated: unrated?,
    })
}

type NotDeleted = diesel::dsl::not<
    diesel::dsl::exists<
        diesel::dsl::Filter<
            diesel::dsl::Filter<
                diesel::dsl::Filter<
                    articles::table,
                    diesel::dsl::Eq<articles::site_id, stats::site_id>,
                >,
                diesel::dsl::Eq<articles::article_id, stats::article_id>,
            >,
            diesel::dsl::Eq<articles::lifecycle, &'static str>,
        >,
    >,
>;

/// Counters of deleted articles are hidden (kept, and shown again if the article is published
/// again): one primary-key probe of the article per read.
fn not_deleted() -> NotDeleted {
    diesel::dsl::not(diesel::dsl::exists(
        articles::table
            .filter(articles::site_id.eq(stats::site_id))
            .filter(articles::article_id.eq(stats::article_id))
            .filter(articles::lifecycle.eq(Lifecycle::Deleted.as_str())),
    ))
}

/// One article's counters, or `None` when it has never had a review (or is deleted).
pub async fn for_article(pool: &Pool, id: &str) -> Result<Option<RatingCounters>, StoreError> {
    let site = site_of(pool)?;
    with_connection(pool, async |conn| for_article_on(conn, site, id).await).await
}

/// `for_article` on a connection the caller holds.
pub(super) async fn for_article_on(
    conn: &mut AsyncPgConnection,
    site: &str,
    id: &str,
) -> Result<Option<RatingCounters>, StoreError> {
    let sums: Sums = stats::article_stats
        .filter(stats::site_id.eq(site))
        .filter(stats::article_id.eq(id))
        .filter(not_deleted())
        .select(summed())
        .load_one(conn)
        .await?;
    Ok(counters(sums))
}

/// Counters for many articles in one indexed lookup; articles without reviews are absent.
pub async fn for_articles(
    pool: &Pool,
    ids: &[String],
) -> Result<HashMap<String, RatingCounters>, StoreError> {
    let site = site_of(pool)?;
    let rows: Vec<(String, Sums)> = with_connection(pool, async |conn| {
        Ok(stats::article_stats
            .filter(stats::site_id.eq(site))
            .filter(stats::article_id.eq_any(ids))
            .filter(not_deleted())
            .group_by(stats::article_id)
            .select((stats::article_id, summed()))
            .load(conn)
            .await?)
    })
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, sums)| counters(sums).map(|counters| (id, counters)))
        .collect())
}

/// One group of the per-day counters: a day's (language `None`) or a language's (day `None`),
/// in the order `DailyStatement` selects them.
#[derive(Debug, Clone, Queryable)]
struct DailyGroup {
    day: Option<NaiveDate>,
    language: Option<String>,
    count_1: i64,
    count_2: i64,
    count_3: i64,
    count_4: i64,
    count_5: i64,
    unrated: i64,
}

/// The per-day statement of `daily`: GROUPING SETS, which the query builder cannot spell, as a
/// statement diesel prepares once per connection (`sql_query` would parse and plan it again on
/// every read, in a round trip of its own).
#[derive(Clone)]
struct DailyStatement<'a> {
    site: &'a str,
    article_id: &'a str,
    range: &'a DayRange,
}

/// The key of `DailyStatement` in the prepared-statement cache: its SQL never varies.
struct DailyStatementId;

impl QueryId for DailyStatement<'_> {
    type QueryId = DailyStatementId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for DailyStatement<'_> {
    type SqlType = (
        Nullable<Date>,
        Nullable<Text>,
        BigInt,
        BigInt,
        BigInt,
        BigInt,
        BigInt,
        BigInt,
    );
}

impl QueryFragment<Pg> for DailyStatement<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT CASE WHEN GROUPING(day) = 0 THEN day END, \
             CASE WHEN GROUPING(language) = 0 THEN language END, \
             sum(count_1)::bigint, sum(count_2)::bigint, sum(count_3)::bigint, \
             sum(count_4)::bigint, sum(count_5)::bigint, sum(unrated)::bigint \
             FROM article_daily_stats WHERE site_id = ",
        );
        out.push_bind_param::<Text, str>(self.site)?;
        out.push_sql(" AND article_id = ");
        out.push_bind_param::<Text, str>(self.article_id)?;
        out.push_sql(" AND day BETWEEN ");
        out.push_bind_param::<Date, NaiveDate>(&self.range.from)?;
        out.push_sql(" AND ");
        out.push_bind_param::<Date, NaiveDate>(&self.range.to)?;
        // A deleted article's counters are hidden by the probe the pages make, so a read that finds
        // counters needs no check of the article of its own.
        super::sql::push_article_not_deleted(&mut out, self.site, self.article_id)?;
        out.push_sql(" GROUP BY GROUPING SETS ((day), (language))");
        Ok(())
    }
}

impl DailyGroup {
    fn counters(&self) -> RatingCounters {
        RatingCounters {
            histogram: [
                self.count_1,
                self.count_2,
                self.count_3,
                self.count_4,
                self.count_5,
            ],
            unrated: self.unrated,
        }
    }
}

/// An article's published reviews over some days: per day, and per language over all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyCounters {
    /// Every day of the range, oldest first; zero counters on a day without reviews.
    pub days: Vec<(NaiveDate, RatingCounters)>,
    /// Reviews per language (`None`: none given), most first.
    pub languages: Vec<(Option<String>, i64)>,
}

impl DailyCounters {
    /// Every day of `range` without a review, and no languages.
    pub fn none(range: &DayRange) -> Self {
        Self {
            days: range.series(HashMap::new()),
            languages: Vec::new(),
        }
    }
}

/// An article's published reviews per UTC day of `range` and per language: one range scan of
/// the per-day counters (`article_daily_stats`, a few rows per day), grouped both ways at once.
/// `None` when it has no counters in the range, or is deleted: the caller tells the two apart.
pub async fn daily(
    pool: &Pool,
    article_id: &str,
    range: &DayRange,
) -> Result<Option<DailyCounters>, StoreError> {
    let statement = DailyStatement {
        site: site_of(pool)?,
        article_id,
        range,
    };
    let groups: Vec<DailyGroup> =
        with_connection(pool, async |conn| Ok(statement.clone().load(conn).await?)).await?;
    if groups.is_empty() {
        return Ok(None);
    }
    let mut by_day = HashMap::new();
    let mut languages = Vec::new();
    for group in groups {
        let counters = group.counters();
        match (group.day, group.language) {
            (Some(day), _) => {
                by_day.insert(day, counters);
            }
            (None, Some(language)) => {
                let count = counters.review_count();
                if count > 0 {
                    languages.push((Some(language).filter(|tag| !tag.is_empty()), count));
                }
            }
            (None, None) => {}
        }
    }
    languages.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Some(DailyCounters {
        days: range.series(by_day),
        languages,
    }))
}

/// The stripe a review is counted in, spread by the random part of its id.
pub fn stripe_of(review_id: &uuid::Uuid) -> i16 {
    i16::from(review_id.as_bytes()[15] % STRIPES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rows_means_no_counters() {
        assert_eq!(counters((None, None, None, None, None, None)), None);
        assert_eq!(
            counters((Some(1), Some(0), Some(0), Some(2), Some(3), Some(4))),
            Some(RatingCounters {
                histogram: [1, 0, 0, 2, 3],
                unrated: 4,
            })
        );
    }

    #[test]
    fn stripes_stay_in_range_and_spread() {
        let stripes: std::collections::HashSet<i16> =
            (0..200).map(|_| stripe_of(&uuid::Uuid::now_v7())).collect();
        assert!(stripes.iter().all(|s| (0..i16::from(STRIPES)).contains(s)));
        assert!(stripes.len() > 4, "ids spread over stripes: {stripes:?}");
    }
}
