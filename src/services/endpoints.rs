//! Administrators' changes to outbound webhook endpoints: create, change, delete, rotate the
//! signing secret, send a delivery again; and the delivery log they read.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{after_commit, Committed, ServiceError};
use crate::auth::ApiCaller;
use crate::domain::webhook::{
    DeliveryQuery, DeliveryStatus, EndpointChange, NewEndpoint, WebhookUrl,
};
use crate::domain::{FieldError, FieldErrorCode};
use crate::state::AppState;
use crate::store::webhook_endpoints::{
    self, DeliveryRow, DeliverySelection, EndpointRow, LoggedDelivery, Redelivery,
};
use crate::store::StoreError;
use crate::webhooks::address::{self, TargetPolicy};
use crate::webhooks::signature::Secret;

/// Why an endpoint change or read did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("no webhook endpoint with this id")]
    EndpointNotFound,
    #[error("no delivery with this id for this endpoint")]
    DeliveryNotFound,
    /// Queued again, then deleted (with its endpoint) before it could be read back.
    #[error("the delivery was deleted meanwhile")]
    DeliveryDeleted,
    /// Still pending (waiting for its next attempt or in flight): nothing changed.
    #[error("the delivery is still pending")]
    AlreadyPending(DeliveryRow),
}

impl From<StoreError> for EndpointError {
    fn from(error: StoreError) -> Self {
        Self::Service(error.into())
    }
}

/// A new signing secret and until when the one before it keeps signing.
#[derive(Debug)]
pub struct Rotation {
    pub secret: Secret,
    pub previous_valid_until: DateTime<Utc>,
}

/// A page of an endpoint's delivery log, newest first.
#[derive(Debug)]
pub struct DeliveryLog {
    pub deliveries: Vec<LoggedDelivery>,
    /// The last delivery's id when the page is full (a next page may follow).
    pub next_before: Option<Uuid>,
}

/// Adds an endpoint with a new secret, shown to the caller this once.
pub async fn create(
    state: &AppState,
    caller: &ApiCaller,
    endpoint: &NewEndpoint,
) -> Result<(EndpointRow, Secret), EndpointError> {
    check_target(&endpoint.url, state.webhooks.target_policy)?;
    let secret = Secret::generate();
    let row = webhook_endpoints::create(&state.pool, endpoint, &secret.expose()).await?;
    tracing::info!(key = %caller.key_name, endpoint_id = %row.id, url = %row.url, "webhook endpoint created");
    Ok((row, secret))
}

/// Changes an endpoint's settings.
pub async fn update(
    state: &AppState,
    caller: &ApiCaller,
    endpoint_id: Uuid,
    change: &EndpointChange,
) -> Result<EndpointRow, EndpointError> {
    if let Some(url) = &change.url {
        check_target(url, state.webhooks.target_policy)?;
    }
    let row = webhook_endpoints::update(&state.pool, endpoint_id, change)
        .await?
        .ok_or(EndpointError::EndpointNotFound)?;
    tracing::info!(key = %caller.key_name, endpoint_id = %row.id, "webhook endpoint changed");
    Ok(row)
}

/// Deletes an endpoint with its pending deliveries and its log.
pub async fn delete(
    state: &AppState,
    caller: &ApiCaller,
    endpoint_id: Uuid,
) -> Result<(), EndpointError> {
    if !webhook_endpoints::delete(&state.pool, endpoint_id).await? {
        return Err(EndpointError::EndpointNotFound);
    }
    tracing::info!(key = %caller.key_name, %endpoint_id, "webhook endpoint deleted");
    Ok(())
}

/// Gives an endpoint a new secret; the old one keeps signing for the rotation grace period.
pub async fn rotate_secret(
    state: &AppState,
    caller: &ApiCaller,
    endpoint_id: Uuid,
) -> Result<Rotation, EndpointError> {
    let secret = Secret::generate();
    let grace = chrono::Duration::from_std(state.webhooks.rotation_grace)
        .unwrap_or(chrono::Duration::days(1));
    let until = Utc::now() + grace;
    webhook_endpoints::rotate_secret(&state.pool, endpoint_id, &secret.expose(), until)
        .await?
        .ok_or(EndpointError::EndpointNotFound)?;
    tracing::info!(key = %caller.key_name, %endpoint_id, "webhook secret rotated");
    Ok(Rotation {
        secret,
        previous_valid_until: until,
    })
}

/// Queues a finished delivery for one more attempt now; returns it as the log shows it.
pub async fn redeliver(
    state: &AppState,
    caller: &ApiCaller,
    endpoint_id: Uuid,
    delivery_id: Uuid,
) -> Result<LoggedDelivery, EndpointError> {
    match webhook_endpoints::redeliver(&state.pool, endpoint_id, delivery_id).await? {
        Redelivery::Queued(_) => {}
        Redelivery::AlreadyPending(row) => return Err(EndpointError::AlreadyPending(row)),
        Redelivery::NotFound => return Err(EndpointError::DeliveryNotFound),
    }
    let queued = Committed {
        announced: true,
        ..Committed::default()
    };
    after_commit(state, queued).await;
    tracing::info!(key = %caller.key_name, %delivery_id, "webhook delivery queued again");
    webhook_endpoints::deliveries(
        &state.pool,
        endpoint_id,
        DeliverySelection::One(delivery_id),
    )
    .await?
    .into_iter()
    .next()
    .ok_or(EndpointError::DeliveryDeleted)
}

/// A page of an endpoint's delivery log.
pub async fn delivery_log(
    state: &AppState,
    endpoint_id: Uuid,
    query: &DeliveryQuery,
) -> Result<DeliveryLog, EndpointError> {
    if webhook_endpoints::get(&state.pool, endpoint_id)
        .await?
        .is_none()
    {
        return Err(EndpointError::EndpointNotFound);
    }
    let limit = query.limit.get();
    let selection = DeliverySelection::Page {
        status: query.status.map(DeliveryStatus::as_str),
        before: query.before,
        limit,
    };
    let deliveries = webhook_endpoints::deliveries(&state.pool, endpoint_id, selection).await?;
    let full_page = i64::try_from(deliveries.len()).is_ok_and(|count| count == limit);
    let next_before = deliveries
        .last()
        .filter(|_| full_page)
        .map(|last| last.delivery.id);
    Ok(DeliveryLog {
        deliveries,
        next_before,
    })
}

/// Refuses a URL the target policy rules out, before anything is stored: a literal private
/// address or a name for this machine. Names are checked again, resolved, at every send.
fn check_target(url: &WebhookUrl, policy: TargetPolicy) -> Result<(), ServiceError> {
    let refused = |message: String| {
        ServiceError::Invalid(vec![FieldError::new(
            "url",
            FieldErrorCode::Disallowed,
            message,
        )])
    };
    address::check_literal_host(url.url(), policy).map_err(|error| refused(error.to_string()))?;
    if policy == TargetPolicy::PublicOnly && address::is_local_name(url.url()) {
        return Err(refused(
            "names this machine (set MARGINALIA_WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow it)"
                .into(),
        ));
    }
    Ok(())
}
