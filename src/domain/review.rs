//! Reader reviews: what a submission must satisfy and how its text is normalized.

use validator::ValidationError;

use super::field_error::FieldErrors;
use super::field_error::Presence::{Optional, Required};
use super::language::{self, Guess, LanguageDetector};
use super::text::{self, LanguageTag};
use super::FieldError;

/// Where a review stands in moderation. Only `published` reviews are public and counted in stats.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    Pending,
    Published,
    Rejected,
    Spam,
    Deleted,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Published => "published",
            Self::Rejected => "rejected",
            Self::Spam => "spam",
            Self::Deleted => "deleted",
        }
    }

    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Published,
        Self::Rejected,
        Self::Spam,
        Self::Deleted,
    ];

    pub fn from_stored(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }

    /// What the author and the public are told: `published`, or `pending` for every status that
    /// is not public, so a spammer cannot learn which of his reviews were caught.
    pub fn as_seen_by_author(self) -> Self {
        if self.is_public() {
            self
        } else {
            Self::Pending
        }
    }

    /// Whether reviews in this status are public and counted in stats.
    pub fn is_public(self) -> bool {
        self == Self::Published
    }
}

/// A submission as received; every field optional so that a missing one is reported by name.
#[derive(Debug, Clone, Default)]
pub struct ReviewInput {
    pub rating: Option<i64>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub language: Option<String>,
}

/// A star rating, from `Rating::MIN` to `Rating::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating(i16);

impl Rating {
    pub const MIN: i16 = 1;
    pub const MAX: i16 = 5;

    pub fn parse(value: i64) -> Result<Self, ValidationError> {
        i16::try_from(value)
            .ok()
            .filter(|value| (Self::MIN..=Self::MAX).contains(value))
            .map(Self)
            .ok_or_else(|| {
                text::rule(
                    "range",
                    format!("must be an integer from {} to {}", Self::MIN, Self::MAX),
                )
            })
    }

    pub fn get(self) -> i16 {
        self.0
    }
}

/// The text of a review: NFC, trimmed, 1 to `MAX_CHARS` characters, no control characters, and
/// at least one visible character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewBody(String);

impl ReviewBody {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        text::free_text(raw, Self::MAX_CHARS, &[text::has_visible_char]).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A review's optional headline; blank counts as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewTitle(String);

impl ReviewTitle {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        let title = text::optional_free_text(raw, Self::MAX_CHARS, &[text::has_visible_char])?;
        Ok(title.map(Self))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name shown with a review; blank counts as absent. No invisible or text-direction tricks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorName(String);

impl AuthorName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        let rules: [text::TextRule; 2] = [text::display_name_chars, text::has_visible_char];
        Ok(text::optional_free_text(raw, Self::MAX_CHARS, &rules)?.map(Self))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The author's email, kept for the newsroom and never shown. A machine field: checked as sent,
/// never trimmed into validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorEmail(String);

impl AuthorEmail {
    pub const MAX_CHARS: usize = 254;

    /// RFC 5321 bounds a mailbox's local part to 64 octets; RFC 6531 keeps the bound in octets.
    pub const MAX_LOCAL_OCTETS: usize = 64;

    /// An address as RFC 6531 allows it: `ірина@example.com`, `reader@пример.рф` and
    /// `李@例え.jp` are as valid as `reader@example.com`. The local part is a dot-atom whose
    /// characters are RFC 5322's ASCII `atext` or any visible non-ASCII character; the domain is
    /// a host name (IDNA-mapped, each label a letter-digit-hyphen label of at most 63 characters)
    /// or a bracketed IP address. Quoted local parts are refused: no reader types one, and they
    /// allow spaces.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        text::char_length(raw, 1, Self::MAX_CHARS)?;
        match raw.rsplit_once('@') {
            Some((local, domain)) if is_local_part(local) && is_mail_domain(domain) => {
                Ok(Self(raw.to_owned()))
            }
            _ => Err(text::rule(
                "email",
                "must be an email address such as reader@example.com (letters of any script \
                 are allowed)",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_local_part(local: &str) -> bool {
    // RFC 5322 `atext` beyond letters and digits.
    const ASCII_ATEXT: &str = "!#$%&'*+-/=?^_`{|}~";
    let atom_char = |c: char| {
        if c.is_ascii() {
            c.is_ascii_alphanumeric() || ASCII_ATEXT.contains(c)
        } else {
            text::is_visible(c)
        }
    };
    !local.is_empty()
        && local.len() <= AuthorEmail::MAX_LOCAL_OCTETS
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atom_char))
}

fn is_mail_domain(domain: &str) -> bool {
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        let address = literal.strip_prefix("IPv6:").unwrap_or(literal);
        return address.parse::<std::net::IpAddr>().is_ok_and(|ip| {
            // `[IPv6:…]` for IPv6 and a bare dotted quad for IPv4, as RFC 5321 writes them.
            ip.is_ipv6() == literal.starts_with("IPv6:")
        });
    }
    // IDNA maps the domain to its ASCII form (`пример.рф` → `xn--e1afmkfd.xn--p1ai`); url's host
    // parser also refuses the characters no host name has, such as spaces and `%`.
    let Ok(url::Host::Domain(ascii)) = url::Host::parse(domain) else {
        return false;
    };
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
    ascii.len() <= 253
        && ascii.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A submission that passed every rule: each field is a value that can only exist valid.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReview {
    pub rating: Rating,
    pub title: Option<ReviewTitle>,
    pub body: ReviewBody,
    pub author_name: Option<AuthorName>,
    pub author_email: Option<AuthorEmail>,
    /// Given, or detected from the body when the evidence is clear.
    pub language: Option<LanguageTag>,
    /// When detection was undecided: the languages the body fits, one of which the article's
    /// language may be (`settle_language`).
    pub language_fits: Vec<LanguageTag>,
}

impl NewReview {
    /// Normalizes and checks a submission, reporting every broken rule at once; a review without
    /// a language gets the one `detector` is sure of.
    pub fn parse(input: ReviewInput, detector: &LanguageDetector) -> Result<Self, Vec<FieldError>> {
        let mut fields = FieldErrors::default();
        let rating = fields.parse("rating", Required, input.rating, Rating::parse);
        let body = fields.parse("body", Required, input.body.as_deref(), ReviewBody::parse);
        let title = input.title.as_deref();
        let title = fields
            .parse("title", Optional, title, ReviewTitle::parse)
            .flatten();
        let name = input.author_name.as_deref();
        let author_name = fields
            .parse("author_name", Optional, name, AuthorName::parse)
            .flatten();
        let email = input.author_email.as_deref();
        let author_email = fields.parse("author_email", Optional, email, AuthorEmail::parse);
        let language = input.language.as_deref();
        let language = fields.parse("language", Optional, language, LanguageTag::parse);
        // A missing required field is always among the collected errors.
        match (rating, body, fields.into_result()) {
            (Some(rating), Some(body), Ok(())) => {
                let guess = match language {
                    Some(given) => Guess::Sure(given),
                    None => detector.guess(body.as_str()),
                };
                let (language, language_fits) = match guess {
                    Guess::Sure(tag) => (Some(tag), Vec::new()),
                    Guess::Undecided(fits) => (None, fits),
                    Guess::Unknown => (None, Vec::new()),
                };
                Ok(Self {
                    rating,
                    title,
                    body,
                    author_name,
                    author_email,
                    language,
                    language_fits,
                })
            }
            (_, _, result) => Err(result.err().unwrap_or_default()),
        }
    }
}

impl NewReview {
    /// Whether the article's language could settle what detection left open.
    pub fn needs_article_language(&self) -> bool {
        self.language.is_none() && !self.language_fits.is_empty()
    }

    /// Takes the article's language when the body fits it.
    pub fn settle_language(&mut self, article_language: Option<&str>) {
        let article = article_language.and_then(|tag| LanguageTag::parse(tag).ok());
        let fits = std::mem::take(&mut self.language_fits);
        self.language = language::settle(Guess::Undecided(fits), article.as_ref());
    }
}

/// An author's edit: the fields to change, each optional; at least one must be given.
#[derive(Debug, Clone, Default)]
pub struct EditInput {
    pub rating: Option<i64>,
    pub title: Option<Option<String>>,
    pub body: Option<String>,
}

/// A checked edit. `title: Some(None)` removes the title.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewEdit {
    pub rating: Option<Rating>,
    pub title: Option<Option<ReviewTitle>>,
    pub body: Option<ReviewBody>,
}

impl ReviewEdit {
    pub fn parse(input: EditInput) -> Result<Self, Vec<FieldError>> {
        let mut fields = FieldErrors::default();
        if input.rating.is_none() && input.title.is_none() && input.body.is_none() {
            fields.push(FieldError::new(
                "body",
                super::FieldErrorCode::Required,
                "an edit changes at least one of rating, title and body",
            ));
        }
        let rating = fields.parse("rating", Optional, input.rating, Rating::parse);
        let body = fields.parse("body", Optional, input.body.as_deref(), ReviewBody::parse);
        let title = match input.title {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => {
                fields.parse("title", Optional, Some(raw.as_str()), ReviewTitle::parse)
            }
        };
        fields.into_result()?;
        Ok(Self {
            rating,
            title,
            body,
        })
    }
}

/// A client's `Idempotency-Key`: 16 to 255 visible ASCII characters (a UUID is the usual
/// choice), so keys are hard to guess and collide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MIN_CHARS: usize = 16;
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        text::client_token(raw, Self::MIN_CHARS, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with_any_language(input: ReviewInput) -> Result<NewReview, Vec<FieldError>> {
        NewReview::parse(input, &LanguageDetector::default())
    }
    use crate::domain::FieldErrorCode;

    fn input(rating: i64, body: &str) -> ReviewInput {
        ReviewInput {
            rating: Some(rating),
            body: Some(body.to_owned()),
            ..Default::default()
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_plain_review_passes_and_is_normalized() {
        let review = parse_with_any_language(ReviewInput {
            title: Some("  Тверезий аналіз ".into()),
            author_email: Some("jmiller@example.com".into()),
            language: Some("UK".into()),
            ..input(4, "  Стаття добре пояснює.\r\n")
        })
        .unwrap();
        assert_eq!(review.body.as_str(), "Стаття добре пояснює.");
        assert_eq!(
            review.title.as_ref().map(ReviewTitle::as_str),
            Some("Тверезий аналіз")
        );
        assert_eq!(
            review.author_email.as_ref().map(AuthorEmail::as_str),
            Some("jmiller@example.com")
        );
        assert_eq!(
            review.language.as_ref().map(LanguageTag::as_str),
            Some("uk")
        );
    }

    #[test]
    fn missing_and_out_of_range_fields_are_named() {
        let errors = parse_with_any_language(ReviewInput::default()).unwrap_err();
        assert_eq!(fields(&errors), ["body", "rating"]);
        assert!(errors.iter().all(|e| e.code == FieldErrorCode::Required));

        assert_eq!(
            fields(&parse_with_any_language(input(0, "fine")).unwrap_err()),
            ["rating"]
        );
        assert_eq!(
            fields(&parse_with_any_language(input(6, "fine")).unwrap_err()),
            ["rating"]
        );
        assert_eq!(
            fields(&parse_with_any_language(input(3, " \n\t ")).unwrap_err()),
            ["body"]
        );
    }

    #[test]
    fn limits_are_characters_after_trimming() {
        let at_limit = format!("  {}  ", "ї".repeat(ReviewBody::MAX_CHARS));
        assert!(parse_with_any_language(input(4, &at_limit)).is_ok());
        let over = "ї".repeat(ReviewBody::MAX_CHARS + 1);
        let errors = parse_with_any_language(input(4, &over)).unwrap_err();
        assert_eq!(errors[0].code, FieldErrorCode::Length);

        let long_name = ReviewInput {
            author_name: Some("n".repeat(AuthorName::MAX_CHARS + 1)),
            title: Some("t".repeat(ReviewTitle::MAX_CHARS + 1)),
            ..input(4, "ok")
        };
        assert_eq!(
            fields(&parse_with_any_language(long_name).unwrap_err()),
            ["author_name", "title"]
        );
    }

    #[test]
    fn internationalised_addresses_are_emails() {
        for valid in [
            "reader@example.com",
            "ірина@example.com",
            "olena.k+news@example.com",
            "reader@пример.рф",
            "李@例え.jp",
            "jörg@bücher.de",
            "δοκιμή@παράδειγμα.δοκιμή",
            "o'brien@example.ie",
            "reader@[192.0.2.1]",
            "reader@[IPv6:2001:db8::1]",
            "reader@localhost",
        ] {
            assert!(AuthorEmail::parse(valid).is_ok(), "{valid:?} is an address");
        }
        let long_local = format!("{}@example.com", "ї".repeat(33));
        let long_label = format!("reader@{}.com", "a".repeat(64));
        let long_address = format!("reader@{}.com", ["a"; 125].join("."));
        for invalid in [
            "",
            "reader",
            "reader@",
            "@example.com",
            "ірина @example.com",
            "ірина@exa mple.com",
            "reader\u{0}@example.com",
            "reader@example.com\n",
            "read\u{7}er@example.com",
            "reader\u{202E}@example.com",
            "ірина\u{200B}@example.com",
            ".reader@example.com",
            "reader.@example.com",
            "re..ader@example.com",
            "\"quoted reader\"@example.com",
            "reader@example..com",
            "reader@-example.com",
            "reader@exam_ple.com",
            "reader@[192.0.2.1",
            "reader@[IPv6:192.0.2.1]",
            "reader@example@example.com",
            &long_local,
            &long_label,
            &long_address,
        ] {
            assert!(
                AuthorEmail::parse(invalid).is_err(),
                "{invalid:?} is not an address"
            );
        }
    }

    #[test]
    fn bad_email_language_and_control_characters_are_refused() {
        let bad = ReviewInput {
            author_email: Some("not-an-email".into()),
            language: Some("klingon!".into()),
            ..input(4, "abc\u{0}def")
        };
        assert_eq!(
            fields(&parse_with_any_language(bad).unwrap_err()),
            ["author_email", "body", "language"]
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Text mixing ASCII, Cyrillic, controls, invisible and direction characters.
        fn hostile_text() -> impl Strategy<Value = String> {
            let pieces = prop::sample::select(vec![
                "a", "ї", " ", "\n", "\r", "\t", "\0", "\u{7}", "\u{85}", "\u{200B}", "\u{202E}",
                "\u{FEFF}", "\u{2800}", "\u{301}", "🙏", "\u{200D}", "@", "-",
            ]);
            prop_oneof![
                any::<String>(),
                prop::collection::vec(pieces, 0..40).prop_map(|parts| parts.concat()),
            ]
        }

        proptest! {
            #[test]
            fn any_submission_is_a_storable_review_or_named_errors(
                rating in prop::option::of(any::<i64>()),
                title in prop::option::of(hostile_text()),
                body in prop::option::of(hostile_text()),
                author_name in prop::option::of(hostile_text()),
                author_email in prop::option::of(hostile_text()),
                language in prop::option::of(hostile_text()),
            ) {
                let input = ReviewInput { rating, title, body, author_name, author_email, language };
                match parse_with_any_language(input) {
                    Ok(review) => {
                        prop_assert!((Rating::MIN..=Rating::MAX).contains(&review.rating.get()));
                        let texts = [
                            Some(review.body.as_str()),
                            review.title.as_ref().map(ReviewTitle::as_str),
                            review.author_name.as_ref().map(AuthorName::as_str),
                            review.author_email.as_ref().map(AuthorEmail::as_str),
                            review.language.as_ref().map(LanguageTag::as_str),
                        ];
                        for text in texts.into_iter().flatten() {
                            prop_assert!(!text.contains('\0'), "{text:?}");
                        }
                        prop_assert!(review.body.as_str().chars().any(text::is_visible));
                        prop_assert!(review.body.as_str().chars().count() <= ReviewBody::MAX_CHARS);
                    }
                    Err(errors) => {
                        prop_assert!(!errors.is_empty());
                        for error in errors {
                            prop_assert!([
                                "rating", "title", "body", "author_name", "author_email", "language"
                            ].contains(&error.field.as_str()));
                        }
                    }
                }
            }
        }
    }
}
