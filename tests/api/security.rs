//! What a hostile receiver, client or caller tried, and what must hold against it: every test
//! goes through the real service on real PostgreSQL.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use marginalia::auth::Scope;
use marginalia::config::Settings;
use marginalia::domain::moderation::ModerationMode;
use marginalia::domain::webhook::RetrySchedule;
use serde_json::{json, Value};

use crate::common::webhooks::Receiver;
use crate::common::{spawn_app, spawn_app_with, TestApp};

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

fn webhook_app(
    retry_schedule: Vec<Duration>,
    disable_after: Duration,
) -> impl FnOnce(&mut Settings) {
    move |settings: &mut Settings| {
        settings.webhooks.retry_schedule = RetrySchedule::new(retry_schedule).unwrap();
        settings.webhooks.disable_after = disable_after;
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

/// A service whose webhook attempts cannot be logged, with one endpoint subscribed to new
/// reviews and one review posted on `article` for it to announce.
struct Unloggable {
    app: TestApp,
    admin: String,
    receiver: Receiver,
    endpoint_id: String,
}

impl Unloggable {
    async fn start(retry_schedule: Vec<Duration>, disable_after: Duration, article: &str) -> Self {
        let app = spawn_app_with(webhook_app(retry_schedule, disable_after)).await;
        let admin = app.api_key(&[Scope::Admin]).await;
        let receiver = Receiver::start(usize::MAX);
        let endpoint = app.subscribe(&admin, &receiver.url, "review.created").await;
        let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
        break_the_attempt_log(&app).await;
        post_one_review(&app, article).await;
        Self {
            app,
            admin,
            receiver,
            endpoint_id,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_attempt_that_cannot_be_logged_still_follows_the_retry_schedule() {
    let unloggable = Unloggable::start(
        vec![Duration::from_millis(200); 2],
        Duration::from_secs(3600),
        "unloggable",
    )
    .await;
    let (app, admin, receiver) = (&unloggable.app, &unloggable.admin, &unloggable.receiver);
    let endpoint_id = &unloggable.endpoint_id;

    let path = format!("/v1/webhook-endpoints/{endpoint_id}/deliveries");
    let page = wait_for_json(app, admin, &path, "a failed delivery", |page| {
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
    let unloggable = Unloggable::start(
        vec![Duration::from_millis(300); 20],
        Duration::from_millis(200),
        "unloggable-disabled",
    )
    .await;
    let (app, admin) = (&unloggable.app, &unloggable.admin);
    let endpoint_id = &unloggable.endpoint_id;

    let path = format!("/v1/webhook-endpoints/{endpoint_id}");
    let disabled = wait_for_json(app, admin, &path, "a disabled endpoint", |endpoint| {
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

/// An answer as a prober sees it: status, headers (but the request id and date) and body.
async fn observed(response: reqwest::Response) -> (u16, Vec<(String, String)>, String) {
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "date"))
        .map(|(name, value)| {
            // actix-cors joins the exposed header names in a set's order, which differs between
            // the server's worker threads: list order says nothing about the review.
            let mut items: Vec<&str> = value.to_str().unwrap_or("?").split(", ").collect();
            items.sort_unstable();
            (name.as_str().to_owned(), items.join(", "))
        })
        .collect();
    headers.sort();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn another_reviews_edit_token_cannot_tell_a_hidden_review_from_a_missing_one() {
    let app = spawn_app_with(|settings| {
        settings.moderation.mode = ModerationMode::Pre;
    })
    .await;
    let mut created = Vec::new();
    for body in [
        "Hidden review, awaiting moderation.",
        "The prober's own review.",
    ] {
        let response = app
            .post_review("token-probe", &json!({"rating": 3, "body": body}))
            .await;
        assert_eq!(response.status(), 201);
        let review: Value = response.json().await.unwrap();
        assert_eq!(review["status"], "pending");
        created.push(review);
    }
    let hidden = created[0]["id"].as_str().unwrap();
    let foreign = created[1]["edit_token"].as_str().unwrap();
    let missing = uuid::Uuid::now_v7().to_string();
    let request = |method: reqwest::Method, id: &str, token: Option<&str>| {
        let mut request = app
            .client
            .request(method.clone(), app.url(&format!("/v1/reviews/{id}")));
        if let Some(token) = token {
            request = request.header("x-edit-token", token);
        }
        if method == reqwest::Method::PATCH {
            request = request.json(&json!({"body": "Overwritten by a stranger."}));
        }
        request
    };

    for method in [
        reqwest::Method::GET,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        let as_hidden = observed(
            request(method.clone(), hidden, Some(foreign))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let as_missing = observed(
            request(method.clone(), &missing, Some(foreign))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            as_hidden.0, 404,
            "{method} with a foreign token: {as_hidden:?}"
        );
        assert_eq!(
            as_hidden, as_missing,
            "{method}: hidden and missing look alike"
        );
        if method == reqwest::Method::GET {
            let without_token =
                observed(request(method.clone(), hidden, None).send().await.unwrap()).await;
            assert_eq!(
                as_hidden, without_token,
                "GET with and without a foreign token"
            );
        }
    }

    // Its own token still shows it, unchanged and not deleted by the strangers' attempts.
    let own = app.get_own_review(&created[0]).await;
    assert_eq!(own.status(), 200);
    let own: Value = own.json().await.unwrap();
    assert_eq!(own["body"], "Hidden review, awaiting moderation.");
    assert_eq!(own["status"], "pending");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_with_the_same_idempotency_key_after_an_erasure_stores_nothing_again() {
    let app = spawn_app().await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "rating": 2,
        "body": "Секретний текст, який автор попросив стерти.",
        "author_email": "erase.me@example.com"
    });
    let submit = || async {
        app.client
            .post(app.url("/v1/articles/erased-retry/reviews"))
            .header("idempotency-key", &key)
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    let first = submit().await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let replay = submit().await;
    assert_eq!(replay.status(), 201, "a retry before the erasure replays");
    assert_eq!(replay.json::<Value>().await.unwrap()["id"], first["id"]);

    let erased = app
        .with_key(
            &admin,
            reqwest::Method::POST,
            "/v1/data-rights/erasures",
            Some(&json!({"author_email": "erase.me@example.com"})),
        )
        .await;
    assert_eq!(erased.status(), 200);
    assert_eq!(erased.json::<Value>().await.unwrap()["erased"], 1);

    let retry = submit().await;
    let problem = crate::common::expect_problem(retry, 409).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("erased"),
        "{problem}"
    );
    // Nothing was stored again: one review on the article, erased, and no copy of the text.
    let id = first["id"].as_str().unwrap();
    assert_eq!(
        app.count("SELECT count(*) AS n FROM reviews WHERE article_id = 'erased-retry'")
            .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM reviews WHERE id = '{id}' \
             AND status = 'deleted' AND erased_at IS NOT NULL AND body = ''"
        ))
        .await,
        1
    );
    for sql in [
        "SELECT count(*) AS n FROM reviews WHERE body LIKE '%Секретний%'",
        "SELECT count(*) AS n FROM idempotency_keys WHERE response LIKE '%Секретний%'",
        "SELECT count(*) AS n FROM outbox_events WHERE payload::text LIKE '%Секретний%'",
    ] {
        assert_eq!(app.count(sql).await, 0, "{sql}");
    }
    let public = app.get(&format!("/v1/reviews/{id}")).await;
    assert_eq!(public.status(), 404);
    let page = app.get_json("/v1/articles/erased-retry/reviews").await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_urls_at_ipv6_special_purpose_addresses_are_refused() {
    let app = spawn_app_with(|settings| {
        // The public-only policy under test (loopback-only would admit loopback); every URL
        // here is refused when it is saved, before anything could be sent.
        settings.webhooks.allow_private_targets = false;
        settings.webhooks.loopback_only = false;
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let create = |url: String| {
        let app = &app;
        let admin = &admin;
        async move {
            app.client
                .post(app.url("/v1/webhook-endpoints"))
                .bearer_auth(admin)
                .json(&json!({"url": url, "enabled": false}))
                .send()
                .await
                .unwrap()
        }
    };
    for host in [
        "[::ffff:0:127.0.0.1]",
        "[::ffff:0:808:808]",
        "[3fff::1]",
        "[2001:10::1]",
        "[2001:20::1]",
        "[5f00::1]",
        "[2001:2::1]",
        "[2001:1::1]",
        "[100::1]",
        "[100:0:0:1::1]",
        "[64:ff9b:1::1]",
        "[2620:4f:8000::1]",
        "[ff0e::1]",
        "192.0.0.9",
        "192.31.196.1",
        "192.52.193.1",
        "192.175.48.1",
    ] {
        let problem =
            crate::common::expect_problem(create(format!("https://{host}/hooks")).await, 422).await;
        assert_eq!(
            crate::common::problem_fields(&problem),
            ["url"],
            "{host}: {problem}"
        );
    }
    // A public address is accepted (disabled, so nothing is ever sent to it).
    let accepted = create("https://[2606:4700:4700::1111]/hooks".into()).await;
    assert_eq!(accepted.status(), 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn helpful_votes_from_one_network_are_bounded_whatever_agents_or_tokens_it_invents() {
    let app = spawn_app_with(|settings| {
        // The tests' client is the trusted proxy of the readers it names in X-Forwarded-For.
        settings.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let created = app
        .post_review(
            "vote-stuffing",
            &json!({"rating": 5, "body": "Vote for me."}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let vote = |from: String, agent: String, token: Option<String>, helpful: bool| {
        let app = &app;
        async move {
            let mut body = json!({ "helpful": helpful });
            if let Some(token) = token {
                body["voter_token"] = json!(token);
            }
            let response = app
                .client
                .post(app.url(&format!("/v1/reviews/{id}/votes")))
                .header("x-forwarded-for", from)
                .header("user-agent", agent)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let count_votes = format!("SELECT count(*) AS n FROM review_votes WHERE review_id = '{id}'");

    // 20 User-Agents and 20 random voter tokens from one IPv4 address.
    let mut last = Value::Null;
    for i in 0..20 {
        last = vote("198.51.100.7".into(), format!("Agent/{i}"), None, true).await;
    }
    for _ in 0..20 {
        let token = uuid::Uuid::new_v4().to_string();
        last = vote("198.51.100.7".into(), "Same/1".into(), Some(token), true).await;
    }
    assert_eq!(last["helpful_count"], 3, "{last}");
    assert_eq!(app.count(&count_votes).await, 3);

    // The same from many addresses of one IPv6 /64.
    for i in 1..=20 {
        let token = uuid::Uuid::new_v4().to_string();
        last = vote(
            format!("2001:db8:7:7::{i:x}"),
            format!("V6/{i}"),
            Some(token),
            true,
        )
        .await;
    }
    assert_eq!(last["helpful_count"], 6, "{last}");

    // A counted voter may still change their vote; it is not a new voter.
    last = vote("198.51.100.7".into(), "Agent/0".into(), None, false).await;
    assert_eq!(
        (
            last["helpful_count"].clone(),
            last["unhelpful_count"].clone()
        ),
        (json!(5), json!(1))
    );

    // Other networks are not held back by the stuffing.
    for i in 1..=5 {
        last = vote(format!("203.0.113.{i}"), "Reader/1".into(), None, true).await;
    }
    assert_eq!(last["helpful_count"], 10, "{last}");
    let review = app.get_json(&format!("/v1/reviews/{id}")).await;
    assert_eq!(review["helpful_count"], 10, "{review}");
    assert_eq!(review["unhelpful_count"], 1, "{review}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_docs_and_their_assets_carry_a_strict_policy_and_refuse_framing() {
    let app = crate::common::spawn_app().await;
    for path in [
        "/docs/",
        "/docs/index.css",
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
        "/docs/favicon-32x32.png",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let policy = header("content-security-policy");
        let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
        for expected in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                directives.contains(&expected),
                "{path}: {expected} in {policy}"
            );
        }
        assert!(!policy.contains("unsafe-"), "{path}: {policy}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    }
    // The API itself is unchanged: its answers are not pages and carry no such policy.
    let healthz = app.get("/healthz").await;
    assert!(healthz.headers().get("content-security-policy").is_none());
}
