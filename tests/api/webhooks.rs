//! Marginalia tells the newsroom's systems about reviews with signed webhooks, from a
//! transactional outbox: every committed change is delivered, retried until the receiver takes
//! it, logged, never sent twice to a healthy receiver, and never sent into a private network
//! unless allowed.

use std::collections::HashMap;
use std::time::Duration;

use marginalia::auth::Scope;
use marginalia::config::{Settings, UnknownArticles};
use marginalia::domain::webhook::RetrySchedule;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::webhooks::{distinct_ids, Receiver};
use crate::common::{
    expect_problem, fixture, free_port, problem_fields, spawn_app, spawn_app_on, spawn_app_with,
    start_binary, wait_ready, without_edit_token, TestApp,
};

const PATIENCE: Duration = Duration::from_secs(20);

fn review() -> Value {
    fixture("reviews-valid.json")[0].clone()
}

async fn rotate_secret(app: &TestApp, admin: &str, endpoint_id: &str) -> Value {
    let path = format!("/v1/webhook-endpoints/{endpoint_id}/rotate-secret");
    let response = app.with_key(admin, Method::POST, &path, None).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn redeliver(
    app: &TestApp,
    admin: &str,
    endpoint_id: &str,
    delivery_id: &str,
) -> reqwest::Response {
    let path = format!("/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver");
    app.with_key(admin, Method::POST, &path, None).await
}

/// Polls an endpoint's delivery log until `done` holds for its newest delivery.
async fn wait_for_delivery(
    app: &TestApp,
    key: &str,
    endpoint_id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let page = app
            .get_json_with_key(
                key,
                &format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"),
            )
            .await;
        if let Some(newest) = page["items"].get(0).filter(|newest| done(newest)) {
            return newest.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited for a delivery that is {what}: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_gets_review_created_signed_so_the_reference_library_verifies_it() {
    let app = spawn_app().await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(0);
    let endpoint = app
        .create_endpoint(
            &admin,
            json!({"url": receiver.url, "description": "desk", "event_types": ["review.created"]}),
        )
        .await;
    let secret = endpoint["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));

    let article = app.register_fixture_article().await;
    let article_id = article["article_id"].as_str().unwrap();
    let created: Value = app
        .post_review(article_id, &review())
        .await
        .json()
        .await
        .unwrap();

    let requests = receiver.wait_for_messages(1, PATIENCE).await;
    let message = &requests[0];
    assert!(
        message.verifies_with(secret),
        "the reference library accepts our signature"
    );
    assert!(!message.verifies_with("whsec_QmFzZTY0U2VjcmV0Rm9yT3RoZXJDTVMxMjM0NTY="));
    let body = message.json();
    assert_eq!(body["type"], "review.created");
    assert_eq!(
        body["data"],
        without_edit_token(created.clone()),
        "the event carries the review as the API shows it"
    );
    assert!(
        !String::from_utf8_lossy(&message.body).contains("@example.com"),
        "no email"
    );
    assert!(message.id.starts_with("msg_"));

    // The secret is shown once: never read back.
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let read = app
        .get_json_with_key(&admin, &format!("/v1/webhook-endpoints/{endpoint_id}"))
        .await;
    assert!(read.get("secret").is_none());
    let listed = app.get_json_with_key(&admin, "/v1/webhook-endpoints").await;
    assert!(!listed.to_string().contains("whsec_"));
    let delivery = wait_for_delivery(&app, &admin, endpoint_id, "succeeded", |d| {
        d["status"] == "succeeded"
    })
    .await;
    assert_eq!(delivery["message_id"], message.id.as_str());
    assert_eq!(delivery["log"][0]["status_code"], 200);
    assert_eq!(delivery["log"][0]["response_excerpt"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_are_for_admins_and_checked() {
    let app = spawn_app().await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let cms = app.api_key(&[Scope::Cms]).await;
    let create = |key: Option<String>, body: Value| {
        let mut request = app
            .client
            .post(app.url("/v1/webhook-endpoints"))
            .json(&body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    let good = json!({"url": "https://cms.example.org/hooks"});
    expect_problem(create(None, good.clone()).await.unwrap(), 401).await;
    expect_problem(create(Some(cms), good.clone()).await.unwrap(), 403).await;
    for (body, field) in [
        (json!({"url": "ftp://cms.example.org/"}), "url"),
        (json!({"url": "https://user:pw@cms.example.org/"}), "url"),
        (
            json!({"url": "https://cms.example.org/", "event_types": []}),
            "event_types",
        ),
        (
            json!({"url": "https://cms.example.org/", "event_types": ["review.*"]}),
            "event_types",
        ),
        (
            json!({"url": "https://cms.example.org/", "secret": "mine"}),
            "secret",
        ),
    ] {
        let problem = expect_problem(
            create(Some(admin.clone()), body.clone()).await.unwrap(),
            422,
        )
        .await;
        assert_eq!(problem_fields(&problem), [field], "{body}");
    }
    let endpoint = app.create_endpoint(&admin, good).await;
    let id = endpoint["id"].as_str().unwrap();
    assert_eq!(
        endpoint["event_types"].as_array().unwrap().len(),
        9,
        "every event by default"
    );

    let path = format!("/v1/webhook-endpoints/{id}");
    let (app, admin, path) = (&app, admin.as_str(), path.as_str());
    let patch = |body: Value| async move {
        let response = app.with_key(admin, Method::PATCH, path, Some(&body)).await;
        assert_eq!(response.status(), 200, "{body}");
        response.json::<Value>().await.unwrap()
    };
    let changed = patch(
        json!({"enabled": false, "description": "paused", "event_types": ["review.created"]}),
    )
    .await;
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["description"], "paused");
    let cleared = patch(json!({"description": null})).await;
    assert!(cleared["description"].is_null());
    assert_eq!(
        cleared["event_types"],
        json!(["review.created"]),
        "absent fields stay"
    );

    let rotated = rotate_secret(app, admin, id).await;
    assert_ne!(rotated["secret"], endpoint["secret"]);
    assert!(rotated["previous_secret_valid_until"].is_string());

    let missing = format!("/v1/webhook-endpoints/{}", uuid::Uuid::now_v7());
    expect_problem(app.get_with_key(admin, &missing).await, 404).await;
    let bad_id = app.get_with_key(admin, "/v1/webhook-endpoints/nope").await;
    assert_eq!(
        problem_fields(&expect_problem(bad_id, 400).await),
        ["endpoint_id"]
    );
    let deleted = app.with_key(admin, Method::DELETE, path, None).await;
    assert_eq!(deleted.status(), 204);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_secret_signs_alongside_the_old_one_during_the_grace_period() {
    let app = spawn_app().await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(0);
    let endpoint = app.subscribe(&admin, &receiver.url, "review.created").await;
    let id = endpoint["id"].as_str().unwrap();
    let rotated = rotate_secret(&app, &admin, id).await;
    app.post_review("rotation", &review()).await;
    let message = &receiver.wait_for_messages(1, PATIENCE).await[0];
    assert!(
        message.verifies_with(endpoint["secret"].as_str().unwrap()),
        "old secret"
    );
    assert!(
        message.verifies_with(rotated["secret"].as_str().unwrap()),
        "new secret"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_failing_its_first_calls_gets_the_event_once_it_recovers() {
    let app = spawn_app().await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(3);
    let endpoint = app.subscribe(&admin, &receiver.url, "review.created").await;
    app.post_review("flaky-receiver", &review()).await;

    receiver.wait_for_messages(1, PATIENCE).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let delivery = wait_for_delivery(&app, &admin, endpoint_id, "succeeded", |d| {
        d["status"] == "succeeded"
    })
    .await;
    let requests = receiver.requests();
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [500, 500, 500, 200],
        "retried until it recovered, then once"
    );
    assert!(
        requests.iter().all(|r| r.id == requests[0].id),
        "one webhook-id on every attempt"
    );
    assert!(
        requests.iter().all(|r| r.body == requests[0].body),
        "the same body on every attempt"
    );
    let logged: Vec<Value> = delivery["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(logged, [json!(500), json!(500), json!(500), json!(200)]);
    assert_eq!(
        delivery["log"][0]["response_excerpt"],
        "receiver is failing on purpose"
    );

    let metrics = app
        .get_with_key(&admin, "/metrics")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("marginalia_webhook_attempts_total{result=\"failure\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("marginalia_webhook_deliveries_total{result=\"succeeded\"}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_down_past_the_last_retry_leaves_a_failed_delivery_that_redeliver_sends() {
    let app = spawn_app_with(|settings| {
        settings.webhooks.retry_schedule =
            RetrySchedule::new(vec![Duration::from_millis(50); 2]).unwrap();
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(usize::MAX);
    let endpoint = app.subscribe(&admin, &receiver.url, "review.created").await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    app.post_review("down-receiver", &review()).await;

    let failed = wait_for_delivery(&app, &admin, endpoint_id, "failed", |d| {
        d["status"] == "failed"
    })
    .await;
    assert_eq!(failed["attempts"], 3, "the first attempt and two retries");
    assert!(failed["next_attempt_at"].is_null());
    let failed_page = app
        .get_json_with_key(
            &admin,
            &format!("/v1/webhook-endpoints/{endpoint_id}/deliveries?status=failed"),
        )
        .await;
    assert_eq!(failed_page["items"].as_array().unwrap().len(), 1);

    receiver.fail_next(0);
    let delivery_id = failed["id"].as_str().unwrap();
    let queued = redeliver(&app, &admin, endpoint_id, delivery_id).await;
    assert_eq!(queued.status(), 202);
    let delivered = receiver.wait_for_messages(1, PATIENCE).await;
    assert!(
        delivered
            .iter()
            .all(|r| r.id == failed["message_id"].as_str().unwrap()),
        "the same webhook-id"
    );
    let succeeded = wait_for_delivery(&app, &admin, endpoint_id, "succeeded", |d| {
        d["status"] == "succeeded"
    })
    .await;
    assert_eq!(succeeded["attempts"], 4);

    // A pending delivery is already queued.
    receiver.fail_next(usize::MAX);
    app.post_review("down-receiver", &review()).await;
    let pending = wait_for_delivery(&app, &admin, endpoint_id, "retrying", |d| {
        d["status"] == "pending" && d["id"] != delivery_id
    })
    .await;
    let pending_id = pending["id"].as_str().unwrap();
    let response = redeliver(&app, &admin, endpoint_id, pending_id).await;
    let status = response.status();
    assert!(
        status == 409 || status == 202,
        "pending (409) or failed meanwhile (202): {status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_deliver_a_thousand_events_once_each() {
    let first = spawn_app().await;
    let second = spawn_app_on(&first.database_url, |_| {});
    let admin = first.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(0);
    first
        .subscribe(&admin, &receiver.url, "review.created")
        .await;

    let apps = [&first, &second];
    let posts = (0..1000).map(|n| {
        let app = apps[n % 2];
        async move {
            let body = json!({"rating": 1 + n % 5, "body": format!("Review number {n}")});
            let response = app.post_review(&format!("article-{}", n % 10), &body).await;
            assert_eq!(response.status(), 201);
        }
    });
    // Sixteen at a time: the two apps and the receiver share two cores with the database.
    let mut posts = posts.collect::<Vec<_>>();
    while !posts.is_empty() {
        let batch: Vec<_> = posts.drain(..posts.len().min(16)).collect();
        futures_util::future::join_all(batch).await;
    }

    receiver
        .wait_for_messages(1000, Duration::from_secs(60))
        .await;
    // Judged once both workers have nothing left to send, not at the thousandth arrival: a
    // duplicate sent later must still be seen.
    first.webhooks_settled().await;
    let requests = receiver.requests();
    assert_eq!(distinct_ids(requests.iter()), 1000, "none missing");
    assert_eq!(requests.len(), 1000, "no duplicates");
    let bodies: Vec<String> = requests
        .iter()
        .map(|r| r.json()["data"]["body"].as_str().unwrap().to_owned())
        .collect();
    for n in 0..1000 {
        assert!(
            bodies.contains(&format!("Review number {n}")),
            "review {n} announced"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_one_of_two_serving_processes_mid_way_loses_no_event() {
    let app = spawn_app_with(|settings| {
        settings.webhooks.worker = false;
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(0);
    // Slow answers keep deliveries in flight when the process dies.
    receiver.delay_answers(Duration::from_millis(100));
    app.subscribe(&admin, &receiver.url, "review.created").await;
    const EVENTS: usize = 300;
    for n in 0..EVENTS {
        let body = json!({"rating": 5, "body": format!("Review number {n}")});
        assert_eq!(app.post_review("killed-worker", &body).await.status(), 201);
    }

    let settings = || -> Vec<(&str, String)> {
        vec![
            ("MARGINALIA_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true".into()),
            ("MARGINALIA_WEBHOOK_POLL", "50ms".into()),
            ("MARGINALIA_WEBHOOK_TIMEOUT", "1s".into()),
            ("MARGINALIA_DB_STATEMENT_TIMEOUT_MS", "1000".into()),
        ]
    };
    let (port_a, port_b) = (free_port(), free_port());
    let mut doomed = start_binary(&app.database_url, port_a, &settings(), None);
    let mut survivor = start_binary(&app.database_url, port_b, &settings(), None);
    wait_ready(
        &app.client,
        &format!("http://127.0.0.1:{port_a}"),
        &mut doomed,
    )
    .await;
    wait_ready(
        &app.client,
        &format!("http://127.0.0.1:{port_b}"),
        &mut survivor,
    )
    .await;

    receiver
        .wait_until(PATIENCE, "a third of the events", |requests| {
            requests.len() >= EVENTS / 3
        })
        .await;
    let delivered_before_the_kill = distinct_ids(receiver.accepted().iter());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(doomed.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(delivered_before_the_kill < EVENTS, "killed mid-way");
    let requests = receiver
        .wait_for_messages(EVENTS, Duration::from_secs(60))
        .await;
    assert_eq!(distinct_ids(requests.iter()), EVENTS, "no event lost");
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for request in &requests {
        *copies.entry(request.id.as_str()).or_default() += 1;
    }
    let repeated = copies.values().filter(|count| **count > 1).count();
    // Only what the killed process had in flight may arrive twice (at most its concurrency).
    assert!(repeated <= 16, "{repeated} events arrived twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_receivers_are_refused_unless_allowed() {
    let app = spawn_app_with(|settings| {
        // The public-only policy under test (loopback-only would admit loopback receivers).
        settings.webhooks.allow_private_targets = false;
        settings.webhooks.loopback_only = false;
        settings.webhooks.worker = false;
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(0);
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    for url in [
        receiver.url.clone(),
        format!("http://localhost:{port}/hooks"),
        format!("http://[::ffff:127.0.0.1]:{port}/hooks"),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://10.0.0.1/hooks".to_owned(),
    ] {
        let body = json!({"url": url});
        let response = app
            .with_key(&admin, Method::POST, "/v1/webhook-endpoints", Some(&body))
            .await;
        let problem = expect_problem(response, 422).await;
        assert_eq!(problem["errors"][0]["field"], "url", "{url}");
        assert_eq!(problem["errors"][0]["code"], "disallowed", "{url}");
    }

    // An endpoint stored by an instance that allows private targets is still refused at send
    // time by one that does not: nothing reaches the receiver, and the log says why.
    let options = |allow_private_targets: bool, worker: bool| {
        move |settings: &mut Settings| {
            // The public-only policy under test must refuse the receiver on 127.0.0.1, which
            // loopback-only would admit; nothing here targets anything but loopback.
            // One attempt, no retries: the delivery fails at once where it is refused.
            settings.webhooks.allow_private_targets = allow_private_targets;
            settings.webhooks.loopback_only = false;
            settings.webhooks.worker = worker;
            settings.webhooks.retry_schedule = RetrySchedule::new(Vec::new()).unwrap();
        }
    };
    let lenient = spawn_app_on(&app.database_url, options(true, false));
    let endpoint = lenient
        .subscribe(&admin, &receiver.url, "review.created")
        .await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let strict_sender = spawn_app_on(&app.database_url, options(false, true));
    app.post_review("ssrf", &review()).await;
    let refused = wait_for_delivery(&app, &admin, endpoint_id, "failed", |d| {
        d["status"] == "failed"
    })
    .await;
    drop(strict_sender);
    let error = refused["log"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("address refused") && error.contains("127.0.0.1"),
        "{error}"
    );
    assert!(refused["log"][0]["status_code"].is_null());
    assert!(
        receiver.requests().is_empty(),
        "no request reached the receiver"
    );

    // With the development setting, the same delivery goes through.
    let _developer = spawn_app_on(&app.database_url, options(true, true));
    let delivery_id = refused["id"].as_str().unwrap();
    let queued = redeliver(&app, &admin, endpoint_id, delivery_id).await;
    assert_eq!(queued.status(), 202);
    receiver.wait_for_messages(1, PATIENCE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_not_followed() {
    let app = spawn_app_with(|settings| {
        settings.webhooks.retry_schedule = RetrySchedule::new(Vec::new()).unwrap();
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let redirecting = Receiver::start(0);
    let elsewhere = Receiver::start(0);
    redirecting.redirect_to(&elsewhere.url);
    let endpoint = app
        .subscribe(&admin, &redirecting.url, "review.created")
        .await;
    app.post_review("redirected", &review()).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let failed = wait_for_delivery(&app, &admin, endpoint_id, "failed", |d| {
        d["status"] == "failed"
    })
    .await;
    assert_eq!(
        failed["log"][0]["status_code"], 302,
        "a redirect is a failed attempt"
    );
    assert_eq!(redirecting.requests().len(), 1);
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect was not followed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_changes_of_a_busy_article_are_coalesced() {
    // A window no loaded machine outlasts while the ten reviews arrive; the test then ends it
    // itself, so nothing depends on how fast the reviews were written.
    let app = spawn_app_with(|settings| {
        settings.webhooks.stats_window = Duration::from_secs(3600);
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let receiver = Receiver::start(0);
    app.subscribe(&admin, &receiver.url, "article.stats_changed")
        .await;
    for (i, rating) in [5, 4, 5, 3, 5, 5, 4, 5, 2, 5].into_iter().enumerate() {
        let body = json!({"rating": rating, "body": format!("Busy article, review {i}")});
        assert_eq!(app.post_review("viral", &body).await.status(), 201);
    }
    let pending_stats = "SELECT count(*) AS n FROM outbox_events \
                         WHERE event_type = 'article.stats_changed' AND article_id = 'viral'";
    assert_eq!(app.count(pending_stats).await, 1, "ten changes, one event");
    assert!(
        receiver.requests().is_empty(),
        "nothing sent within the window"
    );
    // The window ends.
    let ended = app
        .count(
            "WITH due AS (UPDATE outbox_events SET available_at = now() \
             WHERE dispatched_at IS NULL AND event_type = 'article.stats_changed' \
             AND article_id = 'viral' RETURNING 1) SELECT count(*) AS n FROM due",
        )
        .await;
    assert_eq!(ended, 1, "the one gathered event is made due");
    receiver.wait_for_messages(1, PATIENCE).await;
    app.webhooks_settled().await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "one event for ten reviews");
    let event = requests[0].json();
    assert_eq!(event["type"], "article.stats_changed");
    assert_eq!(event["data"]["article_id"], "viral");
    assert_eq!(
        event["data"]["review_count"], 10,
        "the counts when it was sent"
    );
    assert_eq!(event["data"]["histogram"]["5"], 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_failing_for_too_long_is_disabled_and_says_so() {
    let receiver = Receiver::start(usize::MAX);
    let app = spawn_app_with(|settings| {
        settings.webhooks.worker = false;
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let endpoint = app.subscribe(&admin, &receiver.url, "review.created").await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();

    let log = tempfile::NamedTempFile::new().unwrap();
    let port = free_port();
    let env = [
        (
            "MARGINALIA_WEBHOOK_ALLOW_PRIVATE_TARGETS",
            "true".to_owned(),
        ),
        ("MARGINALIA_WEBHOOK_POLL", "50ms".to_owned()),
        (
            "MARGINALIA_WEBHOOK_RETRY_SCHEDULE",
            "200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms".to_owned(),
        ),
        ("MARGINALIA_WEBHOOK_DISABLE_AFTER", "500ms".to_owned()),
        ("MARGINALIA_LOG_FORMAT", "json".to_owned()),
    ];
    let mut service = start_binary(&app.database_url, port, &env, Some(log.path()));
    wait_ready(
        &app.client,
        &format!("http://127.0.0.1:{port}"),
        &mut service,
    )
    .await;
    app.post_review("unreachable", &review()).await;

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let disabled = loop {
        let read = app
            .get_json_with_key(&admin, &format!("/v1/webhook-endpoints/{endpoint_id}"))
            .await;
        if read["enabled"] == false {
            break read;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the endpoint was never disabled: {read}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(disabled["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("failed since"));
    assert!(disabled["failing_since"].is_string());
    let logged = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        logged
            .lines()
            .any(|line| line.contains("\"event\":\"webhook.endpoint_disabled\"")),
        "the log says so: {logged}"
    );

    // Re-enabled, it is tried again and its streak forgotten.
    receiver.fail_next(0);
    let enabled: Value = app
        .with_key(
            &admin,
            Method::PATCH,
            &format!("/v1/webhook-endpoints/{endpoint_id}"),
            Some(&json!({"enabled": true})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(enabled["enabled"], true);
    assert!(enabled["disabled_reason"].is_null() && enabled["failing_since"].is_null());
    receiver.wait_for_messages(1, PATIENCE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_newsroom_story() {
    let app = spawn_app_with(|settings| {
        settings.server.unknown_articles = UnknownArticles::Reject;
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let cms_inbox = Receiver::start(0);
    let endpoint = app
        .subscribe(&admin, &cms_inbox.url, "review.created")
        .await;

    // The CMS publishes the article.
    let article = fixture("article.json");
    let article_id = article["article_id"].as_str().unwrap();
    let published = crate::common::webhooks::cms_event(
        "article.published",
        chrono::Utc::now(),
        article.clone(),
    );
    assert_eq!(
        app.send_cms_event("msg_cms_publish", &published)
            .await
            .status(),
        200
    );

    // A reader posts a Ukrainian review.
    let review = fixture("reviews-valid.json")[0].clone();
    assert_eq!(review["language"], "uk");
    let created = app.post_review(article_id, &review).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();

    // The CMS hears of it, signed with the endpoint's secret.
    let message = &cms_inbox.wait_for_messages(1, PATIENCE).await[0];
    assert!(message.verifies_with(endpoint["secret"].as_str().unwrap()));
    let event = message.json();
    assert_eq!(event["type"], "review.created");
    assert_eq!(event["data"]["id"], created["id"]);
    assert_eq!(event["data"]["body"], review["body"]);
    assert_eq!(event["data"]["article_id"], article_id);

    // The CMS unpublishes the article: the next review is refused.
    let unpublished = crate::common::webhooks::cms_event(
        "article.unpublished",
        chrono::Utc::now(),
        json!({"article_id": article_id}),
    );
    assert_eq!(
        app.send_cms_event("msg_cms_unpublish", &unpublished)
            .await
            .status(),
        200
    );
    let refused = app
        .post_review(article_id, &fixture("reviews-valid.json")[1])
        .await;
    let problem = expect_problem(refused, 409).await;
    assert!(problem["detail"].as_str().unwrap().contains("unpublished"));
    assert_eq!(
        app.get_json(&format!("/v1/articles/{article_id}/reviews"))
            .await["items"][0]["id"],
        created["id"],
        "the published review stays readable"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reviews_are_not_announced_when_no_endpoint_listens() {
    let app = spawn_app().await;
    let created = app.post_review("quiet", &review()).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/reviews/{id}")).await.status(),
        200,
        "the review is stored"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM outbox_events").await,
        0
    );
}
