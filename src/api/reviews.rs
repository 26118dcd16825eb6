//! Submitting and reading reviews.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{
    parse_json, AuthorProof, EditTokenHeader, IdempotencyKeyHeader, JsonBody, JsonBytes, ListQuery,
    ReaderTokenHeader, ReviewIdPath, ReviewWriter,
};
use super::responses::{
    ArticleNotFound, BadBody, BadParameter, EditTokenRequired, RateLimited, ReaderSuspended,
    ReaderTokenRefused, Revalidated, ReviewNotFound, ReviewsClosed, StateConflict, Unavailable,
};
use crate::api::extract::{PublicRead, SiteState};
use crate::domain::article::ArticleId;
use crate::domain::language::LanguageDetector;
use crate::domain::page::{Cursor, PageQuery, PageSize, Sort};
use crate::domain::review::{
    CreateReviewRequest, EditReviewRequest, NewReview, Rating, RatingRule, ReviewEdit,
};
use crate::domain::text::LanguageTag;
use crate::error::ApiError;
use crate::http_layer::cache as http_cache;
use crate::services;
use crate::services::reviews::Submitted;
use crate::state::AppState;
use crate::store;
use crate::store::moderation::Author;
use crate::store::StoreError;
use crate::tokens;
use crate::views::review::{PageJson, Review};
use crate::views::tagged::TaggedBody;

/// A new review as its author gets it: with the edit token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f",
    "article_id": "voa-2020-05-iskp-attacks",
    "rating": 4,
    "title": "Тверезий аналіз",
    "body": "Стаття добре пояснює, чому ІДІЛ-Хорасан не можна вважати переможеним.",
    "author_name": "Олена К.",
    "language": "uk",
    "status": "pending",
    "created_at": "2026-11-25T19:00:00Z",
    "edited_at": null,
    "helpful_count": 0,
    "unhelpful_count": 0,
    "verified": false,
    "badges": [],
    "reply": null,
    "in_reply_to": null,
    "edit_token": "edt_q0b6VnKcBbRz1yG0W3c1o2Y8nq0mQ3oXr2vJ8u5s9aE"
}))]
pub struct CreatedReview {
    #[serde(flatten)]
    pub review: Review,
    /// Lets the author edit the review (within the edit window) and delete it, sent as
    /// `X-Edit-Token`. Shown only here: keep it.
    pub edit_token: String,
}

/// One page of reviews.
// The documented shape of what `views::review::PageJson` writes straight from a page's rows.
#[derive(Debug, ToSchema)]
#[schema(example = json!({
    "items": [{
        "id": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f",
        "article_id": "voa-2020-05-iskp-attacks",
        "rating": 5,
        "title": "Useful context",
        "body": "Clear timeline from the 2017 MOAB strike to the 2020 attacks.",
        "author_name": "J. Miller",
        "language": "en",
        "status": "published",
        "created_at": "2026-11-25T19:00:00Z",
        "edited_at": null,
        "helpful_count": 12,
        "unhelpful_count": 1,
        "verified": true,
        "badges": ["subscriber"],
        "reply": null,
        "in_reply_to": null
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
/// Public: readers submit from a site's frontend, a widget or curl. The review is committed (and,
/// when published, counted in the article's stats) before the 201 is sent. Under pre-moderation,
/// or when an automatic rule holds it, its `status` is `pending` until a moderator approves.
/// The answer carries the `edit_token`, shown only here.
///
/// Send an `Idempotency-Key` (a UUID) to retry safely: the same key with the same body within
/// 24 hours answers the first response again (same review, same token) without storing another
/// review; the same key with another body is a 422. If the review was erased since (a data-rights
/// erasure), the retry is a 409 and nothing is stored again.
#[utoipa::path(
    tag = "reviews",
    params(
        ("article_id" = ArticleId, Path, description = "The CMS's article id"),
        ("Idempotency-Key" = Option<String>, Header, description = "16 to 255 visible ASCII characters, such as a UUID: makes retries safe for 24 hours"),
        ("Marginalia-Reader" = Option<String>, Header, description = "A signed-in reader's token from the site's own login (a JWT, docs/readers.md): the review is theirs, under their name and badges"),
    ),
    request_body(content = CreateReviewRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Stored: published, or pending moderation", body = CreatedReview,
         headers(("Location" = String, description = "URL of the new review"))),
        BadBody, ReaderTokenRefused, ReaderSuspended, ArticleNotFound, ReviewsClosed, RateLimited,
        Unavailable,
    )
)]
#[post("/reviews")]
pub async fn create_review(
    state: SiteState,
    article_id: ArticleId,
    ReviewWriter(client): ReviewWriter,
    key: IdempotencyKeyHeader,
    reader: ReaderTokenHeader,
    submission: ReviewSubmission,
) -> Result<HttpResponse, ApiError> {
    let submitted = Submitted {
        review: submission.review,
        honeypot: submission.honeypot,
        body: &submission.body,
        reader_token: reader.0.as_deref(),
    };
    let created =
        services::reviews::submit(&state, &article_id, &client, key.0.as_ref(), submitted).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            state.located(&format!("/v1/reviews/{}", created.review.id)),
        ))
        .json(CreatedReview {
            review: created.review,
            edit_token: created.edit_token,
        }))
}

/// A submission's body, parsed at the edge: read under `JsonBody`'s rules, kept as sent (for
/// idempotent retries) and checked by `NewReview::parse`.
pub struct ReviewSubmission {
    review: NewReview,
    honeypot: Option<String>,
    body: web::Bytes,
}

impl FromRequest for ReviewSubmission {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = JsonBytes::from_request(req, payload);
        // The site's languages: each site detects among its own.
        let (detector, rating_rule): (Arc<LanguageDetector>, RatingRule) =
            SiteState::of_request(req)
                .map(|state| {
                    let moderation = &state.moderation;
                    (moderation.language_detector.clone(), moderation.rating_rule)
                })
                .unwrap_or_default();
        Box::pin(async move {
            let JsonBytes(body) = bytes.await?;
            let request: CreateReviewRequest = parse_json(&body)?;
            let review =
                NewReview::parse(&request, &detector, rating_rule).map_err(ApiError::Validation)?;
            Ok(Self {
                review,
                honeypot: request.website,
                body,
            })
        })
    }
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
        Revalidated, BadParameter, ArticleNotFound, Unavailable,
    )
)]
#[get("/reviews")]
pub async fn list_reviews(
    state: PublicRead,
    article_id: ArticleId,
    ListQuery(query): ListQuery,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let load = || load_page(&state, &article_id, &query);
    let page = if query.after.is_none() {
        // First pages are what widgets poll; deeper pages are read once per reader.
        state
            .read_cache
            .first_page(article_id.as_str(), query.cache_key(), load)
            .await
    } else {
        load().await
    }
    .map_err(ApiError::from)?;
    Ok(http_cache::public(&req, &state.http_cache, page, None))
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

/// One page, serialized and tagged.
async fn load_page(
    state: &AppState,
    article_id: &ArticleId,
    query: &PageQuery,
) -> Result<TaggedBody, PageError> {
    let rows = store::reviews::page(&state.pool, article_id, query)
        .await
        .map_err(PageError::Store)?;
    if rows.is_empty() && query.after.is_none() {
        require_known_articles(state, &[article_id.as_str()])
            .await
            .map_err(PageError::Store)?;
    }
    let page = PageJson::new(&rows, &state.moderation.newsroom_name);
    TaggedBody::json_sized(&page, rows.len()).map_err(|error| PageError::Encode(Arc::new(error)))
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

/// Read one review.
///
/// Public: published reviews only; others (pending, rejected, spam, deleted) are a 404, exactly
/// like reviews that never existed. With its `X-Edit-Token`, the author also reads a review that
/// awaits moderation (`status: pending`).
#[utoipa::path(
    tag = "reviews",
    params(
        ("id" = Uuid, Path, description = "Review id"),
        ("X-Edit-Token" = Option<String>, Header, description = "The review's edit token: read it in any status but deleted"),
    ),
    responses(
        (status = 200, description = "The review", body = Review),
        Revalidated, BadParameter, EditTokenRequired, ReviewNotFound, Unavailable,
    )
)]
#[get("")]
pub async fn get_review(
    state: PublicRead,
    ReviewIdPath(id): ReviewIdPath,
    token: EditTokenHeader,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let newsroom = &state.moderation.newsroom_name;
    if let Some(token) = token.0 {
        // The author's own view: private, so it gets the default `no-store`.
        let digest = tokens::edit_token_digest(&token);
        let row = store::moderation::get_owned(&state.pool, id, Author::EditToken(&digest)).await?;
        return Ok(HttpResponse::Ok().json(Review::new(&row, newsroom).seen_by_author()));
    }
    let row = store::reviews::get_published(&state.pool, id)
        .await?
        // The same words as a hidden or missing review read with a token: nothing tells them apart.
        .ok_or(StoreError::ReviewNotFound)?;
    let answer = TaggedBody::json(&Review::new(&row, newsroom))
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    // A cache must not answer an author who sends the edit token with the public version.
    Ok(http_cache::public(
        &req,
        &state.http_cache,
        answer,
        Some("Accept-Encoding, X-Edit-Token"),
    ))
}

/// Edit your review.
///
/// With the review's `X-Edit-Token` (or the `Marginalia-Reader` token of the signed-in reader
/// who wrote it), within the edit window after submitting (15 minutes by default). The rules run again over the new text; under pre-moderation the review goes back to
/// the queue. After the window: 409 (it can still be deleted).
#[utoipa::path(
    tag = "reviews",
    params(
        ("id" = Uuid, Path, description = "Review id"),
        ("X-Edit-Token" = Option<String>, Header, description = "The review's edit token"),
        ("Marginalia-Reader" = Option<String>, Header, description = "Instead of the edit token: the token of the signed-in reader who wrote the review (docs/readers.md)"),
    ),
    request_body(content = EditReviewRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The edited review", body = Review),
        BadBody, EditTokenRequired, ReviewNotFound, StateConflict, RateLimited, Unavailable,
    )
)]
#[patch("")]
pub async fn edit_review(
    state: SiteState,
    ReviewIdPath(id): ReviewIdPath,
    _writer: ReviewWriter,
    AuthorEdit { proof, edit }: AuthorEdit,
) -> Result<web::Json<Review>, ApiError> {
    Ok(web::Json(
        services::reviews::edit(&state, id, proof.proof()?, &edit).await?,
    ))
}

/// An author's edit, parsed at the edge in the order its refusals have always come: the body's
/// format and JSON, then the missing edit token, then the fields' rules.
pub struct AuthorEdit {
    proof: AuthorProof,
    edit: ReviewEdit,
}

impl FromRequest for AuthorEdit {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let proof = AuthorProof::from_request(req, payload).into_inner();
        let body = JsonBody::<EditReviewRequest>::from_request(req, payload);
        Box::pin(async move {
            let JsonBody(request) = body.await?;
            let proof = proof?;
            proof.proof()?;
            let edit = ReviewEdit::parse(request).map_err(ApiError::Validation)?;
            Ok(Self { proof, edit })
        })
    }
}

/// Delete your review.
///
/// With the review's `X-Edit-Token` (or the `Marginalia-Reader` token of the signed-in reader
/// who wrote it), at any time. It disappears from every public read and from
/// the stats at once.
#[utoipa::path(
    tag = "reviews",
    params(
        ("id" = Uuid, Path, description = "Review id"),
        ("X-Edit-Token" = Option<String>, Header, description = "The review's edit token"),
        ("Marginalia-Reader" = Option<String>, Header, description = "Instead of the edit token: the token of the signed-in reader who wrote the review (docs/readers.md)"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        BadParameter, EditTokenRequired, ReviewNotFound, RateLimited, Unavailable,
    )
)]
#[delete("")]
pub async fn delete_review(
    state: SiteState,
    ReviewIdPath(id): ReviewIdPath,
    _writer: ReviewWriter,
    proof: AuthorProof,
) -> Result<HttpResponse, ApiError> {
    services::reviews::delete(&state, id, proof.proof()?).await?;
    Ok(HttpResponse::NoContent().finish())
}
