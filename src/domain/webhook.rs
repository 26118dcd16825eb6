//! Outbound webhooks: the events a receiver can subscribe to, where it is reached, and when a
//! failed delivery is tried again.

use std::time::Duration;

use validator::ValidationError;

use super::article::present;
use super::field_error::Presence::{Optional, Required};
use super::field_error::{read_query_pairs, valid_unless, FieldErrors};
use super::page::PageSize;
use super::text;
use super::{FieldError, FieldErrorCode};

/// How a signing secret is written: `whsec_` and the base64 of its bytes.
pub const SECRET_PREFIX: &str = "whsec_";
const MIN_SECRET_BYTES: usize = 24;
pub const MAX_SECRET_BYTES: usize = 64;

/// The bytes of a secret written `whsec_<base64 of 24 to 64 bytes>`, or why it is not one.
pub fn decode_secret(raw: &str) -> Result<Vec<u8>, String> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let encoded = raw
        .trim()
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| format!("a secret starts with `{SECRET_PREFIX}`"))?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| format!("a secret is `{SECRET_PREFIX}` followed by base64"))?;
    if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
        return Err(format!(
            "a secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes (this one {})",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// The events Marginalia sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    ReviewCreated,
    ReviewUpdated,
    ReviewPublished,
    ReviewRejected,
    ReviewDeleted,
    ReviewReplied,
    ArticleStatsChanged,
    ReaderSuspended,
    ReaderReinstated,
}

impl EventType {
    pub const ALL: [Self; 9] = [
        Self::ReviewCreated,
        Self::ReviewUpdated,
        Self::ReviewPublished,
        Self::ReviewRejected,
        Self::ReviewDeleted,
        Self::ReviewReplied,
        Self::ArticleStatsChanged,
        Self::ReaderSuspended,
        Self::ReaderReinstated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReviewCreated => "review.created",
            Self::ReviewUpdated => "review.updated",
            Self::ReviewPublished => "review.published",
            Self::ReviewRejected => "review.rejected",
            Self::ReviewDeleted => "review.deleted",
            Self::ReviewReplied => "review.replied",
            Self::ArticleStatsChanged => "article.stats_changed",
            Self::ReaderSuspended => "reader.suspended",
            Self::ReaderReinstated => "reader.reinstated",
        }
    }

    pub fn from_name(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    /// Whether this change can move an article's published counts (the events that
    /// `article.stats_changed` is derived from): every review event but a reply (an update may
    /// change the rating).
    pub fn moves_stats(self) -> bool {
        !matches!(
            self,
            Self::ArticleStatsChanged
                | Self::ReviewReplied
                | Self::ReaderSuspended
                | Self::ReaderReinstated
        )
    }
}

/// The events an endpoint receives: 1 to all of `EventType::ALL`, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter(Vec<EventType>);

impl EventFilter {
    pub fn all() -> Self {
        Self(EventType::ALL.to_vec())
    }

    pub fn parse(raw: &[String]) -> Result<Self, ValidationError> {
        if raw.is_empty() {
            return Err(text::rule("length", "must name at least one event type"));
        }
        let mut types = Vec::new();
        for name in raw {
            let kind = EventType::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = EventType::ALL.iter().map(|kind| kind.as_str()).collect();
                text::rule(
                    "enum",
                    format!("`{}` is not one of {}", bounded(name), names.join(", ")),
                )
            })?;
            if !types.contains(&kind) {
                types.push(kind);
            }
        }
        Ok(Self(types))
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|kind| kind.as_str().to_owned()).collect()
    }
}

fn bounded(raw: &str) -> String {
    raw.chars().take(64).collect()
}

/// Where an endpoint receives its POSTs: an absolute http(s) URL with a host, without
/// credentials or fragment. Whether its address may be reached is decided when sending, by the
/// address policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    pub const MAX_CHARS: usize = 2048;
    /// Published in the OpenAPI document; the code parses with the `url` crate as well.
    pub const PATTERN: &'static str = r"^https?://[^\s/?#@]+([/?][^\s#]*)?$";

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let refuse = |why: &str| {
            text::rule(
                "format",
                format!(
                    "must be an absolute http(s) URL of at most {} characters {why}",
                    Self::MAX_CHARS
                ),
            )
        };
        if raw.chars().count() > Self::MAX_CHARS || raw.chars().any(char::is_whitespace) {
            return Err(refuse("without spaces"));
        }
        let parsed = url::Url::parse(raw).map_err(|_| refuse("with a host"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(refuse("with a host"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(refuse(
                "without credentials (put secrets in the signature, not the URL)",
            ));
        }
        if parsed.fragment().is_some() {
            return Err(refuse("without a #fragment (it is never sent)"));
        }
        Ok(Self(parsed))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

/// A human note on an endpoint ("Slack bridge", "search indexer"); blank counts as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointDescription(String);

impl EndpointDescription {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        Ok(text::optional_free_text(raw, Self::MAX_CHARS, &[])?.map(Self))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new endpoint.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://cms.example.org/hooks/marginalia",
    "description": "CMS: show new reviews to the desk",
    "event_types": ["review.created", "article.stats_changed"]
}))]
pub struct CreateEndpointRequest {
    #[schema(value_type = WebhookUrl)]
    pub url: String,
    #[schema(value_type = Option<EndpointDescription>)]
    pub description: Option<String>,
    /// The events to receive; every event when absent.
    #[schema(value_type = Option<Vec<EventType>>, min_items = 1)]
    pub event_types: Option<Vec<String>>,
    /// True when absent.
    pub enabled: Option<bool>,
}

/// A change to an endpoint: absent fields stay as they are; `description: null` clears it;
/// `enabled: true` also re-enables an endpoint disabled for failing.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(Default))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": true}))]
pub struct UpdateEndpointRequest {
    #[schema(value_type = Option<WebhookUrl>)]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<EndpointDescription>)]
    pub description: Option<Option<String>>,
    #[schema(value_type = Option<Vec<EventType>>, min_items = 1)]
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// A checked new endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEndpoint {
    pub url: WebhookUrl,
    pub description: Option<EndpointDescription>,
    pub event_types: EventFilter,
    pub enabled: bool,
}

impl NewEndpoint {
    /// `url` required; every event and enabled unless said otherwise.
    pub fn parse(request: CreateEndpointRequest) -> Result<Self, Vec<FieldError>> {
        let change = EndpointChange::check(
            Some(&request.url),
            Some(request.description.as_deref()),
            request.event_types.as_deref(),
            request.enabled,
            true,
        )?;
        let Some(url) = change.url else {
            return Err(vec![FieldError::new(
                "url",
                FieldErrorCode::Required,
                "is required",
            )]);
        };
        Ok(Self {
            url,
            description: change.description.flatten(),
            event_types: change.event_types.unwrap_or_else(EventFilter::all),
            enabled: change.enabled.unwrap_or(true),
        })
    }
}

/// Checked endpoint settings; `None` means "leave as is".
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointChange {
    pub url: Option<WebhookUrl>,
    pub description: Option<Option<EndpointDescription>>,
    pub event_types: Option<EventFilter>,
    pub enabled: Option<bool>,
}

impl EndpointChange {
    /// Checks a change; absent fields stay as they are.
    pub fn parse(request: UpdateEndpointRequest) -> Result<Self, Vec<FieldError>> {
        Self::check(
            request.url.as_deref(),
            request.description.as_ref().map(Option::as_deref),
            request.event_types.as_deref(),
            request.enabled,
            false,
        )
    }

    /// Checks settings; `creating` makes `url` required and fills in the defaults.
    fn check(
        url: Option<&str>,
        description: Option<Option<&str>>,
        event_types: Option<&[String]>,
        enabled: Option<bool>,
        creating: bool,
    ) -> Result<Self, Vec<FieldError>> {
        let mut fields = FieldErrors::default();
        let presence = if creating { Required } else { Optional };
        let url = fields.parse("url", presence, url, WebhookUrl::parse);
        let description = match description {
            Some(Some(raw)) => fields.parse(
                "description",
                Optional,
                Some(raw),
                EndpointDescription::parse,
            ),
            Some(None) => Some(None),
            None => None,
        };
        let event_types = fields.parse("event_types", Optional, event_types, EventFilter::parse);
        fields.into_result()?;
        Ok(Self {
            url,
            description,
            event_types: event_types.or_else(|| creating.then(EventFilter::all)),
            enabled: enabled.or(creating.then_some(true)),
        })
    }
}

/// When failed deliveries are tried again: the waits after the first, second, … failed attempt.
/// After the last wait's attempt fails too, the delivery is failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    /// Close to the Standard Webhooks recommendation: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    pub const DEFAULT: &'static str = "5s,5m,30m,2h,5h,10h,10h";
    pub const MAX_STEPS: usize = 50;

    pub fn new(waits: Vec<Duration>) -> Result<Self, String> {
        if waits.len() > Self::MAX_STEPS {
            return Err(format!("at most {} retries", Self::MAX_STEPS));
        }
        Ok(Self(waits))
    }

    /// Attempts a delivery gets before it is failed: the first plus one per wait.
    pub fn attempts(&self) -> usize {
        self.0.len() + 1
    }

    /// How long to wait after `attempts_made` failed attempts, or `None` when none are left.
    /// `jitter` in [0, 1) spreads the wait over ±10 %, so receivers that fail together are not
    /// retried in lockstep.
    pub fn wait_after(&self, attempts_made: usize, jitter: f64) -> Option<Duration> {
        let base = self.0.get(attempts_made.checked_sub(1)?)?;
        let factor = 0.9 + 0.2 * jitter.clamp(0.0, 1.0);
        Some(base.mul_f64(factor))
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt, or being attempted.
    Pending,
    Succeeded,
    /// No attempts left; a redeliver call sends it once more.
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [Self; 3] = [Self::Pending, Self::Succeeded, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn from_stored(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }
}

/// A page request of an endpoint's delivery log: newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
    /// The last delivery id of the previous page.
    pub before: Option<uuid::Uuid>,
    pub limit: PageSize,
}

impl DeliveryQuery {
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut query = Self {
            status: None,
            before: None,
            limit: PageSize::default(),
        };
        read_query_pairs(pairs, &mut errors, |name, value, errors| {
            match name {
                "status" => match DeliveryStatus::from_stored(value) {
                    Some(status) => query.status = Some(status),
                    None => errors.push(FieldError::new(
                        "status",
                        FieldErrorCode::Enum,
                        "must be pending, succeeded or failed",
                    )),
                },
                "before" => match uuid::Uuid::try_parse(value) {
                    Ok(id) => query.before = Some(id),
                    Err(_) => errors.push(FieldError::new(
                        "before",
                        FieldErrorCode::Format,
                        "must be a delivery id (UUID)",
                    )),
                },
                "limit" => match PageSize::parse(value) {
                    Ok(limit) => query.limit = limit,
                    Err(error) => errors.push(error),
                },
                _ => return false,
            }
            true
        });
        valid_unless(errors, query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_queries_are_checked() {
        let query = DeliveryQuery::from_pairs([("status", "failed"), ("limit", "5")]).unwrap();
        assert_eq!(query.status, Some(DeliveryStatus::Failed));
        assert_eq!(query.limit.get(), 5);
        let errors =
            DeliveryQuery::from_pairs([("status", "lost"), ("before", "x"), ("sort", "asc")])
                .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["status", "before", "sort"]);
        let repeated = DeliveryQuery::from_pairs([("limit", "1"), ("limit", "2")]).unwrap_err();
        assert_eq!(repeated[0].code, FieldErrorCode::Repeated);
    }

    #[test]
    fn event_names_round_trip() {
        for kind in EventType::ALL {
            assert_eq!(EventType::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(EventType::from_name("review.*"), None);
    }

    #[test]
    fn filters_need_known_distinct_events() {
        let names = |raw: &[&str]| raw.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert!(EventFilter::parse(&[]).is_err());
        assert!(EventFilter::parse(&names(&["review.created", "nope"])).is_err());
        let filter = EventFilter::parse(&names(&["review.created", "review.created"])).unwrap();
        assert_eq!(filter.names(), ["review.created"]);
    }

    #[test]
    fn webhook_urls_are_absolute_http_without_secrets() {
        for good in [
            "https://cms.example.org/hooks/marginalia",
            "http://127.0.0.1:9000/x?y=1",
            "https://[2001:db8::1]/in",
        ] {
            assert!(WebhookUrl::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ftp://cms.example.org/",
            "file:///etc/passwd",
            "gopher://127.0.0.1:6379/_INFO",
            "https://user:pass@cms.example.org/",
            "https://cms.example.org/#frag",
            "https://cms.example.org/a b",
            "/relative",
            "https://",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn creation_needs_a_url_and_defaults_the_rest() {
        let creating = |url: &str| CreateEndpointRequest {
            url: url.into(),
            description: None,
            event_types: None,
            enabled: None,
        };
        let errors = NewEndpoint::parse(creating("")).unwrap_err();
        assert_eq!(errors[0].field, "url");
        let created = NewEndpoint::parse(creating("https://cms.example.org/in")).unwrap();
        assert_eq!(created.event_types, EventFilter::all());
        assert!(created.enabled);
        let change = EndpointChange::parse(UpdateEndpointRequest {
            enabled: Some(false),
            ..UpdateEndpointRequest::default()
        })
        .unwrap();
        assert_eq!(change.url, None);
        assert_eq!(change.event_types, None);
    }

    #[test]
    fn the_schedule_ends_and_jitters_within_ten_percent() {
        let schedule =
            RetrySchedule::new(vec![Duration::from_secs(5), Duration::from_secs(300)]).unwrap();
        assert_eq!(schedule.attempts(), 3);
        assert_eq!(
            schedule.wait_after(0, 0.5),
            None,
            "no wait before the first attempt"
        );
        assert_eq!(schedule.wait_after(1, 0.5), Some(Duration::from_secs(5)));
        assert_eq!(schedule.wait_after(2, 0.0), Some(Duration::from_secs(270)));
        assert_eq!(schedule.wait_after(2, 1.0), Some(Duration::from_secs(330)));
        assert_eq!(schedule.wait_after(3, 0.5), None, "no attempts left");
    }
}
