//! Reviews per day: the series behind the editors' chart of an article over time.

use serde_json::{json, Value};

use crate::common::{expect_problem, problem_fields, spawn_app};

#[tokio::test]
async fn an_article_s_reviews_are_counted_per_utc_day_with_empty_days_present() {
    let app = spawn_app().await;
    let article = "daily-article";
    for (rating, body) in [(5, "Сьогодні, перший."), (4, "Сьогодні, другий.")]
    {
        let review = json!({"rating": rating, "body": body});
        assert_eq!(app.post_review(article, &review).await.status(), 201);
    }
    // Two reviews three days ago (one of them held, which does not count), written directly.
    app.count(&format!(
        "WITH r AS (INSERT INTO reviews (id, article_id, rating, body, status, created_at) VALUES \
         (gen_random_uuid(), '{article}', 1, 'Старий', 'published', now() - interval '3 days'), \
         (gen_random_uuid(), '{article}', 2, 'Прихований', 'pending', now() - interval '3 days') \
         RETURNING 1) SELECT count(*) AS n FROM r"
    ))
    .await;
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::TimeDelta::days(4);
    let series = app
        .get_json(&format!(
            "/v1/articles/{article}/stats/daily?from={from}&to={today}"
        ))
        .await;
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

    // The default is the last 30 days.
    let default = app
        .get_json(&format!("/v1/articles/{article}/stats/daily"))
        .await;
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
