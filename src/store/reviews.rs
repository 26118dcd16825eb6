//! Reviews: the submission transaction and the public reads.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{connection, StoreError};
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

/// Stores a review and counts it in the article's stats in one statement, so it is atomic and
/// costs one round trip: the article is created on the fly when allowed (an upsert that always
/// returns the row, even one a concurrent submission just created), the review is inserted only
/// if the article accepts reviews, and the counters follow. Once this returns, all of it is
/// committed; on any error none of it exists.
pub async fn insert(
    pool: &Pool,
    article: &ArticleId,
    review: &NewReview,
    create_missing_article: bool,
) -> Result<PublicReviewRow, StoreError> {
    let mut conn = connection(pool).await?;
    let status = ReviewStatus::initial();
    let (reviews_open, row): (bool, Option<PublicReviewRow>) = diesel::dsl::sql::<(
        Bool,
        Nullable<(
            SqlUuid,
            Text,
            SmallInt,
            Nullable<Text>,
            Text,
            Nullable<Text>,
            Nullable<Text>,
            Timestamptz,
        )>,
    )>(
        "WITH upserted AS (
             INSERT INTO articles AS a (article_id) SELECT ",
    )
    .bind::<Text, _>(article.as_str())
    .sql(" WHERE ")
    .bind::<Bool, _>(create_missing_article)
    .sql(
        " ON CONFLICT (article_id) DO UPDATE SET reviews_open = a.reviews_open
             RETURNING reviews_open
         ), article AS (
             SELECT reviews_open FROM upserted
             UNION ALL
             SELECT reviews_open FROM articles WHERE article_id = ",
    )
    .bind::<Text, _>(article.as_str())
    .sql(" AND NOT ")
    .bind::<Bool, _>(create_missing_article)
    .sql(
        "), review AS (
             INSERT INTO reviews (id, article_id, rating, title, body, author_name, author_email,
                                  language, status)
             SELECT ",
    )
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .sql(", ")
    .bind::<Text, _>(article.as_str())
    .sql(", ")
    .bind::<SmallInt, _>(review.rating_i16())
    .sql(", ")
    .bind::<Nullable<Text>, _>(review.title.as_deref())
    .sql(", ")
    .bind::<Text, _>(&review.body)
    .sql(", ")
    .bind::<Nullable<Text>, _>(review.author_name.as_deref())
    .sql(", ")
    .bind::<Nullable<Text>, _>(review.author_email.as_deref())
    .sql(", ")
    .bind::<Nullable<Text>, _>(review.language.as_deref())
    .sql(", ")
    .bind::<Text, _>(status.as_str())
    .sql(
        " FROM article WHERE reviews_open
             RETURNING id, article_id, rating, title, body, author_name, language, created_at
         ), counted AS (
             INSERT INTO article_stats AS s (article_id, review_count, rating_sum,
                                             count_1, count_2, count_3, count_4, count_5)
             SELECT article_id, 1, rating, (rating = 1)::int, (rating = 2)::int,
                    (rating = 3)::int, (rating = 4)::int, (rating = 5)::int
             FROM review WHERE ",
    )
    .bind::<Bool, _>(status.is_public())
    .sql(
        " ON CONFLICT (article_id) DO UPDATE SET
                 review_count = s.review_count + excluded.review_count,
                 rating_sum = s.rating_sum + excluded.rating_sum,
                 count_1 = s.count_1 + excluded.count_1, count_2 = s.count_2 + excluded.count_2,
                 count_3 = s.count_3 + excluded.count_3, count_4 = s.count_4 + excluded.count_4,
                 count_5 = s.count_5 + excluded.count_5
         )
         SELECT article.reviews_open, review.id, review.article_id, review.rating, review.title,
                review.body, review.author_name, review.language, review.created_at
         FROM article LEFT JOIN review ON true",
    )
    .get_result(&mut conn)
    .await
    .optional()?
    .ok_or(StoreError::ArticleNotFound)?;
    match (reviews_open, row) {
        (_, Some(row)) => Ok(row),
        (false, None) => Err(StoreError::ReviewsClosed),
        (true, None) => Err(StoreError::Query(diesel::result::Error::NotFound)),
    }
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
