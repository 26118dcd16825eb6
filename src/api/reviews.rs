//! Submitting and reading reviews.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{get, mime, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{JsonBody, ListQuery, ReviewIdPath};
use super::responses::{BadBody, BadParameter, NotFound, ReviewsClosed, Unavailable};
use crate::domain::article::ArticleId;
use crate::domain::page::{Cursor, PageQuery, PageSize, Sort};
use crate::domain::review::{
    AuthorEmail, AuthorName, NewReview, Rating, ReviewBody, ReviewInput, ReviewTitle,
};
use crate::domain::text::LanguageTag;
use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;
use crate::store;
use crate::store::reviews::PublicReviewRow;
use crate::store::StoreError;

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
    /// Stars.
    #[schema(value_type = Rating, required = true)]
    #[serde(default, deserialize_with = "integral")]
    pub rating: Option<i64>,
    /// Optional headline.
    #[schema(value_type = Option<ReviewTitle>)]
    pub title: Option<String>,
    /// The review.
    #[schema(value_type = ReviewBody, required = true)]
    pub body: Option<String>,
    /// Name shown with the review.
    #[schema(value_type = Option<AuthorName>)]
    pub author_name: Option<String>,
    /// Never shown publicly.
    #[schema(value_type = Option<AuthorEmail>)]
    pub author_email: Option<String>,
    /// The review's language; detected from the text when absent.
    #[schema(value_type = Option<LanguageTag>)]
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
    #[schema(value_type = Rating)]
    pub rating: i16,
    /// The review's headline; null when it has none.
    #[schema(required = true)]
    pub title: Option<String>,
    pub body: String,
    /// The name shown with the review; null when the reader gave none.
    #[schema(required = true)]
    pub author_name: Option<String>,
    /// BCP 47 tag; null when it was neither given nor reliably detected.
    #[schema(required = true)]
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
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// Submit a review.
///
/// Public: readers submit from a site's frontend, a widget or curl. The review is committed and
/// counted in the article's stats before the 201 is sent.
#[utoipa::path(
    tag = "reviews",
    params(("article_id" = ArticleId, Path, description = "The CMS's article id")),
    request_body(content = CreateReviewRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Stored and published", body = Review,
         headers(("Location" = String, description = "URL of the new review"))),
        BadBody, NotFound, ReviewsClosed, Unavailable,
    )
)]
#[post("/v1/articles/{article_id}/reviews")]
pub async fn create_review(
    state: web::Data<AppState>,
    article_id: ArticleId,
    JsonBody(request): JsonBody<CreateReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let review = NewReview::parse(request.into()).map_err(ApiError::Validation)?;
    let (row, announced) = store::reviews::insert(
        &state.pool,
        &article_id,
        &review,
        state.create_missing_articles,
        |stored| event_data(&Review::from(stored.clone())),
    )
    .await?;
    state.read_cache.record_write(article_id.as_str()).await;
    if announced {
        // Only then: waking the worker for nothing would cost it a database round trip per review.
        state.outbox.wake();
    }
    metrics::record_review_created();
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/reviews/{}", row.id)))
        .json(Review::from(row)))
}

/// A review as outbound events carry it: exactly what the public reads show.
fn event_data(review: &Review) -> String {
    // A struct of strings, numbers and a time always serializes.
    serde_json::to_string(review).unwrap_or_else(|_| "{}".to_owned())
}

/// List an article's published reviews.
///
/// Keyset pagination: follow `next_cursor` until it is null. Reviews added meanwhile never cause
/// duplicates or gaps.
#[utoipa::path(
    tag = "reviews",
    params(
        ("article_id" = ArticleId, Path, description = "The CMS's article id"),
        ("sort" = Option<Sort>, Query, description = "Order of the list; default `newest`"),
        ("rating" = Option<Rating>, Query, description = "Only reviews with this rating"),
        ("language" = Option<LanguageTag>, Query, description = "Only reviews in this language"),
        ("limit" = Option<PageSize>, Query, description = "Reviews per page"),
        ("cursor" = Option<Cursor>, Query, description = "`next_cursor` of the previous page, with the same `sort`; a cursor this service did not issue is a 400"),
    ),
    responses(
        (status = 200, description = "A page of reviews", body = ReviewPage),
        BadParameter, NotFound, Unavailable,
    )
)]
#[get("/v1/articles/{article_id}/reviews")]
pub async fn list_reviews(
    state: web::Data<AppState>,
    article_id: ArticleId,
    ListQuery(query): ListQuery,
) -> Result<HttpResponse, ApiError> {
    let load = || load_page(&state, &article_id, &query);
    let json = if query.after.is_none() {
        // First pages are what widgets poll; deeper pages are read once per reader.
        state
            .read_cache
            .first_page(article_id.as_str(), query.cache_key(), load)
            .await
    } else {
        load().await
    }
    .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok()
        .content_type(mime::APPLICATION_JSON)
        .body(json))
}

/// Why a page could not be produced. Cloneable, as concurrent readers of one cached first page
/// share a single read and its outcome.
#[derive(Debug, Clone)]
enum PageError {
    Store(StoreError),
    Encode(Arc<serde_json::Error>),
}

impl From<PageError> for ApiError {
    fn from(error: PageError) -> Self {
        match error {
            PageError::Store(error) => error.into(),
            PageError::Encode(error) => ApiError::Internal(Box::new(error)),
        }
    }
}

/// One page, serialized.
async fn load_page(
    state: &AppState,
    article_id: &ArticleId,
    query: &PageQuery,
) -> Result<Bytes, PageError> {
    let (rows, next) = store::reviews::page(&state.pool, article_id, query)
        .await
        .map_err(PageError::Store)?;
    if rows.is_empty() && query.after.is_none() {
        require_known_articles(state, &[article_id.as_str()])
            .await
            .map_err(PageError::Store)?;
    }
    let page = ReviewPage {
        items: rows.into_iter().map(Review::from).collect(),
        next_cursor: next.map(|cursor| cursor.encode()),
    };
    serde_json::to_vec(&page)
        .map(Bytes::from)
        .map_err(|error| PageError::Encode(Arc::new(error)))
}

/// The one place the hidden-article rule lives: a deleted article is a 404 for every read; so is
/// an article the CMS never registered when `MARGINALIA_UNKNOWN_ARTICLES=reject` (with `accept`,
/// it simply has no reviews yet).
pub(super) async fn require_known_articles(
    state: &AppState,
    article_ids: &[&str],
) -> Result<(), StoreError> {
    let hidden =
        store::articles::hidden(&state.pool, article_ids, !state.create_missing_articles).await?;
    match hidden.first() {
        None => Ok(()),
        Some(_) => Err(StoreError::ArticleNotFound),
    }
}

/// Read one published review.
///
/// Public. Reviews that are not published (pending, rejected, spam, deleted) are a 404, exactly
/// like reviews that never existed.
#[utoipa::path(
    tag = "reviews",
    params(("id" = Uuid, Path, description = "Review id")),
    responses(
        (status = 200, description = "The review", body = Review),
        BadParameter, NotFound, Unavailable,
    )
)]
#[get("/v1/reviews/{id}")]
pub async fn get_review(
    state: web::Data<AppState>,
    ReviewIdPath(id): ReviewIdPath,
) -> Result<web::Json<Review>, ApiError> {
    store::reviews::get_published(&state.pool, id)
        .await?
        .map(|row| web::Json(Review::from(row)))
        .ok_or_else(|| ApiError::NotFound("no published review with this id".into()))
}
