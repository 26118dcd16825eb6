//! A verified reader's standing on a site: their suspension, their reviews, and the record of
//! what moderators decided about them.

use chrono::{DateTime, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::answer::LoadOne;
use super::queue::{article_of_review, QueueRow};
use super::{site_of, with_connection, StoreError};
use crate::db::schema::{articles, outbox_events, reader_log, reader_suspensions, reviews};
use crate::db::Pool;
use crate::domain::article::ArticleId;
use crate::domain::review::ReviewStatus;
use crate::domain::time;
use crate::domain::trust::Suspension;
use crate::domain::webhook::EventType;

/// How many of a reader's reviews, and of their record's entries, a moderator sees at once.
pub const HISTORY_LIMIT: i64 = 20;

/// What a verified reader's submission needs to know about them, read in one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// In force: `Some(until)`, `until` being `None` for good.
    pub suspended: Option<Option<DateTime<Utc>>>,
    /// Their published reviews on the site, counted up to `count_published_up_to`: that many when
    /// they have at least as many, else 0.
    pub published: i64,
    /// Their review of the article that is not deleted, if any (looked for only when asked).
    pub review_of_article: Option<Uuid>,
}

/// What `standing` should look up beyond the suspension.
pub struct StandingQuery<'a> {
    pub reader_id: &'a str,
    /// The article of a submission; `None` for a reaction.
    pub article: Option<&'a ArticleId>,
    /// Whether the reader has this many published reviews (what the trust policy compares with):
    /// one index probe, however many they have. 0: not asked.
    pub count_published_up_to: i64,
    pub find_review_of_article: bool,
}

/// A reader's standing, in one round trip.
pub async fn standing(pool: &Pool, query: &StandingQuery<'_>) -> Result<Standing, StoreError> {
    let site = site_of(pool)?;
    let reader = query.reader_id;
    with_connection(pool, async |conn| {
        let in_force = suspension_in_force(site, reader);
        // Whether the reader has `count_published_up_to` published reviews: one probe of
        // `reviews_by_reader` at that offset, however many they have. Bound, not branched on, so
        // that it stays one prepared statement (cached, planned once) whatever is asked; in the
        // index's order, which keeps the generic plan on the index.
        let wanted = query.count_published_up_to;
        let enough_published = exists(
            reviews::table
                .filter(reviews::site_id.eq(site))
                .filter(reviews::reader_id.eq(reader))
                .filter(reviews::status.eq(ReviewStatus::Published.as_str()))
                .filter((wanted > 0).into_sql::<Bool>())
                .order(reviews::created_at)
                .offset((wanted - 1).max(0))
                .select(reviews::id),
        );
        let review_of_article = reviews::table
            .filter(reviews::site_id.eq(site))
            .filter(reviews::article_id.eq(query.article.map_or("", ArticleId::as_str)))
            .filter(reviews::reader_id.eq(reader))
            // The unique index's own condition (`reviews_one_per_reader`), so that it finds the
            // review instead of a walk through all the article's reviews.
            .filter(reviews::reader_sole)
            .filter(reviews::status.ne(ReviewStatus::Deleted.as_str()))
            .filter(query.find_review_of_article.into_sql::<Bool>())
            .select(reviews::id)
            .limit(1)
            .single_value();
        let (suspended, until, enough, review_of_article): (
            bool,
            Option<DateTime<Utc>>,
            bool,
            Option<Uuid>,
        ) = diesel::select((
            exists(in_force),
            in_force.select(reader_suspensions::until).single_value(),
            enough_published,
            review_of_article,
        ))
        .load_one(conn)
        .await?;
        Ok(Standing {
            suspended: suspended.then_some(until),
            // All that the policy compares: `wanted` or more, or fewer.
            published: if enough { wanted } else { 0 },
            review_of_article,
        })
    })
    .await
}

/// A reader's suspension row while it holds: for good (`until` null) or until a future time.
#[diesel::dsl::auto_type(no_type_alias)]
fn suspension_in_force<'a>(site: &'a str, reader: &'a str) -> _ {
    let ends_later: diesel::dsl::Or<
        diesel::dsl::IsNull<reader_suspensions::until>,
        diesel::dsl::Gt<reader_suspensions::until, diesel::dsl::now>,
    > = reader_suspensions::until
        .is_null()
        .or(reader_suspensions::until.gt(diesel::dsl::now));
    reader_suspensions::table
        .filter(reader_suspensions::site_id.eq(site))
        .filter(reader_suspensions::reader_id.eq(reader))
        .filter(ends_later)
}

/// A suspension as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reader_suspensions, check_for_backend(diesel::pg::Pg))]
pub struct SuspensionRow {
    pub until: Option<DateTime<Utc>>,
    pub reason: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// One entry of a reader's record.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reader_log, check_for_backend(diesel::pg::Pg))]
pub struct ReaderLogRow {
    pub id: Uuid,
    pub action: String,
    pub until: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// What moderators see of a reader.
#[derive(Debug, Clone)]
pub struct ReaderHistory {
    /// Their reviews on the site by status, every status listed.
    pub counts: Vec<(ReviewStatus, i64)>,
    /// Newest first, at most `HISTORY_LIMIT`.
    pub recent: Vec<QueueRow>,
    /// The suspension in force, if any.
    pub suspension: Option<SuspensionRow>,
    /// Newest first, at most `HISTORY_LIMIT`.
    pub log: Vec<ReaderLogRow>,
}

/// A reader's history on the site: their reviews, the suspension in force and the record.
pub async fn history(pool: &Pool, reader_id: &str) -> Result<ReaderHistory, StoreError> {
    let site = site_of(pool)?;
    with_connection(pool, async |conn| {
        let by_status: Vec<(String, i64)> = reviews::table
            .filter(reviews::site_id.eq(site))
            .filter(reviews::reader_id.eq(reader_id))
            .group_by(reviews::status)
            .select((reviews::status, diesel::dsl::count_star()))
            .load(conn)
            .await?;
        let counts = ReviewStatus::ALL
            .into_iter()
            .map(|status| {
                let count = by_status
                    .iter()
                    .find(|(stored, _)| stored == status.as_str())
                    .map_or(0, |(_, count)| *count);
                (status, count)
            })
            .collect();
        let recent = reviews::table
            .inner_join(articles::table.on(article_of_review()))
            .filter(reviews::site_id.eq(site))
            .filter(reviews::reader_id.eq(reader_id))
            .select(QueueRow::as_select())
            .order(reviews::created_at.desc())
            .limit(HISTORY_LIMIT)
            .load(conn)
            .await?;
        let suspension = suspension_in_force(site, reader_id)
            .select(SuspensionRow::as_select())
            .first(conn)
            .await
            .optional()?;
        let log = reader_log::table
            .filter(reader_log::site_id.eq(site))
            .filter(reader_log::reader_id.eq(reader_id))
            .select(ReaderLogRow::as_select())
            .order(reader_log::id.desc())
            .limit(HISTORY_LIMIT)
            .load(conn)
            .await?;
        Ok(ReaderHistory {
            counts,
            recent,
            suspension,
            log,
        })
    })
    .await
}

/// What a suspension or reinstatement records and announces.
pub struct ReaderChange<'a> {
    pub reader_id: &'a str,
    pub actor: &'a str,
    /// The event's data, as subscribers receive it.
    pub event_data: serde_json::Value,
}

/// Suspends a reader (replacing a suspension in force), with its record entry and its
/// `reader.suspended` event, in one transaction. Returns the suspension and whether an event was
/// written.
pub async fn suspend(
    pool: &Pool,
    suspension: &Suspension,
    change: &ReaderChange<'_>,
) -> Result<(SuspensionRow, bool), StoreError> {
    let now = time::now_stored();
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let row = diesel::insert_into(reader_suspensions::table)
                .values((
                    reader_suspensions::reader_id.eq(change.reader_id),
                    reader_suspensions::until.eq(suspension.until),
                    reader_suspensions::reason.eq(&suspension.reason),
                    reader_suspensions::actor.eq(change.actor),
                    reader_suspensions::created_at.eq(now),
                ))
                .on_conflict((reader_suspensions::site_id, reader_suspensions::reader_id))
                .do_update()
                .set((
                    reader_suspensions::until.eq(suspension.until),
                    reader_suspensions::reason.eq(&suspension.reason),
                    reader_suspensions::actor.eq(change.actor),
                    reader_suspensions::created_at.eq(now),
                ))
                .returning(SuspensionRow::as_returning())
                .load_one(conn)
                .await?;
            record(conn, change, "suspend", Some(suspension), now).await?;
            let announced = announce(conn, EventType::ReaderSuspended, change, now).await?;
            Ok((row, announced))
        })
        .await
    })
    .await
}

/// Ends a reader's suspension, with its record entry and its `reader.reinstated` event. Returns
/// whether there was one (in force or run out), and whether an event was written.
pub async fn reinstate(pool: &Pool, change: &ReaderChange<'_>) -> Result<(bool, bool), StoreError> {
    let site = site_of(pool)?;
    let now = time::now_stored();
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let removed = diesel::delete(
                reader_suspensions::table
                    .filter(reader_suspensions::site_id.eq(site))
                    .filter(reader_suspensions::reader_id.eq(change.reader_id)),
            )
            .execute(conn)
            .await?;
            if removed == 0 {
                return Ok((false, false));
            }
            record(conn, change, "reinstate", None, now).await?;
            let announced = announce(conn, EventType::ReaderReinstated, change, now).await?;
            Ok((true, announced))
        })
        .await
    })
    .await
}

async fn record(
    conn: &mut AsyncPgConnection,
    change: &ReaderChange<'_>,
    action: &str,
    suspension: Option<&Suspension>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(reader_log::table)
        .values((
            reader_log::id.eq(Uuid::now_v7()),
            reader_log::reader_id.eq(change.reader_id),
            reader_log::action.eq(action),
            reader_log::until.eq(suspension.and_then(|s| s.until)),
            reader_log::reason.eq(suspension.map(|s| s.reason.as_str())),
            reader_log::actor.eq(change.actor),
            reader_log::created_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the change's outbox event while some webhook endpoint is enabled. A reader's event
/// belongs to no article: its `article_id` is empty.
async fn announce(
    conn: &mut AsyncPgConnection,
    kind: EventType,
    change: &ReaderChange<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if !super::moderation::listening(conn).await? {
        return Ok(false);
    }
    diesel::insert_into(outbox_events::table)
        .values((
            outbox_events::id.eq(Uuid::now_v7()),
            outbox_events::event_type.eq(kind.as_str()),
            outbox_events::article_id.eq(""),
            outbox_events::payload.eq(&change.event_data),
            outbox_events::created_at.eq(now),
            outbox_events::available_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(true)
}
