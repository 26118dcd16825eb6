//! Article lifecycle events from the CMS, signed the Standard Webhooks way.

use actix_web::{post, web, HttpRequest};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{parse_json, JsonBytes};
use super::responses::Unavailable;
use crate::domain::article::{ArticleId, ArticleInput, ArticleSection, ArticleTitle, ArticleUrl};
use crate::domain::cms_event::{CmsEvent, CmsEventInput, CmsEventType};
use crate::domain::text::LanguageTag;
use crate::error::{ApiError, Problem};
use crate::metrics::{self, CmsEventOutcome};
use crate::state::AppState;
use crate::store;
use crate::store::articles::InboundOutcome;
use crate::webhooks::signature::{self, SignedHeaders};

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

/// What became of an event.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventOutcome {
    /// The article now reflects the event.
    Applied,
    /// The article had already taken a newer change; nothing changed.
    Superseded,
    /// This `webhook-id` was processed before; nothing changed.
    AlreadyProcessed,
}

impl From<InboundOutcome> for EventOutcome {
    fn from(outcome: InboundOutcome) -> Self {
        match outcome {
            InboundOutcome::Applied => Self::Applied,
            InboundOutcome::Superseded => Self::Superseded,
            InboundOutcome::AlreadyProcessed => Self::AlreadyProcessed,
        }
    }
}

/// The answer to an accepted event.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"webhook_id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "outcome": "applied",
                          "article_id": "voa-2020-05-iskp-attacks"}))]
pub struct CmsEventReceipt {
    pub webhook_id: String,
    pub outcome: EventOutcome,
    pub article_id: String,
}

/// Receive an article event from the CMS.
///
/// Signed with a secret from `MARGINALIA_CMS_WEBHOOK_SECRETS` following Standard Webhooks: any
/// Standard Webhooks library can send it. Events are applied once per `webhook-id` (a repeat
/// answers 200 and changes nothing) and in the order of their `timestamp` (an event older than
/// the article's last change is recorded and skipped). Any signature problem is the same 401.
#[utoipa::path(
    tag = "cms",
    request_body(content = CmsEventRequest, content_type = "application/json"),
    params(
        ("webhook-id" = String, Header, description = "The message id; a repeat is ignored"),
        ("webhook-timestamp" = String, Header, description = "Seconds since the Unix epoch; within 5 minutes of the server's clock"),
        ("webhook-signature" = String, Header, description = "`v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">`, space-separated for several"),
    ),
    security(("cms_signature" = [])),
    responses(
        (status = 200, description = "Applied, superseded by a newer change, or already processed", body = CmsEventReceipt),
        (status = 400, description = "A signed event that is malformed or breaks the rules; `errors` names the fields", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or malformed webhook headers, a timestamp outside the tolerance, or no valid signature", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "The body did not arrive within the body read deadline", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than the configured limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON in UTF-8, or is sent with a content coding", body = Problem, content_type = "application/problem+json"),
        Unavailable,
    )
)]
#[post("/v1/webhooks/cms")]
pub async fn receive_cms_event(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBytes(body): JsonBytes,
) -> Result<web::Json<CmsEventReceipt>, ApiError> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let headers = SignedHeaders {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    };
    let webhook_id = signature::verify(headers, &body, &state.webhooks.cms_secrets, Utc::now())
        .map_err(|refusal| {
            metrics::record_cms_event(CmsEventOutcome::Refused);
            // The reason goes to the operators' log only: the sender learns nothing it could use.
            tracing::warn!(reason = %refusal, "CMS event refused");
            ApiError::Unauthorized("the webhook signature could not be verified")
        })?;
    let event = parse_event(&body).inspect_err(|_| {
        metrics::record_cms_event(CmsEventOutcome::Refused);
    })?;
    let outcome = store::articles::apply_cms_event(&state.pool, webhook_id, &event).await?;
    if outcome == InboundOutcome::Applied {
        state
            .read_cache
            .record_write(event.article_id.as_str())
            .await;
    }
    metrics::record_cms_event(match outcome {
        InboundOutcome::Applied => CmsEventOutcome::Applied,
        InboundOutcome::Superseded => CmsEventOutcome::Superseded,
        InboundOutcome::AlreadyProcessed => CmsEventOutcome::AlreadyProcessed,
    });
    tracing::info!(
        webhook_id,
        event_type = event.event_type.as_str(),
        article_id = %event.article_id,
        outcome = outcome.as_str(),
        "CMS event"
    );
    Ok(web::Json(CmsEventReceipt {
        webhook_id: webhook_id.to_owned(),
        outcome: outcome.into(),
        article_id: event.article_id.into_inner(),
    }))
}

/// Reads a verified body into an event; every problem is a 400 naming the field (the sender is
/// a machine that retries 4xx answers no better than 5xx ones, so one status suffices).
fn parse_event(body: &[u8]) -> Result<CmsEvent, ApiError> {
    let as_bad_request = |errors: Vec<crate::domain::FieldError>| {
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        ApiError::BadRequest {
            detail: format!("the event has invalid fields: {}", fields.join(", ")),
            errors: errors.clone(),
        }
    };
    let request: CmsEventRequest = parse_json(body).map_err(|error| match error {
        ApiError::Validation(errors) => as_bad_request(errors),
        other => other,
    })?;
    let data = &request.data;
    CmsEvent::parse(
        CmsEventInput {
            event_type: Some(&request.event_type),
            timestamp: Some(request.timestamp),
            article_id: Some(&data.article_id),
            article: ArticleInput {
                title: data.title.as_deref(),
                url: data.url.as_deref(),
                language: data.language.as_deref(),
                section: data.section.as_deref(),
                published_at: data.published_at,
                reviews_open: data.reviews_open,
                // An editorial setting, not the CMS's: its events leave it as it is.
                moderation: None,
            },
        },
        Utc::now(),
    )
    .map_err(as_bad_request)
}
