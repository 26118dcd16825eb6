//! Article lifecycle events from the CMS, signed the Standard Webhooks way.

use actix_web::dev::Payload;
use actix_web::{post, web, FromRequest, HttpRequest};
use chrono::Utc;
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{parse_json, JsonBytes};
use super::responses::Unavailable;
use crate::api::extract::SiteState;
use crate::domain::cms_event::{CmsEvent, CmsEventRequest, InvalidEvent};
use crate::error::{ApiError, Problem};
use crate::services::cms::{self, CmsEventError, SignedEvent};
use crate::store::articles::InboundOutcome;
use crate::webhooks::signature::SignedHeaders;

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
    state: SiteState,
    delivery: CmsDelivery,
) -> Result<web::Json<CmsEventReceipt>, ApiError> {
    let CmsDelivery {
        headers: [id, timestamp, signature],
        body,
        event,
    } = delivery;
    let headers = SignedHeaders {
        id: id.as_deref(),
        timestamp: timestamp.as_deref(),
        signature: signature.as_deref(),
    };
    let signed = SignedEvent {
        headers,
        body: &body,
        event,
    };
    let receipt = cms::receive(&state, signed).await?;
    Ok(web::Json(CmsEventReceipt {
        webhook_id: receipt.webhook_id,
        outcome: receipt.outcome.into(),
        article_id: receipt.article_id.into_inner(),
    }))
}

/// A CMS event as sent: the Standard Webhooks headers (`None` when absent or not visible ASCII),
/// the body's exact bytes (the signature covers them), and the body read as an event.
pub struct CmsDelivery {
    headers: [Option<String>; 3],
    body: web::Bytes,
    event: Result<CmsEvent, InvalidEvent>,
}

impl FromRequest for CmsDelivery {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = ["webhook-id", "webhook-timestamp", "webhook-signature"].map(|name| {
            req.headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        });
        let body = JsonBytes::from_request(req, payload);
        Box::pin(async move {
            let JsonBytes(body) = body.await?;
            let event = parse_event(&body);
            Ok(Self {
                headers,
                body,
                event,
            })
        })
    }
}

/// Reads a body into an event; whether it may be applied is decided once its signature holds.
fn parse_event(body: &[u8]) -> Result<CmsEvent, InvalidEvent> {
    let request: CmsEventRequest = parse_json(body).map_err(|error| match error {
        ApiError::Validation(errors) => InvalidEvent::Fields(errors),
        other => InvalidEvent::Malformed(other.to_string()),
    })?;
    CmsEvent::parse(&request, Utc::now()).map_err(InvalidEvent::Fields)
}

impl From<CmsEventError> for ApiError {
    fn from(error: CmsEventError) -> Self {
        match error {
            CmsEventError::Unverified => {
                ApiError::Unauthorized("the webhook signature could not be verified")
            }
            // Every problem is a 400 naming the fields: the sender is a machine that retries 4xx
            // answers no better than 5xx ones, so one status suffices.
            CmsEventError::Invalid(InvalidEvent::Fields(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
                ApiError::BadRequest {
                    detail: format!("the event has invalid fields: {}", fields.join(", ")),
                    errors,
                }
            }
            CmsEventError::Invalid(InvalidEvent::Malformed(detail)) => ApiError::BadRequest {
                detail,
                errors: Vec::new(),
            },
            CmsEventError::Store(error) => error.into(),
        }
    }
}
