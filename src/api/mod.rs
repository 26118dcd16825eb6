//! HTTP handlers, one module per resource, and the routing table.

pub mod articles;
pub mod extract;
pub mod health;
pub mod openapi;
pub mod reviews;
pub mod stats;

use actix_web::{web, HttpRequest, HttpResponse, Resource};

use crate::error::ApiError;
use crate::http_layer::{bounded, LOGGED_FIELD_MAX};

/// Registers every route. Each path is one resource, so a known path with an unsupported
/// method answers 405 with `Allow`, not 404.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/articles/{article_id}/reviews", "GET, HEAD, POST")
            .route(web::post().to(reviews::create_review))
            .route(web::get().to(reviews::list_reviews)),
    )
    .service(resource("/v1/reviews/{id}", "GET, HEAD").route(web::get().to(reviews::get_review)))
    .service(
        resource("/v1/articles/{article_id}", "GET, HEAD, PUT")
            .route(web::put().to(articles::put_article))
            .route(web::get().to(articles::get_article)),
    )
    .service(
        resource("/v1/articles/{article_id}/stats", "GET, HEAD")
            .route(web::get().to(stats::article_stats)),
    )
    .service(resource("/v1/stats", "GET, HEAD").route(web::get().to(stats::bulk_stats)))
    .service(resource("/healthz", "GET, HEAD").route(web::get().to(health::healthz)))
    .service(resource("/readyz", "GET, HEAD").route(web::get().to(health::readyz)));
}

fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest| async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow,
        })
    }))
}

/// Any path no route matches.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        bounded(req.method().as_str(), 16),
        bounded(req.path(), LOGGED_FIELD_MAX)
    )))
}
