//! Webhooks both ways: the CMS's inbound signing secrets and the outbound worker.

use std::time::Duration;

use clap::Args;

use super::secret::{CmsSecrets, CmsSecretsParser};
use crate::domain::webhook::RetrySchedule;

#[derive(Debug, Clone, Args)]
pub struct Webhooks {
    /// Secrets (`whsec_…`, comma-separated) that CMS events to `POST /v1/webhooks/cms` may be
    /// signed with; more than one while the CMS rotates its secret. Unset: inbound events are
    /// refused.
    #[arg(
        long = "cms-webhook-secrets", value_name = "CMS_WEBHOOK_SECRETS",
        env = "MARGINALIA_CMS_WEBHOOK_SECRETS",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true,
        value_parser = CmsSecretsParser
    )]
    pub cms_secrets: CmsSecrets,

    /// Run the outbound webhook worker in this process.
    #[arg(long = "webhook-worker", value_name = "WEBHOOK_WORKER", env = "MARGINALIA_WEBHOOK_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub worker: bool,

    /// How often the worker looks for due deliveries (it also wakes at once when this process
    /// stores a change).
    #[arg(long = "webhook-poll", value_name = "WEBHOOK_POLL", env = "MARGINALIA_WEBHOOK_POLL", default_value = "1s", value_parser = positive_duration)]
    pub poll: Duration,

    /// Waits before each retry of a failed delivery, comma-separated (`5s,5m,30m,...`).
    #[arg(long = "webhook-retry-schedule", value_name = "WEBHOOK_RETRY_SCHEDULE", env = "MARGINALIA_WEBHOOK_RETRY_SCHEDULE",
          default_value = RetrySchedule::DEFAULT, value_parser = retry_schedule)]
    pub retry_schedule: RetrySchedule,

    /// Longest wait for a receiver's answer.
    #[arg(long = "webhook-timeout", value_name = "WEBHOOK_TIMEOUT", env = "MARGINALIA_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub timeout: Duration,

    /// Most deliveries one process sends at once.
    #[arg(long = "webhook-concurrency", value_name = "WEBHOOK_CONCURRENCY", env = "MARGINALIA_WEBHOOK_CONCURRENCY", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=512))]
    pub concurrency: u16,

    /// Allow receivers on loopback, private and link-local addresses (local development, or a
    /// receiver inside the newsroom's network).
    #[arg(long = "webhook-allow-private-targets", value_name = "WEBHOOK_ALLOW_PRIVATE_TARGETS", env = "MARGINALIA_WEBHOOK_ALLOW_PRIVATE_TARGETS",
          default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_private_targets: bool,

    /// Let the worker reach only this machine: 127.0.0.0/8, ::1 and the name `localhost`
    /// (answered locally, never asked of DNS). Any other target is refused before any network
    /// activity, logged at ERROR and counted in `marginalia_webhook_non_loopback_refused_total`.
    /// For test, fuzz and benchmark runs, which must send nothing off the machine. Loopback
    /// receivers need no `MARGINALIA_WEBHOOK_ALLOW_PRIVATE_TARGETS` then.
    #[arg(long = "webhook-loopback-only", value_name = "WEBHOOK_LOOPBACK_ONLY", env = "MARGINALIA_WEBHOOK_LOOPBACK_ONLY", default_value_t = false,
          action = clap::ArgAction::Set)]
    pub loopback_only: bool,

    /// How long `article.stats_changed` gathers changes of one article into one event.
    #[arg(long = "webhook-stats-window", value_name = "WEBHOOK_STATS_WINDOW", env = "MARGINALIA_WEBHOOK_STATS_WINDOW", default_value = "5s", value_parser = humantime::parse_duration)]
    pub stats_window: Duration,

    /// An endpoint whose every attempt has failed for this long is disabled.
    #[arg(long = "webhook-disable-after", value_name = "WEBHOOK_DISABLE_AFTER", env = "MARGINALIA_WEBHOOK_DISABLE_AFTER", default_value = "5days", value_parser = positive_duration)]
    pub disable_after: Duration,

    /// How long the old secret keeps signing after a rotation.
    #[arg(long = "webhook-rotation-grace", value_name = "WEBHOOK_ROTATION_GRACE", env = "MARGINALIA_WEBHOOK_ROTATION_GRACE", default_value = "24h", value_parser = humantime::parse_duration)]
    pub rotation_grace: Duration,

    /// How long finished deliveries, their log and processed CMS event ids are kept.
    #[arg(long = "webhook-retention", value_name = "WEBHOOK_RETENTION", env = "MARGINALIA_WEBHOOK_RETENTION", default_value = "30days", value_parser = positive_duration)]
    pub retention: Duration,
}

/// A duration that must be longer than zero (a zero poll would spin; a zero retention would
/// delete what it just wrote).
fn positive_duration(raw: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(raw).map_err(|error| error.to_string())?;
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

/// The comma-separated waits of the retry schedule, checked once at start.
pub(super) fn retry_schedule(raw: &str) -> Result<RetrySchedule, String> {
    let waits = raw
        .split(',')
        .map(|wait| humantime::parse_duration(wait.trim()).map_err(|error| error.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    RetrySchedule::new(waits)
}
