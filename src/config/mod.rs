//! The service's settings, read once from flags and environment at start into typed, nested
//! parts (database, server, webhooks, moderation, limits). `serve` and the tests build the
//! application from the same `Settings`; secrets are kept in wrappers that never print.

mod database;
mod limits;
mod live;
mod mail;
mod moderation;
mod secret;
mod server;
mod units;
mod webhooks;

use clap::{Args, ValueEnum};

use crate::domain::review::AuthorEmail;
use crate::domain::site::normalized_origin;

pub use database::{Database, READ_MAX_LAG_LIMIT};
pub use limits::Limits;
pub use live::Live;
pub use mail::Mail;
pub use moderation::Moderation;
pub use secret::CmsSecrets;
pub use server::Server;
pub use webhooks::Webhooks;

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
pub struct Settings {
    #[command(flatten)]
    pub database: Database,
    #[command(flatten)]
    pub server: Server,
    #[command(flatten)]
    pub webhooks: Webhooks,
    #[command(flatten)]
    pub moderation: Moderation,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub live: Live,
    #[command(flatten)]
    pub mail: Mail,
}

/// A setting that parses but cannot work.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {reason}")]
pub struct SettingsError {
    pub setting: &'static str,
    pub reason: String,
}

/// Parses `Settings` on their own, for tests and tools that build the application in-process.
#[derive(clap::Parser)]
struct SettingsOnly {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    /// The settings these command-line arguments (and the environment) give, checked.
    /// `Settings::from_args(["marginalia"])` are the defaults.
    pub fn from_args<I, T>(args: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        let mut settings = SettingsOnly::try_parse_from(args)
            .map_err(|error| error.to_string())?
            .settings;
        settings.validate().map_err(|error| error.to_string())?;
        Ok(settings)
    }

    /// Checks what clap's parsers cannot: relations between settings and formats inside lists.
    pub fn validate(&mut self) -> Result<(), SettingsError> {
        self.server.cors_origins = normalized_origins(&self.server.cors_origins)?;
        if self.database.external_url().is_none() && self.database.data_dir.as_os_str().is_empty() {
            return Err(SettingsError {
                setting: "MARGINALIA_DATA_DIR",
                reason: "must not be empty when DATABASE_URL is unset".into(),
            });
        }
        // Every stream holds a connection: at the connection limit a node could answer nothing
        // else, its readiness probe included.
        if self.live.max_streams >= self.server.max_connections {
            return Err(SettingsError {
                setting: "MARGINALIA_LIVE_MAX_STREAMS",
                reason: format!(
                    "{} must be below MARGINALIA_MAX_CONNECTIONS ({}): each stream holds a \
                     connection, and the node must still answer its other requests",
                    self.live.max_streams, self.server.max_connections
                ),
            });
        }
        self.check_mail()?;
        Ok(())
    }

    /// Mail needs a sender, links that readers can open, and a signing key that loads.
    fn check_mail(&self) -> Result<(), SettingsError> {
        let mail = &self.mail;
        if !mail.enabled() {
            return Ok(());
        }
        if let Some(from) = &mail.from {
            AuthorEmail::parse(from).map_err(|_| SettingsError {
                setting: "MARGINALIA_MAIL_FROM",
                reason: format!("`{from}` is not an address such as reviews@news.example.org"),
            })?;
        }
        let public = url::Url::parse(&mail.public_url).ok();
        if !public
            .is_some_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        {
            return Err(SettingsError {
                setting: "MARGINALIA_PUBLIC_URL",
                reason: format!("`{}` is not an http(s) URL", mail.public_url),
            });
        }
        Ok(())
    }
}

/// The origins without blanks and trailing slashes, each checked to be an origin or `*`.
fn normalized_origins(raw: &[String]) -> Result<Vec<String>, SettingsError> {
    raw.iter()
        .filter(|origin| !origin.trim().trim_end_matches('/').is_empty())
        .map(|origin| {
            normalized_origin(origin).ok_or_else(|| SettingsError {
                setting: "MARGINALIA_CORS_ORIGINS",
                reason: format!(
                    "`{}` is not an origin such as https://news.example.org or *",
                    origin.trim()
                ),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
