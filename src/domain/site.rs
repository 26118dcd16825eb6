//! Sites: the publications one installation serves, each with its own articles and reviews.

use serde::Deserialize;
use utoipa::ToSchema;

use super::article::present;
use super::language::LanguageDetector;
use super::mail::MailSettings;
use super::moderation::ModerationMode;
use super::reader::ReaderTokenSettings;
use super::text;
use super::{FieldError, FieldErrorCode};

/// A site's id, a slug: 1 to `MAX_LEN` lowercase ASCII letters, digits and inner hyphens. It
/// appears in paths and in every row the site owns (the database checks the same pattern).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteId(String);

impl SiteId {
    pub const MAX_LEN: usize = 32;
    pub const PATTERN: &'static str = "^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$";
    /// The site an installation's existing data and today's unprefixed paths belong to.
    pub const DEFAULT: &'static str = "default";

    /// Accepts exactly the slugs `PATTERN` allows; `field` names where the id came from.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(FieldError::new(
                field,
                FieldErrorCode::Length,
                format!("must be 1 to {} characters", Self::MAX_LEN),
            ));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if !raw.chars().all(allowed) || raw.starts_with('-') || raw.ends_with('-') {
            return Err(FieldError::new(
                field,
                FieldErrorCode::Format,
                "may contain only lowercase letters, digits and hyphens, not first or last",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The default site.
    pub fn default_site() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SiteId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A site's settings as an installation admin sends them (`POST /v1/sites`, `PATCH
/// /v1/sites/{site_id}`). A member left out is left as it is; `null` gives the setting back to
/// the installation's (the environment variable of the same name).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteSettingsRequest {
    /// The site's name, as editors see it in the console.
    #[schema(min_length = 1, max_length = 200, example = "BBC News Українська")]
    pub name: Option<String>,
    /// The origins whose pages may call this site's API from a browser (CORS and the widget),
    /// such as `https://www.bbc.com`, or `*`; null: MARGINALIA_CORS_ORIGINS.
    #[schema(value_type = Option<Vec<String>>, max_items = 20)]
    #[serde(default, deserialize_with = "present")]
    pub origins: Option<Option<Vec<String>>>,
    /// The languages a review without one may be detected as (ISO 639-1); null:
    /// MARGINALIA_DETECT_LANGUAGES.
    #[schema(value_type = Option<Vec<String>>, max_items = 69)]
    #[serde(default, deserialize_with = "present")]
    pub languages: Option<Option<Vec<String>>>,
    /// When new reviews become public; null: MARGINALIA_MODERATION.
    #[schema(value_type = Option<ModerationMode>)]
    #[serde(default, deserialize_with = "present")]
    pub moderation: Option<Option<ModerationMode>>,
    /// Terms that hold a review for moderation; null: MARGINALIA_BANNED_TERMS (and its file).
    #[schema(value_type = Option<Vec<String>>, max_items = 1000)]
    #[serde(default, deserialize_with = "present")]
    pub banned_terms: Option<Option<Vec<String>>>,
    /// More links than this in a review holds it; null: MARGINALIA_MAX_LINKS.
    #[schema(value_type = Option<u32>, maximum = 100)]
    #[serde(default, deserialize_with = "present")]
    pub max_links: Option<Option<u32>>,
    /// Flags from distinct readers that take a review back to the queue; null:
    /// MARGINALIA_FLAG_THRESHOLD.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "present")]
    pub flag_threshold: Option<Option<u32>>,
    /// The name the newsroom's replies are shown under; null: MARGINALIA_NEWSROOM_NAME.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    #[serde(default, deserialize_with = "present")]
    pub newsroom_name: Option<Option<String>>,
    /// The `whsec_…` secrets the site's CMS signs its events with (write only: never shown);
    /// null: MARGINALIA_CMS_WEBHOOK_SECRETS.
    #[schema(value_type = Option<Vec<String>>, min_items = 1, max_items = 5)]
    #[serde(default, deserialize_with = "present")]
    pub cms_secrets: Option<Option<Vec<String>>>,
    /// Reviews (submissions, edits, deletions) one client address may send this site a minute,
    /// 0 for no limit; the site then counts them apart from other sites. null:
    /// MARGINALIA_RATE_LIMIT_REVIEWS, counted with the other sites that have no limit of their own.
    #[schema(value_type = Option<u32>, maximum = 100000)]
    #[serde(default, deserialize_with = "present")]
    pub rate_limit_reviews: Option<Option<u32>>,
    /// Votes and flags one client address may send this site a minute, 0 for no limit (counted
    /// apart from other sites); null: MARGINALIA_RATE_LIMIT_REACTIONS.
    #[schema(value_type = Option<u32>, maximum = 100000)]
    #[serde(default, deserialize_with = "present")]
    pub rate_limit_reactions: Option<Option<u32>>,
    /// How the tokens of the site's signed-in readers are checked (docs/readers.md); null: the
    /// site takes no reader tokens, every review is anonymous.
    #[schema(value_type = Option<ReaderTokenSettings>)]
    #[serde(default, deserialize_with = "present")]
    pub reader_tokens: Option<Option<ReaderTokenSettings>>,
    /// The site's sender, the language of its messages and its moderators' digest
    /// (docs/email.md); null: the installation's sender, no digest.
    #[schema(value_type = Option<MailSettings>)]
    #[serde(default, deserialize_with = "present")]
    pub mail: Option<Option<MailSettings>>,
    /// Readers may send feedback without stars (`rating` left out); it is listed with
    /// `rating: null` and left out of averages and histograms. null: no, a rating is required.
    #[schema(value_type = Option<bool>)]
    #[serde(default, deserialize_with = "present")]
    pub unrated_reviews: Option<Option<bool>>,
}

/// Checked site settings; the same members as `SiteSettingsRequest`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteSettings {
    pub name: Option<String>,
    pub origins: Option<Option<Vec<String>>>,
    pub languages: Option<Option<Vec<String>>>,
    pub moderation: Option<Option<ModerationMode>>,
    pub banned_terms: Option<Option<Vec<String>>>,
    pub max_links: Option<Option<u32>>,
    pub flag_threshold: Option<Option<u32>>,
    pub newsroom_name: Option<Option<String>>,
    pub cms_secrets: Option<Option<Vec<String>>>,
    pub rate_limit_reviews: Option<Option<u32>>,
    pub rate_limit_reactions: Option<Option<u32>>,
    pub reader_tokens: Option<Option<ReaderTokenSettings>>,
    pub mail: Option<Option<MailSettings>>,
    pub unrated_reviews: Option<Option<bool>>,
}

/// Limits of a site's settings, each published into the schema above.
pub const NAME_MAX_CHARS: usize = 200;
pub const MAX_ORIGINS: usize = 20;
/// As many as the language detector knows.
pub const MAX_LANGUAGES: usize = 69;
pub const MAX_BANNED_TERMS: usize = 1000;
pub const BANNED_TERM_MAX_CHARS: usize = 100;
pub const MAX_LINKS_LIMIT: u32 = 100;
pub const FLAG_THRESHOLD_MAX: u32 = 1000;
pub const MAX_CMS_SECRETS: usize = 5;
/// The highest per-minute rate limit a site may set (the database checks the same bound).
pub const RATE_LIMIT_MAX: u32 = 100_000;

impl SiteSettings {
    /// Checks every member, naming each one that is wrong.
    pub fn parse(request: SiteSettingsRequest) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = request
            .name
            .and_then(|name| keep(&mut errors, display_name("name", &name)));
        let origins = request
            .origins
            .map(|origins| origins.and_then(|list| keep(&mut errors, origin_list(&list))));
        let languages = request.languages.map(|languages| {
            languages.and_then(|list| {
                if list.len() > MAX_LANGUAGES {
                    let error = FieldError::new(
                        "languages",
                        FieldErrorCode::TooMany,
                        format!("at most {MAX_LANGUAGES} languages"),
                    );
                    return keep(&mut errors, Err(error));
                }
                let checked = LanguageDetector::among(&list)
                    .map(|_| list.iter().map(|code| code.trim().to_owned()).collect())
                    .map_err(|message| {
                        FieldError::new("languages", FieldErrorCode::Format, message)
                    });
                keep(&mut errors, checked)
            })
        });
        let banned_terms = request
            .banned_terms
            .map(|terms| terms.and_then(|list| keep(&mut errors, banned_term_list(&list))));
        let max_links = request.max_links.map(|limit| {
            limit.and_then(|n| keep(&mut errors, at_most("max_links", n, 0, MAX_LINKS_LIMIT)))
        });
        let flag_threshold = request.flag_threshold.map(|limit| {
            limit.and_then(|n| {
                keep(
                    &mut errors,
                    at_most("flag_threshold", n, 1, FLAG_THRESHOLD_MAX),
                )
            })
        });
        let newsroom_name = request.newsroom_name.map(|name| {
            name.and_then(|name| keep(&mut errors, display_name("newsroom_name", &name)))
        });
        let cms_secrets = request
            .cms_secrets
            .map(|secrets| secrets.and_then(|list| keep(&mut errors, secret_list(&list))));
        let mut rate_limit = |field: &str, limit: Option<Option<u32>>| {
            limit.map(|limit| {
                limit.and_then(|n| keep(&mut errors, at_most(field, n, 0, RATE_LIMIT_MAX)))
            })
        };
        let rate_limit_reviews = rate_limit("rate_limit_reviews", request.rate_limit_reviews);
        let rate_limit_reactions = rate_limit("rate_limit_reactions", request.rate_limit_reactions);
        let reader_tokens = checked(
            &mut errors,
            request.reader_tokens,
            ReaderTokenSettings::check,
        );
        let mail = checked(&mut errors, request.mail, MailSettings::check);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            name,
            origins,
            languages,
            moderation: request.moderation,
            banned_terms,
            max_links,
            flag_threshold,
            newsroom_name,
            cms_secrets,
            rate_limit_reviews,
            rate_limit_reactions,
            reader_tokens,
            mail,
            unrated_reviews: request.unrated_reviews,
        })
    }
}

/// A settings object as `check` finds it (its errors collected), left out or null as sent.
fn checked<T>(
    errors: &mut Vec<FieldError>,
    member: Option<Option<T>>,
    check: impl FnOnce(T) -> Result<T, Vec<FieldError>>,
) -> Option<Option<T>> {
    member.map(|settings| {
        settings.and_then(|settings| match check(settings) {
            Ok(settings) => Some(settings),
            Err(found) => {
                errors.extend(found);
                None
            }
        })
    })
}

fn keep<T>(errors: &mut Vec<FieldError>, checked: Result<T, FieldError>) -> Option<T> {
    checked.map_err(|error| errors.push(error)).ok()
}

/// Text of a person's writing: normalized, 1 to `max_chars` characters, no control characters.
fn free_text(field: &str, raw: &str, max_chars: usize) -> Result<String, FieldError> {
    text::free_text(raw, max_chars, &[]).map_err(|rule| FieldError::broke(field, &rule))
}

fn display_name(field: &str, raw: &str) -> Result<String, FieldError> {
    free_text(field, raw, NAME_MAX_CHARS)
}

fn at_most(field: &str, n: u32, min: u32, max: u32) -> Result<u32, FieldError> {
    if !(min..=max).contains(&n) {
        return Err(FieldError::new(
            field,
            FieldErrorCode::Range,
            format!("must be {min} to {max}"),
        ));
    }
    Ok(n)
}

fn origin_list(raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > MAX_ORIGINS {
        return Err(FieldError::new(
            "origins",
            FieldErrorCode::TooMany,
            format!("at most {MAX_ORIGINS} origins"),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(index, origin)| {
            normalized_origin(origin).ok_or_else(|| {
                FieldError::new(
                    format!("origins[{index}]"),
                    FieldErrorCode::Format,
                    "must be an origin such as https://news.example.org, or *",
                )
            })
        })
        .collect()
}

fn banned_term_list(raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > MAX_BANNED_TERMS {
        return Err(FieldError::new(
            "banned_terms",
            FieldErrorCode::TooMany,
            format!("at most {MAX_BANNED_TERMS} terms"),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(index, term)| {
            free_text(
                &format!("banned_terms[{index}]"),
                term,
                BANNED_TERM_MAX_CHARS,
            )
        })
        .collect()
}

fn secret_list(raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.is_empty() || raw.len() > MAX_CMS_SECRETS {
        return Err(FieldError::new(
            "cms_secrets",
            FieldErrorCode::Length,
            format!("1 to {MAX_CMS_SECRETS} secrets, or null for the installation's"),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(index, secret)| {
            super::webhook::decode_secret(secret)
                .map(|_| secret.trim().to_owned())
                .map_err(|message| {
                    FieldError::new(
                        format!("cms_secrets[{index}]"),
                        FieldErrorCode::Format,
                        message,
                    )
                })
        })
        .collect()
}

/// An origin without blanks and trailing slash (`https://news.example.org`), or `*`; `None` for
/// anything else. The one check of origins, for the settings and for each site's.
pub fn normalized_origin(raw: &str) -> Option<String> {
    let origin = raw.trim().trim_end_matches('/');
    let looks_like_origin = origin == "*"
        || ((origin.starts_with("http://") || origin.starts_with("https://"))
            && !origin["https://".len() - 1..]
                .trim_start_matches('/')
                .contains('/'));
    looks_like_origin.then(|| origin.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_of_the_pattern_are_sites() {
        for slug in [
            "default",
            "uk",
            "bbc-ukrainian",
            "a",
            "x1-2",
            &"a".repeat(32),
        ] {
            assert_eq!(
                SiteId::parse(slug, "site").map(|s| s.0),
                Ok(slug.to_owned())
            );
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_field_named() {
        for slug in [
            "",
            "UK",
            "-uk",
            "uk-",
            "u k",
            "ук",
            "*",
            "uk_1",
            &"a".repeat(33),
        ] {
            let refused = SiteId::parse(slug, "site").expect_err(slug);
            assert_eq!(refused.field, "site", "{slug}");
        }
    }

    #[test]
    fn the_default_site_is_a_valid_slug() {
        assert_eq!(
            SiteId::parse(SiteId::DEFAULT, "site"),
            Ok(SiteId::default_site())
        );
    }
}
