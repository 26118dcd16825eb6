//! What each CLI subcommand does; `main.rs` only parses arguments and calls these.

use std::path::PathBuf;
use std::time::Duration;

use crate::app::Application;
use crate::auth::{self, Scope};
use crate::config::Settings;
use crate::db::embedded::{ClusterOptions, EmbeddedPostgres, StartOutcome};
use crate::db::ownership::{self, OwnerLock, Ownership, Role};
use crate::db::{self, PoolOptions};
use crate::domain::api_key::KEY_NAME_MAX_CHARS;
use crate::domain::import::{
    Announce, ArticleMatch, ImportFormat, ImportReport, RemapRules, UnknownArticles,
};
use crate::domain::site::{SiteId, SiteSettings, SiteSettingsRequest};
use crate::domain::FieldError;
use crate::import::{self, ImportOptions};
use crate::metrics;
use crate::services;
use crate::store;

/// The database name inside the private cluster.
const EMBEDDED_DATABASE: &str = "marginalia";

pub type CommandResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A database to use: the configured server, or the private cluster under the data directory.
struct Database {
    url: String,
    embedded: Option<Embedded>,
}

/// The private cluster, and this process's lock on it when it owns it (`None`: a running `serve`
/// owns it, so this process must neither supervise nor stop it).
struct Embedded {
    cluster: EmbeddedPostgres,
    lock: Option<OwnerLock>,
}

/// How long a command waits for a short administrative command that holds the data directory.
const ADMIN_LOCK_WAIT: Duration = Duration::from_secs(30);

impl Database {
    async fn open(
        settings: &Settings,
        role: Role,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if let Some(url) = settings.database.external_url() {
            return Ok(Self {
                url: url.to_owned(),
                embedded: None,
            });
        }
        let lock = Self::take_ownership(settings, role).await?;
        let cluster = EmbeddedPostgres::new(&settings.database.data_dir)?;
        if lock.is_some() {
            tracing::info!(pgdata = %cluster.pgdata().display(), "starting the private PostgreSQL cluster");
            if cluster.start(CLUSTER).await? == StartOutcome::AlreadyRunning {
                tracing::info!(
                    "the private cluster was left running by an earlier process; using it"
                );
            }
        } else {
            tracing::info!(pgdata = %cluster.pgdata().display(), "using the private cluster of the running `marginalia serve`");
        }
        cluster.ensure_database(EMBEDDED_DATABASE).await?;
        Ok(Self {
            url: cluster.database_url(EMBEDDED_DATABASE),
            embedded: Some(Embedded { cluster, lock }),
        })
    }

    /// The data directory's lock for `role`, or `None` for an administrative command while a
    /// `serve` owns the directory. A second `serve` is refused.
    async fn take_ownership(
        settings: &Settings,
        role: Role,
    ) -> Result<Option<OwnerLock>, Box<dyn std::error::Error + Send + Sync>> {
        let waiting_since = std::time::Instant::now();
        loop {
            let holder = match ownership::try_own(&settings.database.data_dir, role)? {
                Ownership::Owned(lock) => return Ok(Some(lock)),
                Ownership::HeldBy(holder) => holder,
            };
            match (role, holder.role) {
                (Role::Admin, Some(Role::Serve)) => return Ok(None),
                (Role::Serve, Some(Role::Serve)) => {
                    let pid = holder
                        .pid
                        .map_or("unknown".to_owned(), |pid| pid.to_string());
                    return Err(format!(
                        "another `marginalia serve` (pid {pid}) owns the private PostgreSQL cluster in {}; \
                         one serve runs per data directory. To run several instances, point them all \
                         at one PostgreSQL server with DATABASE_URL.",
                        settings.database.data_dir.display()
                    )
                    .into());
                }
                // A short administrative command holds it (or is writing its note): wait.
                _ if waiting_since.elapsed() < ADMIN_LOCK_WAIT => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => {
                    return Err(format!(
                        "{} stayed locked by process {:?} for {} s",
                        settings.database.data_dir.display(),
                        holder.pid,
                        ADMIN_LOCK_WAIT.as_secs()
                    )
                    .into())
                }
            }
        }
    }

    /// The private cluster when this process owns it.
    fn owned_cluster(&self) -> Option<&EmbeddedPostgres> {
        self.embedded
            .as_ref()
            .filter(|embedded| embedded.lock.is_some())
            .map(|embedded| &embedded.cluster)
    }

    /// Stops the private cluster if this process owns it, then releases the data directory.
    async fn close(self) {
        if let Some(cluster) = self.owned_cluster() {
            match cluster.stop().await {
                Ok(()) => tracing::info!("stopped the private PostgreSQL cluster"),
                Err(error) => tracing::error!(%error, "could not stop the private cluster"),
            }
        }
    }

    fn pool(&self, settings: &Settings) -> Result<db::Pool, deadpool::managed::BuildError> {
        let database = &settings.database;
        db::build_pool(
            &self.url,
            PoolOptions {
                max_size: database.pool_size as usize,
                shards: 1,
                acquire_timeout: database.acquire_timeout,
                statement_timeout: database.statement_timeout,
            },
        )
    }
}

/// The private cluster keeps every commit (only throwaway test clusters turn that off).
const CLUSTER: ClusterOptions = ClusterOptions { durable: true };

/// `marginalia serve`: migrate, then serve HTTP until SIGINT/SIGTERM while supervising the private
/// cluster; the cluster is stopped after the last request finished.
pub async fn serve(settings: Settings) -> CommandResult {
    let database = Database::open(&settings, Role::Serve).await?;
    let (stop_supervising, stopping) = tokio::sync::oneshot::channel::<()>();
    let supervisor = database.owned_cluster().cloned().map(|cluster| {
        tokio::spawn(async move {
            let stopping = async {
                let _ = stopping.await;
            };
            cluster
                .supervise(CLUSTER, stopping, metrics::record_cluster_restart)
                .await;
        })
    });
    let result = serve_with(&settings, &database).await;
    let _ = stop_supervising.send(());
    if let Some(supervisor) = supervisor {
        let _ = supervisor.await;
    }
    database.close().await;
    result
}

async fn serve_with(settings: &Settings, database: &Database) -> CommandResult {
    let applied = db::run_migrations(&database.url).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied migrations");
    }
    let application = Application::build(settings, &database.url)?;
    tracing::info!(address = %application.address(), "listening; API docs at /docs");
    application.run_until_stopped().await?;
    tracing::info!("server stopped");
    Ok(())
}

/// `marginalia migrate`: apply pending migrations and exit.
pub async fn migrate(settings: Settings) -> CommandResult {
    let database = Database::open(&settings, Role::Admin).await?;
    let result = db::run_migrations(&database.url).await;
    database.close().await;
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

/// `marginalia sql submit-review`: the submission statement and its parameter names, as JSON.
pub fn submission_sql() -> CommandResult {
    let (sql, parameters) = store::reviews::submission_statement();
    let json = serde_json::json!({"sql": sql, "parameters": parameters});
    println!("{json}");
    Ok(())
}

/// The sites named by `--site`, each checked to exist; `None` when none was named.
async fn existing_sites(
    pool: &db::Pool,
    named: Vec<String>,
) -> Result<Option<Vec<String>>, Box<dyn std::error::Error + Send + Sync>> {
    if named.is_empty() {
        return Ok(None);
    }
    let mut sites = Vec::new();
    for raw in named {
        let site = SiteId::parse(&raw, "--site")
            .map_err(|error| format!("--site {raw}: {}", error.message))?;
        if store::sites::get(pool, &site).await?.is_none() {
            return Err(format!("--site {raw}: no such site (see `marginalia sites list`)").into());
        }
        if !sites.contains(&raw) {
            sites.push(raw);
        }
    }
    Ok(Some(sites))
}

/// `marginalia import`: what to import, from where and how (docs/import.md).
pub struct ImportCommand {
    pub format: ImportFormat,
    pub file: PathBuf,
    pub site: String,
    pub dry_run: bool,
    /// The report as JSON on stdout.
    pub json: bool,
    pub matching: ArticleMatch,
    pub unknown_articles: UnknownArticles,
    /// The file of remap rules.
    pub remap: Option<PathBuf>,
    pub announce: Announce,
    pub base_url: Option<String>,
    pub batch_size: usize,
}

/// Imports a file into a site, showing progress on a terminal and ending with the report; fails
/// (after the report) when the source stopped making sense.
pub async fn import(settings: Settings, command: ImportCommand) -> CommandResult {
    let database = Database::open(&settings, Role::Admin).await?;
    let result = import_with(&settings, &database, command).await;
    database.close().await;
    result
}

async fn import_with(
    settings: &Settings,
    database: &Database,
    command: ImportCommand,
) -> CommandResult {
    let site = SiteId::parse(&command.site, "site")
        .map_err(|error| format!("--site {}: {}", command.site, error.message))?;
    let remap = match &command.remap {
        Some(path) => RemapRules::parse(
            &std::fs::read_to_string(path)
                .map_err(|error| format!("--remap {}: {error}", path.display()))?,
        )?,
        None => RemapRules::default(),
    };
    db::run_migrations(&database.url).await?;
    let pool = database.pool(settings)?;
    if store::sites::get(&pool, &site).await?.is_none() {
        return Err(
            format!("there is no site {site}; `marginalia sites put {site}` creates it").into(),
        );
    }
    let options = ImportOptions {
        format: command.format,
        path: command.file,
        site: site.clone(),
        dry_run: command.dry_run,
        matching: command.matching,
        unknown_articles: command.unknown_articles,
        remap,
        announce: command.announce,
        base_url: command.base_url,
        batch_size: command.batch_size,
    };
    // Drawn only when stderr is a terminal.
    let progress = indicatif::ProgressBar::new_spinner();
    let show = |report: &ImportReport| {
        progress.set_message(format!(
            "read {}, imported {}, updated {}, unchanged {}",
            report.read, report.imported, report.updated, report.unchanged
        ));
        progress.tick();
    };
    let report = import::run(&pool.site(&site), &options, &show).await?;
    progress.finish_and_clear();
    if command.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    match &report.stopped {
        Some(stopped) => Err(format!(
            "the file stopped making sense at {}; everything before its last batch is imported, \
             and running the import again after fixing the file goes on from there",
            stopped.describe()
        )
        .into()),
        None => Ok(()),
    }
}

/// Site management subcommands.
pub enum SitesCommand {
    List,
    /// Create the site, or change the settings given.
    Put {
        id: String,
        settings: Box<SiteSettingsRequest>,
    },
}

/// `marginalia sites …`: runs against the same database `serve` would use; a running service
/// serves the change within `sites::FRESH_FOR`.
pub async fn sites(settings: Settings, command: SitesCommand) -> CommandResult {
    let database = Database::open(&settings, Role::Admin).await?;
    let result = sites_with(&settings, &database, command).await;
    database.close().await;
    result
}

async fn sites_with(
    settings: &Settings,
    database: &Database,
    command: SitesCommand,
) -> CommandResult {
    db::run_migrations(&database.url).await?;
    let pool = database.pool(settings)?;
    match command {
        SitesCommand::List => {
            println!(
                "{:<32}  {:<40}  {:<10}  origins",
                "id", "name", "moderation"
            );
            for site in store::sites::list(&pool).await? {
                println!(
                    "{:<32}  {:<40}  {:<10}  {}",
                    site.site_id,
                    site.name,
                    site.moderation.as_deref().unwrap_or("(default)"),
                    site.origins
                        .map_or_else(|| "(default)".to_owned(), |origins| origins.join(","))
                );
            }
        }
        SitesCommand::Put { id, settings } => {
            let site =
                SiteId::parse(&id, "site").map_err(|error| format!("{id}: {}", error.message))?;
            let settings = SiteSettings::parse(*settings).map_err(|errors| flag_errors(&errors))?;
            let (row, created) = services::sites::put(&pool, &site, &settings)
                .await
                .map_err(|error| match error {
                    services::ServiceError::Invalid(errors) => flag_errors(&errors),
                    other => other.to_string(),
                })?;
            let what = if created { "Created" } else { "Changed" };
            eprintln!(
                "{what} site {} ({}); its API: /sites/{}/v1/…",
                row.site_id, row.name, row.site_id
            );
        }
    }
    Ok(())
}

/// Field errors as the flags that carry the fields (`banned_terms[2]` is `--banned-term`'s third).
fn flag_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|error| format!("--{}: {}", error.field.replace('_', "-"), error.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Key management subcommands.
pub enum KeysCommand {
    /// `sites` empty: a key for every site.
    Create {
        name: String,
        scopes: Vec<Scope>,
        sites: Vec<String>,
    },
    List,
    Revoke {
        id: uuid::Uuid,
    },
}

/// `marginalia keys …`: runs against the same database `serve` would use.
pub async fn keys(settings: Settings, command: KeysCommand) -> CommandResult {
    let database = Database::open(&settings, Role::Admin).await?;
    let result = keys_with(&settings, &database, command).await;
    database.close().await;
    result
}

async fn keys_with(
    settings: &Settings,
    database: &Database,
    command: KeysCommand,
) -> CommandResult {
    db::run_migrations(&database.url).await?;
    let pool = database.pool(settings)?;
    match command {
        KeysCommand::Create {
            name,
            scopes,
            sites,
        } => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > KEY_NAME_MAX_CHARS {
                return Err(
                    format!("--name must be 1 to {} characters", KEY_NAME_MAX_CHARS).into(),
                );
            }
            let mut scope_names: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
            scope_names.sort();
            scope_names.dedup();
            let sites = existing_sites(&pool, sites).await?;
            let key = auth::generate_key();
            let row =
                store::api_keys::create(&pool, name, &scope_names, sites.as_deref(), &key.digest)
                    .await?;
            eprintln!(
                "Created key {} ({}), scopes: {}, sites: {}.",
                row.id,
                row.name,
                scope_names.join(", "),
                sites.map_or_else(|| "every site".to_owned(), |sites| sites.join(", "))
            );
            eprintln!("Store it now: it is shown only once.");
            println!("{}", key.secret);
        }
        KeysCommand::List => {
            println!(
                "{:<36}  {:<20}  {:<22}  {:<20}  {:<25}  {:<25}  revoked",
                "id", "name", "scopes", "sites", "created", "last used"
            );
            for key in store::api_keys::list(&pool).await? {
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_else(|| "-".into())
                };
                println!(
                    "{:<36}  {:<20}  {:<22}  {:<20}  {:<25}  {:<25}  {}",
                    key.id,
                    key.name,
                    key.scopes.join(","),
                    key.sites
                        .map_or_else(|| "*".to_owned(), |sites| sites.join(",")),
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
