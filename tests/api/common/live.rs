//! A reader of the live streams, as a browser's `EventSource` reads them: events parsed from the
//! bytes as they arrive, comments (keep-alives) and `retry:` lines set aside.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use super::TestApp;

/// One event as received.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Option<String>,
    pub name: String,
    pub data: Value,
}

impl Event {
    /// The review id the event is about, if any (`data.id`).
    pub fn review_id(&self) -> Option<&str> {
        self.data["id"].as_str()
    }
}

pub struct EventStream {
    body: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = reqwest::Result<actix_web::web::Bytes>> + Send>,
    >,
    buffer: String,
    /// The last `id:` received, as a browser keeps it for `Last-Event-ID`.
    pub last_event_id: Option<String>,
    /// `retry:` values received.
    pub retries: Vec<u64>,
    pub ended: bool,
}

impl EventStream {
    /// Opens `path` on `app` (with `headers`), asserting a 200 event stream.
    pub async fn open(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Self {
        Self::open_url(&app.url(path), headers).await
    }

    /// Opens `url` (with `headers`), asserting a 200 event stream.
    pub async fn open_url(url: &str, headers: &[(&str, &str)]) -> Self {
        let response = Self::request_url(url, headers).await;
        assert_eq!(
            response.status(),
            200,
            "opening {url}: {:?}",
            response.text().await
        );
        Self::of(response)
    }

    /// The answer to opening `path` on `app`, whatever it is.
    pub async fn request(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        Self::request_url(&app.url(path), headers).await
    }

    pub async fn request_url(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        // No overall timeout: a stream lives as long as the test reads it.
        let client = reqwest::Client::new();
        let mut request = client.get(url).header("accept", "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the stream's request")
    }

    pub fn of(response: reqwest::Response) -> Self {
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
            last_event_id: None,
            retries: Vec::new(),
            ended: false,
        }
    }

    /// The next event, or `None` when the stream ended or `within` passed.
    pub async fn next(&mut self, within: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(event) = self.parse_one() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => return None,
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Some(Err(_)) | None) => self.ended = true,
            }
        }
    }

    /// Events until `done` holds for one (returned last), failing after `within`.
    pub async fn until(
        &mut self,
        within: Duration,
        what: &str,
        done: impl Fn(&Event) -> bool,
    ) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(event) => {
                    let found = done(&event);
                    seen.push(event);
                    if found {
                        return seen;
                    }
                }
                None => panic!(
                    "waited {within:?} for {what}; the stream ended: {}; got {seen:#?}",
                    self.ended
                ),
            }
        }
    }

    /// Every event that arrives within `window`.
    pub async fn during(&mut self, window: Duration) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + window;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return seen;
            }
            match self.next(left).await {
                Some(event) => seen.push(event),
                None => return seen,
            }
        }
    }

    /// One complete event from the buffer, if there is one (dispatching as the SSE spec does:
    /// a blank line ends an event; one without `event:` or `data:` dispatches nothing).
    fn parse_one(&mut self) -> Option<Event> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut id = None;
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if line.starts_with(':') || line.is_empty() {
                    continue;
                }
                let (field, value) = line.split_once(": ").unwrap_or((line, ""));
                match field {
                    "id" => id = Some(value.to_owned()),
                    "event" => name = Some(value.to_owned()),
                    "data" => data.push_str(value),
                    "retry" => self.retries.push(value.parse().expect("a numeric retry")),
                    other => panic!("unexpected field {other:?} in {block:?}"),
                }
            }
            if let Some(id) = &id {
                self.last_event_id = Some(id.clone());
            }
            if let Some(name) = name {
                let data =
                    serde_json::from_str(&data).unwrap_or_else(|error| panic!("{error}: {data:?}"));
                return Some(Event { id, name, data });
            }
        }
    }
}
