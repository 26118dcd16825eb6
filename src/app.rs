//! Builds the HTTP server: middleware, routes, docs. Shared by `serve` and the tests.

use std::net::TcpListener;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::api;
use crate::api::openapi::ApiDoc;
use crate::http_layer::{self, BoundedRootSpan};
use crate::metrics;
use crate::state::AppState;

/// Server settings beyond what handlers share.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Origins allowed to call from browsers; `*` for any.
    pub cors_origins: Vec<String>,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Most client connections open at once, over all workers.
    pub max_connections: usize,
    /// Serve `/metrics` on this server (for `admin` keys); false when a separate metrics
    /// listener serves it.
    pub metrics_with_key: bool,
    pub shutdown_timeout: Duration,
}

/// Starts serving on `listener`; the returned server finishes in-flight requests on
/// SIGINT/SIGTERM before it resolves.
pub fn start(
    listener: TcpListener,
    state: AppState,
    options: ServerOptions,
) -> std::io::Result<Server> {
    metrics::init();
    let state = web::Data::new(state);
    let openapi = ApiDoc::openapi();
    let metrics_with_key = options.metrics_with_key;
    let cors_origins = options.cors_origins.clone();
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(http_layer::head_as_get))
            .wrap(cors(&cors_origins))
            .wrap(from_fn(http_layer::problem_documents))
            .wrap(from_fn(http_layer::echo_request_id))
            .wrap(from_fn(metrics::track_requests))
            .wrap(TracingLogger::<BoundedRootSpan>::new())
            .configure(api::routes)
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
                    .url("/openapi.json", openapi.clone())
                    .config(utoipa_swagger_ui::Config::default().validator_url("none")),
            )
            .default_service(web::to(api::not_found))
    })
    .listen(listener)?
    .shutdown_timeout(options.shutdown_timeout.as_secs().max(1));
    let workers = if options.workers > 0 {
        options.workers
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    };
    // actix counts connections per worker thread.
    server = server
        .workers(workers)
        .max_connections(options.max_connections.div_ceil(workers).max(1));
    Ok(server.run())
}

fn cors(origins: &[String]) -> Cors {
    let base = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers(["authorization", "content-type", "x-request-id"])
        .expose_headers(["location", "x-request-id", "retry-after"])
        .max_age(3600);
    if origins.iter().any(|origin| origin == "*") {
        base.allow_any_origin()
    } else {
        origins
            .iter()
            .fold(base, |cors, origin| cors.allowed_origin(origin))
    }
}

/// Serves only `/metrics`, without authentication, on a listener of its own (an address only the
/// scraper reaches).
pub fn start_metrics(listener: TcpListener, pool: crate::db::Pool) -> std::io::Result<Server> {
    metrics::init();
    let pool = web::Data::new(pool);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(pool.clone())
            .route("/metrics", web::get().to(api::health::metrics_open))
            .default_service(web::to(api::not_found))
    })
    .listen(listener)?
    .workers(1)
    .run())
}
