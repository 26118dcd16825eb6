//! Reviews: the submission transaction and the public reads.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, SmallInt, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::{articles, connection, stats, StoreError};
use crate::db::schema::reviews;
use crate::db::Pool;
use crate::domain::article::ArticleId;
use crate::domain::page::{Cursor, PageQuery};
use crate::domain::review::{NewReview, ReviewStatus};

/// The public columns of a review. The author's email is deliberately not among them, so no
/// public read can ever load it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = reviews, check_for_backend(diesel::pg::Pg))]
pub struct PublicReviewRow {
    pub id: Uuid,
    pub article_id: String,
    pub rating: i16,
    pub title: Option<String>,
    pub body: String,
    pub author_name: Option<String>,
    pub language: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Stores a review and counts it in the article's stats, atomically: once this returns, both
/// are committed; on any error neither exists.
pub async fn insert(
    pool: &Pool,
    article: &ArticleId,
    review: &NewReview,
    create_missing_article: bool,
) -> Result<PublicReviewRow, StoreError> {
    use reviews::dsl;
    let mut conn = connection(pool).await?;
    let status = ReviewStatus::initial();
    conn.transaction::<_, StoreError, _>(async |conn| {
        articles::open_for_reviews(conn, article, create_missing_article).await?;
        let row = diesel::insert_into(reviews::table)
            .values((
                dsl::id.eq(Uuid::now_v7()),
                dsl::article_id.eq(article.as_str()),
                dsl::rating.eq(review.rating_i16()),
                dsl::title.eq(review.title.as_deref()),
                dsl::body.eq(&review.body),
                dsl::author_name.eq(review.author_name.as_deref()),
                dsl::author_email.eq(review.author_email.as_deref()),
                dsl::language.eq(review.language.as_deref()),
                dsl::status.eq(status.as_str()),
            ))
            .returning(PublicReviewRow::as_returning())
            .get_result(conn)
            .await?;
        if status.is_public() {
            stats::record(conn, article.as_str(), row.rating, 1).await?;
        }
        Ok(row)
    })
    .await
}

/// A published review by id.
pub async fn get_published(pool: &Pool, id: Uuid) -> Result<Option<PublicReviewRow>, StoreError> {
    let mut conn = connection(pool).await?;
    Ok(reviews::table
        .find(id)
        .filter(reviews::status.eq(ReviewStatus::Published.as_str()))
        .select(PublicReviewRow::as_select())
        .first(&mut conn)
        .await
        .optional()?)
}

/// One page of an article's published reviews and the cursor of the next page, if any.
pub async fn page(
    pool: &Pool,
    article: &ArticleId,
    query: &PageQuery,
) -> Result<(Vec<PublicReviewRow>, Option<Cursor>), StoreError> {
    use reviews::dsl;
    let mut conn = connection(pool).await?;
    let mut select = reviews::table
        .filter(dsl::article_id.eq(article.as_str()))
        .filter(dsl::status.eq(ReviewStatus::Published.as_str()))
        .select(PublicReviewRow::as_select())
        .into_boxed();
    if let Some(rating) = query.rating {
        select = select.filter(dsl::rating.eq(rating));
    }
    if let Some(language) = &query.language {
        select = select.filter(dsl::language.eq(language.clone()));
    }
    if let Some(after) = query.after {
        // Row comparisons, so PostgreSQL seeks straight to the key in the page index.
        let op = if query.sort.descending() { "<" } else { ">" };
        select = if query.sort.by_rating() {
            select.filter(
                diesel::dsl::sql::<Bool>(&format!("(rating, id) {op} ("))
                    .bind::<SmallInt, _>(after.rating)
                    .sql(", ")
                    .bind::<SqlUuid, _>(after.id)
                    .sql(")"),
            )
        } else {
            select.filter(
                diesel::dsl::sql::<Bool>(&format!("(created_at, id) {op} ("))
                    .bind::<Timestamptz, _>(after.created_at)
                    .sql(", ")
                    .bind::<SqlUuid, _>(after.id)
                    .sql(")"),
            )
        };
    }
    // The time sorts use created_at rather than the (equally ordered) UUIDv7 id: ordered by id,
    // the planner may walk the primary key backwards past every other article's newer reviews.
    select = match (query.sort.by_rating(), query.sort.descending()) {
        (false, true) => select.order((dsl::created_at.desc(), dsl::id.desc())),
        (false, false) => select.order((dsl::created_at.asc(), dsl::id.asc())),
        (true, true) => select.order((dsl::rating.desc(), dsl::id.desc())),
        (true, false) => select.order((dsl::rating.asc(), dsl::id.asc())),
    };
    let mut rows = select.limit(query.limit + 1).load(&mut conn).await?;
    let has_more = rows.len() > usize::try_from(query.limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
    let next = rows.last().filter(|_| has_more).map(|last| Cursor {
        sort: query.sort,
        rating: last.rating,
        created_at: last.created_at,
        id: last.id,
    });
    Ok((rows, next))
}
