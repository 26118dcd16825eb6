//! Which route a request is for, from the OpenAPI document the routes produced and the pages
//! served beside it: the label of its metrics and log lines, the operation whose API key policy
//! applies, and the `Allow` of a 405.

use std::sync::Arc;
use std::time::Instant;

use ::metrics::SharedString;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};

use crate::domain::site::SiteId;
use crate::metrics;
use crate::sites::{RequestSite, SiteDirectory};

/// The documented paths, derived from the OpenAPI document that the registration produced, and
/// the pages (`api::PAGES`, passed in by the caller):
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
    /// The operations of `document`, then the `pages` served beside them (GET only, their
    /// templates in actix's spelling: `{file:.+}` is labelled `{file}` and spans segments).
    pub fn new(document: &utoipa::openapi::OpenApi, pages: &[&str]) -> Self {
        let mut table = Self::from_document(document);
        table.0.extend(pages.iter().map(|page| {
            let mut route = Route::new(page, "GET, HEAD".to_owned());
            route.template = Arc::from(label(page));
            route
        }));
        table
    }

    fn from_document(document: &utoipa::openapi::OpenApi) -> Self {
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

    /// The `Allow` of the documented path `path` falls under.
    pub fn allow(&self, path: &str) -> Option<&str> {
        self.find(path).map(|route| route.allow.as_str())
    }
}

/// A template as the document spells it: `{file:.+}` becomes `{file}`.
fn label(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment.split_once(':') {
            Some((name, _)) if segment.starts_with('{') => format!("{name}}}"),
            _ => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Counts and times every request under its route template (never the raw path, so the number
/// of series stays bounded whatever clients send).
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let route = route_label(&req);
    let method = metrics::method_label(req.method());
    let response = next.call(req).await?;
    // After the answer: the site directory has read the request's site by then.
    let site = site_label(response.request());
    metrics::record_request(
        route,
        site,
        method,
        response.status().as_u16(),
        started.elapsed(),
    );
    Ok(response)
}

/// The request's site as a label: one the directory knows (so at most as many as were
/// created), else `unknown`.
fn site_label(req: &actix_web::HttpRequest) -> SharedString {
    let named = req
        .extensions()
        .get::<RequestSite>()
        .map(|site| site.0.clone());
    let directory = req.app_data::<web::Data<SiteDirectory>>();
    match (named, directory) {
        (None, _) => SharedString::const_str(SiteId::DEFAULT),
        (Some(site), _) if site.as_str() == SiteId::DEFAULT => {
            SharedString::const_str(SiteId::DEFAULT)
        }
        (Some(site), Some(directory)) if directory.is_known(site.as_str()) => {
            SharedString::from(site.to_string())
        }
        _ => SharedString::const_str("unknown"),
    }
}

/// The request's documented route template, `other` for an undocumented one (Swagger UI, the
/// metrics themselves) and `unmatched` for a path no route serves.
pub fn route_label(req: &ServiceRequest) -> SharedString {
    let table = req.app_data::<web::Data<RouteTable>>();
    match table.and_then(|routes| routes.template(req.path())) {
        Some(template) => SharedString::from(template),
        None if req.match_info().is_empty() && req.resource_map().has_resource(req.path()) => {
            SharedString::const_str("other")
        }
        None => SharedString::const_str("unmatched"),
    }
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
        assert_eq!(label("/console/{file:.+}"), "/console/{file}");
        assert_eq!(label("/demo/{article_id}"), "/demo/{article_id}");
        let health = Route::new("/healthz", "GET, HEAD".into());
        assert!(health.matches("/healthz"));
        assert!(!health.matches("/healthz/"));
    }
}
