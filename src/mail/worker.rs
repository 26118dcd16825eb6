//! The mail worker: runs inside every `serve` that has an SMTP server, queues the moderators'
//! digests that are due, sends the due messages of every site, and retries what the server did
//! not take. Nodes share the work through row claims in PostgreSQL.

use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;

use super::templates::{self, Digest, DigestItem, Facts};
use super::{Envelope, Mailer, SendError};
use crate::db::Pool;
use crate::domain::mail::{MailKind, MailLanguage, MailSettings, WAITING_DAYS};
use crate::domain::moderation::ReasonCode;
use crate::domain::review::ReviewStatus;
use crate::domain::webhook::RetrySchedule;
use crate::metrics;
use crate::store::mail::{self, DueMessage, Outcome};

/// How often old messages are pruned and the pending gauge refreshed.
const UPKEEP_EVERY: Duration = Duration::from_secs(60);
/// How many waiting reviews a digest lists.
const DIGEST_ITEMS: i64 = 10;

pub struct MailWorker {
    pool: Pool,
    mailer: Mailer,
    schedule: RetrySchedule,
    poll: Duration,
    lease: Duration,
}

impl MailWorker {
    pub fn new(
        pool: Pool,
        mailer: Mailer,
        schedule: RetrySchedule,
        poll: Duration,
        lease: Duration,
    ) -> Self {
        Self {
            pool,
            mailer,
            schedule,
            poll,
            lease,
        }
    }

    /// Works until `stop` turns true; a message being sent then finishes (within the SMTP
    /// timeout) and is recorded. Stopped mid-send, its lease runs out and another node sends it.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(
            poll_ms = self.poll.as_millis() as u64,
            "mail worker started"
        );
        let mut last_upkeep: Option<Instant> = None;
        while !*stop.borrow() {
            if let Err(error) = mail::queue_digests(&self.pool).await {
                tracing::warn!(%error, "could not queue the moderators' digests");
            }
            let busy = self.step().await;
            if last_upkeep.is_none_or(|at| at.elapsed() >= UPKEEP_EVERY) {
                last_upkeep = Some(Instant::now());
                self.upkeep().await;
            }
            if busy {
                continue;
            }
            tokio::select! {
                _ = stop.changed() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Sends one batch of due messages; true when there was a batch (there may be more).
    async fn step(&self) -> bool {
        let claimed = match mail::claim_due(&self.pool, self.lease).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "could not claim due mail");
                return false;
            }
        };
        for message in &claimed {
            let outcome = self.deliver(message).await;
            let kind = MailKind::from_stored(&message.kind).map_or("unknown", MailKind::as_str);
            metrics::record_mail(kind, outcome_name(&outcome));
            if let Outcome::Failed(error) | Outcome::Retry { error, .. } = &outcome {
                tracing::warn!(id = %message.id, kind, %error, "mail not sent");
            }
            if let Err(error) = mail::record(&self.pool, message.id, &outcome).await {
                tracing::warn!(id = %message.id, %error, "could not record a mail outcome; it is sent again after its lease");
            }
        }
        !claimed.is_empty()
    }

    async fn upkeep(&self) {
        match mail::prune(&self.pool, WAITING_DAYS).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned old mail"),
            Err(error) => tracing::warn!(%error, "could not prune old mail"),
        }
        if let Ok(pending) = mail::pending(&self.pool).await {
            metrics::set_mail_pending(pending);
        }
    }

    /// Sends `message` if what it tells is still true and its address still wants it.
    async fn deliver(&self, message: &DueMessage) -> Outcome {
        let Some(kind) = MailKind::from_stored(&message.kind) else {
            return Outcome::Failed(format!("unknown kind {}", message.kind));
        };
        if let Some(reason) = not_to_send(kind, message) {
            return Outcome::Dropped(reason.to_owned());
        }
        let settings = message
            .site_mail
            .clone()
            .and_then(|raw| serde_json::from_value::<MailSettings>(raw).ok())
            .unwrap_or_default();
        let facts = match self.facts(kind, message).await {
            Ok(facts) => facts,
            Err(error) => return self.retry(message, error),
        };
        let language = MailLanguage::from_stored(&message.language).unwrap_or_default();
        let letter = templates::render(kind, language, &facts);
        let envelope = Envelope {
            from_name: settings.from_name.as_deref().unwrap_or(&facts.newsroom),
            from_address: settings.from_address.as_deref(),
            to: &message.address,
            unsubscribe_url: &facts.unsubscribe_url,
            language: language.as_str(),
        };
        match self.mailer.send(&envelope, &letter).await {
            Ok(()) => Outcome::Sent,
            Err(SendError::Permanent(error)) => Outcome::Failed(error),
            Err(SendError::Transient(error)) => self.retry(message, error),
        }
    }

    /// Tried again later on the schedule, or failed when the schedule is spent.
    fn retry(&self, message: &DueMessage, error: String) -> Outcome {
        let attempts = usize::try_from(message.attempts).unwrap_or(usize::MAX);
        match self.schedule.wait_after(attempts, rand::random::<f64>()) {
            Some(wait) => Outcome::Retry {
                at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                error,
            },
            None => Outcome::Failed(format!("no retries left: {error}")),
        }
    }

    /// What the message says, read now.
    async fn facts(&self, kind: MailKind, message: &DueMessage) -> Result<Facts, String> {
        let site = &message.site_id;
        let token = &message.link_token;
        let mut facts = Facts {
            newsroom: message
                .newsroom_name
                .clone()
                .unwrap_or_else(|| message.site_name.clone()),
            article_title: message.article_title.clone(),
            article_url: message.article_url.clone(),
            review_title: message.review_title.clone(),
            review_body: message.review_body.clone(),
            reply: message.reply_body.clone(),
            reasons: reasons(message.review_reasons.as_deref().unwrap_or_default()),
            confirm_url: (kind == MailKind::Confirm).then(|| {
                self.mailer
                    .link(site, &format!("/v1/mail/confirm?token={token}"))
            }),
            unsubscribe_url: self
                .mailer
                .link(site, &format!("/v1/mail/unsubscribe?token={token}")),
            digest: None,
        };
        if kind == MailKind::Digest {
            let (waiting, items) = mail::waiting(&self.pool, site, DIGEST_ITEMS)
                .await
                .map_err(|error| error.to_string())?;
            let console = self.mailer.link(site, "/console/");
            facts.digest = Some(Digest {
                waiting,
                items: items
                    .into_iter()
                    .map(|item| DigestItem {
                        url: format!("{console}#/articles/{}", item.article_id),
                        excerpt: templates::excerpt(item.title.as_deref().unwrap_or(&item.body)),
                        reasons: reasons(&item.reasons),
                        article_id: item.article_id,
                    })
                    .collect(),
                console_url: format!("{console}#/queue/pending"),
            });
        }
        Ok(facts)
    }
}

/// Why a claimed message must not go out now, if it must not.
fn not_to_send(kind: MailKind, message: &DueMessage) -> Option<&'static str> {
    if message.unsubscribed {
        return Some("unsubscribed");
    }
    if kind != MailKind::Confirm && !message.confirmed {
        return Some("address not confirmed");
    }
    if kind == MailKind::Confirm && message.confirmed {
        return Some("confirmed already");
    }
    if message.review_id.is_some() {
        if message.review_erased {
            return Some("review erased");
        }
        let status = message
            .review_status
            .as_deref()
            .and_then(ReviewStatus::from_stored);
        let still_true =
            status.is_some_and(|status| kind.still_true(status, message.reply_body.is_some()));
        if !still_true {
            return Some("no longer true");
        }
    }
    None
}

fn reasons(stored: &[String]) -> Vec<ReasonCode> {
    stored
        .iter()
        .filter_map(|code| ReasonCode::parse(code))
        .collect()
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Sent => "sent",
        Outcome::Dropped(_) => "dropped",
        Outcome::Retry { .. } => "retried",
        Outcome::Failed(_) => "failed",
    }
}
