//! The OpenAPI document, assembled from every handler's `utoipa::path`.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::{articles, health, reviews, stats};
use crate::domain::article::ArticleId;
use crate::domain::page::Sort;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Marginalia",
        description = "Reader reviews for news articles: readers rate and review, editors moderate, \
                       the CMS registers articles. Errors are RFC 9457 `application/problem+json`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    paths(
        reviews::create_review,
        reviews::list_reviews,
        reviews::get_review,
        articles::put_article,
        articles::get_article,
        stats::article_stats,
        stats::bulk_stats,
        health::healthz,
        health::readyz,
    ),
    components(schemas(ArticleId, Sort)),
    modifiers(&ApiKeyScheme),
    tags(
        (name = "reviews", description = "Submit and read reader reviews"),
        (name = "articles", description = "Articles registered by the CMS"),
        (name = "stats", description = "Rating counts and averages"),
        (name = "operations", description = "Probes for operators"),
    )
)]
pub struct ApiDoc;

/// The article id rules, published from the same constants the parser uses.
impl PartialSchema for ArticleId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "The CMS's own article id: 1–128 characters of letters, digits and . _ : ~ -",
            ))
            .min_length(Some(1))
            .max_length(Some(ArticleId::MAX_LEN))
            .pattern(Some(ArticleId::PATTERN))
            .examples(["voa-2020-05-iskp-attacks"])
            .into()
    }
}

impl ToSchema for ArticleId {}

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from `marginalia keys create`, sent as `Authorization: Bearer <key>`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a trailing newline, exactly as committed in `openapi/`.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    ApiDoc::openapi().to_pretty_json().map(|json| json + "\n")
}
