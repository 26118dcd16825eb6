//! Article lifecycle events the CMS sends: what each one changes, and when it is too old to apply.

use chrono::{DateTime, Duration, Utc};

use super::article::{ArticleId, ArticleInput, ArticleUpsert, Lifecycle};
use super::field_error::FieldErrors;
use super::field_error::Presence::Required;
use super::text;
use super::time;
use super::{FieldError, FieldErrorCode};

/// The kinds of event the CMS sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmsEventType {
    /// The article went live (first time or again): describes it and opens it to reviews.
    Published,
    /// The article's description changed; its lifecycle stays as it is.
    Updated,
    /// Taken off the site: published reviews stay readable, new ones are refused.
    Unpublished,
    /// Removed: its reviews and stats are hidden until a later `article.published`.
    Deleted,
}

impl CmsEventType {
    pub const ALL: [Self; 4] = [
        Self::Published,
        Self::Updated,
        Self::Unpublished,
        Self::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "article.published",
            Self::Updated => "article.updated",
            Self::Unpublished => "article.unpublished",
            Self::Deleted => "article.deleted",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|kind| kind.as_str()).collect();
                FieldError::new(
                    "type",
                    FieldErrorCode::Enum,
                    format!("must be one of {}", names.join(", ")),
                )
            })
    }
}

/// How far ahead of this server's clock an event's `timestamp` may be. An event "from the future"
/// would otherwise win over every later real change.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// What an event does to its article.
#[derive(Debug, Clone, PartialEq)]
pub enum ArticleChange {
    /// Replace the description; set the lifecycle if given (a new article starts published).
    Describe {
        description: ArticleUpsert,
        lifecycle: Option<Lifecycle>,
    },
    /// Only move the article to this lifecycle (a new article is recorded in it, so that an older
    /// `article.published` arriving later cannot bring it back).
    Move(Lifecycle),
}

/// A checked CMS event, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct CmsEvent {
    pub event_type: CmsEventType,
    /// When the change happened in the CMS: the order in which changes apply.
    pub occurred_at: DateTime<Utc>,
    pub article_id: ArticleId,
    pub change: ArticleChange,
}

/// A CMS event as received.
#[derive(Debug, Clone, Default)]
pub struct CmsEventInput<'a> {
    pub event_type: Option<&'a str>,
    pub timestamp: Option<DateTime<Utc>>,
    pub article_id: Option<&'a str>,
    pub article: ArticleInput<'a>,
}

impl CmsEvent {
    /// Checks an event received at `now`, naming every wrong field (article fields under `data.`).
    pub fn parse(input: CmsEventInput<'_>, now: DateTime<Utc>) -> Result<Self, Vec<FieldError>> {
        let mut fields = FieldErrors::default();
        let event_type = fields.parse("type", Required, input.event_type, |raw| {
            CmsEventType::parse(raw).map_err(|error| text::rule("enum", error.message))
        });
        let occurred_at = fields.parse("timestamp", Required, input.timestamp, |at| {
            time::storable(&at)?;
            if at > now + MAX_CLOCK_SKEW {
                return Err(text::rule(
                    "range",
                    format!(
                        "is more than {} minutes ahead of the server's clock",
                        MAX_CLOCK_SKEW.num_minutes()
                    ),
                ));
            }
            Ok(at)
        });
        let article_id = match input.article_id {
            Some(raw) => ArticleId::parse(raw, "data.article_id")
                .map_err(|error| fields.push(error))
                .ok(),
            None => {
                fields.push(FieldError::new(
                    "data.article_id",
                    FieldErrorCode::Required,
                    "is required",
                ));
                None
            }
        };
        let description = match event_type {
            Some(CmsEventType::Published | CmsEventType::Updated) => {
                match ArticleUpsert::parse(input.article) {
                    Ok(description) => Some(description),
                    Err(errors) => {
                        for error in errors {
                            fields.push(error.under("data"));
                        }
                        None
                    }
                }
            }
            _ => None,
        };
        fields.into_result()?;
        let (Some(event_type), Some(occurred_at), Some(article_id)) =
            (event_type, occurred_at, article_id)
        else {
            return Err(vec![FieldError::new(
                "type",
                FieldErrorCode::Required,
                "is required",
            )]);
        };
        let change = match (event_type, description) {
            (CmsEventType::Published, Some(description)) => ArticleChange::Describe {
                description,
                lifecycle: Some(Lifecycle::Published),
            },
            (CmsEventType::Updated, Some(description)) => ArticleChange::Describe {
                description,
                lifecycle: None,
            },
            (CmsEventType::Unpublished, _) => ArticleChange::Move(Lifecycle::Unpublished),
            (CmsEventType::Deleted, _) => ArticleChange::Move(Lifecycle::Deleted),
            (CmsEventType::Published | CmsEventType::Updated, None) => {
                return Err(vec![FieldError::new(
                    "data",
                    FieldErrorCode::Required,
                    "is required",
                )])
            }
        };
        Ok(Self {
            event_type,
            occurred_at,
            article_id,
            change,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-26T12:00:00Z".parse().unwrap()
    }

    fn input<'a>(event_type: &'a str, article_id: &'a str) -> CmsEventInput<'a> {
        CmsEventInput {
            event_type: Some(event_type),
            timestamp: Some(now()),
            article_id: Some(article_id),
            article: ArticleInput {
                title: Some("Headline"),
                url: Some("https://news.example.org/a/1"),
                ..ArticleInput::default()
            },
        }
    }

    #[test]
    fn each_event_type_maps_to_its_change() {
        let published = CmsEvent::parse(input("article.published", "a-1"), now()).unwrap();
        assert!(matches!(
            published.change,
            ArticleChange::Describe {
                lifecycle: Some(Lifecycle::Published),
                ..
            }
        ));
        let updated = CmsEvent::parse(input("article.updated", "a-1"), now()).unwrap();
        assert!(matches!(
            updated.change,
            ArticleChange::Describe {
                lifecycle: None,
                ..
            }
        ));
        let unpublished = CmsEvent::parse(input("article.unpublished", "a-1"), now()).unwrap();
        assert_eq!(
            unpublished.change,
            ArticleChange::Move(Lifecycle::Unpublished)
        );
        let deleted = CmsEvent::parse(input("article.deleted", "a-1"), now()).unwrap();
        assert_eq!(deleted.change, ArticleChange::Move(Lifecycle::Deleted));
    }

    #[test]
    fn wrong_fields_are_named() {
        let mut bad = input("article.renamed", "../x");
        bad.timestamp = None;
        let errors = CmsEvent::parse(bad, now()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["data.article_id", "timestamp", "type"]);

        let mut bad_url = input("article.published", "a-1");
        bad_url.article.url = Some("javascript:alert(1)");
        let errors = CmsEvent::parse(bad_url, now()).unwrap_err();
        assert_eq!(errors[0].field, "data.url");
    }

    #[test]
    fn events_from_the_future_are_refused() {
        let mut ahead = input("article.updated", "a-1");
        ahead.timestamp = Some(now() + MAX_CLOCK_SKEW + Duration::seconds(1));
        let errors = CmsEvent::parse(ahead, now()).unwrap_err();
        assert_eq!(errors[0].field, "timestamp");
        assert_eq!(errors[0].code, FieldErrorCode::Range);

        let mut slightly_ahead = input("article.updated", "a-1");
        slightly_ahead.timestamp = Some(now() + Duration::seconds(30));
        assert!(CmsEvent::parse(slightly_ahead, now()).is_ok());
    }
}
