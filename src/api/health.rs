//! Liveness and readiness probes for load balancers and orchestrators.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::ApiCaller;
use crate::db::Pool;
use crate::error::{ApiError, Problem};
use crate::metrics;
use crate::state::AppState;
use crate::store;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(
    get,
    path = "/healthz",tag = "operations", responses((status = 200, description = "Up", body = Health)))]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// Readiness: the database answers a query.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<web::Json<Health>, ApiError> {
    store::ping(&state.pool).await?;
    Ok(web::Json(Health { status: "ready" }))
}

const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prometheus metrics on the main address: only for API keys with scope `admin`.
pub async fn metrics_with_key(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[])?;
    Ok(HttpResponse::Ok()
        .content_type(PROMETHEUS_TEXT)
        .body(metrics::render(&state.pool)))
}

/// Prometheus metrics on the separate metrics address.
pub async fn metrics_open(pool: web::Data<Pool>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(PROMETHEUS_TEXT)
        .body(metrics::render(&pool))
}
