//! Readers' helpful votes and abuse flags on published reviews.

use actix_web::dev::Payload;
use actix_web::{post, web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{JsonBody, ReactionWriter, ReviewIdPath};
use super::responses::{BadBody, PublishedReviewNotFound, RateLimited, Unavailable};
use crate::domain::reaction::{Flag, FlagRequest, Vote, VoteRequest};
use crate::error::ApiError;
use crate::services;
use crate::state::AppState;

/// A JSON body of `Request`, checked by its domain `parse` into `T` at the edge: a vote or a flag.
pub struct Reaction<T>(T);

/// The domain parse of a reaction's body.
pub trait ParsedFrom: Sized {
    type Request: serde::de::DeserializeOwned + 'static;
    fn parse(request: &Self::Request) -> Result<Self, Vec<crate::domain::FieldError>>;
}

impl ParsedFrom for Vote {
    type Request = VoteRequest;
    fn parse(request: &VoteRequest) -> Result<Self, Vec<crate::domain::FieldError>> {
        Vote::parse(request)
    }
}

impl ParsedFrom for Flag {
    type Request = FlagRequest;
    fn parse(request: &FlagRequest) -> Result<Self, Vec<crate::domain::FieldError>> {
        Flag::parse(request)
    }
}

impl<T: ParsedFrom + 'static> FromRequest for Reaction<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = JsonBody::<T::Request>::from_request(req, payload);
        Box::pin(async move {
            let JsonBody(request) = body.await?;
            T::parse(&request)
                .map(Reaction)
                .map_err(ApiError::Validation)
        })
    }
}

/// A review's vote counts.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"helpful_count": 13, "unhelpful_count": 1}))]
pub struct VoteCounts {
    pub helpful_count: i32,
    pub unhelpful_count: i32,
}

/// Vote on whether a review helped.
///
/// Public, on published reviews. One vote per voter and review: voting again replaces the
/// earlier vote. Counts are exact under any concurrency. One network (IPv4 address or IPv6 /64)
/// adds at most 3 new voters per review and UTC day, whatever `User-Agent`s or `voter_token`s it
/// sends; beyond that a vote is answered with the counts unchanged.
#[utoipa::path(
    tag = "reviews",
    params(("id" = uuid::Uuid, Path, description = "Review id")),
    request_body(content = VoteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Counted; the review's counts", body = VoteCounts),
        BadBody, PublishedReviewNotFound, RateLimited, Unavailable,
    )
)]
#[post("/v1/reviews/{id}/votes")]
pub async fn vote(
    state: web::Data<AppState>,
    ReviewIdPath(id): ReviewIdPath,
    ReactionWriter(client): ReactionWriter,
    Reaction(vote): Reaction<Vote>,
) -> Result<web::Json<VoteCounts>, ApiError> {
    let tally = services::reactions::vote(&state, id, &client, &vote).await?;
    Ok(web::Json(VoteCounts {
        helpful_count: tally.helpful_count,
        unhelpful_count: tally.unhelpful_count,
    }))
}

/// Flag a review for the moderators.
///
/// Public, on published reviews. One flag per voter and review (a repeat changes nothing). When
/// readers from enough distinct networks flag a review (MARGINALIA_FLAG_THRESHOLD, 3 by default),
/// it leaves the public reads and waits in the queue with reason `flagged`.
#[utoipa::path(
    tag = "reviews",
    params(("id" = uuid::Uuid, Path, description = "Review id")),
    request_body(content = FlagRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Flagged (or already flagged by this voter)"),
        BadBody, PublishedReviewNotFound, RateLimited, Unavailable,
    )
)]
#[post("/v1/reviews/{id}/flags")]
pub async fn flag(
    state: web::Data<AppState>,
    ReviewIdPath(id): ReviewIdPath,
    ReactionWriter(client): ReactionWriter,
    Reaction(flag): Reaction<Flag>,
) -> Result<HttpResponse, ApiError> {
    services::reactions::flag(&state, id, &client, &flag).await?;
    Ok(HttpResponse::NoContent().finish())
}
