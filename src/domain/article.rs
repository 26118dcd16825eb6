//! Articles as the CMS describes them.

use std::fmt;

use chrono::{DateTime, Utc};
use validator::Validate;

use super::FieldError;
use super::{text, time};

/// The CMS's own opaque article id: 1–128 characters of `[A-Za-z0-9._:~-]`, not all dots (`.` and
/// `..` are path segments that HTTP clients resolve away, so a review for `..` would land elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArticleId(String);

impl ArticleId {
    pub const MAX_LEN: usize = 128;
    /// At least one character that is not a dot; the length is published as min/max length.
    pub const PATTERN: &'static str = "^[A-Za-z0-9._:~-]*[A-Za-z0-9_:~-][A-Za-z0-9._:~-]*$";

    /// Accepts exactly the ids the pattern allows; `field` names where the id came from.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._:~-".contains(c);
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(FieldError::new(
                field,
                "length",
                format!("must be 1 to {} characters", Self::MAX_LEN),
            ));
        }
        if !raw.chars().all(allowed) {
            return Err(FieldError::new(
                field,
                "format",
                "may contain only letters, digits and . _ : ~ -",
            ));
        }
        if raw.bytes().all(|byte| byte == b'.') {
            return Err(FieldError::new(
                field,
                "format",
                "must not consist only of dots",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for ArticleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the CMS may say about an article, as received.
#[derive(Debug, Clone, Default)]
pub struct ArticleInput {
    pub title: Option<String>,
    pub url: Option<String>,
    pub language: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub reviews_open: Option<bool>,
}

/// A checked, normalized article description ready to store.
#[derive(Debug, Clone, PartialEq, Validate)]
pub struct ArticleUpsert {
    #[validate(
        custom(function = "title_length"),
        custom(function = "text::no_control_chars")
    )]
    pub title: Option<String>,
    #[validate(custom(function = "web_url"))]
    pub url: Option<String>,
    #[validate(custom(function = "text::bcp47"))]
    pub language: Option<String>,
    #[validate(custom(function = "time::storable"))]
    pub published_at: Option<DateTime<Utc>>,
    pub reviews_open: bool,
}

pub const ARTICLE_TITLE_MAX: usize = 500;
pub const ARTICLE_URL_MAX: usize = 2048;

fn title_length(title: &str) -> Result<(), validator::ValidationError> {
    text::char_length(title, 1, ARTICLE_TITLE_MAX)
}

/// An absolute http(s) URL: no whitespace, control characters, credentials or characters RFC 3986
/// never allows (`"<>\\^`{|}`); non-ASCII letters (IRIs) are fine. The OpenAPI document publishes
/// this pattern; the code also requires the `url` crate to parse it with a host.
pub const WEB_URL_PATTERN: &str = r#"^https?://[^\s\u0000-\u001F\u007F-\u009F/?#@"<>\\^`{|}]+([/?#][^\s\u0000-\u001F\u007F-\u009F"<>\\^`{|}]*)?$"#;

static WEB_URL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    // The pattern is a constant checked by the unit tests below.
    regex::Regex::new(WEB_URL_PATTERN).unwrap_or_else(|error| panic!("WEB_URL_PATTERN: {error}"))
});

fn web_url(url: &str) -> Result<(), validator::ValidationError> {
    let parses = || {
        url::Url::parse(url).is_ok_and(|parsed| {
            matches!(parsed.scheme(), "http" | "https")
                && parsed.host().is_some()
                && parsed.username().is_empty()
                && parsed.password().is_none()
        })
    };
    if url.chars().count() <= ARTICLE_URL_MAX && WEB_URL.is_match(url) && parses() {
        Ok(())
    } else {
        let mut error = validator::ValidationError::new("format");
        error.message = Some(
            format!(
                "must be an absolute http(s) URL without credentials, spaces or markup, \
                 of at most {ARTICLE_URL_MAX} characters"
            )
            .into(),
        );
        Err(error)
    }
}

impl ArticleUpsert {
    /// Normalizes the CMS's description and checks it; reviews stay open unless said otherwise.
    pub fn parse(input: ArticleInput) -> Result<Self, Vec<FieldError>> {
        let upsert = Self {
            title: text::normalize_optional(input.title.as_deref()),
            // Machine fields: checked as sent, never trimmed into validity.
            url: input.url,
            language: input.language,
            published_at: input.published_at,
            reviews_open: input.reviews_open.unwrap_or(true),
        };
        upsert
            .validate()
            .map_err(|errors| FieldError::from_validation(&errors))?;
        Ok(Self {
            language: upsert.language.as_deref().map(text::canonical_language),
            ..upsert
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn article_ids_follow_the_pattern() {
        for good in [
            "voa-2020-05-iskp-attacks",
            "a",
            "cms:42",
            "x.y_z~1",
            &"a".repeat(128),
        ] {
            assert!(ArticleId::parse(good, "article_id").is_ok(), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "../etc",
            "пост",
            "a b",
            "%2F",
            ".",
            "..",
            "...",
            &"a".repeat(129),
        ] {
            let error = ArticleId::parse(bad, "article_id").unwrap_err();
            assert_eq!(error.field, "article_id", "{bad}");
        }
    }

    #[test]
    fn urls_must_be_absolute_http() {
        for good in [
            "https://news.example.org/a/1",
            "http://localhost:8080/x?y=1#z",
            "https://news.example.org/новини/1",
            "https://новини.укр/a?q=%D0%B0",
        ] {
            assert!(web_url(good).is_ok(), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "https://",
            "https:// spaced",
            "ftp://x",
            "/relative",
            "https://news.example.org/a\u{0}b",
            "https://news.example.org/a\"><script>",
            "https://user:pass@news.example.org/",
            "https://user@news.example.org/",
            "https://news.example.org:99999/",
            "https://news.example.org/a\tb",
        ] {
            assert!(web_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn article_descriptions_are_checked() {
        let ok = ArticleUpsert::parse(ArticleInput {
            title: Some("  Pushed to the Brink  ".into()),
            url: Some("https://news.example.org/a/1".into()),
            language: Some("en-gb".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.title.as_deref(), Some("Pushed to the Brink"));
        assert_eq!(ok.language.as_deref(), Some("en-GB"));
        assert!(ok.reviews_open);

        let errors = ArticleUpsert::parse(ArticleInput {
            url: Some("javascript:alert(1)".into()),
            language: Some("english please".into()),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["language", "url"]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn url_like() -> impl Strategy<Value = String> {
            let pieces = prop::sample::select(vec![
                "https://",
                "http://",
                "news.example.org",
                "/",
                "a",
                "ї",
                "?",
                "#",
                "@",
                ":",
                "\0",
                " ",
                "\"",
                "<",
                "%",
                "[",
                "]",
                "99999",
                ".",
                "\t",
            ]);
            prop_oneof![
                any::<String>(),
                prop::collection::vec(pieces, 0..12).prop_map(|parts| parts.concat()),
            ]
        }

        proptest! {
            #[test]
            fn any_article_id_is_valid_or_a_field_error(raw in any::<String>()) {
                match ArticleId::parse(&raw, "article_id") {
                    Ok(id) => {
                        let pattern = regex::Regex::new(ArticleId::PATTERN).unwrap();
                        prop_assert!(pattern.is_match(id.as_str()));
                        prop_assert!(id.as_str().len() <= ArticleId::MAX_LEN);
                    }
                    Err(error) => prop_assert_eq!(error.field, "article_id"),
                }
            }

            #[test]
            fn any_description_is_storable_or_named_errors(
                title in prop::option::of(any::<String>()),
                url in prop::option::of(url_like()),
                language in prop::option::of(any::<String>()),
                published_micros in prop::option::of(any::<i64>()),
            ) {
                let input = ArticleInput {
                    title,
                    url,
                    language,
                    published_at: published_micros.and_then(DateTime::from_timestamp_micros),
                    reviews_open: None,
                };
                match ArticleUpsert::parse(input) {
                    Ok(article) => {
                        for text in [&article.title, &article.url, &article.language]
                            .into_iter()
                            .flatten()
                        {
                            prop_assert!(!text.contains('\0'));
                        }
                        prop_assert!(article.published_at.is_none_or(|t| time::is_storable(&t)));
                        if let Some(url) = &article.url {
                            prop_assert!(url::Url::parse(url).is_ok());
                        }
                    }
                    Err(errors) => prop_assert!(!errors.is_empty()),
                }
            }
        }
    }
}
