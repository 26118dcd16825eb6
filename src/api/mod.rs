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
pub mod live;
pub mod mail;
pub mod moderation;
pub mod openapi;
pub mod queue;
pub mod reactions;
pub mod readers;
pub mod responses;
pub mod reviews;
pub mod schemas;
pub mod sites;
pub mod stats;
pub mod streaming;
pub mod webhook_endpoints;
pub mod widget;

use actix_web::{web, HttpRequest, HttpResponse};
use utoipa_actix_web::scope::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::http_layer::routes::RouteTable;
use crate::http_layer::{bounded, LOGGED_FIELD_MAX};

/// Registers every operation, each with its OpenAPI documentation (the method and the path
/// within its scope come from the handler's own attribute, so a route is declared in exactly one
/// place).
///
/// actix tries the entries here in order, and a path with a parameter costs a regular expression
/// (with captures) per entry tried; so the operations on one article, one review, the moderation
/// desk and the webhook endpoints are each a scope, tried with one expression (or a plain prefix)
/// before the static paths inside it, and the article's scope, which the widget's reads go
/// through on every page view, comes first.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(scope("/v1/articles/{article_id}").configure(|article| {
        article
            .service(stats::article_stats)
            .service(reviews::list_reviews)
            .service(reviews::create_review)
            .service(live::article_live)
            .service(stats::daily_stats)
            .service(articles::put_article)
            .service(articles::patch_article)
            .service(articles::get_article);
    }))
    .service(stats::bulk_stats)
    .service(scope("/v1/reviews/{id}").configure(|review| {
        review
            .service(reviews::get_review)
            .service(reviews::edit_review)
            .service(reviews::delete_review)
            .service(reactions::vote)
            .service(reactions::flag)
            .service(moderation::put_reply)
            .service(moderation::delete_reply);
    }))
    .service(scope("/v1/moderation").configure(|desk| {
        desk.service(queue::queue)
            .service(queue::counts)
            .service(live::queue_live)
            .service(queue::author_reviews)
            .service(readers::reader_standing)
            .service(readers::suspend_reader)
            .service(readers::reinstate_reader)
            .service(moderation::act)
            .service(queue::audit_log);
    }))
    .service(mail::confirm_page)
    .service(mail::confirm)
    .service(mail::unsubscribe_page)
    .service(mail::unsubscribe)
    .service(data_rights::erase)
    .service(data_rights::export)
    .service(data_rights::erase_everywhere)
    .service(data_rights::export_everywhere)
    .service(caller::me)
    .service(sites::list_sites)
    .service(sites::get_site)
    .service(sites::put_site)
    .service(cms_events::receive_cms_event)
    .service(scope("/v1/webhook-endpoints").configure(|endpoints| {
        endpoints
            .service(webhook_endpoints::create_endpoint)
            .service(webhook_endpoints::list_endpoints)
            .service(webhook_endpoints::get_endpoint)
            .service(webhook_endpoints::update_endpoint)
            .service(webhook_endpoints::delete_endpoint)
            .service(webhook_endpoints::rotate_secret)
            .service(webhook_endpoints::list_deliveries)
            .service(webhook_endpoints::redeliver);
    }));
}

/// The pages, static files and probes served beside the API (GET, and HEAD as GET): not
/// operations of the OpenAPI document, so that generated clients hold only the API, but routed,
/// labelled in metrics and answered with 405s as the operations are (`RouteTable::new`).
pub const PAGES: [&str; 7] = [
    "/widget.js",
    "/widget.css",
    "/demo/{article_id}",
    "/console/",
    "/console/{file:.+}",
    "/healthz",
    "/readyz",
];

/// Registers the handler of each of `PAGES`, after the operations.
pub fn pages(cfg: &mut web::ServiceConfig) {
    let [widget_js, widget_css, demo, console_page, console_file, healthz, readyz] = PAGES;
    cfg.route(widget_js, web::get().to(widget::widget_js))
        .route(widget_css, web::get().to(widget::widget_css))
        .route(demo, web::get().to(widget::demo))
        .route(console_page, web::get().to(console::console_page))
        .route(console_file, web::get().to(console::console_asset))
        .route(healthz, web::get().to(health::healthz))
        .route(readyz, web::get().to(health::readyz));
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
