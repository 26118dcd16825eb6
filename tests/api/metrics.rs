//! Operators scrape Prometheus metrics: with an admin key on the main address by default, or
//! without one on a separate address; the counters move with traffic.

use crate::common::{
    free_port, scrape_metrics, spawn_app, start_binary, wait_ready, BinaryWithMetrics,
};
use marginalia::auth::Scope;
use serde_json::json;

/// The value of the first series whose line starts with `prefix` (name and labels).
fn value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|number| number.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_key_scrapes_counters_that_move() {
    let app = spawn_app().await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let cms = app.api_key(&[Scope::Cms]).await;
    // The metrics recorder is process-wide: in the test process, other tests' requests move the
    // same counters. A service process of its own counts this test's requests alone, so every
    // delta below is exact. Its read cache keeps entries long enough that the stats reads after
    // the first are hits however slow the machine.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut service = start_binary(
        &app.database_url,
        port,
        &[("MARGINALIA_READ_CACHE_MS", "60000".to_owned())],
        None,
    );
    wait_ready(&app.client, &base, &mut service).await;
    let scrape = || async {
        let response = app
            .client
            .get(format!("{base}/metrics"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        response.text().await.unwrap()
    };
    let unauthenticated = app
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401, "not public");
    let with_cms = app
        .client
        .get(format!("{base}/metrics"))
        .bearer_auth(&cms)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cms.status(), 403, "a cms key is not enough");

    let before = scrape().await;
    let created = "marginalia_reviews_created_total";
    let posted = r#"marginalia_http_requests_total{route="/v1/articles/{article_id}/reviews",method="POST",status="201",site="default"}"#;
    let stats_hits = r#"marginalia_read_cache_lookups_total{cache="stats",result="hit"}"#;
    let stats_misses = r#"marginalia_read_cache_lookups_total{cache="stats",result="miss"}"#;
    for i in 0..3 {
        let review = json!({"rating": 4, "body": format!("counted {i}")});
        let response = app
            .client
            .post(format!("{base}/v1/articles/metrics-article/reviews"))
            .json(&review)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    for _ in 0..3 {
        let response = app
            .client
            .get(format!("{base}/v1/articles/metrics-article/stats"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let after = scrape().await;
    let grew =
        |name: &str| value(&after, name).unwrap_or(0.0) - value(&before, name).unwrap_or(0.0);
    assert_eq!(grew(created), 3.0, "{after}");
    assert_eq!(grew(posted), 3.0, "{after}");
    assert_eq!(
        grew(stats_misses),
        1.0,
        "the first read fills the cache: {after}"
    );
    assert_eq!(
        grew(stats_hits),
        2.0,
        "the next two are answered from it: {after}"
    );
    for series in [
        "marginalia_http_request_duration_seconds_bucket{",
        r#"marginalia_db_pool_connections{state="idle"}"#,
        r#"marginalia_db_pool_connections{state="in_use"}"#,
        "marginalia_db_pool_max_connections",
        "marginalia_db_pool_waiting_requests",
    ] {
        assert!(value(&after, series).is_some(), "{series} in {after}");
    }
    assert!(
        !after.contains("metrics-article"),
        "series are labelled by route template, never by raw path"
    );

    // Requests are counted per site: a site created now is served (and labelled) within a
    // second; a site that does not exist is `unknown`, whatever its name.
    let ukrainian = marginalia::domain::site::SiteId::parse("uk", "site").unwrap();
    marginalia::store::sites::create(&app.pool, &ukrainian, "Українська служба")
        .await
        .unwrap();
    let in_site = |site: &str| format!("{base}/sites/{site}/v1/articles/metrics-article/stats");
    let mut served = 404;
    let mut not_yet = 0.0;
    for _ in 0..50 {
        served = app
            .client
            .get(in_site("uk"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if served == 200 {
            break;
        }
        not_yet += 1.0;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(served, 200, "the new site is served within a second or so");
    for nowhere in ["nowhere", "not-a-site-either"] {
        let response = app.client.get(in_site(nowhere)).send().await.unwrap();
        assert_eq!(response.status(), 404);
    }
    let last = scrape().await;
    let stats =
        r#"marginalia_http_requests_total{route="/v1/articles/{article_id}/stats",method="GET","#;
    assert_eq!(
        value(&last, &format!(r#"{stats}status="200",site="uk"}}"#)),
        Some(1.0),
        "{last}"
    );
    assert_eq!(
        value(&last, &format!(r#"{stats}status="404",site="unknown"}}"#)),
        Some(2.0 + not_yet),
        "{last}"
    );
    assert!(!last.contains("nowhere"), "unknown sites are not labels");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_separate_metrics_address_needs_no_key_and_the_main_one_has_no_metrics() {
    let app = spawn_app().await;
    let service = BinaryWithMetrics::start(&app).await;
    let base = &service.base;
    let review = json!({"rating": 5, "body": "scraped"});
    let posted = app
        .client
        .post(format!("{base}/v1/articles/scraped/reviews"))
        .json(&review)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let text = scrape_metrics(&app.client, service.metrics_port).await;
    assert_eq!(
        value(&text, "marginalia_reviews_created_total"),
        Some(1.0),
        "{text}"
    );
    let main = app
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404);
}
