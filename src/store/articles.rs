//! Articles registered by the CMS or created by a first review.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::answer::LoadOne;
use super::{site_of, stats, with_connection, StoreError};
use crate::db::schema::{articles, processed_inbound_events};
use crate::db::Pool;
use crate::domain::article::{
    ArticleId, ArticleSection, ArticleTitle, ArticleUpsert, ArticleUrl, Lifecycle,
};
use crate::domain::cms_event::{ArticleChange, CmsEvent};
use crate::domain::moderation::ModerationMode;
use crate::domain::stats::RatingCounters;
use crate::domain::text::LanguageTag;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = articles, check_for_backend(diesel::pg::Pg))]
pub struct ArticleRow {
    pub article_id: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub language: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub reviews_open: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub lifecycle: String,
    pub section: Option<String>,
    pub moderation: Option<String>,
}

/// An article with its counters, as the public reads it.
#[derive(Debug, Clone)]
pub struct ArticleWithStats {
    pub article: ArticleRow,
    pub counters: RatingCounters,
}

/// Creates or replaces an article's description, and moves it to `lifecycle` when given (a new
/// article starts published); returns it and whether it was new. A PUT is the newest change
/// there is: it also moves the article's change time forward, so that CMS events older than it
/// no longer apply.
pub async fn upsert(
    pool: &Pool,
    id: &ArticleId,
    upsert: &ArticleUpsert,
    lifecycle: Option<Lifecycle>,
) -> Result<(ArticleWithStats, bool), StoreError> {
    use articles::dsl;
    let title = upsert.title.as_ref().map(ArticleTitle::as_str);
    let url = upsert.url.as_ref().map(ArticleUrl::as_str);
    let language = upsert.language.as_ref().map(LanguageTag::as_str);
    let section = upsert.section.as_ref().map(ArticleSection::as_str);
    let new_lifecycle = lifecycle.unwrap_or(Lifecycle::Published).as_str();
    // Sent (a mode, or null for the site's): stored; left out: an existing article keeps its own.
    let moderation_sent = upsert.moderation.is_some();
    let moderation = upsert.moderation.flatten().map(ModerationMode::as_str);
    let site = site_of(pool)?;
    let values = (
        dsl::site_id.eq(site),
        dsl::article_id.eq(id.as_str()),
        dsl::title.eq(title),
        dsl::url.eq(url),
        dsl::language.eq(language),
        dsl::section.eq(section),
        dsl::published_at.eq(upsert.published_at),
        dsl::reviews_open.eq(upsert.reviews_open),
        dsl::lifecycle.eq(new_lifecycle),
        dsl::source_changed_at.eq(diesel::dsl::now),
        dsl::moderation.eq(moderation),
    );
    let kept_lifecycle = lifecycle.map(Lifecycle::as_str);
    with_connection(pool, async |conn| {
        let article = diesel::insert_into(articles::table)
            .values(values)
            .on_conflict((dsl::site_id, dsl::article_id))
            .do_update()
            .set((
                dsl::title.eq(title),
                dsl::url.eq(url),
                dsl::language.eq(language),
                dsl::section.eq(section),
                dsl::published_at.eq(upsert.published_at),
                dsl::reviews_open.eq(upsert.reviews_open),
                dsl::moderation.eq(diesel::dsl::sql::<Nullable<Text>>("CASE WHEN ")
                    .bind::<Bool, _>(moderation_sent)
                    .sql(" THEN ")
                    .bind::<Nullable<Text>, _>(moderation)
                    .sql(" ELSE articles.moderation END")),
                dsl::lifecycle.eq(diesel::dsl::sql::<Text>("COALESCE(")
                    .bind::<Nullable<Text>, _>(kept_lifecycle)
                    .sql(", articles.lifecycle)")),
                dsl::source_changed_at.eq(diesel::dsl::sql::<Nullable<Timestamptz>>(
                    "GREATEST(articles.source_changed_at, now())",
                )),
                dsl::updated_at.eq(diesel::dsl::now),
            ))
            .returning(ArticleRow::as_returning())
            .load_one(conn)
            .await?;
        // An update sets updated_at to the current transaction's time, later than created_at.
        let created = article.created_at == article.updated_at;
        let counters = stats::for_article_on(conn, site, id.as_str())
            .await?
            .unwrap_or_default();
        Ok((ArticleWithStats { article, counters }, created))
    })
    .await
}

/// What became of a CMS event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundOutcome {
    /// The article now reflects the event.
    Applied,
    /// The article had already taken a newer change; the event was recorded and skipped.
    Superseded,
    /// An event with this `webhook-id` was processed before; nothing was done again.
    AlreadyProcessed,
}

impl InboundOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Superseded => "superseded",
            Self::AlreadyProcessed => "already_processed",
        }
    }
}

/// Applies a CMS event once: the event's id is recorded in the same transaction as its change, so
/// a redelivery (even a concurrent one, which waits on the id's row) changes nothing; and the
/// change applies only if the article has taken no newer change, so events delivered out of order
/// end in the newest event's state.
pub async fn apply_cms_event(
    pool: &Pool,
    webhook_id: &str,
    event: &CmsEvent,
) -> Result<InboundOutcome, StoreError> {
    let site = site_of(pool)?;
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let first_time = diesel::insert_into(processed_inbound_events::table)
                .values((
                    processed_inbound_events::site_id.eq(site),
                    processed_inbound_events::webhook_id.eq(webhook_id),
                    processed_inbound_events::event_type.eq(event.event_type.as_str()),
                    processed_inbound_events::article_id.eq(event.article_id.as_str()),
                    processed_inbound_events::outcome.eq(InboundOutcome::Applied.as_str()),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if first_time == 0 {
                return Ok(InboundOutcome::AlreadyProcessed);
            }
            let changed = change_statement(site, event).execute(conn).await?;
            if changed > 0 {
                return Ok(InboundOutcome::Applied);
            }
            diesel::update(processed_inbound_events::table.find((site, webhook_id)))
                .set(processed_inbound_events::outcome.eq(InboundOutcome::Superseded.as_str()))
                .execute(conn)
                .await?;
            Ok(InboundOutcome::Superseded)
        })
        .await
    })
    .await
}

/// The upsert of one CMS event, guarded by the article's change time (ties go to the event that
/// arrives last).
fn change_statement<'a>(
    site: &'a str,
    event: &'a CmsEvent,
) -> diesel::query_builder::BoxedSqlQuery<'a, diesel::pg::Pg, diesel::query_builder::SqlQuery> {
    const NEWER_ONLY: &str = " WHERE a.source_changed_at IS NULL \
         OR a.source_changed_at <= excluded.source_changed_at";
    match &event.change {
        ArticleChange::Describe {
            description,
            lifecycle,
        } => diesel::sql_query(format!(
            "INSERT INTO articles AS a (article_id, title, url, language, section, published_at, \
             reviews_open, lifecycle, source_changed_at, site_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, $9), $10, $11) \
             ON CONFLICT (site_id, article_id) DO UPDATE SET title = excluded.title, url = excluded.url, \
             language = excluded.language, section = excluded.section, \
             published_at = excluded.published_at, reviews_open = excluded.reviews_open, \
             lifecycle = COALESCE($8, a.lifecycle), \
             source_changed_at = excluded.source_changed_at, updated_at = now(){NEWER_ONLY}"
        ))
        .into_boxed()
        .bind::<Text, _>(event.article_id.as_str())
        .bind::<Nullable<Text>, _>(description.title.as_ref().map(ArticleTitle::as_str))
        .bind::<Nullable<Text>, _>(description.url.as_ref().map(ArticleUrl::as_str))
        .bind::<Nullable<Text>, _>(description.language.as_ref().map(LanguageTag::as_str))
        .bind::<Nullable<Text>, _>(description.section.as_ref().map(ArticleSection::as_str))
        .bind::<Nullable<Timestamptz>, _>(description.published_at)
        .bind::<Bool, _>(description.reviews_open)
        .bind::<Nullable<Text>, _>(lifecycle.map(Lifecycle::as_str))
        .bind::<Text, _>(Lifecycle::Published.as_str())
        .bind::<Timestamptz, _>(event.occurred_at)
        .bind::<Text, _>(site),
        ArticleChange::Move(lifecycle) => diesel::sql_query(format!(
            "INSERT INTO articles AS a (article_id, lifecycle, source_changed_at, site_id) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (site_id, article_id) DO UPDATE SET lifecycle = excluded.lifecycle, \
             source_changed_at = excluded.source_changed_at, updated_at = now(){NEWER_ONLY}"
        ))
        .into_boxed()
        .bind::<Text, _>(event.article_id.as_str())
        .bind::<Text, _>(lifecycle.as_str())
        .bind::<Timestamptz, _>(event.occurred_at)
        .bind::<Text, _>(site),
    }
}

/// An article and its counters, read on one connection.
pub async fn get(pool: &Pool, id: &ArticleId) -> Result<Option<ArticleWithStats>, StoreError> {
    let site = site_of(pool)?;
    with_connection(pool, async |conn| {
        let Some(article) = articles::table
            .find((site, id.as_str()))
            .filter(articles::lifecycle.ne(Lifecycle::Deleted.as_str()))
            .select(ArticleRow::as_select())
            .first(conn)
            .await
            .optional()?
        else {
            return Ok(None);
        };
        let counters = stats::for_article_on(conn, site, id.as_str())
            .await?
            .unwrap_or_default();
        Ok(Some(ArticleWithStats { article, counters }))
    })
    .await
}

/// The editorial settings of an article; `None` leaves one as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = articles)]
pub struct ArticleSettings {
    pub reviews_open: Option<bool>,
    /// `Some(None)`: the site's mode.
    pub moderation: Option<Option<&'static str>>,
}

/// Changes an article's editorial settings; `None` when there is no such (undeleted) article.
/// The article's `updated_at` stays: it is the CMS's change time, which orders CMS events, and an
/// editor's setting must not make the CMS's next event look stale.
pub async fn update_settings(
    pool: &Pool,
    id: &ArticleId,
    settings: &ArticleSettings,
) -> Result<Option<ArticleWithStats>, StoreError> {
    if settings.reviews_open.is_none() && settings.moderation.is_none() {
        return get(pool, id).await;
    }
    let site = site_of(pool)?;
    let changed: usize = with_connection(pool, async |conn| {
        Ok(diesel::update(articles::table.find((site, id.as_str())))
            .filter(articles::lifecycle.ne(Lifecycle::Deleted.as_str()))
            .set(settings)
            .execute(conn)
            .await?)
    })
    .await?;
    if changed == 0 {
        return Ok(None);
    }
    get(pool, id).await
}

/// The ids among `ids` whose article is deleted, and, with `include_missing`, those no article
/// has: the ids a read must answer 404 for. In the order given.
pub async fn hidden(
    pool: &Pool,
    ids: &[&str],
    include_missing: bool,
) -> Result<Vec<String>, StoreError> {
    let site = site_of(pool)?;
    let known: Vec<(String, String)> = with_connection(pool, async |conn| {
        Ok(articles::table
            .filter(articles::site_id.eq(site))
            .filter(articles::article_id.eq_any(ids))
            .select((articles::article_id, articles::lifecycle))
            .load(conn)
            .await?)
    })
    .await?;
    let is_hidden = |id: &str| match known.iter().find(|(known_id, _)| known_id == id) {
        Some((_, lifecycle)) => lifecycle == Lifecycle::Deleted.as_str(),
        None => include_missing,
    };
    Ok(ids
        .iter()
        .filter(|id| is_hidden(id))
        .map(|id| (*id).to_owned())
        .collect())
}

/// An article's language, read only for a review whose language detection left open: one probe
/// of the primary key.
pub async fn language(pool: &Pool, id: &ArticleId) -> Result<Option<String>, StoreError> {
    let site = site_of(pool)?;
    with_connection(pool, async |conn| {
        Ok(articles::table
            .find((site, id.as_str()))
            .select(articles::language)
            .first::<Option<String>>(conn)
            .await
            .optional()?
            .flatten())
    })
    .await
}
