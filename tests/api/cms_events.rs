//! The CMS tells Marginalia about its articles with signed events: each is checked, applied once,
//! applied in the order the CMS made the changes, and drives what readers may do.

use chrono::{Duration as Age, Utc};
use marginalia::config::CmsSecrets;
use serde_json::{json, Value};

use crate::common::webhooks::cms_event;
use crate::common::{
    expect_problem, fixture, problem_fields, spawn_app, spawn_app_with, TestApp, CMS_SECRET,
};

/// The fixture article as the CMS's event data.
fn article_data() -> Value {
    fixture("article.json")
}

async fn lifecycle_of(app: &TestApp, article_id: &str) -> Option<String> {
    let response = app.get(&format!("/v1/articles/{article_id}")).await;
    if response.status() == 404 {
        return None;
    }
    let article: Value = response.json().await.unwrap();
    Some(article["lifecycle"].as_str().unwrap().to_owned())
}

async fn articles_stored(app: &TestApp) -> i64 {
    app.count("SELECT count(*) AS n FROM articles").await
}

#[tokio::test(flavor = "multi_thread")]
async fn events_signed_by_the_reference_library_are_applied() {
    let app = spawn_app().await;
    let data = article_data();
    let event = cms_event("article.published", Utc::now(), data.clone());

    let response = app.send_cms_event("msg_publish_1", &event).await;
    assert_eq!(response.status(), 200);
    let receipt: Value = response.json().await.unwrap();
    assert_eq!(
        receipt,
        json!({"webhook_id": "msg_publish_1", "outcome": "applied", "article_id": data["article_id"]})
    );

    let article = app
        .get_json(&format!(
            "/v1/articles/{}",
            data["article_id"].as_str().unwrap()
        ))
        .await;
    for field in [
        "title",
        "url",
        "language",
        "published_at",
        "section",
        "reviews_open",
    ] {
        assert_eq!(article[field], data[field], "{field}");
    }
    assert_eq!(article["lifecycle"], "published");
    assert!(
        article.get("body").is_none(),
        "the article text is not stored"
    );
}

/// A refused delivery: (case, webhook-id, webhook-timestamp, webhook-signature, body, status).
type RefusedCase = (&'static str, &'static str, String, String, Vec<u8>, u16);

/// Seconds outside the 300 s tolerance for the timestamp cases: 30 s beyond it, so that a slow run
/// (the cases are signed once, then sent one after another) cannot bring a future one back inside.
const OUTSIDE_TOLERANCE: i64 = 330;

#[tokio::test(flavor = "multi_thread")]
async fn refused_events_are_problems_and_change_nothing() {
    let app = spawn_app_with(|settings| {
        settings.server.body_limit = 8 * 1024;
    })
    .await;
    let body =
        serde_json::to_vec(&cms_event("article.published", Utc::now(), article_data())).unwrap();
    let now = Utc::now().timestamp();
    let sign = |id: &str, timestamp: i64, body: &[u8], secret: &str| {
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .sign(id, timestamp, body)
            .unwrap()
    };
    let good = sign("msg_1", now, &body, CMS_SECRET);
    let other_secret = "whsec_QmFzZTY0U2VjcmV0Rm9yT3RoZXJDTVMxMjM0NTY=";
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let oversized = {
        let mut data = article_data();
        data["body"] = json!("x".repeat(9 * 1024));
        serde_json::to_vec(&cms_event("article.published", Utc::now(), data)).unwrap()
    };
    let oversized_signature = sign("msg_1", now, &oversized, CMS_SECRET);

    // (case, id, timestamp, signature, body, status)
    let cases: Vec<RefusedCase> = vec![
        (
            "bad signature",
            "msg_1",
            now.to_string(),
            "v1,AAAA".into(),
            body.clone(),
            401,
        ),
        (
            "other secret",
            "msg_1",
            now.to_string(),
            sign("msg_1", now, &body, other_secret),
            body.clone(),
            401,
        ),
        (
            "body changed after signing",
            "msg_1",
            now.to_string(),
            good.clone(),
            tampered,
            401,
        ),
        (
            "id changed after signing",
            "msg_2",
            now.to_string(),
            good.clone(),
            body.clone(),
            401,
        ),
        (
            "missing id",
            "",
            now.to_string(),
            good.clone(),
            body.clone(),
            401,
        ),
        (
            "missing timestamp",
            "msg_1",
            String::new(),
            good.clone(),
            body.clone(),
            401,
        ),
        (
            "missing signature",
            "msg_1",
            now.to_string(),
            String::new(),
            body.clone(),
            401,
        ),
        (
            "stale timestamp",
            "msg_1",
            (now - OUTSIDE_TOLERANCE).to_string(),
            sign("msg_1", now - OUTSIDE_TOLERANCE, &body, CMS_SECRET),
            body.clone(),
            401,
        ),
        (
            "future timestamp",
            "msg_1",
            (now + OUTSIDE_TOLERANCE).to_string(),
            sign("msg_1", now + OUTSIDE_TOLERANCE, &body, CMS_SECRET),
            body.clone(),
            401,
        ),
        (
            "body over the limit",
            "msg_1",
            now.to_string(),
            oversized_signature,
            oversized,
            413,
        ),
    ];
    let mut details = Vec::new();
    for (case, id, timestamp, signature, body, status) in cases {
        let mut request = app
            .client
            .post(app.url("/v1/webhooks/cms"))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in [
            ("webhook-id", id),
            ("webhook-timestamp", &timestamp),
            ("webhook-signature", &signature),
        ] {
            if !value.is_empty() {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{case}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{case}"
        );
        let problem: Value = response.json().await.unwrap();
        if status == 401 {
            details.push(problem["detail"].as_str().unwrap().to_owned());
        }
        assert_eq!(articles_stored(&app).await, 0, "{case}: nothing applied");
    }
    details.dedup();
    assert_eq!(
        details.len(),
        1,
        "every refusal reads the same: {details:?}"
    );

    // Signed correctly but malformed: a 400 naming the field, still nothing applied.
    let mut bad_url = article_data();
    bad_url["url"] = json!("javascript:alert(1)");
    let response = app
        .send_cms_event(
            "msg_3",
            &cms_event("article.published", Utc::now(), bad_url),
        )
        .await;
    let problem = expect_problem(response, 400).await;
    assert_eq!(problem_fields(&problem), ["data.url"]);
    let response = app
        .send_cms_event("msg_4", &json!({"type": "article.renamed", "timestamp": Utc::now(), "data": {"article_id": "a"}}))
        .await;
    assert_eq!(
        problem_fields(&expect_problem(response, 400).await),
        ["type"]
    );
    let response = app
        .send_cms_event(
            "msg_5",
            &cms_event(
                "article.updated",
                Utc::now() + Age::hours(1),
                article_data(),
            ),
        )
        .await;
    assert_eq!(
        problem_fields(&expect_problem(response, 400).await),
        ["timestamp"]
    );
    assert_eq!(articles_stored(&app).await, 0);

    // With no secret configured, every event is refused.
    let closed = spawn_app_with(|settings| {
        settings.webhooks.cms_secrets = CmsSecrets::default();
    })
    .await;
    let response = closed
        .send_cms_event(
            "msg_1",
            &cms_event("article.published", Utc::now(), article_data()),
        )
        .await;
    expect_problem(response, 401).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_webhook_id_is_applied_once() {
    let app = spawn_app().await;
    let id = article_data()["article_id"].as_str().unwrap().to_owned();
    let first = cms_event(
        "article.published",
        Utc::now() - Age::seconds(10),
        article_data(),
    );
    assert_eq!(app.send_cms_event("msg_once", &first).await.status(), 200);

    // The same id again, even carrying other content, changes nothing.
    let mut changed = article_data();
    changed["title"] = json!("A title that must not land");
    let replay = cms_event("article.updated", Utc::now(), changed);
    let response = app.send_cms_event("msg_once", &replay).await;
    assert_eq!(response.status(), 200);
    let receipt: Value = response.json().await.unwrap();
    assert_eq!(receipt["outcome"], "already_processed");
    let article = app.get_json(&format!("/v1/articles/{id}")).await;
    assert_eq!(article["title"], article_data()["title"]);

    // Concurrent redeliveries of one new event: exactly one applies it.
    let event = cms_event("article.unpublished", Utc::now(), json!({"article_id": id}));
    let sends = (0..8).map(|_| app.send_cms_event("msg_concurrent", &event));
    let mut outcomes = Vec::new();
    for response in futures_util::future::join_all(sends).await {
        assert_eq!(response.status(), 200);
        let receipt: Value = response.json().await.unwrap();
        outcomes.push(receipt["outcome"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "applied").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| *o == "already_processed")
            .count(),
        7
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_delivered_out_of_order_end_in_the_newest_state() {
    let app = spawn_app().await;
    let start = Utc::now() - Age::minutes(3);
    let titled = |title: &str| {
        let mut data = article_data();
        data["title"] = json!(title);
        data
    };
    // The CMS's history of one article: published, edited twice, unpublished.
    let history = [
        ("article.published", titled("First")),
        ("article.updated", titled("Second")),
        ("article.updated", titled("Third")),
    ];
    let orders: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for (run, order) in orders.iter().enumerate() {
        let article_id = format!("out-of-order-{run}");
        for &index in order {
            let (event_type, data) = &history[index];
            let mut data = data.clone();
            data["article_id"] = json!(article_id);
            let event = cms_event(event_type, start + Age::seconds(index as i64), data);
            let response = app
                .send_cms_event(&format!("msg_{run}_{index}"), &event)
                .await;
            assert_eq!(response.status(), 200);
        }
        let article = app.get_json(&format!("/v1/articles/{article_id}")).await;
        assert_eq!(article["title"], "Third", "delivered in order {order:?}");
        assert_eq!(
            article["lifecycle"], "published",
            "delivered in order {order:?}"
        );
    }

    // An unpublish that arrives before the (older) publish still wins.
    let unpublish = cms_event(
        "article.unpublished",
        start + Age::seconds(5),
        json!({"article_id": "late-publish"}),
    );
    let mut data = article_data();
    data["article_id"] = json!("late-publish");
    let publish = cms_event("article.published", start, data);
    app.send_cms_event("msg_unpublish", &unpublish).await;
    let response = app.send_cms_event("msg_publish", &publish).await;
    let receipt: Value = response.json().await.unwrap();
    assert_eq!(receipt["outcome"], "superseded");
    assert_eq!(
        lifecycle_of(&app, "late-publish").await.as_deref(),
        Some("unpublished")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unpublished_articles_refuse_reviews_and_deleted_ones_hide_them_until_republished() {
    let app = spawn_app().await;
    let id = article_data()["article_id"].as_str().unwrap().to_owned();
    let start = Utc::now() - Age::minutes(1);
    let send = |event_type: &'static str, offset: i64, webhook_id: &'static str| {
        let data = if event_type == "article.published" {
            article_data()
        } else {
            json!({"article_id": id})
        };
        let event = cms_event(event_type, start + Age::seconds(offset), data);
        let app = &app;
        async move {
            let response = app.send_cms_event(webhook_id, &event).await;
            assert_eq!(response.status(), 200, "{event_type}");
        }
    };
    send("article.published", 0, "msg_a").await;
    let review = fixture("reviews-valid.json")[0].clone();
    let created = app.post_review(&id, &review).await;
    assert_eq!(created.status(), 201);
    let review_id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    send("article.unpublished", 1, "msg_b").await;
    let refused = expect_problem(app.post_review(&id, &review).await, 409).await;
    assert!(
        refused["detail"].as_str().unwrap().contains("unpublished"),
        "{refused}"
    );
    let page = app.get_json(&format!("/v1/articles/{id}/reviews")).await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "published reviews stay readable"
    );
    let stats = app.get_json(&format!("/v1/articles/{id}/stats")).await;
    assert_eq!(stats["review_count"], 1);
    let reviewed_days = |daily: Value| {
        daily["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|day| day["review_count"].as_i64().unwrap())
            .sum::<i64>()
    };
    let daily = app
        .get_json(&format!("/v1/articles/{id}/stats/daily"))
        .await;
    assert_eq!(reviewed_days(daily), 1);

    send("article.deleted", 2, "msg_c").await;
    for path in [
        format!("/v1/articles/{id}"),
        format!("/v1/articles/{id}/reviews"),
        format!("/v1/articles/{id}/stats"),
        format!("/v1/articles/{id}/stats/daily"),
        format!("/v1/reviews/{review_id}"),
    ] {
        expect_problem(app.get(&path).await, 404).await;
    }
    expect_problem(app.post_review(&id, &review).await, 404).await;

    send("article.published", 3, "msg_d").await;
    let page = app.get_json(&format!("/v1/articles/{id}/reviews")).await;
    assert_eq!(
        page["items"][0]["id"],
        review_id.as_str(),
        "reviews are back"
    );
    assert_eq!(
        app.get_json(&format!("/v1/articles/{id}/stats")).await["review_count"],
        1
    );
    let daily = app
        .get_json(&format!("/v1/articles/{id}/stats/daily"))
        .await;
    assert_eq!(reviewed_days(daily), 1);
    assert_eq!(app.post_review(&id, &review).await.status(), 201);
}
