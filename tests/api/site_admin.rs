//! Managing sites: an installation admin creates and changes them through `PUT /v1/sites/{id}`
//! or `marginalia sites put`; every key lists the sites it serves; the site's API is served
//! under its prefix at once.

use marginalia::auth::Scope;
use serde_json::{json, Value};

use crate::common::{
    expect_problem, marginalia, problem_fields, spawn_app, spawn_app_with, TestApp,
};

async fn put_site(app: &TestApp, key: &str, id: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/v1/sites/{id}")))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn site_ids(app: &TestApp, key: &str) -> Vec<String> {
    let listed = app.get_with_key(key, "/v1/sites").await;
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.expect("json");
    listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|site| site["site_id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn an_installation_admin_creates_a_site_and_changes_only_what_is_sent() {
    let app = spawn_app().await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let created = put_site(
        &app,
        &admin,
        "ru",
        &json!({
            "name": "Русская служба",
            "languages": ["ru"],
            "moderation": "pre",
            "origins": ["https://www.bbc.com/"],
            "cms_secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        }),
    )
    .await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], "/v1/sites/ru");
    let site: Value = created.json().await.expect("json");
    assert_eq!(site["name"], "Русская служба");
    assert_eq!(
        site["origins"],
        json!(["https://www.bbc.com"]),
        "normalized"
    );
    assert_eq!(site["own_cms_secrets"], 1, "counted, never shown");
    assert!(site.get("cms_secrets").is_none());
    assert_eq!(site["max_links"], Value::Null, "the installation's");

    let changed = put_site(
        &app,
        &admin,
        "ru",
        &json!({"max_links": 1, "moderation": null}),
    )
    .await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.expect("json");
    assert_eq!(changed["max_links"], 1);
    assert_eq!(
        changed["moderation"],
        Value::Null,
        "back to the installation's"
    );
    assert_eq!(changed["languages"], json!(["ru"]), "left as it was");
    let read: Value = app
        .get_with_key(&admin, "/v1/sites/ru")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(read, changed);

    // Served at once under its prefix: an article of the new site takes reviews.
    let ru_cms = app.site_key("ru", &[Scope::Cms]).await;
    let registered = app
        .client
        .put(app.url("/sites/ru/v1/articles/ru-1"))
        .bearer_auth(&ru_cms)
        .json(&json!({"title": "Статья"}))
        .send()
        .await
        .expect("request");
    assert_eq!(registered.status(), 201);
    assert_eq!(site_ids(&app, &admin).await, ["default", "ru"]);
    assert_eq!(
        site_ids(&app, &ru_cms).await,
        ["ru"],
        "a site's key sees its own"
    );
    let hidden = app.get_with_key(&ru_cms, "/v1/sites/default").await;
    expect_problem(hidden, 404).await;
}

#[tokio::test]
async fn only_an_installation_wide_admin_key_manages_sites() {
    let app = spawn_app().await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let site_admin = app.site_key("default", &[Scope::Admin]).await;
    let refused = put_site(&app, &site_admin, "fa", &json!({"name": "فارسی"})).await;
    let problem = expect_problem(refused, 403).await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("installation-wide"));
    let moderator = app.api_key(&[Scope::Moderator]).await;
    expect_problem(
        put_site(&app, &moderator, "fa", &json!({"name": "فارسی"})).await,
        403,
    )
    .await;
    assert_eq!(
        site_ids(&app, &admin).await,
        ["default"],
        "nothing was created"
    );
}

#[tokio::test]
async fn every_wrong_setting_is_named() {
    let app = spawn_app().await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let refused = put_site(
        &app,
        &admin,
        "uk",
        &json!({
            "name": "Українська",
            "origins": ["https://www.bbc.com", "ftp://files.example.org/x"],
            "languages": ["uk", "klingon"],
            "banned_terms": ["ok", " "],
            "max_links": 1000,
            "flag_threshold": 0,
            "newsroom_name": "",
            "cms_secrets": ["not-a-secret"],
        }),
    )
    .await;
    let problem = expect_problem(refused, 422).await;
    let mut named = problem_fields(&problem);
    named.sort();
    assert_eq!(
        named,
        [
            "banned_terms[1]",
            "cms_secrets[0]",
            "flag_threshold",
            "languages",
            "max_links",
            "newsroom_name",
            "origins[1]"
        ]
    );
    let nameless = put_site(&app, &admin, "uk", &json!({"languages": ["uk"]})).await;
    let problem = expect_problem(nameless, 422).await;
    assert_eq!(problem_fields(&problem), ["name"]);
    let unknown = put_site(&app, &admin, "uk", &json!({"name": "x", "colour": "red"})).await;
    expect_problem(unknown, 422).await;
    let bad_id = put_site(&app, &admin, "Not_A_Site", &json!({"name": "x"})).await;
    assert_eq!(
        problem_fields(&expect_problem(bad_id, 400).await),
        ["site_id"]
    );
    assert_eq!(site_ids(&app, &admin).await, ["default"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_creates_a_site_and_keys_for_it() {
    let app = spawn_app().await;
    let put = marginalia(
        &app.database_url,
        &[
            "sites",
            "put",
            "fa",
            "--name",
            "BBC فارسی",
            "--language",
            "fa",
            "--moderation",
            "pre",
            "--rate-limit-reviews",
            "4",
        ],
    );
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let read = app
        .get_with_key(&app.api_key(&[Scope::Admin]).await, "/v1/sites/fa")
        .await;
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.expect("json");
    assert_eq!(read["rate_limit_reviews"], 4);
    assert_eq!(read["rate_limit_reactions"], Value::Null);
    let listed =
        String::from_utf8(marginalia(&app.database_url, &["sites", "list"]).stdout).unwrap();
    assert!(
        listed.contains("fa") && listed.contains("BBC فارسی") && listed.contains("pre"),
        "{listed}"
    );

    let refused = marginalia(
        &app.database_url,
        &["sites", "put", "fa", "--max-links", "500"],
    );
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("--max-links"), "{message}");

    let key = marginalia(
        &app.database_url,
        &[
            "keys", "create", "--name", "fa-cms", "--scope", "cms", "--site", "fa",
        ],
    );
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let secret = String::from_utf8(key.stdout).unwrap().trim().to_owned();
    let registered = app
        .client
        .put(app.url("/sites/fa/v1/articles/fa-1"))
        .bearer_auth(&secret)
        .json(&json!({"title": "مقاله"}))
        .send()
        .await
        .expect("request");
    assert_eq!(registered.status(), 201);
    let elsewhere = app
        .put_article("fa-1", Some(&format!("Bearer {secret}")), &json!({}))
        .await;
    assert_eq!(elsewhere.status(), 403);

    let nowhere = marginalia(
        &app.database_url,
        &[
            "keys", "create", "--name", "x", "--scope", "cms", "--site", "nowhere",
        ],
    );
    assert!(!nowhere.status.success());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("no such site"));
}

/// Posts `count` reviews from this test's one client address to `site`'s article and returns
/// the statuses.
async fn post_reviews(app: &TestApp, site: &str, count: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for n in 0..count {
        let response = app
            .client
            .post(app.url(&format!("/sites/{site}/v1/articles/limits/reviews")))
            .json(&json!({"rating": 4, "body": format!("Review {n} for {site}.")}))
            .send()
            .await
            .expect("request");
        statuses.push(response.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn a_site_with_its_own_rate_limit_counts_apart_and_the_others_share_the_installations() {
    let app = spawn_app_with(|settings| settings.limits.rate_limit_reviews = 3).await;
    let admin = app.api_key(&[Scope::Admin]).await;
    for (id, limit) in [
        ("strict", json!(1)),
        ("unlimited", json!(0)),
        ("plain", Value::Null),
    ] {
        let body = json!({"name": id, "rate_limit_reviews": limit});
        let created = put_site(&app, &admin, id, &body).await;
        assert_eq!(created.status(), 201, "{id}");
        let site: Value = created.json().await.expect("json");
        assert_eq!(site["rate_limit_reviews"], limit, "{id}");
    }
    assert_eq!(post_reviews(&app, "strict", 2).await, [201, 429]);
    // No limit of its own: no limit at all, and nothing taken from the installation's buckets.
    assert_eq!(post_reviews(&app, "unlimited", 5).await, [201; 5]);
    // The default site and `plain` have none of their own: they share the installation's three.
    assert_eq!(post_reviews(&app, "default", 2).await, [201, 201]);
    assert_eq!(post_reviews(&app, "plain", 2).await, [201, 429]);
    for (site, count) in [
        ("strict", 1),
        ("unlimited", 5),
        ("default", 2),
        ("plain", 1),
    ] {
        let sql = format!("SELECT count(*) AS n FROM reviews WHERE site_id = '{site}'");
        assert_eq!(
            app.count_where(&sql).await,
            count,
            "{site}: nothing refused was stored"
        );
    }

    // A limit out of range names its field; the setting is shown back and can be given back.
    let refused = put_site(
        &app,
        &admin,
        "strict",
        &json!({"rate_limit_reactions": 100_001}),
    )
    .await;
    let problem = expect_problem(refused, 422).await;
    assert_eq!(problem_fields(&problem), ["rate_limit_reactions"]);
    let changed = put_site(&app, &admin, "strict", &json!({"rate_limit_reviews": null})).await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.expect("json");
    assert_eq!(changed["rate_limit_reviews"], Value::Null);
    assert_eq!(
        post_reviews(&app, "strict", 1).await,
        [429],
        "back in the installation's buckets, which default and plain used up"
    );
}
