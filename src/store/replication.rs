//! Where the primary's write-ahead log stands and how far a replica has replayed it.

use diesel::sql_types::{Nullable, Text};

use super::answer::LoadOne;
use super::{with_connection, StoreError};
use crate::db::Pool;
use crate::domain::position::Position;

#[derive(diesel::QueryableByName)]
struct At {
    #[diesel(sql_type = Nullable<Text>)]
    position: Option<String>,
}

async fn position(pool: &Pool, sql: &'static str) -> Result<Option<Position>, StoreError> {
    let at: At = with_connection(pool, async |conn| {
        Ok(diesel::sql_query(sql).load_one(conn).await?)
    })
    .await?;
    Ok(at.position.as_deref().and_then(Position::parse))
}

/// The primary's WAL position now: every commit that returned before this call is at or before
/// it. `None` only if the server answered something unreadable (or is itself in recovery).
pub async fn primary_position(pool: &Pool) -> Result<Option<Position>, StoreError> {
    position(
        pool,
        "SELECT CASE WHEN pg_is_in_recovery() THEN NULL \
         ELSE pg_current_wal_lsn()::text END AS position",
    )
    .await
}

/// How far a replica has replayed; `None` when the server is not in recovery (a primary, or a
/// promoted standby).
pub async fn replayed_position(pool: &Pool) -> Result<Option<Position>, StoreError> {
    // A promoted standby still reports the last position it replayed: ask whether it recovers.
    position(
        pool,
        "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END AS position",
    )
    .await
}
