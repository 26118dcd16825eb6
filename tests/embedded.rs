//! The zero-configuration mode: the built binary runs its own PostgreSQL under a data directory,
//! survives being killed, and stops its cluster on SIGTERM.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::world_searchable_tempdir;
use marginalia::db::embedded::EmbeddedPostgres;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_service(dir: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_marginalia"))
        .arg("serve")
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("MARGINALIA_DATA_DIR", dir.join("data"))
        .env("MARGINALIA_BIND", format!("127.0.0.1:{port}"))
        .env("MARGINALIA_WORKERS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("service-{port}.log"))).unwrap())
        .spawn()
        .expect("the binary starts")
}

async fn wait_ready(client: &reqwest::Client, base: &str, service: &mut Child) {
    for _ in 0..600 {
        if let Some(status) = service.try_wait().unwrap() {
            panic!("the service exited early with {status}");
        }
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the service did not become ready");
}

/// Starts the service again on the same data directory and reads `path` from it.
async fn restart_and_read(dir: &Path, client: &reqwest::Client, path: &str) -> (Child, Value) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut service = start_service(dir, port);
    wait_ready(client, &base, &mut service).await;
    let response = client.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path} after the restart");
    (service, response.json().await.unwrap())
}

fn postmaster_pid(pgdata: &Path) -> Option<i32> {
    std::fs::read_to_string(pgdata.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_without_configuration_and_keeps_reviews_across_kills() {
    let dir = world_searchable_tempdir();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Whatever happens below, the cluster must not outlive this test process.
    let cluster = EmbeddedPostgres::new(&data).unwrap();
    cluster
        .discard_when_process_exits(std::process::id())
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut service = start_service(&dir, port);
    wait_ready(&client, &base, &mut service).await;
    assert!(
        cluster.pgdata().join("PG_VERSION").exists(),
        "initdb ran under the data dir"
    );
    let created: Value = client
        .post(format!(
            "{base}/v1/articles/voa-2020-05-iskp-attacks/reviews"
        ))
        .json(&json!({"rating": 5, "body": "Пережила вбивство процесу"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let review_path = format!("/v1/reviews/{}", created["id"].as_str().unwrap());

    // 1. The service dies; its cluster keeps running and the next start reuses it.
    service.kill().unwrap();
    service.wait().unwrap();
    let (mut service, read) = restart_and_read(&dir, &client, &review_path).await;
    assert_eq!(read, created);

    // 2. The service and PostgreSQL both die, leaving a stale postmaster.pid behind.
    service.kill().unwrap();
    service.wait().unwrap();
    let postmaster = postmaster_pid(cluster.pgdata()).expect("postmaster.pid");
    kill(Pid::from_raw(postmaster), Signal::SIGKILL).unwrap();
    assert!(
        cluster.pgdata().join("postmaster.pid").exists(),
        "the pid file is stale now"
    );
    let (mut service, read) = restart_and_read(&dir, &client, &review_path).await;
    assert_eq!(read, created, "a committed review survives a crash");

    // 3. SIGTERM: graceful stop, cluster stopped too.
    kill(Pid::from_raw(service.id() as i32), Signal::SIGTERM).unwrap();
    let status = service.wait().unwrap();
    assert!(status.success(), "clean exit, got {status}");
    assert!(
        !cluster.pgdata().join("postmaster.pid").exists(),
        "the private cluster is stopped on SIGTERM"
    );
}
