//! An installation admin's changes to sites (through the API or `marginalia sites put`): create
//! one, or change its settings. Serving nodes read the change within `sites::FRESH_FOR` (the
//! node that took an API request at once).

use super::ServiceError;
use crate::db::Pool;
use crate::domain::site::{SiteId, SiteSettings};
use crate::domain::{FieldError, FieldErrorCode};
use crate::store::sites::{self, SiteChange, SiteRow};

/// Creates the site with these settings (its name is then required) or changes the settings
/// sent; returns the site and whether it was created.
pub async fn put(
    pool: &Pool,
    id: &SiteId,
    settings: &SiteSettings,
) -> Result<(SiteRow, bool), ServiceError> {
    let mut created = false;
    if sites::get(pool, id).await?.is_none() {
        let Some(name) = &settings.name else {
            return Err(ServiceError::Invalid(vec![FieldError::new(
                "name",
                FieldErrorCode::Required,
                "a new site needs a name",
            )]));
        };
        created = sites::create(pool, id, name).await?.is_some();
    }
    let site = sites::update(pool, id, &change_of(settings))
        .await?
        .ok_or_else(|| {
            ServiceError::Invalid(vec![FieldError::new(
                "site_id",
                FieldErrorCode::Unknown,
                "the site was removed meanwhile",
            )])
        })?;
    Ok((site, created))
}

fn change_of(settings: &SiteSettings) -> SiteChange {
    let number =
        |n: &Option<Option<u32>>| n.map(|n| n.map(|n| i32::try_from(n).unwrap_or(i32::MAX)));
    SiteChange {
        name: settings.name.clone(),
        origins: settings.origins.clone(),
        languages: settings.languages.clone(),
        moderation: settings
            .moderation
            .map(|mode| mode.map(|mode| mode.as_str().to_owned())),
        banned_terms: settings.banned_terms.clone(),
        max_links: number(&settings.max_links),
        flag_threshold: number(&settings.flag_threshold),
        newsroom_name: settings.newsroom_name.clone(),
        cms_secrets: settings.cms_secrets.clone(),
        rate_limit_reviews: number(&settings.rate_limit_reviews),
        rate_limit_reactions: number(&settings.rate_limit_reactions),
        reader_tokens: settings.reader_tokens.as_ref().map(|tokens| {
            tokens
                .as_ref()
                .and_then(|tokens| serde_json::to_value(tokens).ok())
        }),
        mail: settings.mail.as_ref().map(|mail| {
            mail.as_ref()
                .and_then(|mail| serde_json::to_value(mail).ok())
        }),
        unrated_reviews: settings.unrated_reviews,
    }
}
