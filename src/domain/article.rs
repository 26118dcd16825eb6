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
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, FieldError> {
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
            if *name != "article_id" {
                return Err(FieldError::new(
                    *name,
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

/// What the CMS says about an article. Absent fields are cleared; `reviews_open` defaults to true;
/// an absent `lifecycle` or `moderation` leaves an existing article's as it is (a new one is
/// published, with the site's moderation mode).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(Default))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Pushed to the Brink Again, Islamic State’s Afghan Affiliate Claims Deadly Attacks",
    "url": "https://news.example.org/a/islamic-state-afghan-affiliate-claims-deadly-attacks",
    "language": "en",
    "section": "South & Central Asia",
    "published_at": "2020-05-14T09:00:00Z",
    "reviews_open": true
}))]
pub struct PutArticleRequest {
    /// The article's headline.
    #[schema(value_type = Option<ArticleTitle>)]
    pub title: Option<String>,
    /// Where readers find the article.
    #[schema(value_type = Option<ArticleUrl>)]
    pub url: Option<String>,
    /// The article's language.
    #[schema(value_type = Option<LanguageTag>)]
    pub language: Option<String>,
    /// The section or desk.
    #[schema(value_type = Option<ArticleSection>)]
    pub section: Option<String>,
    /// Between 0001-01-01 and 9999-12-31.
    pub published_at: Option<DateTime<Utc>>,
    /// Whether readers may submit reviews.
    pub reviews_open: Option<bool>,
    pub lifecycle: Option<Lifecycle>,
    /// This article's moderation mode; null: the site's (MARGINALIA_MODERATION). An editorial
    /// setting: left out, it stays as it is (unlike the CMS's fields).
    #[schema(value_type = Option<ModerationMode>)]
    #[serde(default, deserialize_with = "present")]
    pub moderation: Option<Option<ModerationMode>>,
}

/// An editor's change to an article's settings; absent fields stay as they are.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reviews_open": false, "moderation": "pre"}))]
pub struct PatchArticleRequest {
    /// Whether readers may submit reviews.
    pub reviews_open: Option<bool>,
    /// This article's moderation mode; null: the site's (MARGINALIA_MODERATION).
    #[schema(value_type = Option<ModerationMode>)]
    #[serde(default, deserialize_with = "present")]
    pub moderation: Option<Option<ModerationMode>>,
}

/// For `#[serde(default, deserialize_with = "present")]`: tells a member sent as null
/// (`Some(None)`) from one left out (`None`).
pub(crate) fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
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
    /// Normalizes the description the CMS sent (in a PUT or inside an event) and checks it;
    /// reviews stay open unless said otherwise; `moderation` is the editorial setting to store.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn parse(
        title: Option<&str>,
        url: Option<&str>,
        language: Option<&str>,
        section: Option<&str>,
        published_at: Option<DateTime<Utc>>,
        reviews_open: Option<bool>,
        moderation: Option<Option<ModerationMode>>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut fields = FieldErrors::default();
        let title = fields
            .parse("title", Optional, title, ArticleTitle::parse)
            .flatten();
        let url = fields.parse("url", Optional, url, ArticleUrl::parse);
        let language = fields.parse("language", Optional, language, LanguageTag::parse);
        let section = fields
            .parse("section", Optional, section, ArticleSection::parse)
            .flatten();
        let published_at = fields.parse("published_at", Optional, published_at, |at| {
            time::storable(&at).map(|()| at)
        });
        fields.into_result()?;
        Ok(Self {
            title,
            url,
            language,
            section,
            published_at,
            reviews_open: reviews_open.unwrap_or(true),
            moderation,
        })
    }
}

/// A checked PUT of an article: its description, and the lifecycle to move it to, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticlePut {
    pub description: ArticleUpsert,
    pub lifecycle: Option<Lifecycle>,
}

impl ArticlePut {
    pub fn parse(request: PutArticleRequest) -> Result<Self, Vec<FieldError>> {
        let description = ArticleUpsert::parse(
            request.title.as_deref(),
            request.url.as_deref(),
            request.language.as_deref(),
            request.section.as_deref(),
            request.published_at,
            request.reviews_open,
            request.moderation,
        )?;
        Ok(Self {
            description,
            lifecycle: request.lifecycle,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_ids_are_deduplicated_in_order() {
        let ids = ArticleIds::from_pairs(&[
            ("article_id", "b"),
            ("article_id", "a"),
            ("article_id", "b"),
        ]);
        assert_eq!(ids.unwrap().into_strings(), ["b", "a"]);
    }

    #[test]
    fn bulk_ids_are_checked() {
        assert_eq!(
            ArticleIds::from_pairs(&[]).unwrap_err().code,
            FieldErrorCode::Required
        );
        assert_eq!(
            ArticleIds::from_pairs(&[("article_id", "a/b")])
                .unwrap_err()
                .field,
            "article_id"
        );
        assert_eq!(
            ArticleIds::from_pairs(&[("id", "a")]).unwrap_err().field,
            "id"
        );
        let names: Vec<String> = (0..=ArticleIds::MAX).map(|i| format!("a{i}")).collect();
        let many: Vec<(&str, &str)> = names.iter().map(|id| ("article_id", id.as_str())).collect();
        assert_eq!(
            ArticleIds::from_pairs(&many).unwrap_err().code,
            FieldErrorCode::TooMany
        );
        let repeated = vec![("article_id", "a"); ArticleIds::MAX + 1];
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
        let ok = ArticlePut::parse(PutArticleRequest {
            title: Some("  Pushed to the Brink  ".into()),
            url: Some("https://news.example.org/a/1".into()),
            language: Some("en-gb".into()),
            section: Some("  ".into()),
            ..PutArticleRequest::default()
        })
        .unwrap()
        .description;
        assert_eq!(ok.section, None, "a blank section is absent");
        assert_eq!(
            ok.title.as_ref().map(ArticleTitle::as_str),
            Some("Pushed to the Brink")
        );
        assert_eq!(ok.language.as_ref().map(LanguageTag::as_str), Some("en-GB"));
        assert!(ok.reviews_open);

        let errors = ArticlePut::parse(PutArticleRequest {
            url: Some("javascript:alert(1)".into()),
            language: Some("english please".into()),
            ..PutArticleRequest::default()
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
                let parsed = ArticleUpsert::parse(
                    title.as_deref(),
                    url.as_deref(),
                    language.as_deref(),
                    None,
                    published_at,
                    None,
                    None,
                );
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
