//! How the HTTP server listens, what it accepts and how public reads are cached.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use super::units::{millis, seconds};
use super::{LogFormat, UnknownArticles};

#[derive(Debug, Clone, Args)]
pub struct Server {
    /// Address the HTTP server listens on.
    #[arg(long, env = "MARGINALIA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Log line format.
    #[arg(long, env = "MARGINALIA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Origins allowed to call the API from a browser, comma-separated; `*` allows any origin.
    /// Empty: no cross-origin access.
    #[arg(
        long,
        env = "MARGINALIA_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub cors_origins: Vec<String>,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MARGINALIA_BODY_LIMIT", default_value_t = 256 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=16 * 1024 * 1024))]
    pub body_limit: u64,

    /// Longest a client may take to send a request body, in milliseconds; slower gets a 408.
    #[arg(long = "body-read-timeout-ms", env = "MARGINALIA_BODY_READ_TIMEOUT_MS", default_value = "10000",
          value_name = "BODY_READ_TIMEOUT_MS", value_parser = millis(100..=300_000))]
    pub body_read_timeout: Duration,

    /// Most client connections open at once (all workers together); more wait to be accepted.
    #[arg(long, env = "MARGINALIA_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// Serve Prometheus metrics at `/metrics` on this separate address, without authentication
    /// (e.g. `127.0.0.1:9090`, reachable only by the scraper). Unset: `/metrics` on the main
    /// address, for API keys with scope `admin`.
    #[arg(long, env = "MARGINALIA_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// `accept` creates an article on its first review; `reject` answers 404 for unknown articles.
    #[arg(long, env = "MARGINALIA_UNKNOWN_ARTICLES", value_enum, default_value_t = UnknownArticles::Accept)]
    pub unknown_articles: UnknownArticles,

    /// How long stats and first pages of reviews may be served from memory, in milliseconds (0:
    /// always read the database). Reviews submitted through this process show at once regardless.
    #[arg(long = "read-cache-ms", env = "MARGINALIA_READ_CACHE_MS", default_value = "1000",
          value_name = "READ_CACHE_MS", value_parser = millis(0..=60_000))]
    pub read_cache_ttl: Duration,

    /// Seconds browsers and CDNs may reuse a public read (stats, pages of reviews, a review, an
    /// article) without asking again; 0: they revalidate every time (a cheap 304 when unchanged).
    #[arg(long, env = "MARGINALIA_HTTP_MAX_AGE", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=86_400))]
    pub http_max_age: u32,

    /// Seconds after `MARGINALIA_HTTP_MAX_AGE` a cache may keep answering with a public read
    /// while it revalidates in the background.
    #[arg(long, env = "MARGINALIA_HTTP_STALE_WHILE_REVALIDATE", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(0..=86_400))]
    pub http_stale_while_revalidate: u32,

    /// Compress answers with gzip or brotli when the client accepts it. Off by default: on two
    /// cores it cut a cached first page from ~30,000 to ~2,200 answers a second; a CDN or proxy
    /// in front compresses more cheaply (see docs/benchmarks.md).
    #[arg(long, env = "MARGINALIA_COMPRESSION", default_value_t = false, action = clap::ArgAction::Set)]
    pub compression: bool,

    /// HTTP worker threads (0: one per CPU core).
    #[arg(long, env = "MARGINALIA_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Seconds the service keeps serving after SIGINT/SIGTERM while `/readyz` answers 503 and
    /// every answer closes its connection, so a load balancer takes the node out of rotation
    /// before it stops accepting. Behind one, set it above the health check's interval times its
    /// fall count (e.g. 2 for checks every 500 ms that fail after 2); alone, 0.
    #[arg(long = "drain-secs", env = "MARGINALIA_DRAIN_SECS", default_value = "0",
          value_name = "DRAIN_SECS", value_parser = seconds(0..=600))]
    pub drain: Duration,

    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM (and the drain).
    #[arg(long = "shutdown-timeout-secs", env = "MARGINALIA_SHUTDOWN_TIMEOUT", default_value = "30",
          value_name = "SHUTDOWN_TIMEOUT_SECS", value_parser = seconds(0..=u64::MAX))]
    pub shutdown_timeout: Duration,
}

impl Server {
    pub fn body_limit_bytes(&self) -> usize {
        usize::try_from(self.body_limit).unwrap_or(usize::MAX)
    }
}
