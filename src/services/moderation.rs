//! The editors' writes: moderation actions over many reviews (a change of status, or dismissing
//! readers' flags) and the newsroom's replies.
//!
//! Each use case decides with `domain::moderation` (which action a review may take), runs one
//! store transaction and hands what it changed to `after_commit`. Outbound events are rendered
//! here with `views::review::event_json`.

use uuid::Uuid;

use super::{after_commit, Committed, ServiceError};
use crate::domain::editorial::ModerationOrder;
use crate::domain::moderation::{
    dismisses_flags, Disallowed, ModerationAction, ModerationNote, ReplyBody,
};
use crate::state::AppState;
use crate::store;
use crate::store::moderation::{Change, Entry, ModeratedReviewRow};
use crate::store::reviews::PublicReviewRow;
use crate::views::review::{event_json, Review};

/// Applies an action to every review of the order, all or nothing, and returns the changes (for
/// `dismiss_flags`, the reviews whose flags were cleared). Unknown ids and reviews that cannot
/// take the action are refused by their position in `review_ids`.
pub async fn act(
    state: &AppState,
    actor: &str,
    order: &ModerationOrder,
) -> Result<Vec<Change>, ServiceError> {
    let entry = Entry {
        actor,
        action: order.action.as_str(),
        note: order.note.as_ref().map(ModerationNote::as_str),
        reason: None,
    };
    let (changes, announced) = apply(state, order.action, &order.review_ids, &entry).await?;
    let committed = Committed::status_changes(order.action.as_str(), &changes, announced);
    after_commit(state, committed).await;
    tracing::info!(key = %actor, action = order.action.as_str(), changed = changes.len(), "moderation action");
    Ok(changes)
}

/// Why a review cannot take an action, as the 409 names it.
fn refused(refusal: Disallowed) -> String {
    format!(
        "a {} review cannot be given `{}`",
        refusal.from.as_str(),
        refusal.action.as_str()
    )
}

/// Applies `action` to the reviews of `ids`: a change of status, or for `dismiss_flags` the
/// clearing of flags, which moves no status and so announces nothing.
async fn apply(
    state: &AppState,
    action: ModerationAction,
    ids: &[Uuid],
    entry: &Entry<'_>,
) -> Result<(Vec<Change>, bool), ServiceError> {
    if action == ModerationAction::DismissFlags {
        let decide = |row: &ModeratedReviewRow| {
            dismisses_flags(row.public.status(), row.flag_count).map_err(refused)
        };
        let changes =
            store::moderation::dismiss_flags(&state.pool, ids, decide, entry.actor, entry.note)
                .await?;
        return Ok((changes, false));
    }
    let newsroom = &state.moderation.newsroom_name;
    let render = |row: &PublicReviewRow| event_json(row, newsroom);
    let decide = |row: &ModeratedReviewRow| {
        action
            .apply(row.public.status(), row.erased_at.is_some())
            .map_err(refused)
    };
    Ok(store::moderation::transition(&state.pool, ids, decide, entry, &render).await?)
}

/// Sets (or with `None` removes) the newsroom's reply to a review and returns the review as
/// readers now see it.
pub async fn reply(
    state: &AppState,
    actor: &str,
    id: Uuid,
    body: Option<&ReplyBody>,
) -> Result<Review, ServiceError> {
    let newsroom = &state.moderation.newsroom_name;
    let render = |row: &PublicReviewRow| event_json(row, newsroom);
    let body = body.map(ReplyBody::as_str);
    let (row, announced) = store::moderation::reply(&state.pool, id, body, actor, &render).await?;
    after_commit(
        state,
        Committed::one_article(row.article_id.clone(), announced),
    )
    .await;
    Ok(Review::new(&row, newsroom))
}
