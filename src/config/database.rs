//! Where the data lives and how the service talks to it.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::secret::secret_string;

#[derive(Debug, Clone, Args)]
pub struct Database {
    /// PostgreSQL URL. Unset: run a private cluster under the data directory.
    #[arg(long = "database-url", env = "DATABASE_URL", hide_env_values = true,
          value_parser = secret_string)]
    pub url: Option<SecretString>,

    /// Directory for the private PostgreSQL cluster (used only without DATABASE_URL).
    #[arg(long, env = "MARGINALIA_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Maximum number of pooled database connections.
    #[arg(long = "db-pool-size", env = "MARGINALIA_DB_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pool_size: u32,

    /// Longest a request waits for a database connection before answering 503, in milliseconds.
    #[arg(long = "db-acquire-timeout-ms", env = "MARGINALIA_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 750,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub acquire_timeout_ms: u64,

    /// Longest a single SQL statement may run, in milliseconds.
    #[arg(long = "db-statement-timeout-ms", env = "MARGINALIA_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub statement_timeout_ms: u64,
}

impl Database {
    /// The external database's URL, when one is given (a blank one counts as unset).
    pub fn external_url(&self) -> Option<&str> {
        self.url
            .as_ref()
            .map(|url| url.expose_secret())
            .filter(|url| !url.trim().is_empty())
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }

    pub fn statement_timeout(&self) -> Duration {
        Duration::from_millis(self.statement_timeout_ms)
    }
}
