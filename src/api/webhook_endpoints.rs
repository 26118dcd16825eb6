//! Outbound webhook endpoints, managed by administrators: where our events go, what each
//! receives, its signing secret, and its delivery log.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, FromRequest, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Checked, CheckedBody, DeliveryQueryParams, EndpointPath};
use super::responses::{
    BadBody, BadParameter, DeliveryNotFound, EndpointNotFound, KeyRequired, Unavailable,
};
use crate::api::extract::SiteState;
use crate::auth::ApiCaller;
use crate::domain::page::PageSize;
use crate::domain::webhook::{
    CreateEndpointRequest, DeliveryStatus, EndpointChange, EventType, NewEndpoint,
    UpdateEndpointRequest,
};
use crate::domain::{FieldError, FieldErrorCode};
use crate::error::{ApiError, Problem, Refusal};
use crate::services::endpoints::{self, EndpointError};
use crate::store;
use crate::store::webhook_endpoints::{EndpointRow, LoggedDelivery};

/// An endpoint, without its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-0000-7000-8000-00000000e001",
    "url": "https://cms.example.org/hooks/marginalia",
    "description": "CMS: show new reviews to the desk",
    "event_types": ["review.created", "article.stats_changed"],
    "enabled": true,
    "disabled_reason": null,
    "failing_since": null,
    "previous_secret_valid_until": null,
    "created_at": "2026-11-26T09:00:00Z",
    "updated_at": "2026-11-26T09:00:00Z"
}))]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    #[schema(required = true)]
    pub description: Option<String>,
    #[schema(value_type = Vec<EventType>)]
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why the service disabled the endpoint, when it did.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed; null while the endpoint answers.
    #[schema(required = true)]
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when messages are also signed with the secret before the last rotation.
    #[schema(required = true)]
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EndpointRow> for Endpoint {
    fn from(row: EndpointRow) -> Self {
        let previous_secret_valid_until = row
            .previous_secret_until
            .filter(|until| *until > Utc::now());
        Self {
            id: row.id,
            url: row.url,
            description: row.description,
            event_types: row.event_types,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            failing_since: row.failing_since,
            previous_secret_valid_until,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A new endpoint and its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// The signing secret (`whsec_…`): store it in the receiver now; it is never shown again.
    pub secret: String,
}

/// Every endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub items: Vec<Endpoint>,
}

/// A new secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                          "previous_secret_valid_until": "2026-11-27T09:00:00Z"}))]
pub struct RotatedSecret {
    pub secret: String,
    /// Until then messages carry signatures under both secrets, so the receiver can switch over.
    pub previous_secret_valid_until: DateTime<Utc>,
}

/// One attempt in the delivery log.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub latency_ms: i32,
    /// The receiver's HTTP status; null when no answer came.
    #[schema(required = true)]
    pub status_code: Option<i16>,
    /// Why no answer came (refused address, connection error, timeout).
    #[schema(required = true)]
    pub error: Option<String>,
    /// The first kilobyte of the receiver's answer.
    #[schema(required = true)]
    pub response_excerpt: Option<String>,
}

/// One event's delivery to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    /// The `webhook-id` of every attempt.
    pub message_id: String,
    #[schema(value_type = EventType)]
    pub event_type: String,
    pub status: DeliveryStatus,
    /// Attempts started so far.
    pub attempts: i32,
    /// For a pending delivery: when it is next attempted.
    #[schema(required = true)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Every attempt, first to last (within the log's retention).
    pub log: Vec<Attempt>,
}

impl Delivery {
    fn from_row(
        row: store::webhook_endpoints::DeliveryRow,
        event_type: String,
        log: Vec<Attempt>,
    ) -> Self {
        let status = DeliveryStatus::from_stored(&row.status).unwrap_or(DeliveryStatus::Pending);
        Self {
            id: row.id,
            message_id: crate::webhooks::events::message_id(&row.event_id),
            event_type,
            status,
            attempts: row.attempts,
            next_attempt_at: (status == DeliveryStatus::Pending).then_some(row.next_attempt_at),
            created_at: row.created_at,
            log,
        }
    }
}

impl From<LoggedDelivery> for Delivery {
    fn from(logged: LoggedDelivery) -> Self {
        let log = logged
            .attempts
            .into_iter()
            .map(|attempt| Attempt {
                attempt: attempt.attempt,
                started_at: attempt.started_at,
                latency_ms: attempt.latency_ms,
                status_code: attempt.status_code,
                error: attempt.error,
                response_excerpt: attempt.response_excerpt,
            })
            .collect();
        Self::from_row(logged.delivery, logged.event_type, log)
    }
}

/// A page of the delivery log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    /// Pass as `before` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_before: Option<Uuid>,
}

pub(super) fn endpoint_not_found() -> ApiError {
    ApiError::NotFound("no webhook endpoint with this id".into())
}

pub(super) fn delivery_not_found() -> ApiError {
    ApiError::NotFound("no delivery with this id for this endpoint".into())
}

impl From<EndpointError> for ApiError {
    fn from(error: EndpointError) -> Self {
        match error {
            EndpointError::Service(error) => error.into(),
            EndpointError::EndpointNotFound => endpoint_not_found(),
            EndpointError::DeliveryNotFound => delivery_not_found(),
            EndpointError::DeliveryDeleted => {
                ApiError::NotFound("the delivery was deleted meanwhile".into())
            }
            EndpointError::AlreadyPending(row) => ApiError::Refused(Refusal::RedeliveryPending {
                next_attempt_at: row.next_attempt_at,
            }),
        }
    }
}

/// The `{endpoint_id}` and `{delivery_id}` path segments of a delivery's routes.
pub struct DeliveryPath {
    pub endpoint_id: Uuid,
    pub delivery_id: Uuid,
}

impl FromRequest for DeliveryPath {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parsed = EndpointPath::from_request(req, payload)
            .into_inner()
            .and_then(|path| {
                let delivery_id = path.delivery_id.ok_or_else(|| {
                    ApiError::bad_parameter(FieldError::new(
                        "delivery_id",
                        FieldErrorCode::Required,
                        "is required",
                    ))
                })?;
                Ok(Self {
                    endpoint_id: path.endpoint_id,
                    delivery_id,
                })
            });
        std::future::ready(parsed)
    }
}

impl CheckedBody for NewEndpoint {
    type Body = CreateEndpointRequest;
    fn check(body: CreateEndpointRequest) -> Result<Self, Vec<FieldError>> {
        NewEndpoint::parse(body)
    }
}

impl CheckedBody for EndpointChange {
    type Body = UpdateEndpointRequest;
    fn check(body: UpdateEndpointRequest) -> Result<Self, Vec<FieldError>> {
        EndpointChange::parse(body)
    }
}

/// Add a webhook endpoint.
///
/// The answer carries the endpoint's signing secret, shown only this once.
#[utoipa::path(
    tag = "webhook endpoints",
    request_body(content = CreateEndpointRequest, content_type = "application/json"),
    security(("admin_key" = [])),
    responses(
        (status = 201, description = "Created", body = CreatedEndpoint,
         headers(("Location" = String, description = "URL of the endpoint"))),
        (status = 409, description = "There are already as many endpoints as allowed", body = Problem, content_type = "application/problem+json"),
        BadBody, KeyRequired, Unavailable,
    )
)]
#[post("")]
pub async fn create_endpoint(
    state: SiteState,
    caller: ApiCaller,
    Checked(endpoint): Checked<NewEndpoint>,
) -> Result<HttpResponse, ApiError> {
    let (row, secret) = endpoints::create(&state, &caller, &endpoint).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            state.located(&format!("/v1/webhook-endpoints/{}", row.id)),
        ))
        .json(CreatedEndpoint {
            endpoint: row.into(),
            secret: secret.expose(),
        }))
}

/// List the webhook endpoints.
///
/// Secrets are never listed.
#[utoipa::path(
    tag = "webhook endpoints",
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Every endpoint, oldest first", body = EndpointList),
        KeyRequired, Unavailable,
    )
)]
#[get("")]
pub async fn list_endpoints(
    state: SiteState,
    _caller: ApiCaller,
) -> Result<web::Json<EndpointList>, ApiError> {
    let rows = store::webhook_endpoints::list(&state.pool).await?;
    Ok(web::Json(EndpointList {
        items: rows.into_iter().map(Endpoint::from).collect(),
    }))
}

/// Read a webhook endpoint.
#[utoipa::path(
    tag = "webhook endpoints",
    params(("endpoint_id" = Uuid, Path, description = "Endpoint id")),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The endpoint", body = Endpoint),
        BadParameter, KeyRequired, EndpointNotFound, Unavailable,
    )
)]
#[get("/{endpoint_id}")]
pub async fn get_endpoint(
    state: SiteState,
    _caller: ApiCaller,
    path: EndpointPath,
) -> Result<web::Json<Endpoint>, ApiError> {
    store::webhook_endpoints::get(&state.pool, path.endpoint_id)
        .await?
        .map(|row| web::Json(row.into()))
        .ok_or_else(endpoint_not_found)
}

/// Change a webhook endpoint.
///
/// Re-enable an endpoint the service disabled with `{"enabled": true}`.
#[utoipa::path(
    tag = "webhook endpoints",
    params(("endpoint_id" = Uuid, Path, description = "Endpoint id")),
    request_body(content = UpdateEndpointRequest, content_type = "application/json"),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The changed endpoint", body = Endpoint),
        BadBody, KeyRequired, EndpointNotFound, Unavailable,
    )
)]
#[patch("/{endpoint_id}")]
pub async fn update_endpoint(
    state: SiteState,
    caller: ApiCaller,
    path: EndpointPath,
    Checked(change): Checked<EndpointChange>,
) -> Result<web::Json<Endpoint>, ApiError> {
    let row = endpoints::update(&state, &caller, path.endpoint_id, &change).await?;
    Ok(web::Json(row.into()))
}

/// Delete a webhook endpoint.
///
/// Its pending deliveries and its log go with it.
#[utoipa::path(
    tag = "webhook endpoints",
    params(("endpoint_id" = Uuid, Path, description = "Endpoint id")),
    security(("admin_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        BadParameter, KeyRequired, EndpointNotFound, Unavailable,
    )
)]
#[delete("/{endpoint_id}")]
pub async fn delete_endpoint(
    state: SiteState,
    caller: ApiCaller,
    path: EndpointPath,
) -> Result<HttpResponse, ApiError> {
    endpoints::delete(&state, &caller, path.endpoint_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate an endpoint's signing secret.
///
/// The new secret is shown only this once; for a grace period
/// (`MARGINALIA_WEBHOOK_ROTATION_GRACE`, a day by default) messages are signed with both the old
/// and the new secret, so the receiver can switch without losing any.
#[utoipa::path(
    tag = "webhook endpoints",
    params(("endpoint_id" = Uuid, Path, description = "Endpoint id")),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The new secret", body = RotatedSecret),
        BadParameter, KeyRequired, EndpointNotFound, Unavailable,
    )
)]
#[post("/{endpoint_id}/rotate-secret")]
pub async fn rotate_secret(
    state: SiteState,
    caller: ApiCaller,
    path: EndpointPath,
) -> Result<web::Json<RotatedSecret>, ApiError> {
    let rotation = endpoints::rotate_secret(&state, &caller, path.endpoint_id).await?;
    Ok(web::Json(RotatedSecret {
        secret: rotation.secret.expose(),
        previous_secret_valid_until: rotation.previous_valid_until,
    }))
}

/// Read an endpoint's delivery log.
///
/// Newest first; each delivery with every attempt (status, latency,
/// error, the first kilobyte of the answer).
#[utoipa::path(
    tag = "webhook endpoints",
    params(
        ("endpoint_id" = Uuid, Path, description = "Endpoint id"),
        ("status" = Option<DeliveryStatus>, Query, description = "Only deliveries in this state"),
        ("before" = Option<Uuid>, Query, description = "`next_before` of the previous page"),
        ("limit" = Option<PageSize>, Query, description = "Deliveries per page"),
    ),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        BadParameter, KeyRequired, EndpointNotFound, Unavailable,
    )
)]
#[get("/{endpoint_id}/deliveries")]
pub async fn list_deliveries(
    state: SiteState,
    _caller: ApiCaller,
    path: EndpointPath,
    DeliveryQueryParams(query): DeliveryQueryParams,
) -> Result<web::Json<DeliveryPage>, ApiError> {
    let log = endpoints::delivery_log(&state, path.endpoint_id, &query).await?;
    Ok(web::Json(DeliveryPage {
        items: log.deliveries.into_iter().map(Delivery::from).collect(),
        next_before: log.next_before,
    }))
}

/// Send a delivery again.
///
/// Queues a succeeded or failed delivery for one more attempt now, with
/// the same `webhook-id`. A delivery still pending is a 409: it is already queued.
#[utoipa::path(
    tag = "webhook endpoints",
    params(
        ("endpoint_id" = Uuid, Path, description = "Endpoint id"),
        ("delivery_id" = Uuid, Path, description = "Delivery id"),
    ),
    security(("admin_key" = [])),
    responses(
        (status = 202, description = "Queued for an attempt now", body = Delivery),
        (status = 409, description = "The delivery is still pending", body = Problem, content_type = "application/problem+json"),
        BadParameter, KeyRequired, DeliveryNotFound, Unavailable,
    )
)]
#[post("/{endpoint_id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver(
    state: SiteState,
    caller: ApiCaller,
    path: DeliveryPath,
) -> Result<HttpResponse, ApiError> {
    let queued = endpoints::redeliver(&state, &caller, path.endpoint_id, path.delivery_id).await?;
    Ok(HttpResponse::Accepted().json(Delivery::from(queued)))
}
