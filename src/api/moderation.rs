//! The moderators' API: the queue, actions on one or many reviews, the audit log, and the
//! newsroom's replies. Every operation needs an API key with scope `moderator` or `admin`.

use actix_web::{delete, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Checked, CheckedBody, ReviewIdPath};
use super::responses::{
    ActionTargetsNotFound, BadBody, BadParameter, KeyRequired, ModeratedReviewNotFound,
    StateConflict, Unavailable,
};
use crate::api::extract::SiteState;
use crate::auth::ApiCaller;
use crate::domain::editorial::{parse_reply, ModerationOrder};
use crate::domain::moderation::{ModerationAction, ReplyBody};
use crate::domain::review::ReviewStatus;
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::services;
use crate::store::moderation::Change;
use crate::views::review::Review;

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
#[post("/actions")]
pub async fn act(
    state: SiteState,
    caller: ApiCaller,
    Checked(order): Checked<ModerationOrder>,
) -> Result<web::Json<ActionResult>, ApiError> {
    let changes = services::moderation::act(&state, &caller.key_name, &order).await?;
    Ok(web::Json(ActionResult {
        action: order.action,
        unchanged: order.review_ids.len() - changes.len(),
        changed: changes.into_iter().map(ChangedReview::from).collect(),
    }))
}

impl CheckedBody for ModerationOrder {
    type Body = ActionRequest;
    fn check(body: ActionRequest) -> Result<Self, Vec<FieldError>> {
        ModerationOrder::parse(body.action, body.review_ids, body.note.as_deref())
    }
}

impl From<Change> for ChangedReview {
    fn from(change: Change) -> Self {
        Self {
            id: change.review.id,
            from: change.from,
            to: change.to,
        }
    }
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
#[put("/reply")]
pub async fn put_reply(
    state: SiteState,
    caller: ApiCaller,
    ReviewIdPath(id): ReviewIdPath,
    Checked(body): Checked<ReplyBody>,
) -> Result<web::Json<Review>, ApiError> {
    let review = services::moderation::reply(&state, &caller.key_name, id, Some(&body)).await?;
    Ok(web::Json(review))
}

impl CheckedBody for ReplyBody {
    type Body = ReplyRequest;
    fn check(body: ReplyRequest) -> Result<Self, Vec<FieldError>> {
        parse_reply(body.body.as_deref())
    }
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
#[delete("/reply")]
pub async fn delete_reply(
    state: SiteState,
    caller: ApiCaller,
    ReviewIdPath(id): ReviewIdPath,
) -> Result<HttpResponse, ApiError> {
    services::moderation::reply(&state, &caller.key_name, id, None).await?;
    Ok(HttpResponse::NoContent().finish())
}
