//! Signed-in readers: who may write and under which moderation mode (the site's trust policy and
//! moderators' suspensions), and the moderators' suspensions themselves.

use chrono::Utc;
use uuid::Uuid;

use super::{after_commit, Committed, ServiceError};
use crate::domain::article::ArticleId;
use crate::domain::moderation::ModerationMode;
use crate::domain::reader::VerifiedReader;
use crate::domain::trust::{Submitter, Suspension};
use crate::state::AppState;
use crate::store;
use crate::store::readers::{ReaderChange, StandingQuery, SuspensionRow};
use crate::views::moderation::ModeratedReview;
use crate::views::reader::{ReaderEventData, ReaderStanding};

/// Why a signed-in reader may not do what they asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReaderRefusal {
    /// A moderator suspended them (`until`: `None` for good).
    #[error("the reader is suspended")]
    Suspended {
        until: Option<chrono::DateTime<Utc>>,
    },
    /// The site takes one review per reader and article, and this is their review of it.
    #[error("the reader has reviewed this article already")]
    ReviewedAlready { review_id: Uuid },
}

/// How a submission is to be stored, as the writer's standing decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The mode for an article without one of its own (`TrustPolicy::mode_for`).
    pub mode: ModerationMode,
    /// The review takes the reader's one place on the article (`reviews.reader_sole`).
    pub sole: bool,
}

/// Whether `reader` (`None`: anonymous) may submit to `article`, and how the review is
/// moderated. An anonymous submission costs no database work; a signed-in one one statement.
pub async fn admit(
    state: &AppState,
    reader: Option<&VerifiedReader>,
    article: &ArticleId,
) -> Result<Admission, ServiceError> {
    let site_mode = state.moderation.site_mode;
    let trust = state.readers.tokens.trust().cloned().unwrap_or_default();
    let Some(reader) = reader else {
        return Ok(Admission {
            mode: trust.mode_for(Submitter::Anonymous, site_mode),
            sole: false,
        });
    };
    let standing = store::readers::standing(
        &state.pool,
        &StandingQuery {
            reader_id: &reader.id,
            article: Some(article),
            count_published_up_to: if trust.counts_approvals() {
                i64::from(trust.approvals_to_trust)
            } else {
                0
            },
            find_review_of_article: trust.one_review_per_article,
        },
    )
    .await?;
    if let Some(until) = standing.suspended {
        return Err(ReaderRefusal::Suspended { until }.into());
    }
    if let Some(review_id) = standing.review_of_article {
        return Err(ServiceError::ReaderRefused(
            ReaderRefusal::ReviewedAlready { review_id },
        ));
    }
    let submitter = Submitter::Verified {
        badges: &reader.badges,
        published: standing.published,
    };
    Ok(Admission {
        mode: trust.mode_for(submitter, site_mode),
        sole: trust.one_review_per_article,
    })
}

/// Refuses a suspended reader's vote or flag.
pub async fn check_not_suspended(
    state: &AppState,
    reader: &VerifiedReader,
) -> Result<(), ServiceError> {
    let standing = store::readers::standing(
        &state.pool,
        &StandingQuery {
            reader_id: &reader.id,
            article: None,
            count_published_up_to: 0,
            find_review_of_article: false,
        },
    )
    .await?;
    match standing.suspended {
        Some(until) => Err(ReaderRefusal::Suspended { until }.into()),
        None => Ok(()),
    }
}

/// A reader as moderators see them.
pub async fn standing(state: &AppState, reader_id: &str) -> Result<ReaderStanding, ServiceError> {
    let mut history = store::readers::history(&state.pool, reader_id).await?;
    let rows = std::mem::take(&mut history.recent);
    let recent = ModeratedReview::all(rows, &state.pool, &state.moderation.newsroom_name).await?;
    Ok(ReaderStanding::new(reader_id.to_owned(), history, recent))
}

/// Suspends a reader from their next request on, on every node (each request reads the
/// suspension from the database); recorded and announced as `reader.suspended`.
pub async fn suspend(
    state: &AppState,
    actor: &str,
    reader_id: &str,
    suspension: &Suspension,
) -> Result<SuspensionRow, ServiceError> {
    let change = ReaderChange {
        reader_id,
        actor,
        event_data: event_data(reader_id, actor, Some(suspension)),
    };
    let (row, announced) = store::readers::suspend(&state.pool, suspension, &change).await?;
    after_commit(state, announced_only(announced)).await;
    Ok(row)
}

/// Lifts a reader's suspension; recorded and announced as `reader.reinstated`. Returns whether
/// there was one.
pub async fn reinstate(
    state: &AppState,
    actor: &str,
    reader_id: &str,
) -> Result<bool, ServiceError> {
    let change = ReaderChange {
        reader_id,
        actor,
        event_data: event_data(reader_id, actor, None),
    };
    let (existed, announced) = store::readers::reinstate(&state.pool, &change).await?;
    after_commit(state, announced_only(announced)).await;
    Ok(existed)
}

fn announced_only(announced: bool) -> Committed {
    Committed {
        announced,
        ..Committed::default()
    }
}

fn event_data(reader_id: &str, actor: &str, suspension: Option<&Suspension>) -> serde_json::Value {
    serde_json::to_value(ReaderEventData {
        reader_id: reader_id.to_owned(),
        suspended: suspension.is_some(),
        until: suspension.and_then(|s| s.until),
        reason: suspension.map(|s| s.reason.clone()),
        actor: actor.to_owned(),
    })
    .unwrap_or_default()
}
