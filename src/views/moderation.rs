//! What moderators see of a review: everything public, its true status, the author's email, the
//! rules' reasons and the readers' flags. Sent by the queue's operations and the moderators' live
//! stream.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::review::Review;
use crate::db::Pool;
use crate::store::queue::{FlagRow, QueueCounts, QueueRow};
use crate::store::{self, StoreError};

/// A review as moderators see it: the public fields, its true status, the author's email, why
/// the rules or readers held it, and how often it was flagged.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModeratedReview {
    #[serde(flatten)]
    pub review: Review,
    /// The article's headline as the CMS registered it; null when it gave none.
    #[schema(required = true)]
    pub article_title: Option<String>,
    /// Never shown publicly.
    #[schema(required = true)]
    pub author_email: Option<String>,
    /// The id the site's login knows a signed-in author by (docs/readers.md); null: anonymous.
    /// Never shown publicly.
    #[schema(required = true)]
    pub reader_id: Option<String>,
    /// Reason codes of the automatic decisions about it.
    pub reasons: Vec<String>,
    pub flag_count: i32,
    /// The readers' flags not yet dismissed or cleared by an approval: the newest 20 (of
    /// `flag_count`), newest first.
    #[schema(max_items = 20)]
    pub flags: Vec<ReaderFlag>,
    pub updated_at: DateTime<Utc>,
    /// When the author's data was erased on request; null if never.
    #[schema(required = true)]
    pub erased_at: Option<DateTime<Utc>>,
}

/// A reader's flag as moderators see it: why, and the reader's note; never who or from where.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "reason": "misinformation",
    "note": "The casualty figure was corrected in the article yesterday.",
    "created_at": "2026-11-26T10:30:00Z"
}))]
pub struct ReaderFlag {
    /// spam, abuse, off_topic, misinformation, personal_data or other.
    pub reason: String,
    #[schema(required = true)]
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<FlagRow> for ReaderFlag {
    fn from(row: FlagRow) -> Self {
        Self {
            reason: row.reason,
            note: row.note,
            created_at: row.created_at,
        }
    }
}

impl ModeratedReview {
    pub fn new(
        QueueRow {
            review,
            article_title,
        }: QueueRow,
        flags: Vec<FlagRow>,
        newsroom: &str,
    ) -> Self {
        let reader_id = review.public.reader_id.clone();
        Self {
            review: Review::new(&review.public, newsroom),
            article_title,
            author_email: review.author_email,
            reader_id,
            reasons: review.reasons,
            flag_count: review.flag_count,
            flags: flags.into_iter().map(ReaderFlag::from).collect(),
            updated_at: review.updated_at,
            erased_at: review.erased_at,
        }
    }

    /// The rows with their flags (read only for the rows that have any).
    pub async fn all(
        rows: Vec<QueueRow>,
        pool: &Pool,
        newsroom: &str,
    ) -> Result<Vec<Self>, StoreError> {
        let flagged: Vec<Uuid> = rows
            .iter()
            .filter(|row| row.review.flag_count > 0)
            .map(|row| row.review.public.id)
            .collect();
        let mut flags = store::queue::flags_of(pool, &flagged).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let own = flags.remove(&row.review.public.id).unwrap_or_default();
                Self::new(row, own, newsroom)
            })
            .collect())
    }
}

/// How many reviews wait in each of the console's tabs.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"pending": 3, "flagged": 1, "spam": 0}))]
pub struct QueueCountsBody {
    /// Reviews in status `pending`.
    #[schema(maximum = 10000)]
    pub pending: i64,
    /// Published reviews readers flagged at least once.
    #[schema(maximum = 10000)]
    pub flagged: i64,
    /// Reviews in status `spam`.
    #[schema(maximum = 10000)]
    pub spam: i64,
}

impl From<QueueCounts> for QueueCountsBody {
    fn from(
        QueueCounts {
            pending,
            flagged,
            spam,
        }: QueueCounts,
    ) -> Self {
        Self {
            pending,
            flagged,
            spam,
        }
    }
}
