//! The zero-configuration mode: the built binary runs its own PostgreSQL under a data directory,
//! survives being killed, and stops its cluster on SIGTERM.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{
    free_port, scrape_metrics, wait_ready, without_edit_token, world_searchable_tempdir, Load,
    ServiceProcess,
};
use marginalia::db::embedded::EmbeddedPostgres;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

fn start_service(dir: &Path, port: u16) -> ServiceProcess {
    start_service_with(dir, port, &[])
}

fn start_service_with(dir: &Path, port: u16, env: &[(&str, String)]) -> ServiceProcess {
    Command::new(env!("CARGO_BIN_EXE_marginalia"))
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .arg("serve")
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("MARGINALIA_DATA_DIR", dir.join("data"))
        .env("MARGINALIA_BIND", format!("127.0.0.1:{port}"))
        .env("MARGINALIA_WORKERS", "1")
        // The probes all come from 127.0.0.1; the per-address limit would refuse them.
        .env("MARGINALIA_RATE_LIMIT_REVIEWS", "0")
        // Nothing a test starts may send off this machine.
        .env("MARGINALIA_WEBHOOK_LOOPBACK_ONLY", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("service-{port}.log"))).unwrap())
        .spawn()
        .map(ServiceProcess)
        .expect("the binary starts")
}

/// Starts the service again on the same data directory and reads `path` from it.
async fn restart_and_read(
    dir: &Path,
    client: &reqwest::Client,
    path: &str,
) -> (ServiceProcess, Value) {
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
    let (dir, cluster) = data_directory();
    let client = client();

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
    assert_eq!(read, without_edit_token(created.clone()));

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
    assert_eq!(
        read,
        without_edit_token(created.clone()),
        "a committed review survives a crash"
    );

    // 3. SIGTERM: graceful stop, cluster stopped too.
    kill(Pid::from_raw(service.id() as i32), Signal::SIGTERM).unwrap();
    let status = service.wait().unwrap();
    assert!(status.success(), "clean exit, got {status}");
    assert!(
        !cluster.pgdata().join("postmaster.pid").exists(),
        "the private cluster is stopped on SIGTERM"
    );
}

/// A throwaway data directory whose cluster never outlives this test process.
fn data_directory() -> (std::path::PathBuf, EmbeddedPostgres) {
    let dir = world_searchable_tempdir();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let cluster = EmbeddedPostgres::new(&data).unwrap();
    cluster
        .discard_when_process_exits(std::process::id())
        .unwrap();
    (dir, cluster)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Runs a `marginalia` subcommand on the private cluster of `dir`'s data directory.
fn run_on_data_dir(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_marginalia"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("MARGINALIA_DATA_DIR", dir.join("data"))
        .env("MARGINALIA_BIND", format!("127.0.0.1:{}", free_port()))
        .output()
        .expect("the binary runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn one_serve_owns_a_data_directory_and_admin_commands_leave_it_running() {
    let (dir, _cluster) = data_directory();
    let client = client();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut owner = start_service(&dir, port);
    wait_ready(&client, &base, &mut owner).await;

    // A second serve on the same directory refuses at once and says why.
    let second = run_on_data_dir(&dir, &["serve"]);
    assert!(!second.status.success());
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(
        message.contains(&owner.id().to_string()),
        "names the owner's pid: {message}"
    );
    assert!(message.contains("DATABASE_URL"), "{message}");
    assert!(
        message.contains(&dir.join("data").display().to_string()),
        "{message}"
    );

    // An admin command uses the owner's cluster and leaves it running.
    let keys = run_on_data_dir(
        &dir,
        &["keys", "create", "--name", "ops", "--scope", "admin"],
    );
    assert!(
        keys.status.success(),
        "{}",
        String::from_utf8_lossy(&keys.stderr)
    );

    let review = client
        .post(format!("{base}/v1/articles/owned/reviews"))
        .json(&json!({"rating": 5, "body": "still served"}))
        .send()
        .await
        .unwrap();
    assert_eq!(review.status(), 201, "the owner keeps serving");
    kill(Pid::from_raw(owner.id() as i32), Signal::SIGTERM).unwrap();
    assert!(owner.wait().unwrap().success());

    // With no serve running, an admin command starts the cluster and stops it again.
    let keys = run_on_data_dir(&dir, &["keys", "list"]);
    assert!(
        keys.status.success(),
        "{}",
        String::from_utf8_lossy(&keys.stderr)
    );
    assert!(String::from_utf8_lossy(&keys.stdout).contains("ops"));
    assert!(
        !dir.join("data/postgres/postmaster.pid").exists(),
        "the admin command stopped the cluster it started"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_restarts_its_cluster_when_postgres_is_killed() {
    let (dir, cluster) = data_directory();
    let client = client();
    let port = free_port();
    let metrics_port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut service = start_service_with(
        &dir,
        port,
        &[(
            "MARGINALIA_METRICS_BIND",
            format!("127.0.0.1:{metrics_port}"),
        )],
    );
    wait_ready(&client, &base, &mut service).await;

    let writers = {
        let client = client.clone();
        let base = base.clone();
        Load::start(2, Duration::from_millis(20), move |writer, i| {
            let client = client.clone();
            let base = base.clone();
            async move {
                let response = client
                    .post(format!("{base}/v1/articles/supervised/reviews"))
                    .json(&json!({"rating": 4, "body": format!("writer {writer} #{i}")}))
                    .send()
                    .await
                    .expect("the service itself keeps answering");
                let status = response.status().as_u16();
                let id = if status == 201 {
                    let created: Value = response.json().await.unwrap();
                    created["id"].as_str().map(str::to_owned)
                } else {
                    None
                };
                (status, id)
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let postmaster = postmaster_pid(cluster.pgdata()).expect("postmaster.pid");
    kill(Pid::from_raw(postmaster), Signal::SIGKILL).unwrap();
    let killed = std::time::Instant::now();
    let mut recovered = None;
    let mut attempt = 0;
    while killed.elapsed() < Duration::from_secs(10) {
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let probe = client
            .post(format!("{base}/v1/articles/supervised/reviews"))
            .json(&json!({"rating": 5, "body": format!("probe {attempt}")}))
            .send()
            .await
            .unwrap();
        if probe.status() == 201 && postmaster_pid(cluster.pgdata()) != Some(postmaster) {
            recovered = Some(killed.elapsed());
            break;
        }
    }
    let answers = writers.stop().await;
    let recovered = recovered.expect("serving again within 10 s, without restarting serve");
    assert!(
        service.try_wait().unwrap().is_none(),
        "serve was not restarted"
    );
    assert!(answers
        .iter()
        .all(|(status, _)| matches!(status, 201 | 503)));
    let acknowledged: Vec<&String> = answers.iter().filter_map(|(_, id)| id.as_ref()).collect();
    assert!(!acknowledged.is_empty());
    for id in acknowledged {
        let read = client
            .get(format!("{base}/v1/reviews/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200, "acknowledged review {id} is stored");
    }
    // The supervisor counts the restart once its own check of the new cluster returns, which
    // may be a moment after requests are served again.
    let counted = "marginalia_embedded_cluster_restarts_total 1";
    let mut metrics = scrape_metrics(&client, metrics_port).await;
    let counting = std::time::Instant::now();
    while !metrics.contains(counted) && counting.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        metrics = scrape_metrics(&client, metrics_port).await;
    }
    assert!(
        metrics.contains(counted),
        "the restart is counted: {metrics}"
    );
    eprintln!("recovered after {recovered:?}");
    kill(Pid::from_raw(service.id() as i32), Signal::SIGTERM).unwrap();
    assert!(service.wait().unwrap().success());
}
