//! Submitting and reading reviews.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{mime, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{query_pairs, JsonBody, ReviewIdPath};
use crate::domain::article::ArticleId;
use crate::domain::page::{PageQuery, Sort};
use crate::domain::review::{NewReview, ReviewInput};
use crate::error::{ApiError, Problem};
use crate::metrics;
use crate::state::AppState;
use crate::store;
use crate::store::reviews::PublicReviewRow;

/// A reader's review as submitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "rating": 4,
    "title": "Тверезий аналіз",
    "body": "Стаття добре пояснює, чому ІДІЛ-Хорасан не можна вважати переможеним.",
    "author_name": "Олена К.",
    "author_email": "olena@example.com",
    "language": "uk"
}))]
pub struct CreateReviewRequest {
    /// Stars, 1 to 5.
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 5)]
    #[serde(default, deserialize_with = "integral")]
    pub rating: Option<i64>,
    /// Optional headline; at most 200 characters once trimmed. Blank counts as absent.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub title: Option<String>,
    /// The review; 1 to 10,000 characters once trimmed and NFC-normalized.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 10000, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    pub body: Option<String>,
    /// Name shown with the review; at most 100 characters once trimmed. Blank counts as absent.
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub author_name: Option<String>,
    /// Never shown publicly; at most 254 characters.
    #[schema(max_length = 254, format = Email)]
    pub author_email: Option<String>,
    /// ^[A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*(-[Xx](-[A-Za-z0-9]{1,8})+)?$ 47 tag of the review's language; detected from the text when absent.
    #[schema(
        max_length = 35,
        pattern = r"^[A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*(-[Xx](-[A-Za-z0-9]{1,8})+)?$",
        example = "uk"
    )]
    pub language: Option<String>,
}

/// JSON Schema counts `3.0` as an integer, so a rating may arrive that way; `3.5` may not.
fn integral<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let number = Option::<serde_json::Number>::deserialize(deserializer)?;
    number
        .map(|number| {
            number
                .as_i64()
                .or_else(|| {
                    number
                        .as_f64()
                        .filter(|float| float.fract() == 0.0 && float.abs() < 1e15)
                        .map(|float| float as i64)
                })
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("expected an integer, got {number}"))
                })
        })
        .transpose()
}

impl From<CreateReviewRequest> for ReviewInput {
    fn from(request: CreateReviewRequest) -> Self {
        Self {
            rating: request.rating,
            title: request.title,
            body: request.body,
            author_name: request.author_name,
            author_email: request.author_email,
            language: request.language,
        }
    }
}

/// A published review as anyone may read it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f",
    "article_id": "voa-2020-05-iskp-attacks",
    "rating": 4,
    "title": "Тверезий аналіз",
    "body": "Стаття добре пояснює, чому ІДІЛ-Хорасан не можна вважати переможеним.",
    "author_name": "Олена К.",
    "language": "uk",
    "created_at": "2026-11-25T19:00:00Z"
}))]
pub struct Review {
    /// UUIDv7: sorts by creation time.
    pub id: Uuid,
    pub article_id: String,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i16,
    pub title: Option<String>,
    pub body: String,
    pub author_name: Option<String>,
    /// BCP 47 tag; null when it was neither given nor reliably detected.
    pub language: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<PublicReviewRow> for Review {
    fn from(row: PublicReviewRow) -> Self {
        Self {
            id: row.id,
            article_id: row.article_id,
            rating: row.rating,
            title: row.title,
            body: row.body,
            author_name: row.author_name,
            language: row.language,
            created_at: row.created_at,
        }
    }
}

/// One page of reviews.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "items": [{
        "id": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f",
        "article_id": "voa-2020-05-iskp-attacks",
        "rating": 5,
        "title": "Useful context",
        "body": "Clear timeline from the 2017 MOAB strike to the 2020 attacks.",
        "author_name": "J. Miller",
        "language": "en",
        "created_at": "2026-11-25T19:00:00Z"
    }],
    "next_cursor": "djEubmV3ZXN0LjAuMDE5YWI1YzQ3YzJlN2Q0MzlhMWU2ZjFiMmMzZDRlNWY"
}))]
pub struct ReviewPage {
    pub items: Vec<Review>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Submit a review.
///
/// Public: readers submit from a site's frontend, a widget or curl. The review is committed and
/// counted in the article's stats before the 201 is sent.
#[utoipa::path(
    post,
    path = "/v1/articles/{article_id}/reviews",
    tag = "reviews",
    params(("article_id" = ArticleId, Path, description = "The CMS's article id")),
    request_body(content = CreateReviewRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Stored and published", body = Review,
         headers(("Location" = String, description = "URL of the new review"))),
        (status = 400, description = "Malformed JSON or bad article id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown article (when unknown articles are rejected)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Reviews are closed for this article", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_review(
    state: web::Data<AppState>,
    article_id: ArticleId,
    JsonBody(request): JsonBody<CreateReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let review = NewReview::parse(request.into()).map_err(ApiError::Validation)?;
    let row = store::reviews::insert(
        &state.pool,
        &article_id,
        &review,
        state.create_missing_articles,
    )
    .await?;
    state.read_cache.record_write(article_id.as_str()).await;
    metrics::record_review_created();
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/reviews/{}", row.id)))
        .json(Review::from(row)))
}

/// List an article's published reviews.
///
/// Keyset pagination: follow `next_cursor` until it is null. Reviews added meanwhile never cause
/// duplicates or gaps.
#[utoipa::path(
    get,
    path = "/v1/articles/{article_id}/reviews",
    tag = "reviews",
    params(
        ("article_id" = ArticleId, Path, description = "The CMS's article id"),
        ("sort" = Option<Sort>, Query, description = "Order of the list; default `newest`"),
        ("rating" = Option<i16>, Query, minimum = 1, maximum = 5, description = "Only reviews with this rating"),
        ("language" = Option<String>, Query, max_length = 35, pattern = r"^[A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*(-[Xx](-[A-Za-z0-9]{1,8})+)?$", description = "Only reviews in this language (BCP 47)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Page size; default 20"),
        ("cursor" = Option<String>, Query, max_length = 200, pattern = r"^[A-Za-z0-9_-]*$", description = "`next_cursor` of the previous page, with the same `sort`; a cursor this service did not issue is a 400"),
    ),
    responses(
        (status = 200, description = "A page of reviews", body = ReviewPage),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown article (when unknown articles are rejected)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_reviews(
    state: web::Data<AppState>,
    article_id: ArticleId,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs = query_pairs(&req);
    let query = PageQuery::from_pairs(
        article_id.as_str(),
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|errors| ApiError::BadRequest {
        detail: "invalid query parameters".into(),
        errors,
    })?;
    let load = || load_page(&state, &article_id, &query);
    let json = if query.after.is_none() {
        // First pages are what widgets poll; deeper pages are read once per reader.
        state
            .read_cache
            .first_page(article_id.as_str(), query.cache_key(), load)
            .await?
    } else {
        load().await?
    };
    Ok(HttpResponse::Ok()
        .content_type(mime::APPLICATION_JSON)
        .body(json))
}

/// One page, serialized.
async fn load_page(
    state: &AppState,
    article_id: &ArticleId,
    query: &PageQuery,
) -> Result<Bytes, ApiError> {
    let (rows, next) = store::reviews::page(&state.pool, article_id, query).await?;
    if rows.is_empty() && query.after.is_none() && !state.create_missing_articles {
        require_article(state, article_id).await?;
    }
    let page = ReviewPage {
        items: rows.into_iter().map(Review::from).collect(),
        next_cursor: next.map(|cursor| cursor.encode()),
    };
    serde_json::to_vec(&page)
        .map(Bytes::from)
        .map_err(|error| ApiError::Internal(error.to_string()))
}

/// With unknown articles rejected, an article the CMS never registered is a 404.
pub(super) async fn require_article(
    state: &AppState,
    article_id: &ArticleId,
) -> Result<(), ApiError> {
    if store::articles::exists(&state.pool, article_id).await? {
        Ok(())
    } else {
        Err(store::StoreError::ArticleNotFound.into())
    }
}

/// Read one published review.
#[utoipa::path(
    get,
    path = "/v1/reviews/{id}",
    tag = "reviews",
    params(("id" = Uuid, Path, description = "Review id")),
    responses(
        (status = 200, description = "The review", body = Review),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No published review with this id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_review(
    state: web::Data<AppState>,
    ReviewIdPath(id): ReviewIdPath,
) -> Result<web::Json<Review>, ApiError> {
    store::reviews::get_published(&state.pool, id)
        .await?
        .map(|row| web::Json(Review::from(row)))
        .ok_or_else(|| ApiError::NotFound("no published review with this id".into()))
}
