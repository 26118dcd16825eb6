//! Announcing committed changes to the other nodes (`crate::coherence`).

use diesel::sql_types::{Array, Text};
use diesel_async::RunQueryDsl;

use super::answer::LoadOne;
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

/// How many sessions named `application_name` are connected to this database: the nodes, as
/// each keeps one listening session.
pub async fn sessions_named(pool: &Pool, application_name: &str) -> Result<i64, StoreError> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        sessions: i64,
    }
    let count: Count = with_connection(pool, async |conn| {
        Ok(diesel::sql_query(
            "SELECT count(*) AS sessions FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1",
        )
        .bind::<Text, _>(application_name)
        .load_one(conn)
        .await?)
    })
    .await?;
    Ok(count.sessions)
}
