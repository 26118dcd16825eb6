//! The live streams (docs/live.md): a reader's stream of an article's public changes, and the
//! moderators' stream of their site's queue, as Server-Sent Events.

use actix_web::http::header;
use actix_web::{get, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{LastEventId, SiteState};
use super::responses::{ArticleNotFound, BadParameter, KeyRequired, TooManyStreams, Unavailable};
use super::reviews::require_known_articles;
use crate::auth::ApiCaller;
use crate::client::Client;
use crate::domain::article::ArticleId;
use crate::domain::review::ReviewStatus;
use crate::error::ApiError;
use crate::live::LiveStream;
use crate::views::moderation::{ModeratedReview, QueueCountsBody};
use crate::views::review::Review;
use crate::views::stats::ArticleStats;

/// The `data` of a reader's stream's events, by the event's name.
///
/// - `review.published` (a review became public: submitted, or approved), `review.updated` (its
///   text was edited), `review.replied` (the newsroom's reply was set, changed or removed): the
///   review, exactly as `GET /v1/articles/{article_id}/reviews` lists it. Each has an `id`.
/// - `review.removed`: a public review stopped being public (rejected, marked spam, deleted,
///   erased, held again): its id. Has an `id`.
/// - `stats`: the article's stats after the events just sent, as `GET …/stats` answers. No `id`.
/// - `reload`: the reader's `Last-Event-ID` is older than the resume window (or not this
///   database's): reload the reviews; the stream goes on from here. Has an `id`.
/// - `closing`: the node is stopping; the browser connects again by itself after the `retry:`
///   sent with it, and resumes.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ArticleLiveData {
    Review(Review),
    Removed(RemovedReview),
    Stats(ArticleStats),
    Notice(LiveNotice),
}

/// The `data` of a moderators' stream's events, by the event's name.
///
/// - `counts`: the queue's counts, as `GET /v1/moderation/counts` answers; first on connecting,
///   then after every change.
/// - `queue.item`: a review that entered one of the queue's tabs (pending; spam; published and
///   flagged) or changed there, exactly as `GET /v1/moderation/queue` lists it.
/// - `queue.settled`: a review that left the queue's tabs, and its status now.
/// - `closing`: the node is stopping (`draining`: connect again), or the key was revoked
///   (`revoked`: do not).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum QueueLiveData {
    Counts(QueueCountsBody),
    Item(Box<ModeratedReview>),
    Settled(SettledReview),
    Notice(LiveNotice),
}

/// A review that left the public list.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f"}))]
// Nothing but these fields: tells it apart from the other events' data.
#[serde(deny_unknown_fields)]
pub struct RemovedReview {
    pub id: Uuid,
}

/// A review that left the moderators' queue.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f", "status": "published"}))]
// Nothing but these fields: tells it apart from the other events' data.
#[serde(deny_unknown_fields)]
pub struct SettledReview {
    pub id: Uuid,
    pub status: ReviewStatus,
}

/// Why the stream asks the client to reload or ends.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"reason": "draining"}))]
// Nothing but these fields: tells it apart from the other events' data.
#[serde(deny_unknown_fields)]
pub struct LiveNotice {
    pub reason: String,
}

/// An article's live changes.
///
/// A Server-Sent Events stream (`text/event-stream`) of what happens to the article's public
/// reviews, through any node: see `ArticleLiveData` for each event. Only what a public read shows
/// is ever sent; a held review never appears. A keep-alive comment comes every
/// `MARGINALIA_LIVE_HEARTBEAT_SECS`. A browser's `EventSource` reconnects by itself and sends
/// `Last-Event-ID`, and the stream resumes after it with nothing lost or repeated, within the
/// resume window (`MARGINALIA_LIVE_WINDOW_SECS`); further back it sends `reload`. Where a proxy
/// does not stream, poll the reviews and stats with `If-None-Match` instead (docs/live.md).
#[utoipa::path(
    tag = "live",
    params(
        ("article_id" = ArticleId, Path, description = "The article's id"),
        ("Last-Event-ID" = Option<String>, Header, description = "The `id` of the last event received, to resume after it (sent by browsers on reconnecting)"),
    ),
    responses(
        (status = 200, description = "The stream, until the client or the node ends it", content_type = "text/event-stream", body = ArticleLiveData),
        BadParameter, ArticleNotFound, TooManyStreams, Unavailable,
    )
)]
#[get("/live")]
pub async fn article_live(
    state: SiteState,
    article_id: ArticleId,
    last_event_id: LastEventId,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let client = Client::of_request(&req)?;
    require_known_articles(&state, &[article_id.as_str()]).await?;
    let newsroom = &state.moderation.newsroom_name;
    let stream = state
        .live
        .subscribe_article(
            &state.pool,
            newsroom,
            article_id.as_str(),
            client.address,
            last_event_id.0,
        )
        .await?;
    Ok(event_stream(stream))
}

/// The moderators' live queue.
///
/// A Server-Sent Events stream (`text/event-stream`) of the site's moderation queue: its counts
/// and the reviews entering, changing in or leaving it, through any node (see `QueueLiveData`).
/// Authenticated like every moderation operation, with the key in the `Authorization` header,
/// never in the URL (so a browser reads it with `fetch`, not `EventSource`); the stream ends with
/// `closing` (`revoked`) soon after the key is revoked. Reconnect after the stream ends and read
/// the queue again: moderators' events are not resumed.
#[utoipa::path(
    tag = "live",
    security(("moderator_key" = []), ("admin_key" = [])),
    responses(
        (status = 200, description = "The stream, until the client or the node ends it", content_type = "text/event-stream", body = QueueLiveData),
        KeyRequired, TooManyStreams, Unavailable,
    )
)]
#[get("/live")]
pub async fn queue_live(
    state: SiteState,
    caller: ApiCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let client = Client::of_request(&req)?;
    let newsroom = &state.moderation.newsroom_name;
    let stream = state
        .live
        .subscribe_queue(&state.pool, newsroom, client.address, caller.key_digest)
        .await?;
    Ok(event_stream(stream))
}

/// The streaming answer: never cached, never buffered by a proxy that honours
/// `X-Accel-Buffering`, never compressed (compression would hold events back).
fn event_stream(stream: LiveStream) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/event-stream; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .streaming(stream.into_body())
}
