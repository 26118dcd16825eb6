//! The outbound webhook worker: runs inside every `serve`, turns committed outbox events into
//! deliveries, sends due deliveries, and records each attempt. Instances share the work through
//! row claims in PostgreSQL, never through each other.

use std::time::{Duration, Instant};

use chrono::Utc;
use rand::Rng;
use tokio::sync::watch;

use super::events;
use super::sender::{Sender, Sent};
use super::signature::{self, Secret};
use super::OutboxSignal;
use crate::db::Pool;
use crate::domain::webhook::RetrySchedule;
use crate::metrics;
use crate::store::outbox::{self, AttemptResult, ClaimedDelivery, LogEntry, Recorded};
use crate::store::StoreError;
use crate::views::stats::ArticleStats;

/// How long past the send timeout and the database deadline a claimed delivery stays leased to
/// its worker: time enough to record the attempt.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// How often old events and logs are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// How often the pending-deliveries gauge is refreshed.
const COUNT_EVERY: Duration = Duration::from_secs(5);

/// The worker's settings.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub poll: Duration,
    pub timeout: Duration,
    pub concurrency: u16,
    pub schedule: RetrySchedule,
    pub stats_window: Duration,
    pub disable_after: Duration,
    pub retention: Duration,
}

pub struct Worker {
    pool: Pool,
    sender: Sender,
    signal: OutboxSignal,
    settings: WorkerSettings,
}

impl Worker {
    pub fn new(pool: Pool, sender: Sender, signal: OutboxSignal, settings: WorkerSettings) -> Self {
        Self {
            pool,
            sender,
            signal,
            settings,
        }
    }

    /// Works until `stop` turns true; the attempts in flight then finish (each within the send
    /// timeout) and are recorded. Dropped mid-attempt, the leases make other instances (or this
    /// one, restarted) try again.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(
            poll_ms = self.settings.poll.as_millis() as u64,
            concurrency = self.settings.concurrency,
            "webhook worker started"
        );
        let mut last_prune: Option<Instant> = None;
        let mut last_count: Option<Instant> = None;
        loop {
            if *stop.borrow() {
                break;
            }
            let busy = self.step().await;
            if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(Instant::now());
                match outbox::prune(&self.pool, self.settings.retention).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "pruned old webhook events"),
                    Err(error) => tracing::warn!(%error, "could not prune old webhook events"),
                }
                // Expired idempotency keys too: any process with a worker keeps that table small
                // (an expired key is ignored either way).
                if let Err(error) = crate::store::idempotency::prune(&self.pool).await {
                    tracing::warn!(%error, "could not prune expired idempotency keys");
                }
            }
            if last_count.is_none_or(|at| at.elapsed() >= COUNT_EVERY) {
                last_count = Some(Instant::now());
                if let Ok(pending) = outbox::pending_deliveries(&self.pool).await {
                    metrics::set_webhook_pending(pending);
                }
            }
            if busy {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.poll) => {}
                () = self.signal.woken() => {}
                _ = stop.changed() => {}
            }
        }
        tracing::info!("webhook worker stopped");
    }

    /// Fans out due events and sends one batch of due deliveries; true if there was work (so the
    /// next step follows at once).
    async fn step(&self) -> bool {
        let fanned = outbox::fan_out(
            &self.pool,
            self.settings.stats_window,
            |article, counters| {
                serde_json::to_value(ArticleStats::new(article.to_owned(), counters))
                    .unwrap_or_default()
            },
        )
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "could not fan out webhook events");
            0
        });
        // A lease long enough to send, record and spare: only a dead worker lets one run out.
        let lease = self.settings.timeout + self.pool.deadline() + LEASE_MARGIN;
        let claimed = outbox::claim(&self.pool, i64::from(self.settings.concurrency), lease)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "could not claim webhook deliveries");
                Vec::new()
            });
        let sent = claimed.len();
        futures_util::future::join_all(claimed.into_iter().map(|delivery| self.deliver(delivery)))
            .await;
        fanned > 0 || sent > 0
    }

    /// One attempt of one delivery, recorded.
    async fn deliver(&self, delivery: ClaimedDelivery) {
        let started_at = Utc::now();
        let sent = self.send(&delivery).await;
        metrics::record_webhook_attempt(sent.succeeded(), sent.latency);
        let result = self.attempt_result(&delivery, started_at, &sent);
        let message_id = events::message_id(&delivery.event_id);
        match self.record(&delivery, &result, &message_id).await {
            Ok((outcome, disabled)) => {
                self.report(&delivery, &sent, &message_id, outcome, disabled);
            }
            // The database refuses every write: the lease runs out and the delivery is tried
            // again then, nothing is lost.
            Err(error) => tracing::warn!(
                %error,
                delivery_id = %delivery.id,
                "could not record a webhook attempt; it will be retried"
            ),
        }
    }

    /// What an attempt came to, with when to try again after a failure.
    fn attempt_result(
        &self,
        delivery: &ClaimedDelivery,
        started_at: chrono::DateTime<Utc>,
        sent: &Sent,
    ) -> AttemptResult {
        let succeeded = sent.succeeded();
        let attempts_made = usize::try_from(delivery.attempts).unwrap_or(usize::MAX);
        let retry_after = if succeeded {
            None
        } else {
            self.settings
                .schedule
                .wait_after(attempts_made, rand::rng().random::<f64>())
        };
        AttemptResult {
            delivery_id: delivery.id,
            endpoint_id: delivery.endpoint_id,
            attempt: delivery.attempts,
            started_at,
            latency: sent.latency,
            status_code: sent.status_code,
            error: sent.error.clone(),
            response_excerpt: sent.response_excerpt.clone(),
            succeeded,
            retry_after,
        }
    }

    /// Records the attempt with its log entry, or without it when the entry itself is refused.
    async fn record(
        &self,
        delivery: &ClaimedDelivery,
        result: &AttemptResult,
        message_id: &str,
    ) -> Result<(Recorded, bool), StoreError> {
        let disable_after = self.settings.disable_after;
        match outbox::record(&self.pool, result, LogEntry::Write, disable_after).await {
            Ok(recorded) => Ok(recorded),
            // With the database out of reach neither write can land: the delivery's lease brings
            // it back once it recovers, log entry and all.
            Err(error @ StoreError::Unavailable(_)) => Err(error),
            // The attempt's log entry itself could not be stored (e.g. a value the database
            // refuses): record the outcome without it, so the schedule and the disable rule
            // still apply instead of the lease resending the same message without end.
            Err(error) => {
                tracing::error!(
                    %error,
                    delivery_id = %delivery.id,
                    %message_id,
                    "could not log a webhook attempt; moving the delivery on without its log entry"
                );
                outbox::record(&self.pool, result, LogEntry::Skip, disable_after).await
            }
        }
    }

    /// Logs and counts what a recorded attempt came to.
    fn report(
        &self,
        delivery: &ClaimedDelivery,
        sent: &Sent,
        message_id: &str,
        outcome: Recorded,
        disabled: bool,
    ) {
        tracing::debug!(
            delivery_id = %delivery.id,
            %message_id,
            attempt = delivery.attempts,
            status = sent.status_code,
            ?outcome,
            "webhook attempt"
        );
        match outcome {
            Recorded::Succeeded => metrics::record_webhook_delivery(true),
            Recorded::Failed => {
                metrics::record_webhook_delivery(false);
                tracing::warn!(
                    delivery_id = %delivery.id,
                    endpoint_id = %delivery.endpoint_id,
                    %message_id,
                    attempts = delivery.attempts,
                    error = sent.error.as_deref(),
                    status = sent.status_code,
                    "webhook delivery failed: no attempts left"
                );
            }
            Recorded::WillRetry | Recorded::Superseded => {}
        }
        if disabled {
            metrics::record_webhook_endpoint_disabled();
            tracing::warn!(
                event = "webhook.endpoint_disabled",
                endpoint_id = %delivery.endpoint_id,
                url = %delivery.url,
                "webhook.endpoint_disabled: every attempt failed for longer than {} s; \
                 re-enable it with PATCH /v1/webhook-endpoints/{}",
                self.settings.disable_after.as_secs(),
                delivery.endpoint_id
            );
        }
    }

    async fn send(&self, delivery: &ClaimedDelivery) -> Sent {
        let mut secrets = Vec::new();
        for stored in std::iter::once(&delivery.secret).chain(delivery.previous_secret.as_ref()) {
            match Secret::parse(stored) {
                Ok(secret) => secrets.push(secret),
                Err(_) => {
                    return Sent {
                        status_code: None,
                        response_excerpt: None,
                        error: Some("the endpoint's stored secret is unreadable".into()),
                        latency: Duration::ZERO,
                    }
                }
            }
        }
        let body = events::envelope(
            &delivery.event_type,
            &delivery.site_id,
            delivery.event_created_at,
            &delivery.payload,
        );
        let message_id = events::message_id(&delivery.event_id);
        let timestamp = Utc::now().timestamp();
        let signing: Vec<&Secret> = secrets.iter().collect();
        let signature = signature::signature_header(&signing, &message_id, timestamp, &body);
        self.sender
            .post(&delivery.url, &message_id, timestamp, &signature, body)
            .await
    }
}
