//! A newsroom's CDN and readers' browsers may keep public reads for a few seconds and revalidate
//! them with a 304; every change a reader could see changes the ETag; nothing private is ever
//! cacheable; answers are compressed when the client asks.

use marginalia::auth::Scope;
use reqwest::{header, Method};
use serde_json::{json, Value};

use crate::common::{spawn_app_with, TestApp};

const ARTICLE: &str = "voa-2020-05-iskp-attacks";

async fn caching_app() -> TestApp {
    spawn_app_with(|settings| {
        settings.moderation.banned_terms = vec!["шахрай".into()];
    })
    .await
}

/// GETs `path` as a browser revalidating `etag` would; returns the status and the ETag.
async fn revalidate(app: &TestApp, path: &str, etag: Option<&str>) -> (u16, String) {
    let mut request = app.client.get(app.url(path));
    if let Some(etag) = etag {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let tag = response
        .headers()
        .get(header::ETAG)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    if status == 304 {
        assert!(
            response.bytes().await.unwrap().is_empty(),
            "a 304 has no body"
        );
    }
    (status, tag)
}

fn cache_control(response: &reqwest::Response) -> &str {
    response.headers()[header::CACHE_CONTROL].to_str().unwrap()
}

#[tokio::test]
async fn public_reads_revalidate_with_a_304_until_a_reader_could_see_a_change() {
    let app = caching_app().await;
    let moderator = app.api_key(&[Scope::Moderator]).await;
    app.register_fixture_article().await;
    let created: Value = app
        .post_review(
            ARTICLE,
            &json!({"rating": 5, "body": "Ясно і по суті, дякую авторам."}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let reads = [
        format!("/v1/articles/{ARTICLE}/stats"),
        format!("/v1/articles/{ARTICLE}/reviews"),
        format!("/v1/articles/{ARTICLE}"),
        format!("/v1/stats?article_id={ARTICLE}"),
        format!("/v1/articles/{ARTICLE}/stats/daily"),
        format!("/v1/reviews/{id}"),
    ];
    let mut tags = Vec::new();
    for path in &reads {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            cache_control(&response),
            "public, max-age=5, stale-while-revalidate=30",
            "{path}"
        );
        assert!(response.headers()[header::VARY]
            .to_str()
            .unwrap()
            .contains("Accept-Encoding"));
        let tag = response.headers()[header::ETAG]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(revalidate(&app, path, Some(&tag)).await.0, 304, "{path}");
        tags.push(tag);
    }

    // A new published review changes what the article's reads show.
    app.post_review(
        ARTICLE,
        &json!({"rating": 2, "body": "Забагато припущень без джерел."}),
    )
    .await;
    for (path, tag) in reads.iter().zip(&tags).take(5) {
        let (status, new_tag) = revalidate(&app, path, Some(tag)).await;
        assert_eq!(status, 200, "{path} after a new review");
        assert_ne!(&new_tag, tag);
    }

    // A held review changes nothing public; approving it does.
    let page = format!("/v1/articles/{ARTICLE}/reviews");
    let (_, before) = revalidate(&app, &page, None).await;
    let held: Value = app
        .post_review(ARTICLE, &json!({"rating": 1, "body": "Автор — шахрай."}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["status"], "pending");
    assert_eq!(revalidate(&app, &page, Some(&before)).await.0, 304);
    let approve = json!({"action": "approve", "review_ids": [held["id"]]});
    app.with_key(
        &moderator,
        Method::POST,
        "/v1/moderation/actions",
        Some(&approve),
    )
    .await;
    assert_eq!(revalidate(&app, &page, Some(&before)).await.0, 200);

    // The newsroom's reply changes the review.
    let review = format!("/v1/reviews/{id}");
    let (_, before) = revalidate(&app, &review, None).await;
    let reply = json!({"body": "Дякуємо за відгук!"});
    app.with_key(
        &moderator,
        Method::PUT,
        &format!("/v1/reviews/{id}/reply"),
        Some(&reply),
    )
    .await;
    let (status, after) = revalidate(&app, &review, Some(&before)).await;
    assert_eq!(status, 200);
    assert_ne!(after, before);
}

#[tokio::test]
async fn nothing_private_or_for_moderators_is_ever_cacheable() {
    let app = caching_app().await;
    let moderator = app.api_key(&[Scope::Moderator]).await;
    let created = app
        .post_review(
            ARTICLE,
            &json!({"rating": 4, "body": "Корисний огляд подій у Кунарі."}),
        )
        .await;
    assert_eq!(cache_control(&created), "no-store", "a submission");
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let own = app.get_own_review(&created).await;
    assert_eq!(own.status(), 200);
    assert_eq!(cache_control(&own), "no-store", "the author's own view");
    assert!(own.headers().get(header::ETAG).is_none());
    let public = app.get(&format!("/v1/reviews/{id}")).await;
    assert!(
        public.headers()[header::VARY]
            .to_str()
            .unwrap()
            .contains("X-Edit-Token"),
        "a cache keeps the public and the author's views apart"
    );
    for path in [
        "/v1/moderation/queue",
        "/v1/moderation/counts",
        "/v1/moderation/log",
        "/v1/me",
    ] {
        let response = app.get_with_key(&moderator, path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(cache_control(&response), "no-store", "{path}");
    }
    let missing = app.get("/v1/articles/never-registered").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(cache_control(&missing), "no-store", "a problem");
}

#[tokio::test]
async fn answers_are_compressed_only_for_clients_that_accept_it() {
    let app = spawn_app_with(|settings| {
        settings.server.compression = true;
    })
    .await;
    for n in 0..20 {
        let body = format!("Відгук номер {n}: докладний, з посиланнями на джерела й цифрами.");
        app.post_review(ARTICLE, &json!({"rating": 1 + n % 5, "body": body}))
            .await;
    }
    let page = format!("/v1/articles/{ARTICLE}/reviews");
    let off = caching_app().await;
    let uncompressed = off
        .client
        .get(off.url(&page))
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert!(
        uncompressed
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_none(),
        "off by default"
    );
    let plain = app.get(&page).await;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let plain_length = plain.bytes().await.unwrap().len();
    for encoding in ["gzip", "br"] {
        let compressed = app
            .client
            .get(app.url(&page))
            .header(header::ACCEPT_ENCODING, encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(compressed.status(), 200);
        assert_eq!(compressed.headers()[header::CONTENT_ENCODING], encoding);
        let length = compressed.bytes().await.unwrap().len();
        assert!(
            length * 3 < plain_length,
            "{encoding}: {length} of {plain_length} bytes"
        );
    }
}
