//! Reader reviews: what a submission must satisfy and how its text is normalized.

use validator::{Validate, ValidationError};

use super::text;
use super::FieldError;

pub const RATING_MIN: i64 = 1;
pub const RATING_MAX: i64 = 5;
pub const BODY_MAX: usize = 10_000;
pub const TITLE_MAX: usize = 200;
pub const AUTHOR_NAME_MAX: usize = 100;
pub const AUTHOR_EMAIL_MAX: usize = 254;

/// Where a review stands in moderation. Only `Published` reviews are ever shown or counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    /// The status a new submission gets: published at once until moderation exists.
    pub fn initial() -> Self {
        Self::Published
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

/// A submission that passed every rule; text fields are NFC, trimmed and within their limits.
#[derive(Debug, Clone, PartialEq, Validate)]
pub struct NewReview {
    #[validate(range(min = 1, max = 5, message = "must be an integer from 1 to 5"))]
    pub rating: i64,
    #[validate(custom(function = "title_rules"))]
    pub title: Option<String>,
    #[validate(custom(function = "body_rules"))]
    pub body: String,
    #[validate(custom(function = "author_name_rules"))]
    pub author_name: Option<String>,
    #[validate(custom(function = "author_email_rules"))]
    pub author_email: Option<String>,
    #[validate(custom(function = "text::bcp47"))]
    pub language: Option<String>,
}

fn body_rules(body: &str) -> Result<(), ValidationError> {
    text::char_length(body, 1, BODY_MAX)?;
    text::no_control_chars(body)?;
    text::has_visible_char(body)
}

fn title_rules(title: &str) -> Result<(), ValidationError> {
    text::char_length(title, 1, TITLE_MAX)?;
    text::no_control_chars(title)?;
    text::has_visible_char(title)
}

fn author_name_rules(name: &str) -> Result<(), ValidationError> {
    text::char_length(name, 1, AUTHOR_NAME_MAX)?;
    text::no_control_chars(name)?;
    text::display_name_chars(name)?;
    text::has_visible_char(name)
}

fn author_email_rules(email: &str) -> Result<(), ValidationError> {
    use validator::ValidateEmail;
    text::char_length(email, 1, AUTHOR_EMAIL_MAX)?;
    if email.validate_email() {
        Ok(())
    } else {
        let mut error = ValidationError::new("email");
        error.message = Some("must be an email address such as reader@example.com".into());
        Err(error)
    }
}

impl NewReview {
    /// Normalizes and checks a submission, reporting every broken rule at once.
    pub fn parse(input: ReviewInput) -> Result<Self, Vec<FieldError>> {
        let mut missing = Vec::new();
        if input.rating.is_none() {
            missing.push(FieldError::new("rating", "required", "is required"));
        }
        if input.body.is_none() {
            missing.push(FieldError::new("body", "required", "is required"));
        }
        let review = Self {
            rating: input.rating.unwrap_or(RATING_MIN),
            title: text::normalize_optional(input.title.as_deref()),
            body: input
                .body
                .as_deref()
                .map(text::normalize)
                .unwrap_or_default(),
            author_name: text::normalize_optional(input.author_name.as_deref()),
            // Machine fields: checked as sent, never trimmed into validity.
            author_email: input.author_email,
            language: input.language,
        };
        let mut errors = match review.validate() {
            Ok(()) => Vec::new(),
            Err(report) => FieldError::from_validation(&report),
        };
        // A missing field's own report says more than the placeholder's.
        errors.retain(|error| !missing.iter().any(|m| m.field == error.field));
        errors.extend(missing);
        if !errors.is_empty() {
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            return Err(errors);
        }
        let language = match review.language.as_deref() {
            Some(tag) => Some(text::canonical_language(tag)),
            None => detect_language(&review.body),
        };
        Ok(Self { language, ..review })
    }

    pub fn rating_i16(&self) -> i16 {
        // Validated to 1..=5 above.
        self.rating as i16
    }
}

/// How much of a review language detection reads: enough to be sure, and a bound on the work a
/// 10,000-character review costs on the request path.
const DETECTION_SAMPLE_CHARS: usize = 400;

/// Guesses the language of a text as an ISO 639-1 code, or `None` when the guess is unreliable
/// (short texts, mixed scripts): a wrong tag would mislead filters more than no tag.
pub fn detect_language(text: &str) -> Option<String> {
    let sample_end = text
        .char_indices()
        .nth(DETECTION_SAMPLE_CHARS)
        .map_or(text.len(), |(index, _)| index);
    let info = whatlang::detect(&text[..sample_end])?;
    if !info.is_reliable() {
        return None;
    }
    isolang::Language::from_639_3(info.lang().code())
        .and_then(|language| language.to_639_1())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let review = NewReview::parse(ReviewInput {
            title: Some("  Тверезий аналіз ".into()),
            author_email: Some("jmiller@example.com".into()),
            language: Some("UK".into()),
            ..input(4, "  Стаття добре пояснює.\r\n")
        })
        .unwrap();
        assert_eq!(review.body, "Стаття добре пояснює.");
        assert_eq!(review.title.as_deref(), Some("Тверезий аналіз"));
        assert_eq!(review.author_email.as_deref(), Some("jmiller@example.com"));
        assert_eq!(review.language.as_deref(), Some("uk"));
    }

    #[test]
    fn missing_and_out_of_range_fields_are_named() {
        let errors = NewReview::parse(ReviewInput::default()).unwrap_err();
        assert_eq!(fields(&errors), ["body", "rating"]);
        assert!(errors.iter().all(|e| e.code == "required"));

        assert_eq!(
            fields(&NewReview::parse(input(0, "fine")).unwrap_err()),
            ["rating"]
        );
        assert_eq!(
            fields(&NewReview::parse(input(6, "fine")).unwrap_err()),
            ["rating"]
        );
        assert_eq!(
            fields(&NewReview::parse(input(3, " \n\t ")).unwrap_err()),
            ["body"]
        );
    }

    #[test]
    fn limits_are_characters_after_trimming() {
        let at_limit = format!("  {}  ", "ї".repeat(BODY_MAX));
        assert!(NewReview::parse(input(4, &at_limit)).is_ok());
        let over = "ї".repeat(BODY_MAX + 1);
        let errors = NewReview::parse(input(4, &over)).unwrap_err();
        assert_eq!(errors[0].code, "length");

        let long_name = ReviewInput {
            author_name: Some("n".repeat(AUTHOR_NAME_MAX + 1)),
            title: Some("t".repeat(TITLE_MAX + 1)),
            ..input(4, "ok")
        };
        assert_eq!(
            fields(&NewReview::parse(long_name).unwrap_err()),
            ["author_name", "title"]
        );
    }

    #[test]
    fn bad_email_language_and_control_characters_are_refused() {
        let bad = ReviewInput {
            author_email: Some("not-an-email".into()),
            language: Some("klingon!".into()),
            ..input(4, "abc\u{0}def")
        };
        assert_eq!(
            fields(&NewReview::parse(bad).unwrap_err()),
            ["author_email", "body", "language"]
        );
    }

    #[test]
    fn language_is_detected_only_when_reliable() {
        let ukrainian = "Стаття добре пояснює, чому ІДІЛ-Хорасан не можна вважати переможеним: \
                         цифри про кількість бойовиків вражають. Бракує лише карти та думки \
                         місцевих жителів.";
        assert_eq!(detect_language(ukrainian).as_deref(), Some("uk"));
        assert_eq!(detect_language("ok"), None);
        let long = format!("{ukrainian} ").repeat(200);
        assert_eq!(
            detect_language(&long).as_deref(),
            Some("uk"),
            "long texts are sampled"
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
                match NewReview::parse(input) {
                    Ok(review) => {
                        prop_assert!((RATING_MIN..=RATING_MAX).contains(&review.rating));
                        let texts = [
                            Some(&review.body), review.title.as_ref(), review.author_name.as_ref(),
                            review.author_email.as_ref(), review.language.as_ref(),
                        ];
                        for text in texts.into_iter().flatten() {
                            prop_assert!(!text.contains('\0'), "{text:?}");
                        }
                        prop_assert!(review.body.chars().any(text::is_visible));
                        prop_assert!(review.body.chars().count() <= BODY_MAX);
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
