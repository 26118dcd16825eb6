//! HTTP handlers, one module per resource, and the routing table.

pub mod articles;
pub mod assets;
pub mod caller;
pub mod cms_events;
pub mod console;
pub mod data_rights;
pub mod examples;
pub mod extract;
pub mod health;
pub mod http_cache;
pub mod moderation;
pub mod openapi;
pub mod queue;
pub mod reactions;
pub mod responses;
pub mod reviews;
pub mod schemas;
pub mod stats;
pub mod streaming;
pub mod webhook_endpoints;
pub mod widget;

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::http_layer::{bounded, LOGGED_FIELD_MAX};

/// Registers every operation, each with its OpenAPI documentation (the route and method come from
/// the handler's own attribute, so a route is declared in exactly one place).
///
/// actix tries routes in this order, one regular expression per route with a path parameter, so
/// the reads a widget makes on every page view come first.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(stats::article_stats)
        .service(reviews::list_reviews)
        .service(reviews::create_review)
        .service(stats::bulk_stats)
        .service(reviews::get_review)
        .service(reviews::edit_review)
        .service(reviews::delete_review)
        .service(reactions::vote)
        .service(reactions::flag)
        .service(queue::queue)
        .service(queue::counts)
        .service(queue::author_reviews)
        .service(moderation::act)
        .service(queue::audit_log)
        .service(moderation::put_reply)
        .service(moderation::delete_reply)
        .service(data_rights::erase)
        .service(data_rights::export)
        .service(caller::me)
        .service(articles::put_article)
        .service(articles::patch_article)
        .service(articles::get_article)
        .service(stats::daily_stats)
        .service(cms_events::receive_cms_event)
        .service(webhook_endpoints::create_endpoint)
        .service(webhook_endpoints::list_endpoints)
        .service(webhook_endpoints::get_endpoint)
        .service(webhook_endpoints::update_endpoint)
        .service(webhook_endpoints::delete_endpoint)
        .service(webhook_endpoints::rotate_secret)
        .service(webhook_endpoints::list_deliveries)
        .service(webhook_endpoints::redeliver)
        .service(widget::widget_js)
        .service(widget::widget_css)
        .service(widget::demo)
        .service(console::console_page)
        .service(console::console_asset)
        .service(health::healthz)
        .service(health::readyz);
}

/// The documented paths, derived from the OpenAPI document that the registration above produced:
/// the route template of a request (the label of its metrics and logs) and, for a known path
/// asked with another method, the `Allow` of its 405.
///
/// Matched segment by segment with plain string comparisons: actix's own `match_pattern` runs a
/// regular expression per registered route on every call, which the profile showed costing more
/// than a stats read itself.
pub struct RouteTable(Vec<Route>);

struct Route {
    template: Arc<str>,
    segments: Vec<Segment>,
    allow: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: one non-empty segment.
    Parameter,
    /// `{name:.+}`: everything that is left, at least one character.
    Rest,
}

impl Route {
    fn new(template: &str, allow: String) -> Self {
        let segments = template
            .split('/')
            .skip(1)
            .map(|segment| match segment.strip_prefix('{') {
                Some(parameter) if parameter.contains(':') => Segment::Rest,
                Some(_) => Segment::Parameter,
                None => Segment::Literal(segment.to_owned()),
            })
            .collect();
        Self {
            template: Arc::from(template),
            segments,
            allow,
        }
    }

    fn matches(&self, path: &str) -> bool {
        let Some(mut rest) = path.strip_prefix('/') else {
            return false;
        };
        for (index, segment) in self.segments.iter().enumerate() {
            let last = index + 1 == self.segments.len();
            let (part, after) = match rest.split_once('/') {
                Some((part, after)) => (part, Some(after)),
                None => (rest, None),
            };
            match segment {
                Segment::Rest => return !rest.is_empty(),
                Segment::Literal(literal) if literal != part => return false,
                Segment::Parameter if part.is_empty() => return false,
                _ => {}
            }
            match (after, last) {
                (None, true) => return true,
                (Some(after), false) => rest = after,
                _ => return false,
            }
        }
        false
    }
}

impl RouteTable {
    pub fn from_document(document: &utoipa::openapi::OpenApi) -> Self {
        let routes = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET, HEAD", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ];
                let allow: Vec<&str> = methods
                    .into_iter()
                    .filter(|(_, present)| *present)
                    .map(|(names, _)| names)
                    .collect();
                Route::new(path, allow.join(", "))
            })
            .collect();
        Self(routes)
    }

    fn find(&self, path: &str) -> Option<&Route> {
        self.0.iter().find(|route| route.matches(path))
    }

    /// The documented template `path` falls under, such as `/v1/articles/{article_id}/reviews`.
    pub fn template(&self, path: &str) -> Option<Arc<str>> {
        self.find(path).map(|route| route.template.clone())
    }

    fn allow(&self, path: &str) -> Option<&str> {
        self.find(path).map(|route| route.allow.as_str())
    }
}

/// Any request no route matched: 405 on a known path, 404 otherwise.
pub async fn unmatched(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allow = req
        .app_data::<web::Data<RouteTable>>()
        .and_then(|routes| routes.allow(req.path()).map(str::to_owned));
    match allow {
        Some(allow) => Err(ApiError::MethodNotAllowed {
            method: bounded(req.method().as_str(), 16).into_owned(),
            allow,
        }),
        None => not_found(req).await,
    }
}

/// Any path no route matches.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        bounded(req.method().as_str(), 16),
        bounded(req.path(), LOGGED_FIELD_MAX)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_segment_by_segment() {
        let reviews = Route::new("/v1/articles/{article_id}/reviews", "GET, HEAD".into());
        assert!(reviews.matches("/v1/articles/voa-2020/reviews"));
        for other in [
            "/v1/articles//reviews",
            "/v1/articles/voa-2020/reviews/",
            "/v1/articles/voa-2020",
            "/v1/articles/voa-2020/reviews/extra",
            "v1/articles/voa-2020/reviews",
            "/v1/articles/voa-2020/stats",
        ] {
            assert!(!reviews.matches(other), "{other}");
        }
        let page = Route::new("/console/", "GET, HEAD".into());
        assert!(page.matches("/console/"));
        assert!(!page.matches("/console"));
        let files = Route::new("/console/{file:.+}", "GET, HEAD".into());
        assert!(files.matches("/console/views/queue.js"));
        assert!(!files.matches("/console/"));
        let health = Route::new("/healthz", "GET, HEAD".into());
        assert!(health.matches("/healthz"));
        assert!(!health.matches("/healthz/"));
    }
}
