//! What moderators read: the queue and its counts, an author's other reviews, and the audit log
//! (as pages of JSON, or all of it as CSV). Every operation needs an API key with scope
//! `moderator` or `admin`.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{LogQueryParams, QueueQueryParams, ReviewIdPath};
use super::responses::{BadParameter, KeyRequired, ModeratedReviewNotFound, Unavailable};
use super::streaming::{inert, keyset_batches};
use crate::api::extract::SiteState;
use crate::auth::ApiCaller;
use crate::db::Pool;
use crate::domain::article::ArticleId;
use crate::domain::moderation::{AuditFilter, ReasonCode};
use crate::domain::page::PageSize;
use crate::domain::query::LogFilter;
pub use crate::domain::query::LogFormat;
use crate::domain::review::ReviewStatus;
use crate::domain::text::LanguageTag;
use crate::error::ApiError;
use crate::store;
use crate::store::queue::LogRow;
use crate::views::moderation::{ModeratedReview, QueueCountsBody};

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
        "verified": false,
        "badges": [],
        "reply": null,
        "in_reply_to": null,
        "article_title": "Pushed to the Brink Again, Islamic State’s Afghan Affiliate Claims Deadly Attacks",
        "author_email": "anon@example.com",
        "reader_id": null,
        "reasons": ["banned_term"],
        "flag_count": 0,
        "flags": [],
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

/// The moderation queue.
///
/// Reviews in one status (`pending` by default), oldest first, optionally of one article, held
/// for one reason, in one language, or flagged by readers; keyset pages. The editors' console
/// shows `status=pending`, `status=published&flagged=true` and `status=spam` as its tabs.
#[utoipa::path(
    tag = "moderation",
    params(
        ("status" = Option<ReviewStatus>, Query, description = "Default `pending`"),
        ("article_id" = Option<ArticleId>, Query, description = "Only this article's reviews"),
        ("reason" = Option<ReasonCode>, Query, description = "Only reviews held for this reason"),
        ("language" = Option<LanguageTag>, Query, description = "Only reviews in this language"),
        ("flagged" = Option<bool>, Query, description = "`true`: only reviews readers flagged at least once"),
        ("limit" = Option<PageSize>, Query, description = "Reviews per page"),
        ("cursor" = Option<Uuid>, Query, description = "`next_cursor` of the previous page"),
    ),
    security(("moderator_key" = []), ("admin_key" = [])),
    responses(
        (status = 200, description = "A page of the queue", body = QueuePage),
        BadParameter, KeyRequired, Unavailable,
    )
)]
#[get("/queue")]
pub async fn queue(
    state: SiteState,
    _caller: ApiCaller,
    QueueQueryParams(filter): QueueQueryParams,
) -> Result<web::Json<QueuePage>, ApiError> {
    let (rows, more) = store::queue::queue(&state.pool, &filter).await?;
    let next_cursor = rows
        .last()
        .filter(|_| more)
        .map(|row| row.review.public.id.to_string());
    Ok(web::Json(QueuePage {
        items: ModeratedReview::all(rows, &state.pool, &state.moderation.newsroom_name).await?,
        next_cursor,
    }))
}

/// Counts of the queue.
///
/// Pending, flagged (published, flagged by readers at least once) and spam reviews, each counted
/// up to 10,000 (10000 means that many or more), so the answer stays cheap for a queue nobody
/// has looked at in months. The moderators' live stream (`GET /v1/moderation/live`) sends the same
/// counts whenever they may have changed.
#[utoipa::path(
    tag = "moderation",
    security(("moderator_key" = []), ("admin_key" = [])),
    responses(
        (status = 200, description = "The counts", body = QueueCountsBody),
        KeyRequired, Unavailable,
    )
)]
#[get("/counts")]
pub async fn counts(
    state: SiteState,
    _caller: ApiCaller,
) -> Result<web::Json<QueueCountsBody>, ApiError> {
    let counts = store::queue::counts(&state.pool).await?;
    Ok(web::Json(QueueCountsBody::from(counts)))
}

/// The author's other reviews.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorReviews {
    /// `email` when the review has the author's email and others were looked up by it; null
    /// when it has none (then `items` is empty).
    #[schema(required = true, value_type = Option<String>, example = "email")]
    pub matched_by: Option<&'static str>,
    /// Newest first, at most 10, any status.
    pub items: Vec<ModeratedReview>,
}

/// The author's other reviews.
///
/// The other reviews on the site with the same author email (compared without letter case),
/// newest first, at most 10: the context a moderator needs to tell a regular from a troll.
#[utoipa::path(
    tag = "moderation",
    params(("id" = Uuid, Path, description = "Review id")),
    security(("moderator_key" = []), ("admin_key" = [])),
    responses(
        (status = 200, description = "The author's other reviews", body = AuthorReviews),
        BadParameter, KeyRequired, ModeratedReviewNotFound, Unavailable,
    )
)]
#[get("/reviews/{id}/author-reviews")]
pub async fn author_reviews(
    state: SiteState,
    _caller: ApiCaller,
    ReviewIdPath(id): ReviewIdPath,
) -> Result<web::Json<AuthorReviews>, ApiError> {
    let (matched, rows) = store::queue::author_reviews(&state.pool, id)
        .await?
        .ok_or(store::StoreError::ReviewNotFound)?;
    Ok(web::Json(AuthorReviews {
        matched_by: matched.then_some("email"),
        items: ModeratedReview::all(rows, &state.pool, &state.moderation.newsroom_name).await?,
    }))
}

/// One entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntry {
    pub id: Uuid,
    pub review_id: Uuid,
    /// The article of the review.
    pub article_id: String,
    /// The API key's name, or `author`, `rules` (a held submission) or `flags` (the threshold).
    pub actor: String,
    /// approve, reject, spam, restore, hold, delete, dismiss_flags, submit, edit,
    /// flag_threshold, reply, remove_reply or erase.
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
            article_id: row.article_id,
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

/// An audit entry as a CSV row: reasons joined with spaces, texts made inert for spreadsheets.
#[derive(Debug, Serialize)]
struct LogCsvRow {
    id: Uuid,
    created_at: DateTime<Utc>,
    actor: String,
    action: String,
    review_id: Uuid,
    article_id: String,
    from_status: Option<String>,
    to_status: String,
    reasons: String,
    note: Option<String>,
}

impl From<LogRow> for LogCsvRow {
    fn from(row: LogRow) -> Self {
        let mut csv_row = Self {
            id: row.id,
            created_at: row.created_at,
            actor: row.actor,
            action: row.action,
            review_id: row.review_id,
            article_id: row.article_id,
            from_status: row.from_status,
            to_status: row.to_status,
            reasons: row.reasons.join(" "),
            note: row.note,
        };
        inert(&mut csv_row.actor);
        inert(&mut csv_row.article_id);
        if let Some(note) = csv_row.note.as_mut() {
            inert(note);
        }
        csv_row
    }
}

fn log_csv(rows: Vec<LogRow>, header: bool) -> Result<Bytes, String> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(header)
        .from_writer(Vec::new());
    for row in rows {
        writer
            .serialize(LogCsvRow::from(row))
            .map_err(|error| error.to_string())?;
    }
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|error| error.to_string())
}

/// One page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "items": [{
        "id": "019ab5d0-1111-7000-8000-000000000002",
        "review_id": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f",
        "article_id": "voa-2020-05-iskp-attacks",
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

/// Entries per batch of the CSV download.
const LOG_CSV_BATCH: i64 = 1_000;

/// The audit log.
///
/// Every status change, reply and erasure, newest first: who (the API key's name, `author`,
/// `rules` or `flags`), when, from, to, and why; filtered by review, article, actor, action and
/// time (`since` included, `until` excluded). `format=csv` answers every matching entry as one CSV
/// download, streamed in batches (a failure mid-stream ends it early, never silently).
#[utoipa::path(
    tag = "moderation",
    params(
        ("review_id" = Option<Uuid>, Query, description = "Only this review's entries"),
        ("article_id" = Option<ArticleId>, Query, description = "Only entries about this article's reviews"),
        ("actor" = Option<AuditFilter>, Query, description = "Only entries by this actor (an API key's name, `author`, `rules` or `flags`)"),
        ("action" = Option<AuditFilter>, Query, description = "Only entries of this action, e.g. `approve`"),
        ("since" = Option<DateTime<Utc>>, Query, description = "Only entries at or after this time (RFC 3339)"),
        ("until" = Option<DateTime<Utc>>, Query, description = "Only entries before this time (RFC 3339)"),
        ("format" = Option<LogFormat>, Query, description = "Default `json`"),
        ("limit" = Option<PageSize>, Query, description = "Entries per page (JSON only)"),
        ("cursor" = Option<Uuid>, Query, description = "`next_cursor` of the previous page (JSON only)"),
    ),
    security(("moderator_key" = []), ("admin_key" = [])),
    responses(
        (status = 200, description = "A page of the log, or all of it as CSV", content(
            (LogPage = "application/json"),
            (String = "text/csv"),
        )),
        BadParameter, KeyRequired, Unavailable,
    )
)]
#[get("/log")]
pub async fn audit_log(
    state: SiteState,
    caller: ApiCaller,
    LogQueryParams(query): LogQueryParams,
) -> Result<HttpResponse, ApiError> {
    if query.format == LogFormat::Json {
        let (rows, more) =
            store::queue::log(&state.pool, &query.filter, query.before, query.limit).await?;
        let next_cursor = rows.last().filter(|_| more).map(|row| row.id.to_string());
        return Ok(HttpResponse::Ok().json(LogPage {
            items: rows.into_iter().map(LogEntry::from).collect(),
            next_cursor,
        }));
    }
    // The first batch is read before answering, so an unavailable database is still a 503.
    let (first, _) = store::queue::log(&state.pool, &query.filter, None, LOG_CSV_BATCH).await?;
    tracing::info!(key = %caller.key_name, "audit log download started");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"marginalia-audit-log.csv\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(log_csv_batches(state.pool.clone(), query.filter, first)))
}

/// The CSV download of the log from its first batch on, each next batch read as the client
/// takes the previous one.
fn log_csv_batches(
    pool: Pool,
    filter: LogFilter,
    first: Vec<LogRow>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    keyset_batches(
        first,
        usize::try_from(LOG_CSV_BATCH).unwrap_or(0),
        |row: &LogRow| row.id,
        move |before| {
            let (pool, filter) = (pool.clone(), filter.clone());
            async move {
                store::queue::log(&pool, &filter, Some(before), LOG_CSV_BATCH)
                    .await
                    .map(|(rows, _)| rows)
            }
        },
        log_csv,
    )
}
