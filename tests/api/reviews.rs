//! A reader's story: submit reviews, read them back, page through them, see the stats.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::common::{
    expect_problem, fixture, problem_fields, spawn_app, spawn_app_with, without_edit_token, TestApp,
};
use marginalia::auth::Scope;
use marginalia::config::UnknownArticles;
use serde_json::{json, Value};
use unicode_normalization::UnicodeNormalization;

fn nfc(text: &str) -> String {
    text.trim().nfc().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_reviews_round_trip_and_stats_match_exactly() {
    let app = spawn_app().await;
    let article = app.register_fixture_article().await;
    let article_id = article["article_id"].as_str().unwrap();
    let reviews = fixture("reviews-valid.json");
    let mut histogram = [0i64; 5];
    let mut sum = 0;
    for sent in reviews.as_array().unwrap() {
        let response = app.post_review(article_id, sent).await;
        assert_eq!(response.status(), 201);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = response.json().await.unwrap();
        assert_eq!(
            location,
            format!("/v1/reviews/{}", created["id"].as_str().unwrap())
        );

        let read = app.get_json(&location).await;
        assert!(created["edit_token"].is_string(), "the token is shown once");
        assert_eq!(
            read,
            without_edit_token(created.clone()),
            "GET returns what POST answered"
        );
        assert_eq!(read["body"], nfc(sent["body"].as_str().unwrap()));
        assert_eq!(read["rating"], sent["rating"]);
        assert_eq!(read["article_id"], article_id);
        for field in ["title", "author_name", "language"] {
            match sent[field].as_str() {
                Some(text) => assert_eq!(read[field], nfc(text), "{field}"),
                None if field == "language" => {}
                None => assert!(read[field].is_null(), "{field}"),
            }
        }
        let id = read["id"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);

        let rating = sent["rating"].as_i64().unwrap();
        histogram[(rating - 1) as usize] += 1;
        sum += rating;
    }
    let count = reviews.as_array().unwrap().len() as i64;
    let stats = app
        .get_json(&format!("/v1/articles/{article_id}/stats"))
        .await;
    assert_eq!(stats["review_count"], count);
    for (index, expected) in histogram.iter().enumerate() {
        assert_eq!(stats["histogram"][(index + 1).to_string()], *expected);
    }
    let average = (sum as f64 / count as f64 * 100.0).round() / 100.0;
    assert_eq!(stats["average"].as_f64().unwrap(), average);

    let with_article = app.get_json(&format!("/v1/articles/{article_id}")).await;
    assert_eq!(with_article["stats"], stats);
    assert_eq!(with_article["title"], article["title"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn language_is_detected_when_absent() {
    let app = spawn_app().await;
    let body = "Стаття добре пояснює, чому ІДІЛ-Хорасан не можна вважати переможеним: \
                цифри про кількість бойовиків вражають. Бракує лише карти.";
    let response = app
        .post_review("a1", &json!({"rating": 4, "body": body}))
        .await;
    assert_eq!(response.status(), 201);
    let review: Value = response.json().await.unwrap();
    assert_eq!(review["language"], "uk");
    let short = app
        .post_review("a1", &json!({"rating": 4, "body": "ok"}))
        .await;
    assert_eq!(short.status(), 201);
    let review: Value = short.json().await.unwrap();
    assert!(review["language"].is_null(), "too short to tell");
}

/// Submits `count` reviews with ratings cycling 1..=5; returns their ids.
async fn seed(app: &TestApp, article: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let review = json!({"rating": (i % 5) + 1, "body": format!("review number {i}")});
        let response = app.post_review(article, &review).await;
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// Follows `next_cursor` to the end; returns every item seen.
async fn walk(app: &TestApp, article: &str, sort: &str, limit: usize) -> Vec<Value> {
    walk_while_writing(app, article, sort, limit, 0).await.0
}

/// Follows `next_cursor` to the end, submitting `writes_per_page` reviews to the same article
/// after each page (before the next is fetched), so that every page after the first is read
/// with reviews arriving since the cursor was issued. Returns every item seen and the ids of the
/// reviews written meanwhile.
async fn walk_while_writing(
    app: &TestApp,
    article: &str,
    sort: &str,
    limit: usize,
    writes_per_page: usize,
) -> (Vec<Value>, Vec<String>) {
    let mut written = Vec::new();
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/articles/{article}/reviews?sort={sort}&limit={limit}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = app.get_json(&path).await;
        let page_items = page["items"].as_array().unwrap();
        assert!(page_items.len() <= limit);
        items.extend(page_items.iter().cloned());
        for _ in 0..writes_per_page {
            let n = written.len();
            // Ratings cycle, so that late reviews land before, inside and after the walk's
            // position in every sort.
            let review = json!({"rating": (n % 5) + 1, "body": format!("late {sort} {n}")});
            let response = app.post_review(article, &review).await;
            assert_eq!(response.status(), 201, "a write during the walk");
            let created: Value = response.json().await.unwrap();
            written.push(created["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    (items, written)
}

/// Checks the documented order: time sorts by (created_at, id), rating sorts by (rating, id).
fn assert_sorted(items: &[Value], sort: &str) {
    let key = |item: &Value| {
        let id = item["id"].as_str().unwrap().to_owned();
        let created = chrono::DateTime::parse_from_rfc3339(item["created_at"].as_str().unwrap())
            .unwrap()
            .timestamp_micros();
        let rating = item["rating"].as_i64().unwrap();
        match sort {
            "newest" | "oldest" => (created, id),
            _ => (rating, id),
        }
    };
    for pair in items.windows(2) {
        let (a, b) = (key(&pair[0]), key(&pair[1]));
        let ordered = if sort == "newest" || sort == "highest" {
            a > b
        } else {
            a < b
        };
        assert!(ordered, "{sort}: {a:?} then {b:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pagination_visits_every_review_once_in_every_sort() {
    let app = spawn_app().await;
    let ids = seed(&app, "paged", 250).await;
    let expected: HashSet<&str> = ids.iter().map(String::as_str).collect();
    for sort in ["newest", "oldest", "highest", "lowest"] {
        let items = walk(&app, "paged", sort, 7).await;
        assert_eq!(items.len(), 250, "{sort}");
        let seen: HashSet<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(seen, expected, "{sort}: each review exactly once");
        assert_sorted(&items, sort);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pagination_has_no_duplicates_or_gaps_while_reviews_arrive() {
    let app = spawn_app().await;
    let ids = seed(&app, "busy", 250).await;
    for sort in ["newest", "oldest", "highest", "lowest"] {
        // Two reviews arrive between every two page fetches: the writer overlaps the whole walk
        // by construction, not by the luck of scheduling.
        let (items, written) = walk_while_writing(&app, "busy", sort, 7, 2).await;
        assert!(
            written.len() >= 2 * (250 / 7),
            "{sort}: writes interleaved with every page"
        );
        for id in &written {
            assert_eq!(
                app.get(&format!("/v1/reviews/{id}")).await.status(),
                200,
                "{sort}: the late review {id} is stored"
            );
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for item in &items {
            *counts.entry(item["id"].as_str().unwrap()).or_default() += 1;
        }
        assert!(
            counts.values().all(|n| *n == 1),
            "{sort}: a review appeared twice"
        );
        for id in &ids {
            assert_eq!(
                counts.get(id.as_str()),
                Some(&1),
                "{sort}: review {id} missed"
            );
        }
        assert_sorted(&items, sort);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_narrow_the_list() {
    let app = spawn_app().await;
    seed(&app, "filtered", 20).await;
    app.post_review(
        "filtered",
        &json!({"rating": 5, "body": "Great piece", "language": "en"}),
    )
    .await;
    let fives = app
        .get_json("/v1/articles/filtered/reviews?rating=5&limit=100")
        .await;
    let items = fives["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|i| i["rating"] == 5));
    let english = app
        .get_json("/v1/articles/filtered/reviews?language=en")
        .await;
    assert_eq!(english["items"].as_array().unwrap().len(), 1);
    let default_page = app.get_json("/v1/articles/filtered/reviews").await;
    assert_eq!(default_page["items"].as_array().unwrap().len(), 20);
    assert!(default_page["next_cursor"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_submissions_to_one_article_are_all_counted() {
    // A hundred requests share sixteen connections on a machine shared with other tests: the
    // story is about counting, so no request may give up waiting for a connection.
    let app = spawn_app_with(|settings| {
        settings.database.acquire_timeout = Duration::from_secs(10);
    })
    .await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let client = app.client.clone();
        let url = app.url("/v1/articles/hot/reviews");
        tasks.push(tokio::spawn(async move {
            let rating = (i % 5) + 1;
            let review = json!({"rating": rating, "body": format!("concurrent {i}")});
            let response = client.post(&url).json(&review).send().await.unwrap();
            assert_eq!(response.status(), 201);
            rating
        }));
    }
    let mut sum = 0;
    for task in tasks {
        sum += task.await.unwrap();
    }
    assert_eq!(
        app.count("SELECT count(*) AS n FROM reviews WHERE article_id = 'hot'")
            .await,
        100
    );
    let stats = app.get_json("/v1/articles/hot/stats").await;
    assert_eq!(stats["review_count"], 100);
    assert_eq!(
        app.count("SELECT sum(rating_sum) AS n FROM article_stats WHERE article_id = 'hot'")
            .await,
        sum
    );
    let histogram_total: i64 = (1..=5)
        .map(|r| stats["histogram"][r.to_string()].as_i64().unwrap())
        .sum();
    assert_eq!(histogram_total, 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_articles_are_refused_when_configured() {
    let app = spawn_app_with(|settings| {
        settings.server.unknown_articles = UnknownArticles::Reject;
    })
    .await;
    let response = app
        .post_review("never-registered", &json!({"rating": 3, "body": "x"}))
        .await;
    expect_problem(response, 404).await;
    expect_problem(app.get("/v1/articles/never-registered/reviews").await, 404).await;
    expect_problem(app.get("/v1/articles/never-registered/stats").await, 404).await;
    expect_problem(app.get("/v1/stats?article_id=never-registered").await, 404).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM articles").await, 0);

    let article = app.register_fixture_article().await;
    let id = article["article_id"].as_str().unwrap();
    let response = app
        .post_review(id, &json!({"rating": 3, "body": "now it exists"}))
        .await;
    assert_eq!(response.status(), 201);
    let bulk = app.get_json(&format!("/v1/stats?article_id={id}")).await;
    assert_eq!(bulk["stats"][0]["review_count"], 1);
    let mixed = app
        .get(&format!(
            "/v1/stats?article_id={id}&article_id=never-registered"
        ))
        .await;
    expect_problem(mixed, 404).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_articles_refuse_reviews() {
    let app = spawn_app().await;
    let key = app.api_key(&[Scope::Cms]).await;
    let response = app
        .client
        .put(app.url("/v1/articles/closed-1"))
        .bearer_auth(&key)
        .json(&json!({"title": "Closed", "reviews_open": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let response = app
        .post_review("closed-1", &json!({"rating": 3, "body": "late"}))
        .await;
    expect_problem(response, 409).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM reviews").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_list_parameters_are_named() {
    let app = spawn_app().await;
    for (query, field) in [
        ("sort=random", "sort"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("rating=9", "rating"),
        ("cursor=not-a-cursor", "cursor"),
        ("language=x_y", "language"),
        ("offset=20", "offset"),
    ] {
        let response = app.get(&format!("/v1/articles/a/reviews?{query}")).await;
        let problem = expect_problem(response, 400).await;
        assert_eq!(problem_fields(&problem), [field], "{query}");
    }
    // A well-formed cursor whose time PostgreSQL cannot store (once a 500).
    let forged = base64_url(&format!(
        "v2.newest.0.-300000000000000000.{}.{:016x}",
        uuid::Uuid::now_v7().simple(),
        0
    ));
    let response = app
        .get(&format!("/v1/articles/a/reviews?cursor={forged}"))
        .await;
    let problem = expect_problem(response, 400).await;
    assert_eq!(problem_fields(&problem), ["cursor"]);
    let problem = expect_problem(app.get("/v1/reviews/not-a-uuid").await, 400).await;
    assert_eq!(problem_fields(&problem), ["id"]);
    let missing = format!("/v1/reviews/{}", uuid::Uuid::now_v7());
    expect_problem(app.get(&missing).await, 404).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_stats_answer_for_each_requested_article() {
    let app = spawn_app().await;
    seed(&app, "bulk-a", 5).await;
    seed(&app, "bulk-b", 2).await;
    let bulk = app
        .get_json("/v1/stats?article_id=bulk-b&article_id=bulk-a&article_id=none-yet")
        .await;
    let stats = bulk["stats"].as_array().unwrap();
    let ids: Vec<&str> = stats
        .iter()
        .map(|s| s["article_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["bulk-b", "bulk-a", "none-yet"]);
    assert_eq!(stats[0]["review_count"], 2);
    assert_eq!(stats[1]["review_count"], 5);
    assert_eq!(stats[1]["average"], 3.0);
    assert_eq!(stats[2]["review_count"], 0);
    assert!(stats[2]["average"].is_null());

    let too_many: String = (0..101)
        .map(|i| format!("article_id=a{i}"))
        .collect::<Vec<_>>()
        .join("&");
    let problem = expect_problem(app.get(&format!("/v1/stats?{too_many}")).await, 400).await;
    assert_eq!(problem_fields(&problem), ["article_id"]);
    expect_problem(app.get("/v1/stats").await, 400).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cached_reads_show_own_reviews_at_once_and_other_instances_within_the_ttl() {
    let app = spawn_app_with(|settings| {
        settings.server.read_cache_ttl = Duration::from_millis(200);
    })
    .await;
    let other_instance = crate::common::spawn_app_on(&app.database_url, |_| {});
    for expected in 1..=3 {
        // Distinct texts: the same text twice from one client is held as a duplicate.
        let review = json!({"rating": 4, "body": format!("shared article, review {expected}")});
        assert_eq!(app.post_review("shared", &review).await.status(), 201);
        let stats = app.get_json("/v1/articles/shared/stats").await;
        assert_eq!(
            stats["review_count"], expected,
            "own review counted at once"
        );
    }
    assert_eq!(
        other_instance
            .post_review(
                "shared",
                &json!({"rating": 4, "body": "from the other instance"})
            )
            .await
            .status(),
        201
    );
    let mut seen = 0;
    for _ in 0..40 {
        seen = app.get_json("/v1/articles/shared/stats").await["review_count"]
            .as_i64()
            .unwrap();
        if seen == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen, 4,
        "another instance's review shows up once the entry expires"
    );
    let bulk = app.get_json("/v1/stats?article_id=shared").await;
    assert_eq!(bulk["stats"][0]["review_count"], 4);
    let mut listed = 0;
    for _ in 0..40 {
        listed = app.get_json("/v1/articles/shared/reviews").await["items"]
            .as_array()
            .unwrap()
            .len();
        if listed == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(listed, 4, "and in the cached first page");
    let review = json!({"rating": 4, "body": "shared article, the fifth"});
    assert_eq!(app.post_review("shared", &review).await.status(), 201);
    let first_page = app.get_json("/v1/articles/shared/reviews").await;
    assert_eq!(
        first_page["items"].as_array().unwrap().len(),
        5,
        "own review listed at once"
    );
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_works_only_for_the_list_it_came_from() {
    let app = spawn_app().await;
    seed(&app, "cursor-home", 10).await;
    seed(&app, "cursor-elsewhere", 3).await;
    let first = app
        .get_json("/v1/articles/cursor-home/reviews?limit=1&rating=4")
        .await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let next = format!("/v1/articles/cursor-home/reviews?limit=1&rating=4&cursor={cursor}");
    assert_eq!(app.get(&next).await.status(), 200);
    for reused in [
        format!("/v1/articles/cursor-elsewhere/reviews?limit=1&rating=4&cursor={cursor}"),
        format!("/v1/articles/cursor-home/reviews?limit=1&rating=3&cursor={cursor}"),
        format!("/v1/articles/cursor-home/reviews?limit=1&cursor={cursor}"),
        format!("/v1/articles/cursor-home/reviews?limit=1&rating=4&language=uk&cursor={cursor}"),
    ] {
        let problem = expect_problem(app.get(&reused).await, 400).await;
        assert_eq!(problem_fields(&problem), ["cursor"], "{reused}");
        assert_eq!(problem["errors"][0]["code"], "mismatch");
    }
}
