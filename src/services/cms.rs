//! The CMS's writes: signed article events, and the article PUT and PATCH.

use chrono::Utc;

use super::{after_commit, Committed, ServiceError};
use crate::auth::ApiCaller;
use crate::domain::article::{ArticleId, ArticlePut, PatchArticleRequest};
use crate::domain::cms_event::{CmsEvent, InvalidEvent};
use crate::domain::moderation::ModerationMode;
use crate::metrics::{self, CmsEventOutcome};
use crate::state::AppState;
use crate::store::articles::{ArticleSettings, ArticleWithStats, InboundOutcome};
use crate::store::{self, StoreError};
use crate::webhooks::signature::{self, SignedHeaders};

/// Why a CMS event was not applied.
#[derive(Debug, thiserror::Error)]
pub enum CmsEventError {
    /// Headers, timestamp or signature refused; the reason goes to the operators' log only, so
    /// the sender learns nothing it could use.
    #[error("the webhook signature could not be verified")]
    Unverified,
    /// Signed, but not an event that can be applied.
    #[error("the event is invalid")]
    Invalid(InvalidEvent),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What became of an accepted event.
#[derive(Debug)]
pub struct Receipt {
    pub webhook_id: String,
    pub outcome: InboundOutcome,
    pub article_id: ArticleId,
}

/// A CMS event as it arrived: its signature headers, its exact bytes, and those bytes read as an
/// event. The reading is refused only once the signature holds: an unsigned request learns
/// nothing about its body.
pub struct SignedEvent<'a> {
    pub headers: SignedHeaders<'a>,
    pub body: &'a [u8],
    pub event: Result<CmsEvent, InvalidEvent>,
}

/// Receives a CMS event: verified, then applied once and in the order of its timestamp. Every
/// outcome, refusals included, is counted here and nowhere else.
pub async fn receive(
    state: &AppState,
    delivery: SignedEvent<'_>,
) -> Result<Receipt, CmsEventError> {
    let received = verify_and_apply(state, delivery).await;
    let counted = match &received {
        Ok(receipt) => Some(match receipt.outcome {
            InboundOutcome::Applied => CmsEventOutcome::Applied,
            InboundOutcome::Superseded => CmsEventOutcome::Superseded,
            InboundOutcome::AlreadyProcessed => CmsEventOutcome::AlreadyProcessed,
        }),
        Err(CmsEventError::Unverified | CmsEventError::Invalid(_)) => {
            Some(CmsEventOutcome::Refused)
        }
        // Nothing was decided: the CMS retries, and that attempt is counted.
        Err(CmsEventError::Store(_)) => None,
    };
    if let Some(outcome) = counted {
        metrics::record_cms_event(outcome);
    }
    received
}

async fn verify_and_apply(
    state: &AppState,
    delivery: SignedEvent<'_>,
) -> Result<Receipt, CmsEventError> {
    let secrets = &state.webhooks.cms_secrets;
    let webhook_id = signature::verify(delivery.headers, delivery.body, secrets, Utc::now())
        .map_err(|refusal| {
            tracing::warn!(reason = %refusal, "CMS event refused");
            CmsEventError::Unverified
        })?;
    let event = delivery.event.map_err(CmsEventError::Invalid)?;
    let outcome = store::articles::apply_cms_event(&state.pool, webhook_id, &event).await?;
    // A superseded or repeated event changed nothing the public reads.
    if outcome == InboundOutcome::Applied {
        after_commit(state, article_changed(&event.article_id)).await;
    }
    tracing::info!(
        webhook_id,
        event_type = event.event_type.as_str(),
        article_id = %event.article_id,
        outcome = outcome.as_str(),
        "CMS event"
    );
    Ok(Receipt {
        webhook_id: webhook_id.to_owned(),
        outcome,
        article_id: event.article_id,
    })
}

/// Registers or restates an article; returns it and whether it is new.
pub async fn put_article(
    state: &AppState,
    caller: &ApiCaller,
    article_id: &ArticleId,
    put: &ArticlePut,
) -> Result<(ArticleWithStats, bool), ServiceError> {
    let (article, created) =
        store::articles::upsert(&state.pool, article_id, &put.description, put.lifecycle).await?;
    after_commit(state, article_changed(article_id)).await;
    // Which key changed what: the audit trail for CMS writes.
    tracing::info!(key = %caller.key_name, %article_id, created, "article upserted");
    Ok((article, created))
}

/// Changes an article's editorial settings; an unknown or deleted article is not found.
pub async fn patch_article(
    state: &AppState,
    caller: &ApiCaller,
    article_id: &ArticleId,
    change: &PatchArticleRequest,
) -> Result<ArticleWithStats, ServiceError> {
    let settings = ArticleSettings {
        reviews_open: change.reviews_open,
        moderation: change
            .moderation
            .map(|mode| mode.map(ModerationMode::as_str)),
    };
    let article = store::articles::update_settings(&state.pool, article_id, &settings)
        .await?
        .ok_or(StoreError::ArticleNotFound)?;
    after_commit(state, article_changed(article_id)).await;
    tracing::info!(key = %caller.key_name, %article_id, ?settings, "article settings changed");
    Ok(article)
}

/// What a write to one article changed: its public reads.
fn article_changed(article_id: &ArticleId) -> Committed {
    Committed::one_article(article_id.as_str(), false)
}
