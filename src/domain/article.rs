//! Articles as the CMS describes them.

use std::fmt;

use chrono::{DateTime, Utc};
use validator::ValidationError;

use super::field_error::FieldErrors;
use super::field_error::Presence::Optional;
use super::moderation::ModerationMode;
use super::text::{self, LanguageTag};
use super::time;
use super::{FieldError, FieldErrorCode};

/// The CMS's own opaque article id: 1 to `MAX_LEN` characters of `[A-Za-z0-9._:~-]`, not all dots (`.` and
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
                FieldErrorCode::Length,
                format!("must be 1 to {} characters", Self::MAX_LEN),
            ));
        }
        if !raw.chars().all(allowed) {
            return Err(FieldError::new(
                field,
                FieldErrorCode::Format,
                "may contain only letters, digits and . _ : ~ -",
            ));
        }
        if raw.bytes().all(|byte| byte == b'.') {
            return Err(FieldError::new(
                field,
                FieldErrorCode::Format,
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

/// The distinct article ids of a bulk request, in request order: 1 to `MAX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleIds(Vec<ArticleId>);

impl ArticleIds {
    pub const MAX: usize = 100;

    /// Reads repeated `article_id` query parameters; repeats count towards the limit, so a
    /// request cannot make the server parse an unbounded list.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, FieldError> {
        if pairs.len() > Self::MAX {
            return Err(FieldError::new(
                "article_id",
                FieldErrorCode::TooMany,
                format!(
                    "at most {} article ids per request (got {})",
                    Self::MAX,
                    pairs.len()
                ),
            ));
        }
        let mut ids: Vec<ArticleId> = Vec::new();
        for (name, value) in pairs {
            if name != "article_id" {
                return Err(FieldError::new(
                    name.clone(),
                    FieldErrorCode::Unknown,
                    "is not a parameter of this operation",
                ));
            }
            let id = ArticleId::parse(value, "article_id")?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return Err(FieldError::new(
                "article_id",
                FieldErrorCode::Required,
                "give at least one article id",
            ));
        }
        Ok(Self(ids))
    }

    pub fn into_strings(self) -> Vec<String> {
        self.0.into_iter().map(ArticleId::into_inner).collect()
    }
}

/// An article's headline as the CMS gives it; blank counts as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleTitle(String);

impl ArticleTitle {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        Ok(text::optional_free_text(raw, Self::MAX_CHARS, &[])?.map(Self))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute http(s) URL: no whitespace, control characters, credentials or characters RFC 3986
/// never allows (`"<>\\^`{|}`); non-ASCII letters (IRIs) are fine. A machine field: checked as
/// sent, never trimmed into validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleUrl(String);

impl ArticleUrl {
    pub const MAX_CHARS: usize = 2048;
    /// What the OpenAPI document publishes; the code also requires the `url` crate to parse it
    /// with a host and without credentials.
    pub const PATTERN: &'static str = r#"^https?://[^\s\u0000-\u001F\u007F-\u009F/?#@"<>\\^`{|}]+([/?#][^\s\u0000-\u001F\u007F-\u009F"<>\\^`{|}]*)?$"#;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let parses = || {
            url::Url::parse(raw).is_ok_and(|parsed| {
                matches!(parsed.scheme(), "http" | "https")
                    && parsed.host().is_some()
                    && parsed.username().is_empty()
                    && parsed.password().is_none()
            })
        };
        if raw.chars().count() <= Self::MAX_CHARS && WEB_URL.is_match(raw) && parses() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(text::rule(
                "format",
                format!(
                    "must be an absolute http(s) URL without credentials, spaces or markup, \
                     of at most {} characters",
                    Self::MAX_CHARS
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

static WEB_URL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    // The pattern is a constant checked by the unit tests below.
    regex::Regex::new(ArticleUrl::PATTERN)
        .unwrap_or_else(|error| panic!("ArticleUrl::PATTERN: {error}"))
});

/// The section or desk an article belongs to, as the CMS names it; blank counts as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleSection(String);

impl ArticleSection {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        Ok(text::optional_free_text(raw, Self::MAX_CHARS, &[])?.map(Self))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an article stands in the CMS. Only published articles take new reviews; an unpublished
/// article keeps its published reviews readable; a deleted one hides them and its stats until it
/// is published again.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Live: takes reviews (unless `reviews_open` is false).
    Published,
    /// Off the site: its published reviews stay readable; new reviews are refused (409).
    Unpublished,
    /// Removed: the article, its reviews and stats answer 404 until it is published again.
    Deleted,
}

impl Lifecycle {
    pub const ALL: [Self; 3] = [Self::Published, Self::Unpublished, Self::Deleted];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Unpublished => "unpublished",
            Self::Deleted => "deleted",
        }
    }

    /// The lifecycle a stored value names; `None` for a value the schema's CHECK rules out.
    pub fn from_stored(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == raw)
    }
}

/// An article description as received, every field optional.
#[derive(Debug, Clone, Default)]
pub struct ArticleInput<'a> {
    pub title: Option<&'a str>,
    pub url: Option<&'a str>,
    pub language: Option<&'a str>,
    pub section: Option<&'a str>,
    pub published_at: Option<DateTime<Utc>>,
    pub reviews_open: Option<bool>,
    /// `Some(None)`: back to the site's mode; `None`: as it is.
    pub moderation: Option<Option<ModerationMode>>,
}

/// A checked, normalized article description ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleUpsert {
    pub title: Option<ArticleTitle>,
    pub url: Option<ArticleUrl>,
    pub language: Option<LanguageTag>,
    pub section: Option<ArticleSection>,
    /// Always a time the database can store.
    pub published_at: Option<DateTime<Utc>>,
    pub reviews_open: bool,
    /// The article's own moderation mode to store (`Some(None)`: the site's); `None`: keep it.
    pub moderation: Option<Option<ModerationMode>>,
}

impl ArticleUpsert {
    /// Normalizes the CMS's description, as received, and checks it; reviews stay open unless
    /// said otherwise.
    pub fn parse(input: ArticleInput<'_>) -> Result<Self, Vec<FieldError>> {
        let mut fields = FieldErrors::default();
        let title = fields
            .parse("title", Optional, input.title, ArticleTitle::parse)
            .flatten();
        let url = fields.parse("url", Optional, input.url, ArticleUrl::parse);
        let language = fields.parse("language", Optional, input.language, LanguageTag::parse);
        let section = fields
            .parse("section", Optional, input.section, ArticleSection::parse)
            .flatten();
        let published_at = fields.parse("published_at", Optional, input.published_at, |at| {
            time::storable(&at).map(|()| at)
        });
        fields.into_result()?;
        Ok(Self {
            title,
            url,
            language,
            section,
            published_at,
            reviews_open: input.reviews_open.unwrap_or(true),
            moderation: input.moderation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bulk_ids_are_deduplicated_in_order() {
        let ids = ArticleIds::from_pairs(&pairs(&[
            ("article_id", "b"),
            ("article_id", "a"),
            ("article_id", "b"),
        ]));
        assert_eq!(ids.unwrap().into_strings(), ["b", "a"]);
    }

    #[test]
    fn bulk_ids_are_checked() {
        assert_eq!(
            ArticleIds::from_pairs(&[]).unwrap_err().code,
            FieldErrorCode::Required
        );
        assert_eq!(
            ArticleIds::from_pairs(&pairs(&[("article_id", "a/b")]))
                .unwrap_err()
                .field,
            "article_id"
        );
        assert_eq!(
            ArticleIds::from_pairs(&pairs(&[("id", "a")]))
                .unwrap_err()
                .field,
            "id"
        );
        let many: Vec<(String, String)> = (0..=ArticleIds::MAX)
            .map(|i| ("article_id".to_string(), format!("a{i}")))
            .collect();
        assert_eq!(
            ArticleIds::from_pairs(&many).unwrap_err().code,
            FieldErrorCode::TooMany
        );
        let repeated = vec![("article_id".to_string(), "a".to_string()); ArticleIds::MAX + 1];
        assert_eq!(
            ArticleIds::from_pairs(&repeated).unwrap_err().code,
            FieldErrorCode::TooMany,
            "repeats count"
        );
    }

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
            assert!(ArticleUrl::parse(good).is_ok(), "{good}");
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
            assert!(ArticleUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn article_descriptions_are_checked() {
        let ok = ArticleUpsert::parse(ArticleInput {
            title: Some("  Pushed to the Brink  "),
            url: Some("https://news.example.org/a/1"),
            language: Some("en-gb"),
            section: Some("  "),
            ..ArticleInput::default()
        })
        .unwrap();
        assert_eq!(ok.section, None, "a blank section is absent");
        assert_eq!(
            ok.title.as_ref().map(ArticleTitle::as_str),
            Some("Pushed to the Brink")
        );
        assert_eq!(ok.language.as_ref().map(LanguageTag::as_str), Some("en-GB"));
        assert!(ok.reviews_open);

        let errors = ArticleUpsert::parse(ArticleInput {
            url: Some("javascript:alert(1)"),
            language: Some("english please"),
            ..ArticleInput::default()
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
                let published_at = published_micros.and_then(DateTime::from_timestamp_micros);
                let parsed = ArticleUpsert::parse(ArticleInput {
                    title: title.as_deref(),
                    url: url.as_deref(),
                    language: language.as_deref(),
                    published_at,
                    ..ArticleInput::default()
                });
                match parsed {
                    Ok(article) => {
                        let texts = [
                            article.title.as_ref().map(ArticleTitle::as_str),
                            article.url.as_ref().map(ArticleUrl::as_str),
                            article.language.as_ref().map(LanguageTag::as_str),
                        ];
                        for text in texts.into_iter().flatten() {
                            prop_assert!(!text.contains('\0'));
                        }
                        prop_assert!(article.published_at.is_none_or(|t| time::is_storable(&t)));
                        if let Some(url) = &article.url {
                            prop_assert!(url::Url::parse(url.as_str()).is_ok());
                        }
                    }
                    Err(errors) => prop_assert!(!errors.is_empty()),
                }
            }
        }
    }
}
