//! PostgreSQL goes away: the service answers 503 problem+json at once and recovers by itself.

use std::time::Duration;

use crate::common::wait::{until, GENEROUS};
use crate::common::{
    expect_problem, post_until_created, spawn_app_on, start_throwaway_cluster, Load, TestApp,
};
use diesel_async::AsyncConnection;

/// How long the midload test keeps PostgreSQL away: longer than any prompt answer may take.
const OUTAGE: Duration = Duration::from_secs(5);
use marginalia::config::Settings;
use marginalia::db;
use marginalia::db::embedded::{ClusterOptions, EmbeddedPostgres};
use serde_json::json;

/// An app on a cluster of its own, which the test may stop and start.
async fn app_on_own_cluster(database: &str) -> (EmbeddedPostgres, TestApp) {
    app_on_own_cluster_with(database, |_| {}).await
}

async fn app_on_own_cluster_with(
    database: &str,
    options: impl FnOnce(&mut Settings),
) -> (EmbeddedPostgres, TestApp) {
    let cluster = start_throwaway_cluster().await;
    cluster.ensure_database(database).await.unwrap();
    let url = cluster.database_url(database);
    db::run_migrations(&url).await.unwrap();
    let app = spawn_app_on(&url, options);
    (cluster, app)
}

/// The postmaster of `cluster` and every process it started.
fn cluster_processes(cluster: &EmbeddedPostgres) -> Vec<i32> {
    let pid_file = std::fs::read_to_string(cluster.pgdata().join("postmaster.pid")).unwrap();
    let postmaster: i32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
    let mut pids = vec![postmaster];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces, so read after the last `)`.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<i32>().ok());
        if ppid == Some(postmaster) {
            pids.push(pid);
        }
    }
    pids
}

fn signal_all(pids: &[i32], signal: nix::sys::signal::Signal) {
    for pid in pids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), signal);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn database_outage_is_a_503_and_recovery_needs_no_restart() {
    let (cluster, app) = app_on_own_cluster("outage").await;
    let review = json!({"rating": 4, "body": "before the outage"});
    assert_eq!(app.post_review("outage-1", &review).await.status(), 201);

    cluster.stop().await.unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let down = client
        .post(app.url("/v1/articles/outage-1/reviews"))
        .json(&review)
        .send()
        .await
        .expect("an answer, not a hang");
    assert_eq!(down.headers()["retry-after"], "1");
    expect_problem(down, 503).await;
    for path in [
        "/readyz",
        "/v1/articles/outage-1/reviews",
        "/v1/articles/outage-1/stats",
    ] {
        let response = client
            .get(app.url(path))
            .send()
            .await
            .expect("an answer, not a hang");
        expect_problem(response, 503).await;
    }
    let health = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the process itself is alive");

    cluster
        .start(ClusterOptions { durable: false })
        .await
        .unwrap();
    let (recovered, meanwhile) = post_until_created(
        &client,
        &app.url("/v1/articles/outage-1/reviews"),
        &json!({"rating": 5, "body": "after the outage"}),
        Duration::from_secs(10),
        Duration::from_millis(100),
    )
    .await;
    assert!(
        meanwhile.iter().all(|status| *status == 503),
        "only 503 while recovering: {meanwhile:?}"
    );
    assert!(
        recovered.is_some(),
        "the service recovers without a restart"
    );
    let stats = app.get_json("/v1/articles/outage-1/stats").await;
    assert_eq!(stats["review_count"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_stopping_mid_load_gives_prompt_503s_then_recovers() {
    let (cluster, app) = app_on_own_cluster("midload").await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let target = app.url("/v1/articles/midload/reviews");
    let load_client = client.clone();
    // (status, seconds it took, the id a 201 acknowledged)
    let load = Load::start(8, Duration::from_millis(5), move |worker, i| {
        let client = load_client.clone();
        let target = target.clone();
        async move {
            let started = std::time::Instant::now();
            let review = json!({"rating": 3, "body": format!("worker {worker} #{i}")});
            let response = client
                .post(&target)
                .json(&review)
                .send()
                .await
                .expect("an answer");
            let status = response.status().as_u16();
            let seconds = started.elapsed().as_secs_f64();
            let answer: serde_json::Value = response.json().await.unwrap_or_default();
            if status == 503 {
                assert_eq!(answer["status"], 503);
            }
            let id = answer["id"]
                .as_str()
                .filter(|_| status == 201)
                .map(str::to_owned);
            (status, seconds, id)
        }
    });
    until(GENEROUS, "a review stored under load", || async {
        app.count("SELECT count(*) AS n FROM reviews").await > 0
    })
    .await;
    cluster.stop().await.unwrap();
    tokio::time::sleep(OUTAGE).await; // the outage itself
    cluster
        .start(ClusterOptions { durable: false })
        .await
        .unwrap();
    // How fast it recovers is the bench's business; that it does, within a generous deadline,
    // is this test's.
    let (recovered_after, _) = post_until_created(
        &client,
        &app.url("/v1/articles/midload/reviews"),
        &json!({"rating": 4, "body": "probe"}),
        GENEROUS,
        Duration::from_millis(50),
    )
    .await;
    let answers = load.stop().await;
    assert!(answers.iter().any(|(status, _, _)| *status == 201));
    assert!(
        answers.iter().any(|(status, _, _)| *status == 503),
        "the outage was seen"
    );
    for (status, seconds, _) in &answers {
        assert!(matches!(status, 201 | 503), "only 201 or 503, got {status}");
        // Prompt means "not waiting for PostgreSQL to come back": the outage lasts longer than
        // this bound, which still leaves a loaded machine room.
        if *status == 503 {
            assert!(*seconds < OUTAGE.as_secs_f64(), "a 503 took {seconds:.3}s");
        }
    }
    recovered_after.expect("serves again after PostgreSQL returns");
    // Every acknowledged review is stored: each read back by its id, through the API and in the
    // table (so a failure tells a lost commit from a review that is stored but not shown).
    let acknowledged: Vec<&String> = answers
        .iter()
        .filter_map(|(_, _, id)| id.as_ref())
        .collect();
    assert!(!acknowledged.is_empty());
    for id in &acknowledged {
        let rows = app
            .count(&format!(
                "SELECT count(*) AS n FROM reviews WHERE id = '{id}'"
            ))
            .await;
        assert_eq!(rows, 1, "acknowledged review {id} is in the table");
        let read = client
            .get(app.url(&format!("/v1/reviews/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200, "acknowledged review {id} is published");
    }
    // A commit whose answer was cut off by the outage may exist without its 201; never the
    // reverse. The stats agree with what is stored.
    let created = acknowledged.len() as i64 + 1;
    let stored = app.count("SELECT count(*) AS n FROM reviews").await;
    assert!(stored >= created, "{stored} stored, {created} acknowledged");
    let counted = app
        .count("SELECT sum(review_count) AS n FROM article_stats WHERE article_id = 'midload'")
        .await;
    assert_eq!(counted, stored);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exhausted_pool_answers_503_instead_of_hanging() {
    let app = crate::common::spawn_app_with(|settings| {
        settings.database.pool_size = 2;
        settings.database.acquire_timeout = Duration::from_millis(300);
        settings.database.statement_timeout = Duration::from_secs(600);
    })
    .await;
    // Slow queries hold every pooled connection until the test cancels them, however long the
    // probes below take on a loaded machine.
    let mut sleepers = Vec::new();
    for _ in 0..2 {
        let pool = app.pool.clone();
        sleepers.push(tokio::spawn(async move {
            use diesel_async::RunQueryDsl;
            let mut conn = pool.get().await.unwrap();
            // Ends in an error when cancelled, as it should.
            let _ = diesel::sql_query("SELECT pg_sleep(600) /* held */")
                .execute(&mut conn)
                .await;
        }));
    }
    // Wait until both connections are checked out by the sleepers.
    until(
        GENEROUS,
        "both connections held by the sleepers",
        || async { app.pool.status().available == 0 && app.pool.status().size >= 2 },
    )
    .await;
    // A hang would last as long as the sleepers (600 s); the client gives up long before.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for path in ["/v1/articles/busy/stats", "/readyz"] {
        let response = client
            .get(app.url(path))
            .send()
            .await
            .expect("an answer, not a hang");
        expect_problem(response, 503).await;
    }
    // Cancel until both sleepers have ended: a sleeper whose query had not reached
    // pg_stat_activity yet is caught on a later round instead of holding the test for 600 s.
    until(GENEROUS, "both sleepers cancelled", || async {
        use diesel_async::RunQueryDsl;
        let mut conn = diesel_async::AsyncPgConnection::establish(&app.database_url)
            .await
            .unwrap();
        diesel::sql_query(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
             WHERE query LIKE 'SELECT pg_sleep(600) /* held */%' AND pid <> pg_backend_pid()",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sleepers.iter().all(|sleeper| sleeper.is_finished())
    })
    .await;
    for sleeper in sleepers {
        sleeper.await.unwrap();
    }
    let stats = app.get_json("/v1/articles/busy/stats").await;
    assert_eq!(
        stats["review_count"], 0,
        "served again once connections are free"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_database_costs_a_bounded_wait_then_503_and_recovery() {
    use nix::sys::signal::Signal;
    let statement_timeout = Duration::from_millis(1000);
    let (cluster, app) = app_on_own_cluster_with("frozen", move |settings: &mut Settings| {
        settings.database.statement_timeout = statement_timeout;
        settings.server.read_cache_ttl = Duration::ZERO;
    })
    .await;
    assert_eq!(
        app.post_review("frozen", &json!({"rating": 4, "body": "before"}))
            .await
            .status(),
        201
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    // A bounded wait: the statement timeout and room for a loaded machine, still well short of
    // the freeze, so a request that waited for PostgreSQL to thaw is caught.
    let bound = statement_timeout + Duration::from_secs(7);
    let freeze = Duration::from_secs(15);

    let frozen = cluster_processes(&cluster);
    signal_all(&frozen, Signal::SIGSTOP);
    let app_url = app.address.clone();
    let load = Load::start(6, Duration::ZERO, move |worker, i| {
        let client = client.clone();
        let app_url = app_url.clone();
        async move {
            let started = std::time::Instant::now();
            let request = match worker % 3 {
                0 => client
                    .post(format!("{app_url}/v1/articles/frozen/reviews"))
                    .json(&json!({"rating": 3, "body": format!("frozen {worker}/{i}")})),
                1 => client.get(format!("{app_url}/v1/articles/frozen/reviews")),
                _ => client.get(format!("{app_url}/readyz")),
            };
            let response = request.send().await.expect("an answer");
            let status = response.status().as_u16();
            let took = started.elapsed();
            let answer: serde_json::Value = response.json().await.unwrap_or_default();
            let id = answer["id"]
                .as_str()
                .filter(|_| status == 201)
                .map(str::to_owned);
            (worker % 3, status, took, id)
        }
    });
    tokio::time::sleep(freeze).await;
    signal_all(&frozen, Signal::SIGCONT);
    let (recovered, _) = post_until_created(
        &app.client,
        &app.url("/v1/articles/frozen/reviews"),
        &json!({"rating": 5, "body": "after"}),
        GENEROUS,
        Duration::from_millis(100),
    )
    .await;
    let answers = load.stop().await;
    assert!(recovered.is_some(), "serves again once PostgreSQL runs");
    assert!(
        answers.iter().any(|(_, status, _, _)| *status == 503),
        "the stall was seen"
    );
    for (kind, status, took, _) in &answers {
        assert!(
            matches!(status, 200 | 201 | 503),
            "kind {kind}: got {status}"
        );
        assert!(
            *took <= bound,
            "kind {kind} ({status}) took {took:?}, over {bound:?}"
        );
    }
    // Every acknowledged review is stored: each read back by its id.
    let acknowledged: Vec<&String> = answers
        .iter()
        .filter_map(|(_, _, _, id)| id.as_ref())
        .collect();
    for id in &acknowledged {
        let read = app.get(&format!("/v1/reviews/{id}")).await;
        assert_eq!(read.status(), 200, "acknowledged review {id} is stored");
    }
    let created = acknowledged.len() as i64 + 2;
    let stored = app.count("SELECT count(*) AS n FROM reviews").await;
    assert!(stored >= created, "{stored} stored, {created} acknowledged");
}
