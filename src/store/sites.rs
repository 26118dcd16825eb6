//! The sites of the installation and their own settings. Not itself held by row-level security:
//! every caller may learn which sites exist (a request names one before anything else).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::answer::LoadOne;
use super::{with_connection, StoreError};
use crate::db::schema::sites;
use crate::db::Pool;
use crate::domain::site::SiteId;

/// A site as stored; a `None` setting takes the installation's.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = sites, check_for_backend(diesel::pg::Pg))]
pub struct SiteRow {
    pub site_id: String,
    pub name: String,
    pub origins: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub moderation: Option<String>,
    pub banned_terms: Option<Vec<String>>,
    pub max_links: Option<i32>,
    pub flag_threshold: Option<i32>,
    pub newsroom_name: Option<String>,
    pub cms_secrets: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub rate_limit_reviews: Option<i32>,
    pub rate_limit_reactions: Option<i32>,
    /// `domain::reader::ReaderTokenSettings` as JSON.
    pub reader_tokens: Option<serde_json::Value>,
    /// `domain::mail::MailSettings` as JSON.
    pub mail: Option<serde_json::Value>,
    pub unrated_reviews: Option<bool>,
}

/// A site's settings to write; `None` leaves one as it is, `Some(None)` gives it back to the
/// installation's.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = sites)]
pub struct SiteChange {
    pub name: Option<String>,
    pub origins: Option<Option<Vec<String>>>,
    pub languages: Option<Option<Vec<String>>>,
    pub moderation: Option<Option<String>>,
    pub banned_terms: Option<Option<Vec<String>>>,
    pub max_links: Option<Option<i32>>,
    pub flag_threshold: Option<Option<i32>>,
    pub newsroom_name: Option<Option<String>>,
    pub cms_secrets: Option<Option<Vec<String>>>,
    pub rate_limit_reviews: Option<Option<i32>>,
    pub rate_limit_reactions: Option<Option<i32>>,
    pub reader_tokens: Option<Option<serde_json::Value>>,
    pub mail: Option<Option<serde_json::Value>>,
    pub unrated_reviews: Option<Option<bool>>,
}

/// Creates a site with the installation's settings; `None` when one with this id exists.
pub async fn create(pool: &Pool, id: &SiteId, name: &str) -> Result<Option<SiteRow>, StoreError> {
    with_connection(pool, async |conn| {
        Ok(diesel::insert_into(sites::table)
            .values((sites::site_id.eq(id.as_str()), sites::name.eq(name)))
            .on_conflict_do_nothing()
            .returning(SiteRow::as_returning())
            .load_one(conn)
            .await
            .optional()?)
    })
    .await
}

/// Every site, by id.
pub async fn list(pool: &Pool) -> Result<Vec<SiteRow>, StoreError> {
    with_connection(pool, async |conn| {
        Ok(sites::table
            .order(sites::site_id)
            .select(SiteRow::as_select())
            .load(conn)
            .await?)
    })
    .await
}

/// One site, if it exists.
pub async fn get(pool: &Pool, id: &SiteId) -> Result<Option<SiteRow>, StoreError> {
    with_connection(pool, async |conn| {
        Ok(sites::table
            .find(id.as_str())
            .select(SiteRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
    .await
}

/// Changes a site's settings; `None` when there is no such site.
pub async fn update(
    pool: &Pool,
    id: &SiteId,
    change: &SiteChange,
) -> Result<Option<SiteRow>, StoreError> {
    with_connection(pool, async |conn| {
        Ok(diesel::update(sites::table.find(id.as_str()))
            .set((change, sites::updated_at.eq(diesel::dsl::now)))
            .returning(SiteRow::as_returning())
            .load_one(conn)
            .await
            .optional()?)
    })
    .await
}
