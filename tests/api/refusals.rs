//! Refusals nobody else provokes, table-driven where the document allows it: every operation that
//! documents a 404 answers it, as its documented example says, to a request that is allowed and
//! well formed but names something that does not exist (or no longer does); no operation answers
//! a 404 it does not document; and helpful votes and flags answer their documented 429 over the
//! per-address rate limit, leaving nothing behind. So an operation that gains a 404 cannot ship
//! without a case here, and one that answers 400 or 500 where it documents 404 fails.

use std::collections::BTreeSet;

use marginalia::auth::Scope;
use marginalia::config::{Settings, UnknownArticles};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{
    expect_problem, fixture, problem_fields, spawn_app_with, without_edit_token, TestApp,
};

/// An article id that parses but that nobody registered.
const UNKNOWN_ARTICLE: &str = "voa-2020-05-never-registered";
/// An article the CMS registered and then deleted: it exists, but every read hides it.
const DELETED_ARTICLE: &str = "voa-2020-05-deleted-by-the-cms";

/// One request that must be answered with the operation's documented 404.
struct Case {
    method: Method,
    /// The operation's path as the document spells it.
    path: &'static str,
    /// What the request names that does not exist, for the failure message.
    what: &'static str,
    url: String,
    body: Option<Value>,
    edit_token: Option<String>,
    /// The field the problem must name, for a body that names something unknown.
    field: Option<&'static str>,
}

impl Case {
    fn new(method: Method, path: &'static str, what: &'static str, url: String) -> Self {
        Self {
            method,
            path,
            what,
            url,
            body: None,
            edit_token: None,
            field: None,
        }
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn names_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    fn edit_token(mut self, token: &str) -> Self {
        self.edit_token = Some(token.to_owned());
        self
    }
}

/// What the table's cases need to exist: an article, a published review on it, a review its
/// author deleted, an article the CMS deleted and a webhook endpoint.
struct World {
    review: String,
    deleted_review: String,
    deleted_review_token: String,
    endpoint: String,
}

fn new_uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn review_body(text: &str) -> Value {
    json!({"rating": 4, "body": text, "language": "uk"})
}

/// The table: for every operation documenting a 404, what provokes it.
fn cases(world: &World) -> Vec<Case> {
    use Method as M;
    let unknown_review = new_uuid();
    let unknown_endpoint = new_uuid();
    let unknown_delivery = new_uuid();
    let World {
        review,
        deleted_review,
        deleted_review_token,
        endpoint,
    } = world;
    let mut cases = Vec::new();
    for (what, article) in [
        ("an unknown article", UNKNOWN_ARTICLE),
        ("a deleted article", DELETED_ARTICLE),
    ] {
        cases.extend([
            Case::new(
                M::GET,
                "/v1/articles/{article_id}",
                what,
                format!("/v1/articles/{article}"),
            ),
            Case::new(
                M::PATCH,
                "/v1/articles/{article_id}",
                what,
                format!("/v1/articles/{article}"),
            )
            .body(json!({"reviews_open": false})),
            Case::new(
                M::GET,
                "/v1/articles/{article_id}/reviews",
                what,
                format!("/v1/articles/{article}/reviews"),
            ),
            Case::new(
                M::POST,
                "/v1/articles/{article_id}/reviews",
                what,
                format!("/v1/articles/{article}/reviews"),
            )
            .body(review_body("Відгук на статтю, якої немає.")),
            Case::new(
                M::GET,
                "/v1/articles/{article_id}/stats",
                what,
                format!("/v1/articles/{article}/stats"),
            ),
            Case::new(
                M::GET,
                "/v1/articles/{article_id}/stats/daily",
                what,
                format!("/v1/articles/{article}/stats/daily"),
            ),
            Case::new(
                M::GET,
                "/v1/articles/{article_id}/live",
                what,
                format!("/v1/articles/{article}/live"),
            ),
            Case::new(
                M::GET,
                "/v1/stats",
                what,
                format!("/v1/stats?article_id={article}"),
            ),
        ]);
    }
    let known = fixture("article.json")["article_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cases.push(Case::new(
        M::GET,
        "/v1/stats",
        "an unknown article among known ones",
        format!("/v1/stats?article_id={known}&article_id={UNKNOWN_ARTICLE}"),
    ));
    cases.extend([
        Case::new(
            M::POST,
            "/v1/moderation/actions",
            "an unknown review",
            "/v1/moderation/actions".into(),
        )
        .body(json!({"action": "reject", "review_ids": [unknown_review]}))
        .names_field("review_ids[0]"),
        Case::new(
            M::POST,
            "/v1/moderation/actions",
            "an unknown review after a known one",
            "/v1/moderation/actions".into(),
        )
        .body(json!({"action": "reject", "review_ids": [review, unknown_review]}))
        .names_field("review_ids[1]"),
        Case::new(
            M::GET,
            "/v1/moderation/reviews/{id}/author-reviews",
            "an unknown review",
            format!("/v1/moderation/reviews/{unknown_review}/author-reviews"),
        ),
        Case::new(
            M::PUT,
            "/v1/reviews/{id}/reply",
            "an unknown review",
            format!("/v1/reviews/{unknown_review}/reply"),
        )
        .body(json!({"body": "Дякуємо за відгук."})),
        Case::new(
            M::DELETE,
            "/v1/reviews/{id}/reply",
            "an unknown review",
            format!("/v1/reviews/{unknown_review}/reply"),
        ),
    ]);
    for (what, id, token) in [
        // A token of the right shape that no review has.
        (
            "an unknown review",
            &unknown_review,
            "refusals-table-token-000000000000",
        ),
        (
            "a review its author deleted",
            deleted_review,
            deleted_review_token.as_str(),
        ),
    ] {
        let url = format!("/v1/reviews/{id}");
        cases.extend([
            Case::new(M::GET, "/v1/reviews/{id}", what, url.clone()),
            Case::new(M::GET, "/v1/reviews/{id}", what, url.clone()).edit_token(token),
            Case::new(M::PATCH, "/v1/reviews/{id}", what, url.clone())
                .edit_token(token)
                .body(json!({"body": "Переглянув ще раз.", "rating": 3})),
            Case::new(M::DELETE, "/v1/reviews/{id}", what, url.clone()).edit_token(token),
            Case::new(
                M::POST,
                "/v1/reviews/{id}/votes",
                what,
                format!("{url}/votes"),
            )
            .body(json!({"helpful": true, "voter_token": "refusals-table-voter-01"})),
            Case::new(
                M::POST,
                "/v1/reviews/{id}/flags",
                what,
                format!("{url}/flags"),
            )
            .body(json!({"reason": "spam", "voter_token": "refusals-table-voter-01"})),
        ]);
    }
    let endpoint_path = "/v1/webhook-endpoints/{endpoint_id}";
    let unknown = format!("/v1/webhook-endpoints/{unknown_endpoint}");
    cases.extend([
        Case::new(
            M::GET,
            endpoint_path,
            "an unknown endpoint",
            unknown.clone(),
        ),
        Case::new(
            M::DELETE,
            endpoint_path,
            "an unknown endpoint",
            unknown.clone(),
        ),
        Case::new(
            M::PATCH,
            endpoint_path,
            "an unknown endpoint",
            unknown.clone(),
        )
        .body(json!({"enabled": false})),
        Case::new(
            M::POST,
            "/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
            "an unknown endpoint",
            format!("{unknown}/rotate-secret"),
        ),
        Case::new(
            M::GET,
            "/v1/webhook-endpoints/{endpoint_id}/deliveries",
            "an unknown endpoint",
            format!("{unknown}/deliveries"),
        ),
    ]);
    cases.push(Case::new(
        M::GET,
        "/v1/sites/{site_id}",
        "an unknown site",
        "/v1/sites/no-such-site".to_owned(),
    ));
    let redeliver = "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver";
    for (what, endpoint) in [
        (
            "an unknown delivery of an unknown endpoint",
            &unknown_endpoint,
        ),
        ("an unknown delivery of an existing endpoint", endpoint),
    ] {
        cases.push(Case::new(
            M::POST,
            redeliver,
            what,
            format!("/v1/webhook-endpoints/{endpoint}/deliveries/{unknown_delivery}/redeliver"),
        ));
    }
    // A link of one of our messages whose address was erased (or never was).
    let unknown_link = "Z".repeat(43);
    for path in ["/v1/mail/confirm", "/v1/mail/unsubscribe"] {
        cases.push(Case::new(
            M::POST,
            path,
            "a link token of no address",
            format!("{path}?token={unknown_link}"),
        ));
    }
    cases
}

/// The scopes `security` admits, as keys to try: `None` when the operation takes no key (it is
/// then called without one), every scope when any key will do.
fn admitted(operation: &Value) -> Option<Vec<Scope>> {
    match marginalia::auth::Admits::published(&operation["security"])? {
        marginalia::auth::Admits::AnyKey => Some(Scope::ALL.to_vec()),
        marginalia::auth::Admits::OneOf(scopes) => Some(scopes),
    }
}

/// The `type` of the operation's documented 404 example, when it gives one.
fn documented_type(operation: &Value) -> Option<&str> {
    operation["responses"]["404"]["content"]["application/problem+json"]["examples"]["not-found"]
        ["value"]["type"]
        .as_str()
}

struct Keys(Vec<(Scope, String)>);

impl Keys {
    async fn for_every_scope(app: &TestApp) -> Self {
        let mut keys = Vec::new();
        for scope in [Scope::Cms, Scope::Moderator, Scope::Admin] {
            keys.push((scope, app.api_key(&[scope]).await));
        }
        Self(keys)
    }

    fn of(&self, scope: Scope) -> &str {
        &self.0.iter().find(|(s, _)| *s == scope).unwrap().1
    }
}

async fn send(
    app: &TestApp,
    method: &Method,
    url: &str,
    key: Option<&str>,
    body: Option<&Value>,
    edit_token: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.request(method.clone(), app.url(url));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(token) = edit_token {
        request = request.header("x-edit-token", token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("the request is answered")
}

/// Builds what the cases need, checking every step.
async fn build_world(app: &TestApp, keys: &Keys) -> World {
    let article = app.register_fixture_article().await;
    let article_id = article["article_id"].as_str().unwrap();
    let cms = format!("Bearer {}", keys.of(Scope::Cms));

    let created = app
        .post_review(article_id, &review_body("Стаття добре пояснює контекст."))
        .await;
    assert_eq!(created.status(), 201, "the published review is created");
    let review: Value = created.json().await.unwrap();
    let review_id = review["id"].as_str().unwrap().to_owned();
    let shown = app.get_json(&format!("/v1/reviews/{review_id}")).await;
    assert_eq!(shown, without_edit_token(review.clone()), "it is public");

    let created = app
        .post_review(
            article_id,
            &review_body("Цей відгук автор згодом видалить."),
        )
        .await;
    assert_eq!(created.status(), 201, "the review to delete is created");
    let deleted: Value = created.json().await.unwrap();
    let deleted_id = deleted["id"].as_str().unwrap().to_owned();
    let token = deleted["edit_token"].as_str().unwrap().to_owned();
    let response = send(
        app,
        &Method::DELETE,
        &format!("/v1/reviews/{deleted_id}"),
        None,
        None,
        Some(&token),
    )
    .await;
    assert_eq!(response.status(), 204, "its author deletes it");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM reviews WHERE id = '{deleted_id}' AND status = 'deleted'"
        ))
        .await,
        1,
        "the review is kept as deleted"
    );

    let registered = json!({
        "title": "An article the CMS deletes",
        "url": "https://news.example.org/a/deleted-by-the-cms",
        "language": "en",
        "published_at": "2020-05-14T09:00:00Z",
    });
    let response = app
        .put_article(DELETED_ARTICLE, Some(&cms), &registered)
        .await;
    assert_eq!(
        response.status(),
        201,
        "the article to delete is registered"
    );
    let mut deleting = registered.clone();
    deleting["lifecycle"] = json!("deleted");
    let response = app
        .put_article(DELETED_ARTICLE, Some(&cms), &deleting)
        .await;
    assert_eq!(response.status(), 200, "the CMS deletes the article");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM articles WHERE article_id = '{DELETED_ARTICLE}' \
             AND lifecycle = 'deleted'"
        ))
        .await,
        1,
        "the article is kept as deleted"
    );

    // An endpoint that never receives anything: it listens to an event no case causes.
    let endpoint = app
        .with_key(
            keys.of(Scope::Admin),
            Method::POST,
            "/v1/webhook-endpoints",
            Some(&json!({
                "url": "http://127.0.0.1:9/refusals",
                "event_types": ["article.stats_changed"],
            })),
        )
        .await;
    assert_eq!(endpoint.status(), 201, "the endpoint is created");
    let endpoint: Value = endpoint.json().await.unwrap();
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    app.get_json_with_key(
        keys.of(Scope::Admin),
        &format!("/v1/webhook-endpoints/{endpoint_id}"),
    )
    .await;

    World {
        review: review_id,
        deleted_review: deleted_id,
        deleted_review_token: token,
        endpoint: endpoint_id,
    }
}

/// Unknown articles rejected, so that an article nobody registered is a 404 for every operation
/// on articles (with `accept`, an unregistered article simply has no reviews yet).
fn rejecting_unknown_articles() -> impl FnOnce(&mut Settings) {
    move |settings: &mut Settings| {
        settings.server.unknown_articles = UnknownArticles::Reject;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_404_is_provoked_and_no_other_operation_answers_404() {
    let app = spawn_app_with(rejecting_unknown_articles()).await;
    let document = app.get_json("/openapi.json").await;
    let keys = Keys::for_every_scope(&app).await;
    let world = build_world(&app, &keys).await;

    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation["responses"]["404"].is_object() {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }

    let mut provoked = BTreeSet::new();
    let mut problems = Vec::new();
    let mut answered = 0;
    for case in cases(&world) {
        let name = format!("{} {}", case.method, case.path);
        let operation = &document["paths"][case.path][case.method.as_str().to_lowercase()];
        if !operation.is_object() {
            problems.push(format!(
                "{name}: the table names an operation the document lacks"
            ));
            continue;
        }
        if !documented.contains(&name) {
            problems.push(format!(
                "{name}: the table provokes a 404 it does not document"
            ));
        }
        let expected_type = documented_type(operation);
        let keys_to_try: Vec<Option<&str>> = match admitted(operation) {
            None => vec![None],
            Some(scopes) => scopes.into_iter().map(|s| Some(keys.of(s))).collect(),
        };
        for key in keys_to_try {
            let response = send(
                &app,
                &case.method,
                &case.url,
                key,
                case.body.as_ref(),
                case.edit_token.as_deref(),
            )
            .await;
            let status = response.status();
            if status != 404 {
                problems.push(format!(
                    "{name} with {} ({}): {status} {}",
                    case.what,
                    case.url,
                    response.text().await.unwrap_or_default()
                ));
                continue;
            }
            let problem = expect_problem(response, 404).await;
            if let Some(expected) = expected_type {
                assert_eq!(problem["type"], expected, "{name} with {}", case.what);
            }
            if let Some(field) = case.field {
                assert_eq!(
                    problem_fields(&problem),
                    [field],
                    "{name} with {}",
                    case.what
                );
            }
            answered += 1;
        }
        provoked.insert(name);
    }
    for name in documented.difference(&provoked) {
        problems.push(format!("{name} documents a 404 that no case provokes"));
    }

    // Nothing the cases did changed anything: the review named next to an unknown one in a
    // moderator's action is still published, and the deleted review's author did not revive it.
    let shown = app.get(&format!("/v1/reviews/{}", world.review)).await;
    assert_eq!(shown.status(), 200, "the known review is still public");
    let status = app
        .count(&format!(
            "SELECT count(*) AS n FROM reviews WHERE id = '{}' AND status = 'deleted'",
            world.deleted_review
        ))
        .await;
    assert_eq!(status, 1, "the deleted review stays deleted");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM articles").await,
        2,
        "no case registered an article"
    );

    // The operations that document no 404 do not answer one either (nor anything else they do
    // not document), to a request naming what does not exist wherever they name anything.
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            if documented.contains(&name) {
                continue;
            }
            let status = probe(&app, &keys, path, method, operation).await;
            if status == 404 {
                problems.push(format!("{name} answers a 404 it does not document"));
            } else if !operation["responses"][status.to_string()].is_object() {
                problems.push(format!("{name} answers a {status} it does not document"));
            }
        }
    }

    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The document's 404s: the articles', the reviews', the moderators' and the webhook
    // endpoints'. Fewer would mean the walk missed some. (The console's files are no operation;
    // tests/api/widget.rs checks their 404.)
    assert!(
        documented.len() >= 22,
        "only {} operations document 404",
        documented.len()
    );
    assert!(answered >= documented.len(), "{answered} 404s provoked");
}

/// One request to an operation that documents no 404, naming things that do not exist wherever
/// it names any: its status.
async fn probe(app: &TestApp, keys: &Keys, path: &str, method: &str, operation: &Value) -> u16 {
    if path == "/v1/webhooks/cms" {
        // The CMS deleting an article this service never heard of.
        let event = crate::common::webhooks::cms_event(
            "article.deleted",
            chrono::Utc::now(),
            json!({"article_id": "voa-2020-05-the-cms-never-sent"}),
        );
        return app
            .send_cms_event("msg_refusals_unknown_article", &event)
            .await
            .status()
            .as_u16();
    }
    let unknown_review = new_uuid();
    let url = match path {
        "/demo/{article_id}" => format!("/demo/{UNKNOWN_ARTICLE}"),
        "/v1/exports/reviews" => format!("/v1/exports/reviews?article_id={UNKNOWN_ARTICLE}"),
        "/v1/moderation/queue" => format!("/v1/moderation/queue?article_id={UNKNOWN_ARTICLE}"),
        "/v1/moderation/log" => {
            format!("/v1/moderation/log?review_id={unknown_review}&article_id={UNKNOWN_ARTICLE}")
        }
        other => other
            .replace("{article_id}", UNKNOWN_ARTICLE)
            .replace("{site_id}", "created-by-the-probe")
            // A reader the site has never seen: no reviews, nothing to lift.
            .replace("{reader_id}", "reader-the-probe-never-saw"),
    };
    assert!(
        !url.contains('{'),
        "{method} {path}: no probe for its path parameters"
    );
    let body = match (method, path) {
        ("put", "/v1/articles/{article_id}") => Some(json!({
            "title": "Registered by the probe",
            "url": "https://news.example.org/a/registered-by-the-probe",
            "language": "en",
        })),
        ("post", "/v1/data-rights/erasures" | "/v1/installation/erasures") => {
            Some(json!({"author_email": "nobody@example.com"}))
        }
        ("put", "/v1/sites/{site_id}") => Some(json!({"name": "Created by the probe"})),
        ("put", "/v1/moderation/readers/{reader_id}/suspension") => {
            Some(json!({"reason": "Suspended by the probe"}))
        }
        ("post", "/v1/webhook-endpoints") => {
            Some(json!({"url": "http://127.0.0.1:9/refusals-probe"}))
        }
        _ => None,
    };
    assert_eq!(
        body.is_some(),
        operation["requestBody"].is_object(),
        "{method} {path}: a probe body exactly when the operation takes one"
    );
    let key = admitted(operation).map(|scopes| keys.of(scopes[0]).to_owned());
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let response = send(app, &method, &url, key.as_deref(), body.as_ref(), None).await;
    let status = response.status().as_u16();
    assert!(
        status < 500,
        "{method} {path}: {status} {}",
        response.text().await.unwrap_or_default()
    );
    status
}

/// The documented 429 of `POST path`: present, with `Retry-After` and the problem type.
fn assert_documents_429(document: &Value, path: &str) {
    let documented = &document["paths"][path]["post"]["responses"]["429"];
    assert!(documented.is_object(), "POST {path} documents no 429");
    assert!(
        documented["headers"]["Retry-After"].is_object(),
        "POST {path}: its 429 documents no Retry-After"
    );
    assert_eq!(
        documented["content"]["application/problem+json"]["examples"]["too-many-requests"]["value"]
            ["type"],
        "urn:marginalia:problem:too-many-requests",
        "POST {path}"
    );
}

/// A refusal over the rate limit: a 429 problem that says, in whole seconds within the limit's
/// minute, when to retry.
async fn assert_rate_limited(response: reqwest::Response, what: &str) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("{what}: a 429 without Retry-After"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{what}: {retry_after}");
    let problem = expect_problem(response, 429).await;
    assert_eq!(
        problem["type"], "urn:marginalia:problem:too-many-requests",
        "{what}"
    );
}

async fn react(app: &TestApp, from: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("x-forwarded-for", from)
        .json(&body)
        .send()
        .await
        .expect("the request is answered")
}

/// About MARGINALIA_RATE_LIMIT_REACTIONS alone: votes and flags beyond the per-address limit are
/// refused with 429 and `Retry-After`, and the refused ones are not stored. The per-network vote
/// bound (3 new voters per network, review and day, answered 200 with the counts unchanged) is a
/// different refusal: every address here stays below it, so a vote within the rate limit counts.
#[tokio::test(flavor = "multi_thread")]
async fn votes_and_flags_over_the_per_address_rate_limit_get_the_documented_429_and_leave_nothing()
{
    // Two a minute: the bucket holds 2 and refills one every 30 s, far more than the few requests
    // between an address's first reaction and its refusal take on a loaded machine.
    const LIMIT: usize = 2;
    let app = spawn_app_with(|settings| {
        settings.limits.rate_limit_reactions = LIMIT as u32;
        // Each reader speaks from an address of their own through the (loopback) proxy.
        settings.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let document = app.get_json("/openapi.json").await;
    assert_documents_429(&document, "/v1/reviews/{id}/votes");
    assert_documents_429(&document, "/v1/reviews/{id}/flags");

    let moderator = app.api_key(&[Scope::Moderator]).await;
    let article = app.register_fixture_article().await;
    let created = app
        .post_review(
            article["article_id"].as_str().unwrap(),
            &review_body("Відгук, за який голосують і на який скаржаться."),
        )
        .await;
    assert_eq!(created.status(), 201, "the review is created");
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let votes = format!("/v1/reviews/{id}/votes");
    let flags = format!("/v1/reviews/{id}/flags");
    let counts = || async {
        let shown = app.get_json(&format!("/v1/reviews/{id}")).await;
        (
            shown["helpful_count"].as_i64().unwrap(),
            shown["unhelpful_count"].as_i64().unwrap(),
        )
    };
    let stored = |table: &'static str| {
        let sql = format!("SELECT count(*) AS n FROM {table} WHERE review_id = '{id}'");
        let app = &app;
        async move { app.count(&sql).await }
    };
    assert_eq!(counts().await, (0, 0));

    // Votes from one address, each from a new voter: LIMIT count, the next is refused.
    let voter_address = "198.51.100.7";
    for n in 0..LIMIT {
        let body = json!({"helpful": true, "voter_token": format!("rate-limited-voter-{n:04}")});
        let response = react(&app, voter_address, &votes, body).await;
        assert_eq!(response.status(), 200, "vote {n} within the limit");
        let tally: Value = response.json().await.unwrap();
        assert_eq!(tally["helpful_count"], n + 1, "vote {n} counts");
    }
    let refused = react(
        &app,
        voter_address,
        &votes,
        json!({"helpful": false, "voter_token": "rate-limited-voter-9999"}),
    )
    .await;
    assert_rate_limited(refused, "the vote over the limit").await;
    // Votes and flags draw on one limit per address: a flag from there is refused as well.
    let refused = react(
        &app,
        voter_address,
        &flags,
        json!({"reason": "spam", "voter_token": "rate-limited-voter-9999"}),
    )
    .await;
    assert_rate_limited(refused, "a flag from the voter's address").await;
    assert_eq!(
        counts().await,
        (LIMIT as i64, 0),
        "the refused vote left nothing"
    );
    assert_eq!(stored("review_votes").await, LIMIT as i64);
    assert_eq!(
        stored("review_flags").await,
        0,
        "the refused flag left nothing"
    );

    // The limit is the address's own: another reader's vote counts.
    let other = react(
        &app,
        "198.51.100.8",
        &votes,
        json!({"helpful": false, "voter_token": "another-address-voter-0001"}),
    )
    .await;
    assert_eq!(other.status(), 200, "a vote from another address");
    assert_eq!(counts().await, (LIMIT as i64, 1));

    // Flags from a third address (one network: below the flag threshold, the review stays
    // public): LIMIT are stored, the next is refused.
    let flagger_address = "198.51.100.9";
    for n in 0..LIMIT {
        let body =
            json!({"reason": "off_topic", "voter_token": format!("rate-limited-flagger-{n:04}")});
        let response = react(&app, flagger_address, &flags, body).await;
        assert_eq!(response.status(), 204, "flag {n} within the limit");
    }
    let refused = react(
        &app,
        flagger_address,
        &flags,
        json!({"reason": "abuse", "note": "Над лімітом.", "voter_token": "rate-limited-flagger-9999"}),
    )
    .await;
    assert_rate_limited(refused, "the flag over the limit").await;
    assert_eq!(stored("review_flags").await, LIMIT as i64);
    let queue = app
        .client
        .get(app.url("/v1/moderation/queue?status=published&flagged=true"))
        .bearer_auth(&moderator)
        .send()
        .await
        .unwrap();
    assert_eq!(queue.status(), 200, "the moderators' queue");
    let queue: Value = queue.json().await.unwrap();
    let item = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == id.as_str())
        .expect("the flagged review is in the queue");
    assert_eq!(item["flag_count"], LIMIT, "the refused flag left nothing");
    let reasons: Vec<&str> = item["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|flag| flag["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["off_topic"; LIMIT]);
    assert_eq!(
        counts().await,
        (LIMIT as i64, 1),
        "and the review is still public"
    );
}
