//! The editors' writes as checked values: a moderation order, a reply, an erasure. Each `parse`
//! takes the fields as sent and reports every broken rule at once, naming its field.

use uuid::Uuid;

use super::field_error::valid_unless;
use super::moderation::{ModerationAction, ModerationNote, ReplyBody, MAX_BULK_IDS};
use super::review::AuthorEmail;
use super::{FieldError, FieldErrorCode};

/// A moderator's action over 1 to `MAX_BULK_IDS` reviews, with the note the audit log keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModerationOrder {
    pub action: ModerationAction,
    pub review_ids: Vec<Uuid>,
    pub note: Option<ModerationNote>,
}

impl ModerationOrder {
    /// Reports a wrong number of ids, then a note that cannot be kept.
    pub fn parse(
        action: ModerationAction,
        review_ids: Vec<Uuid>,
        note: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if review_ids.is_empty() || review_ids.len() > MAX_BULK_IDS {
            errors.push(FieldError::new(
                "review_ids",
                FieldErrorCode::Length,
                format!("must hold 1 to {MAX_BULK_IDS} review ids"),
            ));
        }
        let note = match note.map(ModerationNote::parse) {
            Some(Ok(note)) => note,
            Some(Err(rule)) => {
                errors.push(FieldError::broke("note", &rule));
                None
            }
            None => None,
        };
        valid_unless(
            errors,
            Self {
                action,
                review_ids,
                note,
            },
        )
    }
}

/// The `field` that must be present and pass `parse`.
fn required<T>(
    field: &str,
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, validator::ValidationError>,
) -> Result<T, Vec<FieldError>> {
    match raw {
        None => Err(vec![FieldError::new(
            field,
            FieldErrorCode::Required,
            "is required",
        )]),
        Some(raw) => parse(raw).map_err(|rule| vec![FieldError::broke(field, &rule)]),
    }
}

/// The newsroom's reply, as its `body` field.
pub fn parse_reply(body: Option<&str>) -> Result<ReplyBody, Vec<FieldError>> {
    required("body", body, ReplyBody::parse)
}

/// Whose reviews to erase, as the `author_email` field.
pub fn parse_erasure(author_email: Option<&str>) -> Result<AuthorEmail, Vec<FieldError>> {
    required("author_email", author_email, AuthorEmail::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<T>(result: Result<T, Vec<FieldError>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|error| error.field)
            .collect()
    }

    #[test]
    fn orders_need_1_to_500_ids_and_a_keepable_note() {
        let order =
            |ids: Vec<Uuid>, note| ModerationOrder::parse(ModerationAction::Approve, ids, note);
        let parsed = order(vec![Uuid::nil()], Some("Checked.")).unwrap();
        assert_eq!(parsed.review_ids, [Uuid::nil()]);
        assert_eq!(
            parsed.note.as_ref().map(ModerationNote::as_str),
            Some("Checked.")
        );
        assert_eq!(fields(order(Vec::new(), None)), ["review_ids"]);
        let long_note = "x".repeat(ModerationNote::MAX_CHARS + 1);
        assert_eq!(
            fields(order(vec![Uuid::nil(); MAX_BULK_IDS + 1], Some(&long_note))),
            ["review_ids", "note"]
        );
        assert!(order(vec![Uuid::nil(); MAX_BULK_IDS], None).is_ok());
    }

    #[test]
    fn replies_and_erasures_need_their_field() {
        assert_eq!(fields(parse_reply(None)), ["body"]);
        assert_eq!(fields(parse_reply(Some(""))), ["body"]);
        assert_eq!(parse_reply(Some("Дякуємо!")).unwrap().as_str(), "Дякуємо!");
        assert_eq!(fields(parse_erasure(None)), ["author_email"]);
        assert_eq!(
            fields(parse_erasure(Some("not an email"))),
            ["author_email"]
        );
        assert!(parse_erasure(Some("olena.k@example.com")).is_ok());
    }
}
