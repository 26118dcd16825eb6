//! Every SQL statement the service runs, one module per table group.

pub mod api_keys;
pub mod articles;
pub mod reviews;
mod sql;
pub mod stats;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::pool::{Pool, PooledConnection};

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

impl From<deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>> for StoreError {
    fn from(
        error: deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>,
    ) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// Takes a connection from the pool, waiting at most the pool's acquire timeout.
pub async fn connection(pool: &Pool) -> Result<PooledConnection, StoreError> {
    Ok(pool.get().await?)
}

/// Runs `SELECT 1`, for readiness checks.
pub async fn ping(pool: &Pool) -> Result<(), StoreError> {
    use diesel_async::RunQueryDsl;
    let mut conn = connection(pool).await?;
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
        .get_result::<i32>(&mut conn)
        .await?;
    Ok(())
}
