//! Where the data lives and how the service talks to it.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::secret::secret_string;
use super::units::millis;

/// The highest `MARGINALIA_READ_MAX_LAG_MS`: what waits for replicas waits at most this long.
pub const READ_MAX_LAG_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Args)]
pub struct Database {
    /// PostgreSQL URL. Unset: run a private cluster under the data directory.
    #[arg(long = "database-url", env = "DATABASE_URL", hide_env_values = true,
          value_name = "DATABASE_URL", value_parser = secret_string)]
    pub url: Option<SecretString>,

    /// Read replicas for public reads, space-separated PostgreSQL URLs (streaming replicas of
    /// DATABASE_URL's primary). Unset: every read goes to DATABASE_URL.
    #[arg(long = "database-read-url", env = "DATABASE_READ_URL", hide_env_values = true,
          value_name = "DATABASE_READ_URL", value_delimiter = ' ', value_parser = secret_string)]
    pub read_urls: Vec<SecretString>,

    /// Longest a replica may lag behind the primary and still serve public reads, in
    /// milliseconds; a replica further behind is skipped until it catches up.
    #[arg(long = "read-max-lag-ms", env = "MARGINALIA_READ_MAX_LAG_MS", default_value = "1000",
          value_name = "READ_MAX_LAG_MS", value_parser = millis(10..=30_000))]
    pub read_max_lag: Duration,

    /// Directory for the private PostgreSQL cluster (used only without DATABASE_URL).
    #[arg(long, env = "MARGINALIA_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Maximum number of pooled database connections for requests, split among the HTTP workers.
    #[arg(long = "db-pool-size", env = "MARGINALIA_DB_POOL_SIZE", default_value_t = 16, value_name = "DB_POOL_SIZE",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pool_size: u32,

    /// Longest a request waits for a database connection before answering 503, in milliseconds.
    #[arg(long = "db-acquire-timeout-ms", env = "MARGINALIA_DB_ACQUIRE_TIMEOUT_MS", default_value = "750",
          value_name = "DB_ACQUIRE_TIMEOUT_MS", value_parser = millis(10..=60_000))]
    pub acquire_timeout: Duration,

    /// Longest a single SQL statement may run, in milliseconds.
    #[arg(long = "db-statement-timeout-ms", env = "MARGINALIA_DB_STATEMENT_TIMEOUT_MS", default_value = "5000",
          value_name = "DB_STATEMENT_TIMEOUT_MS", value_parser = millis(10..=600_000))]
    pub statement_timeout: Duration,
}

impl Database {
    /// The external database's URL, when one is given (a blank one counts as unset).
    pub fn external_url(&self) -> Option<&str> {
        self.url
            .as_ref()
            .map(|url| url.expose_secret())
            .filter(|url| !url.trim().is_empty())
    }

    /// The replicas' URLs (blank ones, as an empty variable gives, left out).
    pub fn replica_urls(&self) -> impl Iterator<Item = &str> {
        self.read_urls
            .iter()
            .map(|url| url.expose_secret())
            .filter(|url| !url.trim().is_empty())
    }
}
