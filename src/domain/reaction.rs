//! Readers' reactions to a review: helpful votes and abuse flags, one of each per voter.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::ValidationError;

use super::text;

/// Why a reader flags a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagReason {
    Spam,
    Abuse,
    OffTopic,
    Misinformation,
    PersonalData,
    Other,
}

impl FlagReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spam => "spam",
            Self::Abuse => "abuse",
            Self::OffTopic => "off_topic",
            Self::Misinformation => "misinformation",
            Self::PersonalData => "personal_data",
            Self::Other => "other",
        }
    }
}

/// A flag's optional note to the moderators; blank counts as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagNote(String);

impl FlagNote {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        Ok(text::optional_free_text(raw, Self::MAX_CHARS, &[text::has_visible_char])?.map(Self))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A token the reader's browser keeps (the widget stores a random one) so that its votes and
/// flags count once wherever the reader connects from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterToken(String);

impl VoterToken {
    pub const MIN_CHARS: usize = 16;
    pub const MAX_CHARS: usize = 128;

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

    #[test]
    fn tokens_and_notes_are_bounded() {
        assert!(VoterToken::parse("0193a1b2-0000-7000-8000-000000000001").is_ok());
        assert!(VoterToken::parse("short").is_err());
        assert!(VoterToken::parse("with space inside the token").is_err());
        assert!(VoterToken::parse(&"x".repeat(VoterToken::MAX_CHARS + 1)).is_err());
        assert_eq!(FlagNote::parse("  ").unwrap(), None);
        assert!(FlagNote::parse(&"ї".repeat(FlagNote::MAX_CHARS + 1)).is_err());
    }
}
