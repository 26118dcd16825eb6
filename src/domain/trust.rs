//! How far a site trusts its readers (docs/readers.md): whose reviews skip pre-moderation or wait
//! for it, one review per reader and article, and moderators' suspensions of a reader.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::moderation::ModerationMode;
use super::reader::{is_badge, MAX_BADGES};
use super::text;
use super::{FieldError, FieldErrorCode};

/// The most approvals a policy may ask of a reader before trusting them.
pub const MAX_APPROVALS_TO_TRUST: u16 = 100;
pub const SUSPENSION_REASON_MAX_CHARS: usize = 500;

/// A site's trust policy, part of its `reader_tokens` settings. Every member is off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "publish_badges": ["subscriber"],
    "premoderate_anonymous": true,
    "approvals_to_trust": 3,
    "one_review_per_article": true
}))]
pub struct TrustPolicy {
    /// Verified readers holding any of these badges are published directly, even on a
    /// pre-moderated site (the content rules still hold what they catch, and an article's own
    /// moderation mode still wins).
    #[schema(max_items = 10)]
    #[serde(default)]
    pub publish_badges: Vec<String>,
    /// Reviews without a reader token wait for a moderator, even on a post-moderated site.
    #[serde(default)]
    pub premoderate_anonymous: bool,
    /// A verified reader's reviews wait for a moderator until this many of theirs are published;
    /// from then on they are published directly. 0: off.
    #[schema(maximum = 100)]
    #[serde(default)]
    pub approvals_to_trust: u16,
    /// A verified reader has one review per article: a second submission is refused with a 409
    /// naming the first, which they edit instead (deleting it frees the place).
    #[serde(default)]
    pub one_review_per_article: bool,
}

/// Who submits, as far as the trust policy cares.
#[derive(Debug, Clone, Copy)]
pub enum Submitter<'a> {
    Anonymous,
    Verified {
        badges: &'a [String],
        /// How many of their reviews on the site are published, as far as the policy asks: at
        /// least `approvals_to_trust`, or fewer (the store looks no further).
        published: i64,
    },
}

impl TrustPolicy {
    /// Checks the policy, naming each member that is wrong (under `reader_tokens.trust.`).
    pub fn check(&self, errors: &mut Vec<FieldError>) {
        let field = |name: &str| format!("reader_tokens.trust.{name}");
        if self.publish_badges.len() > MAX_BADGES {
            errors.push(FieldError::new(
                field("publish_badges"),
                FieldErrorCode::TooMany,
                format!("at most {MAX_BADGES} badges"),
            ));
        }
        for (index, badge) in self.publish_badges.iter().enumerate() {
            if !is_badge(badge) {
                errors.push(FieldError::new(
                    field(&format!("publish_badges[{index}]")),
                    FieldErrorCode::Format,
                    "a badge is 1 to 32 of a-z, 0-9, - and _",
                ));
            }
        }
        if self.approvals_to_trust > MAX_APPROVALS_TO_TRUST {
            errors.push(FieldError::new(
                field("approvals_to_trust"),
                FieldErrorCode::Range,
                format!("0 to {MAX_APPROVALS_TO_TRUST}"),
            ));
        }
    }

    /// Whether a verified reader's submission needs their published count.
    pub fn counts_approvals(&self) -> bool {
        self.approvals_to_trust > 0
    }

    /// The moderation mode of a submission on an article without a mode of its own: a trusted
    /// badge publishes; a reader still earning trust waits, then publishes; an anonymous review
    /// waits where the policy says so; otherwise the site's mode.
    pub fn mode_for(&self, submitter: Submitter<'_>, site_mode: ModerationMode) -> ModerationMode {
        match submitter {
            Submitter::Anonymous if self.premoderate_anonymous => ModerationMode::Pre,
            Submitter::Anonymous => site_mode,
            Submitter::Verified { badges, .. }
                if badges
                    .iter()
                    .any(|badge| self.publish_badges.contains(badge)) =>
            {
                ModerationMode::Post
            }
            Submitter::Verified { published, .. } if self.counts_approvals() => {
                if published < i64::from(self.approvals_to_trust) {
                    ModerationMode::Pre
                } else {
                    ModerationMode::Post
                }
            }
            Submitter::Verified { .. } => site_mode,
        }
    }
}

/// A moderator's suspension of a reader: until a time, or for good (`until: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    pub until: Option<DateTime<Utc>>,
    pub reason: String,
}

impl Suspension {
    /// Checks a suspension asked for at `now`: a time in the future, and a reason for the record.
    pub fn parse(
        until: Option<DateTime<Utc>>,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if until.is_some_and(|until| until <= now) {
            errors.push(FieldError::new(
                "until",
                FieldErrorCode::Range,
                "must be in the future (null: for good)",
            ));
        }
        let reason = match reason {
            None => {
                errors.push(FieldError::new(
                    "reason",
                    FieldErrorCode::Required,
                    "say why, for the record",
                ));
                None
            }
            Some(raw) => match text::free_text(raw, SUSPENSION_REASON_MAX_CHARS, &[]) {
                Ok(reason) => Some(reason),
                Err(rule) => {
                    errors.push(FieldError::broke("reason", &rule));
                    None
                }
            },
        };
        match reason {
            Some(reason) if errors.is_empty() => Ok(Self { until, reason }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn policy(badges: &[&str], anonymous: bool, approvals: u16) -> TrustPolicy {
        TrustPolicy {
            publish_badges: badges.iter().map(|b| (*b).to_owned()).collect(),
            premoderate_anonymous: anonymous,
            approvals_to_trust: approvals,
            one_review_per_article: false,
        }
    }

    fn verified(badges: &[String], published: i64) -> Submitter<'_> {
        Submitter::Verified { badges, published }
    }

    #[test]
    fn subscribers_publish_directly_and_anonymous_reviews_wait() {
        let policy = policy(&["subscriber"], true, 0);
        let subscriber = vec!["subscriber".to_owned()];
        let other = vec!["expert".to_owned()];
        for site in [ModerationMode::Pre, ModerationMode::Post] {
            assert_eq!(
                policy.mode_for(verified(&subscriber, 0), site),
                ModerationMode::Post
            );
            assert_eq!(
                policy.mode_for(Submitter::Anonymous, site),
                ModerationMode::Pre
            );
            assert_eq!(policy.mode_for(verified(&other, 0), site), site);
        }
    }

    #[test]
    fn a_reader_waits_until_enough_of_their_reviews_were_published() {
        let policy = policy(&[], false, 2);
        let none = Vec::new();
        let post = ModerationMode::Post;
        assert_eq!(
            policy.mode_for(verified(&none, 0), post),
            ModerationMode::Pre
        );
        assert_eq!(
            policy.mode_for(verified(&none, 1), post),
            ModerationMode::Pre
        );
        assert_eq!(
            policy.mode_for(verified(&none, 2), ModerationMode::Pre),
            ModerationMode::Post
        );
        assert_eq!(policy.mode_for(Submitter::Anonymous, post), post);
    }

    #[test]
    fn no_policy_leaves_the_sites_mode() {
        let policy = TrustPolicy::default();
        for site in [ModerationMode::Pre, ModerationMode::Post] {
            assert_eq!(policy.mode_for(Submitter::Anonymous, site), site);
            assert_eq!(policy.mode_for(verified(&[], 0), site), site);
        }
    }

    #[test]
    fn a_policy_names_its_wrong_members() {
        let mut errors = Vec::new();
        let mut wrong = policy(&["Staff"], false, 101);
        wrong.publish_badges.push("ok".into());
        wrong.check(&mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "reader_tokens.trust.publish_badges[0]",
                "reader_tokens.trust.approvals_to_trust"
            ]
        );
    }

    #[test]
    fn a_suspension_ends_in_the_future_and_says_why() {
        let now = Utc::now();
        let good = Suspension::parse(Some(now + Duration::days(7)), Some("spam"), now).unwrap();
        assert_eq!(good.until, Some(now + Duration::days(7)));
        let errors = Suspension::parse(Some(now), None, now).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["until", "reason"]);
    }
}
