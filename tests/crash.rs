//! kill -9 in the middle of concurrent submissions: every review that got a 201 survives, and
//! nothing exists half-way (stats always agree with the reviews they count).

mod common;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::spawn_app;
use serde_json::{json, Value};

fn start_service(database_url: &str, port: u16) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_marginalia"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("MARGINALIA_BIND", format!("127.0.0.1:{port}"))
        .env("MARGINALIA_WORKERS", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the service did not become ready");
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_reviews_survive_kill_9_and_nothing_half_exists() {
    // The harness app only provides a fresh database and the checking queries.
    let app = spawn_app().await;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut service = start_service(&app.database_url, port);
    wait_ready(&client, &base).await;

    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut writers = Vec::new();
    for writer in 0..16 {
        let client = client.clone();
        let base = base.clone();
        let acknowledged = acknowledged.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let article = format!("crash-{}", (writer + i) % 4);
                let review =
                    json!({"rating": (i % 5) + 1, "body": format!("writer {writer} review {i}")});
                let Ok(response) = client
                    .post(format!("{base}/v1/articles/{article}/reviews"))
                    .json(&review)
                    .send()
                    .await
                else {
                    return; // the service is gone
                };
                if response.status() == 201 {
                    if let Ok(created) = response.json::<Value>().await {
                        let id = created["id"].as_str().unwrap().to_owned();
                        acknowledged.lock().unwrap().push(id);
                    }
                }
            }
        }));
    }
    // Let a few hundred submissions land, then kill mid-stream.
    for _ in 0..200 {
        if acknowledged.lock().unwrap().len() >= 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    service.kill().unwrap();
    service.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 50,
        "load reached the service before the kill"
    );

    let stored = app.count("SELECT count(*) AS n FROM reviews").await;
    assert!(stored >= acknowledged.len() as i64);
    let list = acknowledged
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM reviews WHERE id IN ({list})"
        ))
        .await,
        acknowledged.len() as i64,
        "every acknowledged review is stored"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM article_stats s FULL JOIN (
                 SELECT article_id, count(*) AS c, sum(rating) AS r,
                        count(*) FILTER (WHERE rating = 1) AS c1, count(*) FILTER (WHERE rating = 5) AS c5
                 FROM reviews WHERE status = 'published' GROUP BY article_id) t USING (article_id)
             WHERE s.review_count IS DISTINCT FROM t.c OR s.rating_sum IS DISTINCT FROM t.r
                OR s.count_1 IS DISTINCT FROM t.c1 OR s.count_5 IS DISTINCT FROM t.c5"
        )
        .await,
        0,
        "stats agree exactly with the stored reviews"
    );

    // A restarted service serves every acknowledged review.
    let mut service = start_service(&app.database_url, port);
    wait_ready(&client, &base).await;
    for id in acknowledged.iter().step_by(7) {
        let response = client
            .get(format!("{base}/v1/reviews/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "review {id}");
    }
    service.kill().unwrap();
    service.wait().unwrap();
}
