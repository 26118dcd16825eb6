//! Outbound webhook endpoints, their deliveries and the delivery log, as administrators manage
//! and read them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::answer::LoadOne;
use super::{with_connection, StoreError};
use crate::db::schema::{outbox_events, webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::db::Pool;
use crate::domain::webhook::{EndpointChange, EndpointDescription, NewEndpoint};

/// Most endpoints one service sends to: every event is fanned out to each of them.
pub const MAX_ENDPOINTS: i64 = 100;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints, check_for_backend(diesel::pg::Pg))]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Stores a new endpoint with its signing secret (`whsec_…`); refused past `MAX_ENDPOINTS`.
pub async fn create(
    pool: &Pool,
    endpoint: &NewEndpoint,
    secret: &str,
) -> Result<EndpointRow, StoreError> {
    use webhook_endpoints::dsl;
    let description = endpoint
        .description
        .as_ref()
        .map(|text| text.as_str().to_owned());
    with_connection(pool, async |conn| {
        let existing: i64 = dsl::webhook_endpoints.count().load_one(conn).await?;
        if existing >= MAX_ENDPOINTS {
            return Err(StoreError::EndpointLimit);
        }
        Ok(diesel::insert_into(dsl::webhook_endpoints)
            .values((
                dsl::id.eq(Uuid::now_v7()),
                dsl::url.eq(endpoint.url.as_str()),
                dsl::description.eq(description),
                dsl::event_types.eq(endpoint.event_types.names()),
                dsl::enabled.eq(endpoint.enabled),
                dsl::secret.eq(secret),
            ))
            .returning(EndpointRow::as_returning())
            .load_one(conn)
            .await?)
    })
    .await
}

/// Every endpoint, oldest first (there are at most `MAX_ENDPOINTS`).
pub async fn list(pool: &Pool) -> Result<Vec<EndpointRow>, StoreError> {
    with_connection(pool, async |conn| {
        Ok(webhook_endpoints::table
            .order(webhook_endpoints::id)
            .select(EndpointRow::as_select())
            .load(conn)
            .await?)
    })
    .await
}

pub async fn get(pool: &Pool, id: Uuid) -> Result<Option<EndpointRow>, StoreError> {
    with_connection(pool, async |conn| {
        Ok(webhook_endpoints::table
            .find(id)
            .select(EndpointRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
    .await
}

/// The columns an endpoint change sets.
#[derive(AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
struct EndpointChangeset {
    url: Option<String>,
    description: Option<Option<String>>,
    event_types: Option<Vec<String>>,
    enabled: Option<bool>,
    failing_since: Option<Option<DateTime<Utc>>>,
    disabled_reason: Option<Option<String>>,
    updated_at: DateTime<Utc>,
}

/// Applies a change; enabling an endpoint also forgets its failure streak.
pub async fn update(
    pool: &Pool,
    id: Uuid,
    change: &EndpointChange,
) -> Result<Option<EndpointRow>, StoreError> {
    let enabling = change.enabled == Some(true);
    let changeset = EndpointChangeset {
        url: change.url.as_ref().map(|url| url.as_str().to_owned()),
        description: change.description.as_ref().map(|description| {
            description
                .as_ref()
                .map(EndpointDescription::as_str)
                .map(str::to_owned)
        }),
        event_types: change.event_types.as_ref().map(|filter| filter.names()),
        enabled: change.enabled,
        failing_since: enabling.then_some(None),
        disabled_reason: enabling.then_some(None),
        updated_at: Utc::now(),
    };
    with_connection(pool, async |conn| {
        Ok(diesel::update(webhook_endpoints::table.find(id))
            .set(&changeset)
            .returning(EndpointRow::as_returning())
            .load_one(conn)
            .await
            .optional()?)
    })
    .await
}

/// Deletes an endpoint with its deliveries and their log; false when there was none.
pub async fn delete(pool: &Pool, id: Uuid) -> Result<bool, StoreError> {
    with_connection(pool, async |conn| {
        Ok(diesel::delete(webhook_endpoints::table.find(id))
            .execute(conn)
            .await?
            > 0)
    })
    .await
}

/// Replaces the signing secret; the old one keeps signing alongside it until `old_valid_until`.
pub async fn rotate_secret(
    pool: &Pool,
    id: Uuid,
    new_secret: &str,
    old_valid_until: DateTime<Utc>,
) -> Result<Option<EndpointRow>, StoreError> {
    use webhook_endpoints::dsl;
    with_connection(pool, async |conn| {
        Ok(diesel::update(dsl::webhook_endpoints.find(id))
            .set((
                dsl::previous_secret.eq(dsl::secret.nullable()),
                dsl::previous_secret_until.eq(old_valid_until),
                dsl::secret.eq(new_secret),
                dsl::updated_at.eq(diesel::dsl::now),
            ))
            .returning(EndpointRow::as_returning())
            .load_one(conn)
            .await
            .optional()?)
    })
    .await
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::pg::Pg))]
pub struct DeliveryRow {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts, check_for_backend(diesel::pg::Pg))]
pub struct AttemptRow {
    pub delivery_id: Uuid,
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub latency_ms: i32,
    pub status_code: Option<i16>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

/// A delivery as the log shows it: its event and every attempt so far.
#[derive(Debug, Clone)]
pub struct LoggedDelivery {
    pub delivery: DeliveryRow,
    pub event_type: String,
    pub attempts: Vec<AttemptRow>,
}

/// Which deliveries of an endpoint to read.
#[derive(Debug, Clone, Copy)]
pub enum DeliverySelection<'a> {
    /// Newest first, `limit` at a time, after `before` (the previous page's last id), optionally
    /// only those in `status`.
    Page {
        status: Option<&'a str>,
        before: Option<Uuid>,
        limit: i64,
    },
    One(Uuid),
}

/// An endpoint's deliveries with their log.
pub async fn deliveries(
    pool: &Pool,
    endpoint_id: Uuid,
    selection: DeliverySelection<'_>,
) -> Result<Vec<LoggedDelivery>, StoreError> {
    use webhook_deliveries::dsl;
    with_connection(pool, async |conn| {
        let mut query = dsl::webhook_deliveries
            .inner_join(outbox_events::table)
            .filter(dsl::endpoint_id.eq(endpoint_id))
            .select((DeliveryRow::as_select(), outbox_events::event_type))
            .order(dsl::id.desc())
            .into_boxed();
        match selection {
            DeliverySelection::Page {
                status,
                before,
                limit,
            } => {
                query = query.limit(limit);
                if let Some(status) = status {
                    query = query.filter(dsl::status.eq(status.to_owned()));
                }
                if let Some(before) = before {
                    query = query.filter(dsl::id.lt(before));
                }
            }
            DeliverySelection::One(id) => query = query.filter(dsl::id.eq(id)),
        }
        let rows: Vec<(DeliveryRow, String)> = query.load(conn).await?;
        let ids: Vec<Uuid> = rows.iter().map(|(delivery, _)| delivery.id).collect();
        let mut attempts: Vec<AttemptRow> = webhook_attempts::table
            .filter(webhook_attempts::delivery_id.eq_any(&ids))
            .order((webhook_attempts::delivery_id, webhook_attempts::attempt))
            .select(AttemptRow::as_select())
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(delivery, event_type)| {
                let (own, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut attempts)
                    .into_iter()
                    .partition(|attempt| attempt.delivery_id == delivery.id);
                attempts = rest;
                LoggedDelivery {
                    delivery,
                    event_type,
                    attempts: own,
                }
            })
            .collect())
    })
    .await
}

/// What a redeliver request found.
#[derive(Debug, Clone)]
pub enum Redelivery {
    /// Queued for an attempt now.
    Queued(DeliveryRow),
    /// Still pending (waiting for its next attempt or in flight): nothing changed.
    AlreadyPending(DeliveryRow),
    NotFound,
}

/// Queues a finished (succeeded or failed) delivery for one more attempt now, with the same
/// message id. A failed delivery that fails again is failed again, without a new retry series.
pub async fn redeliver(
    pool: &Pool,
    endpoint_id: Uuid,
    delivery_id: Uuid,
) -> Result<Redelivery, StoreError> {
    use webhook_deliveries::dsl;
    with_connection(pool, async |conn| {
        let queued = diesel::update(
            dsl::webhook_deliveries
                .filter(dsl::id.eq(delivery_id))
                .filter(dsl::endpoint_id.eq(endpoint_id))
                .filter(dsl::status.ne("pending")),
        )
        .set((
            dsl::status.eq("pending"),
            dsl::next_attempt_at.eq(diesel::dsl::now),
        ))
        .returning(DeliveryRow::as_returning())
        .load_one(conn)
        .await
        .optional()?;
        if let Some(delivery) = queued {
            return Ok(Redelivery::Queued(delivery));
        }
        let pending = dsl::webhook_deliveries
            .filter(dsl::id.eq(delivery_id))
            .filter(dsl::endpoint_id.eq(endpoint_id))
            .select(DeliveryRow::as_select())
            .first(conn)
            .await
            .optional()?;
        Ok(pending.map_or(Redelivery::NotFound, Redelivery::AlreadyPending))
    })
    .await
}
