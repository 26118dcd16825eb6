//! The OpenAPI document: what `ApiDoc` says of the whole API, the operations the routes register
//! (`super::routes`), and what every operation shares (`CommonHeaders`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use utoipa::openapi::header::Header;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use serde_json::Value;

use super::examples;
use crate::api::data_rights::ExportFormat;
use crate::api::queue::LogFormat;
use crate::auth::{Admits, Scope, API_KEY_SCHEME};
use crate::domain::article::{ArticleId, ArticleIds};
use crate::domain::moderation::{AuditFilter, ReasonCode};
use crate::domain::page::{Cursor, PageSize, Sort};
use crate::domain::{FieldError, FieldErrorCode};
use crate::error::{Problem, ProblemType};
use crate::views::reader::ReaderEvent;
use crate::webhooks::events::{self, ReviewEvent, StatsChangedEvent};
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Marginalia",
        description = "Reader reviews for news articles: readers rate and review, editors moderate, \
                       the CMS registers articles. Errors are RFC 9457 `application/problem+json`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
        contact(name = "The newsroom that runs this Marginalia instance"),
    ),
    // Relative: "Try it out" and generated clients call whatever address served the document.
    servers(
        (url = "/", description = "The default site of the instance serving this document"),
        (url = "/sites/{site}", description = "One site of the instance (`GET /v1/sites` lists them)",
         variables(("site" = (default = "default", description = "The site's id")))),
    ),
    components(schemas(
        Sort, Problem, ProblemType, FieldError, FieldErrorCode, ArticleId, ArticleIds, PageSize,
        Cursor, ReviewEvent, StatsChangedEvent, ReaderEvent, ReasonCode, ExportFormat, LogFormat,
        AuditFilter
    )),
    modifiers(&ApiKeyScheme),
    tags(
        (name = "reviews", description = "Submit and read reader reviews"),
        (name = "articles", description = "Articles registered by the CMS"),
        (name = "stats", description = "Rating counts and averages"),
        (name = "moderation", description = "The moderators' queue, actions, audit log and replies, and signed-in readers' standing (scope `moderator` or `admin`)"),
        (name = "data rights", description = "Erasure and export of reviews (scope `admin`)"),
        (name = "webhook endpoints", description = "Where signed event deliveries go, and how they went (scope `admin`)"),
        (name = "webhook events", description = "The events Marginalia POSTs to webhook endpoints (Standard Webhooks)"),
        (name = "cms", description = "Article events the CMS sends in, signed (Standard Webhooks)"),
        (name = "live", description = "Live updates as Server-Sent Events: an article's public changes, the moderators' queue (docs/live.md)"),
        (name = "email", description = "The links in our messages to readers and moderators: confirming an address, one-click unsubscribe (RFC 8058) (docs/email.md)"),
        (name = "keys", description = "Who an API key belongs to and what it may do"),
        (name = "sites", description = "The sites (publications) of the installation; each site's API is served under `/sites/{site}/v1/…`, and the unprefixed `/v1/…` is the default site's"),
    )
)]
pub struct ApiDoc;

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: String| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        // One scheme per scope, all the same bearer key: OpenAPI lists scopes in a requirement for
        // OAuth only, so an operation admits a scope by naming its scheme.
        components.add_security_scheme(
            API_KEY_SCHEME,
            bearer(
                "An API key of any scope from `marginalia keys create`, sent as \
                 `Authorization: Bearer <key>`"
                    .to_owned(),
            ),
        );
        for scope in Scope::ALL {
            components.add_security_scheme(
                scope.scheme(),
                bearer(format!(
                    "An API key with scope `{scope}` from `marginalia keys create --scope {scope}`, \
                     sent as `Authorization: Bearer <key>`"
                )),
            );
        }
        components.add_security_scheme(
            "cms_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "webhook-signature",
                "A Standard Webhooks signature under a secret from MARGINALIA_CMS_WEBHOOK_SECRETS, \
                 with the `webhook-id` and `webhook-timestamp` headers it signs",
            ))),
        );
    }
}

/// What every operation shares, declared once: the `x-request-id` header on every response,
/// `Retry-After` on every 503, and `security: []` on operations anyone may call.
struct CommonHeaders;

impl Modify for CommonHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let string_header = |description: &str| {
            let mut header = Header::new(ObjectBuilder::new().schema_type(Type::String));
            header.description = Some(description.to_owned());
            RefOr::T(header)
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if operation.security.is_none() {
                    operation.security = Some(Vec::new());
                }
                for (status, response) in operation.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    response.headers.insert(
                        "x-request-id".to_owned(),
                        string_header("Identifies this request in the service's logs"),
                    );
                    if status == "503" {
                        response.headers.insert(
                            "Retry-After".to_owned(),
                            string_header("Seconds to wait before trying again"),
                        );
                    }
                }
            }
        }
    }
}

/// The policy of Swagger UI at `/docs/`: the strictest it renders under (checked in Chromium by
/// `tests/browser/docs.test.mjs`). Its files are all served from here and it runs no inline
/// script. It injects one fixed `<style>` element, allowed by its hash alone (Swagger UI 5.32.6,
/// as utoipa-swagger-ui 10 bundles it: an upgrade that changes it fails the browser test, which
/// prints the new hash); React sets other styles through the DOM, which `style-src` does not
/// govern, and its stylesheet draws icons from `data:` images. Calls go to this origin only.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// Gives the Swagger UI pages and assets (everything under `/docs`) their security headers: the
/// policy above, no framing (`frame-ancestors 'none'` and, for older browsers, `X-Frame-Options`),
/// no referrer and no content sniffing.
pub async fn docs_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let docs = req.path() == "/docs" || req.path().starts_with("/docs/");
    let mut response = next.call(req).await?;
    if docs {
        let headers = response.headers_mut();
        for (name, value) in [
            (header::CONTENT_SECURITY_POLICY, DOCS_CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    Ok(response)
}

/// The whole document, built from the same registration the server uses.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, document) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(super::routes)
        .split_for_parts();
    finish(document)
}

/// Adds what every operation shares to a document the routes produced.
pub fn finish(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    CommonHeaders.modify(&mut document);
    document.webhooks = Some(events::openapi_webhooks());
    // The rest reads the document as published (utoipa keeps parts of it private): worked on as
    // JSON and read back; tests/api/openapi.rs checks every part of it survives.
    let Ok(mut json) = serde_json::to_value(&document) else {
        return document;
    };
    plain_optional_headers(&mut json);
    describe_scopes(&mut json);
    examples::add_problem_examples(&mut json);
    serde_json::from_value(json).unwrap_or(document)
}

/// Every operation of the document as JSON.
fn operations(document: &mut Value) -> impl Iterator<Item = &mut Value> {
    document
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
}

/// A header is sent or not, never `null`: utoipa publishes an optional header as nullable, which
/// generated clients then send as the text "None".
fn plain_optional_headers(document: &mut Value) {
    for operation in operations(document) {
        let Some(parameters) = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for parameter in parameters.iter_mut().filter(|p| p["in"] == "header") {
            let schema_type = &mut parameter["schema"]["type"];
            if let Some(types) = schema_type.as_array() {
                let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                *schema_type = match types.as_slice() {
                    [single] => single.clone(),
                    _ => Value::Array(types),
                };
            }
        }
    }
}

/// The prose of the scopes each operation admits, from its machine-readable `security`.
fn describe_scopes(document: &mut Value) {
    for operation in operations(document) {
        let Some(admits) = Admits::published(&operation["security"]) else {
            continue;
        };
        let needs = match admits {
            Admits::AnyKey => "Needs an API key (any scope).".to_owned(),
            Admits::OneOf(scopes) => {
                let names: Vec<String> = scopes.iter().map(|s| format!("`{s}`")).collect();
                format!("Needs an API key with scope {}.", names.join(" or "))
            }
        };
        let description = operation["description"].as_str().unwrap_or_default();
        operation["description"] = if description.is_empty() {
            Value::String(needs)
        } else {
            Value::String(format!("{description}\n\n{needs}"))
        };
    }
}

/// The document as pretty JSON with a trailing newline, exactly as committed in `openapi/`.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    document().to_pretty_json().map(|json| json + "\n")
}
