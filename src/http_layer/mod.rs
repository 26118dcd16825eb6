//! What shapes every answer, whichever part of the stack produced it: problem+json for every error,
//! `HEAD` served as `GET`, the request id echoed; and request spans whose fields are bounded so
//! that a hostile URL or user agent cannot flood the logs. HTTP caching (`cache`) and the table of
//! documented routes (`routes`) belong to this layer too.

pub mod cache;
pub mod positions;
pub mod routes;
pub mod site;

use std::borrow::Cow;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::ConnectionType;
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

use crate::error::{problem_for_status, PROBLEM_JSON};
use crate::sites::RequestSite;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest text of one request field (path, query, user agent, host) written to a log line.
pub const LOGGED_FIELD_MAX: usize = 256;
/// Longest error body of another layer that is kept as a problem's `detail`.
const DETAIL_MAX_BYTES: usize = 512;

/// `text` cut to `max` characters, saying how long it was.
pub fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}… ({} bytes)", &text[..cut], text.len())),
    }
}

/// Request spans like tracing-actix-web's default, with every client-chosen field bounded.
pub struct BoundedRootSpan;

impl RootSpanBuilder for BoundedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let header = |name: header::HeaderName| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
        };
        let target = request
            .uri()
            .path_and_query()
            .map_or("", |path| path.as_str());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        // A valid site id (32 characters at most): `name_the_site` refused any other.
        let site = request
            .extensions()
            .get::<RequestSite>()
            .map(|site| site.0.to_string())
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %bounded(request.method().as_str(), 16),
            http.route = %routes::route_label(request),
            http.target = %bounded(target, LOGGED_FIELD_MAX),
            http.host = %bounded(header(header::HOST), LOGGED_FIELD_MAX),
            http.user_agent = %bounded(header(header::USER_AGENT), LOGGED_FIELD_MAX),
            http.client_ip = %request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            site = %site,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Shapes every answer, in one layer (each layer costs an allocation per request):
/// - `HEAD` is routed as `GET`; actix's HTTP layer, which still knows the request was `HEAD`,
///   sends the headers without the body;
/// - the request id that tracing logs under goes on the response, so that a client's report can
///   be matched with our logs;
/// - every error answer that is not yet a problem document (the CORS layer's refusals, unknown
///   documentation assets, actix's own errors) becomes one with the same status. Other answers
///   pass through untouched, without re-boxing their bodies.
pub async fn shape_answers<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| HeaderValue::from_str(&id.to_string()).ok());
    let draining = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.draining.is_draining());
    let mut response = next.call(req).await?;
    if draining {
        // The client's next request opens a new connection, which the load balancer gives to
        // a node that stays.
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    if let Some(request_id) = request_id {
        response.headers_mut().insert(REQUEST_ID, request_id);
    }
    // Only the public reads choose to be cached (`cache`); anything else, private and
    // moderators' answers above all, is kept by no browser or CDN.
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, cache::NO_STORE);
    }
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes() == PROBLEM_JSON.as_bytes());
    if !status.is_client_error() && !status.is_server_error() || is_problem {
        return Ok(response.map_into_left_body());
    }
    let (request, original) = response.into_parts();
    let headers = original.headers().clone();
    let detail = actix_web::body::to_bytes_limited(original.into_body(), DETAIL_MAX_BYTES)
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    let mut shaped = HttpResponse::build(status);
    for (name, value) in headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            shaped.append_header((name.clone(), value.clone()));
        }
    }
    shaped.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
    let shaped = shaped.json(problem_for_status(status, detail));
    // The request id was copied with the other headers.
    Ok(ServiceResponse::new(request, shaped).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_fields_are_cut_and_say_their_length() {
        assert_eq!(bounded("short", 10), "short");
        let long = "ї".repeat(1000);
        let cut = bounded(&long, 5);
        assert!(cut.starts_with("їїїїї…"), "{cut}");
        assert!(cut.ends_with("(2000 bytes)"), "{cut}");
    }

    #[test]
    fn foreign_errors_become_problems_with_their_status() {
        let problem = problem_for_status(
            actix_web::http::StatusCode::BAD_REQUEST,
            Some("Origin is not allowed to make this request".into()),
        );
        assert_eq!(problem.status, 400);
        assert_eq!(problem.problem_type, crate::error::ProblemType::BadRequest);
        assert!(problem.detail.contains("Origin"));
    }
}
