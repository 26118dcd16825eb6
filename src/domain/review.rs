//! Reader reviews: what a submission must satisfy and how its text is normalized.

use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use validator::ValidationError;

use super::field_error::FieldErrors;
use super::field_error::Presence::{Optional, Required};
use super::language::{self, Guess, LanguageDetector};
use super::moderation::{ModerationMode, ReasonCode, RuleAction, Verdict};
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

/// A reader's review as submitted.
// As received: every field optional, so that a missing one is reported by name; `NewReview::parse`
// turns it into values that can only exist valid.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "rating": 4,
    "title": "Тверезий аналіз",
    "body": "Стаття добре пояснює, чому ІДІЛ-Хорасан не можна вважати переможеним.",
    "author_name": "Олена К.",
    "author_email": "olena@example.com",
    "language": "uk"
}))]
pub struct CreateReviewRequest {
    /// Stars. Required, unless the site takes feedback without stars (its `unrated_reviews`
    /// setting); a review without is listed with `rating: null` and left out of the average.
    #[schema(value_type = Rating)]
    #[serde(default, deserialize_with = "integral")]
    pub rating: Option<i64>,
    /// Optional headline.
    #[schema(value_type = Option<ReviewTitle>)]
    pub title: Option<String>,
    /// The review.
    #[schema(value_type = ReviewBody, required = true)]
    pub body: Option<String>,
    /// Name shown with the review.
    #[schema(value_type = Option<AuthorName>)]
    pub author_name: Option<String>,
    /// Never shown publicly.
    #[schema(value_type = Option<AuthorEmail>)]
    pub author_email: Option<String>,
    /// The review's language; detected from the text when absent.
    #[schema(value_type = Option<LanguageTag>)]
    pub language: Option<String>,
    /// Leave empty. A honeypot: forms hide it from people, so a value means a bot filled it in
    /// (the review is then kept for moderators as spam, and the answer looks like any other).
    #[schema(max_length = 0)]
    pub website: Option<String>,
    /// Email the author when the review is published after moderation, or not, and when the
    /// newsroom answers it (docs/email.md). Needs `author_email` (or a reader token carrying an
    /// email); an address that the site's login did not vouch for is asked to confirm first.
    #[serde(default)]
    pub notify: bool,
}

/// JSON Schema counts `3.0` as an integer, so a rating may arrive that way; `3.5` may not.
fn integral<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let number = Option::<serde_json::Number>::deserialize(deserializer)?;
    number
        .map(|number| {
            number
                .as_i64()
                .or_else(|| {
                    number
                        .as_f64()
                        .filter(|float| float.fract() == 0.0 && float.abs() < 1e15)
                        .map(|float| float as i64)
                })
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("expected an integer, got {number}"))
                })
        })
        .transpose()
}

/// For `#[serde(default, deserialize_with = "present")]`: tells a field sent as null
/// (`Some(None)`) from a field left out (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A star rating, from `Rating::MIN` to `Rating::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    /// How a rating is kept in the `rating` column: 0 for none (so rating-sorted pages keep a
    /// total order with their index; the import migration explains).
    pub fn to_stored(rating: Option<Self>) -> i16 {
        rating.map_or(0, Self::get)
    }

    /// The rating a stored value stands for; `None`: unrated.
    pub fn from_stored(stored: i16) -> Option<i16> {
        (stored != 0).then_some(stored)
    }
}

/// Whether a site's readers must give stars with their feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RatingRule {
    #[default]
    Required,
    /// Feedback without stars is accepted (the site's `unrated_reviews`).
    Optional,
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
    /// `None`: feedback without stars, where the site takes it.
    pub rating: Option<Rating>,
    pub title: Option<ReviewTitle>,
    pub body: ReviewBody,
    pub author_name: Option<AuthorName>,
    pub author_email: Option<AuthorEmail>,
    /// Given, or detected from the body when the evidence is clear.
    pub language: Option<LanguageTag>,
    /// When detection was undecided: the languages the body fits, one of which the article's
    /// language may be (`settle_language`).
    pub language_fits: Vec<LanguageTag>,
    /// The author asked to hear back by email.
    pub notify: bool,
}

impl NewReview {
    /// Normalizes and checks a submission, reporting every broken rule at once; a review without
    /// a language gets the one `detector` is sure of.
    pub fn parse(
        input: &CreateReviewRequest,
        detector: &LanguageDetector,
        rating_rule: RatingRule,
    ) -> Result<Self, Vec<FieldError>> {
        let mut fields = FieldErrors::default();
        let presence = match rating_rule {
            RatingRule::Required => Required,
            RatingRule::Optional => Optional,
        };
        let rating = fields.parse("rating", presence, input.rating, Rating::parse);
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
        match (body, fields.into_result()) {
            (Some(body), Ok(())) => {
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
                    notify: input.notify,
                })
            }
            (_, result) => Err(result.err().unwrap_or_default()),
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

/// An author's edit; fields left out stay as they are.
// As received; `ReviewEdit::parse` checks it (at least one field must be given).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rating": 3, "body": "Переглянув(ла) ще раз: джерел справді бракує."}))]
pub struct EditReviewRequest {
    #[schema(value_type = Option<Rating>)]
    #[serde(default, deserialize_with = "integral")]
    pub rating: Option<i64>,
    /// A new headline; null removes it.
    #[schema(value_type = Option<ReviewTitle>)]
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    #[schema(value_type = Option<ReviewBody>)]
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
    pub fn parse(input: EditReviewRequest) -> Result<Self, Vec<FieldError>> {
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

/// What only the database knows when a review is stored, and so what the submission statement
/// looks up before it can take the status `initial_status` gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredFacts {
    /// The same text came from the same client on the same article within 24 hours.
    pub duplicate: bool,
    /// The article's own moderation mode, if it has one.
    pub article_mode: Option<ModerationMode>,
}

impl StoredFacts {
    /// Every combination, in the order of `status_table`.
    pub const ALL: [Self; 6] = [
        Self::new(false, None),
        Self::new(false, Some(ModerationMode::Pre)),
        Self::new(false, Some(ModerationMode::Post)),
        Self::new(true, None),
        Self::new(true, Some(ModerationMode::Pre)),
        Self::new(true, Some(ModerationMode::Post)),
    ];

    const fn new(duplicate: bool, article_mode: Option<ModerationMode>) -> Self {
        Self {
            duplicate,
            article_mode,
        }
    }
}

/// The status of a new review: the one place it is decided. The strictest of what the content
/// rules and the duplicate rule ask for (a caught review always reaches a moderator); when
/// neither caught it, the article's own mode decides, or the site's when the article has none.
pub fn initial_status(
    rules: Option<RuleAction>,
    duplicate: Option<RuleAction>,
    article_mode: Option<ModerationMode>,
    site_mode: ModerationMode,
) -> ReviewStatus {
    match (rules.max(duplicate), article_mode.unwrap_or(site_mode)) {
        (Some(action), _) => action.status(),
        (None, ModerationMode::Pre) => ReviewStatus::Pending,
        (None, ModerationMode::Post) => ReviewStatus::Published,
    }
}

/// `initial_status` for each of `StoredFacts::ALL`, in that order: what the process knows is
/// decided here, and the submission statement picks the entry of what the database knows, so the
/// review is stored in one round trip with the status this function gives.
pub fn status_table(
    rules: Option<RuleAction>,
    duplicate_action: RuleAction,
    site_mode: ModerationMode,
) -> [ReviewStatus; 6] {
    StoredFacts::ALL.map(|facts| {
        let duplicate = facts.duplicate.then_some(duplicate_action);
        initial_status(rules, duplicate, facts.article_mode, site_mode)
    })
}

/// The status of a review its author edited: what `initial_status` gives the new text (edits are
/// not checked for duplicates), except that an edit never publishes what a moderator has not
/// seen: a held review stays held (or becomes spam), a rejected or spam one stays so.
pub fn edited_status(
    from: ReviewStatus,
    rules: Option<RuleAction>,
    article_mode: Option<ModerationMode>,
    site_mode: ModerationMode,
) -> ReviewStatus {
    match (from, initial_status(rules, None, article_mode, site_mode)) {
        (ReviewStatus::Rejected | ReviewStatus::Spam, _) => from,
        (ReviewStatus::Pending, ReviewStatus::Published) => ReviewStatus::Pending,
        (_, decided) => decided,
    }
}

/// The reasons of an edited review: the text's are decided anew by `verdict`; why the submission
/// itself or its readers held it (`kept`, the stored reasons) stays.
pub fn edited_reasons(verdict: &Verdict, kept: &[String]) -> Vec<String> {
    let mut reasons: Vec<String> = verdict
        .reason_codes()
        .into_iter()
        .map(str::to_owned)
        .collect();
    for kept in kept {
        let lasting = ReasonCode::parse(kept).is_some_and(|code| !code.is_about_text());
        if lasting && !reasons.contains(kept) {
            reasons.push(kept.clone());
        }
    }
    reasons
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

    fn parse_with_any_language(input: CreateReviewRequest) -> Result<NewReview, Vec<FieldError>> {
        NewReview::parse(&input, &LanguageDetector::default(), RatingRule::Required)
    }

    #[test]
    fn a_site_that_takes_unrated_feedback_needs_no_rating_but_checks_a_given_one() {
        let unrated = CreateReviewRequest {
            body: Some("Дякую за статтю.".to_owned()),
            ..Default::default()
        };
        let detector = LanguageDetector::default();
        let review = NewReview::parse(&unrated, &detector, RatingRule::Optional);
        assert_eq!(review.map(|review| review.rating), Ok(None));
        let errors = NewReview::parse(&unrated, &detector, RatingRule::Required).unwrap_err();
        assert_eq!(fields(&errors), ["rating"]);
        let errors =
            NewReview::parse(&input(6, "Дякую"), &detector, RatingRule::Optional).unwrap_err();
        assert_eq!(fields(&errors), ["rating"]);
        assert_eq!(Rating::from_stored(Rating::to_stored(None)), None);
        let four = Rating::parse(4).ok();
        assert_eq!(Rating::from_stored(Rating::to_stored(four)), Some(4));
    }
    use crate::domain::FieldErrorCode;

    fn input(rating: i64, body: &str) -> CreateReviewRequest {
        CreateReviewRequest {
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
        let review = parse_with_any_language(CreateReviewRequest {
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
        let errors = parse_with_any_language(CreateReviewRequest::default()).unwrap_err();
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

        let long_name = CreateReviewRequest {
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
        let bad = CreateReviewRequest {
            author_email: Some("not-an-email".into()),
            language: Some("klingon!".into()),
            ..input(4, "abc\u{0}def")
        };
        assert_eq!(
            fields(&parse_with_any_language(bad).unwrap_err()),
            ["author_email", "body", "language"]
        );
    }

    mod status_decision {
        use super::super::*;
        use crate::domain::moderation::ModerationMode as M;
        use crate::domain::moderation::RuleAction as A;
        use ReviewStatus as S;

        /// A row of each truth table: the inputs, then the status.
        type NewRow = (Option<A>, Option<A>, Option<M>, M, S);
        type EditedRow = (S, Option<A>, Option<M>, M, S);

        /// Rules' action × duplicate rule's action (when it fired) × article mode × site mode →
        /// status: 3 × 3 × 3 × 2 rows, every combination.
        #[rustfmt::skip]
        const NEW_REVIEWS: [NewRow; 54] = [
        (None, None, None, M::Pre, S::Pending),
        (None, None, None, M::Post, S::Published),
        (None, None, Some(M::Pre), M::Pre, S::Pending),
        (None, None, Some(M::Pre), M::Post, S::Pending),
        (None, None, Some(M::Post), M::Pre, S::Published),
        (None, None, Some(M::Post), M::Post, S::Published),
        (None, Some(A::Pending), None, M::Pre, S::Pending),
        (None, Some(A::Pending), None, M::Post, S::Pending),
        (None, Some(A::Pending), Some(M::Pre), M::Pre, S::Pending),
        (None, Some(A::Pending), Some(M::Pre), M::Post, S::Pending),
        (None, Some(A::Pending), Some(M::Post), M::Pre, S::Pending),
        (None, Some(A::Pending), Some(M::Post), M::Post, S::Pending),
        (None, Some(A::Spam), None, M::Pre, S::Spam),
        (None, Some(A::Spam), None, M::Post, S::Spam),
        (None, Some(A::Spam), Some(M::Pre), M::Pre, S::Spam),
        (None, Some(A::Spam), Some(M::Pre), M::Post, S::Spam),
        (None, Some(A::Spam), Some(M::Post), M::Pre, S::Spam),
        (None, Some(A::Spam), Some(M::Post), M::Post, S::Spam),
        (Some(A::Pending), None, None, M::Pre, S::Pending),
        (Some(A::Pending), None, None, M::Post, S::Pending),
        (Some(A::Pending), None, Some(M::Pre), M::Pre, S::Pending),
        (Some(A::Pending), None, Some(M::Pre), M::Post, S::Pending),
        (Some(A::Pending), None, Some(M::Post), M::Pre, S::Pending),
        (Some(A::Pending), None, Some(M::Post), M::Post, S::Pending),
        (Some(A::Pending), Some(A::Pending), None, M::Pre, S::Pending),
        (Some(A::Pending), Some(A::Pending), None, M::Post, S::Pending),
        (Some(A::Pending), Some(A::Pending), Some(M::Pre), M::Pre, S::Pending),
        (Some(A::Pending), Some(A::Pending), Some(M::Pre), M::Post, S::Pending),
        (Some(A::Pending), Some(A::Pending), Some(M::Post), M::Pre, S::Pending),
        (Some(A::Pending), Some(A::Pending), Some(M::Post), M::Post, S::Pending),
        (Some(A::Pending), Some(A::Spam), None, M::Pre, S::Spam),
        (Some(A::Pending), Some(A::Spam), None, M::Post, S::Spam),
        (Some(A::Pending), Some(A::Spam), Some(M::Pre), M::Pre, S::Spam),
        (Some(A::Pending), Some(A::Spam), Some(M::Pre), M::Post, S::Spam),
        (Some(A::Pending), Some(A::Spam), Some(M::Post), M::Pre, S::Spam),
        (Some(A::Pending), Some(A::Spam), Some(M::Post), M::Post, S::Spam),
        (Some(A::Spam), None, None, M::Pre, S::Spam),
        (Some(A::Spam), None, None, M::Post, S::Spam),
        (Some(A::Spam), None, Some(M::Pre), M::Pre, S::Spam),
        (Some(A::Spam), None, Some(M::Pre), M::Post, S::Spam),
        (Some(A::Spam), None, Some(M::Post), M::Pre, S::Spam),
        (Some(A::Spam), None, Some(M::Post), M::Post, S::Spam),
        (Some(A::Spam), Some(A::Pending), None, M::Pre, S::Spam),
        (Some(A::Spam), Some(A::Pending), None, M::Post, S::Spam),
        (Some(A::Spam), Some(A::Pending), Some(M::Pre), M::Pre, S::Spam),
        (Some(A::Spam), Some(A::Pending), Some(M::Pre), M::Post, S::Spam),
        (Some(A::Spam), Some(A::Pending), Some(M::Post), M::Pre, S::Spam),
        (Some(A::Spam), Some(A::Pending), Some(M::Post), M::Post, S::Spam),
        (Some(A::Spam), Some(A::Spam), None, M::Pre, S::Spam),
        (Some(A::Spam), Some(A::Spam), None, M::Post, S::Spam),
        (Some(A::Spam), Some(A::Spam), Some(M::Pre), M::Pre, S::Spam),
        (Some(A::Spam), Some(A::Spam), Some(M::Pre), M::Post, S::Spam),
        (Some(A::Spam), Some(A::Spam), Some(M::Post), M::Pre, S::Spam),
        (Some(A::Spam), Some(A::Spam), Some(M::Post), M::Post, S::Spam),
        ];

        /// Status before the edit × rules' action × article mode × site mode → status:
        /// 4 × 3 × 3 × 2 rows, every combination (a deleted review cannot be edited).
        #[rustfmt::skip]
        const EDITED_REVIEWS: [EditedRow; 72] = [
        (S::Pending, None, None, M::Pre, S::Pending),
        (S::Pending, None, None, M::Post, S::Pending),
        (S::Pending, None, Some(M::Pre), M::Pre, S::Pending),
        (S::Pending, None, Some(M::Pre), M::Post, S::Pending),
        (S::Pending, None, Some(M::Post), M::Pre, S::Pending),
        (S::Pending, None, Some(M::Post), M::Post, S::Pending),
        (S::Pending, Some(A::Pending), None, M::Pre, S::Pending),
        (S::Pending, Some(A::Pending), None, M::Post, S::Pending),
        (S::Pending, Some(A::Pending), Some(M::Pre), M::Pre, S::Pending),
        (S::Pending, Some(A::Pending), Some(M::Pre), M::Post, S::Pending),
        (S::Pending, Some(A::Pending), Some(M::Post), M::Pre, S::Pending),
        (S::Pending, Some(A::Pending), Some(M::Post), M::Post, S::Pending),
        (S::Pending, Some(A::Spam), None, M::Pre, S::Spam),
        (S::Pending, Some(A::Spam), None, M::Post, S::Spam),
        (S::Pending, Some(A::Spam), Some(M::Pre), M::Pre, S::Spam),
        (S::Pending, Some(A::Spam), Some(M::Pre), M::Post, S::Spam),
        (S::Pending, Some(A::Spam), Some(M::Post), M::Pre, S::Spam),
        (S::Pending, Some(A::Spam), Some(M::Post), M::Post, S::Spam),
        (S::Published, None, None, M::Pre, S::Pending),
        (S::Published, None, None, M::Post, S::Published),
        (S::Published, None, Some(M::Pre), M::Pre, S::Pending),
        (S::Published, None, Some(M::Pre), M::Post, S::Pending),
        (S::Published, None, Some(M::Post), M::Pre, S::Published),
        (S::Published, None, Some(M::Post), M::Post, S::Published),
        (S::Published, Some(A::Pending), None, M::Pre, S::Pending),
        (S::Published, Some(A::Pending), None, M::Post, S::Pending),
        (S::Published, Some(A::Pending), Some(M::Pre), M::Pre, S::Pending),
        (S::Published, Some(A::Pending), Some(M::Pre), M::Post, S::Pending),
        (S::Published, Some(A::Pending), Some(M::Post), M::Pre, S::Pending),
        (S::Published, Some(A::Pending), Some(M::Post), M::Post, S::Pending),
        (S::Published, Some(A::Spam), None, M::Pre, S::Spam),
        (S::Published, Some(A::Spam), None, M::Post, S::Spam),
        (S::Published, Some(A::Spam), Some(M::Pre), M::Pre, S::Spam),
        (S::Published, Some(A::Spam), Some(M::Pre), M::Post, S::Spam),
        (S::Published, Some(A::Spam), Some(M::Post), M::Pre, S::Spam),
        (S::Published, Some(A::Spam), Some(M::Post), M::Post, S::Spam),
        (S::Rejected, None, None, M::Pre, S::Rejected),
        (S::Rejected, None, None, M::Post, S::Rejected),
        (S::Rejected, None, Some(M::Pre), M::Pre, S::Rejected),
        (S::Rejected, None, Some(M::Pre), M::Post, S::Rejected),
        (S::Rejected, None, Some(M::Post), M::Pre, S::Rejected),
        (S::Rejected, None, Some(M::Post), M::Post, S::Rejected),
        (S::Rejected, Some(A::Pending), None, M::Pre, S::Rejected),
        (S::Rejected, Some(A::Pending), None, M::Post, S::Rejected),
        (S::Rejected, Some(A::Pending), Some(M::Pre), M::Pre, S::Rejected),
        (S::Rejected, Some(A::Pending), Some(M::Pre), M::Post, S::Rejected),
        (S::Rejected, Some(A::Pending), Some(M::Post), M::Pre, S::Rejected),
        (S::Rejected, Some(A::Pending), Some(M::Post), M::Post, S::Rejected),
        (S::Rejected, Some(A::Spam), None, M::Pre, S::Rejected),
        (S::Rejected, Some(A::Spam), None, M::Post, S::Rejected),
        (S::Rejected, Some(A::Spam), Some(M::Pre), M::Pre, S::Rejected),
        (S::Rejected, Some(A::Spam), Some(M::Pre), M::Post, S::Rejected),
        (S::Rejected, Some(A::Spam), Some(M::Post), M::Pre, S::Rejected),
        (S::Rejected, Some(A::Spam), Some(M::Post), M::Post, S::Rejected),
        (S::Spam, None, None, M::Pre, S::Spam),
        (S::Spam, None, None, M::Post, S::Spam),
        (S::Spam, None, Some(M::Pre), M::Pre, S::Spam),
        (S::Spam, None, Some(M::Pre), M::Post, S::Spam),
        (S::Spam, None, Some(M::Post), M::Pre, S::Spam),
        (S::Spam, None, Some(M::Post), M::Post, S::Spam),
        (S::Spam, Some(A::Pending), None, M::Pre, S::Spam),
        (S::Spam, Some(A::Pending), None, M::Post, S::Spam),
        (S::Spam, Some(A::Pending), Some(M::Pre), M::Pre, S::Spam),
        (S::Spam, Some(A::Pending), Some(M::Pre), M::Post, S::Spam),
        (S::Spam, Some(A::Pending), Some(M::Post), M::Pre, S::Spam),
        (S::Spam, Some(A::Pending), Some(M::Post), M::Post, S::Spam),
        (S::Spam, Some(A::Spam), None, M::Pre, S::Spam),
        (S::Spam, Some(A::Spam), None, M::Post, S::Spam),
        (S::Spam, Some(A::Spam), Some(M::Pre), M::Pre, S::Spam),
        (S::Spam, Some(A::Spam), Some(M::Pre), M::Post, S::Spam),
        (S::Spam, Some(A::Spam), Some(M::Post), M::Pre, S::Spam),
        (S::Spam, Some(A::Spam), Some(M::Post), M::Post, S::Spam),
        ];

        /// Rules × duplicate × article mode × site mode, every combination.
        #[test]
        fn a_new_review_s_status_follows_the_truth_table() {
            for (rules, duplicate, article, site, expected) in NEW_REVIEWS {
                assert_eq!(
                    initial_status(rules, duplicate, article, site),
                    expected,
                    "rules {rules:?}, duplicate {duplicate:?}, article {article:?}, site {site:?}"
                );
            }
        }

        /// The statement's table holds `initial_status` for each of the database's facts.
        #[test]
        fn the_status_table_is_initial_status_per_stored_fact() {
            for rules in [None, Some(A::Pending), Some(A::Spam)] {
                for duplicate in [A::Pending, A::Spam] {
                    for site in [M::Pre, M::Post] {
                        let table = status_table(rules, duplicate, site);
                        for (facts, status) in StoredFacts::ALL.iter().zip(table) {
                            let caught = facts.duplicate.then_some(duplicate);
                            assert_eq!(
                                status,
                                initial_status(rules, caught, facts.article_mode, site)
                            );
                        }
                    }
                }
            }
        }

        /// From-status × rules × article mode × site mode, every combination.
        #[test]
        fn an_edited_review_s_status_follows_the_truth_table() {
            for (from, rules, article, site, expected) in EDITED_REVIEWS {
                assert_eq!(
                    edited_status(from, rules, article, site),
                    expected,
                    "from {from:?}, rules {rules:?}, article {article:?}, site {site:?}"
                );
            }
        }

        #[test]
        fn an_edit_decides_the_text_s_reasons_anew_and_keeps_the_others() {
            let verdict = Verdict {
                action: Some(A::Pending),
                reasons: vec![ReasonCode::Shouting],
            };
            let kept = ["banned_term", "duplicate", "flagged", "shouting"].map(str::to_owned);
            assert_eq!(
                edited_reasons(&verdict, &kept),
                ["shouting", "duplicate", "flagged"]
            );
        }
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
                let input = CreateReviewRequest {
                    rating, title, body, author_name, author_email, language, website: None, notify: false,
                };
                match parse_with_any_language(input) {
                    Ok(review) => {
                        prop_assert!(review.rating.is_some_and(|rating| (Rating::MIN..=Rating::MAX).contains(&rating.get())));
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
