//! Email (docs/email.md): the SMTP server, the installation's sender, DKIM, where links in
//! messages point, and how failed sends are retried. Without an SMTP URL no mail is sent and
//! none is queued.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::units::seconds;
use super::webhooks::retry_schedule;
use crate::domain::webhook::RetrySchedule;

#[derive(Debug, Clone, Args)]
pub struct Mail {
    /// The SMTP server: `smtp://host:25` (plain), `smtp://host:587?tls=required` (STARTTLS),
    /// `smtps://host:465` (TLS from the first byte); credentials as
    /// `smtp://user:password@host…` (percent-encoded). Unset: no mail.
    #[arg(long = "smtp-url", env = "MARGINALIA_SMTP_URL", hide_env_values = true,
          value_parser = |raw: &str| Ok::<_, String>(SecretString::from(raw)))]
    pub smtp_url: Option<SecretString>,

    /// A PEM file of certificate authorities to trust for the SMTP server's certificate, besides
    /// the public ones (an internal relay's own CA).
    #[arg(long = "smtp-ca-file", env = "MARGINALIA_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,

    /// Longest wait for the SMTP server, per command.
    #[arg(long = "smtp-timeout-secs", env = "MARGINALIA_SMTP_TIMEOUT_SECS", default_value = "30",
          value_name = "SMTP_TIMEOUT_SECS", value_parser = seconds(1..=600))]
    pub smtp_timeout: Duration,

    /// The sender of sites that set none of their own, such as `reviews@news.example.org`.
    #[arg(long = "mail-from", env = "MARGINALIA_MAIL_FROM")]
    pub from: Option<String>,

    /// Where readers and moderators reach this service: the base of the links in messages
    /// (confirm, unsubscribe, the console).
    #[arg(
        long = "public-url",
        env = "MARGINALIA_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,

    /// A PEM file with the DKIM private key (RSA, PKCS#1); messages are signed when it is set.
    #[arg(long = "dkim-key-file", env = "MARGINALIA_DKIM_KEY_FILE")]
    pub dkim_key_file: Option<PathBuf>,

    /// The DKIM selector the public key is published under (`<selector>._domainkey.<domain>`).
    #[arg(
        long = "dkim-selector",
        env = "MARGINALIA_DKIM_SELECTOR",
        default_value = "marginalia"
    )]
    pub dkim_selector: String,

    /// The signing domain (`d=`); unset: the domain of each message's sender.
    #[arg(long = "dkim-domain", env = "MARGINALIA_DKIM_DOMAIN")]
    pub dkim_domain: Option<String>,

    /// Waits before each retry of a message the SMTP server did not take, comma-separated.
    #[arg(id = "mail_retry_schedule", long = "mail-retry-schedule", value_name = "MAIL_RETRY_SCHEDULE", env = "MARGINALIA_MAIL_RETRY_SCHEDULE",
          default_value = "1m,5m,30m,2h,6h,12h,24h", value_parser = retry_schedule)]
    pub retry_schedule: RetrySchedule,

    /// How often the mail worker looks for due messages and digests when nothing woke it.
    #[arg(id = "mail_poll", long = "mail-poll-secs", env = "MARGINALIA_MAIL_POLL_SECS", default_value = "5",
          value_name = "MAIL_POLL_SECS", value_parser = seconds(1..=3600))]
    pub poll: Duration,
}

impl Mail {
    /// The SMTP URL, when mail is on.
    pub fn smtp_url(&self) -> Option<&str> {
        self.smtp_url
            .as_ref()
            .map(|url| url.expose_secret())
            .filter(|url| !url.trim().is_empty())
    }

    pub fn enabled(&self) -> bool {
        self.smtp_url().is_some()
    }
}
