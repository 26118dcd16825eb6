//! The statement of a page of an article's published reviews, in each of its 32 shapes (four
//! sorts; with or without a cursor, a rating filter, a language filter) as a statement diesel
//! finds in its prepared-statement cache by type. A boxed query would do the same work, but it
//! builds its whole SQL text on every read only to look itself up in that cache (a twentieth of
//! the service's CPU on an uncached page, measured).

use chrono::{DateTime, Utc};
use diesel::dsl::AsSelect;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, SmallInt, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{QueryResult, SelectableHelper};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::TryStreamExt;
use uuid::Uuid;

use super::reviews::PublicReviewRow;
use super::sql::{self, RowBound};
use crate::domain::article::ArticleId;
use crate::domain::page::{PageQuery, Sort};
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

/// The page `query` asks for, with the statement of its shape (its extra row included).
pub(super) async fn load(
    conn: &mut AsyncPgConnection,
    site: &str,
    article: &ArticleId,
    query: &PageQuery,
) -> QueryResult<Vec<PublicReviewRow>> {
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
) -> QueryResult<Vec<PublicReviewRow>> {
    match statement {
        // Collected into a vector of the page's size: grown row by row (as `load` does), a page of
        // 21 rows reallocated and copied its rows five times, 2.6 % of an uncached page's CPU in
        // the profile.
        Some(statement) => {
            let rows = Vec::with_capacity(usize::try_from(statement.fetch).unwrap_or(0));
            statement
                .load_stream::<PublicReviewRow>(conn)
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
