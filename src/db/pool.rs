//! The async connection pool and the embedded migrations.
//!
//! Handlers use diesel-async over a deadpool pool, so no request ever blocks an executor thread
//! on I/O; a request waits for a connection at most the acquire timeout, then gets a 503.
//!
//! Every pool handle carries a `Scope`: the site whose rows its calls may see. PostgreSQL's
//! row-level security enforces it (see the `sites` migration); `bind` tells the connection.
//!
//! A connection given back while nobody waits is kept apart with the other idle connections of
//! the site it is bound to (`Parking`), so the next request of that site takes one that needs no
//! rebinding; a request of a site with none takes a new connection while the pool may open one,
//! else rebinds the most recently used idle connection of another site. (Rebinding first and
//! opening only when nothing is idle keeps fewer backends busy, but measured slower: a rebind on
//! most requests costs more than the extra backends.)
//!
//! When every connection is in use, callers wait in `Parking`'s own queue, and a connection given
//! back goes to the oldest waiter of its own site, so that a saturated pool serving several sites
//! does not rebind on most requests; the oldest waiter of any site goes first once it has waited
//! `SAME_SITE_PREFERENCE`, so no site starves behind a busier one.
//!
//! A request pool is split into one shard per HTTP worker thread (`PoolOptions::shards`): a
//! worker takes its own shard's connections, which it opened, so tokio-postgres drives each of
//! them on the thread that uses it. A connection used from another thread costs a cross-thread
//! wake-up for every statement and its answer (12-15 % of an uncached page's CPU, measured in
//! docs/benchmarks.md). Threads that are no worker's (background tasks, tests) take any shard's
//! connection.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

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
type Checkout = deadpool::managed::Object<BindingManager>;
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

/// How long a waiter of another site may be passed over for a waiter of the returning
/// connection's site. Longer than a waiter of a saturated pool usually waits (a few milliseconds
/// measured), so the preference holds under load; short next to the acquire timeout.
const SAME_SITE_PREFERENCE: Duration = Duration::from_millis(20);

/// Idle connections kept by the site they are bound to, out of deadpool's queue, and the callers
/// waiting for one.
#[derive(Default)]
struct Parking {
    idle: Mutex<Parked>,
}

#[derive(Default)]
struct Parked {
    /// By `marginalia.site` value, each with when it was parked; the most recently parked last.
    /// A site without idle connections has no entry, so a search visits at most as many sites
    /// as there are idle connections.
    by_site: HashMap<String, Vec<(u64, Checkout)>>,
    /// Orders the parked connections across sites.
    parked_so_far: u64,
    /// Callers waiting for a connection, oldest first (some may have given up: their receiver
    /// is gone, and they are skipped).
    waiters: VecDeque<Waiter>,
}

/// A caller waiting for a connection.
struct Waiter {
    site: String,
    since: Instant,
    hand: oneshot::Sender<Handoff>,
}

/// What a waiter is woken with: a connection given back, or none when one went back to
/// deadpool (closed, or never bound), which the waiter then asks.
type Handoff = Option<Checkout>;

impl Parking {
    fn lock(&self) -> std::sync::MutexGuard<'_, Parked> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An idle connection bound to `site`.
    fn take(&self, site: &str) -> Option<Checkout> {
        self.lock().take_from(site)
    }

    /// An idle connection bound to `site`, else the most recently used of another site; with
    /// none, queues the caller. Decided under the one lock, so a connection given back after
    /// it goes to a waiter.
    fn take_or_wait(&self, site: &str) -> Result<Checkout, oneshot::Receiver<Handoff>> {
        let mut parked = self.lock();
        if let Some(checkout) = parked.take_for(site) {
            return Ok(checkout);
        }
        parked.waiters.retain(|waiter| !waiter.hand.is_closed());
        let (hand, receiver) = oneshot::channel();
        parked.waiters.push_back(Waiter {
            site: site.to_owned(),
            since: Instant::now(),
            hand,
        });
        Err(receiver)
    }

    /// Gives `checkout` to a waiter (see `next_waiter`), or keeps it with its site's idle
    /// connections when nobody waits.
    fn park(&self, site: String, mut checkout: Checkout) {
        let mut parked = self.lock();
        while let Some(index) = next_waiter(&parked.waiters, &site, Instant::now()) {
            let Some(waiter) = parked.waiters.remove(index) else {
                break;
            };
            // A waiter that gave up hands the connection back, for the next one.
            match waiter.hand.send(Some(checkout)) {
                Ok(()) | Err(None) => return,
                Err(Some(back)) => checkout = back,
            }
        }
        parked.parked_so_far += 1;
        let stamp = parked.parked_so_far;
        parked
            .by_site
            .entry(site)
            .or_default()
            .push((stamp, checkout));
    }

    /// A connection went back to deadpool (to be closed, or never bound to a site): the oldest
    /// waiter asks deadpool, which now has it or may open another in its place.
    fn went_to_deadpool(&self) {
        let mut parked = self.lock();
        while let Some(waiter) = parked.waiters.pop_front() {
            if waiter.hand.send(None).is_ok() {
                return;
            }
        }
    }

    fn count(&self) -> usize {
        self.lock().by_site.values().map(Vec::len).sum()
    }

    fn waiting(&self) -> usize {
        let parked = self.lock();
        parked
            .waiters
            .iter()
            .filter(|waiter| !waiter.hand.is_closed())
            .count()
    }
}

/// Which waiter a connection bound to `site` goes to: the oldest, once it has waited
/// `SAME_SITE_PREFERENCE`; else the oldest of `site`; else the oldest. Waiters that gave up
/// count as absent.
fn next_waiter(waiters: &VecDeque<Waiter>, site: &str, now: Instant) -> Option<usize> {
    let mut live = waiters
        .iter()
        .enumerate()
        .filter(|(_, waiter)| !waiter.hand.is_closed());
    let (oldest, first) = live.next()?;
    if first.site == site || now.duration_since(first.since) >= SAME_SITE_PREFERENCE {
        return Some(oldest);
    }
    Some(
        live.find(|(_, waiter)| waiter.site == site)
            .map_or(oldest, |(index, _)| index),
    )
}

impl Parked {
    fn take_for(&mut self, site: &str) -> Option<Checkout> {
        if self.by_site.contains_key(site) {
            return self.take_from(site);
        }
        let most_recent = self
            .by_site
            .iter()
            .filter_map(|(site, idle)| Some((idle.last()?.0, site)))
            .max()
            .map(|(_, site)| site.clone())?;
        self.take_from(&most_recent)
    }

    fn take_from(&mut self, site: &str) -> Option<Checkout> {
        let idle = self.by_site.get_mut(site)?;
        let (_, checkout) = idle.pop()?;
        if idle.is_empty() {
            self.by_site.remove(site);
        }
        Some(checkout)
    }
}

/// A connection taken from the pool. Dropped, it goes to a waiter or back to its site's idle
/// connections (or, when it is broken, to deadpool, whose recycling closes it).
pub struct PooledConnection {
    checkout: Option<Checkout>,
    parking: Arc<Parking>,
}

impl PooledConnection {
    fn new(checkout: Checkout, parking: &Arc<Parking>) -> Self {
        Self {
            checkout: Some(checkout),
            parking: parking.clone(),
        }
    }

    fn bound(&self) -> &BoundConnection {
        self.checkout
            .as_deref()
            .unwrap_or_else(|| unreachable!("taken only by drop and discard"))
    }

    fn bound_mut(&mut self) -> &mut BoundConnection {
        self.checkout
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("taken only by drop and discard"))
    }

    /// Closes the connection instead of reusing it (it may still be waiting for a frozen
    /// server).
    pub fn discard(mut self) {
        if let Some(checkout) = self.checkout.take() {
            drop(deadpool::managed::Object::take(checkout));
            self.parking.went_to_deadpool();
        }
    }
}

impl std::ops::Deref for PooledConnection {
    type Target = BoundConnection;

    fn deref(&self) -> &BoundConnection {
        self.bound()
    }
}

impl std::ops::DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut BoundConnection {
        self.bound_mut()
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        use diesel_async::pooled_connection::PoolableConnection;
        let Some(mut checkout) = self.checkout.take() else {
            return;
        };
        if PoolableConnection::is_broken(&mut checkout.connection) {
            drop(checkout);
            self.parking.went_to_deadpool();
            return;
        }
        match checkout.bound_to.clone() {
            Some(site) => self.parking.park(site, checkout),
            // Never bound (never used): back to deadpool, for whoever asks it next.
            None => {
                drop(checkout);
                self.parking.went_to_deadpool();
            }
        }
    }
}

/// How much longer than the statement timeout a database call may take before the client gives
/// up on it: PostgreSQL enforces the statement timeout itself, so a frozen or unreachable server
/// never reports it, and only a client-side deadline bounds a request.
const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

thread_local! {
    /// The HTTP worker this thread is (see `serve_from_this_thread`); `None` on other threads.
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Tells every pool that this thread is HTTP worker `worker` (counted from 0): its callers then
/// take the connections of shard `worker % shards`. Called by each worker thread as it starts.
pub fn serve_from_this_thread(worker: usize) {
    WORKER.set(Some(worker));
}

/// Where callers that are no worker's begin their search, turning so that they spread.
static NEXT_UNPINNED: AtomicUsize = AtomicUsize::new(0);

/// A worker's share of the pool: its connections and the idle ones parked by site.
struct Shard {
    connections: Connections,
    parking: Arc<Parking>,
}

impl Shard {
    /// A parked connection for `site` that is not broken (broken ones go back to deadpool,
    /// whose recycling closes them).
    fn parked(&self, site: &str) -> Option<PooledConnection> {
        use diesel_async::pooled_connection::PoolableConnection;
        while let Some(mut checkout) = self.parking.take(site) {
            if !PoolableConnection::is_broken(&mut checkout.connection) {
                return Some(PooledConnection::new(checkout, &self.parking));
            }
            drop(checkout);
            self.parking.went_to_deadpool();
        }
        None
    }

    /// An idle or new connection from deadpool, without waiting for one in use (`None` when
    /// the shard is full).
    async fn idle_or_new(
        &self,
        without_waiting: &deadpool::managed::Timeouts,
    ) -> Result<Option<PooledConnection>, PoolError> {
        use deadpool::managed::{PoolError, TimeoutType};
        match self.connections.timeout_get(without_waiting).await {
            Ok(checkout) => Ok(Some(PooledConnection::new(checkout, &self.parking))),
            Err(PoolError::Timeout(TimeoutType::Wait)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// A connection of this shard given back before `deadline`: the most recently used idle
    /// one of another site (rebound by `bind`), else the next one given back to the queue of
    /// waiters, else one deadpool has again (a connection closed, or given back unbound).
    async fn wait(
        &self,
        site: &str,
        deadline: Instant,
        without_waiting: &deadpool::managed::Timeouts,
    ) -> Result<PooledConnection, PoolError> {
        loop {
            let receiver = match self.parking.take_or_wait(site) {
                Ok(checkout) => return Ok(PooledConnection::new(checkout, &self.parking)),
                Err(receiver) => receiver,
            };
            match tokio::time::timeout_at(deadline, receiver).await {
                Ok(Ok(Some(checkout))) => {
                    return Ok(PooledConnection::new(checkout, &self.parking))
                }
                // Deadpool may have one now: ask it.
                Ok(Ok(None) | Err(_)) => {
                    if let Some(connection) = self.idle_or_new(without_waiting).await? {
                        return Ok(connection);
                    }
                }
                Err(_elapsed) => {
                    return Err(PoolError::Timeout(deadpool::managed::TimeoutType::Wait))
                }
            }
        }
    }
}

/// The connection pool, the deadline every database call is held to, and the scope its calls
/// run in. Cloning is cheap: handles of every scope share the connections.
#[derive(Clone)]
pub struct Pool {
    shards: Arc<[Shard]>,
    /// deadpool's timeouts for a checkout that does not wait for a connection in use.
    without_waiting: deadpool::managed::Timeouts,
    /// Longest a caller waits for a connection in use.
    acquire_timeout: Duration,
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
            shards: self.shards.clone(),
            without_waiting: self.without_waiting,
            acquire_timeout: self.acquire_timeout,
            statement_timeout: self.statement_timeout,
            scope,
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// A connection, waiting at most the acquire timeout. A worker's caller takes an idle one of
    /// its shard bound to this handle's site, else an idle or new one of its shard, else an idle
    /// one of another shard bound to the site (driven by another thread, but better than
    /// waiting); it opens none in another shard, whose worker would then use a connection
    /// driven elsewhere. Any other caller takes the first idle (bound to the site first) or new
    /// connection of any shard. Then both wait for their shard's (see `Shard::wait`).
    pub async fn get(&self) -> Result<PooledConnection, PoolError> {
        let site = self.scope.setting();
        let count = self.shards.len();
        let (first, worker) = match WORKER.get() {
            Some(worker) => (worker % count, true),
            None => (NEXT_UNPINNED.fetch_add(1, Ordering::Relaxed) % count, false),
        };
        let in_turn = || (0..count).map(|offset| &self.shards[(first + offset) % count]);
        let mine = &self.shards[first];
        if worker {
            if let Some(connection) = mine.parked(site) {
                return Ok(connection);
            }
            if let Some(connection) = mine.idle_or_new(&self.without_waiting).await? {
                return Ok(connection);
            }
            if let Some(connection) = in_turn().skip(1).find_map(|shard| shard.parked(site)) {
                return Ok(connection);
            }
        } else {
            for shard in in_turn() {
                if let Some(connection) = shard.parked(site) {
                    return Ok(connection);
                }
                if let Some(connection) = shard.idle_or_new(&self.without_waiting).await? {
                    return Ok(connection);
                }
            }
        }
        let deadline = Instant::now() + self.acquire_timeout;
        mine.wait(site, deadline, &self.without_waiting).await
    }

    /// Longest one database call (acquiring a connection included) may take.
    pub fn deadline(&self) -> Duration {
        self.statement_timeout + DEADLINE_MARGIN
    }

    /// Longest PostgreSQL lets one statement run.
    pub fn statement_timeout(&self) -> Duration {
        self.statement_timeout
    }

    /// Connections open, idle (in deadpool or parked by site) and awaited, over every shard, for
    /// metrics.
    pub fn status(&self) -> deadpool::Status {
        let mut total = deadpool::Status {
            max_size: 0,
            size: 0,
            available: 0,
            waiting: 0,
        };
        for shard in self.shards.iter() {
            let status = shard.connections.status();
            total.max_size += status.max_size;
            total.size += status.size;
            total.available += status.available + shard.parking.count();
            total.waiting += status.waiting + shard.parking.waiting();
        }
        total
    }
}

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Pool sizing and time limits.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Connections over all shards.
    pub max_size: usize,
    /// How many shards the connections are split into: one per HTTP worker for the requests'
    /// pools (see the module's documentation), one for a background task's. Never more than
    /// `max_size`: each shard has a connection at least.
    pub shards: usize,
    /// Longest a caller waits for a free or new connection.
    pub acquire_timeout: Duration,
    /// Longest one statement may run before PostgreSQL cancels it.
    pub statement_timeout: Duration,
}

/// How each connection is opened: with the statement timeout, the application name and the
/// application role.
fn manager_config(statement_timeout: Duration) -> ManagerConfig<AsyncPgConnection> {
    let statement_timeout_ms = statement_timeout.as_millis();
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
    config
}

/// Builds the pool, unbound (see `Scope::Unbound`); connections are opened lazily, so this
/// succeeds while the database is down and the service recovers by itself once it is back.
pub fn build_pool(
    database_url: &str,
    options: PoolOptions,
) -> Result<Pool, deadpool::managed::BuildError> {
    let count = options.shards.clamp(1, options.max_size.max(1));
    let shards = (0..count)
        .map(|index| {
            // max_size split as evenly as it goes: the first shards take one more.
            let size = options.max_size / count + usize::from(index < options.max_size % count);
            let manager = BindingManager(AsyncDieselConnectionManager::new_with_config(
                database_url,
                manager_config(options.statement_timeout),
            ));
            let connections = Connections::builder(manager)
                .max_size(size.max(1))
                .create_timeout(Some(options.acquire_timeout))
                .recycle_timeout(Some(options.acquire_timeout))
                .runtime(deadpool::Runtime::Tokio1)
                .build()?;
            Ok(Shard {
                connections,
                parking: Arc::default(),
            })
        })
        .collect::<Result<Arc<[Shard]>, deadpool::managed::BuildError>>()?;
    Ok(Pool {
        shards,
        without_waiting: deadpool::managed::Timeouts {
            wait: Some(Duration::ZERO),
            create: Some(options.acquire_timeout),
            recycle: Some(options.acquire_timeout),
        },
        acquire_timeout: options.acquire_timeout,
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

/// The advisory lock key migrations run under ("mrgnlmig" in ASCII), the same on every node.
const MIGRATION_LOCK: i64 = 0x6d72_676e_6c6d_6967;

/// Takes the migration lock if free; it is released when the connection closes, whatever happens.
fn try_migration_lock(
    conn: &mut AsyncConnectionWrapper<AsyncPgConnection>,
) -> Result<bool, MigrationError> {
    #[derive(diesel::QueryableByName)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        taken: bool,
    }
    use diesel::RunQueryDsl as _;
    let taken: Taken = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS taken")
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
        .get_result(conn)
        .map_err(|e: diesel::result::Error| {
            MigrationError::Apply(format!("taking the migration lock: {e}"))
        })?;
    Ok(taken.taken)
}

/// Applies every migration not yet applied; returns the versions it applied.
///
/// Several nodes starting at once migrate one at a time: each holds a session-level advisory lock
/// while it looks for pending migrations, so the first applies them and the others, waiting for
/// the lock, find nothing left to do. Nodes already serving are not held up (the lock is not a
/// table lock), which is why migrations are written expand/contract (see docs/deployment.md).
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, MigrationError> {
    let url = database_url.to_owned();
    // diesel's migration runner is synchronous: give it a blocking thread of its own.
    tokio::task::spawn_blocking(move || {
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)?;
        // Released when the connection closes at the end of this block, whatever happens.
        // Tried rather than waited for: a session waiting inside pg_advisory_lock holds a
        // snapshot, which a `CREATE INDEX CONCURRENTLY` of the node migrating would wait for.
        while !try_migration_lock(&mut conn)? {
            std::thread::sleep(Duration::from_millis(200));
        }
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| MigrationError::Apply(e.to_string()))?;
        Ok(applied.iter().map(ToString::to_string).collect())
    })
    .await
    .map_err(|e| MigrationError::Apply(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(
        waiting: &[(&str, u64)],
        now: Instant,
    ) -> (VecDeque<Waiter>, Vec<oneshot::Receiver<Handoff>>) {
        let mut receivers = Vec::new();
        let waiters = waiting
            .iter()
            .map(|(site, waited_ms)| {
                let (hand, receiver) = oneshot::channel();
                receivers.push(receiver);
                Waiter {
                    site: (*site).to_owned(),
                    since: now - Duration::from_millis(*waited_ms),
                    hand,
                }
            })
            .collect();
        (waiters, receivers)
    }

    #[test]
    fn a_connection_goes_to_the_oldest_waiter_of_its_site() {
        let now = Instant::now();
        let (waiters, _receivers) = queue(&[("uk", 5), ("fa", 4), ("uk", 3), ("fa", 1)], now);
        assert_eq!(next_waiter(&waiters, "fa", now), Some(1));
        assert_eq!(next_waiter(&waiters, "uk", now), Some(0));
        assert_eq!(
            next_waiter(&waiters, "ru", now),
            Some(0),
            "no waiter of its site: the oldest"
        );
    }

    #[test]
    fn the_oldest_waiter_goes_first_once_it_has_waited_long_enough() {
        let now = Instant::now();
        let long = SAME_SITE_PREFERENCE.as_millis() as u64;
        let (waiters, _receivers) = queue(&[("uk", long), ("fa", 1)], now);
        assert_eq!(next_waiter(&waiters, "fa", now), Some(0));
    }

    #[test]
    fn waiters_that_gave_up_are_passed_over() {
        let now = Instant::now();
        let (waiters, mut receivers) = queue(&[("uk", 5), ("fa", 4), ("uk", 3)], now);
        receivers[0].close();
        assert_eq!(next_waiter(&waiters, "fa", now), Some(1));
        assert_eq!(next_waiter(&waiters, "uk", now), Some(2));
        receivers[1].close();
        receivers[2].close();
        assert_eq!(next_waiter(&waiters, "uk", now), None);
    }
}
