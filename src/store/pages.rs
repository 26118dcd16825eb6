//! The statement of a page of an article's published reviews, in each of its 32 shapes (four
//! sorts; with or without a cursor, a rating filter, a language filter) as a statement diesel
//! finds in its prepared-statement cache by type. A boxed query would do the same work, but it
//! builds its whole SQL text on every read only to look itself up in that cache (a twentieth of
//! the service's CPU on an uncached page, measured).
//!
//! Its rows are kept as the driver received them (`PageRows`) and read in place
//! (`PublicReviewRef`): a page is written from them without copying its text into a string per
//! column first.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use diesel::deserialize::{self, FromSql};
use diesel::dsl::AsSelect;
use diesel::pg::{Pg, PgValue};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::row::{Field, Row};
use diesel::sql_types::{
    Array, BigInt, Integer, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::{QueryResult, SelectableHelper};
use diesel_async::{AsyncConnectionCore, AsyncPgConnection};
use futures_util::TryStreamExt;
use uuid::Uuid;

use super::reviews::PublicReviewRow;
use super::sql::{self, RowBound};
use crate::domain::article::ArticleId;
use crate::domain::page::{Cursor, PageQuery, Sort};
use crate::domain::review::{Rating, ReviewStatus};

/// The cache key of one shape: `SHAPE` is `PageStatement::shape`'s number.
pub(super) struct PageShape<const SHAPE: u8>;

/// The keyset bound after a cursor: by rating or by time, then id.
enum After {
    Rating(RowBound<SmallInt, i16, SqlUuid, Uuid>),
    Time(RowBound<Timestamptz, DateTime<Utc>, SqlUuid, Uuid>),
}

/// One page's statement; `SHAPE` is `shape(query)` (`PageStatement::new` checks it). Every value
/// it binds lives in it or in what it borrows, as diesel's binds are borrowed for the statement's
/// lifetime.
pub(super) struct PageStatement<'a, const SHAPE: u8> {
    site: &'a str,
    article: &'a ArticleId,
    query: &'a PageQuery,
    columns: AsSelect<PublicReviewRow, Pg>,
    rating: Option<i16>,
    after: Option<After>,
    /// The page's size plus one: the extra row tells whether another page follows.
    fetch: i64,
}

/// The shape of `query`: its sort (0–3) and which of the optional parts it has.
pub(super) fn shape(query: &PageQuery) -> u8 {
    let sort = match query.sort {
        Sort::Newest => 0,
        Sort::Oldest => 1,
        Sort::Highest => 2,
        Sort::Lowest => 3,
    };
    sort << 3
        | u8::from(query.after.is_some()) << 2
        | u8::from(query.rating.is_some()) << 1
        | u8::from(query.language.is_some())
}

impl<'a, const SHAPE: u8> PageStatement<'a, SHAPE> {
    /// `None` when `query` is not of this shape: a statement of one shape must never be cached
    /// under another's key.
    pub(super) fn new(site: &'a str, article: &'a ArticleId, query: &'a PageQuery) -> Option<Self> {
        let descending = query.sort.descending();
        let after = query.after.map(|cursor| {
            if query.sort.by_rating() {
                After::Rating(RowBound::after(
                    "(reviews.rating, reviews.id)",
                    descending,
                    cursor.rating,
                    cursor.id,
                ))
            } else {
                After::Time(RowBound::after(
                    "(reviews.created_at, reviews.id)",
                    descending,
                    cursor.created_at,
                    cursor.id,
                ))
            }
        });
        (shape(query) == SHAPE).then(|| Self {
            site,
            article,
            query,
            columns: PublicReviewRow::as_select(),
            rating: query.rating.map(Rating::get),
            after,
            fetch: query.limit.get() + 1,
        })
    }
}

impl<const SHAPE: u8> QueryId for PageStatement<'_, SHAPE> {
    type QueryId = PageShape<SHAPE>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const SHAPE: u8> Query for PageStatement<'_, SHAPE> {
    type SqlType = diesel::dsl::SqlTypeOf<AsSelect<PublicReviewRow, Pg>>;
}

impl<'a, const SHAPE: u8> QueryFragment<Pg> for PageStatement<'a, SHAPE> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let query: &'a PageQuery = self.query;
        out.push_sql("SELECT ");
        self.columns.walk_ast(out.reborrow())?;
        // The site named outright (not left to the row-level policy) so that it leads the index.
        out.push_sql(" FROM reviews WHERE reviews.site_id = ");
        out.push_bind_param::<Text, str>(self.site)?;
        out.push_sql(" AND reviews.article_id = ");
        out.push_bind_param::<Text, str>(self.article.as_str())?;
        out.push_sql(" AND reviews.status = ");
        out.push_bind_param::<Text, str>(ReviewStatus::Published.as_str())?;
        // A deleted article's reviews are hidden: one primary-key probe per page.
        sql::push_article_not_deleted(&mut out, self.site, self.article.as_str())?;
        if let Some(rating) = &self.rating {
            out.push_sql(" AND reviews.rating = ");
            out.push_bind_param::<SmallInt, i16>(rating)?;
        }
        if let Some(language) = &query.language {
            out.push_sql(" AND reviews.language = ");
            out.push_bind_param::<Text, str>(language.as_str())?;
        }
        if let Some(after) = &self.after {
            out.push_sql(" AND ");
            match after {
                After::Rating(bound) => bound.walk_ast(out.reborrow())?,
                After::Time(bound) => bound.walk_ast(out.reborrow())?,
            }
        }
        let descending = query.sort.descending();
        // The time sorts use created_at rather than the (equally ordered) UUIDv7 id: ordered by
        // id, the planner may walk the primary key backwards past every other article's newer
        // reviews.
        out.push_sql(match (query.sort.by_rating(), descending) {
            (false, true) => " ORDER BY reviews.created_at DESC, reviews.id DESC LIMIT ",
            (false, false) => " ORDER BY reviews.created_at ASC, reviews.id ASC LIMIT ",
            (true, true) => " ORDER BY reviews.rating DESC, reviews.id DESC LIMIT ",
            (true, false) => " ORDER BY reviews.rating ASC, reviews.id ASC LIMIT ",
        });
        out.push_bind_param::<BigInt, i64>(&self.fetch)?;
        Ok(())
    }
}

/// A row of a page as the driver received it.
type PageRow = <AsyncPgConnection as AsyncConnectionCore>::Row<'static, 'static>;

/// The page `query` asks for, with the statement of its shape (its extra row included).
pub(super) async fn load(
    conn: &mut AsyncPgConnection,
    site: &str,
    article: &ArticleId,
    query: &PageQuery,
) -> QueryResult<Vec<PageRow>> {
    /// One arm per shape: each a type of its own, so each its own prepared statement.
    macro_rules! by_shape {
        ($($shape:literal)*) => {
            match shape(query) {
                $($shape => load_shaped(conn, PageStatement::<$shape>::new(site, article, query)).await,)*
                _ => load_shaped::<0>(conn, None).await,
            }
        };
    }
    by_shape!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31)
}

async fn load_shaped<const SHAPE: u8>(
    conn: &mut AsyncPgConnection,
    statement: Option<PageStatement<'_, SHAPE>>,
) -> QueryResult<Vec<PageRow>> {
    match statement {
        // Collected into a vector of the page's size: grown row by row, a page of 21 rows
        // reallocated and copied its rows five times (2.6 % of an uncached page's CPU). The rows
        // stay as the driver holds them: `load_stream` would build each into a `PublicReviewRow`,
        // a string allocated and copied per text column, only for the page to be serialized and
        // dropped. `load` is what `load_stream` calls (public, though left out of diesel-async's
        // documentation; Cargo.lock pins the version it was checked against).
        Some(statement) => {
            let rows = Vec::with_capacity(usize::try_from(statement.fetch).unwrap_or(0));
            AsyncConnectionCore::load(conn, statement)
                .await?
                .try_fold(rows, |mut rows, row| {
                    rows.push(row);
                    std::future::ready(Ok(rows))
                })
                .await
        }
        // `shape` names 32 shapes, each with its arm: no query falls outside them.
        None => Err(diesel::result::Error::QueryBuilderError(
            "a page query of no known shape".into(),
        )),
    }
}

/// A page's public review read in place from its row: the columns of `PublicReviewRow`, text
/// borrowed rather than copied.
#[derive(Debug)]
pub struct PublicReviewRef<'r> {
    pub id: Uuid,
    pub article_id: &'r str,
    pub rating: i16,
    pub title: Option<&'r str>,
    pub body: &'r str,
    pub author_name: Option<&'r str>,
    pub language: Option<&'r str>,
    pub created_at: DateTime<Utc>,
    pub status: &'r str,
    pub edited_at: Option<DateTime<Utc>>,
    pub helpful_count: i32,
    pub unhelpful_count: i32,
    pub reply_body: Option<&'r str>,
    pub reply_created_at: Option<DateTime<Utc>>,
    pub reply_updated_at: Option<DateTime<Utc>>,
    pub reader_id: Option<&'r str>,
    /// Owned when read from a page's row (an array is rarely there: an anonymous review has
    /// none, and empty allocates nothing).
    pub reader_badges: Cow<'r, [String]>,
    pub in_reply_to: Option<Uuid>,
}

impl PublicReviewRef<'_> {
    pub fn status(&self) -> ReviewStatus {
        ReviewStatus::from_stored(self.status).unwrap_or(ReviewStatus::Pending)
    }
}

/// Where each column sits in a row: `PublicReviewRow`'s fields in their order, which is the order
/// `as_select` writes them in (a test holds the two together).
mod column {
    pub const ID: usize = 0;
    pub const ARTICLE_ID: usize = 1;
    pub const RATING: usize = 2;
    pub const TITLE: usize = 3;
    pub const BODY: usize = 4;
    pub const AUTHOR_NAME: usize = 5;
    pub const LANGUAGE: usize = 6;
    pub const CREATED_AT: usize = 7;
    pub const STATUS: usize = 8;
    pub const EDITED_AT: usize = 9;
    pub const HELPFUL_COUNT: usize = 10;
    pub const UNHELPFUL_COUNT: usize = 11;
    pub const REPLY_BODY: usize = 12;
    pub const REPLY_CREATED_AT: usize = 13;
    pub const REPLY_UPDATED_AT: usize = 14;
    pub const READER_ID: usize = 15;
    pub const READER_BADGES: usize = 16;
    pub const IN_REPLY_TO: usize = 17;
    pub const COUNT: usize = 18;
}

/// The value a row's field holds (`None`: NULL, or no such field).
fn raw_value<'f, 'r, F: Field<'r, Pg>>(field: &'f Option<F>) -> Option<PgValue<'f>> {
    field.as_ref().and_then(|field| field.value())
}

/// A column's value as `T` (NULL is an error unless `T` is an `Option`).
fn value<T: FromSql<ST, Pg>, ST>(raw: Option<PgValue<'_>>) -> deserialize::Result<T> {
    T::from_nullable_sql(raw)
}

/// A text column's value, borrowed from the row.
fn text<'v>(raw: Option<PgValue<'v>>) -> deserialize::Result<&'v str> {
    let raw = raw.ok_or(diesel::result::UnexpectedNullError)?;
    Ok(std::str::from_utf8(raw.as_bytes())?)
}

/// A nullable text column's value, borrowed from the row.
fn optional_text<'v>(raw: Option<PgValue<'v>>) -> deserialize::Result<Option<&'v str>> {
    raw.map(|raw| text(Some(raw))).transpose()
}

/// Why a row could not be read as the statement's columns: a bug, or a schema out of step.
pub type RowError = Box<dyn std::error::Error + Send + Sync>;

/// One page of an article's published reviews as the database sent them, and the cursor of the
/// next page, if any.
pub struct PageRows {
    rows: Vec<PageRow>,
    /// How many of `rows` the page shows: the one after them only told that another page follows.
    shown: usize,
    next: Option<Cursor>,
}

impl PageRows {
    /// The page of `query` from the rows its statement returned (its extra row included).
    pub(super) fn new(rows: Vec<PageRow>, query: &PageQuery) -> deserialize::Result<Self> {
        let limit = usize::try_from(query.limit.get()).unwrap_or(usize::MAX);
        let shown = rows.len().min(limit);
        let next = match rows
            .get(shown.wrapping_sub(1))
            .filter(|_| rows.len() > limit)
        {
            Some(last) => {
                let (rating, created_at, id) = (
                    last.get(column::RATING),
                    last.get(column::CREATED_AT),
                    last.get(column::ID),
                );
                Some(Cursor {
                    sort: query.sort,
                    rating: value::<_, SmallInt>(raw_value(&rating))?,
                    created_at: value::<_, Timestamptz>(raw_value(&created_at))?,
                    id: value::<_, SqlUuid>(raw_value(&id))?,
                    scope: query.scope,
                })
            }
            None => None,
        };
        Ok(Self { rows, shown, next })
    }

    pub fn len(&self) -> usize {
        self.shown
    }

    pub fn is_empty(&self) -> bool {
        self.shown == 0
    }

    /// Where the next page starts; `None` on the last page.
    pub fn next_cursor(&self) -> Option<&Cursor> {
        self.next.as_ref()
    }

    /// Hands each review of the page to `each`, in order, read in place from its row. A row
    /// that does not hold what the statement selects is an error, before `each` sees it.
    pub fn try_for_each<E: From<RowError>>(
        &self,
        mut each: impl FnMut(&PublicReviewRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        for row in &self.rows[..self.shown] {
            if row.field_count() != column::COUNT {
                return Err(E::from(
                    format!("a page row of {} columns", row.field_count()).into(),
                ));
            }
            // Every column's field is kept while the review borrows from its value.
            let fields: [_; column::COUNT] = std::array::from_fn(|index| row.get(index));
            let raw = |index: usize| raw_value(&fields[index]);
            let review = PublicReviewRef {
                id: value::<_, SqlUuid>(raw(column::ID))?,
                article_id: text(raw(column::ARTICLE_ID))?,
                rating: value::<_, SmallInt>(raw(column::RATING))?,
                title: optional_text(raw(column::TITLE))?,
                body: text(raw(column::BODY))?,
                author_name: optional_text(raw(column::AUTHOR_NAME))?,
                language: optional_text(raw(column::LANGUAGE))?,
                created_at: value::<_, Timestamptz>(raw(column::CREATED_AT))?,
                status: text(raw(column::STATUS))?,
                edited_at: value::<_, Nullable<Timestamptz>>(raw(column::EDITED_AT))?,
                helpful_count: value::<_, Integer>(raw(column::HELPFUL_COUNT))?,
                unhelpful_count: value::<_, Integer>(raw(column::UNHELPFUL_COUNT))?,
                reply_body: optional_text(raw(column::REPLY_BODY))?,
                reply_created_at: value::<_, Nullable<Timestamptz>>(raw(column::REPLY_CREATED_AT))?,
                reply_updated_at: value::<_, Nullable<Timestamptz>>(raw(column::REPLY_UPDATED_AT))?,
                reader_id: optional_text(raw(column::READER_ID))?,
                reader_badges: Cow::Owned(value::<_, Array<Text>>(raw(column::READER_BADGES))?),
                in_reply_to: value::<_, Nullable<SqlUuid>>(raw(column::IN_REPLY_TO))?,
            };
            each(&review)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use diesel::{QueryDsl, SelectableHelper};

    use super::*;
    use crate::db::schema::reviews;

    /// `PageRows` reads each column by its place: the place `as_select` writes it in.
    #[test]
    fn each_column_is_read_where_the_select_lists_it() {
        let sql =
            diesel::debug_query::<Pg, _>(&reviews::table.select(PublicReviewRow::as_select()))
                .to_string();
        let listed: Vec<&str> = sql["SELECT ".len()..sql.find(" FROM").unwrap()]
            .split(", ")
            .map(|column| column.rsplit('.').next().unwrap().trim_matches('"'))
            .collect();
        let read = [
            (column::ID, "id"),
            (column::ARTICLE_ID, "article_id"),
            (column::RATING, "rating"),
            (column::TITLE, "title"),
            (column::BODY, "body"),
            (column::AUTHOR_NAME, "author_name"),
            (column::LANGUAGE, "language"),
            (column::CREATED_AT, "created_at"),
            (column::STATUS, "status"),
            (column::EDITED_AT, "edited_at"),
            (column::HELPFUL_COUNT, "helpful_count"),
            (column::UNHELPFUL_COUNT, "unhelpful_count"),
            (column::REPLY_BODY, "reply_body"),
            (column::REPLY_CREATED_AT, "reply_created_at"),
            (column::REPLY_UPDATED_AT, "reply_updated_at"),
            (column::READER_ID, "reader_id"),
            (column::READER_BADGES, "reader_badges"),
            (column::IN_REPLY_TO, "in_reply_to"),
        ];
        assert_eq!(listed.len(), column::COUNT, "{sql}");
        assert_eq!(read.len(), column::COUNT);
        for (index, name) in read {
            assert_eq!(listed[index], name, "column {index} in {sql}");
        }
    }
}
