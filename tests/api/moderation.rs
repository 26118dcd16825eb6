//! Moderation as newsroom editors and readers meet it: pre-moderation, automatic rules, the
//! moderators' queue and bulk actions, authors' edit tokens, votes and flags, rate limits,
//! idempotent submission, data rights and the newsroom's reply.

use std::time::Duration;

use marginalia::auth::Scope;
use marginalia::config::Settings;
use marginalia::domain::moderation::ModerationMode;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::webhooks::Receiver;
use crate::common::{expect_problem, fixture, problem_fields, spawn_app, spawn_app_with, TestApp};

const ARTICLE: &str = "voa-2020-05-iskp-attacks";

fn review(body: &str, rating: i64) -> Value {
    json!({"rating": rating, "body": body, "author_name": "Олена К."})
}

async fn moderator(app: &TestApp) -> String {
    app.api_key(&[Scope::Moderator]).await
}

/// Submits and returns the 201's body.
async fn submit(app: &TestApp, body: &Value) -> Value {
    let response = app.post_review(ARTICLE, body).await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    response.json().await.unwrap()
}

async fn act(app: &TestApp, key: &str, action: &str, ids: &[&str]) -> reqwest::Response {
    app.with_key(
        key,
        Method::POST,
        "/v1/moderation/actions",
        Some(&json!({"action": action, "review_ids": ids})),
    )
    .await
}

async fn queue(app: &TestApp, key: &str, query: &str) -> Value {
    app.get_json_with_key(key, &format!("/v1/moderation/queue?{query}"))
        .await
}

/// The article's stats as the API shows them (the read cache is per process, and these tests
/// change reviews through the same process, so it is current).
async fn stats(app: &TestApp) -> (i64, Vec<i64>) {
    let stats = app.get_json(&format!("/v1/articles/{ARTICLE}/stats")).await;
    let histogram = (1..=5)
        .map(|rating| stats["histogram"][rating.to_string()].as_i64().unwrap())
        .collect();
    (stats["review_count"].as_i64().unwrap(), histogram)
}

/// The stats recounted from the reviews themselves.
async fn recount(app: &TestApp) -> (i64, Vec<i64>) {
    let mut histogram = Vec::new();
    for rating in 1..=5 {
        histogram.push(
            app.count(&format!(
                "SELECT count(*) AS n FROM reviews WHERE article_id = '{ARTICLE}' \
                 AND status = 'published' AND rating = {rating}"
            ))
            .await,
        );
    }
    (histogram.iter().sum(), histogram)
}

fn pre_moderated() -> impl FnOnce(&mut Settings) {
    move |settings: &mut Settings| {
        settings.moderation.mode = ModerationMode::Pre;
        settings.server.read_cache_ttl = Duration::ZERO;
    }
}

#[tokio::test]
async fn under_pre_moderation_a_review_waits_unseen_until_approved() {
    let app = spawn_app_with(pre_moderated()).await;
    let key = moderator(&app).await;
    let created = submit(&app, &review("Текст добре показує хронологію подій.", 4)).await;
    assert_eq!(created["status"], "pending");
    let id = created["id"].as_str().unwrap();

    let page = app
        .get_json(&format!("/v1/articles/{ARTICLE}/reviews"))
        .await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(app.get(&format!("/v1/reviews/{id}")).await.status(), 404);
    assert_eq!(stats(&app).await.0, 0);
    // The author sees it, awaiting moderation, with the token.
    let own = app.get_own_review(&created).await;
    assert_eq!(own.status(), 200);
    assert_eq!(own.json::<Value>().await.unwrap()["status"], "pending");

    let waiting = queue(&app, &key, "status=pending").await;
    assert_eq!(waiting["items"][0]["id"], id);
    assert_eq!(waiting["items"][0]["reasons"], json!([]));

    let approved = act(&app, &key, "approve", &[id]).await;
    assert_eq!(approved.status(), 200);
    let approved: Value = approved.json().await.unwrap();
    assert_eq!(approved["changed"][0]["from"], "pending");
    assert_eq!(approved["changed"][0]["to"], "published");
    let page = app
        .get_json(&format!("/v1/articles/{ARTICLE}/reviews"))
        .await;
    assert_eq!(page["items"][0]["id"], id);
    assert_eq!(page["items"][0]["status"], "published");
    assert_eq!(stats(&app).await, (1, vec![0, 0, 0, 1, 0]));

    let log = app
        .get_json_with_key(&key, &format!("/v1/moderation/log?review_id={id}"))
        .await;
    let entry = &log["items"][0];
    assert_eq!(entry["actor"], "test", "the key's name");
    assert_eq!(entry["action"], "approve");
    assert_eq!(entry["from_status"], "pending");
    assert_eq!(entry["to_status"], "published");
    assert_eq!(
        log["items"][1]["action"], "submit",
        "the hold is logged too"
    );
}

#[tokio::test]
async fn an_article_can_be_pre_moderated_on_a_post_moderated_site() {
    let app = spawn_app().await;
    let cms = format!("Bearer {}", app.api_key(&[Scope::Cms]).await);
    let app = &app;
    let cms = &cms;
    let put = |body: Value| async move { app.put_article(ARTICLE, Some(cms), &body).await };
    let created = put(json!({"title": "Sensitive", "moderation": "pre"})).await;
    assert!(created.status().is_success(), "{}", created.status());
    assert_eq!(
        submit(app, &review("Зважений текст.", 5)).await["status"],
        "pending"
    );
    let elsewhere = app
        .post_review("another-article", &review("Зважений текст.", 5))
        .await;
    assert_eq!(
        elsewhere.json::<Value>().await.unwrap()["status"],
        "published"
    );
    // The CMS's next sync leaves the editorial setting alone; null gives the site's back.
    let synced = put(json!({"title": "Sensitive, updated"})).await;
    assert_eq!(synced.json::<Value>().await.unwrap()["moderation"], "pre");
    assert_eq!(
        submit(app, &review("Ще один текст.", 5)).await["status"],
        "pending"
    );
    let reset = put(json!({"moderation": null})).await;
    assert_eq!(
        reset.json::<Value>().await.unwrap()["moderation"],
        Value::Null
    );
    assert_eq!(
        submit(app, &review("Після зміни режиму.", 5)).await["status"],
        "published"
    );
}

/// Random sequences of moderator actions over a few reviews: after each step the stats equal a
/// recount of the published reviews, whatever was allowed or refused.
#[tokio::test]
async fn stats_stay_exact_over_random_transition_sequences() {
    use rand::{Rng, SeedableRng};
    let app = spawn_app_with(|settings| {
        pre_moderated()(settings);
        settings.moderation.flag_threshold = 1;
    })
    .await;
    let key = moderator(&app).await;
    let mut reviews = Vec::new();
    for rating in 1..=5 {
        for copy in 0..2 {
            let body = format!("Відгук номер {rating}-{copy} про статтю.");
            let created = submit(&app, &review(&body, rating)).await;
            let id = created["id"].as_str().unwrap().to_owned();
            reviews.push((id, created["edit_token"].as_str().unwrap().to_owned()));
        }
    }
    let seed: u64 = rand::random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // Moderators' actions, and what authors and readers do: edits that change the rating, author
    // deletions, and flags (a threshold of 1 takes a published review down at once).
    let steps = [
        "approve", "reject", "spam", "restore", "delete", "edit", "withdraw", "flag",
    ];
    for step in 0..80 {
        let kind = steps[rng.random_range(0..steps.len())];
        let (id, token) = &reviews[rng.random_range(0..reviews.len())];
        let status = match kind {
            "edit" => app
                .client
                .patch(app.url(&format!("/v1/reviews/{id}")))
                .header("x-edit-token", token)
                .json(&json!({"rating": rng.random_range(1..=5)}))
                .send()
                .await
                .unwrap()
                .status(),
            "withdraw" => app.delete_own_review(id, token).await
                .status(),
            "flag" => app
                .client
                .post(app.url(&format!("/v1/reviews/{id}/flags")))
                .json(&json!({"reason": "other", "voter_token": format!("flagging-reader-{step:06}")}))
                .send()
                .await
                .unwrap()
                .status(),
            action => {
                let count = rng.random_range(1..=3);
                let chosen: Vec<&str> = (0..count)
                    .map(|_| reviews[rng.random_range(0..reviews.len())].0.as_str())
                    .collect();
                act(&app, &key, action, &chosen).await.status()
            }
        };
        // Refusals are fine (a deleted review takes nothing, only published ones take flags);
        // errors are not.
        assert!(
            [200, 204, 404, 409].contains(&status.as_u16()),
            "seed {seed} step {step}: {kind} gave {status}"
        );
        assert_eq!(
            stats(&app).await,
            recount(&app).await,
            "seed {seed} step {step}: {kind}"
        );
    }
}

#[tokio::test]
async fn each_rule_fires_with_a_visible_reason_and_clean_reviews_pass() {
    let app = spawn_app_with(|settings| {
        settings.moderation.banned_terms = vec!["шахрай".into(), "casino".into()];
        settings.server.read_cache_ttl = Duration::ZERO;
    })
    .await;
    let key = moderator(&app).await;
    let cases = [
        (
            json!({"rating": 1, "body": "Автор — ШаХрАй, не вірте жодному слову."}),
            "banned_term",
            "pending",
        ),
        (
            json!({"rating": 5, "body": "Links: https://a.example https://b.example https://c.example"}),
            "too_many_links",
            "pending",
        ),
        (
            json!({"rating": 5, "body": "Чудова стаття, дякую!", "website": "http://bot.example"}),
            "honeypot",
            "spam",
        ),
        (
            json!({"rating": 1, "body": "ЦЕ НАЙГІРША СТАТТЯ, ЯКУ Я ЧИТАВ"}),
            "shouting",
            "pending",
        ),
    ];
    for (body, reason, status) in &cases {
        let created = submit(&app, body).await;
        // The author learns nothing about which rule fired.
        assert_eq!(created["status"], "pending", "{reason}");
        let held = queue(&app, &key, &format!("status={status}&reason={reason}")).await;
        assert_eq!(
            held["items"].as_array().unwrap().len(),
            1,
            "{reason}: {held}"
        );
        assert_eq!(held["items"][0]["id"], created["id"]);
        assert!(held["items"][0]["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!(reason)));
    }
    // The same text from the same client on the same article: the second is a duplicate.
    let text = json!({"rating": 4, "body": "Дуже корисний матеріал про Кунар."});
    assert_eq!(submit(&app, &text).await["status"], "published");
    let repeated = submit(&app, &text).await;
    let held = queue(&app, &key, "status=pending&reason=duplicate").await;
    assert_eq!(held["items"][0]["id"], repeated["id"]);

    let before = app
        .count("SELECT count(*) AS n FROM reviews WHERE status <> 'published'")
        .await;
    for valid in fixture("reviews-valid.json").as_array().unwrap() {
        let created = submit(&app, valid).await;
        assert_eq!(created["status"], "published", "{valid}");
    }
    let after = app
        .count("SELECT count(*) AS n FROM reviews WHERE status <> 'published'")
        .await;
    assert_eq!(before, after, "no valid fixture review is held");
}

#[tokio::test]
async fn a_bulk_action_of_500_is_one_transaction() {
    let app = spawn_app_with(pre_moderated()).await;
    let key = moderator(&app).await;
    // 500 pending reviews, written directly: the queue does not care how they arrived.
    app.count(&format!(
        "WITH a AS (INSERT INTO articles (article_id) VALUES ('{ARTICLE}') RETURNING 1), \
         r AS (INSERT INTO reviews (id, article_id, rating, body, status) \
         SELECT gen_random_uuid(), '{ARTICLE}', 1 + n % 5, 'Відгук ' || n, 'pending' \
         FROM generate_series(1, 500) n \
         RETURNING 1) SELECT (SELECT count(*) FROM r) AS n"
    ))
    .await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(cursor) => format!("limit=100&cursor={cursor}"),
                None => "limit=100".to_owned(),
            };
            let page = queue(&app, &key, &query).await;
            for item in page["items"].as_array().unwrap() {
                ids.push(item["id"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        ids
    };
    assert_eq!(ids.len(), 500);

    // One unknown id among 500: nothing changes, and the error names it.
    let mut with_bad: Vec<&str> = ids.iter().map(String::as_str).collect();
    with_bad[499] = "019ab5c4-7c2e-7d43-9a1e-000000000000";
    let problem = expect_problem(act(&app, &key, "approve", &with_bad).await, 404).await;
    assert_eq!(problem_fields(&problem), ["review_ids[499]"]);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM reviews WHERE status = 'published'")
            .await,
        0
    );
    assert_eq!(stats(&app).await.0, 0);

    let all: Vec<&str> = ids.iter().map(String::as_str).collect();
    // With a subscriber, so that the outbox too would show a partial change.
    let receiver = Receiver::start(0);
    let admin = app.api_key(&[Scope::Admin]).await;
    app.subscribe(&admin, &receiver.url, "review.published")
        .await;
    assert_eq!(act(&app, &key, "delete", &[all[3]]).await.status(), 200);
    let written = || async {
        let log = app.count("SELECT count(*) AS n FROM moderation_log").await;
        let outbox = app.count("SELECT count(*) AS n FROM outbox_events").await;
        (log, outbox)
    };
    let before = written().await;
    // 499 reviews could be approved, one cannot (deletion is final): nothing changes.
    let problem = expect_problem(act(&app, &key, "approve", &all).await, 409).await;
    assert_eq!(problem_fields(&problem), ["review_ids[3]"]);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM reviews WHERE status = 'published'")
            .await,
        0
    );
    assert_eq!(written().await, before, "no audit entry, no event");
    assert_eq!(stats(&app).await.0, 0);

    let approvable: Vec<&str> = all.iter().copied().filter(|id| *id != all[3]).collect();
    let approved = act(&app, &key, "approve", &approvable).await;
    assert_eq!(approved.status(), 200);
    let approved: Value = approved.json().await.unwrap();
    assert_eq!(approved["changed"].as_array().unwrap().len(), 499);
    assert_eq!(stats(&app).await, recount(&app).await);
    assert_eq!(stats(&app).await.0, 499);
    let (log, outbox) = written().await;
    assert_eq!((log - before.0, outbox - before.1), (499, 499));

    let too_many: Vec<&str> = std::iter::repeat_n(all[0], 501).collect();
    let problem = expect_problem(act(&app, &key, "approve", &too_many).await, 422).await;
    assert_eq!(problem_fields(&problem), ["review_ids"]);
    // Readers, CMS keys and anonymous callers cannot moderate.
    let cms = app.api_key(&[Scope::Cms]).await;
    expect_problem(act(&app, &cms, "approve", &all[..1]).await, 403).await;
}

#[tokio::test]
async fn authors_edit_within_the_window_and_delete_with_their_token() {
    // The default window (15 minutes): no loaded machine outlasts it between the creation and
    // the edits below. The test ends the window itself by ageing the review.
    let app = spawn_app_with(|settings| {
        settings.server.read_cache_ttl = Duration::ZERO;
    })
    .await;
    let created = submit(&app, &review("Перша версія відгуку.", 2)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let token = created["edit_token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 40, "at least 128 bits: {token}");
    let edit = |token: &str, body: Value| {
        app.client
            .patch(app.url(&format!("/v1/reviews/{id}")))
            .header("x-edit-token", token)
            .json(&body)
            .send()
    };
    let edited = edit(
        &token,
        json!({"rating": 4, "body": "Друга версія відгуку."}),
    )
    .await
    .unwrap();
    assert_eq!(edited.status(), 200);
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(edited["rating"], 4);
    assert!(edited["edited_at"].is_string());
    assert_eq!(stats(&app).await, (1, vec![0, 0, 0, 1, 0]));

    let wrong = edit("edt_not-the-token", json!({"rating": 5}))
        .await
        .unwrap();
    expect_problem(wrong, 403).await;
    let missing = app
        .client
        .patch(app.url(&format!("/v1/reviews/{id}")))
        .json(&json!({"rating": 5}))
        .send()
        .await
        .unwrap();
    expect_problem(missing, 401).await;

    // No GET ever shows a token or its digest.
    for path in [
        format!("/v1/reviews/{id}"),
        format!("/v1/articles/{ARTICLE}/reviews"),
    ] {
        let text = app.get(&path).await.text().await.unwrap();
        assert!(
            !text.contains(&token) && !text.contains("edit_token"),
            "{text}"
        );
    }
    let key = moderator(&app).await;
    let text = app
        .get_with_key(&key, "/v1/moderation/queue?status=published")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains(&token) && !text.contains("edit_token"),
        "{text}"
    );

    // The edit window passes: the review is written an hour earlier than it was.
    app.age_review(&id, 1).await;
    let late = edit(&token, json!({"rating": 5})).await.unwrap();
    expect_problem(late, 409).await;

    let deleted = app.delete_own_review(&id, &token).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.get(&format!("/v1/reviews/{id}")).await.status(), 404);
    assert_eq!(stats(&app).await.0, 0);
}

#[tokio::test]
async fn an_edit_under_pre_moderation_goes_back_to_the_queue() {
    let app = spawn_app_with(pre_moderated()).await;
    let key = moderator(&app).await;
    let created = submit(&app, &review("Спершу так.", 3)).await;
    let id = created["id"].as_str().unwrap();
    act(&app, &key, "approve", &[id]).await;
    assert_eq!(stats(&app).await.0, 1);
    let edited = app
        .client
        .patch(app.url(&format!("/v1/reviews/{id}")))
        .header("x-edit-token", created["edit_token"].as_str().unwrap())
        .json(&json!({"body": "А тепер інакше."}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.json::<Value>().await.unwrap()["status"], "pending");
    assert_eq!(stats(&app).await.0, 0);
    assert_eq!(app.get(&format!("/v1/reviews/{id}")).await.status(), 404);
}

#[tokio::test]
async fn votes_count_once_per_voter_and_exactly_under_concurrency() {
    // Each voter from a network of their own (one network adds only a few voters a day). The 50
    // votes queue on the review's lock: on a loaded machine some wait longer than the default
    // 750 ms for a connection, which this test (about exact counts) does not judge.
    let app = spawn_app_with(|settings| {
        settings.limits.trusted_proxies = vec!["127.0.0.1".into()];
        settings.database.acquire_timeout = Duration::from_secs(20);
    })
    .await;
    let id = submit(&app, &review("Корисно.", 5)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/reviews/{id}/votes");
    let votes = (0..50).map(|voter| {
        let request = app
            .client
            .post(app.url(&path))
            .header("x-forwarded-for", format!("203.0.113.{}", voter + 1))
            .json(
                &json!({"helpful": true, "voter_token": format!("voter-token-number-{voter:04}")}),
            );
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(votes).await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    let shown = app.get_json(&format!("/v1/reviews/{id}")).await;
    assert_eq!(shown["helpful_count"], 50);

    // The same voter again, and then changing their mind.
    let vote = |helpful: bool| {
        app.client
            .post(app.url(&path))
            .json(&json!({"helpful": helpful, "voter_token": "voter-token-number-0000"}))
            .send()
    };
    let again: Value = vote(true).await.unwrap().json().await.unwrap();
    assert_eq!(
        (
            again["helpful_count"].as_i64(),
            again["unhelpful_count"].as_i64()
        ),
        (Some(50), Some(0))
    );
    let changed: Value = vote(false).await.unwrap().json().await.unwrap();
    assert_eq!(
        (
            changed["helpful_count"].as_i64(),
            changed["unhelpful_count"].as_i64()
        ),
        (Some(49), Some(1))
    );
    // Without a token the voter is the client: twice from here counts once.
    for _ in 0..2 {
        app.client
            .post(app.url(&path))
            .json(&json!({"helpful": true}))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        app.get_json(&format!("/v1/reviews/{id}")).await["helpful_count"],
        50
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM review_votes").await,
        51,
        "50 tokens and one client digest"
    );
    let problem = expect_problem(
        app.client
            .post(app.url(&path))
            .json(&json!({"helpful": "yes"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["helpful"]);
}

#[tokio::test]
async fn flags_from_enough_networks_take_a_review_back_to_the_queue() {
    // The tests' client is the trusted proxy of the readers it names in X-Forwarded-For.
    let app = spawn_app_with(|settings| {
        settings.server.read_cache_ttl = Duration::ZERO;
        settings.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let key = moderator(&app).await;
    let id = submit(&app, &review("Спірний відгук.", 1)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let flag = |reader: &str, token: &str| {
        app.client
            .post(app.url(&format!("/v1/reviews/{id}/flags")))
            .header("x-forwarded-for", reader)
            .json(&json!({"reason": "abuse", "note": "Образи", "voter_token": token}))
            .send()
    };
    let public = || async { app.get(&format!("/v1/reviews/{id}")).await.status() };
    // One reader inventing tokens is still one network.
    for token in [
        "invented-token-0001",
        "invented-token-0002",
        "invented-token-0003",
    ] {
        assert_eq!(flag("203.0.113.1", token).await.unwrap().status(), 204);
    }
    assert_eq!(public().await, 200, "three flags, one network");
    let repeat = flag("203.0.113.1", "invented-token-0001").await.unwrap();
    assert_eq!(repeat.status(), 204, "a repeat changes nothing");
    assert_eq!(
        flag("198.51.100.2", "second-reader-token")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(public().await, 200, "two networks");
    assert_eq!(
        flag("2001:db8:7:7::1", "third-reader-token")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(public().await, 404, "three networks take it down");
    assert_eq!(stats(&app).await.0, 0);
    let held = queue(&app, &key, "reason=flagged").await;
    assert_eq!(held["items"][0]["id"], json!(id));
    assert_eq!(held["items"][0]["flag_count"], 5);

    // A moderator approves it: the flags seen no longer count, and it takes three networks again.
    act(&app, &key, "approve", &[&id]).await;
    assert_eq!(public().await, 200);
    assert_eq!(
        flag("203.0.113.1", "invented-token-0001")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(public().await, 200, "one new flag is not enough");
}

#[tokio::test]
async fn over_the_rate_limit_a_client_gets_429_with_retry_after() {
    let app = spawn_app_with(|settings| {
        settings.limits.rate_limit_reviews = 5;
    })
    .await;
    for attempt in 0..5 {
        let body = review(&format!("Відгук {attempt} у межах ліміту."), 4);
        assert_eq!(
            app.post_review(ARTICLE, &body).await.status(),
            201,
            "attempt {attempt}"
        );
    }
    let refused = app.post_review(ARTICLE, &review("Шостий.", 4)).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let problem = expect_problem(refused, 429).await;
    assert_eq!(problem["type"], "urn:marginalia:problem:too-many-requests");
    assert_eq!(app.count("SELECT count(*) AS n FROM reviews").await, 5);
}

#[tokio::test]
async fn a_forwarded_address_is_believed_only_from_a_trusted_proxy() {
    // Untrusted X-Forwarded-For cannot be used to dodge the limit: all of these are 127.0.0.1.
    let app = spawn_app_with(|settings| {
        settings.limits.rate_limit_reviews = 2;
    })
    .await;
    let mut statuses = Vec::new();
    for attempt in 0..3 {
        let response = app
            .client
            .post(app.url(&format!("/v1/articles/{ARTICLE}/reviews")))
            .header("x-forwarded-for", format!("203.0.113.{attempt}"))
            .json(&review(&format!("Спроба {attempt}."), 3))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 429]);
}

#[tokio::test]
async fn concurrent_retries_with_one_idempotency_key_store_one_review() {
    let app = spawn_app().await;
    let body = review("Відгук, який клієнт надсилає повторно.", 4);
    let key = "0193a1b2-7c2e-7d43-9a1e-6f1b2c3d4e5f";
    let requests = (0..20).map(|_| {
        let request = app
            .client
            .post(app.url(&format!("/v1/articles/{ARTICLE}/reviews")))
            .header("idempotency-key", key)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 201),
        "{answers:?}"
    );
    let first = &answers[0].1;
    assert!(
        answers.iter().all(|(_, body)| body == first),
        "identical bodies"
    );
    assert!(first.contains("edit_token"));
    assert_eq!(app.count("SELECT count(*) AS n FROM reviews").await, 1);
    assert_eq!(stats(&app).await.0, 1);

    let other = app
        .client
        .post(app.url(&format!("/v1/articles/{ARTICLE}/reviews")))
        .header("idempotency-key", key)
        .json(&review("Інший текст з тим самим ключем.", 4))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(other, 422).await;
    assert_eq!(problem_fields(&problem), ["Idempotency-Key"]);
    let short = app
        .client
        .post(app.url(&format!("/v1/articles/{ARTICLE}/reviews")))
        .header("idempotency-key", "short")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_fields(&expect_problem(short, 400).await),
        ["Idempotency-Key"]
    );
    // The stored answer is replayable without holding the token in the clear.
    let token: Value = serde_json::from_str(first).unwrap();
    let token = token["edit_token"].as_str().unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM idempotency_keys WHERE response LIKE '%{token}%'"
        ))
        .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM idempotency_keys WHERE response IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn erasing_an_author_leaves_no_trace_of_their_email_or_words() {
    let app = spawn_app_with(|settings| {
        settings.server.read_cache_ttl = Duration::ZERO;
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let key = moderator(&app).await;
    // Copies of the texts the erasure must find: outbox events (a subscriber exists), an
    // idempotency record, a reply, a moderator's note, a reader's flag note.
    let receiver = Receiver::start(0);
    app.subscribe(&admin, &receiver.url, "review.created").await;
    let mut erased_ids = Vec::new();
    for rating in [2, 5] {
        let response = app
            .client
            .post(app.url(&format!("/v1/articles/{ARTICLE}/reviews")))
            .header("idempotency-key", format!("erasure-test-key-{rating:04}"))
            .json(
                &json!({"rating": rating, "body": format!("Таємний текст {rating}"),
                          "title": "Таємний заголовок", "author_email": "Olena.K@example.com"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        erased_ids.push(created["id"].as_str().unwrap().to_owned());
    }
    submit(
        &app,
        &json!({"rating": 3, "body": "Чужий відгук", "author_email": "other@example.com"}),
    )
    .await;
    let first = erased_ids[0].as_str();
    let reply = json!({"body": "Олено, дякуємо за Таємний текст!"});
    let replied = app
        .with_key(
            &key,
            Method::PUT,
            &format!("/v1/reviews/{first}/reply"),
            Some(&reply),
        )
        .await;
    assert_eq!(replied.status(), 200, "the reply is stored");
    let noted = json!({"action": "reject", "review_ids": [first], "note": "Olena.K@example.com пише вже втретє"});
    let rejected = app
        .with_key(&key, Method::POST, "/v1/moderation/actions", Some(&noted))
        .await;
    assert_eq!(rejected.status(), 200, "the note is stored");
    let second = erased_ids[1].as_str();
    let flagged = app
        .client
        .post(app.url(&format!("/v1/reviews/{second}/flags")))
        .json(&json!({"reason": "personal_data", "note": "Це Олена К. з п'ятого поверху"}))
        .send()
        .await
        .unwrap();
    assert_eq!(flagged.status(), 204, "the flag is stored");
    receiver.wait_for_messages(3, Duration::from_secs(60)).await;
    // Each copy the erasure must find is there before it, so that "no trace" below means erased.
    let traces = [
        (
            "reviews",
            "SELECT count(*) AS n FROM reviews WHERE lower(author_email) LIKE '%olena%' \
                     OR body LIKE '%Таємний%' OR title LIKE '%Таємний%' OR reply_body IS NOT NULL",
        ),
        (
            "outbox",
            "SELECT count(*) AS n FROM outbox_events WHERE payload::text LIKE '%Таємний%'",
        ),
        (
            "idempotency",
            "SELECT count(*) AS n FROM idempotency_keys \
             WHERE response IS NOT NULL OR sealed_token IS NOT NULL",
        ),
        (
            "notes",
            "SELECT count(*) AS n FROM moderation_log WHERE note LIKE '%lena%'",
        ),
        ("flags", "SELECT count(*) AS n FROM review_flags"),
    ];
    for (place, sql) in traces {
        assert!(app.count(sql).await > 0, "{place} holds a copy to erase");
    }

    let erased = app
        .with_key(
            &admin,
            Method::POST,
            "/v1/data-rights/erasures",
            Some(&json!({"author_email": "olena.k@example.com"})),
        )
        .await;
    assert_eq!(erased.status(), 200);
    assert_eq!(erased.json::<Value>().await.unwrap()["erased"], 2);
    for (place, sql) in traces {
        assert_eq!(app.count(sql).await, 0, "{place} keeps a trace");
    }
    assert_eq!(stats(&app).await, (1, vec![0, 0, 1, 0, 0]));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM moderation_log WHERE action = 'erase'")
            .await,
        2,
        "one entry per review"
    );
    let refused = app
        .with_key(
            &key,
            Method::POST,
            "/v1/data-rights/erasures",
            Some(&json!({"author_email": "x@example.com"})),
        )
        .await;
    expect_problem(refused, 403).await;
}

#[tokio::test]
async fn an_export_streams_every_matching_review() {
    // Writing 100,000 reviews in one statement outlasts the service's statement timeout on a busy
    // 2-core machine; the export itself needs no more than the default.
    let app = spawn_app_with(|settings| {
        settings.database.statement_timeout = Duration::from_secs(120);
    })
    .await;
    let admin = app.api_key(&[Scope::Admin]).await;
    app.count(&format!(
        "WITH a AS (INSERT INTO articles (article_id) VALUES ('{ARTICLE}') RETURNING 1), \
         r AS (INSERT INTO reviews (id, article_id, rating, body, author_email, status) \
         SELECT gen_random_uuid(), '{ARTICLE}', 1 + n % 5, \
         CASE WHEN n = 10 THEN '=HYPERLINK(\"http://evil.example\")' ELSE 'Відгук, \"з лапками\", ' || n END, \
         'reader' || n || '@example.com', CASE WHEN n % 10 = 0 THEN 'spam' ELSE 'published' END \
         FROM generate_series(1, 100000) n RETURNING 1) SELECT (SELECT count(*) FROM r) AS n"
    ))
    .await;
    let response = app
        .get_with_key(&admin, "/v1/exports/reviews?format=ndjson")
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("content-length").is_none(),
        "streamed"
    );
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 100_000);
    let first: Value = serde_json::from_str(lines[0]).unwrap();
    assert!(first["author_email"]
        .as_str()
        .unwrap()
        .ends_with("@example.com"));

    let csv = app
        .get_with_key(&admin, "/v1/exports/reviews?format=csv&status=spam")
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap().get(0), Some("id"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 10_000);
    let bodies: Vec<&str> = rows.iter().map(|row| row.get(4).unwrap()).collect();
    assert!(
        bodies.iter().any(|body| body.contains("\"з лапками\"")),
        "quotes survive"
    );
    // A reader's text never runs as a spreadsheet formula.
    assert!(
        bodies.contains(&"'=HYPERLINK(\"http://evil.example\")"),
        "{:?}",
        &bodies[..3]
    );
    assert!(bodies.iter().all(|body| !body.starts_with('=')));
    let problem = expect_problem(
        app.get_with_key(&admin, "/v1/exports/reviews?format=xml")
            .await,
        400,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["format"]);
}

#[tokio::test]
async fn the_newsroom_reply_shows_with_the_review_and_is_delivered() {
    let app = spawn_app_with(|settings| {
        settings.server.read_cache_ttl = Duration::ZERO;
    })
    .await;
    let receiver = Receiver::start(0);
    let admin = app.api_key(&[Scope::Admin]).await;
    app.subscribe(&admin, &receiver.url, "review.replied").await;
    let key = moderator(&app).await;
    let id = submit(&app, &review("Бракує мапи провінції.", 3)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/reviews/{id}/reply");
    let replied = app
        .with_key(
            &key,
            Method::PUT,
            &path,
            Some(&json!({"body": "Дякуємо! Мапу додали."})),
        )
        .await;
    assert_eq!(replied.status(), 200);
    let shown = app.get_json(&format!("/v1/reviews/{id}")).await;
    assert_eq!(shown["reply"]["body"], "Дякуємо! Мапу додали.");
    assert_eq!(shown["reply"]["author"], "The newsroom");
    let page = app
        .get_json(&format!("/v1/articles/{ARTICLE}/reviews"))
        .await;
    assert_eq!(page["items"][0]["reply"]["body"], "Дякуємо! Мапу додали.");

    let delivered = receiver.wait_for_messages(1, Duration::from_secs(10)).await;
    let message = delivered[0].json();
    assert_eq!(message["type"], "review.replied");
    assert_eq!(message["data"]["reply"]["body"], "Дякуємо! Мапу додали.");

    let removed = app.with_key(&key, Method::DELETE, &path, None).await;
    assert_eq!(removed.status(), 204);
    assert_eq!(
        app.get_json(&format!("/v1/reviews/{id}")).await["reply"],
        Value::Null
    );
    let readers = app
        .client
        .put(app.url(&path))
        .json(&json!({"body": "x"}))
        .send()
        .await
        .unwrap();
    expect_problem(readers, 401).await;
}

#[tokio::test]
async fn a_widget_on_the_newsroom_site_may_send_the_moderation_headers() {
    let app = spawn_app().await;
    for (method, path, headers) in [
        (
            "POST",
            format!("/v1/articles/{ARTICLE}/reviews"),
            "content-type, idempotency-key",
        ),
        (
            "PATCH",
            "/v1/reviews/019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f".to_owned(),
            "content-type, x-edit-token",
        ),
        (
            "DELETE",
            "/v1/reviews/019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f".to_owned(),
            "x-edit-token",
        ),
    ] {
        let preflight = app
            .client
            .request(Method::OPTIONS, app.url(&path))
            .header("origin", "https://news.example.org")
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers)
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), 200, "{method} {path}");
        let allowed = preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase();
        for header in headers.split(", ") {
            assert!(allowed.contains(header), "{header} in {allowed}");
        }
    }
    let refused = app.post_review(ARTICLE, &review("x", 9)).await;
    assert!(refused.headers().contains_key("x-request-id"));
    let problem = expect_problem(refused, 422).await;
    assert!(
        problem_fields(&problem).contains(&"rating".to_owned()),
        "refused for its rating: {problem}"
    );
}

/// Every change a moderator, an author or readers make reaches the newsroom's systems as its own
/// signed event, in the order the changes were committed.
#[tokio::test]
async fn every_transition_is_announced_through_the_outbox() {
    let app = spawn_app_with(|settings| {
        pre_moderated()(settings);
        settings.moderation.flag_threshold = 1;
    })
    .await;
    let receiver = Receiver::start(0);
    let admin = app.api_key(&[Scope::Admin]).await;
    for event in [
        "review.created",
        "review.published",
        "review.rejected",
        "review.updated",
        "review.deleted",
    ] {
        app.subscribe(&admin, &receiver.url, event).await;
    }
    let key = moderator(&app).await;
    let created = submit(&app, &review("Подія за подією.", 4)).await;
    let id = created["id"].as_str().unwrap();
    let token = created["edit_token"].as_str().unwrap();
    let ok = |response: reqwest::Response| {
        assert!(response.status().is_success(), "{}", response.status());
    };
    ok(act(&app, &key, "approve", &[id]).await); // review.published
    ok(act(&app, &key, "spam", &[id]).await); // review.rejected
    ok(act(&app, &key, "restore", &[id]).await); // review.updated (back to the queue)
    ok(act(&app, &key, "approve", &[id]).await); // review.published
    ok(app
        .client
        .post(app.url(&format!("/v1/reviews/{id}/flags")))
        .json(&json!({"reason": "spam"}))
        .send()
        .await
        .unwrap()); // the threshold of 1: review.updated (pending, flagged)
    ok(app.delete_own_review(id, token).await); // review.deleted
    let expected = [
        ("review.created", "pending"),
        ("review.published", "published"),
        ("review.rejected", "spam"),
        ("review.updated", "pending"),
        ("review.published", "published"),
        ("review.updated", "pending"),
        ("review.deleted", "deleted"),
    ];
    let messages = receiver
        .wait_for_messages(expected.len(), Duration::from_secs(15))
        .await;
    let mut ids = std::collections::HashSet::new();
    let mut seen: Vec<(String, String, String)> = messages
        .iter()
        .filter(|message| message.status == 200 && ids.insert(message.id.clone()))
        .map(|message| {
            let body = message.json();
            (
                body["timestamp"].as_str().unwrap().to_owned(),
                body["type"].as_str().unwrap().to_owned(),
                body["data"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let seen: Vec<(&str, &str)> = seen
        .iter()
        .map(|(_, kind, status)| (kind.as_str(), status.as_str()))
        .collect();
    assert_eq!(seen, expected);
    assert!(messages.iter().all(|m| m.json()["data"]["id"] == id));
}
