//! Signed-in readers as moderators see them: standing and history, and suspensions. Every
//! operation needs an API key with scope `moderator` or `admin`.

use actix_web::{delete, get, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{Checked, CheckedBody, ReaderIdPath, SiteState};
use super::responses::{BadBody, BadParameter, KeyRequired, Unavailable};
use crate::auth::ApiCaller;
use crate::domain::trust::Suspension;
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::services;
use crate::views::reader::{ReaderStanding, SuspensionBody};

/// A reader's standing and history.
///
/// What the site knows of a signed-in reader (by the id its login gives them, never shown
/// publicly): their reviews on the site by status and the newest 20 of them, the suspension in
/// force, and the record of suspensions. A reader the site has never seen has no reviews.
#[utoipa::path(
    tag = "moderation",
    params(("reader_id" = String, Path, description = "The reader's id in the site's login (a token's `sub`)")),
    security(("moderator_key" = []), ("admin_key" = [])),
    responses(
        (status = 200, description = "The reader's standing", body = ReaderStanding),
        BadParameter, KeyRequired, Unavailable,
    )
)]
#[get("/readers/{reader_id}")]
pub async fn reader_standing(
    state: SiteState,
    _caller: ApiCaller,
    ReaderIdPath(reader_id): ReaderIdPath,
) -> Result<web::Json<ReaderStanding>, ApiError> {
    Ok(web::Json(
        services::readers::standing(&state, &reader_id).await?,
    ))
}

/// A suspension asked for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "until": "2026-12-31T00:00:00Z",
    "reason": "Repeated personal attacks on other readers."
}))]
pub struct SuspendRequest {
    /// When it ends (in the future); null or left out: for good.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Kept in the reader's record and sent with `reader.suspended`.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
}

impl CheckedBody for Suspension {
    type Body = SuspendRequest;
    fn check(body: SuspendRequest) -> Result<Self, Vec<FieldError>> {
        Suspension::parse(body.until, body.reason.as_deref(), Utc::now())
    }
}

/// Suspend a reader.
///
/// From their next request on, on every node, the reader's submissions, votes and flags are
/// refused with a 403 `reader-suspended`; their published reviews stay as they are (moderate them
/// as usual). Replaces a suspension in force. Recorded with the key's name and announced as
/// `reader.suspended`.
#[utoipa::path(
    tag = "moderation",
    params(("reader_id" = String, Path, description = "The reader's id in the site's login (a token's `sub`)")),
    request_body(content = SuspendRequest, content_type = "application/json"),
    security(("moderator_key" = []), ("admin_key" = [])),
    responses(
        (status = 200, description = "Suspended", body = SuspensionBody),
        BadBody, KeyRequired, Unavailable,
    )
)]
#[put("/readers/{reader_id}/suspension")]
pub async fn suspend_reader(
    state: SiteState,
    caller: ApiCaller,
    ReaderIdPath(reader_id): ReaderIdPath,
    Checked(suspension): Checked<Suspension>,
) -> Result<web::Json<SuspensionBody>, ApiError> {
    let row = services::readers::suspend(&state, &caller.key_name, &reader_id, &suspension).await?;
    Ok(web::Json(row.into()))
}

/// Lift a reader's suspension.
///
/// The reader may write again at once. Recorded and announced as `reader.reinstated`; lifting
/// a suspension that does not exist changes nothing.
#[utoipa::path(
    tag = "moderation",
    params(("reader_id" = String, Path, description = "The reader's id in the site's login (a token's `sub`)")),
    security(("moderator_key" = []), ("admin_key" = [])),
    responses(
        (status = 204, description = "Lifted (or there was none)"),
        BadParameter, KeyRequired, Unavailable,
    )
)]
#[delete("/readers/{reader_id}/suspension")]
pub async fn reinstate_reader(
    state: SiteState,
    caller: ApiCaller,
    ReaderIdPath(reader_id): ReaderIdPath,
) -> Result<HttpResponse, ApiError> {
    services::readers::reinstate(&state, &caller.key_name, &reader_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
