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

/// New helpful/unhelpful votes one network (an IPv4 address or an IPv6 /64, as flags count) may
/// add to one review per UTC day. Votes are anonymous: a `User-Agent` or a `voter_token` is
/// whatever the client sends, so without this one address could invent any number of voters.
/// Beyond it a new voter's vote is answered with the counts as they are and not stored; a voter
/// who already voted may still change their vote.
pub const VOTES_PER_NETWORK_PER_DAY: i64 = 3;

/// Whether a new voter from a network may still vote on a review today.
pub fn network_may_vote(votes_from_network_today: i64) -> bool {
    votes_from_network_today < VOTES_PER_NETWORK_PER_DAY
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
    fn a_network_votes_up_to_its_daily_bound() {
        assert!(network_may_vote(0));
        assert!(network_may_vote(VOTES_PER_NETWORK_PER_DAY - 1));
        assert!(!network_may_vote(VOTES_PER_NETWORK_PER_DAY));
    }

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
