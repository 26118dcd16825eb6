//! Stopping the service in the middle of concurrent submissions. kill -9: every review that got a
//! 201 survives and nothing exists half-way (stats always agree with the reviews they count).
//! SIGTERM: in-flight requests finish, nothing gets a 5xx, and the process exits cleanly; with a
//! drain, readiness fails and answers close their connections first, while the node still serves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::live::EventStream;
use crate::common::{free_port, spawn_app, start_binary, wait_ready, ServiceProcess, TestApp};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

/// The service under test, on the harness app's fresh database.
struct Service {
    process: ServiceProcess,
    base: String,
    client: reqwest::Client,
}

async fn start(app: &TestApp) -> Service {
    start_with(app, &[]).await
}

/// `start` with settings of the test's own over the defaults.
async fn start_with(app: &TestApp, settings: &[(&'static str, String)]) -> Service {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // A connection per request: a request can then only be refused (the service is gone) or
    // accepted, never lost in a race with the server closing an idle kept-alive connection.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut process = start_binary(
        &app.database_url,
        port,
        &[
            ("MARGINALIA_WORKERS", "2".to_owned()),
            // Other tests share the machine and the cluster: waiting longer for a connection keeps
            // this test about stopping, not about overload (which the outage tests cover).
            ("MARGINALIA_DB_ACQUIRE_TIMEOUT_MS", "10000".to_owned()),
        ]
        .into_iter()
        .chain(settings.iter().cloned())
        .collect::<Vec<_>>(),
        None,
    );
    wait_ready(&client, &base, &mut process).await;
    Service {
        process,
        base,
        client,
    }
}

/// What the writers saw: the ids of acknowledged reviews and every HTTP status received.
#[derive(Default)]
struct Seen {
    acknowledged: Vec<String>,
    statuses: Vec<u16>,
    /// The bodies of requests whose connection closed without an answer.
    dropped: Vec<String>,
}

/// Sixteen writers submitting to four articles until the service stops answering.
fn start_load(service: &Service) -> (Arc<Mutex<Seen>>, Vec<tokio::task::JoinHandle<()>>) {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let writers = (0..16)
        .map(|writer| {
            let client = service.client.clone();
            let base = service.base.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let article = format!("crash-{}", (writer + i) % 4);
                    let body = format!("writer {writer} review {i}");
                    let review = json!({"rating": (i % 5) + 1, "body": body});
                    let response = match client
                        .post(format!("{base}/v1/articles/{article}/reviews"))
                        .json(&review)
                        .send()
                        .await
                    {
                        Ok(response) => response,
                        // Refused: the service no longer accepts connections.
                        Err(error) if error.is_connect() => return,
                        // Sent, then the connection closed without an answer.
                        Err(_) => {
                            seen.lock().unwrap().dropped.push(body);
                            return;
                        }
                    };
                    let status = response.status().as_u16();
                    let id = match response.json::<Value>().await {
                        Ok(created) if status == 201 => created["id"].as_str().map(str::to_owned),
                        _ => None,
                    };
                    let mut seen = seen.lock().unwrap();
                    seen.statuses.push(status);
                    seen.acknowledged.extend(id);
                }
            })
        })
        .collect();
    (seen, writers)
}

async fn wait_for_acknowledged(seen: &Mutex<Seen>, count: usize) {
    for _ in 0..400 {
        if seen.lock().unwrap().acknowledged.len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("load did not reach the service");
}

/// Every acknowledged review is stored, and the stats agree exactly with the stored reviews.
async fn assert_durable_and_consistent(app: &TestApp, acknowledged: &[String]) {
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
            "SELECT count(*) AS n FROM (
                 SELECT article_id, sum(review_count) AS review_count, sum(rating_sum) AS rating_sum,
                        sum(count_1) AS count_1, sum(count_2) AS count_2, sum(count_3) AS count_3,
                        sum(count_4) AS count_4, sum(count_5) AS count_5
                 FROM article_stats GROUP BY article_id) s FULL JOIN (
                 SELECT article_id, count(*) AS c, sum(rating) AS r,
                        count(*) FILTER (WHERE rating = 1) AS c1, count(*) FILTER (WHERE rating = 2) AS c2,
                        count(*) FILTER (WHERE rating = 3) AS c3, count(*) FILTER (WHERE rating = 4) AS c4,
                        count(*) FILTER (WHERE rating = 5) AS c5
                 FROM reviews WHERE status = 'published' GROUP BY article_id) t USING (article_id)
             WHERE s.review_count IS DISTINCT FROM t.c OR s.rating_sum IS DISTINCT FROM t.r
                OR s.count_1 IS DISTINCT FROM t.c1 OR s.count_2 IS DISTINCT FROM t.c2
                OR s.count_3 IS DISTINCT FROM t.c3 OR s.count_4 IS DISTINCT FROM t.c4
                OR s.count_5 IS DISTINCT FROM t.c5"
        )
        .await,
        0,
        "stats agree exactly with the stored reviews"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_reviews_survive_kill_9_and_nothing_half_exists() {
    let app = spawn_app().await;
    let mut service = start(&app).await;
    let (seen, writers) = start_load(&service);
    wait_for_acknowledged(&seen, 300).await;
    service.process.kill().unwrap();
    service.process.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = seen.lock().unwrap().acknowledged.clone();
    assert_durable_and_consistent(&app, &acknowledged).await;

    // A restarted service serves every acknowledged review.
    let mut restarted = start(&app).await;
    for id in acknowledged.iter().step_by(7) {
        let response = restarted
            .client
            .get(format!("{}/v1/reviews/{id}", restarted.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "review {id}");
    }
    restarted.process.kill().unwrap();
    restarted.process.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_finishes_requests_and_exits_cleanly() {
    let app = spawn_app().await;
    let mut service = start(&app).await;
    let (seen, writers) = start_load(&service);
    wait_for_acknowledged(&seen, 300).await;
    kill(Pid::from_raw(service.process.id() as i32), Signal::SIGTERM).unwrap();
    let status = service.process.wait().unwrap();
    assert!(status.success(), "a clean exit, got {status}");
    for writer in writers {
        writer.await.unwrap();
    }
    let (statuses, acknowledged, dropped) = {
        let seen = seen.lock().unwrap();
        (
            seen.statuses.clone(),
            seen.acknowledged.clone(),
            seen.dropped.clone(),
        )
    };
    // A request the server never read (still in the listen queue when it closed) may go
    // unanswered: it did nothing, and the client may retry it. One the server processed must
    // have been answered: no dropped request may have been stored.
    if !dropped.is_empty() {
        let dropped_list = dropped
            .iter()
            .map(|body| format!("'{body}'"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) AS n FROM reviews WHERE body IN ({dropped_list})"
            ))
            .await,
            0,
            "a request that was processed lost its answer"
        );
    }
    let failed: Vec<&u16> = statuses.iter().filter(|status| **status != 201).collect();
    assert!(
        failed.is_empty(),
        "every answered request succeeded: {failed:?}"
    );
    assert_durable_and_consistent(&app, &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_first_readiness_fails_and_answers_close_their_connections() {
    let app = spawn_app().await;
    let Service {
        mut process,
        base,
        client,
    } = start_with(&app, &[("MARGINALIA_DRAIN_SECS", "3".to_owned())]).await;
    let before = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(before.status(), 200);
    assert_ne!(
        before.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );

    kill(Pid::from_raw(process.id() as i32), Signal::SIGTERM).unwrap();
    let asked_to_stop = std::time::Instant::now();
    // Readiness fails at once, while the node keeps serving.
    let mut readiness = 200;
    while readiness == 200 && asked_to_stop.elapsed() < Duration::from_secs(2) {
        readiness = client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    assert_eq!(readiness, 503, "readiness fails while draining");
    let review = json!({"rating": 5, "body": "Sent while the node drains."});
    let created = client
        .post(format!("{base}/v1/articles/draining/reviews"))
        .json(&review)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "still serving while draining");
    assert_eq!(
        created.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..]),
        "each answer sends the client elsewhere"
    );
    let status = process.wait().unwrap();
    assert!(status.success(), "a clean exit, got {status}");
    assert!(
        asked_to_stop.elapsed() >= Duration::from_secs(3),
        "stopped only after the drain"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM reviews WHERE article_id = 'draining'")
            .await,
        1
    );
}

/// Streams end politely when the node stops: each reader is told why and to come back after a
/// moment (its browser then reconnects, through the load balancer, to another node), and one
/// that connects during the drain is told the same at once instead of getting an error, which
/// a browser's `EventSource` would take as final. The streams do not hold the stop up.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_ends_live_streams_politely_and_sends_new_readers_elsewhere() {
    let app = spawn_app().await;
    let Service {
        mut process, base, ..
    } = start_with(&app, &[("MARGINALIA_DRAIN_SECS", "3".to_owned())]).await;
    let stream = format!("{base}/v1/articles/draining/live");
    let mut reader = EventStream::open_url(&stream, &[]).await;

    kill(Pid::from_raw(process.id() as i32), Signal::SIGTERM).unwrap();
    let closing = reader
        .until(Duration::from_secs(20), "the closing event", |event| {
            event.name == "closing"
        })
        .await;
    assert_eq!(closing.last().unwrap().data["reason"], "draining");
    let retry = *reader.retries.last().unwrap();
    assert!(
        (1000..5000).contains(&retry),
        "come back after a moment: {retry} ms"
    );
    assert!(
        reader.next(Duration::from_secs(20)).await.is_none(),
        "and the stream ends"
    );

    let mut late = EventStream::open_url(&stream, &[]).await;
    let told = late.next(Duration::from_secs(20)).await.expect("an event");
    assert_eq!(told.name, "closing");
    assert!(late.next(Duration::from_secs(20)).await.is_none());

    let status = process.wait().unwrap();
    assert!(status.success(), "a clean exit, got {status}");
}
