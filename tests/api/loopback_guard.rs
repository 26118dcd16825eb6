//! Nothing a test does may send off this machine: every test app runs its webhook worker
//! loopback-only, and the harness fails a test whose worker tried a target elsewhere. This is
//! the guard's own test: an endpoint at a public name is refused before any DNS lookup, counted,
//! logged as a failed attempt on the normal schedule, and reported by the guard.

use std::time::Duration;

use marginalia::auth::Scope;
use marginalia::domain::webhook::RetrySchedule;
use marginalia::webhooks::sender::NON_LOOPBACK_REFUSED;
use serde_json::{json, Value};

use crate::common::webhooks::Receiver;
use crate::common::{loopback_guard_report, spawn_app_with};

const PATIENCE: Duration = Duration::from_secs(30);
const COUNTER: &str = "marginalia_webhook_non_loopback_refused_total";

/// The counter's value in a scrape (it has no labels).
fn counter(metrics: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{COUNTER} ")))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_to_a_public_name_is_refused_counted_and_reported_by_the_guard() {
    let app = spawn_app_with(|settings| {
        settings.webhooks.retry_schedule =
            RetrySchedule::new(vec![Duration::from_millis(100); 2]).unwrap();
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let scrape = || async {
        let response = app.get_with_key(&admin, "/metrics").await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    };
    assert!(
        counter(&scrape().await).is_some(),
        "{COUNTER} is exported from start-up, before anything was refused"
    );
    assert!(
        loopback_guard_report(&app.database_url)
            .await
            .expect("the guard can read the test's database")
            .is_none(),
        "nothing refused yet"
    );

    // The creation is accepted (its check does not resolve names); the worker must refuse it.
    let endpoint = app
        .subscribe(&admin, "https://cms.example.org/hooks", "review.created")
        .await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let created = app
        .post_review(
            "guarded-article",
            &json!({"rating": 5, "body": "Sent nowhere."}),
        )
        .await;
    assert_eq!(created.status(), 201);

    // Every attempt of the normal schedule (the first and two retries) is refused and logged.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let delivery = loop {
        let page = app
            .get_json_with_key(
                &admin,
                &format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"),
            )
            .await;
        if let Some(failed) = page["items"].get(0).filter(|d| d["status"] == "failed") {
            break failed.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited for the refused delivery to fail: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(delivery["attempts"], 3, "{delivery}");
    let log = delivery["log"].as_array().unwrap();
    assert_eq!(log.len(), 3, "{delivery}");
    for attempt in log {
        assert_eq!(
            attempt["status_code"],
            Value::Null,
            "never connected: {attempt}"
        );
        let error = attempt["error"].as_str().unwrap();
        // A lookup would have failed first (this machine has no DNS) with another message.
        assert!(error.starts_with(NON_LOOPBACK_REFUSED), "{error}");
    }

    // The counter is process-wide; this is the suite's only test that provokes a refusal.
    assert_eq!(
        counter(&scrape().await),
        Some(3.0),
        "one count per refused attempt"
    );

    let report = loopback_guard_report(&app.database_url)
        .await
        .expect("the guard can read the test's database")
        .expect("the guard reports the refused attempts");
    assert!(report.contains("3 delivery attempt(s)"), "{report}");
    assert!(report.contains("https://cms.example.org/hooks"), "{report}");
    // The teardown every test goes through fails loudly with that report.
    let teardown = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(app)));
    let panic = teardown.expect_err("the teardown guard fails the test");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert_eq!(message, report);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_service_exports_the_refusal_counter_at_zero() {
    let app = crate::common::spawn_app().await;
    let service = crate::common::BinaryWithMetrics::start(&app).await;
    let text = crate::common::scrape_metrics(&app.client, service.metrics_port).await;
    assert_eq!(counter(&text), Some(0.0), "{text}");
    assert!(
        text.contains(&format!("# TYPE {COUNTER} counter")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_only_reaches_a_loopback_receiver_without_the_private_targets_switch() {
    // What the scripts set: loopback-only, private targets left at their default (refused).
    let app = spawn_app_with(|settings| {
        settings.webhooks.allow_private_targets = false;
        settings.webhooks.loopback_only = true;
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(0);
    app.subscribe(&admin, &receiver.url, "review.created").await;
    let created = app
        .post_review(
            "loopback-article",
            &json!({"rating": 4, "body": "Sent to this machine."}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let review: Value = created.json().await.unwrap();

    receiver.wait_for_messages(1, PATIENCE).await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let event: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(event["data"]["id"], review["id"], "{event}");
}
