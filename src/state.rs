//! What every handler shares.

use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::client::TrustedProxies;
use crate::coherence::{Announcer, OtherNodes};
use crate::db::Pool;
use crate::domain::language::LanguageDetector;
use crate::domain::moderation::{ModerationMode, Rules};
use crate::domain::review::RatingRule;
use crate::live::Live;
use crate::rate_limit::Limit;
use crate::read_cache::ReadCache;
use crate::readers::Readers;
use crate::replicas::Replicas;
use crate::store::{self, StoreError};
use crate::tokens::ClientDigests;
use crate::views::tagged::CachePolicy;
use crate::webhooks::address::TargetPolicy;
use crate::webhooks::signature::Secret;
use crate::webhooks::OutboxSignal;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    /// Where public reads may go instead of `pool` (none without `DATABASE_READ_URL`).
    pub replicas: Replicas,
    /// `MARGINALIA_UNKNOWN_ARTICLES=accept`: a first review creates its article.
    pub create_missing_articles: bool,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest a client may take to send a request body.
    pub body_read_timeout: Duration,
    pub read_cache: ReadCache,
    /// Tells the other nodes which articles this node's writes changed.
    pub announcer: Announcer,
    /// How public reads may be cached by browsers and CDNs.
    pub http_cache: CachePolicy,
    /// Wakes this process's webhook worker after a change it announces.
    pub outbox: OutboxSignal,
    pub webhooks: WebhookSettings,
    pub moderation: ModerationSettings,
    pub abuse: AbuseSettings,
    pub draining: Draining,
    /// This node's live streams.
    pub live: Live,
    /// The site's reader tokens.
    pub readers: Readers,
    /// Email is set up (`MARGINALIA_SMTP_URL`): a review's `notify` is kept and acted on.
    pub mail_enabled: bool,
}

/// Set once the process was asked to stop: it still serves, but tells load balancers (readiness
/// fails) and clients (each answer closes its connection) to go elsewhere before it stops
/// accepting, so that a rolling restart fails no request.
#[derive(Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn begin(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How reviews are moderated.
#[derive(Clone)]
pub struct ModerationSettings {
    pub site_mode: ModerationMode,
    /// Guesses the language of reviews submitted without one.
    pub language_detector: Arc<LanguageDetector>,
    pub rules: Arc<Rules>,
    pub edit_window: chrono::TimeDelta,
    pub flag_threshold: u32,
    /// Whether readers must give stars (the site's `unrated_reviews`; the installation's: yes).
    pub rating_rule: RatingRule,
    /// The name replies are attributed to.
    pub newsroom_name: Arc<str>,
}

/// Protection of the public writes.
#[derive(Clone)]
pub struct AbuseSettings {
    pub trusted_proxies: TrustedProxies,
    pub reviews_limit: Limit,
    pub reactions_limit: Limit,
    /// The installation's client digests, loaded from the database on first use.
    digests: Arc<OnceCell<ClientDigests>>,
    /// Whether other nodes serve the same database (`coherence` counts them), so that the rate
    /// limits must count in the shared buckets; true until counted.
    pub other_nodes: OtherNodes,
}

impl AbuseSettings {
    pub fn new(
        trusted_proxies: TrustedProxies,
        reviews_limit: Limit,
        reactions_limit: Limit,
    ) -> Self {
        Self {
            trusted_proxies,
            reviews_limit,
            reactions_limit,
            digests: Arc::default(),
            other_nodes: OtherNodes::default(),
        }
    }

    pub async fn digests(&self, pool: &Pool) -> Result<&ClientDigests, StoreError> {
        self.digests
            .get_or_try_init(|| async {
                Ok(ClientDigests::new(
                    store::site_secrets::client_digest_salt(pool).await?,
                ))
            })
            .await
    }
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
