//! Rating statistics: one article, or many at once for listing pages.

use actix_web::{get, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::DayRangeParams;
use super::responses::{ArticleNotFound, ArticlesNotFound, BadParameter, Revalidated, Unavailable};
use super::reviews::require_known_articles;
use crate::api::extract::PublicRead;
use crate::domain::article::{ArticleId, ArticleIds};
use crate::domain::stats::{DayRange, RatingCounters};
use crate::error::ApiError;
use crate::http_layer::cache::public_json;
use crate::store;
use crate::store::stats::DailyCounters;
use crate::views::stats::{ArticleStats, Histogram};

/// Stats of several articles.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"stats": [
    {"article_id": "voa-2020-05-iskp-attacks", "review_count": 2, "rated_count": 2, "average": 4.5,
     "histogram": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}},
    {"article_id": "not-reviewed-yet", "review_count": 0, "rated_count": 0, "average": null,
     "histogram": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}
]}))]
pub struct BulkStats {
    /// One entry per distinct requested id, in request order.
    pub stats: Vec<ArticleStats>,
}

/// Stats of one article.
///
/// Read from counters kept in step with every review, so this never scans reviews.
#[utoipa::path(
    tag = "stats",
    params(("article_id" = ArticleId, Path, description = "The CMS's article id")),
    responses(
        (status = 200, description = "The article's stats", body = ArticleStats),
        Revalidated, BadParameter, ArticleNotFound, Unavailable,
    )
)]
#[get("/stats")]
pub async fn article_stats(
    state: PublicRead,
    article_id: ArticleId,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let counters = match state
        .read_cache
        .stats(&state.pool, article_id.as_str())
        .await?
    {
        Some(counters) => counters,
        None => {
            require_known_articles(&state, &[article_id.as_str()]).await?;
            RatingCounters::default()
        }
    };
    let stats = ArticleStats::new(article_id.into_inner(), counters);
    public_json(&req, &state.http_cache, &stats)
}

/// Stats of many articles at once.
///
/// Repeat `article_id` for each article: `/v1/stats?article_id=a&article_id=b`. Articles without
/// reviews report zero counts; when unknown articles are rejected, any unknown or deleted id is a
/// 404 (when they are accepted, a deleted article reports zero counts).
#[utoipa::path(
    tag = "stats",
    params(("article_id" = ArticleIds, Query, description = "Article ids, repeated", explode = true, style = Form)),
    responses(
        (status = 200, description = "Stats per requested article", body = BulkStats),
        Revalidated, BadParameter, ArticlesNotFound, Unavailable,
    )
)]
#[get("/v1/stats")]
pub async fn bulk_stats(
    state: PublicRead,
    ids: ArticleIds,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let ids = ids.into_strings();
    let borrowed: Vec<&str> = ids.iter().map(String::as_str).collect();
    if !state.create_missing_articles {
        // With unknown articles accepted, a deleted article reports zero counts here instead:
        // one id must not fail a whole widget page.
        require_known_articles(&state, &borrowed).await?;
    }
    let found = state.read_cache.many_stats(&state.pool, &ids).await?;
    let stats = ids
        .into_iter()
        .map(|id| {
            let counters = found.get(&id).copied().unwrap_or_default();
            ArticleStats::new(id, counters)
        })
        .collect();
    public_json(&req, &state.http_cache, &BulkStats { stats })
}

/// One day of an article's published reviews.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayStats {
    /// The UTC day.
    #[schema(value_type = String, format = Date, example = "2026-11-26")]
    pub date: NaiveDate,
    /// Every published review of the day, with stars or without.
    pub review_count: i64,
    /// Those with stars: the average and histogram are theirs.
    pub rated_count: i64,
    /// Mean rating of that day's rated reviews, two decimals; null on a day without any.
    #[schema(required = true)]
    pub average: Option<f64>,
    pub histogram: Histogram,
}

/// An article's reviews per day.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "article_id": "voa-2020-05-iskp-attacks",
    "from": "2026-11-25",
    "to": "2026-11-26",
    "days": [
        {"date": "2026-11-25", "review_count": 0, "rated_count": 0, "average": null,
         "histogram": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}},
        {"date": "2026-11-26", "review_count": 3, "rated_count": 3, "average": 4.33,
         "histogram": {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1}}
    ],
    "languages": [{"language": "uk", "review_count": 2}, {"language": "en", "review_count": 1}]
}))]
pub struct DailyStats {
    pub article_id: String,
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// Every day of the range, oldest first; days without reviews count zero.
    pub days: Vec<DayStats>,
    /// The range's reviews per language, most first.
    pub languages: Vec<LanguageShare>,
}

/// How many of the range's reviews are in one language.
#[derive(Debug, Serialize, ToSchema)]
pub struct LanguageShare {
    /// BCP 47 tag; null for reviews without one.
    #[schema(required = true)]
    pub language: Option<String>,
    pub review_count: i64,
}

/// Reviews per day.
///
/// An article's published reviews per UTC day, with each day's average and histogram, and the
/// range's language mix: the series behind a chart of how readers took an article over time.
/// Read from per-day counters kept in step with the reviews (a few rows per day, whatever the
/// number of reviews); at most 366 days per request.
#[utoipa::path(
    tag = "stats",
    params(
        ("article_id" = ArticleId, Path, description = "The CMS's article id"),
        ("from" = Option<String>, Query, format = Date, description = "First day (UTC, `YYYY-MM-DD`); default 29 days before `to`"),
        ("to" = Option<String>, Query, format = Date, description = "Last day (UTC, `YYYY-MM-DD`); default today"),
    ),
    responses(
        (status = 200, description = "The series", body = DailyStats),
        Revalidated, BadParameter, ArticleNotFound, Unavailable,
    )
)]
#[get("/stats/daily")]
pub async fn daily_stats(
    state: PublicRead,
    article_id: ArticleId,
    DayRangeParams(range): DayRangeParams,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let daily = match store::stats::daily(&state.pool, article_id.as_str(), &range).await? {
        Some(daily) => daily,
        // No counters: an article without reviews in the range, or one the reads hide.
        None => {
            require_known_articles(&state, &[article_id.as_str()]).await?;
            DailyCounters::none(&range)
        }
    };
    let series = DailyStats::new(article_id.into_inner(), &range, daily);
    public_json(&req, &state.http_cache, &series)
}

impl DailyStats {
    fn new(article_id: String, range: &DayRange, daily: DailyCounters) -> Self {
        let days = daily
            .days
            .into_iter()
            .map(|(date, counters)| {
                let ArticleStats {
                    review_count,
                    rated_count,
                    average,
                    histogram,
                    ..
                } = ArticleStats::new(String::new(), counters);
                DayStats {
                    date,
                    review_count,
                    rated_count,
                    average,
                    histogram,
                }
            })
            .collect();
        let languages = daily
            .languages
            .into_iter()
            .map(|(language, review_count)| LanguageShare {
                language,
                review_count,
            })
            .collect();
        Self {
            article_id,
            from: range.from,
            to: range.to,
            days,
            languages,
        }
    }
}
