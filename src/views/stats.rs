//! An article's rating statistics as the public reads and the `article.stats_changed` event show
//! them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::stats::RatingCounters;

/// Number of published reviews per rating (reviews without stars are in none).
#[derive(Debug, Serialize, ToSchema)]
pub struct Histogram {
    #[serde(rename = "1")]
    pub one: i64,
    #[serde(rename = "2")]
    pub two: i64,
    #[serde(rename = "3")]
    pub three: i64,
    #[serde(rename = "4")]
    pub four: i64,
    #[serde(rename = "5")]
    pub five: i64,
}

/// Counts and average of an article's published reviews.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "article_id": "voa-2020-05-iskp-attacks",
    "review_count": 6,
    "rated_count": 5,
    "average": 3.0,
    "histogram": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}
}))]
pub struct ArticleStats {
    pub article_id: String,
    /// Every published review, with stars or without.
    pub review_count: i64,
    /// The published reviews with stars, which `average` and `histogram` are made of.
    pub rated_count: i64,
    /// Mean rating rounded to two decimals; null before the first rated review.
    #[schema(required = true)]
    pub average: Option<f64>,
    pub histogram: Histogram,
}

impl ArticleStats {
    pub fn new(article_id: String, counters: RatingCounters) -> Self {
        let [one, two, three, four, five] = counters.histogram;
        Self {
            article_id,
            review_count: counters.review_count(),
            rated_count: counters.rated_count(),
            average: counters.average(),
            histogram: Histogram {
                one,
                two,
                three,
                four,
                five,
            },
        }
    }
}
