//! Readers' helpful votes and abuse flags on published reviews.

use actix_web::{post, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{JsonBody, ReactionWriter, ReviewIdPath};
use super::responses::{BadBody, PublishedReviewNotFound, RateLimited, Unavailable};
use super::reviews::{after_change, event_json};
use crate::domain::reaction::{FlagNote, FlagReason, VoterToken};
use crate::domain::{FieldError, FieldErrorCode};
use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;
use crate::store;
use crate::store::reactions::{Flagged, Flagger};
use crate::store::reviews::PublicReviewRow;

/// Parses the optional `voter_token` of a vote or flag.
fn voter_token(raw: Option<&str>) -> Result<Option<VoterToken>, ApiError> {
    raw.map(VoterToken::parse)
        .transpose()
        .map_err(|rule| ApiError::Validation(vec![FieldError::broke("voter_token", &rule)]))
}

/// A helpful vote.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"helpful": true, "voter_token": "7d1f0c52-2b8e-4c8a-9f61-0e4b7a9c3d21"}))]
pub struct VoteRequest {
    /// Whether the review helped.
    pub helpful: Option<bool>,
    /// A random token the reader's browser keeps (16 to 128 visible ASCII characters), so the
    /// reader's vote counts once wherever they connect from. Without it, the voter is a digest
    /// of address and user agent that changes daily; the address itself is never stored.
    #[schema(min_length = 16, max_length = 128)]
    pub voter_token: Option<String>,
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
    JsonBody(request): JsonBody<VoteRequest>,
) -> Result<web::Json<VoteCounts>, ApiError> {
    let helpful = request.helpful.ok_or_else(|| {
        ApiError::Validation(vec![FieldError::new(
            "helpful",
            FieldErrorCode::Required,
            "is required: true or false",
        )])
    })?;
    let token = voter_token(request.voter_token.as_deref())?;
    let digests = state.abuse.digests(&state.pool).await?;
    let today = Utc::now().date_naive();
    let voter = digests.voter(token.as_ref(), client.address, &client.user_agent, today);
    let network = digests.network(client.address, today);
    let voter = Flagger {
        voter: &voter,
        network: &network,
    };
    let tally = store::reactions::vote(&state.pool, id, &voter, helpful).await?;
    Ok(web::Json(VoteCounts {
        helpful_count: tally.helpful_count,
        unhelpful_count: tally.unhelpful_count,
    }))
}

/// An abuse flag.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "abuse", "note": "Образи на адресу автора статті."}))]
pub struct FlagRequest {
    pub reason: Option<FlagReason>,
    /// For the moderators.
    #[schema(max_length = 500)]
    pub note: Option<String>,
    /// As for votes.
    #[schema(min_length = 16, max_length = 128)]
    pub voter_token: Option<String>,
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
    JsonBody(request): JsonBody<FlagRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    if request.reason.is_none() {
        errors.push(FieldError::new(
            "reason",
            FieldErrorCode::Required,
            "is required: spam, abuse, off_topic, misinformation, personal_data or other",
        ));
    }
    let note = match request.note.as_deref().map(FlagNote::parse) {
        Some(Ok(note)) => note,
        Some(Err(rule)) => {
            errors.push(FieldError::broke("note", &rule));
            None
        }
        None => None,
    };
    let token = voter_token(request.voter_token.as_deref());
    match (request.reason, token) {
        (Some(reason), Ok(token)) if errors.is_empty() => {
            let digests = state.abuse.digests(&state.pool).await?;
            let today = Utc::now().date_naive();
            let voter = digests.voter(token.as_ref(), client.address, &client.user_agent, today);
            let network = digests.network(client.address, today);
            let render = |row: &PublicReviewRow| event_json(&state, row);
            let flagged = store::reactions::flag(
                &state.pool,
                id,
                &Flagger {
                    voter: &voter,
                    network: &network,
                },
                reason,
                note.as_ref(),
                state.moderation.flag_threshold,
                &render,
            )
            .await?;
            if let Flagged::Counted(Some(change), announced) = flagged {
                after_change(&state, &change.review.article_id, announced).await;
                metrics::record_moderation_changes("flag_threshold", 1);
                metrics::record_rule_hit("flagged");
            }
            Ok(HttpResponse::NoContent().finish())
        }
        (_, Err(ApiError::Validation(token_errors))) => {
            errors.extend(token_errors);
            Err(ApiError::Validation(errors))
        }
        _ => Err(ApiError::Validation(errors)),
    }
}
