//! PostgreSQL goes away: the service answers 503 problem+json at once and recovers by itself.

mod common;

use std::time::Duration;

use common::{expect_problem, spawn_app_on, start_throwaway_cluster, TestOptions};
use marginalia::db;
use marginalia::db::embedded::ClusterOptions;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn database_outage_is_a_503_and_recovery_needs_no_restart() {
    // A cluster of its own: this test stops it.
    let cluster = start_throwaway_cluster().await;
    cluster.ensure_database("outage").await.unwrap();
    let url = cluster.database_url("outage");
    db::run_migrations(&url).await.unwrap();
    let app = spawn_app_on(&url, TestOptions::default());
    let review = json!({"rating": 4, "body": "before the outage"});
    assert_eq!(app.post_review("outage-1", &review).await.status(), 201);

    cluster.stop().await.unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let down = client
        .post(app.url("/v1/articles/outage-1/reviews"))
        .json(&review)
        .send()
        .await
        .expect("an answer, not a hang");
    assert_eq!(down.headers()["retry-after"], "1");
    expect_problem(down, 503).await;
    for path in [
        "/readyz",
        "/v1/articles/outage-1/reviews",
        "/v1/articles/outage-1/stats",
    ] {
        let response = client
            .get(app.url(path))
            .send()
            .await
            .expect("an answer, not a hang");
        expect_problem(response, 503).await;
    }
    let health = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the process itself is alive");

    cluster
        .start(ClusterOptions { durable: false })
        .await
        .unwrap();
    let mut recovered = false;
    for _ in 0..100 {
        let response = client
            .post(app.url("/v1/articles/outage-1/reviews"))
            .json(&json!({"rating": 5, "body": "after the outage"}))
            .send()
            .await
            .unwrap();
        if response.status() == 201 {
            recovered = true;
            break;
        }
        assert_eq!(response.status(), 503, "only 503 while recovering");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the service recovers without a restart");
    let stats = app.get_json("/v1/articles/outage-1/stats").await;
    assert_eq!(stats["review_count"], 2);
}
