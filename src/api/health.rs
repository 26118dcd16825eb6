//! Liveness and readiness probes for load balancers and orchestrators.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::auth::ApiCaller;
use crate::db::Pool;
use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;
use crate::store;

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness: the process is up and serving HTTP.
///
/// Never touches the database, so an orchestrator restarts the process only when the process
/// itself is stuck, not when PostgreSQL is away.
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// Readiness: the database answers a query, and the process is not draining.
///
/// Answers within a second either way, so a load balancer can take the instance out of rotation
/// while PostgreSQL is unreachable or stalls, or while this process is about to stop.
pub async fn readyz(state: web::Data<AppState>) -> Result<web::Json<Health>, ApiError> {
    if state.draining.is_draining() {
        return Err(ApiError::Unavailable("draining before shutdown".into()));
    }
    store::ping(&state.pool).await?;
    Ok(web::Json(Health { status: "ready" }))
}

const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prometheus metrics on the main address: only for API keys with scope `admin`.
pub async fn metrics_with_key(
    state: web::Data<AppState>,
    // Not in the OpenAPI document: `ApiCaller` admits only `admin` on such a route.
    _caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
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
