//! One problem with one input field, as reported to clients.

use std::borrow::Cow;

use serde::Serialize;
use utoipa::ToSchema;
use validator::ValidationError;

/// Which rule a field broke: a closed list, published as an enum so that clients can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    /// The field is missing.
    Required,
    /// Too short or too long (characters, after trimming and NFC).
    Length,
    /// A number or time outside its range.
    Range,
    /// Not in the expected format (pattern, URL, language tag, cursor, UUID).
    Format,
    /// A JSON value of the wrong type.
    Type,
    /// A JSON member the request does not have.
    UnknownField,
    /// A query parameter the operation does not have.
    Unknown,
    /// More values than allowed.
    TooMany,
    /// A cursor from another list (article, sort or filters).
    Mismatch,
    /// A query parameter given twice.
    Repeated,
    /// Not one of the allowed values.
    Enum,
    /// Not an email address.
    Email,
    /// A control character other than newline and tab.
    ControlCharacter,
    /// Only invisible characters.
    Blank,
    /// A well-formed value this server's policy refuses, such as a webhook URL that points at a
    /// private address.
    Disallowed,
}

impl FieldErrorCode {
    pub const ALL: [Self; 15] = [
        Self::Required,
        Self::Length,
        Self::Range,
        Self::Format,
        Self::Type,
        Self::UnknownField,
        Self::Unknown,
        Self::TooMany,
        Self::Mismatch,
        Self::Repeated,
        Self::Enum,
        Self::Email,
        Self::ControlCharacter,
        Self::Blank,
        Self::Disallowed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Length => "length",
            Self::Range => "range",
            Self::Format => "format",
            Self::Type => "type",
            Self::UnknownField => "unknown_field",
            Self::Unknown => "unknown",
            Self::TooMany => "too_many",
            Self::Mismatch => "mismatch",
            Self::Repeated => "repeated",
            Self::Enum => "enum",
            Self::Email => "email",
            Self::ControlCharacter => "control_character",
            Self::Blank => "blank",
            Self::Disallowed => "disallowed",
        }
    }

    /// The code of a `validator` rule, named by the same string; a rule this list lacks is
    /// reported as a format error rather than as a code clients cannot know.
    fn from_rule(rule: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|code| code.as_str() == rule)
            .unwrap_or(Self::Format)
    }
}

/// A rule an input field broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"field": "rating", "code": "range", "message": "must be an integer from 1 to 5"}))]
pub struct FieldError {
    /// The field, as named in the request (JSON member, path or query parameter).
    pub field: String,
    pub code: FieldErrorCode,
    /// A sentence for people.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: FieldErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// The same error for a field nested in `parent` (`data` + `url` → `data.url`).
    pub fn under(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }

    /// A broken rule, attributed to `field`.
    pub fn broke(field: &str, rule: &ValidationError) -> Self {
        let message = rule
            .message
            .clone()
            .unwrap_or_else(|| Cow::Owned(format!("is invalid ({})", rule.code)));
        Self::new(field, FieldErrorCode::from_rule(&rule.code), message)
    }
}

/// What is wrong with a request's fields, collected while each field is parsed, so that every
/// broken rule is reported at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

/// Whether a field must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
}

impl FieldErrors {
    /// Parses a field, noting a missing required field or a broken rule. A field that may be blank
    /// parses into an `Option` of its own; flatten it.
    pub fn parse<R, T>(
        &mut self,
        field: &str,
        presence: Presence,
        raw: Option<R>,
        parse: impl FnOnce(R) -> Result<T, ValidationError>,
    ) -> Option<T> {
        match raw {
            Some(raw) => self.check(field, parse(raw)),
            None if presence == Presence::Required => {
                let missing = FieldError::new(field, FieldErrorCode::Required, "is required");
                self.0.push(missing);
                None
            }
            None => None,
        }
    }

    /// Notes an error found by other means.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    fn check<T>(&mut self, field: &str, parsed: Result<T, ValidationError>) -> Option<T> {
        parsed
            .map_err(|rule| self.0.push(FieldError::broke(field, &rule)))
            .ok()
    }

    /// The broken rules, sorted by field, if there are any.
    pub fn into_result(mut self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            self.0.sort_by(|a, b| a.field.cmp(&b.field));
            Err(self.0)
        }
    }
}

/// `value` when no rule was broken while parsing it, else every broken rule.
pub fn valid_unless<T>(errors: Vec<FieldError>, value: T) -> Result<T, Vec<FieldError>> {
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(errors)
    }
}

/// Walks decoded query parameters: a repeated or unknown parameter is an error; each other one
/// goes to `read`, which notes its own errors and returns false for a name that is not a
/// parameter of the operation. Unknown names are cut to 64 characters in errors.
pub fn read_query_pairs<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    errors: &mut Vec<FieldError>,
    mut read: impl FnMut(&'a str, &'a str, &mut Vec<FieldError>) -> bool,
) {
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in pairs {
        if seen.contains(&name) {
            errors.push(FieldError::new(
                name,
                FieldErrorCode::Repeated,
                "may be given only once",
            ));
            continue;
        }
        seen.push(name);
        if !read(name, value, errors) {
            errors.push(FieldError::new(
                name.chars().take(64).collect::<String>(),
                FieldErrorCode::Unknown,
                "is not a parameter of this operation",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names() {
        for code in FieldErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(code.as_str())
            );
            assert_eq!(FieldErrorCode::from_rule(code.as_str()), code);
        }
    }
}
