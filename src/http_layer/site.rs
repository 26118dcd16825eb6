//! Which site a request is for. The API of each site is served under `/sites/{site}/v1/…`; the
//! unprefixed `/v1/…` is the default site's, as it was before sites existed. `name_the_site`
//! (outermost, so that logs, metrics, CORS and routing all see the same request) reads the
//! prefix and routes the rest as the unprefixed path; `serve_the_site` then finds the site's
//! state for the handlers, or answers 404 for a site that does not exist.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Uri;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, ResponseError};

use crate::domain::site::SiteId;
use crate::error::ApiError;
use crate::sites::{RequestSite, SiteDirectory, SiteError};
use crate::state::AppState;

/// Where the paths of one site begin: `/sites/{site}/v1/…`.
pub const SITE_PREFIX: &str = "/sites/";

/// The request's site as a header, for the parts of the stack that see only the request head
/// (CORS). Whatever a client sends under this name is replaced.
pub const SITE_HEADER: HeaderName = HeaderName::from_static("x-marginalia-site");

/// The state of the request's site, for the handlers (`api::extract::SiteState`).
#[derive(Clone)]
pub struct SiteContext(pub Arc<AppState>);

/// The site a path names and the path to route, when it has the site prefix: `Ok(None)` for a
/// path without it, `Err` with the raw id for one whose site id cannot be a site.
fn split_site(path: &str) -> Result<Option<(SiteId, &str)>, String> {
    let Some(rest) = path.strip_prefix(SITE_PREFIX) else {
        return Ok(None);
    };
    let (raw, routed) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, ""),
    };
    if !routed.starts_with("/v1/") {
        return Ok(None);
    }
    match SiteId::parse(raw, "site") {
        Ok(site) => Ok(Some((site, routed))),
        Err(_) => Err(raw.to_owned()),
    }
}

/// Reads the site prefix and routes the request as the unprefixed path.
pub async fn name_the_site<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let site = match split_site(req.path()) {
        Ok(None) => SiteId::default_site(),
        Ok(Some((site, routed))) => {
            let target = match req.uri().query() {
                Some(query) => format!("{routed}?{query}"),
                None => routed.to_owned(),
            };
            match target.parse::<Uri>() {
                Ok(uri) => {
                    req.match_info_mut().get_mut().update(&uri);
                    req.head_mut().uri = uri;
                }
                Err(_) => return Ok(refuse(req, unknown_site(site.as_str()))),
            }
            site
        }
        Err(raw) => return Ok(refuse(req, unknown_site(&raw))),
    };
    if let Ok(value) = HeaderValue::from_str(site.as_str()) {
        req.headers_mut().insert(SITE_HEADER, value);
    }
    req.extensions_mut().insert(RequestSite(site));
    Ok(next.call(req).await?.map_into_left_body())
}

/// Finds the state of the request's site for every API request.
pub async fn serve_the_site<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    if !req.path().starts_with("/v1/") {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let site = req
        .extensions()
        .get::<RequestSite>()
        .map_or_else(SiteId::default_site, |named| named.0.clone());
    let Some(directory) = req.app_data::<web::Data<SiteDirectory>>().cloned() else {
        return Ok(refuse(
            req,
            ApiError::Internal("site directory missing".into()),
        ));
    };
    match directory.state(&site).await {
        Ok(state) => {
            req.extensions_mut().insert(SiteContext(state));
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(SiteError::Unknown(name)) => Ok(refuse(req, unknown_site(&name))),
        Err(SiteError::Store(error)) => Ok(refuse(req, ApiError::from(error))),
    }
}

fn unknown_site(name: &str) -> ApiError {
    ApiError::NotFound(format!(
        "there is no site `{}`",
        super::bounded(name, SiteId::MAX_LEN)
    ))
}

fn refuse<B>(req: ServiceRequest, error: ApiError) -> ServiceResponse<EitherBody<B>> {
    req.into_response(error.error_response())
        .map_into_right_body()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_names_a_site_and_the_rest_is_routed() {
        let named = split_site("/sites/bbc-uk/v1/articles/a/reviews").unwrap();
        let (site, routed) = named.unwrap();
        assert_eq!(
            (site.as_str(), routed),
            ("bbc-uk", "/v1/articles/a/reviews")
        );
    }

    #[test]
    fn paths_without_the_prefix_are_left_alone() {
        for path in [
            "/v1/articles/a/reviews",
            "/sites",
            "/sites/uk",
            "/sites/uk/docs",
            "/",
        ] {
            assert_eq!(split_site(path).unwrap().map(|(s, _)| s), None, "{path}");
        }
    }

    #[test]
    fn a_prefix_with_an_impossible_site_id_is_refused() {
        assert_eq!(split_site("/sites/UK/v1/stats").unwrap_err(), "UK");
        assert_eq!(split_site("/sites//v1/stats").unwrap_err(), "");
    }
}
