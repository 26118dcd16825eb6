//! How far a site trusts its signed-in readers: its policies decide whose reviews wait for a
//! moderator, a reader has one review per article where the site wants it, their votes count once
//! wherever they vote from, and a moderator's suspension holds from the reader's next request on,
//! on every node.

use marginalia::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{expect_problem, spawn_app_on, spawn_app_with, TestApp};
use crate::readers::{hs256, now, HS_SECRET, SITE};

/// A signed-in reader's token: `sub` with `badges`, valid for ten minutes.
fn token(sub: &str, badges: &[&str]) -> String {
    hs256(&json!({
        "sub": sub,
        "aud": format!("marginalia:{SITE}"),
        "exp": now() + 600,
        "name": format!("Reader {sub}"),
        "badges": badges,
    }))
}

/// An app whose submissions are not rate limited (every request comes from 127.0.0.1).
async fn app() -> TestApp {
    spawn_app_with(|settings| {
        settings.limits.rate_limit_reviews = 0;
        settings.limits.rate_limit_reactions = 0;
    })
    .await
}

/// Sets the site's moderation mode and reader tokens with `trust` (anonymous reviews taken).
async fn site_with_trust(app: &TestApp, moderation: &str, trust: Value) {
    let admin = app.api_key(&[Scope::Admin]).await;
    let put = app
        .with_key(
            &admin,
            Method::PUT,
            &format!("/v1/sites/{SITE}"),
            Some(&json!({
                "name": "Українська служба",
                "moderation": moderation,
                "reader_tokens": {"secrets": [HS_SECRET], "trust": trust},
            })),
        )
        .await;
    let status = put.status();
    let shown: Value = put.json().await.unwrap();
    assert!(status == 200 || status == 201, "{status}: {shown}");
    for (member, value) in trust.as_object().unwrap() {
        assert_eq!(
            &shown["reader_tokens"]["trust"][member], value,
            "{member} is kept"
        );
    }
}

async fn submit(
    app: &TestApp,
    token: Option<&str>,
    article: &str,
    text: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/sites/{SITE}/v1/articles/{article}/reviews")))
        .json(&json!({"rating": 4, "body": text}));
    if let Some(token) = token {
        request = request.header("marginalia-reader", token);
    }
    request.send().await.unwrap()
}

/// Submits and returns the stored review, checking the 201.
async fn submitted(app: &TestApp, token: Option<&str>, article: &str, text: &str) -> Value {
    let response = submit(app, token, article, text).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{text}: {body}");
    body
}

/// A review's status as stored, by id.
async fn stored_status(app: &TestApp, review: &Value) -> String {
    let id = review["id"].as_str().unwrap();
    let statuses = ["pending", "published", "rejected", "spam", "deleted"];
    for status in statuses {
        let found = app
            .count_where(&format!(
                "SELECT count(*) AS n FROM reviews WHERE id = '{id}' AND status = '{status}'"
            ))
            .await;
        if found == 1 {
            return status.to_owned();
        }
    }
    panic!("review {id} is not stored");
}

async fn moderator(app: &TestApp) -> String {
    app.site_key(SITE, &[Scope::Moderator]).await
}

#[tokio::test]
async fn subscribers_publish_directly_and_anonymous_reviews_wait() {
    let app = app().await;
    site_with_trust(
        &app,
        "pre",
        json!({"publish_badges": ["subscriber"], "premoderate_anonymous": true}),
    )
    .await;
    let subscriber = token("wp-1", &["subscriber"]);
    let other = token("wp-2", &["expert"]);
    let script = [
        (
            Some(subscriber.as_str()),
            "a subscriber on a pre-moderated site",
            "published",
        ),
        (None, "an anonymous reader", "pending"),
        (
            Some(other.as_str()),
            "a reader without the badge: the site's mode",
            "pending",
        ),
    ];
    for (token, who, expected) in script {
        let review = submitted(&app, token, "trust-1", who).await;
        assert_eq!(stored_status(&app, &review).await, expected, "{who}");
    }

    // The same policy on a post-moderated site: anonymous reviews still wait.
    site_with_trust(
        &app,
        "post",
        json!({"publish_badges": ["subscriber"], "premoderate_anonymous": true}),
    )
    .await;
    let anonymous = submitted(&app, None, "trust-1", "anonymous, post-moderated site").await;
    assert_eq!(stored_status(&app, &anonymous).await, "pending");
    let plain = submitted(&app, Some(&other), "trust-1", "no badge, post site").await;
    assert_eq!(stored_status(&app, &plain).await, "published");
}

#[tokio::test]
async fn a_reader_waits_until_enough_of_their_reviews_were_approved() {
    let app = app().await;
    site_with_trust(&app, "post", json!({"approvals_to_trust": 2})).await;
    let key = moderator(&app).await;
    let reader = token("wp-new", &[]);
    for round in 1..=2 {
        let review = submitted(&app, Some(&reader), "trust-2", &format!("review {round}")).await;
        assert_eq!(
            stored_status(&app, &review).await,
            "pending",
            "review {round} waits: {} approved so far",
            round - 1
        );
        let approved = app
            .with_key(
                &key,
                Method::POST,
                &format!("/sites/{SITE}/v1/moderation/actions"),
                Some(&json!({"action": "approve", "review_ids": [review["id"]]})),
            )
            .await;
        assert_eq!(approved.status(), 200);
        assert_eq!(stored_status(&app, &review).await, "published");
    }
    let trusted = submitted(&app, Some(&reader), "trust-2", "review 3").await;
    assert_eq!(
        stored_status(&app, &trusted).await,
        "published",
        "two approved: trusted"
    );
    let newcomer = submitted(&app, Some(&token("wp-other", &[])), "trust-2", "first").await;
    assert_eq!(stored_status(&app, &newcomer).await, "pending");
    let anonymous = submitted(&app, None, "trust-2", "anonymous").await;
    assert_eq!(
        stored_status(&app, &anonymous).await,
        "published",
        "anonymous reviews follow the site's mode"
    );
}

#[tokio::test]
async fn a_reader_has_one_review_per_article_where_the_site_wants_it() {
    let app = app().await;
    site_with_trust(&app, "post", json!({"one_review_per_article": true})).await;
    let reader = token("wp-once", &[]);
    let first = submitted(&app, Some(&reader), "once-1", "my review").await;

    let again = submit(&app, Some(&reader), "once-1", "my second review").await;
    let problem = expect_problem(again, 409).await;
    assert_eq!(problem["type"], "urn:marginalia:problem:reviewed-already");
    assert_eq!(problem["errors"][0]["field"], "Marginalia-Reader");
    let first_id = first["id"].as_str().unwrap();
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(first_id),
        "names the review to edit: {problem}"
    );
    submitted(&app, Some(&reader), "once-2", "another article").await;
    submitted(&app, None, "once-1", "anonymous readers are not limited").await;
    submitted(
        &app,
        None,
        "once-1",
        "anonymous readers are not limited, twice",
    )
    .await;

    // On another device, without the edit token: the reader's own token edits their review, and
    // another reader's token does not.
    let review_url = app.url(&format!("/sites/{SITE}/v1/reviews/{first_id}"));
    let edit = json!({"body": "my review, edited on my phone"});
    let stranger = app
        .client
        .patch(&review_url)
        .header("marginalia-reader", token("wp-stranger", &[]))
        .json(&edit)
        .send()
        .await
        .unwrap();
    expect_problem(stranger, 403).await;
    let edited = app
        .client
        .patch(&review_url)
        .header("marginalia-reader", &reader)
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(edited["id"], first["id"]);
    let shown = app
        .get_json(&format!("/sites/{SITE}/v1/reviews/{first_id}"))
        .await;
    assert_eq!(shown["body"], "my review, edited on my phone");

    // Deleting the review, with the reader's token too, frees the place.
    let deleted = app
        .client
        .delete(&review_url)
        .header("marginalia-reader", &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    submitted(&app, Some(&reader), "once-1", "a new review after deleting").await;

    // Several submissions at once: the database keeps exactly one.
    let racer = token("wp-racer", &[]);
    let attempts = (0..6).map(|round| {
        let app = &app;
        let racer = racer.clone();
        async move { submit(app, Some(&racer), "once-3", &format!("race {round}")).await }
    });
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    let kept = app
        .count_where(
            "SELECT count(*) AS n FROM reviews WHERE article_id = 'once-3' \
             AND reader_id = 'wp-racer'",
        )
        .await;
    assert_eq!(kept, 1);
}

#[tokio::test]
async fn a_signed_in_readers_votes_count_once_wherever_they_vote_from() {
    let app = app().await;
    site_with_trust(&app, "post", json!({})).await;
    let review = submitted(&app, None, "votes-1", "a review to vote on").await;
    let id = review["id"].as_str().unwrap();
    let reader = token("wp-voter", &[]);
    let mut counts = Value::Null;
    for (agent, voter_token, helpful) in [
        ("Firefox on a laptop", "voter-token-laptop-0001", true),
        ("Chrome on a phone", "voter-token-phone-00002", true),
        ("Safari on a tablet", "voter-token-tablet-0003", false),
    ] {
        let voted = app
            .client
            .post(app.url(&format!("/sites/{SITE}/v1/reviews/{id}/votes")))
            .header("user-agent", agent)
            .header("marginalia-reader", &reader)
            .json(&json!({"helpful": helpful, "voter_token": voter_token}))
            .send()
            .await
            .unwrap();
        assert_eq!(voted.status(), 200);
        counts = voted.json().await.unwrap();
    }
    assert_eq!(
        counts,
        json!({"helpful_count": 0, "unhelpful_count": 1}),
        "one reader, one vote: the last replaced the others"
    );
    let forged = app
        .client
        .post(app.url(&format!("/sites/{SITE}/v1/reviews/{id}/votes")))
        .header("marginalia-reader", "not.a.token")
        .json(&json!({"helpful": true}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(forged, 401).await;
    assert_eq!(problem["errors"][0]["field"], "Marginalia-Reader");
}

#[tokio::test]
async fn a_suspended_reader_is_refused_on_the_next_request_on_every_node() {
    let first = app().await;
    site_with_trust(&first, "post", json!({})).await;
    let second = spawn_app_on(&first.database_url, |settings| {
        settings.limits.rate_limit_reviews = 0;
        settings.limits.rate_limit_reactions = 0;
    });
    let key = moderator(&first).await;
    let reader = token("wp-troll", &[]);
    let before = submitted(&second, Some(&reader), "suspend-1", "before the suspension").await;
    let reader_path = format!("/sites/{SITE}/v1/moderation/readers/wp-troll");

    let suspended = first
        .with_key(
            &key,
            Method::PUT,
            &format!("{reader_path}/suspension"),
            Some(&json!({"until": "2099-01-01T00:00:00Z", "reason": "Personal attacks."})),
        )
        .await;
    assert_eq!(suspended.status(), 200);
    let suspension: Value = suspended.json().await.unwrap();
    assert_eq!(suspension["until"], "2099-01-01T00:00:00Z");

    for node in [&first, &second] {
        let refused = submit(node, Some(&reader), "suspend-1", "after").await;
        let problem = expect_problem(refused, 403).await;
        assert_eq!(problem["type"], "urn:marginalia:problem:reader-suspended");
        assert_eq!(problem["errors"][0]["field"], "Marginalia-Reader");
        assert!(problem["detail"].as_str().unwrap().contains("2099-01-01"));
        let vote = node
            .client
            .post(node.url(&format!(
                "/sites/{SITE}/v1/reviews/{}/votes",
                before["id"].as_str().unwrap()
            )))
            .header("marginalia-reader", &reader)
            .json(&json!({"helpful": true}))
            .send()
            .await
            .unwrap();
        expect_problem(vote, 403).await;
        // Nor may they rewrite their review with their token.
        let rewrite = node
            .client
            .patch(node.url(&format!(
                "/sites/{SITE}/v1/reviews/{}",
                before["id"].as_str().unwrap()
            )))
            .header("marginalia-reader", &reader)
            .json(&json!({"body": "rewritten while suspended"}))
            .send()
            .await
            .unwrap();
        let problem = expect_problem(rewrite, 403).await;
        assert_eq!(problem["type"], "urn:marginalia:problem:reader-suspended");
    }
    submitted(
        &second,
        Some(&token("wp-kind", &[])),
        "suspend-1",
        "others still write",
    )
    .await;

    let standing = second.with_key(&key, Method::GET, &reader_path, None).await;
    assert_eq!(standing.status(), 200);
    let standing: Value = standing.json().await.unwrap();
    assert_eq!(standing["reviews"]["published"], 1);
    assert_eq!(standing["recent"][0]["id"], before["id"]);
    assert_eq!(standing["recent"][0]["reader_id"], "wp-troll");
    assert_eq!(standing["suspension"]["reason"], "Personal attacks.");
    assert_eq!(standing["log"][0]["action"], "suspend");

    let lifted = second
        .with_key(
            &key,
            Method::DELETE,
            &format!("{reader_path}/suspension"),
            None,
        )
        .await;
    assert_eq!(lifted.status(), 204);
    submitted(&first, Some(&reader), "suspend-1", "reinstated").await;
    let standing: Value = first
        .with_key(&key, Method::GET, &reader_path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(standing["suspension"], Value::Null);
    let actions: Vec<&str> = standing["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["reinstate", "suspend"]);
}

#[tokio::test]
async fn suspensions_are_checked_and_need_a_moderator() {
    let app = app().await;
    site_with_trust(&app, "post", json!({})).await;
    let key = moderator(&app).await;
    let path = format!("/sites/{SITE}/v1/moderation/readers/wp-1/suspension");
    let past = app
        .with_key(
            &key,
            Method::PUT,
            &path,
            Some(&json!({"until": "2001-01-01T00:00:00Z"})),
        )
        .await;
    let problem = expect_problem(past, 422).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["until", "reason"]);
    let cms = app.site_key(SITE, &[Scope::Cms]).await;
    let wrong_scope = app
        .with_key(&cms, Method::PUT, &path, Some(&json!({"reason": "x"})))
        .await;
    expect_problem(wrong_scope, 403).await;
    let nobody = app
        .client
        .put(app.url(&path))
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    expect_problem(nobody, 401).await;
    let for_good = app
        .with_key(
            &key,
            Method::PUT,
            &path,
            Some(&json!({"reason": "Spam, for good."})),
        )
        .await;
    assert_eq!(for_good.status(), 200);
    let body: Value = for_good.json().await.unwrap();
    assert_eq!(body["until"], Value::Null);
    let refused = submit(&app, Some(&token("wp-1", &[])), "s-2", "x").await;
    let problem = expect_problem(refused, 403).await;
    assert_eq!(problem["detail"], "this reader is suspended");
}
