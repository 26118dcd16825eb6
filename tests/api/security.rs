//! What a hostile receiver, client or caller tried, and what must hold against it: every test
//! goes through the real service on real PostgreSQL.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use marginalia::auth::Scope;
use serde_json::{json, Value};

use crate::common::webhooks::Receiver;
use crate::common::{spawn_app_with, TestApp, TestOptions, WebhookOptions};

const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `path` (with `key`) until `done` holds for its JSON, or fails the test.
async fn wait_for_json(
    app: &TestApp,
    key: &str,
    path: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let value = app.get_json_with_key(key, path).await;
        if done(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {PATIENCE:?} for {what}: {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn webhook_app(retry_schedule: Vec<Duration>, disable_after: Duration) -> TestOptions {
    TestOptions {
        webhooks: WebhookOptions {
            retry_schedule,
            disable_after,
            ..WebhookOptions::default()
        },
        ..TestOptions::default()
    }
}

async fn post_one_review(app: &TestApp, article: &str) {
    let created = app
        .post_review(article, &json!({"rating": 4, "body": "Worth announcing."}))
        .await;
    assert_eq!(created.status(), 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_answering_nul_and_non_utf8_bytes_is_logged_once_and_not_resent() {
    let app = spawn_app_with(webhook_app(
        vec![Duration::from_millis(100); 3],
        Duration::from_secs(3600),
    ))
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(0);
    // "ok" and NULs, then a GIF pixel's header, UTF-16 and gzip's magic bytes.
    let mut answer = b"ok\0\0".to_vec();
    answer.extend_from_slice(b"GIF89a\x01\x00\x01\x00\x80\x00\x00");
    answer.extend_from_slice(&[0xff, 0xfe, b'o', 0, b'k', 0, 0x1f, 0x8b, 0x08, 0]);
    answer.extend(std::iter::repeat_n(0u8, 4096));
    receiver.answer_ok_with(&answer);
    let endpoint = app.subscribe(&admin, &receiver.url, "review.created").await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    post_one_review(&app, "nul-receiver").await;

    let path = format!("/v1/webhook-endpoints/{endpoint_id}/deliveries");
    let page = wait_for_json(&app, &admin, &path, "a succeeded delivery", |page| {
        page["items"][0]["status"] == "succeeded"
    })
    .await;
    let delivery = &page["items"][0];
    assert_eq!(delivery["attempts"], 1, "{delivery}");
    let log = delivery["log"].as_array().unwrap();
    assert_eq!(log.len(), 1, "the attempt is logged: {delivery}");
    assert_eq!(log[0]["status_code"], 200);
    let excerpt = log[0]["response_excerpt"].as_str().unwrap();
    assert!(
        excerpt.starts_with("ok\u{FFFD}\u{FFFD}GIF89a"),
        "{excerpt:?}"
    );
    assert!(!excerpt.contains('\0'), "{excerpt:?}");
    assert!(
        excerpt.len() <= 1024 * 3,
        "bounded: 1 KiB of answer, each byte at most one U+FFFD ({} bytes)",
        excerpt.len()
    );
    // Succeeded means no further attempt is due: the receiver got the message exactly once.
    assert_eq!(receiver.requests().len(), 1);
}

/// Makes every insert into the attempt log fail, as a full disk or a broken column would.
async fn break_the_attempt_log(app: &TestApp) {
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    for statement in [
        "CREATE FUNCTION refuse_attempt_log() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'injected: the attempt log refuses writes'; END $$",
        "CREATE TRIGGER refuse_attempt_log BEFORE INSERT ON webhook_attempts \
         FOR EACH ROW EXECUTE FUNCTION refuse_attempt_log()",
    ] {
        diesel::sql_query(statement)
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_attempt_that_cannot_be_logged_still_follows_the_retry_schedule() {
    let app = spawn_app_with(webhook_app(
        vec![Duration::from_millis(200); 2],
        Duration::from_secs(3600),
    ))
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(usize::MAX);
    let endpoint = app.subscribe(&admin, &receiver.url, "review.created").await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    break_the_attempt_log(&app).await;
    post_one_review(&app, "unloggable").await;

    let path = format!("/v1/webhook-endpoints/{endpoint_id}/deliveries");
    let page = wait_for_json(&app, &admin, &path, "a failed delivery", |page| {
        page["items"][0]["status"] == "failed"
    })
    .await;
    let delivery = &page["items"][0];
    assert_eq!(
        delivery["attempts"], 3,
        "the first and two retries: {delivery}"
    );
    assert_eq!(delivery["log"], json!([]), "nothing could be logged");
    // Failed means no attempt is due any more: exactly the three the schedule allows were sent
    // (left to its lease, the delivery would have been resent without end).
    assert_eq!(receiver.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_whose_attempts_cannot_be_logged_is_still_disabled_by_the_rule() {
    let app = spawn_app_with(webhook_app(
        vec![Duration::from_millis(300); 20],
        Duration::from_millis(200),
    ))
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(usize::MAX);
    let endpoint = app.subscribe(&admin, &receiver.url, "review.created").await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    break_the_attempt_log(&app).await;
    post_one_review(&app, "unloggable-disabled").await;

    let path = format!("/v1/webhook-endpoints/{endpoint_id}");
    let disabled = wait_for_json(&app, &admin, &path, "a disabled endpoint", |endpoint| {
        endpoint["enabled"] == false
    })
    .await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .is_some_and(|reason| reason.starts_with("every delivery attempt failed")),
        "{disabled}"
    );
}
