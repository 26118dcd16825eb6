//! Each refusal is a problem `type` of its own, so that a client switches on the type rather than
//! on the English of `detail`: every refusal type is published with a named example, and real
//! requests get each one.

use marginalia::api::openapi::openapi_json;
use marginalia::auth::Scope;
use marginalia::store::webhook_endpoints::MAX_ENDPOINTS;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{expect_problem, spawn_app, TestApp};

const URN: &str = "urn:marginalia:problem:";

/// The refusals (all 409s), by the last part of their type.
const REFUSALS: [&str; 9] = [
    "reviews-closed",
    "article-unpublished",
    "edit-window-closed",
    "review-deleted",
    "review-erased",
    "request-in-progress",
    "action-not-allowed",
    "redelivery-pending",
    "endpoint-limit",
];

/// Every published problem type has a named example somewhere in the document, but for the ones
/// no operation documents (405 comes from the router, 500 is a bug, and `conflict` is left for a
/// 409 that no refusal explains); each refusal type is published and shown under a 409.
#[test]
fn every_problem_type_is_published_with_an_example() {
    let spec: Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    let published: Vec<&str> = spec["components"]["schemas"]["ProblemType"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let mut shown = std::collections::BTreeMap::<String, Vec<String>>::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let examples = &response["content"]["application/problem+json"]["examples"];
                for example in examples.as_object().into_iter().flat_map(|e| e.values()) {
                    let problem_type = example["value"]["type"].as_str().unwrap().to_owned();
                    shown.entry(problem_type).or_default().push(status.clone());
                }
            }
        }
    }
    for refusal in REFUSALS {
        let urn = format!("{URN}{refusal}");
        assert!(published.contains(&urn.as_str()), "{urn} is not published");
        let statuses = shown
            .get(&urn)
            .unwrap_or_else(|| panic!("{urn} has no example"));
        assert!(statuses.iter().all(|s| s == "409"), "{urn}: {statuses:?}");
    }
    let unshown = ["method-not-allowed", "internal", "conflict"];
    for urn in published {
        let name = urn.strip_prefix(URN).unwrap();
        assert!(
            unshown.contains(&name) || shown.contains_key(urn),
            "{urn} is published but no operation shows it"
        );
    }
}

async fn refused(response: reqwest::Response, refusal: &str) -> Value {
    let problem = expect_problem(response, 409).await;
    assert_eq!(problem["type"], format!("{URN}{refusal}"), "{problem}");
    assert_eq!(problem["title"], "Conflict");
    problem
}

async fn submit(app: &TestApp, article: &str, idempotency_key: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/articles/{article}/reviews")))
        .header("idempotency-key", idempotency_key)
        .json(&json!({"rating": 4, "body": "Змістовно.", "author_email": "reader@example.com"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_submission_refusals_have_their_own_types() {
    let app = spawn_app().await;
    let cms = format!("Bearer {}", app.api_key(&[Scope::Cms]).await);
    let closed = json!({"title": "Closed", "reviews_open": false});
    let answer = app.put_article("types-closed", Some(&cms), &closed).await;
    assert_eq!(answer.status(), 201);
    let review = json!({"rating": 3, "body": "Пізно."});
    refused(
        app.post_review("types-closed", &review).await,
        "reviews-closed",
    )
    .await;

    let open = json!({"title": "Unpublished"});
    let answer = app
        .put_article("types-unpublished", Some(&cms), &open)
        .await;
    assert_eq!(answer.status(), 201);
    let unpublished = app
        .count(
            "WITH changed AS (UPDATE articles SET lifecycle = 'unpublished' \
             WHERE article_id = 'types-unpublished' RETURNING 1) SELECT count(*) AS n FROM changed",
        )
        .await;
    assert_eq!(unpublished, 1);
    let answer = app.post_review("types-unpublished", &review).await;
    let problem = refused(answer, "article-unpublished").await;
    assert!(problem["detail"].as_str().unwrap().contains("unpublished"));

    let admin = app.api_key(&[Scope::Admin]).await;
    let key = uuid::Uuid::new_v4().to_string();
    assert_eq!(submit(&app, "types-erased", &key).await.status(), 201);
    let erasure = json!({"author_email": "reader@example.com"});
    let erased = app
        .with_key(
            &admin,
            Method::POST,
            "/v1/data-rights/erasures",
            Some(&erasure),
        )
        .await;
    assert_eq!(erased.status(), 200);
    refused(submit(&app, "types-erased", &key).await, "review-erased").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_review_refusals_have_their_own_types() {
    let app = spawn_app().await;
    let created = app
        .post_review("types-reviews", &json!({"rating": 5, "body": "Дякую."}))
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let token = created["edit_token"].as_str().unwrap().to_owned();
    app.age_review(&id, 1).await;
    let edit = app
        .client
        .patch(app.url(&format!("/v1/reviews/{id}")))
        .header("x-edit-token", &token)
        .json(&json!({"rating": 4}))
        .send()
        .await
        .unwrap();
    refused(edit, "edit-window-closed").await;

    let deleted = app.delete_own_review(&id, &token).await;
    assert_eq!(deleted.status(), 204);
    let moderator = app.api_key(&[Scope::Moderator]).await;
    let reply = json!({"body": "Дякуємо за відгук."});
    let path = format!("/v1/reviews/{id}/reply");
    let answer = app
        .with_key(&moderator, Method::PUT, &path, Some(&reply))
        .await;
    refused(answer, "review-deleted").await;

    let action = json!({"action": "approve", "review_ids": [id]});
    let answer = app
        .with_key(
            &moderator,
            Method::POST,
            "/v1/moderation/actions",
            Some(&action),
        )
        .await;
    let problem = refused(answer, "action-not-allowed").await;
    assert_eq!(problem["errors"][0]["field"], "review_ids[0]");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_webhook_refusals_have_their_own_types() {
    let app = spawn_app().await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let known = uuid::Uuid::now_v7();
    let stored = app
        .count(&format!(
            "WITH stored AS (INSERT INTO webhook_endpoints (id, url, event_types, enabled, secret) \
             SELECT CASE WHEN n = 1 THEN '{known}'::uuid ELSE gen_random_uuid() END, \
             'https://cms.example.org/hooks/' || n, ARRAY['review.created'], false, 'whsec_types' \
             FROM generate_series(1, {MAX_ENDPOINTS}) n RETURNING 1) \
             SELECT count(*) AS n FROM stored"
        ))
        .await;
    assert_eq!(stored, MAX_ENDPOINTS);
    let endpoint = json!({"url": "https://cms.example.org/hooks/one-more"});
    let answer = app
        .with_key(
            &admin,
            Method::POST,
            "/v1/webhook-endpoints",
            Some(&endpoint),
        )
        .await;
    refused(answer, "endpoint-limit").await;

    // A delivery waiting for its next attempt (a day away, so no worker takes it meanwhile).
    let (event, delivery) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let queued = app
        .count(&format!(
            "WITH event AS (INSERT INTO outbox_events \
             (id, event_type, article_id, payload, created_at, available_at, dispatched_at) \
             VALUES ('{event}', 'review.created', 'types-webhooks', '{{}}', now(), now(), now()) \
             RETURNING id), \
             delivery AS (INSERT INTO webhook_deliveries \
             (id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at) \
             SELECT '{delivery}', '{known}', event.id, 'pending', 1, \
             now() + interval '1 day', now() FROM event RETURNING 1) \
             SELECT count(*) AS n FROM delivery"
        ))
        .await;
    assert_eq!(queued, 1);
    let path = format!("/v1/webhook-endpoints/{known}/deliveries/{delivery}/redeliver");
    let answer = app.with_key(&admin, Method::POST, &path, None).await;
    let problem = refused(answer, "redelivery-pending").await;
    assert!(problem["detail"].as_str().unwrap().contains("next attempt"));
}
