//! Moderation: every status change of a review (by a moderator, its author, or readers' flags),
//! the moderators' queue and audit log, replies, and the author's edits. A change is one
//! transaction: the reviews' rows are locked, their status moves, the article's counters follow,
//! the outbox gets the change's event and the audit log its entry.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::answer::LoadOne;
use super::counters::Counting;
use super::live::{self, LiveChange};
use super::mail::{self, Notice};
use super::reviews::PublicReviewRow;
use super::{site_of, with_connection, RefusedItem, StoreError};
use crate::db::schema::{
    articles, moderation_log, outbox_events, review_flags, reviews, webhook_endpoints,
};
use crate::db::Pool;
use crate::domain::live::LiveKind;
use crate::domain::mail::MailKind;
use crate::domain::moderation::{
    transition_event, Content, ModerationAction, ModerationMode, ReasonCode, Rules,
};
use crate::domain::review::{edited_reasons, edited_status, ReviewEdit, ReviewStatus};
use crate::domain::time;
use crate::domain::webhook::EventType;

/// Renders an outbound event's data from a review as it is after the change.
pub type Render<'a> = &'a (dyn Fn(&PublicReviewRow) -> serde_json::Value + Sync);

/// Who made a change, as the audit log records it: an API key's name, or one of these.
pub const AUTHOR: &str = "author";
pub const FLAGS: &str = "flags";

/// A review as moderators see it: everything but the author's secrets and digests.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reviews, check_for_backend(diesel::pg::Pg))]
pub struct ModeratedReviewRow {
    #[diesel(embed)]
    pub public: PublicReviewRow,
    pub author_email: Option<String>,
    pub reasons: Vec<String>,
    pub flag_count: i32,
    pub updated_at: DateTime<Utc>,
    pub erased_at: Option<DateTime<Utc>>,
}

/// A status change that happened.
#[derive(Debug, Clone)]
pub struct Change {
    pub review: PublicReviewRow,
    pub from: ReviewStatus,
    pub to: ReviewStatus,
}

/// What a change records besides the statuses.
pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub note: Option<&'a str>,
    /// A reason code added to the reviews' reasons (`flagged`).
    pub reason: Option<ReasonCode>,
}

/// Changes the status of every review in `ids` as `decide` says, all or nothing: `decide` gets
/// each review's index in `ids` and its current state, and a refusal for any review (or an id
/// that does not exist) rolls everything back. Reviews whose status does not change are left
/// alone. Returns the changes and whether outbox events were written.
pub async fn transition(
    pool: &Pool,
    ids: &[Uuid],
    decide: impl Fn(&ModeratedReviewRow) -> Result<ReviewStatus, String> + Sync,
    entry: &Entry<'_>,
    render: Render<'_>,
) -> Result<(Vec<Change>, bool), StoreError> {
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            transition_on(conn, ids, &decide, entry, render).await
        })
        .await
    })
    .await
}

pub(super) async fn transition_on(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    decide: &(impl Fn(&ModeratedReviewRow) -> Result<ReviewStatus, String> + Sync),
    entry: &Entry<'_>,
    render: Render<'_>,
) -> Result<(Vec<Change>, bool), StoreError> {
    let locked = lock_reviews(conn, ids).await?;
    let changes = planned_changes(decided(ids, &locked, decide)?);
    let now = time::now_stored();
    move_statuses(conn, &changes, entry.reason).await?;
    let mut counted = Counting::default();
    for change in &changes {
        counted.change(&change.review, change.from, -1);
        counted.change(&change.review, change.to, 1);
    }
    counted.apply(conn).await?;
    let live_changes: Vec<LiveChange> = changes
        .iter()
        .map(|change| LiveChange {
            article_id: &change.review.article_id,
            review_id: change.review.id,
            kind: LiveKind::of_status_change(change.from, change.to),
        })
        .collect();
    live::record(conn, &live_changes).await?;
    let notices: Vec<Notice> = changes
        .iter()
        .filter_map(|change| {
            MailKind::of_status_change(change.from, change.to).map(|kind| Notice {
                review_id: change.review.id,
                kind,
            })
        })
        .collect();
    mail::queue_notices(conn, &notices).await?;
    let events: Vec<(EventType, &PublicReviewRow)> = changes
        .iter()
        .filter_map(|change| {
            transition_event(change.from, change.to).map(|kind| (kind, &change.review))
        })
        .collect();
    let announced = announce(conn, &events, render, now).await?;
    log_changes(conn, &changes, entry, now).await?;
    Ok((changes, announced))
}

/// The changes `decide`'s targets make: one per review (an id sent twice moves it once), none
/// for a review already in its target status.
fn planned_changes(targets: Vec<(&ModeratedReviewRow, ReviewStatus)>) -> Vec<Change> {
    let mut seen = std::collections::BTreeSet::new();
    let mut changes = Vec::new();
    for (row, target) in targets {
        let from = row.public.status();
        if from == target || !seen.insert(row.public.id) {
            continue;
        }
        let mut review = row.public.clone();
        review.status = target.as_str().to_owned();
        changes.push(Change {
            review,
            from,
            to: target,
        });
    }
    changes
}

/// Stores the new statuses of `changes`, one statement per target status, adding `reason` to
/// the reviews' reasons when there is one.
async fn move_statuses(
    conn: &mut AsyncPgConnection,
    changes: &[Change],
    reason: Option<ReasonCode>,
) -> Result<(), StoreError> {
    for target in ReviewStatus::ALL {
        let moved: Vec<Uuid> = changes
            .iter()
            .filter(|change| change.to == target)
            .map(|change| change.review.id)
            .collect();
        if moved.is_empty() {
            continue;
        }
        // An approval clears the flag count: after a moderator's look, it takes as many readers'
        // flags as the first time to take the review down again.
        diesel::sql_query(
            "UPDATE reviews SET status = $1, updated_at = now(), \
             flag_count = CASE WHEN $1 = 'published' THEN 0 ELSE flag_count END, \
             reasons = CASE WHEN $2 = '' OR $2 = ANY (reasons) THEN reasons \
             ELSE array_append(reasons, $2) END WHERE id = ANY ($3)",
        )
        .bind::<Text, _>(target.as_str())
        .bind::<Text, _>(reason.map_or("", ReasonCode::as_str))
        .bind::<Array<SqlUuid>, _>(&moved)
        .execute(conn)
        .await?;
        if target == ReviewStatus::Published {
            forget_flags(conn, &moved).await?;
        }
    }
    Ok(())
}

/// The audit entries of `changes`.
async fn log_changes(
    conn: &mut AsyncPgConnection,
    changes: &[Change],
    entry: &Entry<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let reasons = entry
        .reason
        .map(|reason| vec![reason.as_str().to_owned()])
        .unwrap_or_default();
    let log: Vec<_> = changes
        .iter()
        .map(|change| {
            (
                moderation_log::id.eq(Uuid::now_v7()),
                moderation_log::review_id.eq(change.review.id),
                moderation_log::actor.eq(entry.actor),
                moderation_log::action.eq(entry.action),
                moderation_log::from_status.eq(Some(change.from.as_str())),
                moderation_log::to_status.eq(change.to.as_str()),
                moderation_log::reasons.eq(reasons.clone()),
                moderation_log::note.eq(entry.note),
                moderation_log::created_at.eq(now),
            )
        })
        .collect();
    diesel::insert_into(moderation_log::table)
        .values(log)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the readers' flags of `ids`: a moderator has looked at them, so they no longer count
/// towards the threshold (and the same readers may flag again).
async fn forget_flags(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> Result<(), StoreError> {
    diesel::delete(review_flags::table.filter(review_flags::review_id.eq_any(ids)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Clears readers' flags on published reviews (the `dismiss_flags` action), all or nothing like
/// `transition`: `decide` says, for each review, whether it has flags to clear or refuses it.
/// Those reviews lose their flags and their count and get an audit entry (published to
/// published); their status, counters and public representation stay, so no outbound event is
/// written. Returns the reviews whose flags were cleared.
pub async fn dismiss_flags(
    pool: &Pool,
    ids: &[Uuid],
    decide: impl Fn(&ModeratedReviewRow) -> Result<bool, String> + Sync,
    actor: &str,
    note: Option<&str>,
) -> Result<Vec<Change>, StoreError> {
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let locked = lock_reviews(conn, ids).await?;
            let mut seen = std::collections::BTreeSet::new();
            let changes: Vec<Change> = decided(ids, &locked, &decide)?
                .into_iter()
                .filter(|(row, flagged)| *flagged && seen.insert(row.public.id))
                .map(|(row, _)| Change {
                    review: row.public.clone(),
                    from: ReviewStatus::Published,
                    to: ReviewStatus::Published,
                })
                .collect();
            if changes.is_empty() {
                return Ok(changes);
            }
            let cleared: Vec<Uuid> = changes.iter().map(|change| change.review.id).collect();
            let now = time::now_stored();
            diesel::update(reviews::table.filter(reviews::id.eq_any(&cleared)))
                .set((reviews::flag_count.eq(0), reviews::updated_at.eq(now)))
                .execute(conn)
                .await?;
            forget_flags(conn, &cleared).await?;
            let live_changes: Vec<LiveChange> = changes
                .iter()
                .map(|change| LiveChange {
                    article_id: &change.review.article_id,
                    review_id: change.review.id,
                    kind: LiveKind::Moderated,
                })
                .collect();
            live::record(conn, &live_changes).await?;
            let log: Vec<_> = cleared
                .iter()
                .map(|id| {
                    (
                        moderation_log::id.eq(Uuid::now_v7()),
                        moderation_log::review_id.eq(*id),
                        moderation_log::actor.eq(actor),
                        moderation_log::action.eq(ModerationAction::DismissFlags.as_str()),
                        moderation_log::from_status.eq(Some(ReviewStatus::Published.as_str())),
                        moderation_log::to_status.eq(ReviewStatus::Published.as_str()),
                        moderation_log::note.eq(note),
                        moderation_log::created_at.eq(now),
                    )
                })
                .collect();
            diesel::insert_into(moderation_log::table)
                .values(log)
                .execute(conn)
                .await?;
            Ok(changes)
        })
        .await
    })
    .await
}

/// Locks the reviews of `ids`, in id order, so concurrent calls over overlapping ids cannot
/// deadlock.
async fn lock_reviews(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<Vec<ModeratedReviewRow>, StoreError> {
    Ok(reviews::table
        .filter(reviews::id.eq_any(ids))
        .order(reviews::id)
        .select(ModeratedReviewRow::as_select())
        .for_update()
        .load(conn)
        .await?)
}

/// What `decide` says of each review of `ids`, in order; an unknown id or any refusal fails
/// the whole call, naming each offending position in `ids` (unknown ones first, as they are the
/// 404).
fn decided<'r, T>(
    ids: &[Uuid],
    locked: &'r [ModeratedReviewRow],
    decide: &impl Fn(&ModeratedReviewRow) -> Result<T, String>,
) -> Result<Vec<(&'r ModeratedReviewRow, T)>, StoreError> {
    let by_id: BTreeMap<Uuid, &ModeratedReviewRow> =
        locked.iter().map(|row| (row.public.id, row)).collect();
    let mut unknown = Vec::new();
    let mut refused = Vec::new();
    let mut targets = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        match by_id.get(id) {
            None => unknown.push(RefusedItem {
                index,
                reason: format!("no review with id {id}"),
            }),
            Some(row) => match decide(row) {
                Ok(target) => targets.push((*row, target)),
                Err(reason) => refused.push(RefusedItem { index, reason }),
            },
        }
    }
    if !unknown.is_empty() {
        return Err(StoreError::UnknownItems(unknown));
    }
    if !refused.is_empty() {
        return Err(StoreError::ConflictingItems(refused));
    }
    Ok(targets)
}

/// Writes the outbox events of a change, while some webhook endpoint is enabled. Returns
/// whether any were written.
async fn announce(
    conn: &mut AsyncPgConnection,
    events: &[(EventType, &PublicReviewRow)],
    render: Render<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if events.is_empty() {
        return Ok(false);
    }
    if !listening(conn).await? {
        return Ok(false);
    }
    let rows: Vec<_> = events
        .iter()
        .map(|(kind, review)| {
            (
                outbox_events::id.eq(Uuid::now_v7()),
                outbox_events::event_type.eq(kind.as_str()),
                outbox_events::article_id.eq(review.article_id.as_str()),
                outbox_events::payload.eq(render(review)),
                outbox_events::created_at.eq(now),
                outbox_events::available_at.eq(now),
            )
        })
        .collect();
    diesel::insert_into(outbox_events::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(true)
}

/// Whether some webhook endpoint of the site is enabled: events are written only then.
pub(super) async fn listening(conn: &mut AsyncPgConnection) -> Result<bool, StoreError> {
    Ok(diesel::select(diesel::dsl::exists(
        webhook_endpoints::table.filter(webhook_endpoints::enabled),
    ))
    .load_one(conn)
    .await?)
}

/// Sets (or with `None` removes) the newsroom's reply to a review, with its audit entry and its
/// `review.replied` event; the same reply again (or removing none) changes nothing. Returns the review after the change, and
/// whether an event was written.
pub async fn reply(
    pool: &Pool,
    id: Uuid,
    body: Option<&str>,
    actor: &str,
    render: Render<'_>,
) -> Result<(PublicReviewRow, bool), StoreError> {
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let now = time::now_stored();
            let current: ModeratedReviewRow = reviews::table
                .find(id)
                .select(ModeratedReviewRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
                .ok_or(StoreError::ReviewNotFound)?;
            if current.erased_at.is_some() || current.public.status() == ReviewStatus::Deleted {
                return Err(StoreError::ReviewDeleted);
            }
            if current.public.reply_body.as_deref() == body {
                // Sending the same reply again, or removing none, changes nothing.
                return Ok((current.public, false));
            }
            let review: PublicReviewRow = diesel::update(reviews::table.find(id))
                .set((
                    reviews::reply_body.eq(body),
                    reviews::reply_created_at.eq(match body {
                        Some(_) => Some(current.public.reply_created_at.unwrap_or(now)),
                        None => None,
                    }),
                    reviews::reply_updated_at.eq(body.map(|_| now)),
                    reviews::updated_at.eq(now),
                ))
                .returning(PublicReviewRow::as_returning())
                .load_one(conn)
                .await?;
            if let Some(kind) = LiveKind::of_reply(review.status()) {
                let change = LiveChange {
                    article_id: &review.article_id,
                    review_id: id,
                    kind,
                };
                live::record(conn, &[change]).await?;
            }
            // The author hears of the newsroom's first answer, and only once it is public.
            if current.public.reply_body.is_none() && review.status().is_public() {
                let notice = Notice {
                    review_id: id,
                    kind: MailKind::Replied,
                };
                mail::queue_notices(conn, &[notice]).await?;
            }
            let status = review.status().as_str();
            diesel::insert_into(moderation_log::table)
                .values((
                    moderation_log::id.eq(Uuid::now_v7()),
                    moderation_log::review_id.eq(id),
                    moderation_log::actor.eq(actor),
                    moderation_log::action.eq(if body.is_some() {
                        "reply"
                    } else {
                        "remove_reply"
                    }),
                    moderation_log::from_status.eq(Some(status)),
                    moderation_log::to_status.eq(status),
                    moderation_log::created_at.eq(now),
                ))
                .execute(conn)
                .await?;
            let announced =
                announce(conn, &[(EventType::ReviewReplied, &review)], render, now).await?;
            Ok((review, announced))
        })
        .await
    })
    .await
}

/// Who asks to change a review as its author: the holder of its edit token (by digest), or the
/// signed-in reader who wrote it (their id, from a verified token).
#[derive(Debug, Clone, Copy)]
pub enum Author<'a> {
    EditToken(&'a [u8]),
    Reader(&'a str),
}

impl Author<'_> {
    fn owns(&self, edit_token_digest: Option<&[u8]>, reader_id: Option<&str>) -> bool {
        match self {
            Self::EditToken(digest) => edit_token_digest == Some(*digest),
            Self::Reader(id) => reader_id == Some(*id),
        }
    }
}

/// The stored state an author's request is checked against.
struct Owned {
    row: ModeratedReviewRow,
    mode: Option<String>,
}

async fn lock_owned(
    conn: &mut AsyncPgConnection,
    site: &str,
    id: Uuid,
    author: Author<'_>,
) -> Result<Owned, StoreError> {
    let (row, token): (ModeratedReviewRow, Option<Vec<u8>>) = reviews::table
        .find(id)
        .select((ModeratedReviewRow::as_select(), reviews::edit_token_hash))
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::ReviewNotFound)?;
    let mode: Option<String> = articles::table
        .find((site, &row.public.article_id))
        .select(articles::moderation)
        .first(conn)
        .await?;
    if row.public.status() == ReviewStatus::Deleted {
        return Err(StoreError::ReviewNotFound);
    }
    if !author.owns(token.as_deref(), row.public.reader_id.as_deref()) {
        return Err(foreign_token(row.public.status()));
    }
    Ok(Owned { row, mode })
}

/// Another review's edit token (or a made-up one): a 403 only where the review is public anyway;
/// a hidden review must look exactly like one that does not exist.
fn foreign_token(status: ReviewStatus) -> StoreError {
    if status == ReviewStatus::Published {
        StoreError::WrongEditToken
    } else {
        StoreError::ReviewNotFound
    }
}

/// A review as its author may see it (any status but deleted).
pub async fn get_owned(
    pool: &Pool,
    id: Uuid,
    author: Author<'_>,
) -> Result<PublicReviewRow, StoreError> {
    with_connection(pool, async |conn| {
        let (row, token): (PublicReviewRow, Option<Vec<u8>>) = reviews::table
            .find(id)
            .filter(reviews::status.ne(ReviewStatus::Deleted.as_str()))
            .select((PublicReviewRow::as_select(), reviews::edit_token_hash))
            .first(conn)
            .await
            .optional()?
            .ok_or(StoreError::ReviewNotFound)?;
        if author.owns(token.as_deref(), row.reader_id.as_deref()) {
            Ok(row)
        } else {
            Err(foreign_token(row.status()))
        }
    })
    .await
}

/// What decides an edit's fate: how long edits are allowed, the rules, and the site's mode.
#[derive(Clone, Copy)]
pub struct EditPolicy<'a> {
    pub window: chrono::TimeDelta,
    pub rules: &'a Rules,
    pub site_mode: ModerationMode,
}

/// The author's edit: allowed with the review's token within `window` of its creation. The
/// rules run again over the new text, and the review gets the status `edited_status` gives it
/// (so pre-moderation sends a published one back to the queue). Counters, event
/// (`review.updated`, or the transition's) and audit entry follow in the same transaction.
pub async fn edit(
    pool: &Pool,
    id: Uuid,
    author: Author<'_>,
    edit: &ReviewEdit,
    policy: &EditPolicy<'_>,
    render: Render<'_>,
) -> Result<(PublicReviewRow, bool), StoreError> {
    let site = site_of(pool)?;
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let owned = lock_owned(conn, site, id, author).await?;
            let now = time::now_stored();
            let current = &owned.row.public;
            if current.created_at + policy.window < now {
                return Err(StoreError::EditWindowClosed);
            }
            let title = match &edit.title {
                Some(title) => title.as_ref().map(|t| t.as_str().to_owned()),
                None => current.title.clone(),
            };
            let body = edit
                .body
                .as_ref()
                .map_or(current.body.clone(), |b| b.as_str().to_owned());
            let rating = edit.rating.map_or(current.rating, |r| r.get());
            let verdict = policy.rules.check(&Content {
                title: title.as_deref(),
                body: &body,
                honeypot: None,
            });
            let article_mode = owned.mode.as_deref().and_then(ModerationMode::from_stored);
            let from = current.status();
            let to = edited_status(from, verdict.action, article_mode, policy.site_mode);
            let reasons = edited_reasons(&verdict, &owned.row.reasons);
            let review: PublicReviewRow = diesel::update(reviews::table.find(id))
                .set((
                    reviews::rating.eq(rating),
                    reviews::title.eq(&title),
                    reviews::body.eq(&body),
                    reviews::status.eq(to.as_str()),
                    reviews::reasons.eq(&reasons),
                    reviews::edited_at.eq(Some(now)),
                    reviews::updated_at.eq(now),
                ))
                .returning(PublicReviewRow::as_returning())
                .load_one(conn)
                .await?;
            let mut counted = Counting::default();
            counted.change(current, from, -1);
            counted.change(&review, to, 1);
            counted.apply(conn).await?;
            let change = LiveChange {
                article_id: &review.article_id,
                review_id: id,
                kind: LiveKind::of_edit(from, to),
            };
            live::record(conn, &[change]).await?;
            let kind = transition_event(from, to).unwrap_or(EventType::ReviewUpdated);
            let announced = announce(conn, &[(kind, &review)], render, now).await?;
            diesel::insert_into(moderation_log::table)
                .values((
                    moderation_log::id.eq(Uuid::now_v7()),
                    moderation_log::review_id.eq(id),
                    moderation_log::actor.eq(AUTHOR),
                    moderation_log::action.eq("edit"),
                    moderation_log::from_status.eq(Some(from.as_str())),
                    moderation_log::to_status.eq(to.as_str()),
                    moderation_log::reasons.eq(&reasons),
                    moderation_log::created_at.eq(now),
                ))
                .execute(conn)
                .await?;
            Ok((review, announced))
        })
        .await
    })
    .await
}

/// The author deletes the review, at any time.
pub async fn delete_owned(
    pool: &Pool,
    id: Uuid,
    author: Author<'_>,
    render: Render<'_>,
) -> Result<(Vec<Change>, bool), StoreError> {
    let site = site_of(pool)?;
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            lock_owned(conn, site, id, author).await?;
            let entry = Entry {
                actor: AUTHOR,
                action: "delete",
                note: None,
                reason: None,
            };
            transition_on(conn, &[id], &|_| Ok(ReviewStatus::Deleted), &entry, render).await
        })
        .await
    })
    .await
}
