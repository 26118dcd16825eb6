//! Readers' data rights: erasing everything an author wrote.

use super::{after_commit, Committed, ServiceError};
use crate::domain::review::AuthorEmail;
use crate::state::AppState;
use crate::store;
use crate::store::reviews::PublicReviewRow;
use crate::views::review::event_json;

/// Erases every review written under `email` in one transaction and returns how many there were.
/// Reviews that were public become `deleted`, which readers' caches, subscribers and the
/// moderation counters learn like any other deletion.
pub async fn erase(
    state: &AppState,
    actor: &str,
    email: &AuthorEmail,
) -> Result<usize, ServiceError> {
    let newsroom = &state.moderation.newsroom_name;
    let render = |row: &PublicReviewRow| event_json(row, newsroom);
    let erased = store::data_rights::erase(&state.pool, email.as_str(), actor, &render).await?;
    after_commit(
        state,
        Committed::status_changes("erase", &erased.changes, erased.announced),
    )
    .await;
    tracing::info!(key = %actor, reviews = erased.reviews, "author data erased");
    Ok(erased.reviews)
}
