//! Builds the application from the configuration: the connection pool, the HTTP server with its
//! middleware, routes and docs, and the optional metrics listener. `serve` and the tests build it
//! through the same `Application::build`.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use actix_cors::Cors;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header;
use actix_web::middleware::{from_fn, Compress, Condition};
use actix_web::{web, App, HttpResponse, HttpServer};
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::api;
use crate::api::openapi::{self, ApiDoc};
use crate::auth::ScopePolicy;
use crate::client::TrustedProxies;
use crate::coherence::{self, Announcer};
use crate::config::{self, Settings, UnknownArticles};
use crate::db::{self, Pool, PoolOptions};
use crate::domain::language::LanguageDetector;
use crate::domain::review::RatingRule;
use crate::domain::site::SiteId;
use crate::http_layer::routes::{track_requests, RouteTable};
use crate::http_layer::site;
use crate::http_layer::{self, BoundedRootSpan};
use crate::live::Live;
use crate::mail::{self, worker::MailWorker, Mailer};
use crate::metrics;
use crate::rate_limit::{self, Limit, LimitedWrite};
use crate::read_cache::ReadCache;
use crate::readers::{ReaderTokens, Readers};
use crate::replicas::Replicas;
use crate::sites::SiteDirectory;
use crate::state::{AbuseSettings, AppState, Draining, ModerationSettings, WebhookSettings};
use crate::views::tagged::CachePolicy;
use crate::webhooks::address::TargetPolicy;
use crate::webhooks::sender::Sender;
use crate::webhooks::worker::{Worker, WorkerSettings};
use crate::webhooks::OutboxSignal;

/// Database connections of the webhook worker: fan-out and claims take one each, and recording
/// attempts shares the rest.
const WORKER_CONNECTIONS: usize = 4;
/// Database connections of the mail worker: it claims, reads and records one message at a time.
const MAIL_CONNECTIONS: usize = 2;
/// Database connections of the upkeep tasks (announcing changes, counting nodes, pruning live
/// events, forgetting rate-limit buckets, watching replicas): short statements, now and then.
const UPKEEP_CONNECTIONS: usize = 2;

/// A built, not yet running, Marginalia.
pub struct Application {
    server: Server,
    metrics: Option<Server>,
    worker: Option<Worker>,
    mail: Option<MailWorker>,
    address: SocketAddr,
    pool: Pool,
    shutdown_timeout: Duration,
    draining: Draining,
    live: Live,
    drain: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] deadpool::managed::BuildError),
    #[error("cannot start the HTTP server: {0}")]
    Server(#[from] std::io::Error),
    #[error("invalid setting: {0}")]
    Config(String),
    #[error("cannot build the webhook HTTP client: {0}")]
    WebhookClient(#[from] reqwest::Error),
}

impl Application {
    /// Binds the configured addresses and prepares the server for the database at
    /// `database_url` (already migrated). Connections are opened lazily, so this succeeds while
    /// the database is away.
    pub fn build(settings: &Settings, database_url: &str) -> Result<Self, BuildError> {
        let pool = db::build_pool(database_url, request_pool_options(settings))?;
        // Kept off the requests' pool: a connection it opened would be driven by the runtime's
        // threads for the workers' requests ever after (see `db::pool`).
        let upkeep = background_pool(settings, database_url, UPKEEP_CONNECTIONS)?;
        let listener = bind(settings.server.bind)?;
        let address = listener.local_addr()?;
        let metrics = match settings.server.metrics_bind {
            Some(metrics_address) => {
                let listener = bind(metrics_address)?;
                tracing::info!(address = %listener.local_addr()?, "serving Prometheus metrics at /metrics");
                Some(start_metrics(listener, pool.clone())?)
            }
            None => None,
        };
        let outbox = OutboxSignal::default();
        let worker = if settings.webhooks.worker {
            Some(build_worker(settings, database_url, outbox.clone())?)
        } else {
            None
        };
        let mail = build_mail_worker(settings, database_url)?;
        let (announcer, announcing) = Announcer::new();
        tokio::spawn(announcing.run(upkeep.installation()));
        let mut state = app_state(settings, pool.clone(), outbox, announcer)?;
        state.replicas = replicas(settings)?;
        if !state.replicas.is_empty() {
            tokio::spawn(
                state
                    .replicas
                    .clone()
                    .watch(upkeep.clone(), settings.database.read_max_lag),
            );
        }
        let draining = state.draining.clone();
        let live = state.live.clone();
        tokio::spawn(live.clone().run(upkeep.installation()));
        let server = start(
            listener,
            state,
            server_options(&settings.server),
            Upkeep {
                database_url,
                pool: upkeep,
            },
        )?;
        Ok(Self {
            server,
            metrics,
            worker,
            mail,
            address,
            pool,
            shutdown_timeout: settings.server.shutdown_timeout,
            draining,
            live,
            drain: settings.server.drain,
        })
    }

    /// Where the API listens (the actual port when the configuration asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Serves (and sends webhooks) until SIGINT/SIGTERM, drains, then lets in-flight requests and
    /// webhook attempts finish. Dropping this future stops the worker too.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let mut handles = vec![self.server.handle()];
        if let Some(metrics) = self.metrics {
            handles.push(metrics.handle());
            tokio::spawn(metrics);
        }
        tokio::spawn(stop_on_signal(
            handles,
            self.draining,
            self.live,
            self.drain,
        ));
        if self.worker.is_none() && self.mail.is_none() {
            return self.server.await;
        }
        let (stop, stopped) = watch::channel(false);
        let (webhooks, mail) = (self.worker, self.mail);
        let mail_stopped = stopped.clone();
        let working = async move {
            let webhooks = async {
                if let Some(worker) = webhooks {
                    worker.run(stopped).await;
                }
            };
            let mail = async {
                if let Some(worker) = mail {
                    worker.run(mail_stopped).await;
                }
            };
            tokio::join!(webhooks, mail);
        };
        let mut working = std::pin::pin!(working);
        let mut server = self.server;
        tokio::select! {
            result = &mut server => {
                let _ = stop.send(true);
                if tokio::time::timeout(self.shutdown_timeout, working).await.is_err() {
                    tracing::warn!("webhook attempts and mail still in flight at shutdown are retried by the next worker");
                }
                result
            }
            () = &mut working => server.await,
        }
    }
}

/// On SIGINT or SIGTERM: drain for `drain`, then stop the servers gracefully (they finish what is
/// in flight within the shutdown timeout). actix's own signal handling is off, since it would
/// stop accepting at once.
async fn stop_on_signal(
    servers: Vec<ServerHandle>,
    draining: Draining,
    live: Live,
    drain: Duration,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut terminate, mut interrupt) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "cannot listen for stop signals; stop the process with SIGKILL");
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    draining.begin();
    // Readers come back after a moment, by then to another node.
    live.close_all();
    tracing::info!(
        drain_secs = drain.as_secs(),
        "stopping: readiness answers 503 and connections close while load balancers notice"
    );
    tokio::time::sleep(drain).await;
    for server in servers {
        server.stop(true).await;
    }
}

/// A pool per `DATABASE_READ_URL`, sized and split like the primary's.
fn replicas(settings: &Settings) -> Result<Replicas, BuildError> {
    let pools = settings
        .database
        .replica_urls()
        .map(|url| db::build_pool(url, request_pool_options(settings)))
        .collect::<Result<Vec<_>, _>>()?;
    if !pools.is_empty() {
        tracing::info!(
            replicas = pools.len(),
            "public reads may go to read replicas"
        );
    }
    Ok(Replicas::new(pools))
}

fn bind(address: SocketAddr) -> Result<TcpListener, BuildError> {
    TcpListener::bind(address).map_err(|source| BuildError::Listen { address, source })
}

/// The requests' pool: one shard per HTTP worker (see `db::pool`).
fn request_pool_options(settings: &Settings) -> PoolOptions {
    let database = &settings.database;
    PoolOptions {
        max_size: database.pool_size as usize,
        shards: http_workers(&settings.server),
        acquire_timeout: database.acquire_timeout,
        statement_timeout: database.statement_timeout,
    }
}

/// Where outbound webhooks may go. Loopback-only is narrower than "private allowed" (every
/// target must also be on this machine), so it needs no second switch to reach the loopback
/// receivers it is for.
fn target_policy(webhooks: &config::Webhooks) -> TargetPolicy {
    if webhooks.allow_private_targets || webhooks.loopback_only {
        TargetPolicy::AllowPrivate
    } else {
        TargetPolicy::PublicOnly
    }
}

fn build_worker(
    settings: &Settings,
    database_url: &str,
    outbox: OutboxSignal,
) -> Result<Worker, BuildError> {
    let webhooks = &settings.webhooks;
    let worker_settings = WorkerSettings {
        poll: webhooks.poll,
        timeout: webhooks.timeout,
        concurrency: webhooks.concurrency,
        schedule: webhooks.retry_schedule.clone(),
        stats_window: webhooks.stats_window,
        disable_after: webhooks.disable_after,
        retention: webhooks.retention,
    };
    let sender = Sender::new(
        target_policy(webhooks),
        webhooks.loopback_only,
        webhooks.timeout,
    )?;
    let worker_pool = background_pool(settings, database_url, WORKER_CONNECTIONS)?;
    // The worker serves every site: each event goes to its own site's endpoints.
    Ok(Worker::new(
        worker_pool.installation(),
        sender,
        outbox,
        worker_settings,
    ))
}

/// A background worker's own pool, so that its work never takes connections the requests need
/// (nor the other way round); its callers are tasks that can wait.
fn background_pool(
    settings: &Settings,
    database_url: &str,
    max_size: usize,
) -> Result<Pool, BuildError> {
    let database = &settings.database;
    Ok(db::build_pool(
        database_url,
        PoolOptions {
            max_size,
            shards: 1,
            acquire_timeout: database.statement_timeout.max(database.acquire_timeout),
            statement_timeout: database.statement_timeout,
        },
    )?)
}

/// The mail worker, when an SMTP server is set; with a pool of its own, like the webhook worker.
fn build_mail_worker(
    settings: &Settings,
    database_url: &str,
) -> Result<Option<MailWorker>, BuildError> {
    let Some(mailer) =
        Mailer::new(&settings.mail).map_err(|error| BuildError::Config(error.to_string()))?
    else {
        return Ok(None);
    };
    let pool = background_pool(settings, database_url, MAIL_CONNECTIONS)?;
    Ok(Some(MailWorker::new(
        pool.installation(),
        mailer,
        settings.mail.retry_schedule.clone(),
        settings.mail.poll,
        mail::lease(&settings.mail),
    )))
}

/// How long fetching a site's JSON Web Key Set may take (a reader's submission waits for it).
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// What every request sees, from the settings.
fn app_state(
    settings: &Settings,
    pool: Pool,
    outbox: OutboxSignal,
    announcer: Announcer,
) -> Result<AppState, BuildError> {
    let server = &settings.server;
    let limits = &settings.limits;
    Ok(AppState {
        // Unbound: a request works through its site's state (`sites::SiteDirectory`), so a
        // handler that used this one would find nothing rather than another site's rows.
        pool,
        replicas: Replicas::default(),
        create_missing_articles: server.unknown_articles == UnknownArticles::Accept,
        body_limit: server.body_limit_bytes(),
        body_read_timeout: server.body_read_timeout,
        read_cache: ReadCache::new(server.read_cache_ttl),
        announcer,
        http_cache: CachePolicy::new(server.http_max_age, server.http_stale_while_revalidate),
        outbox,
        webhooks: webhook_settings(&settings.webhooks),
        moderation: moderation_settings(&settings.moderation)?,
        abuse: AbuseSettings::new(
            TrustedProxies::parse(&limits.trusted_proxies).map_err(BuildError::Config)?,
            Limit::per_minute(LimitedWrite::Reviews, limits.rate_limit_reviews),
            Limit::per_minute(LimitedWrite::Reactions, limits.rate_limit_reactions),
        ),
        draining: Draining::default(),
        live: Live::new(settings.live.clone()),
        readers: Readers {
            tokens: ReaderTokens::default(),
            fetcher: Sender::new(
                target_policy(&settings.webhooks),
                settings.webhooks.loopback_only,
                JWKS_FETCH_TIMEOUT,
            )
            .map_err(|error| BuildError::Config(error.to_string()))?,
        },
        mail_enabled: settings.mail.enabled(),
    })
}

fn webhook_settings(webhooks: &config::Webhooks) -> WebhookSettings {
    if webhooks.cms_secrets.as_slice().is_empty() {
        tracing::info!(
            "no MARGINALIA_CMS_WEBHOOK_SECRETS: POST /v1/webhooks/cms refuses every event"
        );
    }
    WebhookSettings {
        cms_secrets: Arc::new(webhooks.cms_secrets.clone().into_vec()),
        target_policy: target_policy(webhooks),
        rotation_grace: webhooks.rotation_grace,
    }
}

fn moderation_settings(moderation: &config::Moderation) -> Result<ModerationSettings, BuildError> {
    let language_detector = LanguageDetector::among(&moderation.detect_languages)
        .map_err(|error| BuildError::Config(format!("MARGINALIA_DETECT_LANGUAGES: {error}")))?;
    let edit_window = chrono::TimeDelta::from_std(moderation.edit_window)
        .map_err(|error| BuildError::Config(format!("MARGINALIA_EDIT_WINDOW: {error}")))?;
    Ok(ModerationSettings {
        site_mode: moderation.mode,
        language_detector: Arc::new(language_detector),
        rules: Arc::new(moderation.rules().map_err(BuildError::Config)?),
        edit_window,
        flag_threshold: moderation.flag_threshold,
        rating_rule: RatingRule::Required,
        newsroom_name: Arc::from(moderation.newsroom_name.as_str()),
    })
}

/// HTTP worker threads: as configured, or one per core.
fn http_workers(server: &config::Server) -> usize {
    if server.workers > 0 {
        server.workers
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

fn server_options(server: &config::Server) -> ServerOptions {
    ServerOptions {
        cors_origins: server.cors_origins.clone(),
        workers: http_workers(server),
        max_connections: usize::try_from(server.max_connections).unwrap_or(usize::MAX),
        metrics_with_key: server.metrics_bind.is_none(),
        shutdown_timeout: server.shutdown_timeout,
        compression: server.compression,
    }
}

/// Server settings beyond what handlers share.
#[derive(Debug, Clone, Default)]
struct ServerOptions {
    /// Origins allowed to call from browsers; `*` for any.
    pub cors_origins: Vec<String>,
    /// HTTP worker threads.
    pub workers: usize,
    /// Most client connections open at once, over all workers.
    pub max_connections: usize,
    /// Serve `/metrics` on this server (for `admin` keys); false when a separate metrics
    /// listener serves it.
    pub metrics_with_key: bool,
    pub shutdown_timeout: Duration,
    /// gzip or brotli when the client accepts it.
    pub compression: bool,
}

/// Where the upkeep tasks reach the database.
struct Upkeep<'a> {
    /// For the listening session.
    database_url: &'a str,
    /// For everything else they do.
    pool: Pool,
}

/// Starts serving on `listener`, with the directory's upkeep tasks (see `spawn_upkeep`).
fn start(
    listener: TcpListener,
    state: AppState,
    options: ServerOptions,
    upkeep: Upkeep<'_>,
) -> std::io::Result<Server> {
    metrics::init();
    let directory = Arc::new(SiteDirectory::new(
        state.clone(),
        options.cors_origins.clone(),
    ));
    spawn_upkeep(&directory, &state, upkeep);
    let state = web::Data::new(state);
    let sites = web::Data::from(directory.clone());
    let metrics_with_key = options.metrics_with_key;
    let compression = options.compression;
    // Each worker thread builds its app once as it starts: numbered in turn, each then takes
    // its own shard of the pools' connections.
    let next_worker = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut server = HttpServer::new(move || {
        db::pool::serve_from_this_thread(
            next_worker.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        );
        let (app, document) = App::new()
            .into_utoipa_app()
            .openapi(ApiDoc::openapi())
            .configure(api::routes)
            .split_for_parts();
        let document = openapi::finish(document);
        let routes = web::Data::new(RouteTable::new(&document, &api::PAGES));
        let scopes = web::Data::new(ScopePolicy::from_document(&document));
        app.app_data(state.clone())
            .app_data(sites.clone())
            .app_data(http_layer::cache::CompressedAnswers(compression))
            .app_data(routes)
            .app_data(scopes)
            .wrap(from_fn(openapi::docs_headers))
            .wrap(from_fn(http_layer::positions::tell_write_positions))
            .wrap(from_fn(api::caller::authenticate))
            .wrap(cors(directory.clone()))
            .wrap(from_fn(site::serve_the_site))
            .wrap(from_fn(http_layer::shape_answers))
            .wrap(Condition::new(compression, Compress::default()))
            .wrap(from_fn(track_requests))
            .wrap(TracingLogger::<BoundedRootSpan>::new())
            .wrap(from_fn(site::name_the_site))
            .configure(|cfg| {
                if metrics_with_key {
                    cfg.service(
                        web::resource("/metrics")
                            .route(web::get().to(api::health::metrics_with_key)),
                    );
                }
            })
            // The start-up log and people type `/docs`; the UI lives under `/docs/`.
            .route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::PermanentRedirect()
                        .insert_header((header::LOCATION, "/docs/"))
                        .finish()
                }),
            )
            .service(
                SwaggerUi::new("/docs/{_:.*}")
                    .url("/openapi.json", document)
                    .config(utoipa_swagger_ui::Config::default().validator_url("none")),
            )
            .configure(api::pages)
            .default_service(web::to(api::unmatched))
    })
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(options.shutdown_timeout.as_secs().max(1));
    let workers = options.workers;
    // actix counts connections per worker thread.
    server = server
        .workers(workers)
        .max_connections(options.max_connections.div_ceil(workers).max(1));
    Ok(server.run())
}

/// The directory's background work (on the runtime the server runs on): listening for other
/// nodes' changes (the listening session is also how nodes count each other), counting the
/// nodes, and forgetting idle clients of the rate limits now and then (this node's and the
/// shared buckets).
fn spawn_upkeep(directory: &Arc<SiteDirectory>, state: &AppState, upkeep: Upkeep<'_>) {
    tokio::spawn(coherence::listen(
        upkeep.database_url.to_owned(),
        directory.clone(),
    ));
    tokio::spawn(coherence::count_nodes(
        upkeep.pool.clone(),
        state.abuse.other_nodes.clone(),
    ));
    let pool = upkeep.pool;
    let directory = directory.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(rate_limit::FORGET_EVERY);
        loop {
            every.tick().await;
            directory.forget_idle_clients();
            // Every node does it; whichever comes first finds the rows, the others none.
            if let Err(error) = rate_limit::forget_full_buckets(&pool).await {
                tracing::warn!(%error, "could not forget the full rate-limit buckets; next time");
            }
        }
    });
}

/// CORS by the request's site: its own origins, or the installation's when it has none.
fn cors(directory: Arc<SiteDirectory>) -> Cors {
    Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            "authorization",
            "content-type",
            "x-request-id",
            "idempotency-key",
            "x-edit-token",
            "marginalia-position",
            // A widget on the article's own origin revalidates its reads (304s) when it cannot
            // stream, and a browser resumes a stream with the last event's id.
            "if-none-match",
            "last-event-id",
            // A signed-in reader's token (docs/readers.md).
            "marginalia-reader",
        ])
        .expose_headers([
            "location",
            "x-request-id",
            "retry-after",
            "marginalia-position",
            "etag",
        ])
        .max_age(3600)
        .allowed_origin_fn(move |origin, head| {
            let site = head
                .headers()
                .get(site::SITE_HEADER)
                .and_then(|value| SiteId::parse(value.to_str().ok()?, "site").ok())
                .unwrap_or_else(SiteId::default_site);
            directory.allows_origin(&site, origin.as_bytes())
        })
}

/// Serves only `/metrics`, without authentication, on a listener of its own (an address only the
/// scraper reaches).
fn start_metrics(listener: TcpListener, pool: Pool) -> std::io::Result<Server> {
    metrics::init();
    let pool = web::Data::new(pool);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(pool.clone())
            .route("/metrics", web::get().to(api::health::metrics_open))
            .default_service(web::to(api::not_found))
    })
    .listen(listener)?
    .disable_signals()
    .workers(1)
    .run())
}
