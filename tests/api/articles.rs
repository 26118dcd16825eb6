//! The CMS's story: register articles with an API key; the public reads them.

use crate::common::{expect_problem, fixture, problem_fields, spawn_app};
use marginalia::auth::Scope;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn the_cms_registers_and_updates_an_article() {
    let app = spawn_app().await;
    let article = fixture("article.json");
    let id = article["article_id"].as_str().unwrap();
    let key = format!("Bearer {}", app.api_key(&[Scope::Cms]).await);
    let cms = &app;
    let put = |body: Value| {
        let key = key.clone();
        async move { cms.put_article(id, Some(&key), &body).await }
    };
    let created = put(json!({
        "title": article["title"], "url": article["url"], "language": "en",
        "published_at": article["published_at"]
    }))
    .await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], format!("/v1/articles/{id}"));
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["title"], article["title"]);
    assert_eq!(created["reviews_open"], true);
    assert_eq!(created["stats"]["review_count"], 0);

    let updated = put(json!({"title": "Updated title", "reviews_open": false})).await;
    assert_eq!(updated.status(), 200);
    let read = app.get_json(&format!("/v1/articles/{id}")).await;
    assert_eq!(read["title"], "Updated title");
    assert_eq!(read["reviews_open"], false);
    assert!(read["url"].is_null(), "PUT replaces the description");

    let invalid = put(json!({"url": "javascript:alert(1)", "language": "xx-invalid-"})).await;
    let problem = expect_problem(invalid, 422).await;
    assert_eq!(problem_fields(&problem), ["language", "url"]);
    let unknown = put(json!({"review_count": 100})).await;
    let problem = expect_problem(unknown, 422).await;
    assert_eq!(problem_fields(&problem), ["review_count"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_and_scopes_are_enforced() {
    let app = spawn_app().await;
    let body = json!({"title": "Scoped"});
    let client = &app;
    let put = |authorization: Option<String>| {
        let body = body.clone();
        async move {
            client
                .put_article("scoped", authorization.as_deref(), &body)
                .await
        }
    };

    let problem = expect_problem(put(None).await, 401).await;
    assert!(problem["detail"].as_str().unwrap().contains("Bearer"));
    expect_problem(put(Some("Bearer mrg_not-a-key".into())).await, 401).await;
    expect_problem(put(Some("Basic dXNlcjpwYXNz".into())).await, 401).await;
    let moderator = app.api_key(&[Scope::Moderator]).await;
    expect_problem(put(Some(format!("Bearer {moderator}"))).await, 403).await;
    let admin = app.api_key(&[Scope::Admin]).await;
    assert_eq!(put(Some(format!("Bearer {admin}"))).await.status(), 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_malformed_article_ids() {
    let app = spawn_app().await;
    expect_problem(app.get("/v1/articles/nobody-registered-this").await, 404).await;
    let long = "a".repeat(129);
    for bad in [
        long.as_str(),
        "has%20space",
        "%D0%BF%D0%BE%D1%81%D1%82",
        "a%2Fb",
    ] {
        let problem = expect_problem(app.get(&format!("/v1/articles/{bad}")).await, 400).await;
        assert_eq!(problem_fields(&problem), ["article_id"], "{bad}");
    }
    // Percent-encoding of allowed characters is decoded before checking.
    let key = app.api_key(&[Scope::Cms]).await;
    let response = app
        .client
        .put(app.url("/v1/articles/cms%3A42"))
        .bearer_auth(&key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let read = app.get_json("/v1/articles/cms:42").await;
    assert_eq!(read["article_id"], "cms:42");
}
