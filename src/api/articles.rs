//! Articles, registered by the CMS.

use actix_web::http::header;
use actix_web::{get, patch, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{Checked, CheckedBody, JsonBody};
use super::responses::{
    ArticleNotFound, BadBody, BadParameter, KeyRequired, Revalidated, SiteKeyNeeded, Unavailable,
};
use crate::api::extract::SiteState;
use crate::auth::ApiCaller;
use crate::domain::article::{
    ArticleId, ArticlePut, Lifecycle, PatchArticleRequest, PutArticleRequest,
};
use crate::domain::moderation::ModerationMode;
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::http_layer::cache::public_json;
use crate::services::cms;
use crate::store;
use crate::store::articles::ArticleWithStats;
use crate::views::stats::ArticleStats;

/// An article and its review stats.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "article_id": "voa-2020-05-iskp-attacks",
    "title": "Pushed to the Brink Again, Islamic State’s Afghan Affiliate Claims Deadly Attacks",
    "url": "https://news.example.org/a/islamic-state-afghan-affiliate-claims-deadly-attacks",
    "language": "en",
    "section": "South & Central Asia",
    "published_at": "2020-05-14T09:00:00Z",
    "reviews_open": true,
    "lifecycle": "published",
    "moderation": null,
    "created_at": "2026-11-25T18:00:00Z",
    "updated_at": "2026-11-25T18:00:00Z",
    "stats": {"article_id": "voa-2020-05-iskp-attacks", "review_count": 1, "rated_count": 1, "average": 4.0,
              "histogram": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}}
}))]
pub struct Article {
    pub article_id: String,
    /// Null when the CMS gave none (or the article was created by a first review).
    #[schema(required = true)]
    pub title: Option<String>,
    /// Null when the CMS gave none.
    #[schema(required = true)]
    pub url: Option<String>,
    /// BCP 47 tag; null when the CMS gave none.
    #[schema(required = true)]
    pub language: Option<String>,
    /// Null when the CMS gave none.
    #[schema(required = true)]
    pub section: Option<String>,
    /// Null when the CMS gave none.
    #[schema(required = true)]
    pub published_at: Option<DateTime<Utc>>,
    pub reviews_open: bool,
    pub lifecycle: Lifecycle,
    /// The article's own moderation mode; null when the site's applies.
    #[schema(required = true)]
    pub moderation: Option<ModerationMode>,
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
            section: article.section,
            published_at: article.published_at,
            reviews_open: article.reviews_open,
            // The schema's CHECK allows only the three lifecycles.
            lifecycle: Lifecycle::from_stored(&article.lifecycle).unwrap_or(Lifecycle::Published),
            moderation: article
                .moderation
                .as_deref()
                .and_then(ModerationMode::from_stored),
            created_at: article.created_at,
            updated_at: article.updated_at,
        }
    }
}

/// Register or update an article.
///
/// Called by the newsroom's CMS whenever it publishes or changes an article.
#[utoipa::path(
    tag = "articles",
    params(("article_id" = ArticleId, Path, description = "The CMS's article id")),
    request_body(content = PutArticleRequest, content_type = "application/json"),
    security(("cms_key" = []), ("admin_key" = [])),
    responses(
        (status = 200, description = "Updated", body = Article),
        (status = 201, description = "Created", body = Article,
         headers(("Location" = String, description = "URL of the article"))),
        BadBody, KeyRequired, Unavailable,
    )
)]
#[put("")]
pub async fn put_article(
    state: SiteState,
    caller: ApiCaller,
    article_id: ArticleId,
    Checked(put): Checked<ArticlePut>,
) -> Result<HttpResponse, ApiError> {
    let (article, created) = cms::put_article(&state, &caller, &article_id, &put).await?;
    let mut response = if created {
        let mut created = HttpResponse::Created();
        let location = state.located(&format!("/v1/articles/{article_id}"));
        created.insert_header((header::LOCATION, location));
        created
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(Article::from(article)))
}

impl CheckedBody for ArticlePut {
    type Body = PutArticleRequest;
    fn check(body: PutArticleRequest) -> Result<Self, Vec<FieldError>> {
        ArticlePut::parse(body)
    }
}

/// Open or close reviews, or change the moderation mode.
///
/// For editors (scope `moderator`, `cms` or `admin`): changes only the fields sent, unlike the
/// CMS's PUT, which restates the whole article. Note that a later PUT without `reviews_open`
/// opens reviews again (the CMS's word is the article's description). A deleted or unknown
/// article is a 404.
#[utoipa::path(
    tag = "articles",
    params(("article_id" = ArticleId, Path, description = "The CMS's article id")),
    request_body(content = PatchArticleRequest, content_type = "application/json"),
    security(("moderator_key" = []), ("cms_key" = []), ("admin_key" = [])),
    responses(
        (status = 200, description = "The article as it is now", body = Article),
        BadBody, SiteKeyNeeded, ArticleNotFound, Unavailable,
    )
)]
#[patch("")]
pub async fn patch_article(
    state: SiteState,
    caller: ApiCaller,
    article_id: ArticleId,
    JsonBody(change): JsonBody<PatchArticleRequest>,
) -> Result<web::Json<Article>, ApiError> {
    let article = cms::patch_article(&state, &caller, &article_id, &change).await?;
    Ok(web::Json(Article::from(article)))
}

/// Read an article and its stats.
///
/// Public: what the CMS registered about the article, with the counts and average of its
/// published reviews. A deleted article is a 404.
#[utoipa::path(
    tag = "articles",
    params(("article_id" = ArticleId, Path, description = "The CMS's article id")),
    responses(
        (status = 200, description = "The article", body = Article),
        Revalidated, BadParameter, ArticleNotFound, Unavailable,
    )
)]
#[get("")]
pub async fn get_article(
    state: SiteState,
    article_id: ArticleId,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let article = store::articles::get(&state.pool, &article_id)
        .await?
        .ok_or(store::StoreError::ArticleNotFound)?;
    public_json(&req, &state.http_cache, &Article::from(article))
}
