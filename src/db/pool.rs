//! The async connection pool and the embedded migrations.
//!
//! Handlers use diesel-async over a deadpool pool, so no request ever blocks an executor thread
//! on I/O; a request waits for a connection at most the acquire timeout, then gets a 503.

use std::time::Duration;

use diesel::Connection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;

type Connections = deadpool::managed::Pool<AsyncDieselConnectionManager<AsyncPgConnection>>;
pub type PooledConnection =
    deadpool::managed::Object<AsyncDieselConnectionManager<AsyncPgConnection>>;
pub type PoolError = deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>;

/// How much longer than the statement timeout a database call may take before the client gives
/// up on it: PostgreSQL enforces the statement timeout itself, so a frozen or unreachable server
/// never reports it, and only a client-side deadline bounds a request.
const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// The connection pool, and the deadline every database call is held to.
#[derive(Clone)]
pub struct Pool {
    connections: Connections,
    statement_timeout: Duration,
}

impl Pool {
    /// A connection, waiting at most the acquire timeout.
    pub async fn get(&self) -> Result<PooledConnection, PoolError> {
        self.connections.get().await
    }

    /// Longest one database call (acquiring a connection included) may take.
    pub fn deadline(&self) -> Duration {
        self.statement_timeout + DEADLINE_MARGIN
    }

    /// Longest PostgreSQL lets one statement run.
    pub fn statement_timeout(&self) -> Duration {
        self.statement_timeout
    }

    /// Connections open, idle and awaited, for metrics.
    pub fn status(&self) -> deadpool::Status {
        self.connections.status()
    }
}

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Pool sizing and time limits.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_size: usize,
    /// Longest a caller waits for a free or new connection.
    pub acquire_timeout: Duration,
    /// Longest one statement may run before PostgreSQL cancels it.
    pub statement_timeout: Duration,
}

/// Builds the pool; connections are opened lazily, so this succeeds while the database is down
/// and the service recovers by itself once it is back.
pub fn build_pool(
    database_url: &str,
    options: PoolOptions,
) -> Result<Pool, deadpool::managed::BuildError> {
    let statement_timeout_ms = options.statement_timeout.as_millis();
    let mut config = ManagerConfig::default();
    // No test query on every checkout (it would double the round trips of a simple read): a
    // connection the server closed reports itself closed and is dropped, and one that dies in
    // use fails that one request with a 503.
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            conn.batch_execute(&format!(
                "SET statement_timeout = {statement_timeout_ms}; SET application_name = 'marginalia'"
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::new_with_config(database_url, config);
    let connections = Connections::builder(manager)
        .max_size(options.max_size)
        .wait_timeout(Some(options.acquire_timeout))
        .create_timeout(Some(options.acquire_timeout))
        .recycle_timeout(Some(options.acquire_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    Ok(Pool {
        connections,
        statement_timeout: options.statement_timeout,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("could not connect to run migrations: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("migrations failed: {0}")]
    Apply(String),
}

/// Applies every migration not yet applied; returns the versions it applied.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, MigrationError> {
    let url = database_url.to_owned();
    // diesel's migration runner is synchronous: give it a blocking thread of its own.
    tokio::task::spawn_blocking(move || {
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| MigrationError::Apply(e.to_string()))?;
        Ok(applied.iter().map(ToString::to_string).collect())
    })
    .await
    .map_err(|e| MigrationError::Apply(e.to_string()))?
}
