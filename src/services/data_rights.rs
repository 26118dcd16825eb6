//! Readers' data rights: erasing everything an author wrote, in one site or in every site.

use super::{after_commit, Committed, ServiceError};
use crate::domain::review::AuthorEmail;
use crate::domain::site::SiteId;
use crate::sites::SiteDirectory;
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

/// Erases every review written under `email` in every site of the installation, as a reader's
/// data-rights request needs, and returns how many each site had. Each site is erased in a
/// transaction of its own, with its own events and caches; should one fail, the sites before
/// it stay erased and the error is returned, and the same request again (erasure finds nothing
/// twice) completes the rest.
pub async fn erase_everywhere(
    directory: &SiteDirectory,
    actor: &str,
    email: &AuthorEmail,
) -> Result<Vec<(SiteId, usize)>, ServiceError> {
    let mut erased = Vec::new();
    for (site, state) in directory.every_site().await? {
        let reviews = erase(&state, actor, email).await?;
        erased.push((site, reviews));
    }
    tracing::info!(
        key = %actor,
        sites = erased.len(),
        reviews = erased.iter().map(|(_, n)| n).sum::<usize>(),
        "author data erased in every site"
    );
    Ok(erased)
}
