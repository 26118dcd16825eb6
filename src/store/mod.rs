//! Every SQL statement the service runs, one module per table group.

pub mod api_keys;
pub mod articles;
pub mod reviews;
mod sql;
pub mod stats;

use std::time::{Duration, Instant};

use deadpool::managed::Object;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::AsyncPgConnection;

use crate::db::pool::{Pool, PoolError, PooledConnection};
use crate::metrics::{self, DbErrorKind};

/// Why a storage call failed, in terms the API can answer with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL is down, restarting, overloaded or unreachable: worth retrying later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("no such article")]
    ArticleNotFound,
    #[error("reviews are closed for this article")]
    ReviewsClosed,
    #[error("database error: {0}")]
    Query(DieselError),
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            DieselError::DatabaseError(_, info) if is_transient(info.message()) => {
                Self::Unavailable(info.message().to_owned())
            }
            DieselError::BrokenTransactionManager => {
                Self::Unavailable("the connection was lost inside a transaction".into())
            }
            _ => Self::Query(error),
        }
    }
}

/// Messages PostgreSQL sends when it is shutting down, restarting or cancelling for time.
fn is_transient(message: &str) -> bool {
    const TRANSIENT: &[&str] = &[
        "terminating connection",
        "canceling statement due to statement timeout",
        "the database system is starting up",
        "the database system is shutting down",
        "the database system is in recovery mode",
        "connection closed",
        "too many clients",
    ];
    TRANSIENT.iter().any(|needle| message.contains(needle))
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// Takes a connection from the pool, waiting at most the pool's acquire timeout.
pub async fn connection(pool: &Pool) -> Result<PooledConnection, StoreError> {
    Ok(pool.get().await?)
}

/// Runs `work` on a pooled connection within the pool's deadline.
pub(crate) async fn with_connection<T>(
    pool: &Pool,
    work: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    within(pool.deadline(), pool, work).await
}

/// Runs `work` on a pooled connection, giving up after `deadline` (waiting for the connection
/// included). A connection whose statement did not answer in time is taken out of the pool and
/// closed: it may still be waiting for a frozen server, and the next request must not queue
/// behind it.
async fn within<T>(
    deadline: Duration,
    pool: &Pool,
    work: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let late = || {
        StoreError::Unavailable(format!(
            "no answer from the database within {} ms",
            deadline.as_millis()
        ))
    };
    let Ok(acquired) = tokio::time::timeout(deadline, connection(pool)).await else {
        metrics::record_db_error(DbErrorKind::Timeout);
        return Err(late());
    };
    let mut conn = acquired.inspect_err(record)?;
    let remaining = deadline.saturating_sub(started.elapsed());
    match tokio::time::timeout(remaining, work(&mut conn)).await {
        Ok(result) => result.inspect_err(record),
        Err(_) => {
            drop(Object::take(conn));
            metrics::record_db_error(DbErrorKind::Timeout);
            Err(late())
        }
    }
}

fn record(error: &StoreError) {
    match error {
        StoreError::Unavailable(_) => metrics::record_db_error(DbErrorKind::Unavailable),
        StoreError::Query(_) => metrics::record_db_error(DbErrorKind::Query),
        StoreError::ArticleNotFound | StoreError::ReviewsClosed => {}
    }
}

/// Longest a readiness probe waits: orchestrators expect a prompt answer either way.
const PING_DEADLINE: Duration = Duration::from_millis(900);

/// Runs `SELECT 1`, for readiness checks; answers within a second either way.
pub async fn ping(pool: &Pool) -> Result<(), StoreError> {
    use diesel_async::RunQueryDsl;
    within(PING_DEADLINE.min(pool.deadline()), pool, async |conn| {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
            .get_result::<i32>(conn)
            .await?;
        Ok(())
    })
    .await
}
