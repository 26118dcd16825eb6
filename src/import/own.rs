//! Marginalia's own export (`GET /v1/exports/reviews?format=ndjson`): one review per line, with
//! everything needed for an installation that imports it to read the same.
//!
//! Fields added to the export over time (`article_title`, `in_reply_to`, the reply's dates, the
//! reader's id and badges) may be absent: older exports still import.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use super::file::{json_error, NdJson};
use super::source::{
    OwnFields, OwnReply, ParseError, Record, Records, SourceItem, SourceState, SourceText,
    SourceThread,
};
use crate::domain::review::ReviewStatus;

/// Reads the Marginalia export at `path` (gzipped or plain).
pub fn open(path: &Path) -> Result<Records, ParseError> {
    Ok(Box::new(NdJson::open(path, parse_line)?))
}

#[derive(Deserialize)]
struct Line {
    id: Uuid,
    article_id: String,
    #[serde(default)]
    article_title: Option<String>,
    #[serde(default)]
    article_url: Option<String>,
    #[serde(default)]
    in_reply_to: Option<Uuid>,
    #[serde(default, deserialize_with = "rating")]
    rating: Option<i16>,
    #[serde(default)]
    title: Option<String>,
    body: String,
    #[serde(default)]
    author_name: Option<String>,
    #[serde(default)]
    author_email: Option<String>,
    #[serde(default)]
    language: Option<String>,
    status: ReviewStatus,
    #[serde(default)]
    reasons: String,
    #[serde(default)]
    helpful_count: i32,
    #[serde(default)]
    unhelpful_count: i32,
    #[serde(default)]
    flag_count: i32,
    #[serde(default)]
    reply: Option<String>,
    #[serde(default)]
    reply_created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    reply_updated_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    edited_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    erased_at: Option<DateTime<Utc>>,
    #[serde(default)]
    reader_id: Option<String>,
    #[serde(default)]
    reader_badges: String,
}

/// Where a review of our own export stood, read as the import reads any source's comment.
fn state_of(status: ReviewStatus) -> SourceState {
    match status {
        ReviewStatus::Pending => SourceState::Pending,
        ReviewStatus::Published => SourceState::Published,
        ReviewStatus::Rejected => SourceState::Rejected,
        ReviewStatus::Spam => SourceState::Spam,
        ReviewStatus::Deleted => SourceState::Deleted,
    }
}

/// Stars 1 to 5, or null; checked while parsing so that the error points at the value.
fn rating<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i16>, D::Error> {
    let rating = Option::<i16>::deserialize(deserializer)?;
    match rating {
        Some(stars) if !(1..=5).contains(&stars) => Err(serde::de::Error::custom(format!(
            "rating {stars} is not from 1 to 5"
        ))),
        _ => Ok(rating),
    }
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

fn parse_line(number: u64, bytes: &[u8]) -> Result<Option<Record>, ParseError> {
    let line: Line = serde_json::from_slice(bytes).map_err(|e| json_error(&e, number, bytes))?;
    // A reply without its own dates comes from an export older than those fields: the review's
    // last update is the best date it has.
    let reply = line.reply.map(|body| {
        let created_at = line.reply_created_at.unwrap_or(line.updated_at);
        OwnReply {
            body,
            created_at,
            updated_at: line.reply_updated_at.unwrap_or(created_at),
        }
    });
    let own = OwnFields {
        id: line.id,
        status: line.status.as_str().to_owned(),
        reasons: words(&line.reasons),
        language: line.language,
        helpful_count: line.helpful_count,
        unhelpful_count: line.unhelpful_count,
        flag_count: line.flag_count,
        reply,
        edited_at: line.edited_at,
        updated_at: line.updated_at,
        erased_at: line.erased_at,
        reader_id: line.reader_id,
        reader_badges: words(&line.reader_badges),
    };
    Ok(Some(Record::Item(Box::new(SourceItem {
        source_id: line.id.to_string(),
        thread: SourceThread {
            identifier: Some(line.article_id),
            url: line.article_url,
            title: line.article_title,
        },
        parent_id: line.in_reply_to.map(|id| id.to_string()),
        author_name: line.author_name,
        author_email: line.author_email,
        text: SourceText::Plain(line.body),
        title: line.title,
        rating: line.rating,
        created_at: line.created_at,
        state: state_of(line.status),
        own: Some(Box::new(own)),
    }))))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::source::{ParseError, SourceItem, SourceState, SourceText};
    use super::open;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/marginalia.ndjson"
    );

    fn items(path: &std::path::Path) -> Result<Vec<SourceItem>, ParseError> {
        super::super::test_support::items(open(path))
    }

    fn uuid(n: u64) -> String {
        format!("0190c3a0-0000-7000-8000-{n:012}")
    }

    #[test]
    fn fixture_items() {
        let items = items(FIXTURE.as_ref()).unwrap();
        let ids: Vec<String> = items.iter().map(|i| i.source_id.clone()).collect();
        assert_eq!(ids, [1, 3, 2, 4, 5, 6, 7, 8].map(uuid));
        let by = |n: u64| items.iter().find(|i| i.source_id == uuid(n)).unwrap();

        let first = by(1);
        assert_eq!(
            first.thread.identifier.as_deref(),
            Some("voa-2020-05-iskp-attacks")
        );
        assert!(first
            .thread
            .url
            .as_deref()
            .unwrap()
            .ends_with("claims-deadly-attacks"));
        assert!(first.thread.title.as_deref().unwrap().starts_with("Pushed"));
        assert_eq!(first.rating, Some(4));
        assert_eq!(first.title.as_deref(), Some("Тверезий аналіз"));
        assert!(matches!(&first.text, SourceText::Plain(b) if b.starts_with("Стаття пояснює")));
        assert_eq!(first.state, SourceState::Published);
        let own = first.own.as_deref().unwrap();
        assert_eq!(own.id.to_string(), uuid(1));
        assert_eq!(own.status, "published");
        assert_eq!(
            (own.helpful_count, own.unhelpful_count, own.flag_count),
            (3, 1, 0)
        );
        assert_eq!(own.language.as_deref(), Some("uk"));
        let reply = own.reply.as_ref().unwrap();
        assert_eq!(reply.body, "Дякуємо, карту додамо.");
        assert_eq!(reply.created_at.to_rfc3339(), "2020-05-14T15:00:00+00:00");
        assert_eq!(reply.updated_at.to_rfc3339(), "2020-05-14T15:30:00+00:00");
        assert_eq!(
            own.edited_at.unwrap().to_rfc3339(),
            "2020-05-14T10:20:00+00:00"
        );
        assert_eq!(own.reader_id.as_deref(), Some("reader-42"));
        assert_eq!(own.reader_badges, ["subscriber", "verified"]);
        assert!(own.reasons.is_empty());

        assert_eq!(by(3).parent_id, Some(uuid(2)));
        assert_eq!(by(2).parent_id, Some(uuid(1)));
        assert_eq!(by(2).rating, None);
        let guest = by(4);
        assert_eq!(guest.author_email, None);
        assert_eq!(
            guest.text,
            SourceText::Plain("<script>alert(1)</script> مقالة جيدة جداً".into())
        );
        let spam = by(5);
        assert_eq!(spam.state, SourceState::Spam);
        assert_eq!(
            spam.own.as_deref().unwrap().reasons,
            ["link_spam", "duplicate"]
        );
        let deleted = by(6);
        assert_eq!(deleted.state, SourceState::Deleted);
        assert_eq!(
            (deleted.thread.url.clone(), deleted.thread.title.clone()),
            (None, None)
        );
        assert!(deleted.own.as_deref().unwrap().erased_at.is_some());
        assert_eq!(by(7).parent_id, Some(uuid(99)));
        assert_eq!(by(7).state, SourceState::Pending);
        // An export from before the newer fields.
        let old = by(8);
        assert_eq!(old.state, SourceState::Rejected);
        let own = old.own.as_deref().unwrap();
        assert_eq!(own.status, "rejected");
        assert_eq!(own.reasons, ["off_topic"]);
        let reply = own.reply.as_ref().unwrap();
        assert_eq!(reply.created_at.to_rfc3339(), "2020-03-23T08:00:00+00:00");
        assert_eq!(reply.updated_at, reply.created_at);
        assert!(own.reader_badges.is_empty() && own.reader_id.is_none());
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let good = std::fs::read_to_string(FIXTURE).unwrap();
        let first = good.lines().next().unwrap();
        let cases = [
            (
                first.replace("\"rating\":4", "\"rating\":7"),
                310,
                "rating 7",
            ),
            (
                first.replace("\"status\":\"published\"", "\"status\":\"hidden\""),
                0,
                "unknown variant `hidden`",
            ),
            (
                first.replace("\"body\":", "\"text\":"),
                0,
                "missing field `body`",
            ),
            (first.replace("\"id\":\"0190c3a0", "\"id\":\"zz"), 0, "UUID"),
        ];
        for (line, column, message) in cases {
            let mut file = tempfile::NamedTempFile::new().unwrap();
            write!(file, "{first}\n\n{line}\n").unwrap();
            let error = items(file.path()).unwrap_err();
            assert_eq!(error.line, Some(3), "{error}");
            if column > 0 {
                assert_eq!(error.column, Some(column), "{error}");
            }
            assert!(error.message.contains(message), "{message}: {error}");
        }
    }
}
