//! Readers' helpful votes and abuse flags on published reviews.

use actix_web::{post, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{Checked, CheckedBody, ReactionWriter, ReaderTokenHeader, ReviewIdPath};
use super::responses::{
    BadBody, PublishedReviewNotFound, RateLimited, ReaderSuspended, ReaderTokenRefused, Unavailable,
};
use crate::api::extract::SiteState;
use crate::domain::reaction::{Flag, FlagRequest, Vote, VoteRequest};
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::services;

impl CheckedBody for Vote {
    type Body = VoteRequest;
    fn check(body: VoteRequest) -> Result<Self, Vec<FieldError>> {
        Vote::parse(&body)
    }
}

impl CheckedBody for Flag {
    type Body = FlagRequest;
    fn check(body: FlagRequest) -> Result<Self, Vec<FieldError>> {
        Flag::parse(&body)
    }
}

/// The reader-token header of a reaction.
const READER_VOTER: &str =
    "A signed-in reader's token (docs/readers.md): the reaction counts once \
                            per reader, from any device or network. Optional even where reviews \
                            need sign-in; a token sent is checked.";

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
    params(
        ("id" = uuid::Uuid, Path, description = "Review id"),
        ("Marginalia-Reader" = Option<String>, Header, description = READER_VOTER),
    ),
    request_body(content = VoteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Counted; the review's counts", body = VoteCounts),
        BadBody, ReaderTokenRefused, ReaderSuspended, PublishedReviewNotFound, RateLimited,
        Unavailable,
    )
)]
#[post("/votes")]
pub async fn vote(
    state: SiteState,
    ReviewIdPath(id): ReviewIdPath,
    ReactionWriter(client): ReactionWriter,
    reader: ReaderTokenHeader,
    Checked(vote): Checked<Vote>,
) -> Result<web::Json<VoteCounts>, ApiError> {
    let tally = services::reactions::vote(&state, id, &client, reader.0.as_deref(), &vote).await?;
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
    params(
        ("id" = uuid::Uuid, Path, description = "Review id"),
        ("Marginalia-Reader" = Option<String>, Header, description = READER_VOTER),
    ),
    request_body(content = FlagRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Flagged (or already flagged by this voter)"),
        BadBody, ReaderTokenRefused, ReaderSuspended, PublishedReviewNotFound, RateLimited,
        Unavailable,
    )
)]
#[post("/flags")]
pub async fn flag(
    state: SiteState,
    ReviewIdPath(id): ReviewIdPath,
    ReactionWriter(client): ReactionWriter,
    reader: ReaderTokenHeader,
    Checked(flag): Checked<Flag>,
) -> Result<HttpResponse, ApiError> {
    services::reactions::flag(&state, id, &client, reader.0.as_deref(), &flag).await?;
    Ok(HttpResponse::NoContent().finish())
}
