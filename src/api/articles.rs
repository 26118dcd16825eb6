//! Articles, registered by the CMS.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::JsonBody;
use super::stats::ArticleStats;
use crate::auth::{ApiCaller, Scope};
use crate::domain::article::{ArticleId, ArticleInput, ArticleUpsert};
use crate::error::{ApiError, Problem};
use crate::state::AppState;
use crate::store;
use crate::store::articles::ArticleWithStats;

/// What the CMS says about an article. Absent fields are cleared; `reviews_open` defaults to true.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Pushed to the Brink Again, Islamic State’s Afghan Affiliate Claims Deadly Attacks",
    "url": "https://news.example.org/a/islamic-state-afghan-affiliate-claims-deadly-attacks",
    "language": "en",
    "published_at": "2020-05-14T09:00:00Z",
    "reviews_open": true
}))]
pub struct PutArticleRequest {
    /// At most 500 characters once trimmed; blank counts as absent.
    #[schema(
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub title: Option<String>,
    /// Absolute http(s) URL of the article, without credentials.
    #[schema(
        max_length = 2048,
        pattern = r#"^https?://[^\s\u0000-\u001F\u007F-\u009F/?#@"<>\\^`{|}]+([/?#][^\s\u0000-\u001F\u007F-\u009F"<>\\^`{|}]*)?$"#
    )]
    pub url: Option<String>,
    /// BCP 47 tag.
    #[schema(
        max_length = 35,
        pattern = r"^[A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*(-[Xx](-[A-Za-z0-9]{1,8})+)?$"
    )]
    pub language: Option<String>,
    /// Between 0001-01-01 and 9999-12-31.
    pub published_at: Option<DateTime<Utc>>,
    /// Whether readers may submit reviews.
    pub reviews_open: Option<bool>,
}

/// An article and its review stats.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "article_id": "voa-2020-05-iskp-attacks",
    "title": "Pushed to the Brink Again, Islamic State’s Afghan Affiliate Claims Deadly Attacks",
    "url": "https://news.example.org/a/islamic-state-afghan-affiliate-claims-deadly-attacks",
    "language": "en",
    "published_at": "2020-05-14T09:00:00Z",
    "reviews_open": true,
    "created_at": "2026-11-25T18:00:00Z",
    "updated_at": "2026-11-25T18:00:00Z",
    "stats": {"article_id": "voa-2020-05-iskp-attacks", "review_count": 1, "average": 4.0,
              "histogram": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}}
}))]
pub struct Article {
    pub article_id: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub language: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub reviews_open: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub stats: ArticleStats,
}

impl From<ArticleWithStats> for Article {
    fn from(ArticleWithStats { article, counters }: ArticleWithStats) -> Self {
        Self {
            stats: ArticleStats::new(article.article_id.clone(), counters),
            article_id: article.article_id,
            title: article.title,
            url: article.url,
            language: article.language,
            published_at: article.published_at,
            reviews_open: article.reviews_open,
            created_at: article.created_at,
            updated_at: article.updated_at,
        }
    }
}

/// Register or update an article.
///
/// For the CMS: needs an API key with scope `cms` or `admin`.
#[utoipa::path(
    put,
    path = "/v1/articles/{article_id}",
    tag = "articles",
    params(("article_id" = ArticleId, Path, description = "The CMS's article id")),
    request_body(content = PutArticleRequest, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Updated", body = Article),
        (status = 201, description = "Created", body = Article),
        (status = 400, description = "Malformed JSON or bad article id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks scope `cms`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put_article(
    state: web::Data<AppState>,
    caller: ApiCaller,
    article_id: ArticleId,
    JsonBody(request): JsonBody<PutArticleRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Scope::Cms])?;
    let upsert = ArticleUpsert::parse(ArticleInput {
        title: request.title,
        url: request.url,
        language: request.language,
        published_at: request.published_at,
        reviews_open: request.reviews_open,
    })
    .map_err(ApiError::Validation)?;
    let (article, created) = store::articles::upsert(&state.pool, &article_id, &upsert).await?;
    // Which key changed what: the audit trail for CMS writes.
    tracing::info!(key = %caller.key_name, %article_id, created, "article upserted");
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(Article::from(article)))
}

/// Read an article and its stats.
#[utoipa::path(
    get,
    path = "/v1/articles/{article_id}",
    tag = "articles",
    params(("article_id" = ArticleId, Path, description = "The CMS's article id")),
    responses(
        (status = 200, description = "The article", body = Article),
        (status = 400, description = "Bad article id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such article", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_article(
    state: web::Data<AppState>,
    article_id: ArticleId,
) -> Result<web::Json<Article>, ApiError> {
    store::articles::get(&state.pool, &article_id)
        .await?
        .map(|article| web::Json(Article::from(article)))
        .ok_or_else(|| store::StoreError::ArticleNotFound.into())
}
