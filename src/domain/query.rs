//! The query strings of the editors' reads (the audit log, exports, a stats series), parsed into
//! typed queries, and the parameter rules they share with the moderation queue.
//!
//! Each `from_pairs` takes the decoded name/value pairs: a repeated, unknown or malformed
//! parameter is a `FieldError` naming it, and the caller answers them all at once.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::article::ArticleId;
use super::field_error::{read_query_pairs, valid_unless};
use super::moderation::{AuditFilter, ReasonCode};
use super::page::PageSize;
use super::review::{AuthorEmail, ReviewStatus};
use super::stats::DayRange;
use super::text::LanguageTag;
use super::{FieldError, FieldErrorCode};

/// A `status` query parameter.
pub fn status_parameter(value: &str, errors: &mut Vec<FieldError>) -> Option<ReviewStatus> {
    let status = ReviewStatus::from_stored(value);
    if status.is_none() {
        errors.push(FieldError::new(
            "status",
            FieldErrorCode::Enum,
            "must be one of pending, published, rejected, spam, deleted",
        ));
    }
    status
}

/// An `article_id` query parameter.
pub fn article_parameter(value: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    ArticleId::parse(value, "article_id")
        .map(|id| id.as_str().to_owned())
        .map_err(|error| errors.push(error))
        .ok()
}

/// A time query parameter (RFC 3339).
pub fn time_parameter(
    field: &str,
    value: &str,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(value).ok();
    if parsed.is_none() {
        errors.push(FieldError::new(
            field,
            FieldErrorCode::Format,
            "must be an RFC 3339 time such as 2026-11-01T00:00:00Z",
        ));
    }
    parsed.map(|time| time.with_timezone(&Utc))
}

/// A `true`/`false` query parameter.
pub fn bool_parameter(field: &str, value: &str, errors: &mut Vec<FieldError>) -> Option<bool> {
    match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            errors.push(FieldError::new(
                field,
                FieldErrorCode::Type,
                "must be true or false",
            ));
            None
        }
    }
}

/// A language query parameter: a BCP 47 tag, compared in its conventional case.
pub fn language_parameter(value: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    LanguageTag::parse(value)
        .map(|tag| tag.as_str().to_owned())
        .map_err(|rule| errors.push(FieldError::broke("language", &rule)))
        .ok()
}

/// A `cursor` query parameter: the `next_cursor` (an id) of an earlier page.
pub fn cursor_parameter(value: &str, errors: &mut Vec<FieldError>) -> Option<Uuid> {
    let parsed = Uuid::try_parse(value).ok();
    if parsed.is_none() {
        errors.push(FieldError::new(
            "cursor",
            FieldErrorCode::Format,
            "must be the next_cursor of an earlier page",
        ));
    }
    parsed
}

/// A `limit` query parameter; the default page size when it is malformed (the error says so).
pub fn limit_parameter(value: &str, errors: &mut Vec<FieldError>) -> i64 {
    PageSize::parse(value)
        .map_err(|error| errors.push(error))
        .map_or(PageSize::DEFAULT, PageSize::get)
}

/// An audit filter parameter (`actor`, `action`).
fn audit_parameter(field: &str, value: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    AuditFilter::parse(value)
        .map(AuditFilter::into_inner)
        .map_err(|rule| errors.push(FieldError::broke(field, &rule)))
        .ok()
}

/// The pairs read by `read`, or every error found in them.
fn read_all<'a, T>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    mut query: T,
    mut read: impl FnMut(&mut T, &'a str, &'a str, &mut Vec<FieldError>) -> bool,
) -> Result<T, Vec<FieldError>> {
    let mut errors = Vec::new();
    read_query_pairs(pairs, &mut errors, |name, value, errors| {
        read(&mut query, name, value, errors)
    });
    valid_unless(errors, query)
}

/// What the queue shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFilter {
    pub status: ReviewStatus,
    pub article_id: Option<String>,
    pub reason: Option<ReasonCode>,
    pub language: Option<String>,
    /// Only reviews readers flagged at least once.
    pub flagged: bool,
    pub after: Option<Uuid>,
    pub limit: i64,
}

impl QueueFilter {
    /// The queue's query: the `pending` reviews, a default page, unless the parameters say more.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<FieldError>> {
        let filter = Self {
            status: ReviewStatus::Pending,
            article_id: None,
            reason: None,
            language: None,
            flagged: false,
            after: None,
            limit: PageSize::DEFAULT,
        };
        read_all(pairs, filter, |filter, name, value, errors| {
            match name {
                "status" => {
                    if let Some(status) = status_parameter(value, errors) {
                        filter.status = status;
                    }
                }
                "article_id" => filter.article_id = article_parameter(value, errors),
                "reason" => filter.reason = reason_parameter(value, errors),
                "language" => filter.language = language_parameter(value, errors),
                "flagged" => {
                    filter.flagged = bool_parameter("flagged", value, errors).unwrap_or(false);
                }
                "cursor" => filter.after = cursor_parameter(value, errors),
                "limit" => filter.limit = limit_parameter(value, errors),
                _ => return false,
            }
            true
        })
    }
}

/// A `reason` query parameter: one of the reason codes a review is held for.
fn reason_parameter(value: &str, errors: &mut Vec<FieldError>) -> Option<ReasonCode> {
    let reason = ReasonCode::parse(value);
    if reason.is_none() {
        errors.push(FieldError::new(
            "reason",
            FieldErrorCode::Enum,
            "must be one of banned_term, too_many_links, duplicate, honeypot, shouting, flagged",
        ));
    }
    reason
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub review_id: Option<Uuid>,
    pub article_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// How the audit log is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pages of JSON.
    Json,
    /// Every matching entry, one CSV download.
    Csv,
}

/// A read of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub filter: LogFilter,
    pub format: LogFormat,
    /// The last entry of the previous page (JSON only).
    pub before: Option<Uuid>,
    /// Entries per page (JSON only).
    pub limit: i64,
}

impl LogQuery {
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<FieldError>> {
        let query = Self {
            filter: LogFilter::default(),
            format: LogFormat::Json,
            before: None,
            limit: PageSize::DEFAULT,
        };
        read_all(pairs, query, |query, name, value, errors| {
            let filter = &mut query.filter;
            match name {
                "review_id" => filter.review_id = review_id_parameter(value, errors),
                "article_id" => filter.article_id = article_parameter(value, errors),
                "actor" => filter.actor = audit_parameter("actor", value, errors),
                "action" => filter.action = audit_parameter("action", value, errors),
                "since" => filter.since = time_parameter("since", value, errors),
                "until" => filter.until = time_parameter("until", value, errors),
                "format" => match value {
                    "json" => query.format = LogFormat::Json,
                    "csv" => query.format = LogFormat::Csv,
                    _ => errors.push(FieldError::new(
                        "format",
                        FieldErrorCode::Enum,
                        "must be json or csv",
                    )),
                },
                "cursor" => query.before = cursor_parameter(value, errors),
                "limit" => query.limit = limit_parameter(value, errors),
                _ => return false,
            }
            true
        })
    }
}

/// A `review_id` query parameter.
fn review_id_parameter(value: &str, errors: &mut Vec<FieldError>) -> Option<Uuid> {
    let parsed = Uuid::try_parse(value).ok();
    if parsed.is_none() {
        errors.push(FieldError::new(
            "review_id",
            FieldErrorCode::Format,
            "must be a UUID",
        ));
    }
    parsed
}

/// Which reviews an export holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportFilter {
    pub article_id: Option<String>,
    /// Only this author's reviews (compared case-insensitively): a reader's data-rights request.
    pub author_email: Option<AuthorEmail>,
    pub status: Option<ReviewStatus>,
    pub since: Option<DateTime<Utc>>,
}

/// The formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON object per line.
    Ndjson,
    /// RFC 4180, with a header row.
    Csv,
}

/// An export of reviews.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportQuery {
    pub filter: ExportFilter,
    pub format: ExportFormat,
}

impl ExportQuery {
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<FieldError>> {
        let query = Self {
            filter: ExportFilter::default(),
            format: ExportFormat::Ndjson,
        };
        read_all(pairs, query, |query, name, value, errors| {
            let filter = &mut query.filter;
            match name {
                "format" => match value {
                    "ndjson" => query.format = ExportFormat::Ndjson,
                    "csv" => query.format = ExportFormat::Csv,
                    _ => errors.push(FieldError::new(
                        "format",
                        FieldErrorCode::Enum,
                        "must be ndjson or csv",
                    )),
                },
                "article_id" => filter.article_id = article_parameter(value, errors),
                "author_email" => match AuthorEmail::parse(value) {
                    Ok(email) => filter.author_email = Some(email),
                    Err(rule) => errors.push(FieldError::broke("author_email", &rule)),
                },
                "status" => filter.status = status_parameter(value, errors),
                "since" => filter.since = time_parameter("since", value, errors),
                _ => return false,
            }
            true
        })
    }
}

/// The days of a stats series: `from` and `to`, read as `DayRange::parse` reads them once the
/// parameters themselves are known and given once.
pub fn day_range_from_pairs<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    today: NaiveDate,
) -> Result<DayRange, Vec<FieldError>> {
    let given = read_all(pairs, (None, None), |(from, to), name, value, _| {
        match name {
            "from" => *from = Some(value),
            "to" => *to = Some(value),
            _ => return false,
        }
        true
    })?;
    DayRange::parse(given.0, given.1, today)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|error| error.field).collect()
    }

    #[test]
    fn queue_queries_default_to_a_page_of_pending_reviews() {
        let filter = QueueFilter::from_pairs([]).unwrap();
        assert_eq!(filter.status, ReviewStatus::Pending);
        assert!(!filter.flagged);
        assert_eq!(filter.limit, PageSize::DEFAULT);
        let filter = QueueFilter::from_pairs([
            ("status", "published"),
            ("flagged", "true"),
            ("reason", "duplicate"),
            ("language", "uk"),
        ])
        .unwrap();
        assert_eq!(filter.status, ReviewStatus::Published);
        assert!(filter.flagged);
        assert_eq!(filter.reason, Some(ReasonCode::Duplicate));
        assert_eq!(filter.language.as_deref(), Some("uk"));
        let errors = QueueFilter::from_pairs([
            ("status", "lost"),
            ("reason", "rude"),
            ("flagged", "1"),
            ("cursor", "x"),
        ])
        .unwrap_err();
        assert_eq!(fields(errors), ["status", "reason", "flagged", "cursor"]);
    }

    #[test]
    fn log_queries_default_to_a_json_page() {
        let query = LogQuery::from_pairs([]).unwrap();
        assert_eq!(query.format, LogFormat::Json);
        assert_eq!(query.limit, PageSize::DEFAULT);
        assert_eq!(query.filter, LogFilter::default());
    }

    #[test]
    fn log_queries_read_every_filter() {
        let id = "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f";
        let query = LogQuery::from_pairs([
            ("review_id", id),
            ("actor", "desk"),
            ("action", "approve"),
            ("since", "2026-11-01T00:00:00Z"),
            ("format", "csv"),
            ("cursor", id),
            ("limit", "5"),
        ])
        .unwrap();
        assert_eq!(query.filter.review_id, Uuid::try_parse(id).ok());
        assert_eq!(query.filter.actor.as_deref(), Some("desk"));
        assert_eq!(query.filter.action.as_deref(), Some("approve"));
        assert!(query.filter.since.is_some());
        assert_eq!(query.format, LogFormat::Csv);
        assert_eq!(query.before, Uuid::try_parse(id).ok());
        assert_eq!(query.limit, 5);
    }

    #[test]
    fn log_queries_name_every_bad_parameter() {
        let errors = LogQuery::from_pairs([
            ("review_id", "x"),
            ("actor", ""),
            ("until", "yesterday"),
            ("format", "xml"),
            ("limit", "0"),
            ("limit", "2"),
            ("sort", "asc"),
        ])
        .unwrap_err();
        assert_eq!(
            fields(errors),
            [
                "review_id",
                "actor",
                "until",
                "format",
                "limit",
                "limit",
                "sort"
            ]
        );
    }

    #[test]
    fn export_queries_default_to_ndjson_of_everything() {
        let query = ExportQuery::from_pairs([]).unwrap();
        assert_eq!(query.format, ExportFormat::Ndjson);
        assert_eq!(query.filter, ExportFilter::default());
        let query =
            ExportQuery::from_pairs([("format", "csv"), ("status", "spam"), ("article_id", "a-1")])
                .unwrap();
        assert_eq!(query.format, ExportFormat::Csv);
        assert_eq!(query.filter.status, Some(ReviewStatus::Spam));
        assert_eq!(query.filter.article_id.as_deref(), Some("a-1"));
        let errors =
            ExportQuery::from_pairs([("format", "xls"), ("status", "gone"), ("until", "x")])
                .unwrap_err();
        assert_eq!(fields(errors), ["format", "status", "until"]);
    }

    #[test]
    fn day_ranges_refuse_unknown_and_repeated_parameters_before_reading_dates() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let range = day_range_from_pairs([("from", "2026-11-01")], today).unwrap();
        assert_eq!(
            (range.from.to_string(), range.to),
            ("2026-11-01".into(), today)
        );
        let errors = day_range_from_pairs([("from", "x"), ("days", "3")], today).unwrap_err();
        assert_eq!(fields(errors), ["days"]);
        let errors = day_range_from_pairs([("to", "x"), ("to", "y")], today).unwrap_err();
        assert_eq!(fields(errors), ["to"]);
        let errors = day_range_from_pairs([("to", "yesterday")], today).unwrap_err();
        assert_eq!(fields(errors), ["to"]);
    }

    #[test]
    fn shared_parameters_name_themselves() {
        let mut errors = Vec::new();
        assert_eq!(bool_parameter("flagged", "yes", &mut errors), None);
        assert_eq!(cursor_parameter("x", &mut errors), None);
        assert_eq!(limit_parameter("1000", &mut errors), PageSize::DEFAULT);
        assert_eq!(language_parameter("", &mut errors), None);
        assert_eq!(fields(errors), ["flagged", "cursor", "limit", "language"]);
    }
}
