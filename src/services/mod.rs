//! The product's write use cases, one function each: parse (done by the caller's extractors) →
//! decide (pure `domain` functions) → one `store` transaction → the work every commit shares.
//!
//! Handlers call these and only translate HTTP; nothing here knows about requests or responses,
//! and nothing here runs inside a store transaction except what the store itself is given.

pub mod cms;
pub mod data_rights;
pub mod endpoints;
pub mod mail;
pub mod moderation;
pub mod reactions;
pub mod readers;
pub mod reviews;
pub mod sites;

use crate::db::pool::Scope;
use crate::domain::reader::TokenRefusal;
use crate::domain::FieldError;
use crate::metrics;
use crate::state::AppState;
use crate::store::moderation::Change;
use crate::store::StoreError;

/// Why a use case did not happen. Mapped to a problem document in one place (`crate::error`).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request's values break a rule that needs more than one field or stored state to decide.
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    /// The reader token was refused (or the site wants one and none came).
    #[error("the reader token was refused: {0}")]
    Reader(TokenRefusal),
    /// A signed-in reader may not do this: suspended, or their review of the article exists.
    #[error(transparent)]
    ReaderRefused(#[from] readers::ReaderRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a committed write changed: the input of the after-commit work that every write shares.
#[derive(Debug, Default)]
pub struct Committed {
    /// Articles whose public reads (reviews, stats) may have changed.
    pub articles: Vec<String>,
    /// The write put events in the outbox: the webhook worker should look now.
    pub announced: bool,
    /// Reviews whose moderation status changed, counted under this action's name.
    pub moderation_changes: Option<(&'static str, usize)>,
    /// New reviews stored.
    pub reviews_created: usize,
}

impl Committed {
    /// A write to one article's reviews.
    pub fn one_article(article_id: impl Into<String>, announced: bool) -> Self {
        Self {
            articles: vec![article_id.into()],
            announced,
            ..Self::default()
        }
    }

    /// Status changes of reviews, counted under the name of the `action` that made them.
    pub fn status_changes(action: &'static str, changes: &[Change], announced: bool) -> Self {
        Self {
            articles: changes
                .iter()
                .map(|change| change.review.article_id.clone())
                .collect(),
            announced,
            moderation_changes: Some((action, changes.len())),
            ..Self::default()
        }
    }
}

/// The work after a commit, in one place: the read cache forgets what changed (this node's at
/// once, the other nodes' when the announcement reaches them), the webhook worker
/// wakes when there is something to send, and the counters of what happened move.
pub async fn after_commit(state: &AppState, committed: Committed) {
    for article in &committed.articles {
        state.read_cache.record_write(article).await;
        if let Scope::Site(site) = state.pool.scope() {
            state.announcer.announce(site.as_str(), article);
            state.live.changed(site.as_str(), article);
        }
    }
    if committed.announced {
        // Only then: waking the worker for nothing would cost it a database round trip.
        state.outbox.wake();
    }
    if let Some((action, count)) = committed.moderation_changes {
        metrics::record_moderation_changes(action, count);
    }
    for _ in 0..committed.reviews_created {
        metrics::record_review_created();
    }
}
