//! The moderators' API: the queue, actions on one or many reviews, the audit log, and the
//! newsroom's replies. Every operation needs an API key with scope `moderator` or `admin`.

use actix_web::{delete, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{JsonBody, ReviewIdPath};
use super::responses::{
    ActionTargetsNotFound, BadBody, BadParameter, KeyRequired, ModeratedReviewNotFound,
    StateConflict, Unavailable,
};
use super::reviews::{after_change, event_json};
use crate::auth::ApiCaller;
use crate::domain::moderation::{
    dismisses_flags, Disallowed, ModerationAction, ModerationNote, ReplyBody, MAX_BULK_IDS,
};
use crate::domain::review::ReviewStatus;
use crate::domain::{FieldError, FieldErrorCode};
use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;
use crate::store;
use crate::store::moderation::{Change, Entry, ModeratedReviewRow};
use crate::store::reviews::PublicReviewRow;
use crate::views::review::Review;

/// Why a review cannot take an action, as the 409 names it.
fn refused(refusal: Disallowed) -> String {
    format!(
        "a {} review cannot be given `{}`",
        refusal.from.as_str(),
        refusal.action.as_str()
    )
}

/// A moderator's action on one or many reviews.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "action": "approve",
    "review_ids": ["019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f"],
    "note": "Checked the sources the reader cites."
}))]
pub struct ActionRequest {
    pub action: ModerationAction,
    /// 1 to 500 review ids, all changed in one transaction or none.
    #[schema(min_items = 1, max_items = 500)]
    pub review_ids: Vec<Uuid>,
    /// Kept in the audit log.
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// One review's change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangedReview {
    pub id: Uuid,
    pub from: ReviewStatus,
    pub to: ReviewStatus,
}

/// What an action changed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "action": "approve",
    "changed": [{"id": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f", "from": "pending", "to": "published"}],
    "unchanged": 0
}))]
pub struct ActionResult {
    pub action: ModerationAction,
    /// The reviews whose status changed; for `dismiss_flags`, the reviews whose flags were
    /// cleared (from `published` to `published`).
    pub changed: Vec<ChangedReview>,
    /// Reviews already in the action's status (for `dismiss_flags`: without flags), left alone.
    pub unchanged: usize,
}

/// Approve, reject, mark as spam, restore, hold or delete reviews, or dismiss their flags.
///
/// One or up to 500 reviews in one transaction: if any id is unknown (404) or any review cannot
/// take the action (409, e.g. approving a deleted review), nothing changes and `errors` names
/// each offending `review_ids[i]`. Stats, outbound events and the audit log change with it.
/// `restore` sends a rejected or spam review back to the queue (`pending`), `hold` a published
/// one; deletion is final. `dismiss_flags` keeps a flagged published review published and clears
/// its readers' flags (the Flagged tab's "keep published"); it sends no outbound event, since no
/// public field changes, and approving a published review leaves its flags alone (`unchanged`).
#[utoipa::path(
    tag = "moderation",
    request_body(content = ActionRequest, content_type = "application/json"),
    security(("moderator_key" = []), ("admin_key" = [])),
    responses(
        (status = 200, description = "Applied", body = ActionResult),
        BadBody, KeyRequired, ActionTargetsNotFound, StateConflict, Unavailable,
    )
)]
#[post("/v1/moderation/actions")]
pub async fn act(
    state: web::Data<AppState>,
    caller: ApiCaller,
    JsonBody(request): JsonBody<ActionRequest>,
) -> Result<web::Json<ActionResult>, ApiError> {
    let mut errors = Vec::new();
    if request.review_ids.is_empty() || request.review_ids.len() > MAX_BULK_IDS {
        errors.push(FieldError::new(
            "review_ids",
            FieldErrorCode::Length,
            format!("must hold 1 to {MAX_BULK_IDS} review ids"),
        ));
    }
    let note = match request.note.as_deref().map(ModerationNote::parse) {
        Some(Ok(note)) => note,
        Some(Err(rule)) => {
            errors.push(FieldError::broke("note", &rule));
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let action = request.action;
    let entry = Entry {
        actor: &caller.key_name,
        action: action.as_str(),
        note: note.as_ref().map(ModerationNote::as_str),
        reason: None,
    };
    let (changes, announced) = apply(&state, action, &request.review_ids, &entry).await?;
    for change in &changes {
        after_change(&state, &change.review.article_id, announced).await;
    }
    metrics::record_moderation_changes(action.as_str(), changes.len());
    tracing::info!(key = %caller.key_name, action = action.as_str(), changed = changes.len(), "moderation action");
    let unchanged = request.review_ids.len() - changes.len();
    Ok(web::Json(ActionResult {
        action,
        changed: changes
            .into_iter()
            .map(|change| ChangedReview {
                id: change.review.id,
                from: change.from,
                to: change.to,
            })
            .collect(),
        unchanged,
    }))
}

/// Applies `action` to the reviews of `ids`: a change of status, or for `dismiss_flags` the
/// clearing of flags, which moves no status and so announces nothing.
async fn apply(
    state: &AppState,
    action: ModerationAction,
    ids: &[Uuid],
    entry: &Entry<'_>,
) -> Result<(Vec<Change>, bool), ApiError> {
    if action == ModerationAction::DismissFlags {
        let decide = |row: &ModeratedReviewRow| {
            dismisses_flags(row.public.status(), row.flag_count).map_err(refused)
        };
        let changes =
            store::moderation::dismiss_flags(&state.pool, ids, decide, entry.actor, entry.note)
                .await?;
        return Ok((changes, false));
    }
    let render = |row: &PublicReviewRow| event_json(state, row);
    let decide = |row: &ModeratedReviewRow| {
        action
            .apply(row.public.status(), row.erased_at.is_some())
            .map_err(refused)
    };
    Ok(store::moderation::transition(&state.pool, ids, decide, entry, &render).await?)
}

/// The newsroom's reply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Дякуємо! Мапу провінції Кунар додали до статті."}))]
pub struct ReplyRequest {
    #[schema(min_length = 1, max_length = 5000)]
    pub body: Option<String>,
}

/// Reply to a review, or change the reply.
///
/// One public reply per review, shown with it in every public read and attributed to the
/// newsroom (MARGINALIA_NEWSROOM_NAME), never to the key that wrote it. Sends `review.replied`.
#[utoipa::path(
    tag = "moderation",
    params(("id" = Uuid, Path, description = "Review id")),
    request_body(content = ReplyRequest, content_type = "application/json"),
    security(("moderator_key" = []), ("admin_key" = [])),
    responses(
        (status = 200, description = "The review with its reply", body = Review),
        BadBody, KeyRequired, ModeratedReviewNotFound, StateConflict, Unavailable,
    )
)]
#[put("/v1/reviews/{id}/reply")]
pub async fn put_reply(
    state: web::Data<AppState>,
    caller: ApiCaller,
    ReviewIdPath(id): ReviewIdPath,
    JsonBody(request): JsonBody<ReplyRequest>,
) -> Result<web::Json<Review>, ApiError> {
    let body = match request.body.as_deref() {
        None => Err(vec![FieldError::new(
            "body",
            FieldErrorCode::Required,
            "is required",
        )]),
        Some(raw) => ReplyBody::parse(raw).map_err(|rule| vec![FieldError::broke("body", &rule)]),
    }
    .map_err(ApiError::Validation)?;
    reply(&state, &caller, id, Some(body.as_str()))
        .await
        .map(web::Json)
}

/// Remove the reply.
///
/// The review is shown without a reply again; `review.replied` tells subscribers (its data has
/// `reply: null`).
#[utoipa::path(
    tag = "moderation",
    params(("id" = Uuid, Path, description = "Review id")),
    security(("moderator_key" = []), ("admin_key" = [])),
    responses(
        (status = 204, description = "Removed (or there was none)"),
        BadParameter, KeyRequired, ModeratedReviewNotFound, StateConflict, Unavailable,
    )
)]
#[delete("/v1/reviews/{id}/reply")]
pub async fn delete_reply(
    state: web::Data<AppState>,
    caller: ApiCaller,
    ReviewIdPath(id): ReviewIdPath,
) -> Result<HttpResponse, ApiError> {
    reply(&state, &caller, id, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn reply(
    state: &AppState,
    caller: &ApiCaller,
    id: Uuid,
    body: Option<&str>,
) -> Result<Review, ApiError> {
    let render = |row: &PublicReviewRow| event_json(state, row);
    let (row, announced) =
        store::moderation::reply(&state.pool, id, body, &caller.key_name, &render).await?;
    after_change(state, &row.article_id, announced).await;
    Ok(Review::new(row, &state.moderation.newsroom_name))
}
