//! Every SQL statement the service runs, one module per table group.

mod answer;
pub mod api_keys;
pub mod articles;
pub mod counters;
pub mod data_rights;
pub mod idempotency;
pub mod imports;
pub mod live;
pub mod mail;
pub mod moderation;
pub mod notifications;
pub mod outbox;
mod pages;
pub mod queue;
pub mod rate_limits;
pub mod reactions;
pub mod readers;
pub mod replication;
pub mod reviews;
pub mod site_secrets;
pub mod sites;
mod sql;
pub mod stats;
pub mod webhook_endpoints;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::AsyncPgConnection;

use crate::db::pool::{Pool, PoolError, PooledConnection, Scope};
use crate::metrics::{self, DbErrorKind};

/// Why a storage call failed, in terms the API can answer with. Cloneable so that concurrent
/// readers sharing one cached read can each get its error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL is down, restarting, overloaded, stalled or unreachable: worth retrying later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("no such article")]
    ArticleNotFound,
    #[error("reviews are closed for this article")]
    ReviewsClosed,
    #[error("the article is unpublished")]
    ArticleUnpublished,
    /// A deleted or erased review takes no reply.
    #[error("the review is deleted")]
    ReviewDeleted,
    /// A retried submission's review was erased since its first answer.
    #[error("the review of this idempotency key was erased")]
    ReviewErased,
    /// The first request with this idempotency key has not been answered yet.
    #[error("a request with this idempotency key is in progress")]
    RequestInProgress,
    /// The reader has a review of the article already, where the site takes one per reader.
    #[error("the reader has a review of this article already")]
    ReaderReviewedArticle,
    /// There are `webhook_endpoints::MAX_ENDPOINTS` endpoints already.
    #[error("too many webhook endpoints")]
    EndpointLimit,
    /// Items of the caller's list that do not exist, by position; nothing was changed.
    #[error("{} of the items do not exist", .0.len())]
    UnknownItems(Vec<RefusedItem>),
    /// Items of the caller's list that cannot take the change, by position; nothing was changed.
    #[error("{} of the items cannot take the change", .0.len())]
    ConflictingItems(Vec<RefusedItem>),
    #[error("no such review")]
    ReviewNotFound,
    #[error("the edit token does not match")]
    WrongEditToken,
    #[error("the edit window has closed")]
    EditWindowClosed,
    #[error("the idempotency key was used with another request")]
    IdempotencyKeyReused,
    /// An answer the code did not expect: a bug, or a schema out of step with the code.
    #[error("database error: {0}")]
    Query(#[source] Arc<DieselError>),
    /// A call that works on one site's rows was given a handle bound to no single site: a bug.
    #[error("a call for one site was made through a handle bound to {0:?}")]
    Unscoped(Scope),
}

/// One item of a list a call was given that it refused: its position in that list and why. The
/// caller, which knows what the list is called, names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedItem {
    pub index: usize,
    pub reason: String,
}

impl From<DieselError> for StoreError {
    /// Classifies by error kind, never by message text (which a server may localize): a lost
    /// connection is an outage; everything else is a query error until `within` learns more.
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            // Two submissions of one reader to one article at once, where the site takes one:
            // the second is refused as the check before it would have refused it.
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
                if info.constraint_name() == Some(ONE_REVIEW_PER_READER) =>
            {
                Self::ReaderReviewedArticle
            }
            DieselError::BrokenTransactionManager => {
                Self::Unavailable("the connection was lost inside a transaction".into())
            }
            _ => Self::Query(Arc::new(error)),
        }
    }
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// The unique index that holds one review per reader and article.
const ONE_REVIEW_PER_READER: &str = "reviews_one_per_reader";

/// The site a call for one site works on, named in its own conditions and keys (the policies
/// hold the same line underneath).
fn site_of(pool: &Pool) -> Result<&str, StoreError> {
    match pool.scope() {
        Scope::Site(site) => Ok(site.as_str()),
        other => Err(StoreError::Unscoped(other.clone())),
    }
}

/// The site a handle's explicit conditions name: its own for a site's handle, none (every
/// site's rows) for the installation's. For the few reads an installation admin makes across
/// sites; everything else uses `site_of`.
fn sites_of(pool: &Pool) -> Result<Option<&str>, StoreError> {
    match pool.scope() {
        Scope::Site(site) => Ok(Some(site.as_str())),
        Scope::Installation => Ok(None),
        Scope::Unbound => Err(StoreError::Unscoped(Scope::Unbound)),
    }
}

/// Takes a connection from the pool, waiting at most the pool's acquire timeout, bound to the
/// pool's scope.
pub async fn connection(pool: &Pool) -> Result<PooledConnection, StoreError> {
    let mut conn = pool.get().await?;
    conn.bind(pool.scope())?;
    Ok(conn)
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
    let Ok(acquired) = tokio::time::timeout(deadline, pool.get()).await else {
        metrics::record_db_error(DbErrorKind::Timeout);
        return Err(late());
    };
    let mut conn = acquired.map_err(StoreError::from).inspect_err(record)?;
    let remaining = deadline.saturating_sub(started.elapsed());
    let bound_work = async {
        conn.bind(pool.scope())?;
        work(conn.connection()).await
    };
    match tokio::time::timeout(remaining, bound_work).await {
        Ok(Err(StoreError::Query(error)))
            if is_outage(&error, &mut conn, pool, started, deadline).await =>
        {
            metrics::record_db_error(DbErrorKind::Unavailable);
            Err(StoreError::Unavailable(error.to_string()))
        }
        Ok(result) => result.inspect_err(record),
        Err(_) => {
            conn.discard();
            metrics::record_db_error(DbErrorKind::Timeout);
            Err(late())
        }
    }
}

/// Whether a server error means the database, not the statement, failed. Decided by the
/// connection's state and behaviour, never by message text (which servers localize): the server
/// closed the connection with the error (shut down, crashed, terminated the backend), the error
/// came once the statement timeout had passed (the server cancelled the statement), or the same
/// connection can no longer answer `SELECT 1`. The probe costs a round trip on error paths only.
async fn is_outage(
    error: &DieselError,
    conn: &mut PooledConnection,
    pool: &Pool,
    started: Instant,
    deadline: Duration,
) -> bool {
    use answer::LoadOne;
    use diesel_async::pooled_connection::PoolableConnection;
    if !matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, _)
    ) {
        return false;
    }
    if PoolableConnection::is_broken(conn.connection())
        || started.elapsed() >= pool.statement_timeout()
    {
        return true;
    }
    let probe = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
        .load_one(conn.connection());
    let remaining = deadline.saturating_sub(started.elapsed());
    !matches!(tokio::time::timeout(remaining, probe).await, Ok(Ok(1)))
}

fn record(error: &StoreError) {
    match error {
        StoreError::Unavailable(_) => metrics::record_db_error(DbErrorKind::Unavailable),
        StoreError::Query(_) | StoreError::Unscoped(_) => {
            metrics::record_db_error(DbErrorKind::Query)
        }
        StoreError::ArticleNotFound
        | StoreError::ReviewsClosed
        | StoreError::ArticleUnpublished
        | StoreError::ReviewDeleted
        | StoreError::ReviewErased
        | StoreError::RequestInProgress
        | StoreError::EndpointLimit
        | StoreError::ReaderReviewedArticle
        | StoreError::UnknownItems(_)
        | StoreError::ConflictingItems(_)
        | StoreError::ReviewNotFound
        | StoreError::WrongEditToken
        | StoreError::EditWindowClosed
        | StoreError::IdempotencyKeyReused => {}
    }
}

/// Longest a readiness probe waits: orchestrators expect a prompt answer either way.
const PING_DEADLINE: Duration = Duration::from_millis(900);

/// Runs `SELECT 1`, for readiness checks; answers within a second either way.
pub async fn ping(pool: &Pool) -> Result<(), StoreError> {
    use answer::LoadOne;
    within(PING_DEADLINE.min(pool.deadline()), pool, async |conn| {
        let _one: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
            .load_one(conn)
            .await?;
        Ok(())
    })
    .await
}
