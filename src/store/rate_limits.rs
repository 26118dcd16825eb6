//! The rate limits' shared buckets (`rate_limit_buckets`): one per limit and client, counted by
//! every node.

use std::time::Duration;

use diesel_async::RunQueryDsl;

use super::answer::LoadOne;
use super::sql::marginalia_take_from_bucket;
use super::{with_connection, StoreError};
use crate::db::Pool;

/// Takes one request from `client`'s bucket of `per_minute` a minute (at most `per_minute` at
/// once) under the limit of `owner` and `kind`; zero when admitted, else how long until the
/// bucket admits one again.
pub async fn take(
    pool: &Pool,
    owner: &str,
    kind: &str,
    client: &[u8],
    per_minute: u32,
) -> Result<Duration, StoreError> {
    let per_minute = i32::try_from(per_minute).unwrap_or(i32::MAX);
    let wait_us: i64 = with_connection(pool, async |conn| {
        Ok(
            diesel::select(marginalia_take_from_bucket(owner, kind, client, per_minute))
                .load_one(conn)
                .await?,
        )
    })
    .await?;
    Ok(Duration::from_micros(u64::try_from(wait_us).unwrap_or(0)))
}

/// Forgets the buckets that are full again (a client not seen for a while): they admit as much
/// as a missing row does.
pub async fn forget_full(pool: &Pool) -> Result<usize, StoreError> {
    with_connection(pool, async |conn| {
        Ok(
            diesel::sql_query("DELETE FROM rate_limit_buckets WHERE full_at < clock_timestamp()")
                .execute(conn)
                .await?,
        )
    })
    .await
}
