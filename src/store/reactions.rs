//! Readers' helpful votes and flags. Each runs in a transaction that first locks the review's
//! row, so concurrent votes on one review are counted one after another and the counters stay
//! exact; a voter's second vote replaces the first.

use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::answer::LoadOne;
use super::live::{self, LiveChange};
use super::moderation::{self, Change, Entry, Render};
use super::{with_connection, StoreError};
use crate::db::schema::{review_flags, review_votes, reviews};
use crate::db::Pool;
use crate::domain::live::LiveKind;
use crate::domain::moderation::ReasonCode;
use crate::domain::reaction::{self, FlagNote, FlagReason};
use crate::domain::review::ReviewStatus;
use crate::domain::time;

/// A published review's vote counts after a vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub helpful_count: i32,
    pub unhelpful_count: i32,
}

/// Locks a published review of an article that is not deleted, and reads its counters.
async fn lock_published(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> Result<(i32, i32, i32), StoreError> {
    reviews::table
        .filter(reviews::id.eq(id))
        .filter(reviews::status.eq(ReviewStatus::Published.as_str()))
        .filter(super::reviews::of_an_article_shown())
        .select((
            reviews::helpful_count,
            reviews::unhelpful_count,
            reviews::flag_count,
        ))
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::ReviewNotFound)
}

/// Records a voter's vote on a published review (replacing its earlier one) and returns the
/// counts. A new voter from a network that reached its daily bound on this review is not
/// recorded (`reaction::network_may_vote`); the review's lock makes that count exact.
pub async fn vote(
    pool: &Pool,
    id: Uuid,
    voter: &Flagger<'_>,
    helpful: bool,
) -> Result<Tally, StoreError> {
    let Flagger { voter, network } = *voter;
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let (helpful_count, unhelpful_count, _) = lock_published(conn, id).await?;
            let unchanged = Tally {
                helpful_count,
                unhelpful_count,
            };
            let earlier: Option<bool> = review_votes::table
                .find((id, voter))
                .select(review_votes::helpful)
                .first(conn)
                .await
                .optional()?;
            if earlier == Some(helpful) {
                return Ok(unchanged);
            }
            if earlier.is_none() {
                // The network digest changes every UTC day, so this counts today's votes.
                let from_network: i64 = review_votes::table
                    .filter(review_votes::review_id.eq(id))
                    .filter(review_votes::network.eq(network))
                    .count()
                    .load_one(conn)
                    .await?;
                if !reaction::network_may_vote(from_network) {
                    return Ok(unchanged);
                }
            }
            let now = time::now_stored();
            diesel::insert_into(review_votes::table)
                .values((
                    review_votes::review_id.eq(id),
                    review_votes::voter.eq(voter),
                    review_votes::helpful.eq(helpful),
                    review_votes::network.eq(network),
                    review_votes::created_at.eq(now),
                    review_votes::updated_at.eq(now),
                ))
                .on_conflict((review_votes::review_id, review_votes::voter))
                .do_update()
                .set((
                    review_votes::helpful.eq(excluded(review_votes::helpful)),
                    review_votes::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
            let step = |vote: bool| i32::from(helpful == vote) - i32::from(earlier == Some(vote));
            let (helpful_count, unhelpful_count) = diesel::update(reviews::table.find(id))
                .set((
                    reviews::helpful_count.eq(reviews::helpful_count + step(true)),
                    reviews::unhelpful_count.eq(reviews::unhelpful_count + step(false)),
                ))
                .returning((reviews::helpful_count, reviews::unhelpful_count))
                .load_one(conn)
                .await?;
            Ok(Tally {
                helpful_count,
                unhelpful_count,
            })
        })
        .await
    })
    .await
}

/// What a flag did.
#[derive(Debug, Clone)]
pub enum Flagged {
    /// This voter had already flagged the review: nothing changed.
    Already,
    /// Counted, on a review of `article_id`; the change if the threshold took the review down,
    /// and whether outbox events were written.
    Counted {
        article_id: String,
        change: Option<Box<Change>>,
        announced: bool,
    },
}

/// Who votes or flags: the voter, and the network (and day) the reaction came from.
#[derive(Clone, Copy)]
pub struct Flagger<'a> {
    pub voter: &'a [u8],
    pub network: &'a [u8],
}

/// Records a flag on a published review. Once flags from `threshold` distinct networks are in,
/// the review goes to `pending` with reason `flagged`, in the same transaction.
pub async fn flag(
    pool: &Pool,
    id: Uuid,
    flagger: &Flagger<'_>,
    reason: FlagReason,
    note: Option<&FlagNote>,
    threshold: u32,
    render: Render<'_>,
) -> Result<Flagged, StoreError> {
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            lock_published(conn, id).await?;
            let inserted = diesel::insert_into(review_flags::table)
                .values((
                    review_flags::review_id.eq(id),
                    review_flags::voter.eq(flagger.voter),
                    review_flags::network.eq(flagger.network),
                    review_flags::reason.eq(reason.as_str()),
                    review_flags::note.eq(note.map(FlagNote::as_str)),
                    review_flags::created_at.eq(time::now_stored()),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if inserted == 0 {
                return Ok(Flagged::Already);
            }
            let article_id: String = diesel::update(reviews::table.find(id))
                .set(reviews::flag_count.eq(reviews::flag_count + 1))
                .returning(reviews::article_id)
                .load_one(conn)
                .await?;
            let change = LiveChange {
                article_id: &article_id,
                review_id: id,
                kind: LiveKind::Flagged,
            };
            live::record(conn, &[change]).await?;
            let networks: i64 = review_flags::table
                .filter(review_flags::review_id.eq(id))
                .select(diesel::dsl::count(review_flags::network).aggregate_distinct())
                .load_one(conn)
                .await?;
            if u64::try_from(networks).unwrap_or(0) < u64::from(threshold) {
                return Ok(Flagged::Counted {
                    article_id,
                    change: None,
                    announced: false,
                });
            }
            let entry = Entry {
                actor: moderation::FLAGS,
                action: "flag_threshold",
                note: None,
                reason: Some(ReasonCode::Flagged),
            };
            let (mut changes, announced) = moderation::transition_on(
                conn,
                &[id],
                &|_| Ok(ReviewStatus::Pending),
                &entry,
                render,
            )
            .await?;
            Ok(Flagged::Counted {
                article_id,
                change: changes.pop().map(Box::new),
                announced,
            })
        })
        .await
    })
    .await
}
