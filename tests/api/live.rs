//! Live updates as readers and editors meet them: a review approved through one node reaches a
//! reader connected to another; a reader who reconnects (to another node, after a restart) with
//! `Last-Event-ID` misses nothing and gets nothing twice; nothing of a held, rejected or spam
//! review ever reaches the public stream, whatever moderation path it took; the moderators'
//! stream needs a key and ends when the key is revoked; the streams are capped.

use std::collections::BTreeSet;
use std::time::Duration;

use marginalia::auth::{self, Scope};
use marginalia::config::Settings;
use marginalia::domain::moderation::ModerationMode;
use marginalia::store;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::live::{Event, EventStream};
use crate::common::{expect_problem, spawn_app_on, spawn_app_with, TestApp};

const ARTICLE: &str = "kyiv-metro-flooding";
const STREAM: &str = "/v1/articles/kyiv-metro-flooding/live";
/// Far longer than an event takes on an idle machine; only a real failure runs into it.
const ARRIVES_WITHIN: Duration = Duration::from_secs(20);
/// How long a test watches a stream for something that must not come.
const QUIET_FOR: Duration = Duration::from_secs(2);

fn pre_moderated(settings: &mut Settings) {
    settings.moderation.mode = ModerationMode::Pre;
}

async fn submit(node: &TestApp, text: &str, email: Option<&str>) -> Value {
    let mut body = json!({"rating": 4, "body": text});
    if let Some(email) = email {
        body["author_email"] = json!(email);
    }
    let response = node.post_review(ARTICLE, &body).await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    response.json().await.unwrap()
}

fn id_of(created: &Value) -> String {
    created["id"].as_str().unwrap().to_owned()
}

async fn act(node: &TestApp, key: &str, action: &str, id: &str) {
    let response = node
        .with_key(
            key,
            Method::POST,
            "/v1/moderation/actions",
            Some(&json!({"action": action, "review_ids": [id]})),
        )
        .await;
    assert_eq!(
        response.status(),
        200,
        "{action} {id}: {:?}",
        response.text().await
    );
}

fn published_ids(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|event| event.name == "review.published")
        .filter_map(|event| event.review_id().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_review_approved_through_one_node_reaches_a_reader_on_another() {
    let first = spawn_app_with(pre_moderated).await;
    let second = spawn_app_on(&first.database_url, pre_moderated);
    let key = first.api_key(&[Scope::Moderator]).await;
    let held = id_of(&submit(&first, "Станції на лівому березі знову працюють.", None).await);
    let mut reader = EventStream::open(&second, STREAM, &[]).await;
    assert_eq!(reader.retries.len(), 0);

    act(&first, &key, "approve", &held).await;

    let events = reader
        .until(
            ARRIVES_WITHIN,
            "the approved review on the other node",
            |event| event.name == "stats",
        )
        .await;
    assert_eq!(published_ids(&events), vec![held.clone()], "{events:#?}");
    let published = &events[0];
    assert!(
        published.id.is_some(),
        "a review event has an id to resume from"
    );
    assert_eq!(published.data["status"], "published");
    assert_eq!(
        published.data["body"],
        "Станції на лівому березі знову працюють."
    );
    let stats = events.last().unwrap();
    assert_eq!(stats.data["review_count"], 1, "{stats:?}");
    assert_eq!(stats.data["article_id"], ARTICLE);
    assert_eq!(
        reader.retries,
        vec![3000],
        "the stream advises how soon to reconnect"
    );
}

#[tokio::test]
async fn resuming_with_last_event_id_across_a_node_restart_loses_and_repeats_nothing() {
    let writer = spawn_app_with(|_| {}).await;
    let restarting = spawn_app_on(&writer.database_url, |_| {});
    let mut reader = EventStream::open(&restarting, STREAM, &[]).await;
    let mut posted = Vec::new();
    for n in 0..3 {
        posted.push(id_of(
            &submit(&writer, &format!("Before the restart {n}"), None).await,
        ));
    }
    let before = reader
        .until(ARRIVES_WITHIN, "the first three reviews", |event| {
            published_ids(std::slice::from_ref(event)).last() == posted.last()
        })
        .await;
    let resume_from = reader.last_event_id.clone().expect("an event id");

    // The node goes away mid-stream; reviews keep coming through the other.
    drop(restarting);
    for n in 0..4 {
        posted.push(id_of(
            &submit(&writer, &format!("During the restart {n}"), None).await,
        ));
    }
    let restarted = spawn_app_on(&writer.database_url, |_| {});
    let mut resumed =
        EventStream::open(&restarted, STREAM, &[("last-event-id", &resume_from)]).await;
    posted.push(id_of(&submit(&writer, "After the restart", None).await));
    let after = resumed
        .until(ARRIVES_WITHIN, "every review posted meanwhile", |event| {
            published_ids(std::slice::from_ref(event)).last() == posted.last()
        })
        .await;
    let extra = resumed.during(QUIET_FOR).await;

    let received: Vec<String> = [before, after, extra]
        .iter()
        .flat_map(|events| published_ids(events))
        .collect();
    assert_eq!(received, posted, "every review once, in order");
}

/// Every path by which a review is held, rejected, marked spam, deleted or erased (the rules and
/// the honeypot on submission, a moderator's reject, spam and hold, readers' flags, an author's
/// edit caught by a rule, erasure, the author's deletion, a reply to a held review): the public
/// stream shows only what a public read shows, while the moderators' stream sees all of it.
#[tokio::test]
async fn held_rejected_and_spam_reviews_never_reach_the_public_stream() {
    let app = spawn_app_with(|settings| {
        settings.moderation.flag_threshold = 1;
        settings.moderation.banned_terms = vec!["casino".into()];
    })
    .await;
    let moderator = app.api_key(&[Scope::Moderator]).await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let mut reader = EventStream::open(&app, STREAM, &[]).await;
    let mut queue = EventStream::open(
        &app,
        "/v1/moderation/live",
        &[("authorization", &format!("Bearer {moderator}"))],
    )
    .await;
    let counts = queue.next(ARRIVES_WITHIN).await.expect("the counts first");
    assert_eq!(counts.name, "counts");

    // Held by a rule on submission, then rejected: never public.
    let banned = id_of(&submit(&app, "Best casino bonus here", None).await);
    act(&app, &moderator, "reject", &banned).await;
    // Held by a rule, marked spam.
    let spam = id_of(&submit(&app, "casino casino", None).await);
    act(&app, &moderator, "spam", &spam).await;
    // Published, then rejected: public once, then removed.
    let rejected = id_of(&submit(&app, "Rejected after publication", None).await);
    act(&app, &moderator, "reject", &rejected).await;
    // Published, then flagged down to pending by a reader.
    let flagged = id_of(&submit(&app, "Flagged by a reader", None).await);
    let flag = app
        .client
        .post(app.url(&format!("/v1/reviews/{flagged}/flags")))
        .json(&json!({"reason": "other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(flag.status(), 204, "{:?}", flag.text().await);
    // A reply to the held one reaches nobody.
    let reply = app
        .with_key(
            &moderator,
            Method::PUT,
            &format!("/v1/reviews/{flagged}/reply"),
            Some(&json!({"body": "Thanks"})),
        )
        .await;
    assert_eq!(reply.status(), 200, "{:?}", reply.text().await);
    // Caught by the honeypot: spam from the start.
    let bot = app
        .post_review(
            ARTICLE,
            &json!({"rating": 5, "body": "Great read", "website": "http://bot.example"}),
        )
        .await;
    assert_eq!(bot.status(), 201);
    let bot = id_of(&bot.json().await.unwrap());
    // Published, then held by a moderator.
    let held_back = id_of(&submit(&app, "Held back by the desk", None).await);
    act(&app, &moderator, "hold", &held_back).await;
    // Published, then edited into a banned term: back to the queue.
    let edited = submit(&app, "An honest opinion", None).await;
    let edit = app
        .client
        .patch(app.url(&format!("/v1/reviews/{}", id_of(&edited))))
        .header("x-edit-token", edited["edit_token"].as_str().unwrap())
        .json(&json!({"body": "An honest opinion about the casino next door"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200, "{:?}", edit.text().await);
    let edited = id_of(&edited);
    // Published, then erased on request.
    let erased = id_of(&submit(&app, "Erase me later", Some("erase.me@example.org")).await);
    let erasure = app
        .with_key(
            &admin,
            Method::POST,
            "/v1/data-rights/erasures",
            Some(&json!({"author_email": "erase.me@example.org"})),
        )
        .await;
    assert_eq!(erasure.status(), 200, "{:?}", erasure.text().await);
    // Published, then deleted by its author.
    let withdrawn = submit(&app, "Withdrawn by the author", None).await;
    let deleted = app
        .delete_own_review(
            &id_of(&withdrawn),
            withdrawn["edit_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    // The one that stays.
    let kept = id_of(&submit(&app, "A review that stays", None).await);

    let events = reader
        .until(ARRIVES_WITHIN, "the review that stays", |event| {
            event.review_id() == Some(kept.as_str())
        })
        .await;
    let mut events = events;
    events.extend(reader.during(QUIET_FOR).await);
    let never_public: BTreeSet<&str> = [banned.as_str(), spam.as_str(), bot.as_str()].into();
    for event in &events {
        let text = event.data.to_string();
        for id in &never_public {
            assert!(
                !text.contains(id),
                "a never-public review on the public stream: {event:?}"
            );
        }
        assert!(!text.contains("casino"), "{event:?}");
        assert!(!text.contains("Great read"), "{event:?}");
        assert!(!text.contains("Thanks"), "a held review's reply: {event:?}");
    }
    let removed: Vec<&str> = events
        .iter()
        .filter(|event| event.name == "review.removed")
        .filter_map(Event::review_id)
        .collect();
    let withdrawn = id_of(&withdrawn);
    assert_eq!(
        removed,
        vec![
            rejected.as_str(),
            flagged.as_str(),
            held_back.as_str(),
            edited.as_str(),
            erased.as_str(),
            withdrawn.as_str()
        ],
        "{events:#?}"
    );
    let stats = events
        .iter()
        .rev()
        .find(|event| event.name == "stats")
        .unwrap();
    assert_eq!(
        stats.data["review_count"], 1,
        "only the kept review counts: {stats:?}"
    );

    // The moderators saw the held ones come and go.
    let seen = queue
        .until(ARRIVES_WITHIN, "the flagged review in the queue", |event| {
            event.name == "queue.item" && event.review_id() == Some(flagged.as_str())
        })
        .await;
    assert!(
        seen.iter().any(|event| event.name == "queue.settled"
            && event.review_id() == Some(banned.as_str())
            && event.data["status"] == "rejected"),
        "{seen:#?}"
    );
}

#[tokio::test]
async fn a_reader_too_far_behind_is_told_to_reload_and_a_malformed_id_is_refused() {
    let app = spawn_app_with(|_| {}).await;
    let made_up = EventStream::request(&app, STREAM, &[("last-event-id", "12; DROP TABLE")]).await;
    let problem = expect_problem(made_up, 400).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Last-Event-ID"),
        "{problem}"
    );

    // A position this database never sent (from another installation, or made up).
    let mut future = EventStream::open(&app, STREAM, &[("last-event-id", "999999999999-1")]).await;
    let reload = future.next(ARRIVES_WITHIN).await.expect("a reload");
    assert_eq!(reload.name, "reload", "{reload:?}");
    assert!(reload.id.is_some());
    // And the stream goes on from there.
    let id = id_of(&submit(&app, "After the reload", None).await);
    let events = future
        .until(ARRIVES_WITHIN, "the new review", |event| {
            event.review_id() == Some(id.as_str())
        })
        .await;
    assert_eq!(published_ids(&events), vec![id]);

    let unknown = EventStream::request(&app, "/v1/articles/no%20such/live", &[]).await;
    assert_eq!(
        unknown.status(),
        400,
        "an invalid article id is refused like any read"
    );
}

#[tokio::test]
async fn events_older_than_the_resume_window_are_all_pruned_however_many_piled_up() {
    // The node's own pruning keeps a day here, so only the call below touches these events.
    let app = spawn_app_with(|settings| settings.live.window = Duration::from_secs(86_400)).await;
    // More than one pruning statement deletes (10,000): what a busy hour leaves behind.
    let piled_up = app
        .count_where(
            "WITH old AS (INSERT INTO live_events (site_id, article_id, review_id, kind, created_at) \
             SELECT 'default', 'kyiv-metro-flooding', gen_random_uuid(), 'published', \
             now() - interval '1 hour' FROM generate_series(1, 25000) RETURNING 1) \
             SELECT count(*) AS n FROM old",
        )
        .await;
    assert_eq!(piled_up, 25_000);
    let recent = id_of(&submit(&app, "Still within the window", None).await);

    let half_an_hour = Duration::from_secs(1_800);
    let deleted = store::live::prune(&app.pool.installation(), half_an_hour)
        .await
        .expect("pruning");

    assert_eq!(deleted, 25_000, "every old event, in one call");
    let left =
        "SELECT count(*) AS n FROM live_events WHERE created_at < now() - interval '30 minutes'";
    assert_eq!(app.count_where(left).await, 0);
    let kept = format!("SELECT count(*) AS n FROM live_events WHERE review_id = '{recent}'");
    assert_eq!(app.count_where(&kept).await, 1, "the recent event stays");
    // A reader resuming from before the pruned events is told to reload, not given a gap.
    let mut resumed = EventStream::open(&app, STREAM, &[("last-event-id", "1-1")]).await;
    let reload = resumed.next(ARRIVES_WITHIN).await.expect("a reload");
    assert_eq!(reload.name, "reload", "{reload:?}");
}

#[tokio::test]
async fn streams_over_the_client_cap_are_refused_with_retry_after() {
    let app = spawn_app_with(|settings| {
        settings.live.max_streams_per_client = 2;
        // A reader who leaves is noticed when the next keep-alive cannot be written.
        settings.live.heartbeat = Duration::from_secs(1);
    })
    .await;
    let first = EventStream::open(&app, STREAM, &[]).await;
    let _second = EventStream::open(&app, STREAM, &[]).await;
    let third = EventStream::request(&app, STREAM, &[]).await;
    assert_eq!(third.status(), 429);
    let retry_after: u64 = third.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    let problem = expect_problem(third, 429).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("live streams"),
        "{problem}"
    );

    // A reader who leaves makes room (by the next keep-alive).
    drop(first);
    crate::common::wait::until(ARRIVES_WITHIN, "room for another stream", || async {
        EventStream::request(&app, STREAM, &[]).await.status() == 200
    })
    .await;
}

#[tokio::test]
async fn the_moderators_stream_needs_a_key_and_ends_when_it_is_revoked() {
    let app = spawn_app_with(pre_moderated).await;
    let anonymous = EventStream::request(&app, "/v1/moderation/live", &[]).await;
    expect_problem(anonymous, 401).await;
    let reader_key = app.api_key(&[Scope::Cms]).await;
    let wrong_scope = EventStream::request(
        &app,
        "/v1/moderation/live",
        &[("authorization", &format!("Bearer {reader_key}"))],
    )
    .await;
    expect_problem(wrong_scope, 403).await;

    let key = auth::generate_key();
    store::api_keys::create(
        &app.pool,
        "desk",
        &["moderator".to_owned()],
        None,
        &key.digest,
    )
    .await
    .unwrap();
    let bearer = format!("Bearer {}", key.secret);
    let mut queue =
        EventStream::open(&app, "/v1/moderation/live", &[("authorization", &bearer)]).await;
    let counts = queue.next(ARRIVES_WITHIN).await.unwrap();
    assert_eq!(counts.data, json!({"pending": 0, "flagged": 0, "spam": 0}));
    let held = id_of(&submit(&app, "Waiting for an editor", None).await);
    let events = queue
        .until(ARRIVES_WITHIN, "the held review's counts", |event| {
            event.name == "counts"
        })
        .await;
    assert_eq!(events[0].name, "queue.item");
    assert_eq!(events[0].review_id(), Some(held.as_str()));
    assert_eq!(events[0].data["status"], "pending");
    assert_eq!(events.last().unwrap().data["pending"], 1);

    let ids = store::api_keys::list(&app.pool).await.unwrap();
    let desk = ids.iter().find(|row| row.name == "desk").unwrap();
    assert!(store::api_keys::revoke(&app.pool, desk.id).await.unwrap());
    let closing = queue
        .until(ARRIVES_WITHIN, "the stream's end", |event| {
            event.name == "closing"
        })
        .await;
    assert_eq!(closing.last().unwrap().data["reason"], "revoked");
    assert!(
        queue.next(ARRIVES_WITHIN).await.is_none(),
        "the stream ended"
    );
    assert!(queue.ended);
}

/// A stream belongs to one site: a review of the same article id in another site never reaches
/// it, and only the site's own origins may read it from a browser.
#[tokio::test]
async fn a_stream_belongs_to_one_site_and_answers_only_its_origins() {
    let app = spawn_app_with(|_| {}).await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let created = app
        .with_key(
            &admin,
            Method::PUT,
            "/v1/sites/uk",
            Some(&json!({"name": "Українська служба", "origins": ["https://uk.example.org"]})),
        )
        .await;
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    let site_stream = format!("/sites/uk{STREAM}");
    let mut ukrainian = EventStream::open(&app, &site_stream, &[]).await;
    let mut default = EventStream::open(&app, STREAM, &[]).await;

    let elsewhere = id_of(&submit(&app, "On the default site", None).await);
    let posted = app
        .client
        .post(app.url(&format!("/sites/uk/v1/articles/{ARTICLE}/reviews")))
        .json(&json!({"rating": 5, "body": "На українському сайті"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let own = id_of(&posted.json().await.unwrap());
    let seen = ukrainian
        .until(ARRIVES_WITHIN, "the site's own review", |event| {
            event.name == "stats"
        })
        .await;
    assert_eq!(published_ids(&seen), vec![own.clone()]);
    let seen = default
        .until(ARRIVES_WITHIN, "the default site's review", |event| {
            event.name == "stats"
        })
        .await;
    assert_eq!(published_ids(&seen), vec![elsewhere]);
    assert!(published_ids(&ukrainian.during(QUIET_FOR).await).is_empty());

    let from = |origin: &'static str| {
        let path = site_stream.clone();
        let app = &app;
        async move { EventStream::request(app, &path, &[("origin", origin)]).await }
    };
    let allowed = from("https://uk.example.org").await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://uk.example.org"
    );
    // A browser that resumes sends the last event's id; a widget that polls revalidates.
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url(&site_stream))
        .header("origin", "https://uk.example.org")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "last-event-id,if-none-match",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{preflight:?}");
    let stats = app
        .client
        .get(app.url(&format!("/sites/uk/v1/articles/{ARTICLE}/stats")))
        .header("origin", "https://uk.example.org")
        .send()
        .await
        .unwrap();
    let exposed = stats.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("etag"), "{exposed}");
    let foreign = from("https://elsewhere.example.com").await;
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        foreign.headers()
    );
}

#[tokio::test]
async fn streams_over_the_node_cap_are_refused_whoever_asks() {
    let app = spawn_app_with(|settings| settings.live.max_streams = 1).await;
    let _reader = EventStream::open(&app, STREAM, &[]).await;
    let moderator = app.api_key(&[Scope::Moderator]).await;
    let refused = EventStream::request(
        &app,
        "/v1/moderation/live",
        &[("authorization", &format!("Bearer {moderator}"))],
    )
    .await;
    assert!(refused.headers().contains_key("retry-after"));
    let problem = expect_problem(refused, 429).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("this node holds its most live streams"),
        "{problem}"
    );
}
