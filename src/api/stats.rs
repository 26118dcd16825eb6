//! Rating statistics: one article, or many at once for listing pages.

use actix_web::{web, HttpRequest};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::query_pairs;
use super::reviews::require_article;
use crate::domain::article::ArticleId;
use crate::domain::stats::RatingCounters;
use crate::domain::FieldError;
use crate::error::{ApiError, Problem};
use crate::state::AppState;

pub const BULK_MAX: usize = 100;

/// Number of published reviews per rating.
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
    "review_count": 5,
    "average": 3.0,
    "histogram": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}
}))]
pub struct ArticleStats {
    pub article_id: String,
    pub review_count: i64,
    /// Mean rating rounded to two decimals; null before the first review.
    pub average: Option<f64>,
    pub histogram: Histogram,
}

impl ArticleStats {
    pub fn new(article_id: String, counters: RatingCounters) -> Self {
        let [one, two, three, four, five] = counters.histogram;
        Self {
            article_id,
            review_count: counters.review_count(),
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

/// Stats of several articles.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"stats": [
    {"article_id": "voa-2020-05-iskp-attacks", "review_count": 2, "average": 4.5,
     "histogram": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}},
    {"article_id": "not-reviewed-yet", "review_count": 0, "average": null,
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
    get,
    path = "/v1/articles/{article_id}/stats",
    tag = "stats",
    params(("article_id" = ArticleId, Path, description = "The CMS's article id")),
    responses(
        (status = 200, description = "The article's stats", body = ArticleStats),
        (status = 400, description = "Bad article id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown article (when unknown articles are rejected)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn article_stats(
    state: web::Data<AppState>,
    article_id: ArticleId,
) -> Result<web::Json<ArticleStats>, ApiError> {
    let counters = match state
        .read_cache
        .stats(&state.pool, article_id.as_str())
        .await?
    {
        Some(counters) => counters,
        None => {
            if !state.create_missing_articles {
                require_article(&state, &article_id).await?;
            }
            RatingCounters::default()
        }
    };
    Ok(web::Json(ArticleStats::new(
        article_id.into_inner(),
        counters,
    )))
}

/// Stats of up to 100 articles at once.
///
/// Repeat `article_id` for each article: `/v1/stats?article_id=a&article_id=b`. Articles without
/// reviews report zero counts.
#[utoipa::path(
    get,
    path = "/v1/stats",
    tag = "stats",
    params(("article_id" = Vec<ArticleId>, Query, description = "Article ids, 1 to 100, repeated", explode = true, style = Form, min_items = 1, max_items = 100)),
    responses(
        (status = 200, description = "Stats per requested article", body = BulkStats),
        (status = 400, description = "Missing, malformed or too many ids", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn bulk_stats(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<web::Json<BulkStats>, ApiError> {
    let ids = bulk_ids(&query_pairs(&req)).map_err(ApiError::bad_parameter)?;
    let found = state.read_cache.many_stats(&state.pool, &ids).await?;
    let stats = ids
        .into_iter()
        .map(|id| {
            let counters = found.get(&id).copied().unwrap_or_default();
            ArticleStats::new(id, counters)
        })
        .collect();
    Ok(web::Json(BulkStats { stats }))
}

/// The distinct, valid article ids of a bulk request, in order.
fn bulk_ids(pairs: &[(String, String)]) -> Result<Vec<String>, FieldError> {
    if pairs.len() > BULK_MAX {
        return Err(FieldError::new(
            "article_id",
            "too_many",
            format!(
                "at most {BULK_MAX} article ids per request (got {})",
                pairs.len()
            ),
        ));
    }
    let mut ids: Vec<String> = Vec::new();
    for (name, value) in pairs {
        if name != "article_id" {
            return Err(FieldError::new(
                name.clone(),
                "unknown",
                "is not a parameter of this operation",
            ));
        }
        let id = ArticleId::parse(value, "article_id")?.into_inner();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err(FieldError::new(
            "article_id",
            "required",
            "give at least one article id",
        ));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bulk_ids_are_deduplicated_in_order() {
        let ids = bulk_ids(&pairs(&[
            ("article_id", "b"),
            ("article_id", "a"),
            ("article_id", "b"),
        ]));
        assert_eq!(ids.unwrap(), ["b", "a"]);
    }

    #[test]
    fn bulk_ids_are_checked() {
        assert_eq!(bulk_ids(&[]).unwrap_err().code, "required");
        assert_eq!(
            bulk_ids(&pairs(&[("article_id", "a/b")]))
                .unwrap_err()
                .field,
            "article_id"
        );
        assert_eq!(bulk_ids(&pairs(&[("id", "a")])).unwrap_err().field, "id");
        let many: Vec<(String, String)> = (0..=BULK_MAX)
            .map(|i| ("article_id".to_string(), format!("a{i}")))
            .collect();
        assert_eq!(bulk_ids(&many).unwrap_err().code, "too_many");
        let repeated = vec![("article_id".to_string(), "a".to_string()); BULK_MAX + 1];
        assert_eq!(
            bulk_ids(&repeated).unwrap_err().code,
            "too_many",
            "repeats count"
        );
    }
}
