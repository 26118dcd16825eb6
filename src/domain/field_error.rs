//! One problem with one input field, as reported to clients.

use std::borrow::Cow;

use serde::Serialize;
use utoipa::ToSchema;

/// A rule an input field broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"field": "rating", "code": "range", "message": "must be between 1 and 5"}))]
pub struct FieldError {
    /// The field, as named in the request (JSON member, path or query parameter).
    pub field: String,
    /// A stable machine-readable code such as `required`, `length`, `range`, `format`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    /// Flattens validator's nested report into one entry per broken rule.
    pub fn from_validation(errors: &validator::ValidationErrors) -> Vec<Self> {
        let mut out: Vec<Self> = errors
            .field_errors()
            .into_iter()
            .flat_map(|(field, field_errors)| {
                field_errors.iter().map(move |error| {
                    let message = error
                        .message
                        .clone()
                        .unwrap_or_else(|| Cow::Owned(format!("is invalid ({})", error.code)));
                    Self::new(field.to_string(), error.code.to_string(), message)
                })
            })
            .collect();
        out.sort_by(|a, b| a.field.cmp(&b.field));
        out
    }
}
