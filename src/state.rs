//! What every handler shares.

use std::time::Duration;

use std::sync::Arc;

use crate::db::Pool;
use crate::read_cache::ReadCache;
use crate::webhooks::address::TargetPolicy;
use crate::webhooks::signature::Secret;
use crate::webhooks::OutboxSignal;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    /// `MARGINALIA_UNKNOWN_ARTICLES=accept`: a first review creates its article.
    pub create_missing_articles: bool,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest a client may take to send a request body.
    pub body_read_timeout: Duration,
    pub read_cache: ReadCache,
    /// Wakes this process's webhook worker after a change it announces.
    pub outbox: OutboxSignal,
    pub webhooks: WebhookSettings,
}

/// What the webhook endpoints need to know.
#[derive(Clone)]
pub struct WebhookSettings {
    /// Secrets CMS events may be signed with; none means inbound events are refused.
    pub cms_secrets: Arc<Vec<Secret>>,
    /// Which receiver addresses outbound endpoints may use.
    pub target_policy: TargetPolicy,
    /// How long an endpoint's old secret keeps signing after a rotation.
    pub rotation_grace: Duration,
}
