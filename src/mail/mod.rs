//! Email (docs/email.md): the SMTP transport with its TLS and credentials, DKIM signing, the
//! links a message carries, the templates, and the worker that sends the mail outbox.

pub mod templates;
pub mod worker;

use std::time::Duration;

use lettre::message::dkim::{
    dkim_sign, DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config;
use crate::domain::site::SiteId;
use templates::Rendered;

/// Why mail could not be set up from the settings.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct MailSetupError {
    pub setting: &'static str,
    pub reason: String,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server may take it later (a 4xx, a connection or TLS failure, a timeout).
    #[error("{0}")]
    Transient(String),
    /// The server refused it for good (a 5xx), or it cannot be built.
    #[error("{0}")]
    Permanent(String),
}

/// Sends messages through the configured SMTP server, signed when a DKIM key is set.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    dkim: Option<Dkim>,
    /// The installation's sender address.
    default_from: Option<String>,
    public_url: String,
}

struct Dkim {
    key_pem: String,
    selector: String,
    domain: Option<String>,
}

/// The headers a DKIM signature covers: RFC 8058 asks that both `List-Unsubscribe` headers be
/// signed, so that a relay cannot point the one-click link elsewhere.
const SIGNED_HEADERS: [&str; 7] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

impl Mailer {
    /// The mailer of these settings; `None` when no SMTP server is set (mail is off).
    pub fn new(settings: &config::Mail) -> Result<Option<Self>, MailSetupError> {
        let Some(url) = settings.smtp_url() else {
            return Ok(None);
        };
        let setup = |reason: String| MailSetupError {
            setting: "MARGINALIA_SMTP_URL",
            reason,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|error| setup(error.to_string()))?
            .timeout(Some(settings.smtp_timeout));
        if let Some(ca_file) = &settings.smtp_ca_file {
            builder = builder.tls(tls_trusting(url, ca_file)?);
        }
        let dkim = match &settings.dkim_key_file {
            Some(path) => Some(dkim_key(path, settings)?),
            None => None,
        };
        Ok(Some(Self {
            transport: builder.build(),
            dkim,
            default_from: settings.from.clone(),
            public_url: settings.public_url.trim_end_matches('/').to_owned(),
        }))
    }

    /// The address of this service's `path` for `site`, as a reader's mail program opens it.
    pub fn link(&self, site: &str, path: &str) -> String {
        let prefix = if site == SiteId::default_site().as_str() {
            String::new()
        } else {
            format!("/sites/{site}")
        };
        format!("{}{prefix}{path}", self.public_url)
    }

    /// Builds, signs and sends one message.
    pub async fn send(&self, envelope: &Envelope<'_>, letter: &Rendered) -> Result<(), SendError> {
        let message = self.build(envelope, letter)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_permanent() => Err(SendError::Permanent(error.to_string())),
            Err(error) => Err(SendError::Transient(error.to_string())),
        }
    }

    fn build(&self, envelope: &Envelope<'_>, letter: &Rendered) -> Result<Message, SendError> {
        let bad = |what: &str, error: &dyn std::fmt::Display| {
            SendError::Permanent(format!("{what}: {error}"))
        };
        let address = envelope
            .from_address
            .or(self.default_from.as_deref())
            .ok_or_else(|| {
                SendError::Permanent(
                    "no sender: set MARGINALIA_MAIL_FROM or the site's mail.from_address".into(),
                )
            })?;
        let from = Mailbox::new(
            Some(envelope.from_name.to_owned()),
            address.parse().map_err(|e| bad("sender", &e))?,
        );
        let to: Mailbox = envelope.to.parse().map_err(|e| bad("recipient", &e))?;
        let mut message = Message::builder()
            .from(from)
            .to(to)
            .subject(letter.subject.clone())
            .date_now()
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{}>", envelope.unsubscribe_url),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Content-Language"),
                envelope.language.to_owned(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                letter.text.clone(),
                letter.html.clone(),
            ))
            .map_err(|e| bad("message", &e))?;
        if let Some(dkim) = &self.dkim {
            let domain = dkim.domain.clone().unwrap_or_else(|| {
                address
                    .rsplit_once('@')
                    .map_or_else(String::new, |(_, domain)| domain.to_owned())
            });
            let key = DkimSigningKey::new(&dkim.key_pem, DkimSigningAlgorithm::Rsa)
                .map_err(|e| bad("DKIM key", &e))?;
            let headers = SIGNED_HEADERS
                .iter()
                .map(|name| HeaderName::new_from_ascii_str(name))
                .collect();
            let config = DkimConfig::new(
                dkim.selector.clone(),
                domain,
                key,
                headers,
                DkimCanonicalization {
                    header: DkimCanonicalizationType::Relaxed,
                    body: DkimCanonicalizationType::Relaxed,
                },
            );
            dkim_sign(&mut message, &config);
        }
        Ok(message)
    }
}

/// Who a message is from and to, and its one-click unsubscribe link.
pub struct Envelope<'a> {
    pub from_name: &'a str,
    /// The site's own sender address; `None`: the installation's.
    pub from_address: Option<&'a str>,
    pub to: &'a str,
    pub unsubscribe_url: &'a str,
    pub language: &'a str,
}

/// TLS as the URL asks for it, trusting the certificate authorities of `ca_file` as well.
fn tls_trusting(url: &str, ca_file: &std::path::Path) -> Result<Tls, MailSetupError> {
    let setup = |reason: String| MailSetupError {
        setting: "MARGINALIA_SMTP_CA_FILE",
        reason,
    };
    let parsed = url::Url::parse(url).map_err(|error| setup(error.to_string()))?;
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let pem =
        std::fs::read(ca_file).map_err(|error| setup(format!("{}: {error}", ca_file.display())))?;
    let certificate = Certificate::from_pem(&pem).map_err(|error| setup(error.to_string()))?;
    let parameters = TlsParameters::builder(host)
        .add_root_certificate(certificate)
        .build_rustls()
        .map_err(|error| setup(error.to_string()))?;
    let tls_mode = parsed
        .query_pairs()
        .find(|(name, _)| name == "tls")
        .map(|(_, value)| value.into_owned());
    Ok(match (parsed.scheme(), tls_mode.as_deref()) {
        ("smtps", _) => Tls::Wrapper(parameters),
        (_, Some("required")) => Tls::Required(parameters),
        (_, Some("opportunistic")) => Tls::Opportunistic(parameters),
        _ => Tls::None,
    })
}

fn dkim_key(path: &std::path::Path, settings: &config::Mail) -> Result<Dkim, MailSetupError> {
    let setup = |reason: String| MailSetupError {
        setting: "MARGINALIA_DKIM_KEY_FILE",
        reason,
    };
    let key_pem = std::fs::read_to_string(path)
        .map_err(|error| setup(format!("{}: {error}", path.display())))?;
    // Loaded once here so that a broken key stops the start instead of every message.
    DkimSigningKey::new(&key_pem, DkimSigningAlgorithm::Rsa)
        .map_err(|error| setup(format!("not an RSA private key in PKCS#1 PEM: {error}")))?;
    Ok(Dkim {
        key_pem,
        selector: settings.dkim_selector.clone(),
        domain: settings.dkim_domain.clone(),
    })
}

/// How long a claimed message stays leased to its worker: the SMTP timeout for each of the
/// conversation's steps, and a margin to record the outcome.
pub fn lease(settings: &config::Mail) -> Duration {
    settings.smtp_timeout * 6 + Duration::from_secs(10)
}
