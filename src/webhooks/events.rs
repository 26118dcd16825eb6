//! The messages we send: a Standard Webhooks envelope (`type`, `timestamp`, `data`, and the
//! `site_id` the event belongs to) around what the public API shows, and their description in the OpenAPI document's `webhooks` section.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{
    ContentBuilder, PathsBuilder, Ref, Required, ResponseBuilder, ResponsesBuilder,
};
use utoipa::ToSchema;

use crate::domain::webhook::EventType;
use crate::views::review::Review;
use crate::views::stats::ArticleStats;

/// A review event: the review as the public API shows it (never the author's email).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "review.created",
    "timestamp": "2026-11-26T09:30:00.123456Z",
    "site_id": "uk",
    "data": {"id": "0193a1b2-0000-7000-8000-000000000001", "article_id": "voa-2020-05-iskp-attacks",
             "rating": 4, "title": "Тверезий аналіз",
             "body": "Стаття добре пояснює, чому ІДІЛ-Хорасан не можна вважати переможеним.",
             "author_name": "Олена К.", "language": "uk", "status": "published",
             "created_at": "2026-11-26T09:30:00.123456Z", "edited_at": null,
             "helpful_count": 0, "unhelpful_count": 0, "verified": false, "badges": [],
             "reply": null, "in_reply_to": null}
}))]
pub struct ReviewEvent {
    /// `review.created`, `review.updated`, `review.published`, `review.rejected`,
    /// `review.deleted` or `review.replied`.
    #[serde(rename = "type")]
    #[schema(value_type = EventType)]
    pub event_type: String,
    /// When the change was committed.
    pub timestamp: DateTime<Utc>,
    /// The site the review belongs to (`default` for an installation of one site).
    pub site_id: String,
    pub data: Review,
}

/// An article's published counts changed; changes within a few seconds are gathered into one
/// event, which carries the counts when it was sent.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "article.stats_changed",
    "timestamp": "2026-11-26T09:30:05Z",
    "site_id": "uk",
    "data": {"article_id": "voa-2020-05-iskp-attacks", "review_count": 2, "rated_count": 2,
             "average": 4.5,
             "histogram": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}}
}))]
pub struct StatsChangedEvent {
    /// Always `article.stats_changed`.
    #[serde(rename = "type")]
    #[schema(value_type = EventType)]
    pub event_type: String,
    pub timestamp: DateTime<Utc>,
    /// The site the article belongs to.
    pub site_id: String,
    pub data: ArticleStats,
}

/// The body of a message: the stored event data in its envelope. The same bytes on every attempt.
pub fn envelope(
    event_type: &str,
    site_id: &str,
    timestamp: DateTime<Utc>,
    data: &serde_json::Value,
) -> Vec<u8> {
    let message = serde_json::json!({
        "type": event_type,
        "timestamp": timestamp.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        "site_id": site_id,
        "data": data,
    });
    message.to_string().into_bytes()
}

/// The message id (`webhook-id`) of an outbox event.
pub fn message_id(event_id: &uuid::Uuid) -> String {
    format!("msg_{}", event_id.simple())
}

/// The `webhooks` section: one entry per event type, each a POST with the signature headers and
/// the event's body.
pub fn openapi_webhooks() -> utoipa::openapi::Paths {
    let mut paths = PathsBuilder::new();
    for kind in EventType::ALL {
        let (schema, summary) = schema_and_summary(kind);
        let operation = OperationBuilder::new()
            .operation_id(Some(kind.as_str().replace('.', "_")))
            .summary(Some(summary))
            .description(Some(format!(
                "Sent as `{}` to every enabled endpoint subscribed to it. Verify the signature \
                 before trusting the body; the same `webhook-id` may arrive more than once.",
                kind.as_str()
            )))
            .tag("webhook events")
            .parameter(signature_header(
                "webhook-id",
                "The message id: the same on every attempt (use it to ignore repeats)",
            ))
            .parameter(signature_header(
                "webhook-timestamp",
                "Seconds since the Unix epoch when this attempt was sent",
            ))
            .parameter(signature_header(
                "webhook-signature",
                "`v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">`, space-separated when \
                 signed with more than one secret",
            ))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(schema)))
                            .build(),
                    )
                    .build(),
            ))
            .responses(
                ResponsesBuilder::new()
                    .response(
                        "200",
                        ResponseBuilder::new()
                            .description("Received. Any 2xx counts; anything else is retried"),
                    )
                    .build(),
            )
            .security(utoipa::openapi::security::SecurityRequirement::default())
            .build();
        paths = paths.path(kind.as_str(), PathItem::new(HttpMethod::Post, operation));
    }
    paths.build()
}

/// The schema of an event type's body and the one-line summary of its entry.
fn schema_and_summary(kind: EventType) -> (&'static str, &'static str) {
    match kind {
        EventType::ArticleStatsChanged => (
            "StatsChangedEvent",
            "An article's published review counts changed",
        ),
        EventType::ReviewCreated => ("ReviewEvent", "A reader submitted a review"),
        EventType::ReviewUpdated => (
            "ReviewEvent",
            "Its author edited a review, or it went back to the moderators' queue",
        ),
        EventType::ReviewPublished => ("ReviewEvent", "A review became public"),
        EventType::ReviewRejected => (
            "ReviewEvent",
            "Moderators rejected a review or marked it as spam (a submission the rules hold \
             arrives as review.created with its status)",
        ),
        EventType::ReviewDeleted => ("ReviewEvent", "A review was deleted or erased"),
        EventType::ReviewReplied => (
            "ReviewEvent",
            "The newsroom replied to a review, changed or removed its reply",
        ),
        EventType::ReaderSuspended => (
            "ReaderEvent",
            "A moderator suspended a signed-in reader (or changed the suspension)",
        ),
        EventType::ReaderReinstated => (
            "ReaderEvent",
            "A moderator lifted a signed-in reader's suspension",
        ),
    }
}

/// A required string header of every message.
fn signature_header(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String),
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_wraps_the_data() {
        let at: DateTime<Utc> = "2026-11-26T09:30:00.123456Z".parse().unwrap();
        let body = envelope(
            "review.created",
            "uk",
            at,
            &serde_json::json!({"rating": 4}),
        );
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"type": "review.created", "timestamp": "2026-11-26T09:30:00.123456Z",
                               "site_id": "uk", "data": {"rating": 4}})
        );
        assert_eq!(
            message_id(&uuid::Uuid::nil()),
            "msg_00000000000000000000000000000000"
        );
    }
}
