//! Keyset pagination of published reviews: sort orders, filters and opaque cursors.
//!
//! Every sort is a total order: `(created_at, id)` for the time sorts, `(rating, id)` for the
//! rating sorts (ids are UUIDv7, so id order is creation order). A cursor holds the last row's
//! key; the next page starts strictly after it, so rows inserted meanwhile never shift a page
//! (no OFFSET, no duplicates, no gaps). Each key matches one index of its own, so PostgreSQL
//! always seeks into the article's part of that index.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::field_error::{read_query_pairs, valid_unless};
use super::review::Rating;
use super::site::SiteId;
use super::text::{self, LanguageTag};
use super::time;
use super::{FieldError, FieldErrorCode};

/// Order of a review list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Most recent first.
    #[default]
    Newest,
    /// Earliest first.
    Oldest,
    /// Highest rating first; equal ratings most recent first.
    Highest,
    /// Lowest rating first; equal ratings earliest first.
    Lowest,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Newest, Sort::Oldest, Sort::Highest, Sort::Lowest];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Oldest => "oldest",
            Sort::Highest => "highest",
            Sort::Lowest => "lowest",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|sort| sort.as_str() == raw)
    }

    /// Whether the page walks keys downwards.
    pub fn descending(self) -> bool {
        matches!(self, Sort::Newest | Sort::Highest)
    }

    pub fn by_rating(self) -> bool {
        matches!(self, Sort::Highest | Sort::Lowest)
    }
}

/// The key of the last review on a page, and the list it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    pub rating: i16,
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
    /// Which article and filters the cursor was issued for (see [`ListScope`]).
    pub scope: ListScope,
}

/// A short digest of a site, an article id and a page's filters. A cursor carries it so that it
/// is only accepted for the list it came from: a key from one list is meaningless in another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListScope(u64);

impl ListScope {
    pub fn of(
        site: &SiteId,
        article_id: &str,
        rating: Option<Rating>,
        language: Option<&LanguageTag>,
    ) -> Self {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        // The default site's lists digest as they did before sites existed, so that cursors
        // issued then still work; another site's begin with the site (an article id cannot
        // hold a `/`).
        if site.as_str() != SiteId::DEFAULT {
            hasher.update(site.as_str().as_bytes());
            hasher.update(b"/");
        }
        hasher.update(article_id.as_bytes());
        let rating = rating.map_or(0, Rating::get).to_be_bytes()[1];
        hasher.update([0, rating]);
        hasher.update(language.map_or("", LanguageTag::as_str).as_bytes());
        let digest = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Self(u64::from_be_bytes(first))
    }
}

/// Longest cursor a client may send; every cursor this service issues is shorter.
pub const CURSOR_MAX: usize = 200;
/// The alphabet of a cursor (unpadded URL-safe base64), as the OpenAPI document publishes it.
pub const CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]*$";

impl Cursor {
    const VERSION: &'static str = "v2";

    pub fn encode(&self) -> String {
        let plain = format!(
            "{}.{}.{}.{}.{}.{:016x}",
            Self::VERSION,
            self.sort.as_str(),
            self.rating,
            self.created_at.timestamp_micros(),
            self.id.simple(),
            self.scope.0
        );
        URL_SAFE_NO_PAD.encode(plain)
    }

    /// A cursor this service issued, or `None`. Its time is always one the database can store.
    pub fn decode(raw: &str) -> Option<Self> {
        if raw.len() > CURSOR_MAX {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let plain = String::from_utf8(bytes).ok()?;
        let mut parts = plain.split('.');
        if parts.next()? != Self::VERSION {
            return None;
        }
        let sort = Sort::parse(parts.next()?)?;
        let rating: i16 = parts.next()?.parse().ok()?;
        let created_at = DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
        let id = Uuid::try_parse(parts.next()?).ok()?;
        let scope = ListScope(u64::from_str_radix(parts.next()?, 16).ok()?);
        // Time sorts carry rating 0: no rating at all.
        if parts.next().is_some()
            || !(0..=Rating::MAX).contains(&rating)
            || !time::is_storable(&created_at)
        {
            return None;
        }
        Some(Self {
            sort,
            rating,
            created_at,
            id,
            scope,
        })
    }
}

/// How many reviews one page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageSize(i64);

impl PageSize {
    pub const DEFAULT: i64 = 20;
    pub const MAX: i64 = 100;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        raw.parse::<i64>()
            .ok()
            .filter(|size| (1..=Self::MAX).contains(size))
            .map(Self)
            .ok_or_else(|| {
                FieldError::new(
                    "limit",
                    FieldErrorCode::Range,
                    format!("must be an integer from 1 to {}", Self::MAX),
                )
            })
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// What a page's content depends on besides its article and cursor: the read cache's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    sort: Sort,
    rating: Option<Rating>,
    language: Option<LanguageTag>,
    limit: PageSize,
}

/// A validated request for one page of published reviews.
#[derive(Debug, Clone, PartialEq)]
pub struct PageQuery {
    pub sort: Sort,
    pub rating: Option<Rating>,
    pub language: Option<LanguageTag>,
    pub limit: PageSize,
    pub after: Option<Cursor>,
    /// The article and filters this page lists, which its cursors are bound to.
    pub scope: ListScope,
}

impl Default for PageQuery {
    fn default() -> Self {
        Self {
            sort: Sort::default(),
            rating: None,
            language: None,
            limit: PageSize::default(),
            after: None,
            scope: ListScope::of(&SiteId::default_site(), "", None, None),
        }
    }
}

impl PageQuery {
    /// Identifies the page's content apart from the article and cursor, for caching.
    pub fn cache_key(&self) -> PageKey {
        PageKey {
            sort: self.sort,
            rating: self.rating,
            language: self.language.clone(),
            limit: self.limit,
        }
    }

    /// Reads `sort`, `rating`, `language`, `limit` and `cursor` of a list of `article_id`'s
    /// reviews from decoded query pairs; unknown or repeated parameters are errors rather than
    /// silently ignored.
    pub fn from_pairs<'a>(
        site: &SiteId,
        article_id: &str,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<FieldError>> {
        let (mut sort, mut rating, mut language, mut limit) =
            (Sort::default(), None, None, PageSize::default());
        let mut errors = Vec::new();
        let mut raw_cursor = None;
        read_query_pairs(pairs, &mut errors, |name, value, errors| {
            match name {
                "sort" => match Sort::parse(value) {
                    Some(parsed) => sort = parsed,
                    None => errors.push(FieldError::new(
                        "sort",
                        FieldErrorCode::Enum,
                        "must be one of newest, oldest, highest, lowest",
                    )),
                },
                "rating" => {
                    let number = value.parse::<i64>().map_err(|_| {
                        text::rule(
                            "range",
                            format!("must be an integer from {} to {}", Rating::MIN, Rating::MAX),
                        )
                    });
                    match number.and_then(Rating::parse) {
                        Ok(parsed) => rating = Some(parsed),
                        Err(rule) => errors.push(FieldError::broke("rating", &rule)),
                    }
                }
                "language" => match LanguageTag::parse(value) {
                    Ok(tag) => language = Some(tag),
                    Err(rule) => errors.push(FieldError::broke("language", &rule)),
                },
                "limit" => match PageSize::parse(value) {
                    Ok(parsed) => limit = parsed,
                    Err(error) => errors.push(error),
                },
                // Clients that template `cursor={next}` send it empty for the first page.
                "cursor" => raw_cursor = Some(value).filter(|raw| !raw.is_empty()),
                _ => return false,
            }
            true
        });
        // Digested once the filters are known: a cursor must come from this list.
        let scope = ListScope::of(site, article_id, rating, language.as_ref());
        let mut query = Self {
            sort,
            rating,
            language,
            limit,
            after: None,
            scope,
        };
        if let Some(raw) = raw_cursor {
            match Cursor::decode(raw) {
                Some(cursor) if cursor.sort != query.sort => errors.push(FieldError::new(
                    "cursor",
                    FieldErrorCode::Mismatch,
                    "belongs to a different sort order; keep `sort` the same across pages",
                )),
                Some(cursor) if cursor.scope != query.scope => errors.push(FieldError::new(
                    "cursor",
                    FieldErrorCode::Mismatch,
                    "belongs to another site, article or other filters; keep `rating` and \
                     `language` the same across pages",
                )),
                Some(cursor) => query.after = Some(cursor),
                None => errors.push(FieldError::new(
                    "cursor",
                    FieldErrorCode::Format,
                    "is not a cursor this service issued",
                )),
            }
        }
        valid_unless(errors, query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            sort: Sort::Highest,
            rating: 4,
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
            scope: ListScope::of(&SiteId::default_site(), "a", Rating::parse(4).ok(), None),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for garbage in ["", "abc", "djEuaGlnaGVzdC40", "!!!"] {
            assert_eq!(Cursor::decode(garbage), None, "{garbage}");
        }
        // A well-formed cursor whose time PostgreSQL cannot store.
        let forged = URL_SAFE_NO_PAD.encode(format!(
            "v2.newest.0.-300000000000000000.{}.{:016x}",
            Uuid::now_v7().simple(),
            0
        ));
        assert_eq!(Cursor::decode(&forged), None);
    }

    #[test]
    fn query_defaults_and_limits() {
        assert_eq!(
            PageQuery::from_pairs(&SiteId::default_site(), "", []).unwrap(),
            PageQuery::default()
        );
        let query = PageQuery::from_pairs(
            &SiteId::default_site(),
            "a",
            [("sort", "lowest"), ("limit", "7"), ("rating", "2")],
        )
        .unwrap();
        assert_eq!(
            (query.sort, query.limit.get(), query.rating.map(Rating::get)),
            (Sort::Lowest, 7, Some(2))
        );

        for (name, value) in [
            ("limit", "0"),
            ("limit", "101"),
            ("limit", "x"),
            ("rating", "6"),
            ("sort", "random"),
            ("language", "not a tag"),
            ("cursor", "zzz"),
            ("page", "2"),
        ] {
            let errors =
                PageQuery::from_pairs(&SiteId::default_site(), "a", [(name, value)]).unwrap_err();
            assert_eq!(errors[0].field, name);
        }
    }

    #[test]
    fn a_cursor_is_bound_to_its_site() {
        let uk = SiteId::parse("uk", "site").unwrap();
        let cursor = |site: &SiteId| {
            Cursor {
                sort: Sort::Newest,
                rating: 0,
                created_at: Utc::now(),
                id: Uuid::now_v7(),
                scope: ListScope::of(site, "a", None, None),
            }
            .encode()
        };
        let of_uk = cursor(&uk);
        let of_default = cursor(&SiteId::default_site());
        assert!(PageQuery::from_pairs(&uk, "a", [("cursor", of_uk.as_str())]).is_ok());
        for (site, raw) in [(&SiteId::default_site(), &of_uk), (&uk, &of_default)] {
            let errors = PageQuery::from_pairs(site, "a", [("cursor", raw.as_str())]).unwrap_err();
            assert_eq!(errors[0].code.as_str(), "mismatch", "{site}");
        }
        // The default site's digest is the one cursors had before sites existed.
        assert_eq!(
            ListScope::of(&SiteId::default_site(), "a", None, None),
            ListScope(0xea6f_de9e_840d_240a)
        );
    }

    #[test]
    fn a_cursor_is_bound_to_its_sort_article_and_filters() {
        let cursor = Cursor {
            sort: Sort::Newest,
            rating: 0,
            created_at: Utc::now(),
            id: Uuid::now_v7(),
            scope: ListScope::of(&SiteId::default_site(), "a", Rating::parse(5).ok(), None),
        }
        .encode();
        let same = [("rating", "5"), ("cursor", cursor.as_str())];
        assert!(PageQuery::from_pairs(&SiteId::default_site(), "a", same)
            .unwrap()
            .after
            .is_some());
        for (article, pairs) in [
            (
                "a",
                vec![("sort", "oldest"), ("rating", "5"), ("cursor", &cursor)],
            ),
            ("b", vec![("rating", "5"), ("cursor", &cursor)]),
            ("a", vec![("cursor", &cursor)]),
            (
                "a",
                vec![("rating", "5"), ("language", "uk"), ("cursor", &cursor)],
            ),
        ] {
            let errors =
                PageQuery::from_pairs(&SiteId::default_site(), article, pairs.clone()).unwrap_err();
            assert_eq!(
                (errors[0].field.as_str(), errors[0].code.as_str()),
                ("cursor", "mismatch"),
                "{article} {pairs:?}"
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn sort() -> impl Strategy<Value = Sort> {
            prop::sample::select(Sort::ALL.to_vec())
        }

        proptest! {
            #[test]
            fn any_text_decodes_to_a_storable_cursor_or_nothing(raw in any::<String>()) {
                if let Some(cursor) = Cursor::decode(&raw) {
                    prop_assert!(time::is_storable(&cursor.created_at));
                }
            }

            #[test]
            fn any_forged_cursor_decodes_to_a_storable_cursor_or_nothing(
                sort in sort(),
                rating in any::<i16>(),
                micros in any::<i64>(),
                id in any::<u128>(),
                scope in any::<u64>(),
            ) {
                let plain = format!(
                    "v2.{}.{rating}.{micros}.{}.{scope:016x}",
                    sort.as_str(),
                    Uuid::from_u128(id).simple()
                );
                match Cursor::decode(&URL_SAFE_NO_PAD.encode(plain)) {
                    Some(cursor) => {
                        prop_assert!(time::is_storable(&cursor.created_at));
                        prop_assert!((0..=5).contains(&cursor.rating));
                        prop_assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
                    }
                    None => prop_assert!(
                        !(0..=5).contains(&rating)
                            || DateTime::from_timestamp_micros(micros)
                                .is_none_or(|t| !time::is_storable(&t))
                    ),
                }
            }

            #[test]
            fn any_query_gives_a_page_query_or_named_errors(
                pairs in prop::collection::vec((any::<String>(), any::<String>()), 0..6),
            ) {
                let borrowed = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                match PageQuery::from_pairs(&SiteId::default_site(), "a", borrowed) {
                    Ok(query) => {
                        prop_assert!((1..=PageSize::MAX).contains(&query.limit.get()));
                        prop_assert!(query
                            .language
                            .as_ref()
                            .is_none_or(|tag| !tag.as_str().contains('\0')));
                    }
                    Err(errors) => prop_assert!(!errors.is_empty()),
                }
            }
        }
    }
}
