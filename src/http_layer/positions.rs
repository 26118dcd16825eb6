//! Read-your-writes with read replicas: every successful write answers with the primary's WAL
//! position after its commit (signed, see `ClientDigests::position_token`), as the
//! `Marginalia-Position` header and a short-lived cookie, so the
//! writer's next public read can be kept from a replica that has not replayed it yet
//! (`api::extract::PublicRead`, `crate::replicas`). Without replicas, nothing is added.

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error};

use crate::state::AppState;
use crate::store;

/// The header a write answers with and a read may send back.
pub const HEADER: &str = "Marginalia-Position";
const HEADER_NAME: HeaderName = HeaderName::from_static("marginalia-position");
/// The cookie that carries the same for browsers (which send it back by themselves).
pub const COOKIE: &str = "marginalia_position";
/// How long a browser sends the cookie back: far beyond any lag a replica is allowed.
const COOKIE_MAX_AGE_SECS: i64 = 300;

pub async fn tell_write_positions<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let state = req
        .app_data::<web::Data<AppState>>()
        .filter(|state| is_write && !state.replicas.is_empty())
        .cloned();
    let mut response = next.call(req).await?;
    let Some(state) = state.filter(|_| response.status().is_success()) else {
        return Ok(response);
    };
    // Asked after the commit: the primary's position now is at or past it.
    let position = store::replication::primary_position(&state.pool).await;
    let digests = state.abuse.digests(&state.pool).await;
    match (position, digests) {
        (Ok(Some(position)), Ok(digests)) => {
            let position = digests.position_token(position);
            if let Ok(value) = HeaderValue::from_str(&position) {
                response.headers_mut().insert(HEADER_NAME, value);
            }
            let cookie = Cookie::build(COOKIE, position)
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .max_age(actix_web::cookie::time::Duration::seconds(
                    COOKIE_MAX_AGE_SECS,
                ))
                .finish();
            response.response_mut().add_cookie(&cookie)?;
        }
        // The write stands; the writer's next read may only come from the primary less surely.
        (position, digests) => tracing::warn!(
            ?position,
            digests_error = ?digests.err(),
            "no WAL position to answer a write with"
        ),
    }
    Ok(response)
}
