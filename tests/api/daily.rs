//! Reviews per day: the series behind the editors' chart of an article over time.

use marginalia::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{expect_problem, problem_fields, spawn_app};

#[tokio::test]
async fn an_article_s_reviews_are_counted_per_utc_day_with_empty_days_present() {
    // The service stamps reviews with the present and counts them on its UTC day: if midnight
    // passes while the test runs, "today" moves under it and the expected series is no longer
    // the right one. Then the whole story runs again on a fresh app; it cannot cross midnight
    // twice.
    for _ in 0..2 {
        let started_on = chrono::Utc::now().date_naive();
        let app = spawn_app().await;
        let observed = count_per_day(&app, started_on).await;
        if chrono::Utc::now().date_naive() == started_on {
            return check_per_day(&app, started_on, observed).await;
        }
    }
    panic!("UTC midnight passed twice during the test");
}

/// What the daily series answered: the 5-day range ending `today`, and the default range.
struct PerDay {
    series: Value,
    default: Value,
}

/// Writes today's and older reviews, moderates two of them, and reads the series.
async fn count_per_day(app: &crate::common::TestApp, today: chrono::NaiveDate) -> PerDay {
    let moderator = app.api_key(&[Scope::Moderator]).await;
    let article = "daily-article";
    for (rating, body, language) in [
        (5, "Сьогодні, перший відгук про статтю.", "uk"),
        (4, "Today, the second review of the article.", "en"),
        (3, "Сьогодні, третій, але його відхилять.", "uk"),
    ] {
        let review = json!({"rating": rating, "body": body, "language": language});
        assert_eq!(app.post_review(article, &review).await.status(), 201);
    }
    // Two reviews held three days ago (written directly: the API stamps the present), one of
    // which a moderator approves: it counts on the day it was written, the other does not.
    app.count(&format!(
        "WITH r AS (INSERT INTO reviews (id, article_id, rating, body, language, status, created_at) VALUES \
         ('019ab000-0000-7000-8000-000000000001', '{article}', 2, 'Старий', 'uk', 'pending', now() - interval '3 days'), \
         ('019ab000-0000-7000-8000-000000000002', '{article}', 1, 'Прихований', 'uk', 'pending', now() - interval '3 days') \
         RETURNING 1) SELECT count(*) AS n FROM r"
    ))
    .await;
    let approve =
        json!({"action": "approve", "review_ids": ["019ab000-0000-7000-8000-000000000001"]});
    let approved = app
        .with_key(
            &moderator,
            Method::POST,
            "/v1/moderation/actions",
            Some(&approve),
        )
        .await;
    assert_eq!(approved.status(), 200);
    // Rejecting one of today's uncounts it from today.
    let queue = app
        .get_json_with_key(
            &moderator,
            &format!("/v1/moderation/queue?status=published&article_id={article}"),
        )
        .await;
    let third = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|review| review["rating"] == 3)
        .expect("today's 3-star review is published")["id"]
        .clone();
    let reject = json!({"action": "reject", "review_ids": [third]});
    let rejected = app
        .with_key(
            &moderator,
            Method::POST,
            "/v1/moderation/actions",
            Some(&reject),
        )
        .await;
    assert_eq!(rejected.status(), 200);

    let from = today - chrono::TimeDelta::days(4);
    let series = app
        .get_json(&format!(
            "/v1/articles/{article}/stats/daily?from={from}&to={today}"
        ))
        .await;
    // The default is the last 30 days.
    let default = app
        .get_json(&format!("/v1/articles/{article}/stats/daily"))
        .await;
    PerDay { series, default }
}

async fn check_per_day(app: &crate::common::TestApp, today: chrono::NaiveDate, observed: PerDay) {
    let article = "daily-article";
    let PerDay { series, default } = observed;
    let days = series["days"].as_array().unwrap();
    assert_eq!(days.len(), 5, "every day of the range");
    let counts: Vec<i64> = days
        .iter()
        .map(|d| d["review_count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [0, 1, 0, 0, 2]);
    assert_eq!(days[4]["date"], today.to_string());
    assert_eq!(days[4]["average"], 4.5);
    assert_eq!(days[4]["histogram"]["5"], 1);
    assert_eq!(days[0]["average"], Value::Null);
    assert_eq!(days[1]["histogram"]["2"], 1);
    assert_eq!(
        series["languages"],
        json!([{"language": "uk", "review_count": 2}, {"language": "en", "review_count": 1}])
    );
    assert_eq!(
        app.count(&format!(
            "SELECT sum(count_1 + count_2 + count_3 + count_4 + count_5) AS n \
             FROM article_daily_stats WHERE article_id = '{article}'"
        ))
        .await,
        app.count(&format!(
            "SELECT count(*) AS n FROM reviews WHERE article_id = '{article}' AND status = 'published'"
        ))
        .await,
        "the per-day counters agree with the reviews"
    );

    assert_eq!(default["days"].as_array().unwrap().len(), 30);
    assert_eq!(default["to"], today.to_string());

    for (query, field) in [
        ("from=2026-02-30", "from"),
        ("to=tomorrow", "to"),
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("since=2026-01-01", "since"),
    ] {
        let bad = app
            .get(&format!("/v1/articles/{article}/stats/daily?{query}"))
            .await;
        assert_eq!(
            problem_fields(&expect_problem(bad, 400).await),
            [field],
            "{query}"
        );
    }
}
