//! The service's one typed configuration, read from flags and environment and checked at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::domain::moderation::{ModerationMode, Rules};
use crate::domain::webhook::RetrySchedule;
use crate::webhooks::signature::Secret;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What a review for an article the CMS never registered does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnknownArticles {
    /// Create a bare article record on its first review.
    Accept,
    /// Answer 404 until the CMS registers the article.
    Reject,
}

/// Settings for `marginalia serve`; each flag also reads its environment variable.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// PostgreSQL URL. Unset: run a private cluster under the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Address the HTTP server listens on.
    #[arg(long, env = "MARGINALIA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Directory for the private PostgreSQL cluster (used only without DATABASE_URL).
    #[arg(long, env = "MARGINALIA_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Maximum number of pooled database connections.
    #[arg(long, env = "MARGINALIA_DB_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// Longest a request waits for a database connection before answering 503, in milliseconds.
    #[arg(long, env = "MARGINALIA_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 750,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub db_acquire_timeout_ms: u64,

    /// Longest a single SQL statement may run, in milliseconds.
    #[arg(long, env = "MARGINALIA_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub db_statement_timeout_ms: u64,

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
    #[arg(long, env = "MARGINALIA_BODY_READ_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=300_000))]
    pub body_read_timeout_ms: u64,

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
    #[arg(long, env = "MARGINALIA_READ_CACHE_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub read_cache_ms: u64,

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

    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "MARGINALIA_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,

    /// Secrets (`whsec_…`, comma-separated) that CMS events to `POST /v1/webhooks/cms` may be
    /// signed with; more than one while the CMS rotates its secret. Unset: inbound events are
    /// refused.
    #[arg(
        long,
        env = "MARGINALIA_CMS_WEBHOOK_SECRETS",
        value_delimiter = ',',
        default_value = "",
        hide_env_values = true
    )]
    pub cms_webhook_secrets: Vec<String>,

    /// Run the outbound webhook worker in this process.
    #[arg(long, env = "MARGINALIA_WEBHOOK_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhook_worker: bool,

    /// How often the worker looks for due deliveries (it also wakes at once when this process
    /// stores a change).
    #[arg(long, env = "MARGINALIA_WEBHOOK_POLL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub webhook_poll: Duration,

    /// Waits before each retry of a failed delivery, comma-separated (`5s,5m,30m,...`).
    #[arg(long, env = "MARGINALIA_WEBHOOK_RETRY_SCHEDULE", value_delimiter = ',',
          default_value = RetrySchedule::DEFAULT, value_parser = humantime::parse_duration)]
    pub webhook_retry_schedule: Vec<Duration>,

    /// Longest wait for a receiver's answer.
    #[arg(long, env = "MARGINALIA_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub webhook_timeout: Duration,

    /// Most deliveries one process sends at once.
    #[arg(long, env = "MARGINALIA_WEBHOOK_CONCURRENCY", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=512))]
    pub webhook_concurrency: u16,

    /// Allow receivers on loopback, private and link-local addresses (local development, or a
    /// receiver inside the newsroom's network).
    #[arg(long, env = "MARGINALIA_WEBHOOK_ALLOW_PRIVATE_TARGETS", default_value_t = false,
          action = clap::ArgAction::Set)]
    pub webhook_allow_private_targets: bool,

    /// Let the worker reach only this machine: 127.0.0.0/8, ::1 and the name `localhost`
    /// (answered locally, never asked of DNS). Any other target is refused before any network
    /// activity, logged at ERROR and counted in `marginalia_webhook_non_loopback_refused_total`.
    /// For test, fuzz and benchmark runs, which must send nothing off the machine. Loopback
    /// receivers need no `MARGINALIA_WEBHOOK_ALLOW_PRIVATE_TARGETS` then.
    #[arg(long, env = "MARGINALIA_WEBHOOK_LOOPBACK_ONLY", default_value_t = false,
          action = clap::ArgAction::Set)]
    pub webhook_loopback_only: bool,

    /// How long `article.stats_changed` gathers changes of one article into one event.
    #[arg(long, env = "MARGINALIA_WEBHOOK_STATS_WINDOW", default_value = "5s", value_parser = humantime::parse_duration)]
    pub webhook_stats_window: Duration,

    /// An endpoint whose every attempt has failed for this long is disabled.
    #[arg(long, env = "MARGINALIA_WEBHOOK_DISABLE_AFTER", default_value = "5days", value_parser = humantime::parse_duration)]
    pub webhook_disable_after: Duration,

    /// How long the old secret keeps signing after a rotation.
    #[arg(long, env = "MARGINALIA_WEBHOOK_ROTATION_GRACE", default_value = "24h", value_parser = humantime::parse_duration)]
    pub webhook_rotation_grace: Duration,

    /// How long finished deliveries, their log and processed CMS event ids are kept.
    #[arg(long, env = "MARGINALIA_WEBHOOK_RETENTION", default_value = "30days", value_parser = humantime::parse_duration)]
    pub webhook_retention: Duration,

    /// When new reviews become public: `post` (at once, unless a rule holds them) or `pre`
    /// (after a moderator approves). An article's own `moderation` overrides it.
    #[arg(long, env = "MARGINALIA_MODERATION", value_enum, default_value_t = ModerationMode::Post)]
    pub moderation: ModerationMode,

    /// Terms that hold a review for moderation (comma-separated; matched as whole words, in any
    /// case, after Unicode normalization).
    #[arg(
        long,
        env = "MARGINALIA_BANNED_TERMS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub banned_terms: Vec<String>,

    /// A file of banned terms, one per line (`#` starts a comment), added to the list above.
    #[arg(long, env = "MARGINALIA_BANNED_TERMS_FILE")]
    pub banned_terms_file: Option<PathBuf>,

    /// The site's languages: those a review without one may be detected as (ISO 639-1 codes,
    /// comma-separated, e.g. `uk,ru,en`); empty: any of the 69 the detector knows. Fewer is
    /// cheaper per submission and surer on short reviews.
    #[arg(long, env = "MARGINALIA_DETECT_LANGUAGES", value_delimiter = ',')]
    pub detect_languages: Vec<String>,

    /// More links than this in a review fires the `too_many_links` rule.
    #[arg(long, env = "MARGINALIA_MAX_LINKS", default_value_t = 2)]
    pub max_links: usize,

    /// Where each rule sends what it catches, `rule=pending|spam` comma-separated; unnamed rules
    /// keep their default (honeypot: spam; the others: pending).
    #[arg(long, env = "MARGINALIA_RULE_ACTIONS", default_value = "")]
    pub rule_actions: String,

    /// How long after submitting an author may edit a review with its edit token.
    #[arg(long, env = "MARGINALIA_EDIT_WINDOW", default_value = "15m", value_parser = humantime::parse_duration)]
    pub edit_window: Duration,

    /// Flags from distinct readers that take a published review back to the queue.
    #[arg(long, env = "MARGINALIA_FLAG_THRESHOLD", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub flag_threshold: u32,

    /// The name the newsroom's replies are shown under.
    #[arg(long, env = "MARGINALIA_NEWSROOM_NAME", default_value = "The newsroom")]
    pub newsroom_name: String,

    /// Reviews (submissions, edits, deletions) one client address may send a minute; 0 turns
    /// the limit off.
    #[arg(long, env = "MARGINALIA_RATE_LIMIT_REVIEWS", default_value_t = 10)]
    pub rate_limit_reviews: u32,

    /// Votes and flags one client address may send a minute; 0 turns the limit off.
    #[arg(long, env = "MARGINALIA_RATE_LIMIT_REACTIONS", default_value_t = 60)]
    pub rate_limit_reactions: u32,

    /// Proxies whose `X-Forwarded-For` names the client (addresses or CIDR ranges,
    /// comma-separated). Unset: the connection's address is the client.
    #[arg(
        long,
        env = "MARGINALIA_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub trusted_proxies: Vec<String>,
}

/// A setting that parses but cannot work.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {reason}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub reason: String,
}

/// Parses a `Config` on its own, for tests and tools that build the application in-process.
#[derive(clap::Parser)]
struct ConfigOnly {
    #[command(flatten)]
    config: Config,
}

impl Config {
    /// The configuration these command-line arguments (and the environment) give, checked.
    /// `Config::from_args(["marginalia"])` is the default configuration.
    pub fn from_args<I, T>(args: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        let mut config = ConfigOnly::try_parse_from(args)
            .map_err(|error| error.to_string())?
            .config;
        config.validate().map_err(|error| error.to_string())?;
        Ok(config)
    }

    /// Checks what clap's parsers cannot: relations and formats inside strings.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        self.cors_origins = self
            .cors_origins
            .iter()
            .map(|origin| origin.trim().trim_end_matches('/').to_owned())
            .filter(|origin| !origin.is_empty())
            .collect();
        for origin in &self.cors_origins {
            let looks_like_origin = origin == "*"
                || ((origin.starts_with("http://") || origin.starts_with("https://"))
                    && !origin["https://".len() - 1..]
                        .trim_start_matches('/')
                        .contains('/'));
            if !looks_like_origin {
                return Err(ConfigError {
                    setting: "MARGINALIA_CORS_ORIGINS",
                    reason: format!(
                        "`{origin}` is not an origin such as https://news.example.org or *"
                    ),
                });
            }
        }
        self.cms_webhook_secrets
            .retain(|secret| !secret.trim().is_empty());
        self.cms_secrets().map_err(|reason| ConfigError {
            setting: "MARGINALIA_CMS_WEBHOOK_SECRETS",
            reason,
        })?;
        self.retry_schedule().map_err(|reason| ConfigError {
            setting: "MARGINALIA_WEBHOOK_RETRY_SCHEDULE",
            reason,
        })?;
        let positive = [
            ("MARGINALIA_WEBHOOK_POLL", self.webhook_poll),
            ("MARGINALIA_WEBHOOK_TIMEOUT", self.webhook_timeout),
            (
                "MARGINALIA_WEBHOOK_DISABLE_AFTER",
                self.webhook_disable_after,
            ),
            ("MARGINALIA_WEBHOOK_RETENTION", self.webhook_retention),
        ];
        for (setting, value) in positive {
            if value.is_zero() {
                return Err(ConfigError {
                    setting,
                    reason: "must be longer than zero".into(),
                });
            }
        }
        if let Some(url) = &self.database_url {
            if url.trim().is_empty() {
                self.database_url = None;
            }
        }
        if self.database_url.is_none() && self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError {
                setting: "MARGINALIA_DATA_DIR",
                reason: "must not be empty when DATABASE_URL is unset".into(),
            });
        }
        Ok(())
    }

    pub fn db_acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.db_acquire_timeout_ms)
    }

    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_millis(self.body_read_timeout_ms)
    }

    pub fn cms_secrets(&self) -> Result<Vec<Secret>, String> {
        self.cms_webhook_secrets
            .iter()
            .map(|raw| Secret::parse(raw))
            .collect()
    }

    pub fn retry_schedule(&self) -> Result<RetrySchedule, String> {
        RetrySchedule::new(self.webhook_retry_schedule.clone())
    }

    /// The automatic rules: the banned terms of the setting and of the file, the link limit and
    /// the actions.
    pub fn rules(&self) -> Result<Rules, String> {
        let mut terms = self.banned_terms.clone();
        if let Some(path) = &self.banned_terms_file {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            terms.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty() && !line.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        let mut rules = Rules::new(&terms, self.max_links);
        rules.parse_actions(&self.rule_actions)?;
        Ok(rules)
    }

    pub fn body_limit_bytes(&self) -> usize {
        usize::try_from(self.body_limit).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut all = vec!["marginalia"];
        all.extend_from_slice(args);
        Config::from_args(all)
    }

    #[test]
    fn defaults_are_usable() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.unknown_articles, UnknownArticles::Accept);
        assert!(config.cors_origins.is_empty());
    }

    #[test]
    fn cors_origins_are_checked() {
        let config = parse(&["--cors-origins", "https://a.example, https://b.example/"]).unwrap();
        assert_eq!(
            config.cors_origins,
            vec!["https://a.example", "https://b.example"]
        );
        let error = parse(&["--cors-origins", "https://a.example/path"]).unwrap_err();
        assert!(error.contains("MARGINALIA_CORS_ORIGINS"), "{error}");
        assert!(parse(&["--cors-origins", "a.example"]).is_err());
    }

    #[test]
    fn webhook_settings_are_checked() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.retry_schedule().unwrap().attempts(), 8);
        assert!(config.cms_secrets().unwrap().is_empty());
        assert!(!config.webhook_allow_private_targets);
        assert!(!config.webhook_loopback_only);
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let config = parse(&["--cms-webhook-secrets", &format!("{secret}, {secret}")]).unwrap();
        assert_eq!(config.cms_secrets().unwrap().len(), 2);
        let error = parse(&["--cms-webhook-secrets", "hunter2"]).unwrap_err();
        assert!(error.contains("MARGINALIA_CMS_WEBHOOK_SECRETS"), "{error}");
        assert!(parse(&["--webhook-retry-schedule", "5s,soon"]).is_err());
        assert!(parse(&["--webhook-poll", "0s"]).is_err());
    }

    #[test]
    fn out_of_range_numbers_are_refused() {
        assert!(parse(&["--db-pool-size", "0"]).is_err());
        assert!(parse(&["--body-limit", "10"]).is_err());
        assert!(parse(&["--bind", "not-an-address"]).is_err());
        assert!(parse(&["--unknown-articles", "maybe"]).is_err());
    }
}
