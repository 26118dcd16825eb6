//! Sites: the publications one installation serves, each with its own articles and reviews.

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
