//! Wrong requests get precise problem documents, never a 500.

use std::time::{Duration, Instant};

use crate::common::wait::{until, GENEROUS};
use crate::common::{
    expect_problem, free_port, problem_fields, raw_http, spawn_app, spawn_app_with, start_binary,
    wait_ready,
};
use marginalia::auth::Scope;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn transport_level_mistakes() {
    let app = spawn_app().await;
    let url = app.url("/v1/articles/a1/reviews");

    // A review body sent as it is, with this content type (none when `None`).
    let post = |content_type: Option<&'static str>, body: &'static str| {
        let mut request = app.client.post(&url).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        async move { request.send().await.unwrap() }
    };
    let review = r#"{"rating":4,"body":"x"}"#;
    expect_problem(post(None, review).await, 415).await;
    expect_problem(post(Some("text/plain"), review).await, 415).await;
    let charset = post(Some("application/json; charset=utf-8"), review).await;
    assert_eq!(
        charset.status(),
        201,
        "parameters on the media type are fine"
    );
    expect_problem(post(Some("application/json"), "{rating: 4}").await, 400).await;
    expect_problem(post(Some("application/json"), "").await, 400).await;

    expect_problem(app.get("/v2/nothing").await, 404).await;
    let wrong_method = app
        .client
        .delete(app.url("/v1/articles/a1/reviews"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.headers()["allow"], "GET, HEAD, POST");
    expect_problem(wrong_method, 405).await;
    let patch = app.client.patch(app.url("/v1/stats")).send().await.unwrap();
    expect_problem(patch, 405).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_body_limit_is_configurable_and_enforced_while_streaming() {
    let app = spawn_app_with(|settings| {
        settings.server.body_limit = 4096;
    })
    .await;
    let url = app.url("/v1/articles/a1/reviews");
    let big = json!({"rating": 4, "body": "я".repeat(3000)});
    let problem = expect_problem(app.post_review("a1", &big).await, 413).await;
    assert!(problem["detail"].as_str().unwrap().contains("4096"));

    // Without Content-Length (chunked), the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 1024])).collect();
    let stream = futures_util::stream::iter(chunks);
    let chunked = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    expect_problem(chunked, 413).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_broken_rule_is_reported_at_once() {
    let app = spawn_app().await;
    let response = app
        .post_review(
            "a1",
            &json!({"rating": 9, "body": " ", "title": "t".repeat(201), "author_email": "nope", "language": "??"}),
        )
        .await;
    let problem = expect_problem(response, 422).await;
    assert_eq!(
        problem_fields(&problem),
        ["author_email", "body", "language", "rating", "title"]
    );
    let missing = app.post_review("a1", &json!({})).await;
    let problem = expect_problem(missing, 422).await;
    assert_eq!(problem_fields(&problem), ["body", "rating"]);
    assert_eq!(app.count("SELECT count(*) AS n FROM reviews").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_carry_a_request_id_and_cors_headers() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://news.example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://news.example.org"
    );
    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["status"], "ready");
}

#[tokio::test(flavor = "multi_thread")]
async fn integral_numbers_are_integers() {
    let app = spawn_app().await;
    let whole = app
        .post_review("a1", &json!({"rating": 3.0, "body": "three"}))
        .await;
    assert_eq!(whole.status(), 201);
    for rating in [json!(3.5), json!("3"), json!(1e300), json!(true)] {
        let response = app
            .post_review("a1", &json!({"rating": rating, "body": "x"}))
            .await;
        let problem = expect_problem(response, 422).await;
        assert_eq!(problem_fields(&problem), ["rating"], "{rating}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_sending_its_body_gets_a_408() {
    let app = spawn_app_with(|settings| {
        settings.server.body_read_timeout = Duration::from_millis(500);
    })
    .await;
    let started = Instant::now();
    // Headers announce 1,000 bytes; only 10 arrive, then nothing.
    let answer = raw_http(
        &app.address,
        b"POST /v1/articles/slow/reviews HTTP/1.1\r\nHost: test\r\n\
          Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"rating\":",
    )
    .await;
    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(answer.problem()["status"], 408);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the connection was released after {:?}",
        started.elapsed()
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM reviews").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    use tokio::io::AsyncWriteExt;
    // Two workers in tests: a cap of 2 is one connection per worker.
    // The held bodies time out after this, which frees their connections: long enough for the
    // cap to be seen holding on a loaded machine.
    let body_read_timeout = Duration::from_secs(15);
    let app = spawn_app_with(|settings| {
        settings.server.max_connections = 2;
        settings.server.body_read_timeout = body_read_timeout;
    })
    .await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        stream
            .write_all(
                b"POST /v1/articles/held/reviews HTTP/1.1\r\nHost: test\r\n\
                  Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
            )
            .await
            .unwrap();
        holders.push(stream);
    }
    // The cap holds once the workers have accepted both held connections: until then a third
    // connection may still be served, so wait for it to go unserved (within the body timeout,
    // after which the held connections are released), not for a fixed time.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    until(
        body_read_timeout - Duration::from_secs(3),
        "a third connection to go unserved while two are held",
        || async { client.get(app.url("/healthz")).send().await.is_err() },
    )
    .await;
    // The held bodies time out (408), which frees their connections.
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(app.url("/healthz")).send().await {
            assert_eq!(response.status(), 200);
            break;
        }
        assert!(
            started.elapsed() < body_read_timeout + GENEROUS,
            "served again once held connections were released"
        );
    }
    drop(holders);
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_from_every_layer_are_problem_documents() {
    let app = spawn_app().await;
    // The CORS layer refuses a preflight from an origin it does not know.
    let cors = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/articles/a/reviews"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    let problem = expect_problem(cors, 400).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("Origin"),
        "{problem}"
    );
    // The documentation's asset handler knows no such file.
    expect_problem(app.get("/docs/no-such-asset.js").await, 404).await;
    // `/docs` leads to the UI.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let docs = no_redirects.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 308);
    assert_eq!(docs.headers()["location"], "/docs/");
    assert_eq!(app.get("/docs").await.status(), 200, "followed to the UI");
}

#[tokio::test(flavor = "multi_thread")]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    let created: serde_json::Value = app
        .post_review("head-article", &json!({"rating": 5, "body": "HEAD me"}))
        .await
        .json()
        .await
        .unwrap();
    let review = format!("/v1/reviews/{}", created["id"].as_str().unwrap());
    for path in [
        "/v1/articles/head-article/reviews",
        "/v1/articles/head-article",
        "/v1/articles/head-article/stats",
        "/v1/stats?article_id=head-article",
        review.as_str(),
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/docs/",
    ] {
        let get = app.get(path).await;
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "HEAD {path}"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
    }
    let missing = app
        .client
        .head(app.url("/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_url_writes_a_bounded_log_line() {
    let app = spawn_app().await;
    let key = app.api_key(&[Scope::Cms]).await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("service.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut service = start_binary(
        &app.database_url,
        port,
        &[("RUST_LOG", "info".to_owned())],
        Some(&log_path),
    );
    wait_ready(&app.client, &base, &mut service).await;
    let before = std::fs::metadata(&log_path).unwrap().len();
    // Logged inside the request span: an article upsert, with 120 KB of query and user agent
    // (an HTTP request target is limited to 64 KB).
    let huge = "q".repeat(60 * 1024);
    let response = app
        .client
        .put(format!("{base}/v1/articles/logged?x={huge}"))
        .bearer_auth(&key)
        .header("user-agent", huge.as_str())
        .json(&json!({"title": "Logged"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let _ = service.kill();
    let _ = service.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let written = log.len() as u64 - before;
    assert_eq!(status, 201, "the request was served");
    assert!(
        written < 4 * 1024,
        "{written} bytes of log for one request: {}",
        &log[log.len().saturating_sub(600)..]
    );
    assert!(
        log.contains("article upserted"),
        "the request was logged: {log}"
    );
    assert!(
        log.contains("bytes)"),
        "the cut says how long the field was"
    );
}
