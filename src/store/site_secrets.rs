//! Secrets the installation generated for itself (in its migration), shared by every instance.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{with_connection, StoreError};
use crate::db::schema::site_secrets;
use crate::db::Pool;

/// The salt of the client digests (voters, duplicate texts).
pub async fn client_digest_salt(pool: &Pool) -> Result<Vec<u8>, StoreError> {
    with_connection(pool, async |conn| {
        Ok(site_secrets::table
            .find("client_digest_salt")
            .select(site_secrets::value)
            .first(conn)
            .await?)
    })
    .await
}
