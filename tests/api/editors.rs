//! What the editors' console stands on, as a script would use it: who a key is, the queue's
//! tabs and counts, an author's other reviews, holding a published review, the filtered audit log
//! and its CSV, an article's editorial settings, and the console's own files.

use std::time::Duration;

use marginalia::auth::Scope;
use reqwest::{header, Method};
use serde_json::{json, Value};

use crate::common::{expect_problem, problem_fields, spawn_app_with, TestApp};

const ARTICLE: &str = "voa-2020-05-iskp-attacks";

async fn submit(app: &TestApp, article: &str, body: Value) -> String {
    let response = app.post_review(article, &body).await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    let created: Value = response.json().await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

async fn act(app: &TestApp, key: &str, action: &str, ids: &[&str]) -> Value {
    let response = app
        .with_key(
            key,
            Method::POST,
            "/v1/moderation/actions",
            Some(&json!({"action": action, "review_ids": ids})),
        )
        .await;
    assert_eq!(response.status(), 200, "{action}");
    response.json().await.unwrap()
}

fn ids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect()
}

async fn banned_terms_app() -> TestApp {
    spawn_app_with(|settings| {
        settings.moderation.banned_terms = vec!["шахрай".into()];
        settings.server.read_cache_ttl = Duration::ZERO;
    })
    .await
}

#[tokio::test]
async fn a_key_can_ask_who_it_is_and_only_a_valid_one_gets_an_answer() {
    let app = banned_terms_app().await;
    let moderator = app.api_key(&[Scope::Moderator]).await;
    let cms = app.api_key(&[Scope::Cms]).await;
    let me = app.get_json_with_key(&moderator, "/v1/me").await;
    assert_eq!(me["scopes"], json!(["moderator"]));
    assert!(me["name"].as_str().is_some_and(|name| !name.is_empty()));
    let me = app.get_json_with_key(&cms, "/v1/me").await;
    assert_eq!(me["scopes"], json!(["cms"]), "the console refuses this one");

    expect_problem(app.get("/v1/me").await, 401).await;
    let unknown = app
        .get_with_key("mrg_not-a-key-anyone-made", "/v1/me")
        .await;
    expect_problem(unknown, 401).await;
}

#[tokio::test]
async fn the_queue_has_tabs_with_counts_filters_titles_and_the_author_s_other_reviews() {
    let app = banned_terms_app().await;
    let key = app.api_key(&[Scope::Moderator]).await;
    app.register_fixture_article().await;
    let held_uk = submit(
        &app,
        ARTICLE,
        json!({"rating": 1, "body": "Автор — шахрай, не вірте жодному слову.", "language": "uk",
               "author_email": "Reader@Example.com"}),
    )
    .await;
    let held_en = submit(
        &app,
        ARTICLE,
        json!({"rating": 2, "body": "The author is a шахрай, says my neighbour.", "language": "en"}),
    )
    .await;
    let earlier = submit(
        &app,
        "another-article",
        json!({"rating": 5, "body": "Чудовий репортаж, дякую редакції.", "language": "uk",
               "author_email": "reader@example.com"}),
    )
    .await;
    let stranger = submit(
        &app,
        "another-article",
        json!({"rating": 4, "body": "Хороший текст про події в Кунарі.", "author_email": "other@example.com"}),
    )
    .await;
    // A reader flags the published one (below the threshold: it stays public).
    let flagged = app
        .client
        .post(app.url(&format!("/v1/reviews/{earlier}/flags")))
        .json(&json!({"reason": "off_topic", "voter_token": "reader-token-0001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(flagged.status(), 204);

    let counts = app.get_json_with_key(&key, "/v1/moderation/counts").await;
    assert_eq!(counts, json!({"pending": 2, "flagged": 1, "spam": 0}));

    let pending = app
        .get_json_with_key(&key, "/v1/moderation/queue?status=pending")
        .await;
    assert_eq!(ids(&pending), [held_uk.as_str(), held_en.as_str()]);
    assert_eq!(
        pending["items"][0]["article_title"],
        "Pushed to the Brink Again, Islamic State’s Afghan Affiliate Claims Deadly Attacks"
    );
    assert_eq!(pending["items"][0]["reasons"], json!(["banned_term"]));
    let ukrainian = app
        .get_json_with_key(&key, "/v1/moderation/queue?language=uk")
        .await;
    assert_eq!(ids(&ukrainian), [held_uk.as_str()]);
    let flagged = app
        .get_json_with_key(&key, "/v1/moderation/queue?status=published&flagged=true")
        .await;
    assert_eq!(ids(&flagged), [earlier.as_str()]);
    assert_eq!(flagged["items"][0]["article_title"], Value::Null);
    assert_eq!(flagged["items"][0]["flag_count"], 1);

    // The author's other reviews: by email, whatever its letter case; none without one.
    let others = app
        .get_json_with_key(
            &key,
            &format!("/v1/moderation/reviews/{held_uk}/author-reviews"),
        )
        .await;
    assert_eq!(others["matched_by"], "email");
    assert_eq!(
        ids(&others),
        [earlier.as_str()],
        "not {stranger}, not itself"
    );
    let anonymous = app
        .get_json_with_key(
            &key,
            &format!("/v1/moderation/reviews/{held_en}/author-reviews"),
        )
        .await;
    assert_eq!(anonymous, json!({"matched_by": null, "items": []}));
    let missing = app
        .get_with_key(
            &key,
            "/v1/moderation/reviews/019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f/author-reviews",
        )
        .await;
    expect_problem(missing, 404).await;

    for (query, field) in [
        ("language=not a tag", "language"),
        ("flagged=yes", "flagged"),
    ] {
        let bad = app
            .get_with_key(&key, &format!("/v1/moderation/queue?{query}"))
            .await;
        assert_eq!(problem_fields(&expect_problem(bad, 400).await), [field]);
    }
    let cms = app.api_key(&[Scope::Cms]).await;
    let refused = app.get_with_key(&cms, "/v1/moderation/counts").await;
    expect_problem(refused, 403).await;
}

#[tokio::test]
async fn every_console_action_can_be_undone_through_the_public_api() {
    let app = banned_terms_app().await;
    let key = app.api_key(&[Scope::Moderator]).await;
    let id = submit(
        &app,
        ARTICLE,
        json!({"rating": 4, "body": "Докладно і чесно написано."}),
    )
    .await;
    let count = || async {
        app.get_json(&format!("/v1/articles/{ARTICLE}/stats")).await["review_count"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(count().await, 1);
    // Rejected by mistake: approve undoes it.
    let rejected = act(&app, &key, "reject", &[&id]).await;
    assert_eq!(rejected["changed"][0]["from"], "published");
    act(&app, &key, "approve", &[&id]).await;
    assert_eq!(count().await, 1);
    // Approved by mistake (it was pending): hold sends it back to the queue, uncounted.
    let held = act(&app, &key, "hold", &[&id]).await;
    assert_eq!(
        held["changed"],
        json!([{"id": id, "from": "published", "to": "pending"}])
    );
    assert_eq!(count().await, 0);
    assert_eq!(app.get(&format!("/v1/reviews/{id}")).await.status(), 404);
    // Hold applies to published reviews only.
    act(&app, &key, "reject", &[&id]).await;
    let refused = app
        .with_key(
            &key,
            Method::POST,
            "/v1/moderation/actions",
            Some(&json!({"action": "hold", "review_ids": [id]})),
        )
        .await;
    assert_eq!(
        problem_fields(&expect_problem(refused, 409).await),
        ["review_ids[0]"]
    );
}

#[tokio::test]
async fn a_flagged_published_review_is_kept_published_and_its_flags_dismissed() {
    let app = spawn_app_with(|settings| {
        settings.server.read_cache_ttl = Duration::ZERO;
        // The outbox is only written while an endpoint listens; no delivery is wanted here.
        settings.webhooks.worker = false;
    })
    .await;
    let key = app.api_key(&[Scope::Moderator]).await;
    let admin = app.api_key(&[Scope::Admin]).await;
    app.create_endpoint(&admin, json!({"url": "http://127.0.0.1:9/hooks"}))
        .await;
    let id = submit(
        &app,
        ARTICLE,
        json!({"rating": 3, "body": "Стаття варта уваги, хоч і не все в ній переконує."}),
    )
    .await;
    let unflagged = submit(
        &app,
        ARTICLE,
        json!({"rating": 5, "body": "Дуже докладна стаття, дякую за роботу редакції."}),
    )
    .await;
    // Two readers on one network: below the threshold of networks, so it stays public.
    for (token, reason, note) in [
        (
            "flagging-reader-0001",
            "misinformation",
            Some("The figure was corrected."),
        ),
        ("flagging-reader-0002", "off_topic", None),
    ] {
        let flagged = app
            .client
            .post(app.url(&format!("/v1/reviews/{id}/flags")))
            .json(&json!({"reason": reason, "note": note, "voter_token": token}))
            .send()
            .await
            .unwrap();
        assert_eq!(flagged.status(), 204, "{token}");
    }
    assert_eq!(app.get(&format!("/v1/reviews/{id}")).await.status(), 200);
    let tab = app
        .get_json_with_key(&key, "/v1/moderation/queue?status=published&flagged=true")
        .await;
    assert_eq!(ids(&tab), [id.as_str()]);
    assert_eq!(tab["items"][0]["flag_count"], 2);
    // The moderator sees why readers flagged it, and what they wrote, newest first.
    let flags = tab["items"][0]["flags"].as_array().unwrap();
    let reasons: Vec<&str> = flags
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons.contains(&"misinformation") && reasons.contains(&"off_topic"));
    let noted = flags
        .iter()
        .find(|flag| flag["reason"] == "misinformation")
        .unwrap();
    assert_eq!(noted["note"], "The figure was corrected.");
    assert!(noted.get("voter").is_none() && noted.get("network").is_none());

    // Approving a published review changes nothing, flags included.
    let approved = act(&app, &key, "approve", &[&id]).await;
    assert_eq!(approved["changed"], json!([]));
    assert_eq!(approved["unchanged"], 1);
    assert_eq!(
        app.get_json_with_key(&key, "/v1/moderation/counts").await["flagged"],
        1
    );

    let outbox = "SELECT count(*) AS n FROM outbox_events";
    let events_before = app.count(outbox).await;
    assert!(
        events_before > 0,
        "the endpoint listens: submissions were announced"
    );
    let stats_before = app.get_json(&format!("/v1/articles/{ARTICLE}/stats")).await;
    let dismissed = app
        .with_key(
            &key,
            Method::POST,
            "/v1/moderation/actions",
            Some(
                &json!({"action": "dismiss_flags", "review_ids": [id, unflagged],
                         "note": "Checked: the reader quotes the article correctly."}),
            ),
        )
        .await;
    assert_eq!(dismissed.status(), 200);
    let dismissed: Value = dismissed.json().await.unwrap();
    assert_eq!(
        dismissed,
        json!({"action": "dismiss_flags",
               "changed": [{"id": id, "from": "published", "to": "published"}],
               "unchanged": 1})
    );

    // Still published and counted the same; the flags are gone from the tab and the counts.
    let public = app.get_json(&format!("/v1/reviews/{id}")).await;
    assert_eq!(public["status"], "published");
    assert_eq!(
        app.get_json(&format!("/v1/articles/{ARTICLE}/stats")).await,
        stats_before
    );
    let tab = app
        .get_json_with_key(&key, "/v1/moderation/queue?status=published&flagged=true")
        .await;
    assert_eq!(ids(&tab), Vec::<&str>::new());
    assert_eq!(
        app.get_json_with_key(&key, "/v1/moderation/counts").await["flagged"],
        0
    );
    let all = app
        .get_json_with_key(&key, "/v1/moderation/queue?status=published")
        .await;
    let kept = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == json!(id))
        .unwrap();
    assert_eq!(kept["flag_count"], 0);
    assert_eq!(kept["flags"], json!([]));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM review_flags WHERE review_id = '{id}'"
        ))
        .await,
        0
    );
    // No public field changed, so nothing is announced.
    assert_eq!(app.count(outbox).await, events_before);

    // The audit log has it under its own name, with the note.
    let log = app
        .get_json_with_key(&key, &format!("/v1/moderation/log?review_id={id}"))
        .await;
    let entry = &log["items"][0];
    assert_eq!(entry["action"], "dismiss_flags");
    assert_eq!(entry["from_status"], "published");
    assert_eq!(entry["to_status"], "published");
    assert_eq!(
        entry["note"],
        "Checked: the reader quotes the article correctly."
    );
    let by_action = app
        .get_json_with_key(&key, "/v1/moderation/log?action=dismiss_flags")
        .await;
    assert_eq!(
        by_action["items"].as_array().unwrap().len(),
        1,
        "not {unflagged}"
    );

    // Repeating it changes nothing; a review that is not published cannot take it.
    let again = act(&app, &key, "dismiss_flags", &[&id]).await;
    assert_eq!(again["changed"], json!([]));
    act(&app, &key, "reject", &[&unflagged]).await;
    let refused = app
        .with_key(
            &key,
            Method::POST,
            "/v1/moderation/actions",
            Some(&json!({"action": "dismiss_flags", "review_ids": [id, unflagged]})),
        )
        .await;
    assert_eq!(
        problem_fields(&expect_problem(refused, 409).await),
        ["review_ids[1]"]
    );
    let cms = app.api_key(&[Scope::Cms]).await;
    let forbidden = app
        .with_key(
            &cms,
            Method::POST,
            "/v1/moderation/actions",
            Some(&json!({"action": "dismiss_flags", "review_ids": [id]})),
        )
        .await;
    expect_problem(forbidden, 403).await;
}

#[tokio::test]
async fn the_audit_log_filters_by_who_what_where_and_when_and_downloads_as_csv() {
    let app = banned_terms_app().await;
    let olha = app.api_key(&[Scope::Moderator]).await;
    let first = submit(
        &app,
        ARTICLE,
        json!({"rating": 2, "body": "Це писав шахрай."}),
    )
    .await;
    let second = submit(
        &app,
        "another-article",
        json!({"rating": 3, "body": "Знову шахрай пише."}),
    )
    .await;
    act(&app, &olha, "approve", &[&first]).await;
    let noted =
        json!({"action": "reject", "review_ids": [second], "note": "=HYPERLINK(\"http://evil\")"});
    let rejected = app
        .with_key(&olha, Method::POST, "/v1/moderation/actions", Some(&noted))
        .await;
    assert_eq!(rejected.status(), 200);

    let log = |query: &str| {
        let path = format!("/v1/moderation/log?{query}");
        let key = olha.clone();
        let app = &app;
        async move { app.get_json_with_key(&key, &path).await }
    };
    let all = log("").await;
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        4,
        "two held, two decided"
    );
    let by_rules = log("actor=rules").await;
    assert!(by_rules["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["action"] == "submit"));
    let approvals = log("action=approve").await;
    assert_eq!(approvals["items"][0]["review_id"], first.as_str());
    assert_eq!(approvals["items"][0]["article_id"], ARTICLE);
    let elsewhere = log("article_id=another-article").await;
    assert_eq!(elsewhere["items"].as_array().unwrap().len(), 2);
    let future = log("since=2999-01-01T00:00:00Z").await;
    assert_eq!(future["items"], json!([]));
    let past = log("until=2000-01-01T00:00:00Z").await;
    assert_eq!(past["items"], json!([]));
    let page = log("limit=1").await;
    let next = log(&format!(
        "limit=1&cursor={}",
        page["next_cursor"].as_str().unwrap()
    ))
    .await;
    assert_ne!(page["items"][0]["id"], next["items"][0]["id"]);

    let csv = app
        .get_with_key(&olha, "/v1/moderation/log?format=csv&action=reject")
        .await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,created_at,actor,action,review_id,article_id,from_status,to_status,reasons,note"
    );
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].contains(&second));
    assert!(lines[1].contains(",pending,rejected,"), "{}", lines[1]);
    assert!(
        lines[1].contains("\"'=HYPERLINK("),
        "a formula is made inert: {}",
        lines[1]
    );

    for (query, field) in [
        ("since=yesterday", "since"),
        ("format=xml", "format"),
        ("actor=", "actor"),
        ("article_id=..", "article_id"),
    ] {
        let bad = app
            .get_with_key(&olha, &format!("/v1/moderation/log?{query}"))
            .await;
        assert_eq!(
            problem_fields(&expect_problem(bad, 400).await),
            [field],
            "{query}"
        );
    }
}

#[tokio::test]
async fn editors_close_reviews_and_switch_moderation_without_restating_the_article() {
    let app = banned_terms_app().await;
    let editor = app.api_key(&[Scope::Moderator]).await;
    app.register_fixture_article().await;
    let patch = |key: &str, body: Value| {
        let key = key.to_owned();
        let app = &app;
        async move {
            app.with_key(
                &key,
                Method::PATCH,
                &format!("/v1/articles/{ARTICLE}"),
                Some(&body),
            )
            .await
        }
    };
    let pre = patch(&editor, json!({"moderation": "pre"})).await;
    assert_eq!(pre.status(), 200);
    let article: Value = pre.json().await.unwrap();
    assert_eq!(article["moderation"], "pre");
    assert_eq!(article["reviews_open"], true);
    assert!(article["title"].is_string(), "the CMS's fields stay");
    let held = app
        .post_review(
            ARTICLE,
            &json!({"rating": 5, "body": "Чекаю на перевірку."}),
        )
        .await;
    let held: Value = held.json().await.unwrap();
    assert_eq!(held["status"], "pending");

    let closed = patch(&editor, json!({"reviews_open": false})).await;
    let closed: Value = closed.json().await.unwrap();
    assert_eq!(closed["reviews_open"], false);
    assert_eq!(closed["moderation"], "pre", "left out, left alone");
    let refused = app
        .post_review(
            ARTICLE,
            &json!({"rating": 5, "body": "Запізнився з відгуком."}),
        )
        .await;
    expect_problem(refused, 409).await;

    let site_default = patch(&editor, json!({"reviews_open": true, "moderation": null})).await;
    let site_default: Value = site_default.json().await.unwrap();
    assert_eq!(site_default["moderation"], Value::Null);
    assert_eq!(site_default["reviews_open"], true);

    let cms = app.api_key(&[Scope::Cms]).await;
    assert_eq!(patch(&cms, json!({})).await.status(), 200);
    let no_key = app
        .client
        .patch(app.url(&format!("/v1/articles/{ARTICLE}")))
        .json(&json!({"reviews_open": false}))
        .send()
        .await
        .unwrap();
    expect_problem(no_key, 401).await;
    let wrong = patch(&editor, json!({"moderation": "sometimes"})).await;
    assert_eq!(
        problem_fields(&expect_problem(wrong, 422).await),
        ["moderation"]
    );
    let unknown_field = patch(&editor, json!({"title": "Not an editor's field"})).await;
    assert_eq!(
        problem_fields(&expect_problem(unknown_field, 422).await),
        ["title"]
    );
    let unknown = app
        .with_key(
            &editor,
            Method::PATCH,
            "/v1/articles/never-registered",
            Some(&json!({"reviews_open": false})),
        )
        .await;
    expect_problem(unknown, 404).await;
}

#[tokio::test]
async fn the_console_is_served_under_a_strict_policy_and_nothing_else_is() {
    let app = banned_terms_app().await;
    let page = app.get("/console/").await;
    assert_eq!(page.status(), 200);
    let policy = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(page.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("<script type=\"module\""));

    let script = app.get("/console/console.js").await;
    assert_eq!(script.status(), 200);
    assert!(script
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY));
    let tag = script.headers()[header::ETAG].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(app.url("/console/console.js"))
        .header(header::IF_NONE_MATCH, &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    for path in [
        "/console/nothing-here.js",
        "/console/..%2F..%2FCargo.toml",
        "/console/%2e%2e/%2e%2e/Cargo.toml",
    ] {
        expect_problem(app.get(path).await, 404).await;
    }
}
