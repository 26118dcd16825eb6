//! What moderators and the newsroom's CMS see of a verified reader: their standing, history and
//! suspension, and the `reader.*` events.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::moderation::ModeratedReview;
use crate::domain::review::ReviewStatus as Status;
use crate::store::readers::{ReaderHistory, ReaderLogRow, SuspensionRow};

/// A suspension in force.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "until": "2026-12-31T00:00:00Z",
    "reason": "Repeated personal attacks on other readers.",
    "actor": "night-desk",
    "created_at": "2026-12-06T10:00:00Z"
}))]
pub struct SuspensionBody {
    /// When it ends; null: for good.
    #[schema(required = true)]
    pub until: Option<DateTime<Utc>>,
    pub reason: String,
    /// The name of the key that suspended the reader.
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

impl From<SuspensionRow> for SuspensionBody {
    fn from(row: SuspensionRow) -> Self {
        Self {
            until: row.until,
            reason: row.reason,
            actor: row.actor,
            created_at: row.created_at,
        }
    }
}

/// One entry of a reader's record.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReaderLogEntry {
    /// `suspend` or `reinstate`.
    pub action: String,
    /// A suspension's end; null: for good, or a reinstatement.
    #[schema(required = true)]
    pub until: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub reason: Option<String>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

impl From<ReaderLogRow> for ReaderLogEntry {
    fn from(row: ReaderLogRow) -> Self {
        Self {
            action: row.action,
            until: row.until,
            reason: row.reason,
            actor: row.actor,
            created_at: row.created_at,
        }
    }
}

/// A reader's reviews on the site, by status.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"pending": 1, "published": 4, "rejected": 1, "spam": 0, "deleted": 0}))]
pub struct ReaderReviewCounts {
    pub pending: i64,
    pub published: i64,
    pub rejected: i64,
    pub spam: i64,
    pub deleted: i64,
}

/// A verified reader as moderators see them: their reviews on the site, whether they are
/// suspended, and the record of suspensions.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReaderStanding {
    pub reader_id: String,
    pub reviews: ReaderReviewCounts,
    /// The suspension in force; null: none.
    #[schema(required = true)]
    pub suspension: Option<SuspensionBody>,
    /// Their newest reviews, any status, at most 20.
    #[schema(max_items = 20)]
    pub recent: Vec<ModeratedReview>,
    /// Suspensions and reinstatements, newest first, at most 20.
    #[schema(max_items = 20)]
    pub log: Vec<ReaderLogEntry>,
}

impl ReaderStanding {
    pub fn new(reader_id: String, history: ReaderHistory, recent: Vec<ModeratedReview>) -> Self {
        let count = |wanted: Status| {
            history
                .counts
                .iter()
                .find(|(status, _)| *status == wanted)
                .map_or(0, |(_, count)| *count)
        };
        Self {
            reader_id,
            reviews: ReaderReviewCounts {
                pending: count(Status::Pending),
                published: count(Status::Published),
                rejected: count(Status::Rejected),
                spam: count(Status::Spam),
                deleted: count(Status::Deleted),
            },
            suspension: history.suspension.map(SuspensionBody::from),
            recent,
            log: history.log.into_iter().map(ReaderLogEntry::from).collect(),
        }
    }
}

/// The data of a `reader.*` event.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReaderEventData {
    /// The id the site's login knows the reader by.
    pub reader_id: String,
    /// Whether the reader is suspended after this change.
    pub suspended: bool,
    /// A suspension's end; null: for good, or a reinstatement.
    #[schema(required = true)]
    pub until: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The name of the key that made the change.
    pub actor: String,
}

/// A moderator suspended a reader or lifted the suspension.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "reader.suspended",
    "timestamp": "2026-12-06T10:00:00Z",
    "site_id": "uk",
    "data": {"reader_id": "wp-17", "suspended": true, "until": "2026-12-31T00:00:00Z",
             "reason": "Repeated personal attacks on other readers.", "actor": "night-desk"}
}))]
pub struct ReaderEvent {
    /// `reader.suspended` or `reader.reinstated`.
    #[serde(rename = "type")]
    #[schema(value_type = crate::domain::webhook::EventType)]
    pub event_type: String,
    pub timestamp: DateTime<Utc>,
    pub site_id: String,
    pub data: ReaderEventData,
}
