//! Email that closes the loop (docs/email.md): a site's mail settings, what a message tells of,
//! which moderation change tells an author something, and the language a message is written in.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::field_error::{read_query_pairs, valid_unless};
use super::review::{AuthorEmail, ReviewStatus};
use super::text;
use super::{FieldError, FieldErrorCode};

/// The most moderators one site's digest goes to.
pub const MAX_MODERATORS: usize = 20;
/// A sender's display name, at most.
pub const SENDER_NAME_MAX_CHARS: usize = 100;
/// How long a notice waits for its address to be confirmed before it is dropped, in days.
pub const WAITING_DAYS: i64 = 7;
/// How often an unconfirmed address may be asked to confirm, in hours: a form cannot be used to
/// mail someone else's address more than this.
pub const CONFIRMATION_EVERY_HOURS: i64 = 24;

/// A site's mail settings (`PATCH /v1/sites/{site}` with `mail`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "from_address": "reviews@news.example.org",
    "from_name": "Кореспондент: відгуки",
    "language": "uk",
    "moderators": ["desk@news.example.org"],
    "digest": "hourly"
}))]
pub struct MailSettings {
    /// The sender's address; absent: the installation's (`MARGINALIA_MAIL_FROM`).
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub from_address: Option<String>,
    /// The sender's name as mail programs show it; absent: the site's newsroom name.
    #[schema(min_length = 1, max_length = 100)]
    pub from_name: Option<String>,
    /// The language of messages to readers whose review is in neither Ukrainian nor English,
    /// and of the moderators' digest.
    #[serde(default)]
    pub language: MailLanguage,
    /// Who receives the digest of what waits for moderators.
    #[schema(max_items = 20, value_type = Vec<String>)]
    #[serde(default)]
    pub moderators: Vec<String>,
    /// How often the digest goes out (only when something waits).
    #[serde(default)]
    pub digest: DigestFrequency,
}

impl MailSettings {
    /// Checks the settings, naming each member that is wrong (under `mail.`).
    pub fn check(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let field = |name: &str| format!("mail.{name}");
        if let Some(address) = &self.from_address {
            if let Err(rule) = AuthorEmail::parse(address).map(|_| ()) {
                errors.push(FieldError::broke(&field("from_address"), &rule));
            }
        }
        if let Some(name) = &self.from_name {
            if let Err(rule) = text::free_text(name, SENDER_NAME_MAX_CHARS, &[]) {
                errors.push(FieldError::broke(&field("from_name"), &rule));
            }
        }
        if self.moderators.len() > MAX_MODERATORS {
            errors.push(FieldError::new(
                field("moderators"),
                FieldErrorCode::TooMany,
                format!("at most {MAX_MODERATORS} addresses"),
            ));
        }
        for (index, address) in self.moderators.iter().enumerate() {
            if let Err(rule) = AuthorEmail::parse(address).map(|_| ()) {
                errors.push(FieldError::broke(
                    &field(&format!("moderators[{index}]")),
                    &rule,
                ));
            }
        }
        if self.digest != DigestFrequency::Off && self.moderators.is_empty() {
            errors.push(FieldError::new(
                field("moderators"),
                FieldErrorCode::Required,
                "a digest needs at least one moderator's address",
            ));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

/// How often moderators get the digest of what waits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DigestFrequency {
    #[default]
    Off,
    Hourly,
    Daily,
}

impl DigestFrequency {
    /// The time between two digests; none when off.
    pub fn period(self) -> Option<chrono::Duration> {
        match self {
            Self::Off => None,
            Self::Hourly => Some(chrono::Duration::hours(1)),
            Self::Daily => Some(chrono::Duration::days(1)),
        }
    }
}

/// The languages messages are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailLanguage {
    Uk,
    #[default]
    En,
}

impl MailLanguage {
    pub const ALL: [Self; 2] = [Self::Uk, Self::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uk => "uk",
            Self::En => "en",
        }
    }

    pub fn from_stored(stored: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|language| language.as_str() == stored)
    }

    /// A reader is written to in their review's language when messages exist in it (`uk-UA`
    /// counts as `uk`), else in the site's.
    pub fn for_review(review_language: Option<&str>, site: Self) -> Self {
        review_language
            .and_then(|tag| tag.split('-').next())
            .and_then(|primary| Self::from_stored(&primary.to_ascii_lowercase()))
            .unwrap_or(site)
    }
}

/// The token of a confirmation or unsubscribe link: 256 random bits, URL-safe base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkToken(String);

impl LinkToken {
    /// Characters in a token.
    pub const CHARS: usize = 43;

    /// The `token` of a link's query; nothing else may be in it.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut token = None;
        read_query_pairs(pairs, &mut errors, |name, value, errors| {
            if name != "token" {
                return false;
            }
            let fits = value.len() == Self::CHARS
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if fits {
                token = Some(Self(value.to_owned()));
            } else {
                errors.push(FieldError::new(
                    "token",
                    FieldErrorCode::Format,
                    "must be the token of a link in one of our messages (43 characters)",
                ));
            }
            true
        });
        match token {
            Some(token) => valid_unless(errors, token),
            None if errors.is_empty() => Err(vec![FieldError::new(
                "token",
                FieldErrorCode::Required,
                "the link's token is missing",
            )]),
            None => Err(errors),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a message tells of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// Asks an address to confirm that it wants notices (double opt-in).
    Confirm,
    /// The author's held review was published.
    Published,
    /// The author's held review was not published, and why.
    Rejected,
    /// The newsroom answered the author's review.
    Replied,
    /// What waits for moderators.
    Digest,
}

impl MailKind {
    pub const ALL: [Self; 5] = [
        Self::Confirm,
        Self::Published,
        Self::Rejected,
        Self::Replied,
        Self::Digest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Published => "published",
            Self::Rejected => "rejected",
            Self::Replied => "replied",
            Self::Digest => "digest",
        }
    }

    pub fn from_stored(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == stored)
    }

    /// The notice a status change owes the author of a held review: published, or not (spam is
    /// not told: a spammer learns nothing). Changes of a review that was public are the
    /// moderators' business, and its reply notice comes with the reply.
    pub fn of_status_change(from: ReviewStatus, to: ReviewStatus) -> Option<Self> {
        match (from, to) {
            (ReviewStatus::Pending, ReviewStatus::Published) => Some(Self::Published),
            (ReviewStatus::Pending, ReviewStatus::Rejected) => Some(Self::Rejected),
            _ => None,
        }
    }

    /// Whether the message may go out while the review is in `status`, checked again when it is
    /// sent: nothing about a review is sent before it is public (its rejection aside).
    pub fn still_true(self, status: ReviewStatus, has_reply: bool) -> bool {
        match self {
            Self::Published => status == ReviewStatus::Published,
            Self::Replied => status == ReviewStatus::Published && has_reply,
            Self::Rejected => status == ReviewStatus::Rejected,
            Self::Confirm | Self::Digest => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_held_reviews_decision_is_told_and_spam_never() {
        use ReviewStatus::*;
        assert_eq!(
            MailKind::of_status_change(Pending, Published),
            Some(MailKind::Published)
        );
        assert_eq!(
            MailKind::of_status_change(Pending, Rejected),
            Some(MailKind::Rejected)
        );
        for (from, to) in [
            (Pending, Spam),
            (Published, Rejected),
            (Published, Pending),
            (Rejected, Published),
            (Published, Deleted),
            (Pending, Deleted),
        ] {
            assert_eq!(
                MailKind::of_status_change(from, to),
                None,
                "{from:?} → {to:?}"
            );
        }
    }

    #[test]
    fn a_message_is_sent_only_while_what_it_tells_is_still_true() {
        use ReviewStatus::*;
        assert!(MailKind::Published.still_true(Published, false));
        assert!(!MailKind::Published.still_true(Rejected, false));
        assert!(MailKind::Replied.still_true(Published, true));
        assert!(!MailKind::Replied.still_true(Published, false));
        assert!(!MailKind::Replied.still_true(Pending, true));
        assert!(MailKind::Rejected.still_true(Rejected, false));
        assert!(!MailKind::Rejected.still_true(Deleted, false));
    }

    #[test]
    fn readers_are_written_to_in_their_reviews_language_when_there_are_messages_in_it() {
        assert_eq!(
            MailLanguage::for_review(Some("uk"), MailLanguage::En),
            MailLanguage::Uk
        );
        assert_eq!(
            MailLanguage::for_review(Some("en-GB"), MailLanguage::Uk),
            MailLanguage::En
        );
        assert_eq!(
            MailLanguage::for_review(Some("de"), MailLanguage::Uk),
            MailLanguage::Uk
        );
        assert_eq!(
            MailLanguage::for_review(None, MailLanguage::En),
            MailLanguage::En
        );
    }

    #[test]
    fn a_link_token_is_43_url_safe_characters_and_alone_in_the_query() {
        let token = "a".repeat(43);
        assert!(LinkToken::from_pairs([("token", token.as_str())]).is_ok());
        let fields = |pairs: &[(&str, &str)]| -> Vec<String> {
            LinkToken::from_pairs(pairs.iter().copied())
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields(&[]), ["token"]);
        assert_eq!(fields(&[("token", "short")]), ["token"]);
        assert_eq!(fields(&[("token", &"+".repeat(43))]), ["token"]);
        assert_eq!(fields(&[("token", token.as_str()), ("x", "1")]), ["x"]);
    }

    #[test]
    fn settings_name_each_wrong_member() {
        let settings = MailSettings {
            from_address: Some("not an address".into()),
            moderators: vec!["desk@example.org".into(), "nobody".into()],
            digest: DigestFrequency::Hourly,
            ..MailSettings::default()
        };
        let errors = settings.check().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["mail.from_address", "mail.moderators[1]"]);
        let digest_alone = MailSettings {
            digest: DigestFrequency::Daily,
            ..MailSettings::default()
        };
        assert_eq!(
            digest_alone.check().unwrap_err()[0].field,
            "mail.moderators"
        );
    }
}
