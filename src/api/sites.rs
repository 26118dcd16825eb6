//! The sites of the installation: listed and read by any key (each sees the sites it serves),
//! created and changed by an installation-wide `admin` key. Paths of the installation, not of
//! one site: the same under every site prefix.

use actix_web::http::header;
use actix_web::{get, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{Checked, CheckedBody};
use super::responses::{BadBody, BadParameter, KeyNeeded, KeyRequired, Unavailable};
use crate::auth::ApiCaller;
use crate::domain::mail::MailSettings;
use crate::domain::moderation::ModerationMode;
use crate::domain::reader::ReaderTokenSettings;
use crate::domain::site::{SiteId, SiteSettings, SiteSettingsRequest};
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::services;
use crate::sites::SiteDirectory;
use crate::state::AppState;
use crate::store;
use crate::store::sites::SiteRow;

/// A site of the installation. A setting that is `null` is the installation's (the environment
/// variable of the same name).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "site_id": "uk", "name": "BBC News Українська", "origins": ["https://www.bbc.com"],
    "languages": ["uk", "ru"], "moderation": "pre", "banned_terms": null, "max_links": null,
    "flag_threshold": 3, "newsroom_name": "Редакція", "own_cms_secrets": 1,
    "rate_limit_reviews": 5, "rate_limit_reactions": null,
    "created_at": "2026-12-05T09:00:00Z", "updated_at": "2026-12-05T09:00:00Z"
}))]
pub struct Site {
    pub site_id: String,
    pub name: String,
    pub origins: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub moderation: Option<ModerationMode>,
    pub banned_terms: Option<Vec<String>>,
    pub max_links: Option<i32>,
    pub flag_threshold: Option<i32>,
    pub newsroom_name: Option<String>,
    /// How many CMS secrets of its own the site has (never the secrets); null: the
    /// installation's.
    pub own_cms_secrets: Option<usize>,
    pub rate_limit_reviews: Option<i32>,
    pub rate_limit_reactions: Option<i32>,
    /// How the site's reader tokens are checked, the secrets counted (never shown); null: the
    /// site takes none.
    #[schema(value_type = Option<Object>)]
    pub reader_tokens: Option<serde_json::Value>,
    /// The site's mail settings (docs/email.md); null: the installation's sender, no digest.
    #[schema(value_type = Option<MailSettings>)]
    pub mail: Option<serde_json::Value>,
    /// Readers may send feedback without stars; null: no.
    pub unrated_reviews: Option<bool>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SiteRow> for Site {
    fn from(row: SiteRow) -> Self {
        Self {
            moderation: row
                .moderation
                .as_deref()
                .and_then(ModerationMode::from_stored),
            own_cms_secrets: row.cms_secrets.as_ref().map(Vec::len),
            site_id: row.site_id,
            name: row.name,
            origins: row.origins,
            languages: row.languages,
            banned_terms: row.banned_terms,
            max_links: row.max_links,
            flag_threshold: row.flag_threshold,
            newsroom_name: row.newsroom_name,
            rate_limit_reviews: row.rate_limit_reviews,
            rate_limit_reactions: row.rate_limit_reactions,
            reader_tokens: row
                .reader_tokens
                .and_then(|raw| serde_json::from_value::<ReaderTokenSettings>(raw).ok())
                .map(|settings| settings.shown()),
            mail: row.mail,
            unrated_reviews: row.unrated_reviews,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// The sites a key serves.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteList {
    pub items: Vec<Site>,
}

impl CheckedBody for SiteSettings {
    type Body = SiteSettingsRequest;
    fn check(body: SiteSettingsRequest) -> Result<Self, Vec<FieldError>> {
        SiteSettings::parse(body)
    }
}

fn serves(caller: &ApiCaller, site: &str) -> bool {
    caller
        .sites
        .as_ref()
        .is_none_or(|sites| sites.iter().any(|served| served == site))
}

/// List the sites your key serves.
///
/// Any key: an installation-wide key sees every site, a site's key the sites it was created for.
/// The editors' console builds its site switcher from this list.
#[utoipa::path(
    tag = "sites",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The sites, by id", body = SiteList),
        KeyNeeded, Unavailable,
    )
)]
#[get("/v1/sites")]
pub async fn list_sites(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<web::Json<SiteList>, ApiError> {
    let items = store::sites::list(&state.pool)
        .await?
        .into_iter()
        .filter(|row| serves(&caller, &row.site_id))
        .map(Site::from)
        .collect();
    Ok(web::Json(SiteList { items }))
}

/// Read one site and its settings.
///
/// Any key that serves the site; another site's is a 404, as is an unknown one.
#[utoipa::path(
    tag = "sites",
    params(("site_id" = String, Path, description = "The site's id", pattern = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$", min_length = 1, max_length = 32)),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The site", body = Site),
        (status = 404, description = "No such site (or not one this key serves)", body = crate::error::Problem, content_type = "application/problem+json"),
        BadParameter, KeyNeeded, Unavailable,
    )
)]
#[get("/v1/sites/{site_id}")]
pub async fn get_site(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: SiteId,
) -> Result<web::Json<Site>, ApiError> {
    store::sites::get(&state.pool, &id)
        .await?
        .filter(|row| serves(&caller, &row.site_id))
        .map(|row| web::Json(Site::from(row)))
        .ok_or_else(|| ApiError::NotFound(format!("there is no site `{id}`")))
}

/// Create a site, or change its settings.
///
/// For an installation-wide `admin` key (`marginalia keys create --scope admin` without
/// `--site`). Creates the site when it does not exist (then `name` is required) or changes the
/// members sent; a member left out stays as it is, `null` gives the setting back to the
/// installation's. The site's API is then served under `/sites/{site_id}/v1/…`.
#[utoipa::path(
    tag = "sites",
    params(("site_id" = String, Path, description = "The site's id: 1 to 32 lowercase letters, digits and inner hyphens", pattern = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$", min_length = 1, max_length = 32)),
    request_body(content = SiteSettingsRequest, content_type = "application/json"),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The site, changed", body = Site),
        (status = 201, description = "The site, created", body = Site,
         headers(("Location" = String, description = "URL of the site"))),
        BadBody, KeyRequired, Unavailable,
    )
)]
#[put("/v1/sites/{site_id}")]
pub async fn put_site(
    state: web::Data<AppState>,
    directory: web::Data<SiteDirectory>,
    caller: ApiCaller,
    id: SiteId,
    Checked(settings): Checked<SiteSettings>,
) -> Result<HttpResponse, ApiError> {
    caller.installation_admin()?;
    let (site, created) = services::sites::put(&state.pool, &id, &settings).await?;
    directory.forget();
    let mut response = if created {
        let mut created = HttpResponse::Created();
        created.insert_header((header::LOCATION, format!("/v1/sites/{id}")));
        created
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(Site::from(site)))
}
