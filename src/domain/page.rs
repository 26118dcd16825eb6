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

use super::text;
use super::FieldError;

/// Order of a review list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
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

/// The key of the last review on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    pub rating: i16,
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    const VERSION: &'static str = "v1";

    pub fn encode(&self) -> String {
        let plain = format!(
            "{}.{}.{}.{}.{}",
            Self::VERSION,
            self.sort.as_str(),
            self.rating,
            self.created_at.timestamp_micros(),
            self.id.simple()
        );
        URL_SAFE_NO_PAD.encode(plain)
    }

    pub fn decode(raw: &str) -> Option<Self> {
        if raw.len() > 200 {
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
        if parts.next().is_some() || !(0..=5).contains(&rating) {
            return None;
        }
        Some(Self {
            sort,
            rating,
            created_at,
            id,
        })
    }
}

pub const LIMIT_DEFAULT: i64 = 20;
pub const LIMIT_MAX: i64 = 100;

/// A validated request for one page of published reviews.
#[derive(Debug, Clone, PartialEq)]
pub struct PageQuery {
    pub sort: Sort,
    pub rating: Option<i16>,
    pub language: Option<String>,
    pub limit: i64,
    pub after: Option<Cursor>,
}

impl Default for PageQuery {
    fn default() -> Self {
        Self {
            sort: Sort::default(),
            rating: None,
            language: None,
            limit: LIMIT_DEFAULT,
            after: None,
        }
    }
}

impl PageQuery {
    /// Identifies the page's content apart from the article and cursor, for caching.
    pub fn cache_key(&self) -> String {
        format!(
            "{}|{:?}|{}|{}",
            self.sort.as_str(),
            self.rating,
            self.language.as_deref().unwrap_or(""),
            self.limit
        )
    }

    /// Reads `sort`, `rating`, `language`, `limit` and `cursor` from decoded query pairs;
    /// unknown or repeated parameters are errors rather than silently ignored.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut query = Self::default();
        let mut errors = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        let mut raw_cursor = None;
        for (name, value) in pairs {
            if seen.contains(&name) {
                errors.push(FieldError::new(name, "repeated", "may be given only once"));
                continue;
            }
            seen.push(name);
            match name {
                "sort" => match Sort::parse(value) {
                    Some(sort) => query.sort = sort,
                    None => errors.push(FieldError::new(
                        "sort",
                        "enum",
                        "must be one of newest, oldest, highest, lowest",
                    )),
                },
                "rating" => match value.parse::<i16>() {
                    Ok(rating) if (1..=5).contains(&rating) => query.rating = Some(rating),
                    _ => errors.push(FieldError::new(
                        "rating",
                        "range",
                        "must be an integer from 1 to 5",
                    )),
                },
                "language" => match text::bcp47(value) {
                    Ok(()) => query.language = Some(text::canonical_language(value)),
                    Err(_) => errors.push(FieldError::new(
                        "language",
                        "format",
                        "must be a BCP 47 language tag such as `uk` or `en-GB`",
                    )),
                },
                "limit" => match value.parse::<i64>() {
                    Ok(limit) if (1..=LIMIT_MAX).contains(&limit) => query.limit = limit,
                    _ => errors.push(FieldError::new(
                        "limit",
                        "range",
                        format!("must be an integer from 1 to {LIMIT_MAX}"),
                    )),
                },
                // Clients that template `cursor={next}` send it empty for the first page.
                "cursor" => raw_cursor = Some(value).filter(|raw| !raw.is_empty()),
                other => errors.push(FieldError::new(
                    other,
                    "unknown",
                    "is not a parameter of this operation",
                )),
            }
        }
        if let Some(raw) = raw_cursor {
            match Cursor::decode(raw) {
                Some(cursor) if cursor.sort == query.sort => query.after = Some(cursor),
                Some(_) => errors.push(FieldError::new(
                    "cursor",
                    "mismatch",
                    "belongs to a different sort order; keep `sort` the same across pages",
                )),
                None => errors.push(FieldError::new(
                    "cursor",
                    "format",
                    "is not a cursor this service issued",
                )),
            }
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(errors)
        }
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
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for garbage in ["", "abc", "djEuaGlnaGVzdC40", "!!!"] {
            assert_eq!(Cursor::decode(garbage), None, "{garbage}");
        }
    }

    #[test]
    fn query_defaults_and_limits() {
        assert_eq!(PageQuery::from_pairs([]).unwrap(), PageQuery::default());
        let query =
            PageQuery::from_pairs([("sort", "lowest"), ("limit", "7"), ("rating", "2")]).unwrap();
        assert_eq!(
            (query.sort, query.limit, query.rating),
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
            let errors = PageQuery::from_pairs([(name, value)]).unwrap_err();
            assert_eq!(errors[0].field, name);
        }
    }

    #[test]
    fn a_cursor_is_bound_to_its_sort() {
        let cursor = Cursor {
            sort: Sort::Newest,
            rating: 0,
            created_at: Utc::now(),
            id: Uuid::now_v7(),
        }
        .encode();
        let errors = PageQuery::from_pairs([("sort", "oldest"), ("cursor", &cursor)]).unwrap_err();
        assert_eq!(errors[0].code, "mismatch");
    }
}
