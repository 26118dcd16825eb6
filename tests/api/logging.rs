//! The service's log as a file holds it: plain text, without terminal colour codes.

use std::time::{Duration, Instant};

use crate::common::{free_port, spawn_app, start_binary, wait_ready};

#[tokio::test]
async fn a_log_written_to_a_file_has_no_colour_codes() {
    let app = spawn_app().await;
    let log = tempfile::NamedTempFile::new().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // As `serve.log` is written: stderr to a file, so not a terminal; NO_COLOR empty, which
    // counts as unset, so that only the terminal check can keep colour out.
    let mut service = start_binary(
        &app.database_url,
        port,
        &[("RUST_LOG", "info".to_owned()), ("NO_COLOR", String::new())],
        Some(log.path()),
    );
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut service).await;
    let answer = client
        .get(format!("{base}/v1/articles/no-such-article"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    // The request's log line (with its status field, which colour would wrap) reaches the file.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read(log.path()).unwrap();
        if String::from_utf8_lossy(&text).contains("no-such-article") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the request was never logged: {}",
            String::from_utf8_lossy(&text)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    service.kill().unwrap();
    assert!(
        !text.contains(&0x1b),
        "the log holds ESC bytes: {}",
        String::from_utf8_lossy(&text).escape_debug()
    );
}
