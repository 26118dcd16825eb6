//! The moderators' API: the queue, actions on one or many reviews, the audit log, and the
//! newsroom's replies. Every operation needs an API key with scope `moderator` or `admin`.

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{article_parameter, read_query, status_parameter, JsonBody, ReviewIdPath};
use super::responses::{BadBody, BadParameter, KeyRequired, NotFound, StateConflict, Unavailable};
use super::reviews::{after_change, event_json, Review};
use crate::auth::{ApiCaller, Scope};
use crate::domain::article::ArticleId;
use crate::domain::moderation::{
    ModerationAction, ModerationNote, ReasonCode, ReplyBody, MAX_BULK_IDS,
};
use crate::domain::page::PageSize;
use crate::domain::review::ReviewStatus;
use crate::domain::{FieldError, FieldErrorCode};
use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;
use crate::store;
use crate::store::moderation::{Entry, LogRow, ModeratedReviewRow, QueueFilter};
use crate::store::reviews::PublicReviewRow;

/// A review as moderators see it: the public fields, its true status, the author's email, why
/// the rules or readers held it, and how often it was flagged.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModeratedReview {
    #[serde(flatten)]
    pub review: Review,
    /// Never shown publicly.
    #[schema(required = true)]
    pub author_email: Option<String>,
    /// Reason codes of the automatic decisions about it.
    pub reasons: Vec<String>,
    pub flag_count: i32,
    pub updated_at: DateTime<Utc>,
    /// When the author's data was erased on request; null if never.
    #[schema(required = true)]
    pub erased_at: Option<DateTime<Utc>>,
}

impl ModeratedReview {
    fn new(row: ModeratedReviewRow, newsroom: &str) -> Self {
        Self {
            review: Review::new(row.public, newsroom),
            author_email: row.author_email,
            reasons: row.reasons,
            flag_count: row.flag_count,
            updated_at: row.updated_at,
            erased_at: row.erased_at,
        }
    }
}

/// One page of the queue.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "items": [{
        "id": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f",
        "article_id": "voa-2020-05-iskp-attacks",
        "rating": 1,
        "title": null,
        "body": "Автор — шахрай, не вірте жодному слову.",
        "author_name": "Анонім",
        "language": "uk",
        "status": "pending",
        "created_at": "2026-11-26T08:12:00Z",
        "edited_at": null,
        "helpful_count": 0,
        "unhelpful_count": 0,
        "reply": null,
        "author_email": "anon@example.com",
        "reasons": ["banned_term"],
        "flag_count": 0,
        "updated_at": "2026-11-26T08:12:00Z",
        "erased_at": null
    }],
    "next_cursor": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f"
}))]
pub struct QueuePage {
    pub items: Vec<ModeratedReview>,
    /// Pass as `cursor` for the next page; null on the last.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// Parses a UUID cursor (`next_cursor` of an earlier page).
fn cursor(raw: &str, errors: &mut Vec<FieldError>) -> Option<Uuid> {
    let parsed = Uuid::try_parse(raw).ok();
    if parsed.is_none() {
        errors.push(FieldError::new(
            "cursor",
            FieldErrorCode::Format,
            "must be the next_cursor of an earlier page",
        ));
    }
    parsed
}

fn limit(raw: &str, errors: &mut Vec<FieldError>) -> i64 {
    PageSize::parse(raw)
        .map_err(|error| errors.push(error))
        .map_or(PageSize::DEFAULT, PageSize::get)
}

fn queue_filter(req: &HttpRequest) -> Result<QueueFilter, ApiError> {
    let mut filter = QueueFilter {
        status: ReviewStatus::Pending,
        article_id: None,
        reason: None,
        after: None,
        limit: PageSize::DEFAULT,
    };
    read_query(req, |name, value, errors| {
        match name {
            "status" => {
                if let Some(status) = status_parameter(value, errors) {
                    filter.status = status;
                }
            }
            "article_id" => filter.article_id = article_parameter(value, errors),
            "reason" => match ReasonCode::parse(value) {
                Some(reason) => filter.reason = Some(reason),
                None => errors.push(FieldError::new(
                    "reason",
                    FieldErrorCode::Enum,
                    "must be one of banned_term, too_many_links, duplicate, honeypot, shouting, \
                     flagged",
                )),
            },
            "cursor" => filter.after = cursor(value, errors),
            "limit" => filter.limit = limit(value, errors),
            _ => return false,
        }
        true
    })?;
    Ok(filter)
}

/// The moderation queue.
///
/// Reviews in one status (`pending` by default), oldest first, optionally of one article or
/// held for one reason; keyset pages.
#[utoipa::path(
    tag = "moderation",
    params(
        ("status" = Option<ReviewStatus>, Query, description = "Default `pending`"),
        ("article_id" = Option<ArticleId>, Query, description = "Only this article's reviews"),
        ("reason" = Option<ReasonCode>, Query, description = "Only reviews held for this reason"),
        ("limit" = Option<PageSize>, Query, description = "Reviews per page"),
        ("cursor" = Option<Uuid>, Query, description = "`next_cursor` of the previous page"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "A page of the queue", body = QueuePage),
        BadParameter, KeyRequired, Unavailable,
    )
)]
#[get("/v1/moderation/queue")]
pub async fn queue(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
) -> Result<web::Json<QueuePage>, ApiError> {
    caller.require_any(&[Scope::Moderator])?;
    let filter = queue_filter(&req)?;
    let (rows, more) = store::moderation::queue(&state.pool, &filter).await?;
    let next_cursor = rows
        .last()
        .filter(|_| more)
        .map(|row| row.public.id.to_string());
    let newsroom = &state.moderation.newsroom_name;
    Ok(web::Json(QueuePage {
        items: rows
            .into_iter()
            .map(|row| ModeratedReview::new(row, newsroom))
            .collect(),
        next_cursor,
    }))
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
    /// The reviews whose status changed.
    pub changed: Vec<ChangedReview>,
    /// Reviews already in the action's status, left alone.
    pub unchanged: usize,
}

/// Approve, reject, mark as spam, restore or delete reviews.
///
/// One or up to 500 reviews in one transaction: if any id is unknown (404) or any review cannot
/// take the action (409, e.g. approving a deleted review), nothing changes and `errors` names
/// each offending `review_ids[i]`. Stats, outbound events and the audit log change with it.
/// `restore` sends a rejected or spam review back to the queue (`pending`); deletion is final.
#[utoipa::path(
    tag = "moderation",
    request_body(content = ActionRequest, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Applied", body = ActionResult),
        BadBody, KeyRequired, NotFound, StateConflict, Unavailable,
    )
)]
#[post("/v1/moderation/actions")]
pub async fn act(
    state: web::Data<AppState>,
    caller: ApiCaller,
    JsonBody(request): JsonBody<ActionRequest>,
) -> Result<web::Json<ActionResult>, ApiError> {
    caller.require_any(&[Scope::Moderator])?;
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
    let render = |row: &PublicReviewRow| event_json(&state, row);
    let decide = |row: &ModeratedReviewRow| {
        action
            .apply(row.public.status(), row.erased_at.is_some())
            .map_err(|refusal| {
                format!(
                    "a {} review cannot be given `{}`",
                    refusal.from.as_str(),
                    refusal.action.as_str()
                )
            })
    };
    let (changes, announced) =
        store::moderation::transition(&state.pool, &request.review_ids, decide, &entry, &render)
            .await?;
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

/// One entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntry {
    pub id: Uuid,
    pub review_id: Uuid,
    /// The API key's name, or `author`, `rules` (a held submission) or `flags` (the threshold).
    pub actor: String,
    /// approve, reject, spam, restore, delete, submit, edit, flag_threshold, reply,
    /// remove_reply or erase.
    pub action: String,
    /// Null for a submission.
    #[schema(required = true)]
    pub from_status: Option<String>,
    pub to_status: String,
    pub reasons: Vec<String>,
    #[schema(required = true)]
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<LogRow> for LogEntry {
    fn from(row: LogRow) -> Self {
        Self {
            id: row.id,
            review_id: row.review_id,
            actor: row.actor,
            action: row.action,
            from_status: row.from_status,
            to_status: row.to_status,
            reasons: row.reasons,
            note: row.note,
            created_at: row.created_at,
        }
    }
}

/// One page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "items": [{
        "id": "019ab5d0-1111-7000-8000-000000000002",
        "review_id": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f",
        "actor": "desk-editor-olha",
        "action": "approve",
        "from_status": "pending",
        "to_status": "published",
        "reasons": [],
        "note": "Checked the sources the reader cites.",
        "created_at": "2026-11-26T09:00:00Z"
    }],
    "next_cursor": null
}))]
pub struct LogPage {
    pub items: Vec<LogEntry>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The audit log.
///
/// Every status change, reply and erasure, newest first: who (the API key's name, `author`,
/// `rules` or `flags`), when, from, to, and why.
#[utoipa::path(
    tag = "moderation",
    params(
        ("review_id" = Option<Uuid>, Query, description = "Only this review's entries"),
        ("limit" = Option<PageSize>, Query, description = "Entries per page"),
        ("cursor" = Option<Uuid>, Query, description = "`next_cursor` of the previous page"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "A page of the log", body = LogPage),
        BadParameter, KeyRequired, Unavailable,
    )
)]
#[get("/v1/moderation/log")]
pub async fn audit_log(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
) -> Result<web::Json<LogPage>, ApiError> {
    caller.require_any(&[Scope::Moderator])?;
    let (mut review_id, mut before, mut page) = (None, None, PageSize::DEFAULT);
    read_query(&req, |name, value, errors| {
        match name {
            "review_id" => match Uuid::try_parse(value) {
                Ok(id) => review_id = Some(id),
                Err(_) => errors.push(FieldError::new(
                    "review_id",
                    FieldErrorCode::Format,
                    "must be a UUID",
                )),
            },
            "cursor" => before = cursor(value, errors),
            "limit" => page = limit(value, errors),
            _ => return false,
        }
        true
    })?;
    let (rows, more) = store::moderation::log(&state.pool, review_id, before, page).await?;
    let next_cursor = rows.last().filter(|_| more).map(|row| row.id.to_string());
    Ok(web::Json(LogPage {
        items: rows.into_iter().map(LogEntry::from).collect(),
        next_cursor,
    }))
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
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The review with its reply", body = Review),
        BadBody, KeyRequired, NotFound, StateConflict, Unavailable,
    )
)]
#[put("/v1/reviews/{id}/reply")]
pub async fn put_reply(
    state: web::Data<AppState>,
    caller: ApiCaller,
    ReviewIdPath(id): ReviewIdPath,
    JsonBody(request): JsonBody<ReplyRequest>,
) -> Result<web::Json<Review>, ApiError> {
    caller.require_any(&[Scope::Moderator])?;
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
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Removed (or there was none)"),
        BadParameter, KeyRequired, NotFound, StateConflict, Unavailable,
    )
)]
#[delete("/v1/reviews/{id}/reply")]
pub async fn delete_reply(
    state: web::Data<AppState>,
    caller: ApiCaller,
    ReviewIdPath(id): ReviewIdPath,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Scope::Moderator])?;
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
