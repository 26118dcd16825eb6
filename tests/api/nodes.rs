//! Several nodes on one database: what one node commits, the others do not serve stale, whatever
//! their read cache's TTL; and a node whose notification channel dropped recovers by itself.

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use marginalia::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{spawn_app_on, spawn_app_with, TestApp};

/// Far longer than any wait below: a change seen within the wait was not seen by expiry.
const LONG_TTL: Duration = Duration::from_secs(120);
/// How long a notification may take to arrive on a loaded two-core machine.
const HEARD_WITHIN: Duration = Duration::from_secs(10);

fn long_cache(settings: &mut marginalia::config::Settings) {
    settings.server.read_cache_ttl = LONG_TTL;
}

/// Two nodes on one fresh database, both caching reads for `LONG_TTL`.
async fn two_nodes() -> (TestApp, TestApp) {
    let first = spawn_app_with(long_cache).await;
    let second = spawn_app_on(&first.database_url, long_cache);
    (first, second)
}

/// Polls `node`'s `path` until `done` holds for its JSON, or fails after `HEARD_WITHIN`.
async fn eventually(node: &TestApp, path: &str, what: &str, done: impl Fn(&Value) -> bool) {
    let started = Instant::now();
    loop {
        let seen = node.get_json(path).await;
        if done(&seen) {
            return;
        }
        assert!(
            started.elapsed() < HEARD_WITHIN,
            "{what}: still {seen} after {HEARD_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn listed_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One bigint `n` from `sql`, run as the database's owner: the listeners' sessions are not the
/// application role's to see or end.
async fn as_superuser(node: &TestApp, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(&node.database_url)
        .await
        .expect("connect as the owner");
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .expect("the query runs")
        .n
}

async fn submit(node: &TestApp, article: &str, body: &str, email: Option<&str>) -> String {
    let mut review = json!({"rating": 5, "body": body});
    if let Some(email) = email {
        review["author_email"] = json!(email);
    }
    let created = node.post_review(article, &review).await;
    assert_eq!(created.status(), 201, "{body}");
    let created: Value = created.json().await.expect("the created review");
    created["id"].as_str().expect("an id").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn what_one_node_commits_the_other_stops_serving_from_its_cache() {
    let (first, second) = two_nodes().await;
    let page = "/v1/articles/viral/reviews";
    let stats = "/v1/articles/viral/stats";
    let kept = submit(&first, "viral", "Ясний і чесний текст, дякую.", None).await;
    let doomed = submit(&first, "viral", "A careful, well-sourced piece.", None).await;
    let erased = submit(
        &first,
        "viral",
        "Please remove me later.",
        Some("reader@example.com"),
    )
    .await;
    // The second node reads (and caches) the page and the stats with all three.
    eventually(&second, page, "three reviews listed", |page| {
        listed_ids(page).len() == 3
    })
    .await;
    eventually(&second, stats, "three reviews counted", |stats| {
        stats["review_count"] == 3
    })
    .await;

    // A new review through the second node shows on the first at once, not after 120 s.
    let newest = submit(&second, "viral", "Written through the second node.", None).await;
    eventually(&first, page, "the other node's new review", |page| {
        listed_ids(page).contains(&newest)
    })
    .await;

    // A moderator's reject through the first node.
    let moderator = first.api_key(&[Scope::Moderator]).await;
    let rejected = first
        .with_key(
            &moderator,
            Method::POST,
            "/v1/moderation/actions",
            Some(&json!({"action": "reject", "review_ids": [doomed]})),
        )
        .await;
    assert_eq!(rejected.status(), 200);
    eventually(&second, page, "the rejected review gone", |page| {
        !listed_ids(page).contains(&doomed) && listed_ids(page).contains(&kept)
    })
    .await;
    eventually(&second, stats, "the rejected review uncounted", |stats| {
        stats["review_count"] == 3
    })
    .await;

    // An erasure through the first node.
    let admin = first.api_key(&[Scope::Admin]).await;
    let erasure = first
        .with_key(
            &admin,
            Method::POST,
            "/v1/data-rights/erasures",
            Some(&json!({"author_email": "reader@example.com"})),
        )
        .await;
    assert_eq!(erasure.status(), 200);
    eventually(&second, page, "the erased review gone", |page| {
        !listed_ids(page).contains(&erased)
    })
    .await;
    eventually(&second, stats, "the erased review uncounted", |stats| {
        stats["review_count"] == 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_channel_dropped_listens_again_and_serves_nothing_it_missed() {
    let (first, second) = two_nodes().await;
    let page = "/v1/articles/dropped/reviews";
    submit(&first, "dropped", "Before the channel dropped.", None).await;
    eventually(&second, page, "one review cached", |page| {
        listed_ids(page).len() == 1
    })
    .await;
    // Both nodes listen (each on one connection of its own).
    let listeners = "SELECT count(*) AS n FROM pg_stat_activity \
                     WHERE datname = current_database() AND application_name = 'marginalia-listener'";
    let started = Instant::now();
    while as_superuser(&first, listeners).await < 2 {
        assert!(started.elapsed() < HEARD_WITHIN, "both nodes listen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Cut every listener off, then change the article while nobody listens.
    let cut = as_superuser(
        &first,
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'marginalia-listener'",
    )
    .await;
    assert_eq!(cut, 2);
    let missed = submit(&first, "dropped", "While nobody listened.", None).await;
    // The first node saw its own write; the second reconnects and drops what it cached.
    eventually(&second, page, "the change made while cut off", |page| {
        listed_ids(page).contains(&missed)
    })
    .await;
    let started = Instant::now();
    while as_superuser(&first, listeners).await < 2 {
        assert!(started.elapsed() < HEARD_WITHIN, "both nodes listen again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_writing_through_two_nodes_gets_what_one_node_allows() {
    const PER_MINUTE: u32 = 6;
    let limited = |settings: &mut marginalia::config::Settings| {
        settings.limits.rate_limit_reviews = PER_MINUTE;
    };
    let first = spawn_app_with(limited).await;
    let second = spawn_app_on(&first.database_url, limited);
    let mut admitted = 0;
    let mut refused = 0;
    for attempt in 0..(PER_MINUTE * 3) {
        let node = if attempt % 2 == 0 { &first } else { &second };
        let review = json!({"rating": 4, "body": format!("attempt {attempt} through either node")});
        let answer = node.post_review("limited", &review).await;
        match answer.status().as_u16() {
            201 => admitted += 1,
            429 => {
                let retry_after = answer.headers()["retry-after"].to_str().unwrap().to_owned();
                let seconds: u64 = retry_after.parse().expect("whole seconds");
                assert!((1..=10).contains(&seconds), "Retry-After: {seconds}");
                refused += 1;
            }
            other => panic!("attempt {attempt}: {other}"),
        }
    }
    assert_eq!(
        (admitted, refused),
        (PER_MINUTE, PER_MINUTE * 2),
        "one bucket for both nodes"
    );
    assert_eq!(
        first
            .count("SELECT count(*) AS n FROM reviews WHERE article_id = 'limited'")
            .await,
        i64::from(PER_MINUTE)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_and_an_edit_token_hold_whichever_node_they_reach() {
    let (first, second) = two_nodes().await;
    let key = uuid::Uuid::now_v7().to_string();
    let send = |node: &TestApp| {
        node.client
            .post(node.url("/v1/articles/retried/reviews"))
            .header("idempotency-key", &key)
            .json(&json!({"rating": 5, "body": "Sent once, retried through another node."}))
            .send()
    };
    let answered = send(&first).await.expect("request");
    assert_eq!(answered.status(), 201);
    let created: Value = answered.json().await.expect("the review");
    let retried = send(&second).await.expect("request");
    assert_eq!(
        retried.status(),
        201,
        "the retry is answered as the first was"
    );
    let again: Value = retried.json().await.expect("the review");
    assert_eq!(again["id"], created["id"]);
    assert_eq!(
        first
            .count("SELECT count(*) AS n FROM reviews WHERE article_id = 'retried'")
            .await,
        1,
        "one review for both"
    );

    // The author reads and deletes it through the node that did not create it.
    let own = second.get_own_review(&created).await;
    assert_eq!(own.status(), 200);
    let id = created["id"].as_str().expect("an id");
    let token = created["edit_token"].as_str().expect("an edit token");
    assert_eq!(second.delete_own_review(id, token).await.status(), 204);
    eventually(
        &first,
        "/v1/articles/retried/reviews",
        "the deleted review gone",
        |page| !listed_ids(page).contains(&id.to_owned()),
    )
    .await;
}
