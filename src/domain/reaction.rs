//! Readers' reactions to a review: helpful votes and abuse flags, one of each per voter.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::ValidationError;

use super::text;
use super::{FieldError, FieldErrorCode};

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

/// A helpful vote.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"helpful": true, "voter_token": "7d1f0c52-2b8e-4c8a-9f61-0e4b7a9c3d21"}))]
pub struct VoteRequest {
    /// Whether the review helped.
    pub helpful: Option<bool>,
    /// A random token the reader's browser keeps (16 to 128 visible ASCII characters), so the
    /// reader's vote counts once wherever they connect from. Without it, the voter is a digest
    /// of address and user agent that changes daily; the address itself is never stored.
    #[schema(min_length = 16, max_length = 128)]
    pub voter_token: Option<String>,
}

/// A checked vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub helpful: bool,
    pub voter_token: Option<VoterToken>,
}

impl Vote {
    /// A missing `helpful` is reported alone; then a broken `voter_token`.
    pub fn parse(request: &VoteRequest) -> Result<Self, Vec<FieldError>> {
        let helpful = request.helpful.ok_or_else(|| {
            vec![FieldError::new(
                "helpful",
                FieldErrorCode::Required,
                "is required: true or false",
            )]
        })?;
        let voter_token =
            voter_token(request.voter_token.as_deref()).map_err(|error| vec![error])?;
        Ok(Self {
            helpful,
            voter_token,
        })
    }
}

/// An abuse flag.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "abuse", "note": "Образи на адресу автора статті."}))]
pub struct FlagRequest {
    pub reason: Option<FlagReason>,
    /// For the moderators.
    #[schema(max_length = 500)]
    pub note: Option<String>,
    /// As for votes.
    #[schema(min_length = 16, max_length = 128)]
    pub voter_token: Option<String>,
}

/// A checked flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub reason: FlagReason,
    pub note: Option<FlagNote>,
    pub voter_token: Option<VoterToken>,
}

impl Flag {
    /// Reports every broken rule at once, in the order `reason`, `note`, `voter_token`.
    pub fn parse(request: &FlagRequest) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if request.reason.is_none() {
            errors.push(FieldError::new(
                "reason",
                FieldErrorCode::Required,
                "is required: spam, abuse, off_topic, misinformation, personal_data or other",
            ));
        }
        let note = match request.note.as_deref().map(FlagNote::parse) {
            Some(Ok(note)) => note,
            Some(Err(rule)) => {
                errors.push(FieldError::broke("note", &rule));
                None
            }
            None => None,
        };
        let voter_token = voter_token(request.voter_token.as_deref())
            .map_err(|error| errors.push(error))
            .ok()
            .flatten();
        match request.reason {
            Some(reason) if errors.is_empty() => Ok(Self {
                reason,
                note,
                voter_token,
            }),
            _ => Err(errors),
        }
    }
}

/// Parses the optional `voter_token` of a vote or flag.
fn voter_token(raw: Option<&str>) -> Result<Option<VoterToken>, FieldError> {
    raw.map(VoterToken::parse)
        .transpose()
        .map_err(|rule| FieldError::broke("voter_token", &rule))
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

    #[test]
    fn a_flag_names_every_broken_field_in_order() {
        let request = FlagRequest {
            reason: None,
            note: Some("ї".repeat(FlagNote::MAX_CHARS + 1)),
            voter_token: Some("short".into()),
        };
        let errors = Flag::parse(&request).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["reason", "note", "voter_token"]);
        let vote = VoteRequest {
            helpful: None,
            voter_token: Some("short".into()),
        };
        let errors = Vote::parse(&vote).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "helpful");
    }
}
