//! A newsroom network of four sites in one installation (tests/fixtures/sites.json: English,
//! Ukrainian, Russian, Persian), each with its own keys, CMS secret, origin, banned term and
//! webhook receiver, all publishing the same article id. Every operation of the OpenAPI document
//! is called by one site's caller on another site's things, and answers nothing of it.

use std::collections::BTreeSet;
use std::time::Duration;

use marginalia::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::webhooks::{cms_event, Receiver};
use crate::common::{fixture, spawn_app, TestApp};

/// One site of the network, as set up through the API.
struct Site {
    id: String,
    fixture: Value,
    cms: String,
    admin: String,
    receiver: Receiver,
    endpoint_id: String,
    /// The reviews submitted to the shared article (the held one last), as created.
    reviews: Vec<Value>,
    /// A review of the site's own article, which no other site has.
    own_review: Value,
}

impl Site {
    fn path(&self, path: &str) -> String {
        format!("/sites/{}{path}", self.id)
    }

    fn own_article(&self) -> &str {
        self.fixture["own_article"].as_str().expect("an article id")
    }

    /// A reader id in the site's login; path probes name it, and it must stay unsuspended.
    fn reader_id(&self) -> String {
        format!("reader-of-{}", self.id)
    }

    fn review_ids(&self) -> Vec<&str> {
        self.reviews
            .iter()
            .map(|review| review["id"].as_str().expect("an id"))
            .collect()
    }

    /// What a response must not contain if it is to show nothing of this site: its reviews' ids,
    /// texts and authors' emails, its endpoint.
    fn secrets(&self) -> Vec<String> {
        let mut found: Vec<String> = self.review_ids().into_iter().map(str::to_owned).collect();
        found.push(self.own_review["id"].as_str().expect("an id").to_owned());
        for review in self.fixture["reviews"].as_array().expect("reviews") {
            found.push(review["body"].as_str().expect("a body").to_owned());
            found.push(
                review["author_email"]
                    .as_str()
                    .expect("an email")
                    .to_owned(),
            );
        }
        found.push(self.endpoint_id.clone());
        found.push(self.receiver.url.clone());
        found
    }
}

const SHARED: &str = "voa-2020-05-iskp-attacks";

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("the request is answered")
}

async fn created(response: reqwest::Response, what: &str) -> Value {
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 201, "{what}: {body}");
    body
}

/// The four sites, each with its settings, keys, articles, an endpoint and reviews.
async fn network(app: &TestApp) -> Vec<Site> {
    let installation_admin = app.api_key(&[Scope::Admin]).await;
    let mut sites = Vec::new();
    for fixture in fixture("sites.json")["sites"].as_array().expect("sites") {
        let id = fixture["site_id"].as_str().expect("an id").to_owned();
        let settings = json!({
            "name": fixture["name"],
            "languages": fixture["languages"],
            "origins": [fixture["origin"]],
            "banned_terms": [fixture["banned_term"]],
            "newsroom_name": fixture["newsroom_name"],
            "cms_secrets": [fixture["cms_secret"]],
        });
        let path = format!("/v1/sites/{id}");
        created(
            send(
                app,
                Method::PUT,
                &path,
                Some(&installation_admin),
                Some(&settings),
            )
            .await,
            &path,
        )
        .await;
        let site_cms = app.site_key(&id, &[Scope::Cms]).await;
        let site_admin = app.site_key(&id, &[Scope::Admin]).await;
        let receiver = Receiver::start(0);
        let mut site = Site {
            id,
            fixture: fixture.clone(),
            cms: site_cms,
            admin: site_admin,
            endpoint_id: String::new(),
            receiver,
            reviews: Vec::new(),
            own_review: Value::Null,
        };
        let endpoint = json!({"url": site.receiver.url, "event_types": ["review.created"]});
        let path = site.path("/v1/webhook-endpoints");
        let endpoint = created(
            send(app, Method::POST, &path, Some(&site.admin), Some(&endpoint)).await,
            &path,
        )
        .await;
        site.endpoint_id = endpoint["id"].as_str().expect("an id").to_owned();
        for article in [SHARED, site.own_article()] {
            let path = site.path(&format!("/v1/articles/{article}"));
            let body = json!({"title": format!("{article} ({})", site.id)});
            created(
                send(app, Method::PUT, &path, Some(&site.cms), Some(&body)).await,
                &path,
            )
            .await;
        }
        let mut reviews: Vec<Value> = fixture["reviews"].as_array().expect("reviews").clone();
        reviews.push(fixture["held_review"].clone());
        for review in reviews {
            let path = site.path(&format!("/v1/articles/{SHARED}/reviews"));
            let stored = created(
                send(app, Method::POST, &path, None, Some(&review)).await,
                &path,
            )
            .await;
            site.reviews.push(stored);
        }
        let path = site.path(&format!("/v1/articles/{}/reviews", site.own_article()));
        let own = json!({"rating": 5, "body": format!("{} ({})", fixture["reviews"][1]["body"].as_str().unwrap(), site.id), "author_email": fixture["reviews"][1]["author_email"]});
        site.own_review = created(
            send(app, Method::POST, &path, None, Some(&own)).await,
            &path,
        )
        .await;
        sites.push(site);
    }
    assert_eq!(sites.len(), 4);
    sites
}

#[tokio::test(flavor = "multi_thread")]
async fn each_site_keeps_its_articles_reviews_rules_and_events() {
    let app = spawn_app().await;
    let sites = network(&app).await;
    let scripts: BTreeSet<&str> = sites
        .iter()
        .map(|site| site.fixture["languages"][0].as_str().unwrap())
        .collect();
    assert_eq!(scripts, BTreeSet::from(["en", "fa", "ru", "uk"]));
    for site in &sites {
        // The same article id in four sites: four articles, each with its own reviews and stats.
        let stats = app
            .get_json(&site.path(&format!("/v1/articles/{SHARED}/stats")))
            .await;
        assert_eq!(
            stats["review_count"], 2,
            "{}: the held review is not counted",
            site.id
        );
        let page = app
            .get_json(&site.path(&format!("/v1/articles/{SHARED}/reviews")))
            .await;
        let shown: BTreeSet<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        let own: BTreeSet<&str> = site.review_ids()[..2].iter().copied().collect();
        assert_eq!(shown, own, "{}", site.id);
        // Its own banned term holds a review; its language is detected.
        let held = site.reviews.last().unwrap();
        assert_eq!(held["status"], "pending", "{}: {held}", site.id);
        assert_eq!(
            site.reviews[0]["language"], site.fixture["languages"][0],
            "{}",
            site.id
        );

        // Its endpoint receives its own events and no other site's.
        let delivered = site
            .receiver
            .wait_for_messages(4, Duration::from_secs(30))
            .await;
        let ids: BTreeSet<String> = delivered
            .iter()
            .map(|r| r.json()["data"]["id"].as_str().unwrap().to_owned())
            .collect();
        for message in &delivered {
            assert_eq!(
                message.json()["site_id"],
                site.id,
                "the envelope names its site"
            );
        }
        let mut own: BTreeSet<String> = site.review_ids().into_iter().map(str::to_owned).collect();
        own.insert(site.own_review["id"].as_str().unwrap().to_owned());
        assert_eq!(
            ids, own,
            "{}: its receiver got exactly its own reviews",
            site.id
        );
    }
    // Another site's banned term holds nothing here: the English term is no word in Persian.
    let (world, persian) = (&sites[0], &sites[3]);
    let path = persian.path(&format!("/v1/articles/{SHARED}/reviews"));
    let english_term = world.fixture["held_review"].clone();
    let published = created(
        send(&app, Method::POST, &path, None, Some(&english_term)).await,
        &path,
    )
    .await;
    assert_eq!(
        published["status"], "published",
        "world's banned term does not hold a Persian review"
    );
    let path = world.path(&format!("/v1/articles/{SHARED}/reviews"));
    let persian_term = json!({"rating": 2, "body": format!("Not a {} at all.", persian.fixture["banned_term"].as_str().unwrap())});
    let published = created(
        send(&app, Method::POST, &path, None, Some(&persian_term)).await,
        &path,
    )
    .await;
    assert_eq!(published["status"], "published");
    // Wait a moment longer for any event that went astray before judging the receivers again.
    world
        .receiver
        .wait_for_messages(5, Duration::from_secs(30))
        .await;
    persian
        .receiver
        .wait_for_messages(5, Duration::from_secs(30))
        .await;
    for site in &sites {
        let others: Vec<String> = sites
            .iter()
            .filter(|other| other.id != site.id)
            .flat_map(Site::review_ids)
            .map(str::to_owned)
            .collect();
        for request in site.receiver.requests() {
            let id = request.json()["data"]["id"].as_str().unwrap().to_owned();
            assert!(
                !others.contains(&id),
                "{} received another site's review {id}",
                site.id
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sites_cms_secret_and_origin_serve_only_that_site() {
    let app = spawn_app().await;
    let sites = network(&app).await;
    let (ukrainian, russian) = (&sites[1], &sites[2]);
    let event = cms_event(
        "article.published",
        chrono::Utc::now(),
        json!({"article_id": "from-the-cms", "title": "Новина"}),
    );
    let body = serde_json::to_vec(&event).unwrap();
    let timestamp = chrono::Utc::now().timestamp();
    let signed_by = |site: &Site, id: &str| {
        standardwebhooks::Webhook::new(site.fixture["cms_secret"].as_str().unwrap())
            .unwrap()
            .sign(id, timestamp, &body)
            .unwrap()
    };
    let deliver = |to: &Site, signature: String, id: &'static str| {
        let request = app
            .client
            .post(app.url(&to.path("/v1/webhooks/cms")))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.clone());
        async move { request.send().await.unwrap() }
    };
    // Signed by the Ukrainian CMS, sent to the Russian site: refused, nothing registered.
    let refused = deliver(russian, signed_by(ukrainian, "msg_cross_1"), "msg_cross_1").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        app.get(&russian.path("/v1/articles/from-the-cms"))
            .await
            .status(),
        404
    );
    // Sent to its own site: registered there only.
    let applied = deliver(ukrainian, signed_by(ukrainian, "msg_own_1"), "msg_own_1").await;
    assert_eq!(applied.status(), 200);
    assert_eq!(
        app.get(&ukrainian.path("/v1/articles/from-the-cms"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(&russian.path("/v1/articles/from-the-cms"))
            .await
            .status(),
        404
    );

    // CORS: a page of the Ukrainian site may call its API, not the Russian site's.
    let preflight = |site: &Site, origin: &Value| {
        app.client
            .request(
                Method::OPTIONS,
                app.url(&site.path(&format!("/v1/articles/{SHARED}/reviews"))),
            )
            .header("origin", origin.as_str().unwrap())
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight(ukrainian, &ukrainian.fixture["origin"])
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        ukrainian.fixture["origin"].as_str().unwrap()
    );
    let refused = preflight(russian, &ukrainian.fixture["origin"])
        .await
        .unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        refused.headers()
    );
}

/// The things of site `b` an operation's path names, by parameter.
fn path_of(path: &str, b: &Site, delivery_id: &str) -> String {
    let filled = path
        .replace("{article_id}", b.own_article())
        .replace("{id}", b.review_ids()[0])
        .replace("{endpoint_id}", &b.endpoint_id)
        .replace("{delivery_id}", delivery_id)
        .replace("{reader_id}", &b.reader_id());
    assert!(
        !filled.contains('{'),
        "{path}: no value of site B for its path parameters"
    );
    filled
}

/// A valid body for each operation that takes one, naming site B's things where it names any.
fn body_of(method: &str, path: &str, b: &Site) -> Option<Value> {
    let email = b.fixture["reviews"][0]["author_email"].clone();
    Some(match (method, path) {
        ("post", "/v1/articles/{article_id}/reviews") => {
            json!({"rating": 4, "body": "A probe from another site."})
        }
        ("patch", "/v1/reviews/{id}") => json!({"body": "Changed from another site."}),
        ("post", "/v1/reviews/{id}/votes") => {
            json!({"helpful": true, "voter_token": "probe-voter-from-elsewhere"})
        }
        ("post", "/v1/reviews/{id}/flags") => {
            json!({"reason": "other", "voter_token": "probe-voter-from-elsewhere"})
        }
        ("post", "/v1/moderation/actions") => {
            json!({"action": "reject", "review_ids": [b.review_ids()[0]]})
        }
        ("put", "/v1/reviews/{id}/reply") => json!({"body": "A reply from another site."}),
        ("post", "/v1/data-rights/erasures") => json!({"author_email": email}),
        ("post", "/v1/installation/erasures") => json!({"author_email": email}),
        ("put", "/v1/articles/{article_id}") => json!({"title": "Overwritten from another site"}),
        ("patch", "/v1/articles/{article_id}") => json!({"reviews_open": false}),
        ("post", "/v1/webhook-endpoints") => json!({"url": "http://127.0.0.1:9/elsewhere"}),
        ("patch", "/v1/webhook-endpoints/{endpoint_id}") => json!({"enabled": false}),
        ("put", "/v1/moderation/readers/{reader_id}/suspension") => {
            json!({"reason": "A suspension from another site."})
        }
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn no_operation_gives_a_caller_of_one_site_anything_of_another() {
    let app = spawn_app().await;
    let sites = network(&app).await;
    let (a, b) = (&sites[0], &sites[3]);
    b.receiver
        .wait_for_messages(4, Duration::from_secs(30))
        .await;
    let deliveries = app
        .get_json_with_key(
            &b.admin,
            &b.path(&format!(
                "/v1/webhook-endpoints/{}/deliveries",
                b.endpoint_id
            )),
        )
        .await;
    let delivery_id = deliveries["items"][0]["id"]
        .as_str()
        .expect("a delivery of site B")
        .to_owned();
    let token = b.reviews[0]["edit_token"]
        .as_str()
        .expect("an edit token")
        .to_owned();
    let secrets = b.secrets();
    let document = app.get_json("/openapi.json").await;
    let mut called = 0;
    let mut problems = Vec::new();
    // Reads first and deletions last, so that every read meets site B's things still there.
    let rank = |method: &str| match method {
        "get" => 0,
        "delete" => 2,
        _ => 1,
    };
    let mut operations: Vec<(&String, &String, &Value)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().unwrap().iter();
            methods.map(move |(method, operation)| (path, method, operation))
        })
        .collect();
    operations.sort_by_key(|(_, method, _)| rank(method));
    for (path, method, operation) in operations {
        // The installation's own paths (each key sees its sites there: tests/api/site_admin.rs)
        // and the CMS's signed events (a_sites_cms_secret_and_origin_serve_only_that_site).
        if path == "/v1/me" || path.starts_with("/v1/sites") || path == "/v1/webhooks/cms" {
            continue;
        }
        // The installation's data-rights operations act on every site: only an
        // installation-wide admin key may call them (an_installation_admin_…_every_site).
        if path.starts_with("/v1/installation/") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = body_of(method.as_str().to_lowercase().as_str(), path, b);
            let refused = send(
                &app,
                method.clone(),
                &a.path(path),
                Some(&a.admin),
                body.as_ref(),
            )
            .await;
            called += 1;
            if refused.status() != 403 {
                problems.push(format!(
                    "{method} {path} with a site's admin key: {}",
                    refused.status()
                ));
            }
            continue;
        }
        {
            let mut url = a.path(&path_of(path, b, &delivery_id));
            let required_article = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["in"] == "query" && p["name"] == "article_id" && p["required"] == true);
            if required_article {
                url.push_str(&format!("?article_id={}", b.own_article()));
            }
            let body = body_of(method, path, b);
            assert_eq!(
                body.is_some(),
                operation["requestBody"].is_object(),
                "{method} {path}: a body exactly when it takes one"
            );
            let mut request = app
                .client
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    app.url(&url),
                )
                .bearer_auth(&a.admin)
                .header("x-edit-token", &token);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            called += 1;
            if status.is_server_error() {
                problems.push(format!("{method} {path}: {status} {text}"));
            } else if status.is_success() {
                for secret in &secrets {
                    if text.contains(secret.as_str()) {
                        problems.push(format!(
                            "{method} {path} under site A answered site B's `{secret}`"
                        ));
                    }
                }
            }
            // Site B's things, through B's own path with A's key: refused whenever a key is
            // needed, and public reads are B's own, not A's business.
            if operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
            {
                let url = b.path(&path_of(path, b, &delivery_id));
                let response = app
                    .client
                    .request(
                        Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                        app.url(&url),
                    )
                    .bearer_auth(&a.admin)
                    .send()
                    .await
                    .unwrap();
                if response.status() != 403 {
                    problems.push(format!(
                        "{method} {path} under site B with A's key: {}",
                        response.status()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(called >= 30, "only {called} operations called");

    // Site B is as it was: its reviews, its endpoint, its article open.
    let page = app
        .get_json(&b.path(&format!("/v1/articles/{SHARED}/reviews")))
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let review = app
        .get_json(&b.path(&format!("/v1/reviews/{}", b.review_ids()[0])))
        .await;
    assert_eq!(review["body"], b.fixture["reviews"][0]["body"]);
    let endpoint = app
        .get_json_with_key(
            &b.admin,
            &b.path(&format!("/v1/webhook-endpoints/{}", b.endpoint_id)),
        )
        .await;
    assert_eq!(endpoint["enabled"], true);
    let article = app
        .get_json(&b.path(&format!("/v1/articles/{}", b.own_article())))
        .await;
    assert_eq!(article["reviews_open"], true);
    assert_eq!(article["title"], format!("{} ({})", b.own_article(), b.id));
    let standing = app
        .get_json_with_key(
            &b.admin,
            &b.path(&format!("/v1/moderation/readers/{}", b.reader_id())),
        )
        .await;
    assert_eq!(standing["suspension"], Value::Null, "{standing}");
}

/// An export's NDJSON lines.
async fn export_lines(app: &TestApp, key: &str, path: &str) -> Vec<Value> {
    let response = app.get_with_key(key, path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    let text = response.text().await.expect("text");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("an NDJSON line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_installation_admin_exports_and_erases_a_reader_in_every_site() {
    let app = spawn_app().await;
    let sites = network(&app).await;
    // One reader wrote to three of the four services, the address typed differently each time.
    let reader = "Reader.Everywhere@example.org";
    let mut written = BTreeSet::new();
    for (site, typed) in [
        (&sites[0], reader.to_owned()),
        (&sites[1], reader.to_lowercase()),
        (&sites[3], reader.to_uppercase()),
    ] {
        let path = site.path(&format!("/v1/articles/{}/reviews", site.own_article()));
        let body = json!({"rating": 3, "body": format!("My view, for {}.", site.id), "author_email": typed});
        let review = created(
            send(&app, Method::POST, &path, None, Some(&body)).await,
            &path,
        )
        .await;
        written.insert((site.id.clone(), review["id"].as_str().unwrap().to_owned()));
    }
    let installation_admin = app.api_key(&[Scope::Admin]).await;
    let export = format!(
        "/v1/installation/exports/reviews?author_email={}",
        reader.to_lowercase()
    );

    // Access: everything the reader wrote, each with its site, and nothing else.
    let lines = export_lines(&app, &installation_admin, &export).await;
    let found: BTreeSet<(String, String)> = lines
        .iter()
        .map(|line| {
            (
                line["site_id"].as_str().unwrap().to_owned(),
                line["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(found, written);
    // A site's own export finds the reader's review of that site only.
    let ukrainian = &sites[1];
    let own = export_lines(
        &app,
        &ukrainian.admin,
        &ukrainian.path(&format!("/v1/exports/reviews?author_email={reader}")),
    )
    .await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["site_id"], ukrainian.id);

    // Only an installation-wide admin key: a site's admin, an installation moderator refused.
    let moderator = app.api_key(&[Scope::Moderator]).await;
    for key in [&ukrainian.admin, &moderator] {
        let refused = app.get_with_key(key, &export).await;
        assert_eq!(refused.status(), 403);
        let refused = send(
            &app,
            Method::POST,
            "/v1/installation/erasures",
            Some(key),
            Some(&json!({"author_email": reader})),
        )
        .await;
        assert_eq!(refused.status(), 403);
    }
    let refused = send(
        &app,
        Method::POST,
        "/v1/installation/erasures",
        Some(&installation_admin),
        Some(&json!({"author_email": "not an address"})),
    )
    .await;
    let problem = crate::common::expect_problem(refused, 422).await;
    assert_eq!(crate::common::problem_fields(&problem), ["author_email"]);
    let refused = app
        .get_with_key(
            &installation_admin,
            "/v1/installation/exports/reviews?author_email=x",
        )
        .await;
    let problem = crate::common::expect_problem(refused, 400).await;
    assert_eq!(crate::common::problem_fields(&problem), ["author_email"]);

    // Erasure: one request, every site, counted per site.
    let erased = send(
        &app,
        Method::POST,
        "/sites/ukrainian/v1/installation/erasures"
            .replace("ukrainian", &ukrainian.id)
            .as_str(),
        Some(&installation_admin),
        Some(&json!({"author_email": reader})),
    )
    .await;
    assert_eq!(erased.status(), 200, "the same under a site's prefix");
    let erased: Value = erased.json().await.unwrap();
    assert_eq!(erased["erased"], 3);
    let per_site: Vec<(String, u64)> = erased["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["site_id"].as_str().unwrap().to_owned(),
                s["erased"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut expected: Vec<(String, u64)> = sites
        .iter()
        .map(|site| {
            (
                site.id.clone(),
                u64::from(written.iter().any(|(id, _)| *id == site.id)),
            )
        })
        .collect();
    expected.push(("default".to_owned(), 0));
    expected.sort();
    assert_eq!(per_site, expected);
    // Nothing of the reader is left anywhere; each review reads back erased, by id.
    assert!(export_lines(&app, &installation_admin, &export)
        .await
        .is_empty());
    let everything = export_lines(
        &app,
        &installation_admin,
        "/v1/installation/exports/reviews",
    )
    .await;
    for (site, id) in &written {
        let row = everything
            .iter()
            .find(|row| row["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{site}'s review {id} is still exported"));
        assert_eq!(row["site_id"], site.as_str());
        assert_eq!(row["status"], "deleted");
        assert_eq!(row["author_email"], Value::Null);
        assert_eq!(row["body"], "");
        assert!(row["erased_at"].is_string());
    }
    // Every other review of the network is as it was.
    for site in &sites {
        for review in &site.reviews {
            let row = everything
                .iter()
                .find(|row| row["id"] == review["id"])
                .expect("exported");
            assert_eq!(row["body"], review["body"], "{}", site.id);
            assert!(row["erased_at"].is_null());
        }
    }
    // Erasing again finds nothing: a retry after a failure partway completes the rest.
    let again = send(
        &app,
        Method::POST,
        "/v1/installation/erasures",
        Some(&installation_admin),
        Some(&json!({"author_email": reader})),
    )
    .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["erased"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_of_one_site_is_refused_by_another() {
    let app = spawn_app().await;
    let sites = network(&app).await;
    let (world, persian) = (&sites[0], &sites[3]);
    let first = app
        .get_json(&world.path(&format!("/v1/articles/{SHARED}/reviews?limit=1")))
        .await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let next = app
        .get_json(&world.path(&format!(
            "/v1/articles/{SHARED}/reviews?limit=1&cursor={cursor}"
        )))
        .await;
    assert_eq!(
        next["items"].as_array().unwrap().len(),
        1,
        "its own site's second page"
    );
    let refused = app
        .get(&persian.path(&format!(
            "/v1/articles/{SHARED}/reviews?limit=1&cursor={cursor}"
        )))
        .await;
    let problem = crate::common::expect_problem(refused, 400).await;
    assert_eq!(crate::common::problem_fields(&problem), ["cursor"]);
}
