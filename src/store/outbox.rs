//! The transactional outbox and its deliveries, as the webhook worker drives them. Every step
//! claims its rows with `FOR UPDATE SKIP LOCKED`, so any number of service instances share the
//! work without sending anything twice.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Integer, Interval, Jsonb, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::answer::LoadOne;
use super::{stats, with_connection, StoreError};
use crate::db::schema::{outbox_events, webhook_deliveries, webhook_endpoints};
use crate::db::Pool;
use crate::domain::stats::RatingCounters;
use crate::domain::webhook::EventType;

/// How many events one fan-out step turns into deliveries.
const FAN_OUT_BATCH: i64 = 500;

/// Turns due outbox events into one delivery per enabled endpoint that subscribes to them, in one
/// transaction. Changes that move an article's stats also queue its `article.stats_changed`
/// event, available after `stats_window` and at most one pending per article, so a burst of
/// reviews becomes one event; its data is rendered by `render_stats` when it is fanned out, so it
/// carries the counts of that moment. Returns how many events were fanned out.
pub async fn fan_out(
    pool: &Pool,
    stats_window: Duration,
    render_stats: impl Fn(&str, RatingCounters) -> serde_json::Value + Sync,
) -> Result<usize, StoreError> {
    let window = pg_interval(stats_window);
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let due = claim_due_events(conn).await?;
            if due.is_empty() {
                return Ok(0);
            }
            let subscriptions = Subscriptions::load(conn).await?;
            let mut deliveries = Vec::new();
            let mut stats_moved = BTreeSet::new();
            for DueEvent {
                id: event_id,
                event_type,
                article_id,
                site_id,
            } in &due
            {
                if event_type == EventType::ArticleStatsChanged.as_str() {
                    let counters = stats::for_article_on(conn, site_id, article_id)
                        .await?
                        .unwrap_or_default();
                    diesel::update(outbox_events::table.find(event_id))
                        .set(outbox_events::payload.eq(render_stats(article_id, counters)))
                        .execute(conn)
                        .await?;
                } else if EventType::from_name(event_type).is_some_and(EventType::moves_stats) {
                    stats_moved.insert((site_id.as_str(), article_id.as_str()));
                }
                deliveries.extend(
                    subscriptions.of(site_id, event_type).map(|endpoint_id| {
                        (Uuid::now_v7(), endpoint_id, *event_id, site_id.as_str())
                    }),
                );
            }
            let stats_type = EventType::ArticleStatsChanged.as_str();
            let articles: Vec<(&str, &str)> = stats_moved
                .into_iter()
                .filter(|(site, _)| subscriptions.of(site, stats_type).next().is_some())
                .collect();
            if !articles.is_empty() {
                queue_stats_events(conn, &articles, window).await?;
            }
            insert_deliveries(conn, &deliveries).await?;
            let ids: Vec<Uuid> = due.iter().map(|event| event.id).collect();
            diesel::update(outbox_events::table.filter(outbox_events::id.eq_any(&ids)))
                .set(outbox_events::dispatched_at.eq(diesel::dsl::now))
                .execute(conn)
                .await?;
            Ok(due.len())
        })
        .await
    })
    .await
}

/// An event due to be fanned out to its site's endpoints.
#[derive(Queryable)]
struct DueEvent {
    id: Uuid,
    event_type: String,
    article_id: String,
    site_id: String,
}

/// Locks up to `FAN_OUT_BATCH` due, undispatched events of every site the connection sees, oldest
/// first; events another instance holds are skipped.
async fn claim_due_events(conn: &mut AsyncPgConnection) -> Result<Vec<DueEvent>, StoreError> {
    Ok(outbox_events::table
        .filter(outbox_events::dispatched_at.is_null())
        .filter(outbox_events::available_at.le(diesel::dsl::now))
        .order(outbox_events::available_at)
        .limit(FAN_OUT_BATCH)
        .select((
            outbox_events::id,
            outbox_events::event_type,
            outbox_events::article_id,
            outbox_events::site_id,
        ))
        .for_update()
        .skip_locked()
        .load(conn)
        .await?)
}

/// The enabled endpoints, their sites and the event types each receives.
struct Subscriptions(Vec<(Uuid, String, Vec<String>)>);

impl Subscriptions {
    async fn load(conn: &mut AsyncPgConnection) -> Result<Self, StoreError> {
        Ok(Self(
            webhook_endpoints::table
                .filter(webhook_endpoints::enabled)
                .select((
                    webhook_endpoints::id,
                    webhook_endpoints::site_id,
                    webhook_endpoints::event_types,
                ))
                .load(conn)
                .await?,
        ))
    }

    /// The endpoints of `site` that receive `event_type`: a site's events never reach another
    /// site's endpoints.
    fn of<'a>(&'a self, site: &'a str, event_type: &'a str) -> impl Iterator<Item = Uuid> + 'a {
        self.0
            .iter()
            .filter(move |(_, endpoint_site, types)| {
                endpoint_site == site && types.iter().any(|t| t == event_type)
            })
            .map(|(id, _, _)| *id)
    }
}

/// Queues an `article.stats_changed` event for each (site, article), available after `window`,
/// unless one is already pending for it.
pub(super) async fn queue_stats_events(
    conn: &mut AsyncPgConnection,
    articles: &[(&str, &str)],
    window: diesel::data_types::PgInterval,
) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = articles.iter().map(|_| Uuid::now_v7()).collect();
    let (sites, article_ids): (Vec<&str>, Vec<&str>) = articles.iter().copied().unzip();
    diesel::sql_query(
        "INSERT INTO outbox_events (id, event_type, article_id, payload, available_at, site_id) \
         SELECT id, $1, article_id, '{}'::jsonb, now() + $2, site_id \
         FROM unnest($3::uuid[], $4::text[], $5::text[]) AS pending (id, article_id, site_id) \
         ON CONFLICT (site_id, article_id) \
         WHERE dispatched_at IS NULL AND event_type = 'article.stats_changed' \
         DO NOTHING",
    )
    .bind::<Text, _>(EventType::ArticleStatsChanged.as_str())
    .bind::<Interval, _>(window)
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<Text>, _>(&article_ids)
    .bind::<Array<Text>, _>(&sites)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores new deliveries (id, endpoint, event, site); one that exists already is left as it is.
async fn insert_deliveries(
    conn: &mut AsyncPgConnection,
    deliveries: &[(Uuid, Uuid, Uuid, &str)],
) -> Result<(), StoreError> {
    // A statement takes at most 65,535 parameters: 10,000 rows of 4 at a time.
    for chunk in deliveries.chunks(10_000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(id, endpoint_id, event_id, site)| {
                (
                    webhook_deliveries::id.eq(*id),
                    webhook_deliveries::endpoint_id.eq(*endpoint_id),
                    webhook_deliveries::event_id.eq(*event_id),
                    webhook_deliveries::site_id.eq(*site),
                )
            })
            .collect();
        diesel::insert_into(webhook_deliveries::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// A delivery claimed for one attempt, with what sending it needs.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedDelivery {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub endpoint_id: Uuid,
    /// The event's id: the message id (`webhook-id`) on every attempt and every endpoint.
    #[diesel(sql_type = SqlUuid)]
    pub event_id: Uuid,
    /// This attempt's number, from 1.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    /// The site whose event it is (an endpoint receives only its own site's).
    #[diesel(sql_type = Text)]
    pub site_id: String,
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = Timestamptz)]
    pub event_created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Text)]
    pub secret: String,
    /// The secret before the last rotation, while it still signs.
    #[diesel(sql_type = Nullable<Text>)]
    pub previous_secret: Option<String>,
}

/// Claims up to `limit` due deliveries of enabled endpoints for one attempt each. The claim is a
/// lease: the delivery's next attempt moves to `lease` from now, so another instance takes it over
/// only if this one dies before recording the attempt.
pub async fn claim(
    pool: &Pool,
    limit: i64,
    lease: Duration,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let lease = pg_interval(lease);
    with_connection(pool, async |conn| {
        Ok(diesel::sql_query(
            "UPDATE webhook_deliveries AS d \
             SET attempts = d.attempts + 1, next_attempt_at = now() + $1, last_attempt_at = now() \
             FROM outbox_events AS e, webhook_endpoints AS w \
             WHERE d.id IN (SELECT due.id FROM webhook_deliveries AS due \
                            JOIN webhook_endpoints AS live ON live.id = due.endpoint_id AND live.enabled \
                            WHERE due.status = 'pending' AND due.next_attempt_at <= now() \
                            ORDER BY due.next_attempt_at LIMIT $2 \
                            FOR UPDATE OF due SKIP LOCKED) \
               AND e.id = d.event_id AND w.id = d.endpoint_id \
             RETURNING d.id, d.endpoint_id, d.event_id, d.attempts, e.event_type, e.site_id, e.payload, \
                       e.created_at AS event_created_at, w.url, w.secret, \
                       CASE WHEN w.previous_secret_until > now() THEN w.previous_secret END \
                         AS previous_secret",
        )
        .bind::<Interval, _>(lease)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?)
    })
    .await
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub delivery_id: Uuid,
    pub endpoint_id: Uuid,
    /// The attempt number the claim gave.
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub latency: Duration,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    pub succeeded: bool,
    /// When a failed attempt is tried again; `None` when it was the last.
    pub retry_after: Option<Duration>,
}

/// What recording an attempt changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Succeeded,
    WillRetry,
    /// No attempts left: the delivery is failed.
    Failed,
    /// The lease had run out and another instance took the delivery over: only the log entry was
    /// written.
    Superseded,
}

/// Whether `record` writes the attempt's log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogEntry {
    Write,
    /// Writing it failed once: the delivery still moves on (retry schedule, failure streak,
    /// disabling), as a delivery left to its lease would be resent without end.
    Skip,
}

/// Logs an attempt and moves its delivery on, in one transaction; tracks the endpoint's failure
/// streak and disables an endpoint failing for longer than `disable_after`. Returns what became
/// of the delivery and whether the endpoint was disabled now.
pub async fn record(
    pool: &Pool,
    result: &AttemptResult,
    log: LogEntry,
    disable_after: Duration,
) -> Result<(Recorded, bool), StoreError> {
    let disable_after = pg_interval(disable_after);
    let retry = result.retry_after.map(pg_interval);
    let (status, next) = match (result.succeeded, retry) {
        (true, _) => ("succeeded", None),
        (false, Some(wait)) => ("pending", Some(wait)),
        (false, None) => ("failed", None),
    };
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            if log == LogEntry::Write {
                write_log_entry(conn, result).await?;
            }
            let moved = diesel::sql_query(
                "UPDATE webhook_deliveries SET status = $1, \
                 next_attempt_at = now() + COALESCE($2, interval '0') \
                 WHERE id = $3 AND attempts = $4 AND status = 'pending'",
            )
            .bind::<Text, _>(status)
            .bind::<Nullable<Interval>, _>(next)
            .bind::<SqlUuid, _>(result.delivery_id)
            .bind::<Integer, _>(result.attempt)
            .execute(conn)
            .await?;
            let disabled = if result.succeeded {
                end_failure_streak(conn, result.endpoint_id).await?;
                false
            } else {
                extend_failure_streak(conn, result.endpoint_id, disable_after).await?
            };
            let recorded = match (moved > 0, status) {
                (false, _) => Recorded::Superseded,
                (true, "succeeded") => Recorded::Succeeded,
                (true, "pending") => Recorded::WillRetry,
                (true, _) => Recorded::Failed,
            };
            Ok((recorded, disabled))
        })
        .await
    })
    .await
}

/// The attempt's entry in the delivery log.
async fn write_log_entry(
    conn: &mut AsyncPgConnection,
    result: &AttemptResult,
) -> Result<(), StoreError> {
    let latency_ms = i32::try_from(result.latency.as_millis()).unwrap_or(i32::MAX);
    let status_code = result.status_code.and_then(|code| i16::try_from(code).ok());
    // In the delivery's site: the worker serves every site at once.
    diesel::sql_query(
        "INSERT INTO webhook_attempts (id, delivery_id, attempt, started_at, latency_ms, \
         status_code, error, response_excerpt, site_id) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, site_id FROM webhook_deliveries WHERE id = $2",
    )
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<SqlUuid, _>(result.delivery_id)
    .bind::<Integer, _>(result.attempt)
    .bind::<Timestamptz, _>(result.started_at)
    .bind::<Integer, _>(latency_ms)
    .bind::<Nullable<SmallInt>, _>(status_code)
    .bind::<Nullable<Text>, _>(result.error.as_deref())
    .bind::<Nullable<Text>, _>(result.response_excerpt.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// An answer: the endpoint is no longer failing.
async fn end_failure_streak(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
) -> Result<(), StoreError> {
    diesel::update(webhook_endpoints::table.find(endpoint_id))
        .filter(webhook_endpoints::failing_since.is_not_null())
        .set(webhook_endpoints::failing_since.eq(None::<DateTime<Utc>>))
        .execute(conn)
        .await?;
    Ok(())
}

/// A failure: the endpoint's streak starts (if it had none), and an endpoint failing for longer
/// than `disable_after` is disabled. True when it was disabled now.
async fn extend_failure_streak(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    disable_after: diesel::data_types::PgInterval,
) -> Result<bool, StoreError> {
    diesel::sql_query(
        "UPDATE webhook_endpoints SET failing_since = now() \
         WHERE id = $1 AND failing_since IS NULL",
    )
    .bind::<SqlUuid, _>(endpoint_id)
    .execute(conn)
    .await?;
    let disabled = diesel::sql_query(
        "UPDATE webhook_endpoints SET enabled = false, updated_at = now(), \
         disabled_reason = 'every delivery attempt failed since ' \
           || to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
         WHERE id = $1 AND enabled AND failing_since < now() - $2",
    )
    .bind::<SqlUuid, _>(endpoint_id)
    .bind::<Interval, _>(disable_after)
    .execute(conn)
    .await?;
    Ok(disabled > 0)
}

/// Deletes what is older than `retention`: fanned-out events whose deliveries are all finished
/// (with those deliveries and their log) and the ids of processed CMS events. Returns how many
/// events went.
pub async fn prune(pool: &Pool, retention: Duration) -> Result<usize, StoreError> {
    let retention = pg_interval(retention);
    with_connection(pool, async |conn| {
        let events = diesel::sql_query(
            "DELETE FROM outbox_events AS e WHERE e.id IN ( \
               SELECT old.id FROM outbox_events AS old \
               WHERE old.dispatched_at IS NOT NULL AND old.created_at < now() - $1 \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries AS d \
                                 WHERE d.event_id = old.id AND d.status = 'pending') \
               LIMIT 10000)",
        )
        .bind::<Interval, _>(retention)
        .execute(conn)
        .await?;
        diesel::sql_query("DELETE FROM processed_inbound_events WHERE received_at < now() - $1")
            .bind::<Interval, _>(retention)
            .execute(conn)
            .await?;
        Ok(events)
    })
    .await
}

/// Deliveries waiting for an attempt (or in flight), for `/metrics`.
pub async fn pending_deliveries(pool: &Pool) -> Result<i64, StoreError> {
    use webhook_deliveries::dsl;
    with_connection(pool, async |conn| {
        Ok(dsl::webhook_deliveries
            .filter(dsl::status.eq("pending"))
            .count()
            .load_one(conn)
            .await?)
    })
    .await
}

pub(super) fn pg_interval(duration: Duration) -> diesel::data_types::PgInterval {
    let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
    diesel::data_types::PgInterval::from_microseconds(micros)
}
