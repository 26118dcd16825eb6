//! API keys: only their SHA-256 digests are stored.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::answer::LoadOne;
use super::{with_connection, StoreError};
use crate::db::schema::api_keys;
use crate::db::Pool;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The sites the key serves; `None`: every site.
    pub sites: Option<Vec<String>>,
}

pub async fn create(
    pool: &Pool,
    name: &str,
    scopes: &[String],
    sites: Option<&[String]>,
    key_hash: &[u8],
) -> Result<ApiKeyRow, StoreError> {
    use api_keys::dsl;
    with_connection(pool, async |conn| {
        Ok(diesel::insert_into(api_keys::table)
            .values((
                dsl::id.eq(Uuid::now_v7()),
                dsl::name.eq(name),
                dsl::scopes.eq(scopes),
                dsl::sites.eq(sites),
                dsl::key_hash.eq(key_hash),
            ))
            .returning(ApiKeyRow::as_returning())
            .load_one(conn)
            .await?)
    })
    .await
}

pub async fn list(pool: &Pool) -> Result<Vec<ApiKeyRow>, StoreError> {
    with_connection(pool, async |conn| {
        Ok(api_keys::table
            .order(api_keys::id.asc())
            .select(ApiKeyRow::as_select())
            .load(conn)
            .await?)
    })
    .await
}

/// Revokes a key; false when no unrevoked key has that id.
pub async fn revoke(pool: &Pool, id: Uuid) -> Result<bool, StoreError> {
    use api_keys::dsl;
    with_connection(pool, async |conn| {
        let changed = diesel::update(api_keys::table.find(id).filter(dsl::revoked_at.is_null()))
            .set(dsl::revoked_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
        Ok(changed == 1)
    })
    .await
}

/// The unrevoked key with this digest. Marks it used at most once a minute, so that
/// authenticating does not turn every read into a write.
pub async fn find_active(pool: &Pool, key_hash: &[u8]) -> Result<Option<ApiKeyRow>, StoreError> {
    use api_keys::dsl;
    with_connection(pool, async |conn| {
        let key = api_keys::table
            .filter(dsl::key_hash.eq(key_hash))
            .filter(dsl::revoked_at.is_null())
            .select(ApiKeyRow::as_select())
            .first(conn)
            .await
            .optional()?;
        if let Some(key) = &key {
            let stale = key
                .last_used_at
                .is_none_or(|used| Utc::now() - used > chrono::TimeDelta::minutes(1));
            if stale {
                diesel::update(api_keys::table.find(key.id))
                    .set(dsl::last_used_at.eq(diesel::dsl::now))
                    .execute(conn)
                    .await?;
            }
        }
        Ok(key)
    })
    .await
}
