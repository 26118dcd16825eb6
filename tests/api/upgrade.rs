//! An installation of an earlier release upgrades with nothing lost. `tests/fixtures/upgrade/`
//! holds what that release left behind: `previous-release.sql`, a `pg_dump` of a database it
//! created and filled through its own HTTP API (two articles, reviews in several scripts, votes, a
//! flag, moderation, a reply, an author's edit and deletion, an erasure, an idempotency key, API keys,
//! a webhook endpoint with queued deliveries), and `previous-release.json`, what that release
//! answered to reads of all of it. The test restores the dump, migrates it as `serve` would, and
//! asks the same questions: every answer must still hold every field it held (new fields may join).
//!
//! The fixture is recorded by `record_the_previous_release` at the last commit before a schema
//! change that needs proving (`cargo test --test api upgrade::record -- --ignored`), and then kept:
//! re-recording it at a later commit would prove nothing about the upgrade from the earlier one.

use std::path::PathBuf;

use marginalia::auth::Scope;
use marginalia::config::Settings;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{fixture, pg_dump, spawn_app_upgraded_from, spawn_app_with, TestApp};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade")
}

/// Both sides run without the webhook worker, so that queued deliveries stay as they were left.
fn without_worker(settings: &mut Settings) {
    settings.webhooks.worker = false;
}

/// One read and what it answered: `auth` is `{"bearer": key}`, `{"edit_token": token}` or null.
/// A paged read (`"paged": true`) is followed through every `next_cursor`, and its `items` kept.
#[derive(serde::Serialize, serde::Deserialize)]
struct Read {
    path: String,
    auth: Value,
    #[serde(default)]
    paged: bool,
    status: u16,
    body: Value,
}

/// What the earlier release answered, and a submission to retry with its idempotency key.
#[derive(serde::Serialize, serde::Deserialize)]
struct Recorded {
    release: String,
    reads: Vec<Read>,
    retry: Retry,
    revote: Revote,
}

/// A reader's vote to cast again: a vote replaces the same voter's earlier one, so the counts stay
/// as recorded only if the earlier vote survived.
#[derive(serde::Serialize, serde::Deserialize)]
struct Revote {
    review_id: String,
    body: Value,
    counts: Value,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Retry {
    article_id: String,
    idempotency_key: String,
    body: Value,
    review_id: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_of_the_previous_release_upgrades_with_every_record_readable() {
    let dump = std::fs::read_to_string(fixture_dir().join("previous-release.sql"))
        .expect("the previous release's dump");
    let recorded: Recorded = serde_json::from_str(
        &std::fs::read_to_string(fixture_dir().join("previous-release.json"))
            .expect("the previous release's answers"),
    )
    .expect("the recorded answers are JSON");
    let (app, applied) = spawn_app_upgraded_from(&dump, without_worker).await;
    println!(
        "upgraded from {}; migrations applied: {applied:?}",
        recorded.release
    );

    for read in &recorded.reads {
        let (status, body) = perform(&app, &read.path, &read.auth, read.paged).await;
        let what = format!("{} ({})", read.path, read.auth);
        assert_eq!(status, read.status, "{what}: {body}");
        if let Err(difference) = holds(&read.body, &body, "") {
            panic!("{what}: {difference}\nbefore: {}\nnow: {body}", read.body);
        }
    }

    // The idempotency key outlived the upgrade: the retry replays the stored review. A key is
    // kept for `idempotency::KEPT_FOR` after its request, and the fixture was recorded days ago:
    // its key is dated now, as if the retry came within that time of the first request.
    {
        use diesel_async::{AsyncConnection, SimpleAsyncConnection};
        let mut conn = diesel_async::AsyncPgConnection::establish(&app.database_url)
            .await
            .expect("connect as the database's owner");
        conn.batch_execute("UPDATE idempotency_keys SET created_at = now()")
            .await
            .expect("the recorded key is dated now");
    }
    let retry = &recorded.retry;
    let replayed = app
        .client
        .post(app.url(&format!("/v1/articles/{}/reviews", retry.article_id)))
        .header("idempotency-key", &retry.idempotency_key)
        .json(&retry.body)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 201, "a replay answers as the first time");
    let replayed: Value = replayed.json().await.unwrap();
    assert_eq!(replayed["id"], retry.review_id.as_str(), "{replayed}");

    let revote = &recorded.revote;
    let counted = app
        .client
        .post(app.url(&format!("/v1/reviews/{}/votes", revote.review_id)))
        .json(&revote.body)
        .send()
        .await
        .unwrap();
    assert_eq!(counted.status(), 200);
    let counts: Value = counted.json().await.unwrap();
    assert_eq!(
        counts, revote.counts,
        "the earlier vote was replaced, not added to"
    );
}

/// Performs one read; a paged one is followed to its last page and answered as `{"items": […]}`.
async fn perform(app: &TestApp, path: &str, auth: &Value, paged: bool) -> (u16, Value) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cursor) => {
                let separator = if path.contains('?') { '&' } else { '?' };
                format!("{path}{separator}cursor={cursor}")
            }
            None => path.to_owned(),
        };
        let mut request = app.client.request(Method::GET, app.url(&url));
        if let Some(key) = auth["bearer"].as_str() {
            request = request.bearer_auth(key);
        }
        if let Some(token) = auth["edit_token"].as_str() {
            request = request.header("x-edit-token", token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = json_or_lines(&response.text().await.unwrap());
        if !paged || status != 200 {
            return (status, body);
        }
        items.extend(body["items"].as_array().cloned().unwrap_or_default());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (status, json!({ "items": items })),
        }
    }
}

/// A JSON answer, or an NDJSON one (an export) as an array of its lines.
fn json_or_lines(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| {
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| Value::String(line.into())))
            .collect()
    })
}

/// Whether `now` still holds everything `before` held: the same scalars, arrays of the same
/// length item by item, and every field of an object (a cursor excepted: its format may change).
fn holds(before: &Value, now: &Value, at: &str) -> Result<(), String> {
    match (before, now) {
        (Value::Object(fields), Value::Object(now_fields)) => {
            for (name, value) in fields {
                if name == "next_cursor" {
                    continue;
                }
                let field = format!("{at}/{name}");
                let now_value = now_fields
                    .get(name)
                    .ok_or_else(|| format!("{field} is gone"))?;
                holds(value, now_value, &field)?;
            }
            Ok(())
        }
        (Value::Array(items), Value::Array(now_items)) => {
            if items.len() != now_items.len() {
                return Err(format!(
                    "{at}: {} items before, {} now",
                    items.len(),
                    now_items.len()
                ));
            }
            items
                .iter()
                .zip(now_items)
                .enumerate()
                .try_for_each(|(i, (item, now_item))| holds(item, now_item, &format!("{at}/{i}")))
        }
        _ if before == now => Ok(()),
        _ => Err(format!("{at}: {before} before, {now} now")),
    }
}

/// Records the fixture: fills a database through the HTTP API of this release, reads it all back,
/// and dumps it. Run only at the release the fixture is to stand for (see the module's comment).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes tests/fixtures/upgrade/; run only at the release it records"]
async fn record_the_previous_release() {
    let app = spawn_app_with(without_worker).await;
    let newsroom = Newsroom::fill(&app).await;
    let mut reads = Vec::new();
    for (path, auth, paged) in newsroom.reads() {
        let (status, body) = perform(&app, &path, &auth, paged).await;
        assert!(status == 200 || status == 404, "{path}: {status} {body}");
        reads.push(Read {
            path,
            auth,
            paged,
            status,
            body,
        });
    }
    let release = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    let recorded = Recorded {
        release,
        reads,
        retry: newsroom.retry,
        revote: newsroom.revote,
    };
    std::fs::create_dir_all(fixture_dir()).unwrap();
    std::fs::write(
        fixture_dir().join("previous-release.json"),
        serde_json::to_string_pretty(&recorded).unwrap() + "\n",
    )
    .unwrap();
    std::fs::write(
        fixture_dir().join("previous-release.sql"),
        dump(&app.database_url),
    )
    .unwrap();
}

/// The database as plain SQL a single connection can replay: no owners or grants, rows as
/// INSERTs, and without the psql-only `\restrict` lines of current `pg_dump`s.
fn dump(database_url: &str) -> String {
    pg_dump(
        database_url,
        &[
            "--no-owner",
            "--no-privileges",
            "--no-comments",
            "--column-inserts",
        ],
    )
}

/// What a small newsroom leaves in the database, made through the API as its people would.
struct Newsroom {
    keys: Vec<String>,
    moderator: String,
    admin: String,
    articles: Vec<String>,
    authored: Vec<(String, String)>,
    endpoint_id: String,
    retry: Retry,
    revote: Revote,
}

const ENGLISH_ARTICLE: &str = "upgrade-en-2026-12";

impl Newsroom {
    async fn fill(app: &TestApp) -> Self {
        let cms = app.api_key(&[Scope::Cms]).await;
        let moderator = app.api_key(&[Scope::Moderator]).await;
        let admin = app.api_key(&[Scope::Admin]).await;
        let article = app.register_fixture_article().await;
        let ukrainian = article["article_id"].as_str().unwrap().to_owned();
        let english = json!({
            "title": "City council approves the new tram line",
            "url": "https://news.example.org/en/tram-line",
            "language": "en",
            "published_at": "2026-12-01T09:00:00Z",
        });
        let put = app
            .put_article(ENGLISH_ARTICLE, Some(&format!("Bearer {cms}")), &english)
            .await;
        assert_eq!(put.status(), 201);
        let pre = app
            .with_key(
                &moderator,
                Method::PATCH,
                &format!("/v1/articles/{ENGLISH_ARTICLE}"),
                Some(&json!({"moderation": "pre"})),
            )
            .await;
        assert_eq!(pre.status(), 200);

        let mut authored = Vec::new();
        let mut created = Vec::new();
        let reviews = fixture("reviews-valid.json");
        for (i, review) in reviews.as_array().unwrap().iter().enumerate() {
            let target = if i % 3 == 2 {
                ENGLISH_ARTICLE
            } else {
                &ukrainian
            };
            let response = app.post_review(target, review).await;
            assert_eq!(response.status(), 201, "fixture review {i}");
            let review: Value = response.json().await.unwrap();
            authored.push((
                review["id"].as_str().unwrap().to_owned(),
                review["edit_token"].as_str().unwrap().to_owned(),
            ));
            created.push(review);
        }
        let retry_body = json!({"rating": 5, "body": "Sent twice over a flaky connection.",
                                "author_name": "Retry R.", "author_email": "retry@example.com"});
        let key = "0193a1b2-0000-7000-8000-00000000a001";
        let first = app
            .client
            .post(app.url(&format!("/v1/articles/{ukrainian}/reviews")))
            .header("idempotency-key", key)
            .json(&retry_body)
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 201);
        let first: Value = first.json().await.unwrap();
        authored.push((
            first["id"].as_str().unwrap().to_owned(),
            first["edit_token"].as_str().unwrap().to_owned(),
        ));

        let id = |i: usize| created[i]["id"].as_str().unwrap().to_owned();
        let token = |i: usize| created[i]["edit_token"].as_str().unwrap().to_owned();
        // Readers' votes and a flag.
        let mut counts = Value::Null;
        for (voter, helpful) in [("voter-token-0001", true), ("voter-token-0002", false)] {
            let vote = app
                .client
                .post(app.url(&format!("/v1/reviews/{}/votes", id(0))))
                .json(&json!({"helpful": helpful, "voter_token": voter}))
                .send()
                .await
                .unwrap();
            assert_eq!(vote.status(), 200);
            counts = vote.json().await.unwrap();
        }
        let revote = Revote {
            review_id: id(0),
            body: json!({"helpful": true, "voter_token": "voter-token-0001"}),
            counts,
        };
        let flag = app
            .client
            .post(app.url(&format!("/v1/reviews/{}/flags", id(1))))
            .json(&json!({"reason": "off_topic", "note": "Not about the article."}))
            .send()
            .await
            .unwrap();
        assert_eq!(flag.status(), 204);
        // Editors: a rejection, an approval of a held review, a reply.
        Self::act(app, &moderator, "reject", &id(3), "Insults another reader.").await;
        Self::act(app, &moderator, "approve", &id(2), "Checked.").await;
        Self::act(app, &moderator, "approve", &id(5), "Checked too.").await;
        let reply = app
            .with_key(
                &moderator,
                Method::PUT,
                &format!("/v1/reviews/{}/reply", id(0)),
                Some(&json!({"body": "Thank you — the map is coming in the follow-up."})),
            )
            .await;
        assert_eq!(reply.status(), 200);
        // An author edits, another deletes.
        let edit = app
            .client
            .patch(app.url(&format!("/v1/reviews/{}", id(4))))
            .header("x-edit-token", token(4))
            .json(&json!({"rating": 3}))
            .send()
            .await
            .unwrap();
        assert_eq!(edit.status(), 200);
        let delete = app.delete_own_review(&id(6), &token(6)).await;
        assert_eq!(delete.status(), 204);
        // A data-rights erasure, and an endpoint whose deliveries wait for the worker.
        let erased_email = reviews[2]["author_email"].as_str().unwrap();
        let erase = app
            .with_key(
                &admin,
                Method::POST,
                "/v1/data-rights/erasures",
                Some(&json!({"author_email": erased_email})),
            )
            .await;
        assert_eq!(erase.status(), 200);
        let endpoint = app
            .subscribe(&admin, "http://127.0.0.1:9/hooks", "review.created")
            .await;
        let late = app
            .post_review(
                ENGLISH_ARTICLE,
                &json!({"rating": 4, "body": "Announced later."}),
            )
            .await;
        assert_eq!(late.status(), 201);

        Self {
            keys: vec![cms, moderator.clone(), admin.clone()],
            moderator,
            admin,
            articles: vec![ukrainian.clone(), ENGLISH_ARTICLE.to_owned()],
            authored,
            endpoint_id: endpoint["id"].as_str().unwrap().to_owned(),
            retry: Retry {
                article_id: ukrainian,
                idempotency_key: key.to_owned(),
                body: retry_body,
                review_id: first["id"].as_str().unwrap().to_owned(),
            },
            revote,
        }
    }

    async fn act(app: &TestApp, moderator: &str, action: &str, review_id: &str, note: &str) {
        let body = json!({"action": action, "review_ids": [review_id], "note": note});
        let response = app
            .with_key(
                moderator,
                Method::POST,
                "/v1/moderation/actions",
                Some(&body),
            )
            .await;
        assert_eq!(response.status(), 200, "{action} {review_id}");
    }

    /// Every read that shows what was stored: public, editors', administrators' and authors'.
    fn reads(&self) -> Vec<(String, Value, bool)> {
        let public = Value::Null;
        let moderator = json!({"bearer": self.moderator});
        let admin = json!({"bearer": self.admin});
        let today = chrono::Utc::now().date_naive();
        let mut reads = Vec::new();
        for article in &self.articles {
            reads.push((format!("/v1/articles/{article}"), public.clone(), false));
            reads.push((
                format!("/v1/articles/{article}/reviews?limit=3"),
                public.clone(),
                true,
            ));
            reads.push((
                format!("/v1/articles/{article}/stats"),
                public.clone(),
                false,
            ));
            reads.push((
                format!("/v1/articles/{article}/stats/daily?from={today}&to={today}"),
                public.clone(),
                false,
            ));
        }
        reads.push((
            format!(
                "/v1/stats?article_id={}",
                self.articles.join("&article_id=")
            ),
            public,
            false,
        ));
        for status in ["pending", "published", "rejected", "deleted"] {
            reads.push((
                format!("/v1/moderation/queue?status={status}&limit=3"),
                moderator.clone(),
                true,
            ));
        }
        reads.push((
            "/v1/moderation/queue?flagged=true".into(),
            moderator.clone(),
            true,
        ));
        reads.push(("/v1/moderation/counts".into(), moderator.clone(), false));
        reads.push(("/v1/moderation/log?limit=3".into(), moderator, true));
        reads.push(("/v1/webhook-endpoints".into(), admin.clone(), false));
        let endpoint = &self.endpoint_id;
        reads.push((
            format!("/v1/webhook-endpoints/{endpoint}"),
            admin.clone(),
            false,
        ));
        reads.push((
            format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
            admin.clone(),
            true,
        ));
        reads.push(("/v1/exports/reviews?format=ndjson".into(), admin, false));
        for key in &self.keys {
            reads.push(("/v1/me".into(), json!({"bearer": key}), false));
        }
        for (review_id, token) in &self.authored {
            reads.push((
                format!("/v1/reviews/{review_id}"),
                json!({"edit_token": token}),
                false,
            ));
        }
        reads
    }
}
