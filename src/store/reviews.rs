//! Reviews: the submission statement and the public reads.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{
    Array, Bool, Bytea, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::answer::LoadOne;
pub use super::pages::{PageRows, PublicReviewRef, RowError};
use super::{counters, pages, site_of, stats, with_connection, StoreError};
use crate::db::schema::{articles, reviews};
use crate::db::Pool;
use crate::domain::article::{ArticleId, Lifecycle};
use crate::domain::moderation::{ModerationMode, ReasonCode, RuleAction};
use crate::domain::page::PageQuery;
use crate::domain::reader::VerifiedReader;
use crate::domain::review::{
    status_table, AuthorEmail, AuthorName, NewReview, Rating, ReviewStatus, ReviewTitle,
    StoredFacts,
};
use crate::domain::text::LanguageTag;
use crate::domain::time;
use crate::domain::webhook::EventType;

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
    pub status: String,
    pub edited_at: Option<DateTime<Utc>>,
    pub helpful_count: i32,
    pub unhelpful_count: i32,
    pub reply_body: Option<String>,
    pub reply_created_at: Option<DateTime<Utc>>,
    pub reply_updated_at: Option<DateTime<Utc>>,
    /// The verified reader who wrote it (the site login's id); `None`: anonymous.
    pub reader_id: Option<String>,
    pub reader_badges: Vec<String>,
    /// The review this one answers (an imported reply); `None` for a top-level review.
    pub in_reply_to: Option<Uuid>,
}

impl PublicReviewRow {
    /// The same columns borrowed, as a page reads its rows in place.
    pub fn borrowed(&self) -> PublicReviewRef<'_> {
        PublicReviewRef {
            id: self.id,
            article_id: &self.article_id,
            rating: self.rating,
            title: self.title.as_deref(),
            body: &self.body,
            author_name: self.author_name.as_deref(),
            language: self.language.as_deref(),
            created_at: self.created_at,
            status: &self.status,
            edited_at: self.edited_at,
            helpful_count: self.helpful_count,
            unhelpful_count: self.unhelpful_count,
            reply_body: self.reply_body.as_deref(),
            reply_created_at: self.reply_created_at,
            reply_updated_at: self.reply_updated_at,
            reader_id: self.reader_id.as_deref(),
            reader_badges: Cow::Borrowed(&self.reader_badges),
            in_reply_to: self.in_reply_to,
        }
    }

    pub fn status(&self) -> ReviewStatus {
        self.borrowed().status()
    }
}

/// Everything the submission statement needs besides the review itself.
pub struct Submission<'a> {
    pub review: &'a NewReview,
    /// Why the content rules caught it (none: they did not).
    pub reasons: &'a [ReasonCode],
    /// The review's status for each of `StoredFacts::ALL` (`review::status_table`): the
    /// statement takes the entry of the facts it finds.
    pub statuses: [ReviewStatus; 6],
    /// The client's digest of this text on this article; `None` skips the duplicate rule.
    pub duplicate_digest: Option<Vec<u8>>,
    pub edit_token_digest: &'a [u8],
    pub create_missing_article: bool,
    /// The signed-in reader who writes it, if any: their name replaces a typed one.
    pub reader: Option<&'a VerifiedReader>,
    /// The review takes the reader's one place on the article (`reviews_one_per_reader`).
    pub reader_sole: bool,
}

/// Stores a review, counts it in the article's stats when it is published, and writes its
/// `review.created` outbox event (and, for a review held by the rules or the mode, its audit
/// entry) in one statement, so it is atomic and costs one round trip: the article is created on
/// the fly when allowed, the review is inserted only if the article is published and accepts
/// reviews, and it takes the status `review::initial_status` gives it: `submission.statuses`
/// holds that function's answer for each of the facts only the database knows (a duplicate
/// within 24 hours, the article's own mode), and the statement picks the one it finds. Once this
/// returns, all of it is committed; on any error none of it exists. `event_data` renders the
/// event's data from the review as it will be stored, but for its status, which the statement
/// writes in from its pick (the event is written only while some webhook endpoint is enabled).
/// Returns the stored review, with its status, and whether its event was written.
pub async fn insert(
    pool: &Pool,
    article: &ArticleId,
    submission: &Submission<'_>,
    event_data: impl FnOnce(&PublicReviewRow) -> String,
) -> Result<(PublicReviewRow, bool), StoreError> {
    let (statement, stored) = prepare(site_of(pool)?, article, submission, event_data);
    with_connection(pool, async |conn| {
        insert_on(conn, &statement, stored, submission.create_missing_article).await
    })
    .await
}

/// The statement and the review as it will be stored, for `insert` and the idempotent path.
pub(super) fn prepare<'a>(
    site: &'a str,
    article: &'a ArticleId,
    submission: &'a Submission<'a>,
    event_data: impl FnOnce(&PublicReviewRow) -> String,
) -> (SubmitReview<'a>, PublicReviewRow) {
    let review = submission.review;
    let id = Uuid::now_v7();
    let stored = PublicReviewRow {
        id,
        article_id: article.as_str().to_owned(),
        rating: Rating::to_stored(review.rating),
        title: review.title.as_ref().map(|title| title.as_str().to_owned()),
        body: review.body.as_str().to_owned(),
        author_name: author_name(submission).map(str::to_owned),
        language: review.language.as_ref().map(|tag| tag.as_str().to_owned()),
        created_at: time::now_stored(),
        // Only a placeholder for rendering the event: the statement picks the status and writes
        // it into the event (and `insert_on` into this row).
        status: String::new(),
        edited_at: None,
        helpful_count: 0,
        unhelpful_count: 0,
        reply_body: None,
        reply_created_at: None,
        reply_updated_at: None,
        reader_id: submission.reader.map(|reader| reader.id.clone()),
        reader_badges: submission
            .reader
            .map(|reader| reader.badges.clone())
            .unwrap_or_default(),
        in_reply_to: None,
    };
    let statement = SubmitReview {
        site,
        article: article.as_str(),
        create_missing_article: submission.create_missing_article,
        id,
        stripe: stats::stripe_of(&id),
        rating: stored.rating,
        title: review.title.as_ref().map(ReviewTitle::as_str),
        body: review.body.as_str(),
        author_name: author_name(submission),
        author_email: review.author_email.as_ref().map(AuthorEmail::as_str),
        reader_id: submission.reader.map(|reader| reader.id.as_str()),
        reader_badges: stored.reader_badges.clone(),
        reader_sole: submission.reader_sole && submission.reader.is_some(),
        notify: review.notify && review.author_email.is_some(),
        language: review.language.as_ref().map(LanguageTag::as_str),
        statuses: submission.statuses.map(ReviewStatus::as_str).to_vec(),
        reasons: submission
            .reasons
            .iter()
            .map(|code| code.as_str().to_owned())
            .collect(),
        duplicate_digest: submission.duplicate_digest.clone(),
        edit_token_digest: submission.edit_token_digest.to_vec(),
        created_at: stored.created_at,
        open_lifecycle: Lifecycle::Published.as_str(),
        event_id: Uuid::now_v7(),
        event_type: EventType::ReviewCreated.as_str(),
        event_data: event_data(&stored),
        log_id: Uuid::now_v7(),
    };
    (statement, stored)
}

/// The name shown with a review: a signed-in reader's as their site knows it, else the one typed.
fn author_name<'a>(submission: &'a Submission<'a>) -> Option<&'a str> {
    submission
        .reader
        .and_then(|reader| reader.name.as_deref())
        .or_else(|| {
            submission
                .review
                .author_name
                .as_ref()
                .map(AuthorName::as_str)
        })
}

/// Runs the submission statement on `conn` (inside the caller's transaction, if any).
pub(super) async fn insert_on(
    conn: &mut AsyncPgConnection,
    statement: &SubmitReview<'_>,
    mut stored: PublicReviewRow,
    create_missing_article: bool,
) -> Result<(PublicReviewRow, bool), StoreError> {
    let mut outcome: Option<Submitted> = statement.clone().load_one(conn).await.optional()?;
    if outcome.is_none() && create_missing_article {
        // Another first review created the article after this statement's snapshot was taken
        // (so it could neither insert nor see it); a new statement sees it.
        outcome = statement.clone().load_one(conn).await.optional()?;
    }
    let (reviews_open, lifecycle, announced, status) =
        outcome.ok_or(StoreError::ArticleNotFound)?;
    if let Some(status) = status {
        stored.status = status;
        return Ok((stored, announced));
    }
    match Lifecycle::from_stored(&lifecycle) {
        Some(Lifecycle::Deleted) => Err(StoreError::ArticleNotFound),
        Some(Lifecycle::Unpublished) => Err(StoreError::ArticleUnpublished),
        Some(Lifecycle::Published) if !reviews_open => Err(StoreError::ReviewsClosed),
        _ => Err(StoreError::Query(Arc::new(diesel::result::Error::NotFound))),
    }
}

/// What the submission statement returns: whether the article takes reviews, its lifecycle,
/// whether an outbox event was written, and the stored review's status (absent when refused).
type Submitted = (bool, String, bool, Option<String>);

/// The submission statement's SQL (parameters as `$1`, `$2`, …) and the names of its parameters
/// in order. `marginalia sql submit-review` prints them, so that the benchmark runs pgbench on the
/// very statement the service prepares instead of a copy.
pub fn submission_statement() -> (String, &'static [&'static str]) {
    let statement = SubmitReview {
        site: "",
        article: "",
        create_missing_article: true,
        id: Uuid::nil(),
        rating: 0,
        title: None,
        body: "",
        author_name: None,
        author_email: None,
        reader_id: None,
        reader_badges: Vec::new(),
        reader_sole: false,
        notify: false,
        language: None,
        statuses: status_table(None, RuleAction::Pending, ModerationMode::Post)
            .map(ReviewStatus::as_str)
            .to_vec(),
        reasons: Vec::new(),
        duplicate_digest: None,
        edit_token_digest: Vec::new(),
        stripe: 0,
        created_at: DateTime::<Utc>::UNIX_EPOCH,
        open_lifecycle: Lifecycle::Published.as_str(),
        event_id: Uuid::nil(),
        event_type: EventType::ReviewCreated.as_str(),
        event_data: "{}".to_owned(),
        log_id: Uuid::nil(),
    };
    let text = diesel::debug_query::<Pg, _>(&statement).to_string();
    let sql = text.split(" -- binds: ").next().unwrap_or(&text).to_owned();
    (sql, SubmitReview::PARAMETERS)
}

/// The position in `SubmitReview::statuses` (from 1) of the facts the statement found, one branch
/// per entry of `StoredFacts::ALL`, in its order: generated from it, so the table the process
/// computes and the facts the database looks up cannot be paired up wrongly.
static STATUS_INDEX: LazyLock<String> = LazyLock::new(|| {
    let branches: String = StoredFacts::ALL
        .iter()
        .zip(1..)
        .map(|(facts, position)| {
            let duplicate = if facts.duplicate { "" } else { "NOT " };
            let mode = match facts.article_mode {
                None => "IS NULL".to_owned(),
                Some(mode) => format!("= '{}'", mode.as_str()),
            };
            format!(" WHEN {duplicate}repeated.found AND article.moderation {mode} THEN {position}")
        })
        .collect();
    format!("CASE{branches} END")
});

/// The submission statement of `insert`, prepared once per connection.
#[derive(Clone)]
pub(super) struct SubmitReview<'a> {
    site: &'a str,
    article: &'a str,
    create_missing_article: bool,
    id: Uuid,
    rating: i16,
    title: Option<&'a str>,
    body: &'a str,
    author_name: Option<&'a str>,
    author_email: Option<&'a str>,
    reader_id: Option<&'a str>,
    reader_badges: Vec<String>,
    reader_sole: bool,
    notify: bool,
    language: Option<&'a str>,
    /// The status for each of `StoredFacts::ALL`, in that order.
    statuses: Vec<&'static str>,
    reasons: Vec<String>,
    duplicate_digest: Option<Vec<u8>>,
    edit_token_digest: Vec<u8>,
    stripe: i16,
    created_at: DateTime<Utc>,
    /// The lifecycle in which an article takes reviews.
    open_lifecycle: &'static str,
    event_id: Uuid,
    event_type: &'static str,
    /// The outbox event's data, as JSON text.
    event_data: String,
    /// The id of the audit entry of a held review.
    log_id: Uuid,
}

impl SubmitReview<'_> {
    /// The parameters `walk_ast` binds, in the order it binds them.
    const PARAMETERS: &'static [&'static str] = &[
        "article",
        "create_missing_article",
        "site",
        "article",
        "duplicate_digest",
        "site",
        "created_at",
        "id",
        "article",
        "rating",
        "title",
        "body",
        "author_name",
        "author_email",
        "reader_id",
        "reader_badges",
        "reader_sole",
        "notify",
        "language",
        "statuses",
        "reasons",
        "reasons",
        "edit_token_digest",
        "duplicate_digest",
        "created_at",
        "open_lifecycle",
        "stripe",
        "stripe",
        "event_id",
        "event_type",
        "event_data",
        "created_at",
        "log_id",
        "created_at",
    ];
}

/// The statement's SQL never varies, so diesel can find it in the prepared-statement cache by
/// type instead of building the SQL text to look it up.
pub(super) struct SubmitReviewId;

impl QueryId for SubmitReview<'_> {
    type QueryId = SubmitReviewId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for SubmitReview<'_> {
    type SqlType = (Bool, Text, Bool, Nullable<Text>);
}

impl QueryFragment<Pg> for SubmitReview<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // DO NOTHING takes no lock and writes nothing for an existing article, so reviews of one
        // busy article queue only on its stats row.
        out.push_sql("WITH created AS (INSERT INTO articles (article_id) SELECT ");
        out.push_bind_param::<Text, str>(self.article)?;
        out.push_sql(" WHERE ");
        out.push_bind_param::<Bool, bool>(&self.create_missing_article)?;
        out.push_sql(
            " ON CONFLICT (site_id, article_id) DO NOTHING \
             RETURNING reviews_open, lifecycle, moderation), \
             article AS (SELECT reviews_open, lifecycle, moderation FROM created UNION ALL \
             SELECT reviews_open, lifecycle, moderation FROM articles WHERE site_id = ",
        );
        out.push_bind_param::<Text, str>(self.site)?;
        out.push_sql(" AND article_id = ");
        out.push_bind_param::<Text, str>(self.article)?;
        // The duplicate rule: one probe of the digest index (a NULL digest finds nothing).
        // MATERIALIZED, or PostgreSQL inlines the CTE and copies the probe into each of the seven
        // places that read `repeated.found`: up to seven probes a submission, and seven times the
        // difference between the probe's generic and custom estimates. Once duplicates piled up,
        // that difference made the generic plan look dearer than planning anew, and every
        // connection went on to re-plan this statement at each execution (PostgreSQL's CPU per
        // submission doubled in the soak; docs/benchmarks.md, "The soak's late slowdown").
        out.push_sql(
            "), repeated AS MATERIALIZED (SELECT EXISTS (SELECT 1 FROM reviews WHERE duplicate_digest = ",
        );
        out.push_bind_param::<Nullable<Bytea>, Option<Vec<u8>>>(&self.duplicate_digest)?;
        out.push_sql(" AND site_id = ");
        out.push_bind_param::<Text, str>(self.site)?;
        out.push_sql(" AND created_at > ");
        out.push_bind_param::<Timestamptz, DateTime<Utc>>(&self.created_at)?;
        out.push_sql(
            " - interval '24 hours') AS found), \
             review AS (INSERT INTO reviews (id, article_id, rating, title, body, author_name, \
             author_email, reader_id, reader_badges, reader_sole, notify, language, status, reasons, edit_token_hash, \
             duplicate_digest, created_at) SELECT ",
        );
        out.push_bind_param::<SqlUuid, Uuid>(&self.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, str>(self.article)?;
        out.push_sql(", ");
        out.push_bind_param::<SmallInt, i16>(&self.rating)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, Option<&str>>(&self.title)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, str>(self.body)?;
        out.push_sql(", ");
        for text in [&self.author_name, &self.author_email, &self.reader_id] {
            out.push_bind_param::<Nullable<Text>, Option<&str>>(text)?;
            out.push_sql(", ");
        }
        out.push_bind_param::<Array<Text>, Vec<String>>(&self.reader_badges)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, bool>(&self.reader_sole)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, bool>(&self.notify)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, Option<&str>>(&self.language)?;
        // The status: `initial_status`'s answer for the facts found (see `STATUS_INDEX`).
        out.push_sql(", (CAST(");
        out.push_bind_param::<Array<Text>, Vec<&str>>(&self.statuses)?;
        out.push_sql(" AS text[]))[");
        out.push_sql(&STATUS_INDEX);
        out.push_sql("], CASE WHEN repeated.found THEN array_append(");
        out.push_bind_param::<Array<Text>, Vec<String>>(&self.reasons)?;
        out.push_sql(", 'duplicate') ELSE ");
        out.push_bind_param::<Array<Text>, Vec<String>>(&self.reasons)?;
        out.push_sql(" END, ");
        out.push_bind_param::<Bytea, Vec<u8>>(&self.edit_token_digest)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Bytea>, Option<Vec<u8>>>(&self.duplicate_digest)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, DateTime<Utc>>(&self.created_at)?;
        out.push_sql(" FROM article, repeated WHERE reviews_open AND lifecycle = ");
        out.push_bind_param::<Text, str>(self.open_lifecycle)?;
        out.push_sql(" RETURNING id, article_id, rating, status, reasons, language, created_at), ");
        counters::push_submission_counts(&mut out, &self.stripe)?;
        out.push_sql(", ");
        super::live::push_submission_event(&mut out)?;
        out.push_sql(
            ", announced AS (INSERT INTO outbox_events (id, event_type, article_id, payload, \
             created_at, available_at) SELECT ",
        );
        // The outbox event: written only while some endpoint is enabled (a scan of a handful of
        // rows), so a service without webhooks stores nothing extra.
        out.push_bind_param::<SqlUuid, Uuid>(&self.event_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, str>(self.event_type)?;
        out.push_sql(", article_id, jsonb_set(CAST(");
        out.push_bind_param::<Text, str>(&self.event_data)?;
        // Rendered before the status was known: the one picked above is written into it.
        out.push_sql(" AS jsonb), '{status}', to_jsonb(status)), ");
        out.push_bind_param::<Timestamptz, DateTime<Utc>>(&self.created_at)?;
        out.push_sql(
            ", now() FROM review WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) \
             RETURNING id), \
             held AS (INSERT INTO moderation_log (id, review_id, actor, action, to_status, \
             reasons, created_at) SELECT ",
        );
        // A review the rules or the mode held gets its audit entry: why it waits.
        out.push_bind_param::<SqlUuid, Uuid>(&self.log_id)?;
        out.push_sql(", id, 'rules', 'submit', status, reasons, ");
        out.push_bind_param::<Timestamptz, DateTime<Utc>>(&self.created_at)?;
        out.push_sql(
            " FROM review WHERE status <> 'published') \
             SELECT article.reviews_open, article.lifecycle, \
             EXISTS (SELECT 1 FROM announced), review.status \
             FROM article LEFT JOIN review ON true",
        );
        Ok(())
    }
}

type OfAnArticleShown = diesel::dsl::not<
    diesel::dsl::exists<
        diesel::dsl::Filter<
            diesel::dsl::Filter<
                diesel::dsl::Filter<
                    articles::table,
                    diesel::dsl::Eq<articles::site_id, reviews::site_id>,
                >,
                diesel::dsl::Eq<articles::article_id, reviews::article_id>,
            >,
            diesel::dsl::Eq<articles::lifecycle, &'static str>,
        >,
    >,
>;

/// A review's article is not deleted: a deleted article's reviews are hidden from every public
/// read and take no reactions (one primary-key probe of the article).
pub(super) fn of_an_article_shown() -> OfAnArticleShown {
    diesel::dsl::not(diesel::dsl::exists(
        articles::table
            .filter(articles::site_id.eq(reviews::site_id))
            .filter(articles::article_id.eq(reviews::article_id))
            .filter(articles::lifecycle.eq(Lifecycle::Deleted.as_str())),
    ))
}

/// A published review by id.
pub async fn get_published(pool: &Pool, id: Uuid) -> Result<Option<PublicReviewRow>, StoreError> {
    with_connection(pool, async |conn| {
        Ok(reviews::table
            .find(id)
            .filter(reviews::status.eq(ReviewStatus::Published.as_str()))
            .filter(of_an_article_shown())
            .select(PublicReviewRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
    .await
}

/// The published reviews among `ids` (of articles that are not deleted), in no order.
pub async fn published_among(
    pool: &Pool,
    ids: &[Uuid],
) -> Result<Vec<PublicReviewRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    with_connection(pool, async |conn| {
        Ok(reviews::table
            .filter(reviews::id.eq_any(ids))
            .filter(reviews::status.eq(ReviewStatus::Published.as_str()))
            .filter(of_an_article_shown())
            .select(PublicReviewRow::as_select())
            .load(conn)
            .await?)
    })
    .await
}

/// One page of an article's published reviews, as the database sent them.
pub async fn page(
    pool: &Pool,
    article: &ArticleId,
    query: &PageQuery,
) -> Result<PageRows, StoreError> {
    let site = site_of(pool)?;
    let rows = with_connection(pool, async |conn| {
        Ok(pages::load(conn, site, article, query).await?)
    })
    .await?;
    PageRows::new(rows, query)
        .map_err(|error| diesel::result::Error::DeserializationError(error).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `PARAMETERS` names the binds in `walk_ast`'s order: each is given a value of its own, and
    /// the values come back in the order the names say.
    #[test]
    fn the_parameter_names_follow_the_binds() {
        let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0042);
        let event_id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0043);
        let log_id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0044);
        let statement = SubmitReview {
            site: "the-site",
            article: "the-article",
            create_missing_article: false,
            id,
            rating: 4,
            title: Some("the-title"),
            body: "the-body",
            author_name: Some("the-name"),
            author_email: Some("the-email"),
            reader_id: Some("the-reader"),
            reader_badges: vec!["the-badge".to_owned()],
            reader_sole: true,
            notify: false,
            language: Some("the-language"),
            statuses: vec!["the-statuses"],
            reasons: vec!["the-reason".to_owned()],
            duplicate_digest: Some(vec![1, 2]),
            edit_token_digest: vec![3, 4],
            stripe: 7,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            open_lifecycle: "the-lifecycle",
            event_id,
            event_type: "the-event-type",
            event_data: "the-event-data".to_owned(),
            log_id,
        };
        let shown = |name: &str| match name {
            "site" => "\"the-site\"".to_owned(),
            "article" => "\"the-article\"".to_owned(),
            "create_missing_article" => "false".to_owned(),
            "id" => format!("{id:?}"),
            "rating" => "4".to_owned(),
            "title" => "Some(\"the-title\")".to_owned(),
            "body" => "\"the-body\"".to_owned(),
            "author_name" => "Some(\"the-name\")".to_owned(),
            "author_email" => "Some(\"the-email\")".to_owned(),
            "reader_id" => "Some(\"the-reader\")".to_owned(),
            "reader_badges" => "[\"the-badge\"]".to_owned(),
            "reader_sole" => "true".to_owned(),
            "notify" => "false".to_owned(),
            "language" => "Some(\"the-language\")".to_owned(),
            "statuses" => "[\"the-statuses\"]".to_owned(),
            "reasons" => "[\"the-reason\"]".to_owned(),
            "duplicate_digest" => "Some([1, 2])".to_owned(),
            "edit_token_digest" => "[3, 4]".to_owned(),
            "stripe" => "7".to_owned(),
            "created_at" => format!("{:?}", DateTime::<Utc>::UNIX_EPOCH),
            "open_lifecycle" => "\"the-lifecycle\"".to_owned(),
            "event_id" => format!("{event_id:?}"),
            "event_type" => "\"the-event-type\"".to_owned(),
            "event_data" => "\"the-event-data\"".to_owned(),
            "log_id" => format!("{log_id:?}"),
            other => panic!("unknown parameter {other}"),
        };
        let expected: Vec<String> = SubmitReview::PARAMETERS.iter().map(|n| shown(n)).collect();
        let text = diesel::debug_query::<Pg, _>(&statement).to_string();
        let binds = text.split(" -- binds: ").nth(1).unwrap();
        assert_eq!(binds, format!("[{}]", expected.join(", ")));
        let (sql, names) = submission_statement();
        let count = names.len();
        assert!(sql.contains(&format!("${count}")) && !sql.contains(&format!("${}", count + 1)));
    }
}
