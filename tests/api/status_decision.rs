//! The status of a new review is decided by one function, `domain::review::initial_status`; the
//! submission statement applies it in the database (where the duplicate probe and the article's
//! mode are) by picking from the table that function gives. This pins the real statement, on
//! real PostgreSQL, to the function on every combination of its inputs.

use diesel_async::RunQueryDsl;
use marginalia::domain::language::LanguageDetector;
use marginalia::domain::moderation::{ModerationMode, ReasonCode, RuleAction};
use marginalia::domain::review::{
    initial_status, status_table, CreateReviewRequest, NewReview, RatingRule, ReviewStatus,
};
use marginalia::store;
use marginalia::store::reviews::Submission;
use uuid::Uuid;

use crate::common::{spawn_app, TestApp};

const RULES: [Option<RuleAction>; 3] = [None, Some(RuleAction::Pending), Some(RuleAction::Spam)];
const DUPLICATE_ACTIONS: [RuleAction; 2] = [RuleAction::Pending, RuleAction::Spam];
const ARTICLE_MODES: [Option<ModerationMode>; 3] =
    [None, Some(ModerationMode::Pre), Some(ModerationMode::Post)];
const SITE_MODES: [ModerationMode; 2] = [ModerationMode::Pre, ModerationMode::Post];

/// The article of each mode: created, published and open, with that mode of its own (or none).
async fn article_with_mode(app: &TestApp, mode: Option<ModerationMode>) -> String {
    let id = format!("status-{}", mode.map_or("site", ModerationMode::as_str));
    let mut conn = store::connection(&app.pool).await.expect("a connection");
    let inserted =
        diesel::sql_query("INSERT INTO articles (article_id, moderation) VALUES ($1, $2)")
            .bind::<diesel::sql_types::Text, _>(&id)
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(
                mode.map(ModerationMode::as_str),
            )
            .execute(&mut conn)
            .await
            .expect("the article is stored");
    assert_eq!(inserted, 1);
    id
}

/// Runs the submission statement for one review and returns the status it stored, read back by id.
async fn submit(
    app: &TestApp,
    article: &str,
    review: &NewReview,
    statuses: [ReviewStatus; 6],
    reasons: &[ReasonCode],
    digest: &[u8],
) -> ReviewStatus {
    let article = marginalia::domain::article::ArticleId::parse(article, "article_id")
        .expect("an article id");
    let submission = Submission {
        review,
        reasons,
        statuses,
        duplicate_digest: Some(digest.to_vec()),
        edit_token_digest: &[7; 32],
        create_missing_article: false,
        reader: None,
        reader_sole: false,
    };
    let (row, _) = store::reviews::insert(&app.pool, &article, &submission, |_| "{}".to_owned())
        .await
        .expect("the review is stored");
    let stored = app
        .count(&format!(
            "SELECT COUNT(*) AS n FROM reviews WHERE id = '{}' AND status = '{}'",
            row.id, row.status
        ))
        .await;
    assert_eq!(stored, 1, "review {} is stored as {}", row.id, row.status);
    ReviewStatus::from_stored(&row.status).expect("a known status")
}

#[tokio::test]
async fn the_submission_statement_stores_the_status_initial_status_gives() {
    let app = spawn_app().await;
    let request = CreateReviewRequest {
        rating: Some(4),
        body: Some("A plain review of the article.".into()),
        language: Some("en".into()),
        ..CreateReviewRequest::default()
    };
    let review = NewReview::parse(&request, &LanguageDetector::default(), RatingRule::Required)
        .expect("a valid review");
    let mut articles = Vec::new();
    for mode in ARTICLE_MODES {
        articles.push((mode, article_with_mode(&app, mode).await));
    }
    let mut checked = 0;
    for rules in RULES {
        // The rules' reasons only travel with the review; any one stands for a catch.
        let reasons: &[ReasonCode] = match rules {
            None => &[],
            Some(_) => &[ReasonCode::Shouting],
        };
        for duplicate_action in DUPLICATE_ACTIONS {
            for site in SITE_MODES {
                let statuses = status_table(rules, duplicate_action, site);
                for (article_mode, article) in &articles {
                    for duplicate in [false, true] {
                        let digest = Uuid::now_v7().as_bytes().to_vec();
                        if duplicate {
                            // The same text from the same client within 24 hours: any earlier
                            // review with the digest, whatever its own status.
                            submit(&app, article, &review, statuses, reasons, &digest).await;
                        }
                        let stored =
                            submit(&app, article, &review, statuses, reasons, &digest).await;
                        let caught = duplicate.then_some(duplicate_action);
                        let expected = initial_status(rules, caught, *article_mode, site);
                        assert_eq!(
                            stored, expected,
                            "rules {rules:?}, duplicate {caught:?}, article {article_mode:?}, \
                             site {site:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    // Rules × (no duplicate, or one under either action) × article mode × site mode, each
    // combination reached (the duplicate-free ones once per duplicate action).
    assert_eq!(checked, 3 * 2 * 2 * 3 * 2);
}
