//! A review and the newsroom's reply as readers, the CMS and webhook receivers see them: built
//! from the public columns of a review (`PublicReviewRow`), so the author's email cannot appear.

use chrono::{DateTime, Utc};
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::ToSchema;
use uuid::Uuid;

use super::timestamps;
use crate::domain::page::Cursor;
use crate::domain::review::{Rating, ReviewStatus};
use crate::store::reviews::{PageRows, PublicReviewRef, PublicReviewRow, RowError};

/// A review as the public API shows it.
// Written as `ReviewJson`, which a page read in place writes too.
#[derive(Debug, Deserialize, ToSchema)]
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
    pub created_at: DateTime<Utc>,
    /// When the author last edited it; null if never.
    #[schema(required = true)]
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
#[derive(Debug, Deserialize, ToSchema)]
pub struct Reply {
    pub body: String,
    /// The newsroom (MARGINALIA_NEWSROOM_NAME), never the person or key that wrote it.
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A review's JSON, written from borrowed values: a `Review`'s, or a page's row read in place.
/// The one place a review's public representation is written, so the two cannot differ.
#[derive(Serialize)]
struct ReviewJson<'a> {
    id: Uuid,
    article_id: &'a str,
    rating: Option<i16>,
    title: Option<&'a str>,
    body: &'a str,
    author_name: Option<&'a str>,
    language: Option<&'a str>,
    status: ReviewStatus,
    #[serde(serialize_with = "timestamps::serialize")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamps::serialize_option")]
    edited_at: Option<DateTime<Utc>>,
    helpful_count: i32,
    unhelpful_count: i32,
    verified: bool,
    badges: &'a [String],
    reply: Option<ReplyJson<'a>>,
    in_reply_to: Option<Uuid>,
}

/// A reply's JSON (see `ReviewJson`).
#[derive(Serialize)]
struct ReplyJson<'a> {
    body: &'a str,
    author: &'a str,
    #[serde(serialize_with = "timestamps::serialize")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamps::serialize")]
    updated_at: DateTime<Utc>,
}

impl<'a> ReplyJson<'a> {
    fn of(reply: &'a Reply) -> Self {
        Self {
            body: &reply.body,
            author: &reply.author,
            created_at: reply.created_at,
            updated_at: reply.updated_at,
        }
    }
}

impl<'a> ReviewJson<'a> {
    fn of(review: &'a Review) -> Self {
        Self {
            id: review.id,
            article_id: &review.article_id,
            rating: review.rating,
            title: review.title.as_deref(),
            body: &review.body,
            author_name: review.author_name.as_deref(),
            language: review.language.as_deref(),
            status: review.status,
            created_at: review.created_at,
            edited_at: review.edited_at,
            helpful_count: review.helpful_count,
            unhelpful_count: review.unhelpful_count,
            verified: review.verified,
            badges: &review.badges,
            reply: review.reply.as_ref().map(ReplyJson::of),
            in_reply_to: review.in_reply_to,
        }
    }

    /// What `Review::new` makes of the same columns, borrowed from the row.
    fn of_row(row: &'a PublicReviewRef<'_>, newsroom: &'a str) -> Self {
        let reply = match (row.reply_body, row.reply_created_at, row.reply_updated_at) {
            (Some(body), Some(created_at), Some(updated_at)) => Some(ReplyJson {
                body,
                author: newsroom,
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
            status: row.status(),
            created_at: row.created_at,
            edited_at: row.edited_at,
            helpful_count: row.helpful_count,
            unhelpful_count: row.unhelpful_count,
            verified: row.reader_id.is_some(),
            badges: &row.reader_badges,
            reply,
            in_reply_to: row.in_reply_to,
        }
    }
}

impl From<ReviewJson<'_>> for Review {
    fn from(json: ReviewJson<'_>) -> Self {
        Self {
            id: json.id,
            article_id: json.article_id.to_owned(),
            rating: json.rating,
            title: json.title.map(str::to_owned),
            body: json.body.to_owned(),
            author_name: json.author_name.map(str::to_owned),
            language: json.language.map(str::to_owned),
            status: json.status,
            created_at: json.created_at,
            edited_at: json.edited_at,
            helpful_count: json.helpful_count,
            unhelpful_count: json.unhelpful_count,
            verified: json.verified,
            badges: json.badges.to_vec(),
            reply: json.reply.map(|reply| Reply {
                body: reply.body.to_owned(),
                author: reply.author.to_owned(),
                created_at: reply.created_at,
                updated_at: reply.updated_at,
            }),
            in_reply_to: json.in_reply_to,
        }
    }
}

impl Serialize for Review {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ReviewJson::of(self).serialize(serializer)
    }
}

impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ReplyJson::of(self).serialize(serializer)
    }
}

/// A page of reviews written straight from its rows, in the shape `ReviewPage` documents
/// (`items`, `next_cursor`): no `Review` is built, and no text copied, on the way to the JSON.
pub struct PageJson<'a> {
    rows: &'a PageRows,
    newsroom: &'a str,
}

impl<'a> PageJson<'a> {
    /// The page of `rows`, replies attributed to `newsroom`.
    pub fn new(rows: &'a PageRows, newsroom: &'a str) -> Self {
        Self { rows, newsroom }
    }
}

impl Serialize for PageJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut page = serializer.serialize_struct("ReviewPage", 2)?;
        page.serialize_field("items", &PageItems(self))?;
        page.serialize_field("next_cursor", &self.rows.next_cursor().map(Cursor::encode))?;
        page.end()
    }
}

/// A page's `items`.
struct PageItems<'a>(&'a PageJson<'a>);

/// Why writing an item stopped: its row could not be read, or the serializer failed.
enum ItemFailure<E> {
    Read(RowError),
    Write(E),
}

impl<E> From<RowError> for ItemFailure<E> {
    fn from(error: RowError) -> Self {
        Self::Read(error)
    }
}

impl Serialize for PageItems<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let PageJson { rows, newsroom } = self.0;
        let mut items = serializer.serialize_seq(Some(rows.len()))?;
        rows.try_for_each(|row| {
            items
                .serialize_element(&ReviewJson::of_row(row, newsroom))
                .map_err(ItemFailure::Write)
        })
        .map_err(|failure| match failure {
            ItemFailure::Read(error) => serde::ser::Error::custom(error),
            ItemFailure::Write(error) => error,
        })?;
        items.end()
    }
}

impl Review {
    /// The review of `row`; its reply is attributed to `newsroom`. Read as a page reads its rows
    /// (`ReviewJson::of_row`), so what a row means is decided in one place.
    pub fn new(row: &PublicReviewRow, newsroom: &str) -> Self {
        Self::from(ReviewJson::of_row(&row.borrowed(), newsroom))
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
    serde_json::to_value(ReviewJson::of_row(&row.borrowed(), newsroom))
        .unwrap_or(serde_json::Value::Null)
}

/// `event_json` as the submission statement binds it: straight to text, from the row as it is
/// (no copy of the row, no `Review`, no intermediate JSON tree on the hot path).
pub fn event_text(row: &PublicReviewRow, newsroom: &str) -> String {
    serde_json::to_string(&ReviewJson::of_row(&row.borrowed(), newsroom)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row with every column set (a reply, a verified reader with badges, an edit), and one
    /// with every optional column empty.
    fn rows() -> [PublicReviewRow; 2] {
        let at = |micros| DateTime::from_timestamp_micros(micros).unwrap();
        let full = PublicReviewRow {
            id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
            article_id: "voa-2020-05-iskp-attacks".into(),
            rating: 4,
            title: Some("Тверезий \"аналіз\"".into()),
            body: "Line one\nline two \u{1F4F0} \\ </script>".into(),
            author_name: Some("Олена К.".into()),
            language: Some("uk".into()),
            created_at: at(1_795_000_000_123_456),
            status: "published".into(),
            edited_at: Some(at(1_795_000_100_000_000)),
            helpful_count: 3,
            unhelpful_count: 1,
            reply_body: Some("Дякуємо!".into()),
            reply_created_at: Some(at(1_795_000_200_000_000)),
            reply_updated_at: Some(at(1_795_000_300_500_000)),
            reader_id: Some("reader-7".into()),
            reader_badges: vec!["subscriber".into(), "expert".into()],
            in_reply_to: Some(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002)),
        };
        let bare = PublicReviewRow {
            rating: 0,
            title: None,
            author_name: None,
            language: None,
            edited_at: None,
            reply_body: None,
            reply_created_at: None,
            reply_updated_at: None,
            reader_id: None,
            reader_badges: Vec::new(),
            in_reply_to: None,
            ..full.clone()
        };
        [full, bare]
    }

    /// A page read in place writes each review exactly as the `Review` of the same row.
    #[test]
    fn a_row_read_in_place_is_written_as_its_review() {
        for row in rows() {
            let built = serde_json::to_string(&Review::new(&row, "The Daily")).unwrap();
            let in_place = row.borrowed();
            let written =
                serde_json::to_string(&ReviewJson::of_row(&in_place, "The Daily")).unwrap();
            assert_eq!(written, built);
        }
    }

    /// The public representation's members, in order, as clients and the OpenAPI document know
    /// them.
    #[test]
    fn a_review_is_written_with_the_documented_members() {
        let [full, bare] = rows();
        assert_eq!(
            serde_json::to_string(&Review::new(&full, "The Daily")).unwrap(),
            concat!(
                r#"{"id":"01900000-0000-7000-8000-000000000001","article_id":"voa-2020-05-iskp-attacks","#,
                r#""rating":4,"title":"Тверезий \"аналіз\"","body":"Line one\nline two 📰 \\ </script>","#,
                r#""author_name":"Олена К.","language":"uk","status":"published","#,
                r#""created_at":"2026-11-18T11:06:40.123456Z","edited_at":"2026-11-18T11:08:20Z","#,
                r#""helpful_count":3,"unhelpful_count":1,"verified":true,"badges":["subscriber","expert"],"#,
                r#""reply":{"body":"Дякуємо!","author":"The Daily","created_at":"2026-11-18T11:10:00Z","#,
                r#""updated_at":"2026-11-18T11:11:40.500Z"},"#,
                r#""in_reply_to":"01900000-0000-7000-8000-000000000002"}"#
            )
        );
        let bare: serde_json::Value =
            serde_json::to_value(Review::new(&bare, "The Daily")).unwrap();
        for absent in [
            "rating",
            "title",
            "author_name",
            "language",
            "edited_at",
            "reply",
        ] {
            assert_eq!(bare[absent], serde_json::Value::Null, "{absent}");
        }
        assert_eq!(bare["verified"], false);
        assert_eq!(bare["badges"], serde_json::json!([]));
    }
}
