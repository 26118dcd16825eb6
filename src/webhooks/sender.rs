//! Sends one signed POST to a receiver: no redirects, no proxies, a bounded time, a bounded
//! excerpt of the answer, and only to addresses the target policy allows, checked on the very
//! addresses the connection uses (so a name re-resolving to a private address between a check
//! and the connection cannot slip through).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};

use super::address::{self, TargetPolicy};
use crate::domain::webhook::WebhookUrl;

/// How much of a receiver's answer the delivery log keeps.
pub const EXCERPT_BYTES: usize = 1024;
/// Longest error text the delivery log keeps.
const ERROR_CHARS: usize = 500;

/// The words an operator (and the test harness) looks for in the log when a loopback-only
/// worker was pointed elsewhere.
pub const NON_LOOPBACK_REFUSED: &str = "non-loopback webhook target refused";

/// Resolves names with the system resolver and refuses any answer that includes an address the
/// policy does not allow. Loopback-only, it never asks the system resolver: `localhost` is
/// answered here and every other name is refused.
struct GuardedResolver {
    policy: TargetPolicy,
    loopback_only: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let loopback_only = self.loopback_only;
        Box::pin(async move {
            let found: Vec<SocketAddr> = if !loopback_only {
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect()
            } else if address::is_localhost_name(name.as_str()) {
                vec![
                    SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)),
                    SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0)),
                ]
            } else {
                // `post` refuses such names before sending; this is the second lock.
                refuse_non_loopback(name.as_str());
                return Err(NON_LOOPBACK_REFUSED.into());
            };
            let allowed = address::check_resolved(found, policy)?;
            let addresses: Addrs = Box::new(allowed.into_iter());
            Ok(addresses)
        })
    }
}

/// What one POST came to.
#[derive(Debug, Clone)]
pub struct Sent {
    pub status_code: Option<u16>,
    pub response_excerpt: Option<String>,
    /// Why no answer came (refused address, connection error, timeout).
    pub error: Option<String>,
    pub latency: Duration,
}

impl Sent {
    pub fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

/// The outbound HTTP client.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: TargetPolicy,
    /// `MARGINALIA_WEBHOOK_LOOPBACK_ONLY`: reach nothing but this machine.
    loopback_only: bool,
}

impl Sender {
    pub fn new(
        policy: TargetPolicy,
        loopback_only: bool,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .dns_resolver(std::sync::Arc::new(GuardedResolver {
                policy,
                loopback_only,
            }))
            .user_agent(concat!("Marginalia-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            policy,
            loopback_only,
        })
    }

    /// POSTs `body` with the Standard Webhooks headers.
    pub async fn post(
        &self,
        url: &str,
        message_id: &str,
        timestamp: i64,
        signature: &str,
        body: Vec<u8>,
    ) -> Sent {
        let started = Instant::now();
        let refused = |error: String| Sent {
            status_code: None,
            response_excerpt: None,
            error: Some(bounded(&error, ERROR_CHARS)),
            latency: started.elapsed(),
        };
        // The stored URL was checked when it was saved; check again, as the policy may have
        // changed since, and IP literals never reach the resolver.
        let target = match WebhookUrl::parse(url) {
            Ok(target) => target,
            Err(_) => return refused("the endpoint URL is not a valid http(s) URL".into()),
        };
        // Before anything that could touch the network, the resolver included.
        if self.loopback_only && !address::is_loopback_target(target.url()) {
            refuse_non_loopback(target.url().host_str().unwrap_or_default());
            return refused(format!(
                "{NON_LOOPBACK_REFUSED}: MARGINALIA_WEBHOOK_LOOPBACK_ONLY allows only \
                 127.0.0.0/8, ::1 and localhost"
            ));
        }
        if let Err(error) = address::check_literal_host(target.url(), self.policy) {
            return refused(format!("address refused: {error}"));
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in [
            ("webhook-id", message_id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature.to_owned()),
        ] {
            match HeaderValue::from_str(&value) {
                Ok(value) => headers.insert(name, value),
                Err(_) => return refused(format!("cannot send the {name} header")),
            };
        }
        let sent = self
            .client
            .post(target.url().clone())
            .headers(headers)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return refused(describe(&error)),
        };
        let status_code = Some(response.status().as_u16());
        let mut excerpt = Vec::new();
        let mut read_error = None;
        while excerpt.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(error) => {
                    read_error = Some(bounded(&describe(&error), ERROR_CHARS));
                    break;
                }
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        let response_excerpt = (!excerpt.is_empty()).then(|| excerpt_text(&excerpt));
        Sent {
            status_code,
            response_excerpt,
            error: read_error,
            latency: started.elapsed(),
        }
    }
}

impl Sender {
    /// GETs a JSON document of at most `limit` bytes (a site's JSON Web Key Set), under the same
    /// guards as a delivery: no redirect, no proxy, the address policy, loopback only when set.
    pub async fn fetch_json(&self, url: &str, limit: usize) -> Result<serde_json::Value, String> {
        let target = WebhookUrl::parse(url).map_err(|_| "not a valid http(s) URL".to_owned())?;
        if self.loopback_only && !address::is_loopback_target(target.url()) {
            refuse_non_loopback(target.url().host_str().unwrap_or_default());
            return Err(NON_LOOPBACK_REFUSED.to_owned());
        }
        address::check_literal_host(target.url(), self.policy)
            .map_err(|error| format!("address refused: {error}"))?;
        let mut response = self
            .client
            .get(target.url().clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|error| describe(&error))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| describe(&error))? {
            body.extend_from_slice(&chunk);
            if body.len() > limit {
                return Err(format!("larger than {limit} bytes"));
            }
        }
        serde_json::from_slice(&body).map_err(|error| format!("not JSON: {error}"))
    }
}

/// Reports a target a loopback-only sender will not reach: loudly, as it means a test, fuzz or
/// benchmark run tried to send something off the machine.
fn refuse_non_loopback(host: &str) {
    crate::metrics::record_webhook_non_loopback_refused();
    tracing::error!(host, "{NON_LOOPBACK_REFUSED}");
}

/// An error with its causes: reqwest's own message alone hides why a connection failed.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn bounded(text: &str, max_chars: usize) -> String {
    storable(&text.chars().take(max_chars).collect::<String>())
}

/// Text as PostgreSQL can store it: a receiver's answer may hold NUL characters, which a `text`
/// column refuses (and an attempt that cannot be recorded would be retried forever).
fn storable(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// A receiver's answer as the delivery log keeps it: any bytes (a GIF pixel, UTF-16, gzip) become
/// storable text, invalid UTF-8 and NULs replaced by U+FFFD.
fn excerpt_text(bytes: &[u8]) -> String {
    storable(&String::from_utf8_lossy(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_text_is_storable_and_bounded() {
        assert_eq!(storable("a\0b"), "a\u{FFFD}b");
        assert_eq!(bounded("ééé", 2), "éé");
        assert_eq!(excerpt_text(b"ok\0\0"), "ok\u{FFFD}\u{FFFD}");
        assert_eq!(
            excerpt_text(b"GIF89a\x01\0\xff"),
            "GIF89a\u{1}\u{FFFD}\u{FFFD}"
        );
        assert_eq!(
            excerpt_text(&[0xff, 0xfe, b'o', 0]),
            "\u{FFFD}\u{FFFD}o\u{FFFD}"
        );
    }
}
