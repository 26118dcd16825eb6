//! Article lifecycle events the CMS sends: what each one changes, and when it is too old to apply.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use validator::ValidationError;

use super::article::{
    ArticleId, ArticleSection, ArticleTitle, ArticleUpsert, ArticleUrl, Lifecycle,
};
use super::field_error::FieldErrors;
use super::field_error::Presence::Required;
use super::text::{self, LanguageTag};
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

/// A CMS event: the Standard Webhooks envelope around the article as the CMS describes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "type": "article.published",
    "timestamp": "2026-11-26T09:00:00Z",
    "data": {
        "article_id": "voa-2020-05-iskp-attacks",
        "title": "Pushed to the Brink Again, Islamic State’s Afghan Affiliate Claims Deadly Attacks",
        "url": "https://news.example.org/a/islamic-state-afghan-affiliate-claims-deadly-attacks",
        "language": "en",
        "published_at": "2020-05-14T09:00:00Z",
        "section": "South & Central Asia",
        "reviews_open": true
    }
}))]
pub struct CmsEventRequest {
    #[serde(rename = "type")]
    #[schema(value_type = CmsEventType)]
    pub event_type: String,
    /// When the change happened in the CMS: changes apply in this order, whatever the order of
    /// delivery. At most 5 minutes ahead of the server's clock.
    pub timestamp: DateTime<Utc>,
    pub data: CmsArticle,
}

/// The article in a CMS event. `article.published` and `article.updated` describe it (absent
/// fields are cleared); `article.unpublished` and `article.deleted` need only `article_id`. The
/// description fields are those of `PutArticleRequest` without `lifecycle` (which the event type
/// sets); serde cannot flatten one struct into another under `deny_unknown_fields`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CmsArticle {
    #[schema(value_type = ArticleId)]
    pub article_id: String,
    #[schema(value_type = Option<ArticleTitle>)]
    pub title: Option<String>,
    #[schema(value_type = Option<ArticleUrl>)]
    pub url: Option<String>,
    #[schema(value_type = Option<LanguageTag>)]
    pub language: Option<String>,
    #[schema(value_type = Option<ArticleSection>)]
    pub section: Option<String>,
    /// Between 0001-01-01 and 9999-12-31.
    pub published_at: Option<DateTime<Utc>>,
    /// Whether readers may submit reviews; true when absent.
    pub reviews_open: Option<bool>,
    /// The article's text. Accepted so that a CMS can send its article unchanged; not stored.
    pub body: Option<String>,
}

/// Why a signed body is not an event to apply. Every case is a 400 (the sender is a machine that
/// retries 4xx answers no better than 5xx ones, so one status suffices).
#[derive(Debug, Clone, PartialEq)]
pub enum InvalidEvent {
    /// Not a JSON object of the event's shape; says why.
    Malformed(String),
    /// Fields that break the rules, each named (article fields under `data.`).
    Fields(Vec<FieldError>),
}

impl CmsEvent {
    /// Checks an event received at `now`, naming every wrong field (article fields under `data.`).
    pub fn parse(request: &CmsEventRequest, now: DateTime<Utc>) -> Result<Self, Vec<FieldError>> {
        let mut fields = FieldErrors::default();
        let event_type = fields.parse("type", Required, Some(&request.event_type), |raw| {
            CmsEventType::parse(raw).map_err(|error| text::rule("enum", error.message))
        });
        let occurred_at = fields.parse("timestamp", Required, Some(request.timestamp), |at| {
            occurred_at(at, now)
        });
        let article_id = ArticleId::parse(&request.data.article_id, "data.article_id")
            .map_err(|error| fields.push(error))
            .ok();
        let description = match event_type {
            Some(CmsEventType::Published | CmsEventType::Updated) => describe(&request.data)
                .map_err(|errors| {
                    for error in errors {
                        fields.push(error.under("data"));
                    }
                })
                .ok(),
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
        Ok(Self {
            event_type,
            occurred_at,
            article_id,
            change: change(event_type, description)?,
        })
    }
}

/// An event's time, when it is one the database can store and not too far ahead of `now`.
fn occurred_at(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, ValidationError> {
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
}

/// The article's description in an event; its editorial setting (moderation) is not the CMS's,
/// so events leave it as it is.
fn describe(data: &CmsArticle) -> Result<ArticleUpsert, Vec<FieldError>> {
    ArticleUpsert::parse(
        data.title.as_deref(),
        data.url.as_deref(),
        data.language.as_deref(),
        data.section.as_deref(),
        data.published_at,
        data.reviews_open,
        None,
    )
}

/// What an event of this type does, given its checked description (for the types that have one).
fn change(
    event_type: CmsEventType,
    description: Option<ArticleUpsert>,
) -> Result<ArticleChange, Vec<FieldError>> {
    Ok(match (event_type, description) {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-26T12:00:00Z".parse().unwrap()
    }

    fn input(event_type: &str, article_id: &str) -> CmsEventRequest {
        CmsEventRequest {
            event_type: event_type.into(),
            timestamp: now(),
            data: CmsArticle {
                article_id: article_id.into(),
                title: Some("Headline".into()),
                url: Some("https://news.example.org/a/1".into()),
                language: None,
                section: None,
                published_at: None,
                reviews_open: None,
                body: None,
            },
        }
    }

    #[test]
    fn each_event_type_maps_to_its_change() {
        let published = CmsEvent::parse(&input("article.published", "a-1"), now()).unwrap();
        assert!(matches!(
            published.change,
            ArticleChange::Describe {
                lifecycle: Some(Lifecycle::Published),
                ..
            }
        ));
        let updated = CmsEvent::parse(&input("article.updated", "a-1"), now()).unwrap();
        assert!(matches!(
            updated.change,
            ArticleChange::Describe {
                lifecycle: None,
                ..
            }
        ));
        let unpublished = CmsEvent::parse(&input("article.unpublished", "a-1"), now()).unwrap();
        assert_eq!(
            unpublished.change,
            ArticleChange::Move(Lifecycle::Unpublished)
        );
        let deleted = CmsEvent::parse(&input("article.deleted", "a-1"), now()).unwrap();
        assert_eq!(deleted.change, ArticleChange::Move(Lifecycle::Deleted));
    }

    #[test]
    fn wrong_fields_are_named() {
        let mut bad = input("article.renamed", "../x");
        bad.timestamp = now() + MAX_CLOCK_SKEW + Duration::minutes(1);
        let errors = CmsEvent::parse(&bad, now()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["data.article_id", "timestamp", "type"]);

        let mut bad_url = input("article.published", "a-1");
        bad_url.data.url = Some("javascript:alert(1)".into());
        let errors = CmsEvent::parse(&bad_url, now()).unwrap_err();
        assert_eq!(errors[0].field, "data.url");
    }

    #[test]
    fn events_from_the_future_are_refused() {
        let mut ahead = input("article.updated", "a-1");
        ahead.timestamp = now() + MAX_CLOCK_SKEW + Duration::seconds(1);
        let errors = CmsEvent::parse(&ahead, now()).unwrap_err();
        assert_eq!(errors[0].field, "timestamp");
        assert_eq!(errors[0].code, FieldErrorCode::Range);

        let mut slightly_ahead = input("article.updated", "a-1");
        slightly_ahead.timestamp = now() + Duration::seconds(30);
        assert!(CmsEvent::parse(&slightly_ahead, now()).is_ok());
    }
}
