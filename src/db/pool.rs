//! The async connection pool and the embedded migrations.
//!
//! Handlers use diesel-async over a deadpool pool, so no request ever blocks an executor thread
//! on I/O; a request waits for a connection at most the acquire timeout, then gets a 503.
//!
//! Every pool handle carries a `Scope`: the site whose rows its calls may see. PostgreSQL's
//! row-level security enforces it (see the `sites` migration); `bind` tells the connection.

use std::time::Duration;

use diesel::Connection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;

use crate::domain::site::SiteId;

type Connections = deadpool::managed::Pool<BindingManager>;
pub type PooledConnection = deadpool::managed::Object<BindingManager>;
pub type PoolError = deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>;

/// Whose rows the calls made through a pool handle see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// No site: row-level security shows nothing and refuses every insert. What a handle that
    /// was never given a site gets, so a forgotten binding fails instead of leaking.
    Unbound,
    /// One site's rows.
    Site(SiteId),
    /// Every site's rows: the webhook worker, retention, installation-wide requests.
    Installation,
}

impl Scope {
    /// The value of `marginalia.site` the policies compare each row's `site_id` with.
    fn setting(&self) -> &str {
        match self {
            Self::Unbound => "",
            Self::Site(site) => site.as_str(),
            Self::Installation => "*",
        }
    }
}

/// A pooled connection and the `marginalia.site` it was last bound to, so that a connection
/// serving the same site again costs no extra round trip.
pub struct BoundConnection {
    connection: AsyncPgConnection,
    bound_to: Option<String>,
}

impl std::ops::Deref for BoundConnection {
    type Target = AsyncPgConnection;

    fn deref(&self) -> &AsyncPgConnection {
        &self.connection
    }
}

impl std::ops::DerefMut for BoundConnection {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.connection
    }
}

impl BoundConnection {
    pub fn connection(&mut self) -> &mut AsyncPgConnection {
        &mut self.connection
    }

    /// Sets `marginalia.site` for the session when the connection serves another scope than
    /// last time (outside any transaction, so a rollback of the caller's work keeps it).
    ///
    /// Pipelined: the setting is sent ahead of the caller's first statement and its answer is not
    /// awaited, so changing sites costs no round trip (PostgreSQL runs a connection's statements
    /// in order; tokio-postgres reads and drops the answer). Should the server refuse it all the
    /// same, the connection keeps its previous site and the caller's statements, which name their
    /// site besides, find nothing and write nothing (the policies check new rows too).
    pub fn bind(&mut self, scope: &Scope) -> diesel::QueryResult<()> {
        use diesel_async::SimpleAsyncConnection;
        use futures_util::FutureExt;
        let setting = scope.setting();
        if self.bound_to.as_deref() == Some(setting) {
            return Ok(());
        }
        self.bound_to = None;
        // A site id is a slug (`SiteId`), `*` or empty: nothing to escape in a literal.
        // SET, a utility statement, skips the planner and executor a SELECT would go through.
        let statement = format!("SET marginalia.site = '{setting}'");
        let mut shared = &self.connection;
        if let Some(Err(error)) = shared.batch_execute(&statement).now_or_never() {
            return Err(error);
        }
        self.bound_to = Some(setting.to_owned());
        Ok(())
    }
}

/// diesel-async's connection manager, handing out `BoundConnection`s.
pub struct BindingManager(AsyncDieselConnectionManager<AsyncPgConnection>);

impl deadpool::managed::Manager for BindingManager {
    type Type = BoundConnection;
    type Error = diesel_async::pooled_connection::PoolError;

    async fn create(&self) -> Result<BoundConnection, Self::Error> {
        Ok(BoundConnection {
            connection: self.0.create().await?,
            bound_to: None,
        })
    }

    async fn recycle(
        &self,
        bound: &mut BoundConnection,
        metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Self::Error> {
        self.0.recycle(&mut bound.connection, metrics).await
    }
}

/// How much longer than the statement timeout a database call may take before the client gives
/// up on it: PostgreSQL enforces the statement timeout itself, so a frozen or unreachable server
/// never reports it, and only a client-side deadline bounds a request.
const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// The connection pool, the deadline every database call is held to, and the scope its calls
/// run in. Cloning is cheap: handles of every scope share the connections.
#[derive(Clone)]
pub struct Pool {
    connections: Connections,
    statement_timeout: Duration,
    scope: Scope,
}

impl Pool {
    /// A handle whose calls see `site`'s rows only.
    pub fn site(&self, site: &SiteId) -> Self {
        self.scoped(Scope::Site(site.clone()))
    }

    /// A handle whose calls see every site's rows.
    pub fn installation(&self) -> Self {
        self.scoped(Scope::Installation)
    }

    /// A handle whose calls see nothing (see `Scope::Unbound`).
    pub fn unbound(&self) -> Self {
        self.scoped(Scope::Unbound)
    }

    fn scoped(&self, scope: Scope) -> Self {
        Self {
            connections: self.connections.clone(),
            statement_timeout: self.statement_timeout,
            scope,
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

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

/// Builds the pool, unbound (see `Scope::Unbound`); connections are opened lazily, so this
/// succeeds while the database is down and the service recovers by itself once it is back.
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
                "SET statement_timeout = {statement_timeout_ms}; SET application_name = 'marginalia'; \
                 {WORK_AS_APPLICATION_ROLE}"
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = BindingManager(AsyncDieselConnectionManager::new_with_config(
        database_url,
        config,
    ));
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
        scope: Scope::Unbound,
    })
}

/// Superusers and roles with BYPASSRLS are not held by row-level security: connected as one (the
/// embedded cluster's `postgres`), the service works as `marginalia_app`, which the `sites`
/// migration creates. Any other role is held by the forced policies as it is.
const WORK_AS_APPLICATION_ROLE: &str = "DO $$ BEGIN \
     IF (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) THEN \
     SET ROLE marginalia_app; END IF; END $$";

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
