//! What each CLI subcommand does; `main.rs` only parses arguments and calls these.

use std::net::TcpListener;
use std::time::Duration;

use crate::app::{self, ServerOptions};
use crate::auth::{self, Scope};
use crate::config::{Config, UnknownArticles};
use crate::db::embedded::{ClusterOptions, EmbeddedPostgres, StartOutcome};
use crate::db::{self, PoolOptions};
use crate::read_cache::ReadCache;
use crate::state::AppState;
use crate::store;

/// The database name inside the private cluster.
const EMBEDDED_DATABASE: &str = "marginalia";

pub type CommandResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A database to use: the configured server, or the private cluster this process started.
struct Database {
    url: String,
    /// The private cluster, and whether this process started it.
    embedded: Option<(EmbeddedPostgres, StartOutcome)>,
}

impl Database {
    async fn open(config: &Config) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if let Some(url) = &config.database_url {
            return Ok(Self {
                url: url.clone(),
                embedded: None,
            });
        }
        let cluster = EmbeddedPostgres::new(&config.data_dir)?;
        tracing::info!(pgdata = %cluster.pgdata().display(), "starting the private PostgreSQL cluster");
        let outcome = cluster.start(ClusterOptions { durable: true }).await?;
        if outcome == StartOutcome::AlreadyRunning {
            tracing::info!("the private cluster was already running; using it");
        }
        cluster.ensure_database(EMBEDDED_DATABASE).await?;
        Ok(Self {
            url: cluster.database_url(EMBEDDED_DATABASE),
            embedded: Some((cluster, outcome)),
        })
    }

    /// Stops the private cluster if `always` or if this process started it.
    async fn close(self, always: bool) {
        if let Some((cluster, outcome)) = self.embedded {
            if always || outcome == StartOutcome::Started {
                match cluster.stop().await {
                    Ok(()) => tracing::info!("stopped the private PostgreSQL cluster"),
                    Err(error) => tracing::error!(%error, "could not stop the private cluster"),
                }
            }
        }
    }

    fn pool(&self, config: &Config) -> Result<db::Pool, deadpool::managed::BuildError> {
        db::build_pool(
            &self.url,
            PoolOptions {
                max_size: config.db_pool_size as usize,
                acquire_timeout: config.db_acquire_timeout(),
                statement_timeout: Duration::from_millis(config.db_statement_timeout_ms),
            },
        )
    }
}

/// `marginalia serve`: migrate, then serve HTTP until SIGINT/SIGTERM; a private cluster is
/// stopped after the last request finished.
pub async fn serve(config: Config) -> CommandResult {
    let database = Database::open(&config).await?;
    let result = serve_with(&config, &database).await;
    // The service owns its private cluster, even one a killed predecessor left running.
    database.close(true).await;
    result
}

async fn serve_with(config: &Config, database: &Database) -> CommandResult {
    let applied = db::run_migrations(&database.url).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied migrations");
    }
    let state = AppState {
        pool: database.pool(config)?,
        create_missing_articles: config.unknown_articles == UnknownArticles::Accept,
        body_limit: config.body_limit_bytes(),
        body_read_timeout: config.body_read_timeout(),
        read_cache: ReadCache::new(Duration::from_millis(config.read_cache_ms)),
    };
    let listener = TcpListener::bind(config.bind)
        .map_err(|error| format!("cannot listen on {}: {error}", config.bind))?;
    tracing::info!(address = %listener.local_addr()?, "listening; API docs at /docs");
    let server = app::start(
        listener,
        state,
        ServerOptions {
            cors_origins: config.cors_origins.clone(),
            workers: config.workers,
            max_connections: usize::try_from(config.max_connections).unwrap_or(usize::MAX),
            shutdown_timeout: Duration::from_secs(config.shutdown_timeout_secs),
        },
    )?;
    server.await?;
    tracing::info!("server stopped");
    Ok(())
}

/// `marginalia migrate`: apply pending migrations and exit.
pub async fn migrate(config: Config) -> CommandResult {
    let database = Database::open(&config).await?;
    let result = db::run_migrations(&database.url).await;
    database.close(false).await;
    for version in result? {
        println!("applied {version}");
    }
    Ok(())
}

/// `marginalia openapi`: print the OpenAPI document.
pub fn openapi() -> CommandResult {
    print!("{}", crate::api::openapi::openapi_json()?);
    Ok(())
}

/// Key management subcommands.
pub enum KeysCommand {
    Create { name: String, scopes: Vec<Scope> },
    List,
    Revoke { id: uuid::Uuid },
}

/// `marginalia keys …`: runs against the same database `serve` would use.
pub async fn keys(config: Config, command: KeysCommand) -> CommandResult {
    let database = Database::open(&config).await?;
    let result = keys_with(&config, &database, command).await;
    database.close(false).await;
    result
}

async fn keys_with(config: &Config, database: &Database, command: KeysCommand) -> CommandResult {
    db::run_migrations(&database.url).await?;
    let pool = database.pool(config)?;
    match command {
        KeysCommand::Create { name, scopes } => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 100 {
                return Err("--name must be 1 to 100 characters".into());
            }
            let mut scope_names: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
            scope_names.sort();
            scope_names.dedup();
            let key = auth::generate_key();
            let row = store::api_keys::create(&pool, name, &scope_names, &key.digest).await?;
            eprintln!(
                "Created key {} ({}), scopes: {}.",
                row.id,
                row.name,
                scope_names.join(", ")
            );
            eprintln!("Store it now: it is shown only once.");
            println!("{}", key.secret);
        }
        KeysCommand::List => {
            println!(
                "{:<36}  {:<20}  {:<22}  {:<25}  {:<25}  revoked",
                "id", "name", "scopes", "created", "last used"
            );
            for key in store::api_keys::list(&pool).await? {
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_else(|| "-".into())
                };
                println!(
                    "{:<36}  {:<20}  {:<22}  {:<25}  {:<25}  {}",
                    key.id,
                    key.name,
                    key.scopes.join(","),
                    when(Some(key.created_at)),
                    when(key.last_used_at),
                    when(key.revoked_at)
                );
            }
        }
        KeysCommand::Revoke { id } => {
            if store::api_keys::revoke(&pool, id).await? {
                println!("revoked {id}");
            } else {
                return Err(format!("no active key with id {id}").into());
            }
        }
    }
    Ok(())
}
