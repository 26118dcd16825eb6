//! Readers' data rights, for administrators: erasing an author's reviews, and exporting reviews.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Checked, CheckedBody, ExportQueryParams};
use super::responses::{BadBody, BadParameter, KeyRequired, Unavailable};
use super::streaming::{inert, keyset_batches};
use crate::api::extract::SiteState;
use crate::auth::ApiCaller;
use crate::db::Pool;
use crate::domain::article::ArticleId;
use crate::domain::editorial::parse_erasure;
pub use crate::domain::query::ExportFormat;
use crate::domain::query::{ExportFilter, ExportQuery};
use crate::domain::review::{AuthorEmail, Rating, ReviewStatus};
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::services;
use crate::sites::SiteDirectory;
use crate::state::AppState;
use crate::store;
use crate::store::data_rights::ExportRow;

/// Whose reviews to erase.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"author_email": "olena.k@example.com"}))]
pub struct ErasureRequest {
    /// Compared case-insensitively.
    #[schema(value_type = AuthorEmail)]
    pub author_email: Option<String>,
}

/// What an erasure removed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"erased": 2}))]
pub struct ErasureResult {
    /// Reviews whose text and personal fields were removed (now `deleted`).
    pub erased: usize,
}

/// Erase an author's reviews.
///
/// Every review written under the email: title, body, name, email and the newsroom's reply are
/// removed, the reviews become `deleted`, stats are corrected, and copies of the texts in
/// undelivered and retained outbound events are scrubbed, all in one transaction. The audit log
/// keeps one `erase` entry per review, without the email. Needs scope `admin`.
#[utoipa::path(
    tag = "data rights",
    request_body(content = ErasureRequest, content_type = "application/json"),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Erased", body = ErasureResult),
        BadBody, KeyRequired, Unavailable,
    )
)]
#[post("/v1/data-rights/erasures")]
pub async fn erase(
    state: SiteState,
    caller: ApiCaller,
    Checked(email): Checked<AuthorEmail>,
) -> Result<web::Json<ErasureResult>, ApiError> {
    let erased = services::data_rights::erase(&state, &caller.key_name, &email).await?;
    Ok(web::Json(ErasureResult { erased }))
}

impl CheckedBody for AuthorEmail {
    type Body = ErasureRequest;
    fn check(body: ErasureRequest) -> Result<Self, Vec<FieldError>> {
        parse_erasure(body.author_email.as_deref())
    }
}

/// One exported review. `marginalia import marginalia <file>` reads the NDJSON form back
/// (docs/import.md), so every public field, the moderation state and the counters are here.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedReview {
    pub id: Uuid,
    pub article_id: String,
    /// Null: no stars.
    pub rating: Option<i16>,
    pub title: Option<String>,
    pub body: String,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub language: Option<String>,
    pub status: String,
    pub reasons: String,
    pub helpful_count: i32,
    pub unhelpful_count: i32,
    pub flag_count: i32,
    pub reply: Option<String>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub erased_at: Option<DateTime<Utc>>,
    /// The site the review belongs to.
    pub site_id: String,
    /// The verified reader who wrote it (the site login's id); null: anonymous.
    pub reader_id: Option<String>,
    /// That reader's badges when they wrote it, separated by spaces.
    pub reader_badges: String,
    /// The article's title and address as the CMS registered them; null when it gave none.
    pub article_title: Option<String>,
    pub article_url: Option<String>,
    /// The review this one answers; null for a review of the article itself.
    pub in_reply_to: Option<Uuid>,
    pub reply_created_at: Option<DateTime<Utc>>,
    pub reply_updated_at: Option<DateTime<Utc>>,
}

impl From<ExportRow> for ExportedReview {
    fn from(row: ExportRow) -> Self {
        let review = row.review;
        let public = review.public;
        Self {
            id: public.id,
            article_id: public.article_id,
            article_title: row.article_title,
            article_url: row.article_url,
            in_reply_to: public.in_reply_to,
            rating: Rating::from_stored(public.rating),
            title: public.title,
            body: public.body,
            author_name: public.author_name,
            author_email: review.author_email,
            language: public.language,
            status: public.status,
            reasons: review.reasons.join(" "),
            helpful_count: public.helpful_count,
            unhelpful_count: public.unhelpful_count,
            flag_count: review.flag_count,
            reply: public.reply_body,
            reply_created_at: public.reply_created_at,
            reply_updated_at: public.reply_updated_at,
            created_at: public.created_at,
            edited_at: public.edited_at,
            updated_at: review.updated_at,
            erased_at: review.erased_at,
            site_id: row.site_id,
            reader_id: public.reader_id,
            reader_badges: public.reader_badges.join(" "),
        }
    }
}

impl ExportedReview {
    /// Readers' texts made inert for spreadsheets.
    fn for_spreadsheets(mut self) -> Self {
        for text in [&mut self.body, &mut self.reasons, &mut self.reader_badges] {
            inert(text);
        }
        for text in [
            &mut self.title,
            &mut self.author_name,
            &mut self.author_email,
            &mut self.reply,
            &mut self.article_title,
            &mut self.reader_id,
        ]
        .into_iter()
        .flatten()
        {
            inert(text);
        }
        self
    }
}

/// Encodes one batch of an export.
fn encode(format: ExportFormat, rows: Vec<ExportRow>, header: bool) -> Result<Bytes, String> {
    match format {
        ExportFormat::Ndjson => {
            let mut out = Vec::new();
            for row in rows {
                serde_json::to_writer(&mut out, &ExportedReview::from(row))
                    .map_err(|error| error.to_string())?;
                out.push(b'\n');
            }
            Ok(Bytes::from(out))
        }
        ExportFormat::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .has_headers(header)
                .from_writer(Vec::new());
            for row in rows {
                writer
                    .serialize(ExportedReview::from(row).for_spreadsheets())
                    .map_err(|error| error.to_string())?;
            }
            writer
                .into_inner()
                .map(Bytes::from)
                .map_err(|error| error.to_string())
        }
    }
}

/// Export reviews.
///
/// Every review (any status, with the author's email) matching the filters, in id order, as
/// NDJSON or CSV, streamed in batches of 1,000 rows: memory stays flat whatever the size. Needs
/// scope `admin`. A failure mid-stream ends the response early (the last line is then
/// incomplete or missing), never silently.
#[utoipa::path(
    tag = "data rights",
    params(
        ("format" = Option<ExportFormat>, Query, description = "Default `ndjson`"),
        ("article_id" = Option<ArticleId>, Query, description = "Only this article's reviews"),
        ("author_email" = Option<AuthorEmail>, Query, description = "Only this author's reviews (compared case-insensitively)"),
        ("status" = Option<ReviewStatus>, Query, description = "Only reviews in this status"),
        ("since" = Option<DateTime<Utc>>, Query, description = "Only reviews created at or after this time (RFC 3339)"),
    ),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The reviews", content(
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        BadParameter, KeyRequired, Unavailable,
    )
)]
#[get("/v1/exports/reviews")]
pub async fn export(
    state: SiteState,
    caller: ApiCaller,
    ExportQueryParams(query): ExportQueryParams,
) -> Result<HttpResponse, ApiError> {
    stream_export(state.pool.clone(), &caller, query).await
}

/// Answers an export of what `pool` sees: one site's reviews, or every site's.
async fn stream_export(
    pool: Pool,
    caller: &ApiCaller,
    query: ExportQuery,
) -> Result<HttpResponse, ApiError> {
    let ExportQuery { filter, format } = query;
    // The first batch is read before answering, so an unavailable database is still a 503.
    let first = store::data_rights::export_batch(&pool, &filter, None).await?;
    tracing::info!(key = %caller.key_name, ?format, scope = ?pool.scope(), "reviews export started");
    let content_type = match format {
        ExportFormat::Ndjson => "application/x-ndjson",
        ExportFormat::Csv => "text/csv; charset=utf-8",
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(export_batches(pool, filter, format, first)))
}

/// Export reviews of every site.
///
/// The same export as `GET /v1/exports/reviews`, over every site of the installation, each
/// review with its `site_id`: with `author_email`, everything a reader wrote anywhere, as a
/// data-rights request for access needs. For an installation-wide `admin` key (created without
/// `--site`); the same under every site prefix.
#[utoipa::path(
    tag = "data rights",
    params(
        ("format" = Option<ExportFormat>, Query, description = "Default `ndjson`"),
        ("article_id" = Option<ArticleId>, Query, description = "Only reviews of articles with this id (in any site)"),
        ("author_email" = Option<AuthorEmail>, Query, description = "Only this author's reviews (compared case-insensitively)"),
        ("status" = Option<ReviewStatus>, Query, description = "Only reviews in this status"),
        ("since" = Option<DateTime<Utc>>, Query, description = "Only reviews created at or after this time (RFC 3339)"),
    ),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The reviews of every site", content(
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        BadParameter, KeyRequired, Unavailable,
    )
)]
#[get("/v1/installation/exports/reviews")]
pub async fn export_everywhere(
    installation: web::Data<AppState>,
    caller: ApiCaller,
    ExportQueryParams(query): ExportQueryParams,
) -> Result<HttpResponse, ApiError> {
    caller.installation_admin()?;
    stream_export(installation.pool.installation(), &caller, query).await
}

/// What an erasure in every site removed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"erased": 3, "sites": [
    {"site_id": "default", "erased": 2}, {"site_id": "uk", "erased": 1}, {"site_id": "fa", "erased": 0}
]}))]
pub struct InstallationErasureResult {
    /// Reviews erased in all sites together.
    pub erased: usize,
    /// Every site, in id order, with how many of its reviews were erased.
    pub sites: Vec<SiteErasure>,
}

/// What an erasure removed in one site.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteErasure {
    pub site_id: String,
    pub erased: usize,
}

/// Erase an author's reviews in every site.
///
/// The erasure of `POST /v1/data-rights/erasures`, in every site of the installation, as a
/// reader's data-rights request needs. Each site is erased in a transaction of its own; should
/// the database fail partway (a 503), the sites already done stay erased and the same request
/// again completes the rest. For an installation-wide `admin` key (created without `--site`);
/// the same under every site prefix.
#[utoipa::path(
    tag = "data rights",
    request_body(content = ErasureRequest, content_type = "application/json"),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Erased", body = InstallationErasureResult),
        BadBody, KeyRequired, Unavailable,
    )
)]
#[post("/v1/installation/erasures")]
pub async fn erase_everywhere(
    directory: web::Data<SiteDirectory>,
    caller: ApiCaller,
    Checked(email): Checked<AuthorEmail>,
) -> Result<web::Json<InstallationErasureResult>, ApiError> {
    caller.installation_admin()?;
    let erased =
        services::data_rights::erase_everywhere(&directory, &caller.key_name, &email).await?;
    Ok(web::Json(InstallationErasureResult {
        erased: erased.iter().map(|(_, n)| n).sum(),
        sites: erased
            .into_iter()
            .map(|(site, erased)| SiteErasure {
                site_id: site.to_string(),
                erased,
            })
            .collect(),
    }))
}

/// The export from its first batch on, each next batch read as the client takes the previous
/// one.
fn export_batches(
    pool: Pool,
    filter: ExportFilter,
    format: ExportFormat,
    first: Vec<ExportRow>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    keyset_batches(
        first,
        usize::try_from(store::data_rights::EXPORT_BATCH).unwrap_or(0),
        |row: &ExportRow| row.review.public.id,
        move |after| {
            let (pool, filter) = (pool.clone(), filter.clone());
            async move { store::data_rights::export_batch(&pool, &filter, Some(after)).await }
        },
        move |rows, first_batch| encode(format, rows, first_batch),
    )
}
