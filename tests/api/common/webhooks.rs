//! Both ends of a webhook as tests need them: a real HTTP receiver that records what it gets and
//! answers as told, and a CMS that signs its events with the reference Standard Webhooks library.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;
use tokio::sync::Notify;

use super::{TestApp, CMS_SECRET};

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Whether the reference implementation accepts the request's signature under `secret`.
    pub fn verifies_with(&self, secret: &str) -> bool {
        let mut headers = http::HeaderMap::new();
        for (name, value) in [
            ("webhook-id", &self.id),
            ("webhook-timestamp", &self.timestamp),
            ("webhook-signature", &self.signature),
        ] {
            headers.insert(name, value.parse().expect("a header value"));
        }
        standardwebhooks::Webhook::new(secret)
            .expect("a secret")
            .verify(&self.body, &headers)
            .is_ok()
    }
}

struct ReceiverState {
    requests: Mutex<Vec<Received>>,
    /// Requests still to answer with 500 before answering 200.
    failures_left: AtomicUsize,
    /// How long to wait before answering.
    delay_ms: AtomicUsize,
    /// Answer `302 Found` to this URL instead.
    redirect_to: Mutex<Option<String>>,
    /// The body of a 200 answer (`ok` unless told).
    ok_body: Mutex<Vec<u8>>,
    arrived: Notify,
}

/// A webhook receiver on a loopback port, running until the test ends.
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
    server: actix_web::dev::ServerHandle,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let server = self.server.clone();
        tokio::spawn(async move { server.stop(false).await });
    }
}

impl Receiver {
    /// A receiver answering 500 to its first `failures` requests, then 200.
    pub fn start(failures: usize) -> Self {
        let state = Arc::new(ReceiverState {
            requests: Mutex::new(Vec::new()),
            failures_left: AtomicUsize::new(failures),
            delay_ms: AtomicUsize::new(0),
            redirect_to: Mutex::new(None),
            ok_body: Mutex::new(b"ok".to_vec()),
            arrived: Notify::new(),
        });
        let shared = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("a receiver port");
        let address = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://{address}/hooks"),
            state,
            server: handle,
        }
    }

    /// Answers 500 to the next `failures` requests.
    pub fn fail_next(&self, failures: usize) {
        self.state.failures_left.store(failures, Ordering::SeqCst);
    }

    pub fn delay_answers(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as usize, Ordering::SeqCst);
    }

    /// Answers every request with a redirect to `url`.
    pub fn redirect_to(&self, url: &str) {
        *self.state.redirect_to.lock().unwrap() = Some(url.to_owned());
    }

    /// Answers 200 with these bytes (a NUL-bearing or non-UTF-8 body, say).
    pub fn answer_ok_with(&self, body: &[u8]) {
        *self.state.ok_body.lock().unwrap() = body.to_vec();
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The requests answered 200.
    pub fn accepted(&self) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|request| request.status == 200)
            .collect()
    }

    /// Waits until `done` holds for the requests so far (or fails the test after `within`).
    pub async fn wait_until(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let arrived = self.state.arrived.notified();
            let requests = self.requests();
            if done(&requests) {
                return requests;
            }
            let now = tokio::time::Instant::now();
            assert!(
                now < deadline,
                "waited {within:?} for {what}; the receiver got {} requests",
                requests.len()
            );
            // Re-checked at least every 100 ms, as the flag may have turned without a request.
            let _ = tokio::time::timeout((deadline - now).min(Duration::from_millis(100)), arrived)
                .await;
        }
    }

    /// Waits for `count` distinct message ids answered 200.
    pub async fn wait_for_messages(&self, count: usize, within: Duration) -> Vec<Received> {
        self.wait_until(within, &format!("{count} delivered messages"), |requests| {
            distinct_ids(requests.iter().filter(|r| r.status == 200)) >= count
        })
        .await
    }
}

pub fn distinct_ids<'a>(requests: impl Iterator<Item = &'a Received>) -> usize {
    requests
        .map(|r| r.id.as_str())
        .collect::<HashSet<_>>()
        .len()
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    let failing = state
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    let redirect = state.redirect_to.lock().unwrap().clone();
    let status = match (&redirect, failing) {
        (Some(_), _) => 302,
        (None, true) => 500,
        (None, false) => 200,
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    state.requests.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: body.to_vec(),
        status,
    });
    state.arrived.notify_waiters();
    if let Some(target) = redirect {
        HttpResponse::Found()
            .insert_header(("location", target))
            .finish()
    } else if failing {
        HttpResponse::InternalServerError().body("receiver is failing on purpose")
    } else {
        HttpResponse::Ok().body(state.ok_body.lock().unwrap().clone())
    }
}

/// A CMS event body: the Standard Webhooks envelope.
pub fn cms_event(event_type: &str, timestamp: chrono::DateTime<chrono::Utc>, data: Value) -> Value {
    serde_json::json!({
        "type": event_type,
        "timestamp": timestamp.to_rfc3339(),
        "data": data,
    })
}

impl TestApp {
    /// Sends a CMS event signed by the reference library with the test CMS secret.
    pub async fn send_cms_event(&self, webhook_id: &str, event: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(event).unwrap();
        let timestamp = chrono::Utc::now().timestamp();
        let signature = standardwebhooks::Webhook::new(CMS_SECRET)
            .unwrap()
            .sign(webhook_id, timestamp, &body)
            .unwrap();
        self.send_signed(webhook_id, &timestamp.to_string(), &signature, body)
            .await
    }

    /// Sends a body to the CMS endpoint with these webhook headers, as given.
    pub async fn send_signed(
        &self,
        webhook_id: &str,
        timestamp: &str,
        signature: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        self.client
            .post(self.url("/v1/webhooks/cms"))
            .header("content-type", "application/json")
            .header("webhook-id", webhook_id)
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Registers an endpoint through the API with an admin key; returns it (with its secret).
    pub async fn create_endpoint(&self, admin_key: &str, body: Value) -> Value {
        let response = self
            .client
            .post(self.url("/v1/webhook-endpoints"))
            .bearer_auth(admin_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "endpoint created");
        response.json().await.unwrap()
    }

    /// `method path` with an API key, and a JSON body when given.
    pub async fn with_key(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// `GET path` with an API key.
    pub async fn get_with_key(&self, key: &str, path: &str) -> reqwest::Response {
        self.with_key(key, reqwest::Method::GET, path, None).await
    }

    /// Registers an endpoint at `url` for one event type; returns it (with its secret).
    pub async fn subscribe(&self, admin_key: &str, url: &str, event_type: &str) -> Value {
        self.create_endpoint(
            admin_key,
            serde_json::json!({"url": url, "event_types": [event_type]}),
        )
        .await
    }

    /// GET with a bearer key, as JSON, expecting 200.
    pub async fn get_json_with_key(&self, key: &str, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }
}
