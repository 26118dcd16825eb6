//! Readers' data rights: erasing everything an author wrote, and exporting reviews in batches.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::mail;
use super::moderation::{self, Change, Entry, ModeratedReviewRow, Render};
use super::sql::lower;
use super::{site_of, sites_of, with_connection, StoreError};
use crate::db::schema::{articles, idempotency_keys, moderation_log, review_flags, reviews};
use crate::db::Pool;
use crate::domain::query::ExportFilter;
use crate::domain::review::ReviewStatus;
use crate::domain::time;

/// What an erasure did.
pub struct Erased {
    /// Reviews whose text and personal fields were removed.
    pub reviews: usize,
    /// The status changes (published or held reviews becoming deleted).
    pub changes: Vec<Change>,
    pub announced: bool,
}

/// Erases every review written under `email` (compared case-insensitively): title, body, name,
/// email and the newsroom's reply are removed, the reviews become `deleted` (counters follow),
/// the audit log records the erasure of each (without the email), and copies of the texts are
/// scrubbed: outbox events, idempotency records, moderators' notes, readers' flags and receivers'
/// answers to the events. One transaction.
pub async fn erase(
    pool: &Pool,
    email: &str,
    actor: &str,
    render: Render<'_>,
) -> Result<Erased, StoreError> {
    let site = site_of(pool)?;
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let ids: Vec<Uuid> = reviews::table
                .filter(reviews::site_id.eq(site))
                .filter(lower(reviews::author_email).eq(lower(Some(email))))
                .order(reviews::id)
                .select(reviews::id)
                .for_update()
                .load(conn)
                .await?;
            mail::forget(conn, site, email).await?;
            if ids.is_empty() {
                return Ok(Erased {
                    reviews: 0,
                    changes: Vec::new(),
                    announced: false,
                });
            }
            let now = time::now_stored();
            diesel::update(reviews::table.filter(reviews::id.eq_any(&ids)))
                .set((
                    reviews::title.eq(None::<String>),
                    reviews::body.eq(""),
                    reviews::author_name.eq(None::<String>),
                    reviews::author_email.eq(None::<String>),
                    reviews::reader_id.eq(None::<String>),
                    reviews::reader_badges.eq(Vec::<String>::new()),
                    reviews::reply_body.eq(None::<String>),
                    reviews::reply_created_at.eq(None::<DateTime<Utc>>),
                    reviews::reply_updated_at.eq(None::<DateTime<Utc>>),
                    reviews::edit_token_hash.eq(None::<Vec<u8>>),
                    reviews::duplicate_digest.eq(None::<Vec<u8>>),
                    reviews::erased_at.eq(Some(now)),
                    reviews::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
            let entry = Entry {
                actor,
                action: "erase",
                note: None,
                reason: None,
            };
            let (changes, announced) = moderation::transition_on(
                conn,
                &ids,
                &|_| Ok(ReviewStatus::Deleted),
                &entry,
                render,
            )
            .await?;
            log_erased_deleted(conn, &ids, &changes, actor, now).await?;
            scrub_copies(conn, &ids).await?;
            Ok(Erased {
                reviews: ids.len(),
                changes,
                announced,
            })
        })
        .await
    })
    .await
}

/// Reviews that were deleted already changed no status; their erasure is logged too.
async fn log_erased_deleted(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    changes: &[Change],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let unchanged: Vec<_> = ids
        .iter()
        .filter(|id| !changes.iter().any(|change| change.review.id == **id))
        .map(|id| {
            (
                moderation_log::id.eq(Uuid::now_v7()),
                moderation_log::review_id.eq(*id),
                moderation_log::actor.eq(actor),
                moderation_log::action.eq("erase"),
                moderation_log::from_status.eq(Some(ReviewStatus::Deleted.as_str())),
                moderation_log::to_status.eq(ReviewStatus::Deleted.as_str()),
                moderation_log::created_at.eq(now),
            )
        })
        .collect();
    if !unchanged.is_empty() {
        diesel::insert_into(moderation_log::table)
            .values(unchanged)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Scrubs the copies of the erased reviews' texts kept elsewhere.
async fn scrub_copies(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> Result<(), StoreError> {
    // Free texts that may quote or name the author: moderators' notes on these reviews,
    // readers' flag notes, and what receivers answered to their events.
    diesel::update(moderation_log::table.filter(moderation_log::review_id.eq_any(ids)))
        .set(moderation_log::note.eq(None::<String>))
        .execute(conn)
        .await?;
    diesel::delete(review_flags::table.filter(review_flags::review_id.eq_any(ids)))
        .execute(conn)
        .await?;
    let id_texts: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    diesel::sql_query(
        "UPDATE webhook_attempts SET response_excerpt = NULL WHERE delivery_id IN \
         (SELECT d.id FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id \
         WHERE e.payload->>'id' = ANY ($1))",
    )
    .bind::<Array<Text>, _>(&id_texts)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "UPDATE outbox_events SET payload = payload || \
         '{\"title\": null, \"body\": \"\", \"author_name\": null, \"reply\": null}'::jsonb \
         WHERE payload->>'id' = ANY ($1)",
    )
    .bind::<Array<Text>, _>(&id_texts)
    .execute(conn)
    .await?;
    // The remembered answers hold the texts; the keys stay (digests only) so that a client's
    // retry of the same submission finds the review erased instead of storing it again.
    diesel::update(idempotency_keys::table.filter(idempotency_keys::review_id.eq_any(ids)))
        .set((
            idempotency_keys::response.eq(None::<String>),
            idempotency_keys::sealed_token.eq(None::<Vec<u8>>),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Rows an export reads per query: a bound on its memory, whatever the total.
pub const EXPORT_BATCH: i64 = 1_000;

/// The next batch of an export, in id order, after `after`: the handle's site's reviews, or
/// One review of an export, with its site and the article it is about (so another installation
/// can create the article from the export alone).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ExportRow {
    #[diesel(select_expression = reviews::site_id)]
    pub site_id: String,
    #[diesel(embed)]
    pub review: ModeratedReviewRow,
    #[diesel(select_expression = articles::title.nullable())]
    #[diesel(select_expression_type = diesel::dsl::Nullable<articles::title>)]
    pub article_title: Option<String>,
    #[diesel(select_expression = articles::url.nullable())]
    #[diesel(select_expression_type = diesel::dsl::Nullable<articles::url>)]
    pub article_url: Option<String>,
}

/// every site's through an installation handle. Each row comes with its site's id.
pub async fn export_batch(
    pool: &Pool,
    filter: &ExportFilter,
    after: Option<Uuid>,
) -> Result<Vec<ExportRow>, StoreError> {
    let article = articles::table.on(articles::site_id
        .eq(reviews::site_id)
        .and(articles::article_id.eq(reviews::article_id)));
    let mut select = reviews::table
        .left_join(article)
        .select(ExportRow::as_select())
        .order(reviews::id)
        .limit(EXPORT_BATCH)
        .into_boxed();
    if let Some(site) = sites_of(pool)? {
        select = select.filter(reviews::site_id.eq(site.to_owned()));
    }
    if let Some(article_id) = &filter.article_id {
        select = select.filter(reviews::article_id.eq(article_id.clone()));
    }
    if let Some(email) = &filter.author_email {
        select =
            select.filter(lower(reviews::author_email).eq(lower(Some(email.as_str().to_owned()))));
    }
    if let Some(status) = filter.status {
        select = select.filter(reviews::status.eq(status.as_str()));
    }
    if let Some(since) = filter.since {
        select = select.filter(reviews::created_at.ge(since));
    }
    if let Some(after) = after {
        select = select.filter(reviews::id.gt(after));
    }
    with_connection(pool, async |conn| Ok(select.load(conn).await?)).await
}
