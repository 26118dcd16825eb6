//! Readers' reactions to a published review: a helpful vote, an abuse flag.

use chrono::Utc;
use uuid::Uuid;

use super::{after_commit, readers, Committed, ServiceError};
use crate::client::Client;
use crate::domain::reaction::VoterToken;
use crate::domain::reaction::{Flag, Vote};
use crate::metrics;
use crate::state::AppState;
use crate::store;
use crate::store::reactions::{Flagged, Flagger, Tally};
use crate::store::reviews::PublicReviewRow;
use crate::tokens::ClientDigests;
use crate::views::review::event_json;

/// Counts a reader's vote (replacing their earlier one) and returns the review's counts.
pub async fn vote(
    state: &AppState,
    id: Uuid,
    client: &Client,
    reader_token: Option<&str>,
    vote: &Vote,
) -> Result<Tally, ServiceError> {
    let digests = state.abuse.digests(&state.pool).await?;
    let today = Utc::now().date_naive();
    let voter = voter_of(
        state,
        digests,
        client,
        reader_token,
        vote.voter_token.as_ref(),
    )
    .await?;
    let network = digests.network(client.address, today);
    let flagger = Flagger {
        voter: &voter,
        network: &network,
    };
    Ok(store::reactions::vote(&state.pool, id, &flagger, vote.helpful).await?)
}

/// Records a reader's flag; enough of them take the review down for a moderator's look.
pub async fn flag(
    state: &AppState,
    id: Uuid,
    client: &Client,
    reader_token: Option<&str>,
    flag: &Flag,
) -> Result<(), ServiceError> {
    let digests = state.abuse.digests(&state.pool).await?;
    let today = Utc::now().date_naive();
    let voter = voter_of(
        state,
        digests,
        client,
        reader_token,
        flag.voter_token.as_ref(),
    )
    .await?;
    let network = digests.network(client.address, today);
    let newsroom = &state.moderation.newsroom_name;
    let render = |row: &PublicReviewRow| event_json(row, newsroom);
    let flagged = store::reactions::flag(
        &state.pool,
        id,
        &Flagger {
            voter: &voter,
            network: &network,
        },
        flag.reason,
        flag.note.as_ref(),
        state.moderation.flag_threshold,
        &render,
    )
    .await?;
    match flagged {
        Flagged::Counted {
            change: Some(change),
            announced,
            ..
        } => {
            let changes = std::slice::from_ref(change.as_ref());
            let committed = Committed::status_changes("flag_threshold", changes, announced);
            after_commit(state, committed).await;
            metrics::record_rule_hit("flagged");
        }
        // The moderators' live queue shows the flag.
        Flagged::Counted { article_id, .. } => {
            after_commit(state, Committed::one_article(article_id, false)).await;
        }
        Flagged::Already => {}
    }
    Ok(())
}

/// Who reacts: a signed-in reader is one voter wherever they react from (and refused while
/// suspended); anyone else is their voter token, or their client on the day.
async fn voter_of(
    state: &AppState,
    digests: &ClientDigests,
    client: &Client,
    reader_token: Option<&str>,
    voter_token: Option<&VoterToken>,
) -> Result<Vec<u8>, ServiceError> {
    let reader = state
        .readers
        .tokens
        .verify_sent(reader_token)
        .await
        .map_err(ServiceError::Reader)?;
    if let Some(reader) = reader {
        readers::check_not_suspended(state, &reader).await?;
        return Ok(digests.reader_voter(&reader.id));
    }
    let today = Utc::now().date_naive();
    Ok(digests.voter(voter_token, client.address, &client.user_agent, today))
}
