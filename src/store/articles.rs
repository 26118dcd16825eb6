//! Articles registered by the CMS or created by a first review.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{stats, with_connection, StoreError};
use crate::db::schema::articles;
use crate::db::Pool;
use crate::domain::article::{ArticleId, ArticleTitle, ArticleUpsert, ArticleUrl};
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
}

/// An article with its counters, as the public reads it.
#[derive(Debug, Clone)]
pub struct ArticleWithStats {
    pub article: ArticleRow,
    pub counters: RatingCounters,
}

/// Creates or replaces an article's description; returns it and whether it was new.
pub async fn upsert(
    pool: &Pool,
    id: &ArticleId,
    upsert: &ArticleUpsert,
) -> Result<(ArticleWithStats, bool), StoreError> {
    use articles::dsl;
    let title = upsert.title.as_ref().map(ArticleTitle::as_str);
    let url = upsert.url.as_ref().map(ArticleUrl::as_str);
    let language = upsert.language.as_ref().map(LanguageTag::as_str);
    let values = (
        dsl::article_id.eq(id.as_str()),
        dsl::title.eq(title),
        dsl::url.eq(url),
        dsl::language.eq(language),
        dsl::published_at.eq(upsert.published_at),
        dsl::reviews_open.eq(upsert.reviews_open),
    );
    with_connection(pool, async |conn| {
        let article = diesel::insert_into(articles::table)
            .values(values)
            .on_conflict(dsl::article_id)
            .do_update()
            .set((
                dsl::title.eq(title),
                dsl::url.eq(url),
                dsl::language.eq(language),
                dsl::published_at.eq(upsert.published_at),
                dsl::reviews_open.eq(upsert.reviews_open),
                dsl::updated_at.eq(diesel::dsl::now),
            ))
            .returning(ArticleRow::as_returning())
            .get_result(conn)
            .await?;
        // An update sets updated_at to the current transaction's time, later than created_at.
        let created = article.created_at == article.updated_at;
        let counters = stats::for_article_on(conn, id.as_str())
            .await?
            .unwrap_or_default();
        Ok((ArticleWithStats { article, counters }, created))
    })
    .await
}

/// An article and its counters, read on one connection.
pub async fn get(pool: &Pool, id: &ArticleId) -> Result<Option<ArticleWithStats>, StoreError> {
    with_connection(pool, async |conn| {
        let Some(article) = articles::table
            .find(id.as_str())
            .select(ArticleRow::as_select())
            .first(conn)
            .await
            .optional()?
        else {
            return Ok(None);
        };
        let counters = stats::for_article_on(conn, id.as_str())
            .await?
            .unwrap_or_default();
        Ok(Some(ArticleWithStats { article, counters }))
    })
    .await
}

/// The ids among `ids` that no article has, in the order given.
pub async fn unknown(pool: &Pool, ids: &[&str]) -> Result<Vec<String>, StoreError> {
    let known: Vec<String> = with_connection(pool, async |conn| {
        Ok(articles::table
            .filter(articles::article_id.eq_any(ids))
            .select(articles::article_id)
            .load(conn)
            .await?)
    })
    .await?;
    Ok(ids
        .iter()
        .filter(|id| !known.iter().any(|known| known == *id))
        .map(|id| (*id).to_owned())
        .collect())
}
