//! Announcing committed changes to the other nodes (`crate::coherence`).

use diesel::sql_types::{Array, Text};
use diesel_async::RunQueryDsl;

use super::{with_connection, StoreError};
use crate::db::Pool;

/// Sends each payload on `channel`, in one statement and one transaction of its own that does not
/// wait for a synchronous standby: a lost notification costs a cache entry its TTL, never data,
/// and a transaction that notifies holds PostgreSQL's notification lock until it has committed,
/// so it should commit fast.
pub async fn announce(pool: &Pool, channel: &str, payloads: &[String]) -> Result<(), StoreError> {
    with_connection(pool, async |conn| {
        diesel::sql_query(
            "SELECT count(*) FROM (SELECT set_config('synchronous_commit', 'off', true)) AS local, \
             LATERAL (SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload) AS sent",
        )
        .bind::<Text, _>(channel)
        .bind::<Array<Text>, _>(payloads)
        .execute(conn)
        .await?;
        Ok(())
    })
    .await
}
