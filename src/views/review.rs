//! A review and the newsroom's reply as readers, the CMS and webhook receivers see them: built
//! from the public columns of a review (`PublicReviewRow`), so the author's email cannot appear.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::timestamps;
use crate::domain::review::{Rating, ReviewStatus};
use crate::store::reviews::PublicReviewRow;

/// A review as the public API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f",
    "article_id": "voa-2020-05-iskp-attacks",
    "rating": 4,
    "title": "Тверезий аналіз",
    "body": "Стаття добре пояснює, чому ІДІЛ-Хорасан не можна вважати переможеним.",
    "author_name": "Олена К.",
    "language": "uk",
    "status": "published",
    "created_at": "2026-11-25T19:00:00Z",
    "edited_at": null,
    "helpful_count": 3,
    "unhelpful_count": 0,
    "verified": true,
    "badges": ["subscriber"],
    "reply": {"body": "Дякуємо! Мапу провінції додали до статті.", "author": "The newsroom",
              "created_at": "2026-11-25T20:00:00Z", "updated_at": "2026-11-25T20:00:00Z"},
    "in_reply_to": null
}))]
pub struct Review {
    /// UUIDv7: sorts by creation time.
    pub id: Uuid,
    pub article_id: String,
    /// Stars; null for feedback without (comments imported from other systems, or a site's
    /// `unrated_reviews`).
    #[schema(value_type = Option<Rating>, required = true)]
    pub rating: Option<i16>,
    /// The review's headline; null when it has none.
    #[schema(required = true)]
    pub title: Option<String>,
    pub body: String,
    /// The name shown with the review; null when the reader gave none.
    #[schema(required = true)]
    pub author_name: Option<String>,
    /// BCP 47 tag; null when it was neither given nor reliably detected.
    #[schema(required = true)]
    pub language: Option<String>,
    /// `published` in every public read. To its author (a new review, or a read with its edit
    /// token), `pending` while it awaits moderation.
    pub status: ReviewStatus,
    #[serde(serialize_with = "timestamps::serialize")]
    pub created_at: DateTime<Utc>,
    /// When the author last edited it; null if never.
    #[schema(required = true)]
    #[serde(serialize_with = "timestamps::serialize_option")]
    pub edited_at: Option<DateTime<Utc>>,
    /// Readers who found it helpful.
    pub helpful_count: i32,
    /// Readers who did not.
    pub unhelpful_count: i32,
    /// Written by a reader the site's own login vouched for (docs/readers.md); false: anonymous.
    // Answers remembered for an `Idempotency-Key` before readers existed have neither member.
    #[serde(default)]
    pub verified: bool,
    /// The badges the site granted that reader when they wrote it (`subscriber`, `staff`,
    /// `expert`, …); empty for an anonymous review.
    #[schema(max_items = 10)]
    #[serde(default)]
    pub badges: Vec<String>,
    /// The newsroom's public reply; null when there is none.
    #[schema(required = true)]
    pub reply: Option<Reply>,
    /// The review this one answers, on the same article (a reply kept from an imported comment
    /// thread, docs/import.md); null for a review of the article itself.
    #[schema(required = true)]
    // Answers remembered for an `Idempotency-Key` before reply chains existed have no member.
    #[serde(default)]
    pub in_reply_to: Option<Uuid>,
}

/// The newsroom's reply to a review.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Reply {
    pub body: String,
    /// The newsroom (MARGINALIA_NEWSROOM_NAME), never the person or key that wrote it.
    pub author: String,
    #[serde(serialize_with = "timestamps::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamps::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl Review {
    /// The review of `row`; its reply is attributed to `newsroom`.
    pub fn new(row: PublicReviewRow, newsroom: &str) -> Self {
        let status = row.status();
        let reply = match (row.reply_body, row.reply_created_at, row.reply_updated_at) {
            (Some(body), Some(created_at), Some(updated_at)) => Some(Reply {
                body,
                author: newsroom.to_owned(),
                created_at,
                updated_at,
            }),
            _ => None,
        };
        Self {
            id: row.id,
            article_id: row.article_id,
            rating: Rating::from_stored(row.rating),
            title: row.title,
            body: row.body,
            author_name: row.author_name,
            language: row.language,
            status,
            created_at: row.created_at,
            edited_at: row.edited_at,
            helpful_count: row.helpful_count,
            unhelpful_count: row.unhelpful_count,
            verified: row.reader_id.is_some(),
            badges: row.reader_badges,
            reply,
            in_reply_to: row.in_reply_to,
        }
    }

    /// As its author is shown it: every status that is not public reads `pending`.
    pub fn seen_by_author(mut self) -> Self {
        self.status = self.status.as_seen_by_author();
        self
    }
}

/// The event data of a review: what the public reads show, with its true status (the receiver
/// is the newsroom's own system); its reply is attributed to `newsroom`.
pub fn event_json(row: &PublicReviewRow, newsroom: &str) -> serde_json::Value {
    serde_json::to_value(Review::new(row.clone(), newsroom)).unwrap_or(serde_json::Value::Null)
}
