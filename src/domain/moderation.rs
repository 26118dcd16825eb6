//! Moderation: the site's and an article's mode, the automatic rules with their reason codes, and
//! the transitions moderators may make. Plain functions, tested without a database.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

use super::review::ReviewStatus;
use super::webhook::EventType;

/// When new reviews become public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ModerationMode {
    /// Pre-moderation: every new or edited review waits as `pending` until a moderator approves.
    Pre,
    /// Post-moderation: reviews the rules let through are published at once.
    Post,
}

impl ModerationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pre => "pre",
            Self::Post => "post",
        }
    }

    pub fn from_stored(raw: &str) -> Option<Self> {
        match raw {
            "pre" => Some(Self::Pre),
            "post" => Some(Self::Post),
            _ => None,
        }
    }
}

/// Why a review was held or marked as spam automatically; moderators see these codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The text contains a term of the configured list.
    BannedTerm,
    /// More links than allowed.
    TooManyLinks,
    /// The same text from the same client on the same article within 24 hours.
    Duplicate,
    /// The hidden `website` field, which people leave empty, was filled in.
    Honeypot,
    /// Mostly capital letters, or one character repeated many times.
    Shouting,
    /// Readers flagged the review often enough to take it down for a moderator's look.
    Flagged,
}

impl ReasonCode {
    pub const ALL: [Self; 6] = [
        Self::BannedTerm,
        Self::TooManyLinks,
        Self::Duplicate,
        Self::Honeypot,
        Self::Shouting,
        Self::Flagged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BannedTerm => "banned_term",
            Self::TooManyLinks => "too_many_links",
            Self::Duplicate => "duplicate",
            Self::Honeypot => "honeypot",
            Self::Shouting => "shouting",
            Self::Flagged => "flagged",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == raw)
    }

    /// Whether the reason is about the text (and so decided again when the author edits it),
    /// rather than about how it arrived or how readers took it.
    pub fn is_about_text(self) -> bool {
        matches!(self, Self::BannedTerm | Self::TooManyLinks | Self::Shouting)
    }
}

/// Where a rule sends a review it catches. Never away: a caught review always reaches a
/// moderator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuleAction {
    Pending,
    Spam,
}

impl RuleAction {
    pub fn status(self) -> ReviewStatus {
        match self {
            Self::Pending => ReviewStatus::Pending,
            Self::Spam => ReviewStatus::Spam,
        }
    }
}

/// The automatic rules and their settings.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Banned terms, normalized as texts are (see `matching_form`).
    banned_terms: Vec<String>,
    /// More links than this is `too_many_links`.
    pub max_links: usize,
    actions: [(ReasonCode, RuleAction); 5],
}

/// A text is shouting when it has at least this many letters with case…
const SHOUTING_MIN_LETTERS: usize = 12;
/// …and this share (in percent) of them are capitals,
const SHOUTING_CAPITALS_PERCENT: usize = 70;
/// or when one letter (or `!`, `?`) repeats this many times in a row. Digits do not count:
/// "100 000 000" is a number, not a shout.
const SHOUTING_REPEATS: usize = 8;

impl Default for Rules {
    fn default() -> Self {
        Self {
            banned_terms: Vec::new(),
            max_links: 2,
            actions: [
                (ReasonCode::BannedTerm, RuleAction::Pending),
                (ReasonCode::TooManyLinks, RuleAction::Pending),
                // Readers sharing one network may well send the same short thanks.
                (ReasonCode::Duplicate, RuleAction::Pending),
                (ReasonCode::Honeypot, RuleAction::Spam),
                (ReasonCode::Shouting, RuleAction::Pending),
            ],
        }
    }
}

impl Rules {
    /// Rules with these banned terms (blank ones ignored) and the default actions.
    pub fn new(banned_terms: &[String], max_links: usize) -> Self {
        let mut terms: Vec<String> = banned_terms
            .iter()
            .map(|term| matching_form(term))
            .filter(|term| !term.trim().is_empty())
            .collect();
        terms.sort();
        terms.dedup();
        Self {
            banned_terms: terms,
            max_links,
            ..Self::default()
        }
    }

    /// Sets where one rule sends what it catches. `Flagged` is not a submission rule.
    pub fn set_action(&mut self, code: ReasonCode, action: RuleAction) -> Result<(), String> {
        let slot = self
            .actions
            .iter_mut()
            .find(|(rule, _)| *rule == code)
            .ok_or_else(|| format!("`{}` is not a rule with an action", code.as_str()))?;
        slot.1 = action;
        Ok(())
    }

    pub fn action(&self, code: ReasonCode) -> RuleAction {
        self.actions
            .iter()
            .find(|(rule, _)| *rule == code)
            .map_or(RuleAction::Pending, |(_, action)| *action)
    }

    /// Parses `rule=pending|spam` pairs separated by commas (the rules' actions setting).
    /// The same actions over other banned terms and another link limit: a site's own rules.
    pub fn with_terms(&self, banned_terms: &[String], max_links: usize) -> Self {
        Self {
            actions: self.actions,
            ..Self::new(banned_terms, max_links)
        }
    }

    pub fn parse_actions(&mut self, raw: &str) -> Result<(), String> {
        for pair in raw
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let (rule, action) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not `rule=pending` or `rule=spam`"))?;
            let code = ReasonCode::parse(rule.trim())
                .ok_or_else(|| format!("unknown rule `{}`", rule.trim()))?;
            let action = match action.trim() {
                "pending" => RuleAction::Pending,
                "spam" => RuleAction::Spam,
                other => return Err(format!("unknown action `{other}`: use pending or spam")),
            };
            self.set_action(code, action)?;
        }
        Ok(())
    }

    /// Runs every content rule over a submission. The duplicate rule needs the database and is
    /// decided by the store with `action(ReasonCode::Duplicate)`.
    pub fn check(&self, content: &Content<'_>) -> Verdict {
        let mut reasons = BTreeSet::new();
        let text = match content.title {
            Some(title) => format!("{title}\n{}", content.body),
            None => content.body.to_owned(),
        };
        if self.has_banned_term(&text) {
            reasons.insert(ReasonCode::BannedTerm);
        }
        if count_links(&text) > self.max_links {
            reasons.insert(ReasonCode::TooManyLinks);
        }
        if content
            .honeypot
            .is_some_and(|field| !field.trim().is_empty())
        {
            reasons.insert(ReasonCode::Honeypot);
        }
        if is_shouting(&text) {
            reasons.insert(ReasonCode::Shouting);
        }
        let action = reasons.iter().map(|code| self.action(*code)).max();
        Verdict {
            action,
            reasons: reasons.into_iter().collect(),
        }
    }

    fn has_banned_term(&self, text: &str) -> bool {
        if self.banned_terms.is_empty() {
            return false;
        }
        let haystack = matching_form(text);
        self.banned_terms
            .iter()
            .any(|term| haystack.contains(term.as_str()))
    }
}

/// What the rules read of a submission or an edit.
pub struct Content<'a> {
    pub title: Option<&'a str>,
    pub body: &'a str,
    /// The `website` field: hidden from people by the widget, filled in by bots.
    pub honeypot: Option<&'a str>,
}

/// The rules' decision: the strictest action among the rules that fired (none: the mode
/// decides), and every reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    pub action: Option<RuleAction>,
    pub reasons: Vec<ReasonCode>,
}

impl Verdict {
    pub fn reason_codes(&self) -> Vec<&'static str> {
        self.reasons.iter().map(|code| code.as_str()).collect()
    }
}

/// The form in which terms are looked for: compatibility-normalized (so full-width letters and
/// ligatures match), lower-cased by Unicode rules (Cyrillic included), every run of
/// non-alphanumeric characters one space, and a space at both ends, so a term matches whole
/// words only ("ass" is not found in "class").
pub fn matching_form(text: &str) -> String {
    let mut form = String::with_capacity(text.len() + 2);
    form.push(' ');
    let mut gap = true;
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            form.push(c);
            gap = false;
        } else if !gap {
            form.push(' ');
            gap = true;
        }
    }
    if !gap {
        form.push(' ');
    }
    form
}

/// Links in a text: `http://`, `https://` and `www.` starts, case-insensitively.
pub fn count_links(text: &str) -> usize {
    let lower = text.to_lowercase();
    lower.matches("http://").count()
        + lower.matches("https://").count()
        + lower
            .match_indices("www.")
            .filter(|(at, _)| !lower[..*at].ends_with("//"))
            .count()
}

/// Mostly capitals over enough letters, or one character repeated many times in a row.
pub fn is_shouting(text: &str) -> bool {
    let cased: Vec<char> = text
        .chars()
        .filter(|c| c.is_uppercase() || c.is_lowercase())
        .collect();
    let capitals = cased.iter().filter(|c| c.is_uppercase()).count();
    if cased.len() >= SHOUTING_MIN_LETTERS
        && capitals * 100 >= cased.len() * SHOUTING_CAPITALS_PERCENT
    {
        return true;
    }
    let mut run = 0;
    let mut previous = None;
    for c in text.chars() {
        if !(c.is_alphabetic() || c == '!' || c == '?') {
            previous = None;
            continue;
        }
        run = if Some(c) == previous { run + 1 } else { 1 };
        previous = Some(c);
        if run >= SHOUTING_REPEATS {
            return true;
        }
    }
    false
}

/// What a moderator does to reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModerationAction {
    /// Publish: from pending, rejected or spam.
    Approve,
    /// Reject: from pending, published or spam.
    Reject,
    /// Mark as spam: from pending, published or rejected.
    Spam,
    /// Back to the queue (`pending`): from rejected or spam. Deletion is final (an author's
    /// deletion must not be undone by anyone else; moderators who may change their mind reject).
    Restore,
    /// Take off the site, back to the queue (`pending`): from published. With `restore`, what
    /// undoes an approval or a rejection in the editors' console.
    Hold,
    /// Delete: from any status but deleted.
    Delete,
    /// Keep a flagged published review published and clear its readers' flags, so that it leaves
    /// the Flagged tab and it takes as many new flags as the first time to take it down. Only
    /// from published: a review the flags already took down is approved (which clears them too)
    /// or rejected instead.
    #[serde(rename = "dismiss_flags")]
    DismissFlags,
}

/// Why a moderator's action cannot apply to a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disallowed {
    pub from: ReviewStatus,
    pub action: ModerationAction,
}

impl ModerationAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Spam => "spam",
            Self::Restore => "restore",
            Self::Hold => "hold",
            Self::Delete => "delete",
            Self::DismissFlags => "dismiss_flags",
        }
    }

    pub fn target(self) -> ReviewStatus {
        match self {
            Self::Approve | Self::DismissFlags => ReviewStatus::Published,
            Self::Reject => ReviewStatus::Rejected,
            Self::Spam => ReviewStatus::Spam,
            Self::Restore | Self::Hold => ReviewStatus::Pending,
            Self::Delete => ReviewStatus::Deleted,
        }
    }

    /// The status a review in `from` moves to. A review already in the target status stays
    /// (repeating an action changes nothing). Erased reviews cannot come back.
    pub fn apply(self, from: ReviewStatus, erased: bool) -> Result<ReviewStatus, Disallowed> {
        use ReviewStatus::{Pending, Published, Rejected, Spam};
        let target = self.target();
        let allowed = from == target
            || match self {
                Self::Approve => matches!(from, Pending | Rejected | Spam),
                Self::Reject => matches!(from, Pending | Published | Spam),
                Self::Spam => matches!(from, Pending | Published | Rejected),
                Self::Restore => matches!(from, Rejected | Spam) && !erased,
                Self::Hold => from == Published,
                Self::Delete => true,
                // Its target is its only allowed status: it never moves a review.
                Self::DismissFlags => false,
            };
        if allowed {
            Ok(target)
        } else {
            Err(Disallowed { from, action: self })
        }
    }
}

/// What `dismiss_flags` does to a review in `from` with `flag_count` readers' flags: clears them
/// (`Ok(true)`), finds none to clear (`Ok(false)`, reported as unchanged like any repeated
/// action), or is refused because the review is not published.
pub fn dismisses_flags(from: ReviewStatus, flag_count: i32) -> Result<bool, Disallowed> {
    ModerationAction::DismissFlags.apply(from, false)?;
    Ok(flag_count > 0)
}

/// An actor or action the audit log is filtered by, compared exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter(String);

impl AuditFilter {
    /// The longest actor is an API key's name.
    pub const MAX_CHARS: usize = super::api_key::KEY_NAME_MAX_CHARS;

    pub fn parse(raw: &str) -> Result<Self, validator::ValidationError> {
        let length = raw.chars().count();
        if (1..=Self::MAX_CHARS).contains(&length) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(super::text::length_error(1, Self::MAX_CHARS, length))
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The newsroom's public reply to a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyBody(String);

impl ReplyBody {
    pub const MAX_CHARS: usize = 5_000;

    pub fn parse(raw: &str) -> Result<Self, validator::ValidationError> {
        super::text::free_text(raw, Self::MAX_CHARS, &[super::text::has_visible_char]).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A moderator's note on an action, kept in the audit log; blank counts as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModerationNote(String);

impl ModerationNote {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Option<Self>, validator::ValidationError> {
        Ok(
            super::text::optional_free_text(
                raw,
                Self::MAX_CHARS,
                &[super::text::has_visible_char],
            )?
            .map(Self),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Most reviews one moderation call may change, all in one transaction.
pub const MAX_BULK_IDS: usize = 500;

/// The outbound event of a status change, if any: the public side of a transition.
pub fn transition_event(from: ReviewStatus, to: ReviewStatus) -> Option<EventType> {
    if from == to {
        return None;
    }
    Some(match to {
        ReviewStatus::Published => EventType::ReviewPublished,
        ReviewStatus::Rejected | ReviewStatus::Spam => EventType::ReviewRejected,
        ReviewStatus::Deleted => EventType::ReviewDeleted,
        ReviewStatus::Pending => EventType::ReviewUpdated,
    })
}

/// Every action a moderator may take on a review, with where it leaves the review: one row per
/// status and action that `ModerationAction::apply` allows for a review that is not erased
/// (repeats, which leave the status as it is, included). The editors' console offers its buttons
/// from this table: `src/console/transitions.js` is generated from it by
/// `tests/api/console_transitions.rs`, so the console never decides a move of its own.
pub fn transitions() -> Vec<Transition> {
    ReviewStatus::ALL
        .into_iter()
        .flat_map(|from| {
            ModerationAction::ALL.into_iter().filter_map(move |action| {
                let to = action.apply(from, false).ok()?;
                Some(Transition { from, action, to })
            })
        })
        .collect()
}

/// One allowed move: `action` on a review in `from` leaves it in `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: ReviewStatus,
    pub action: ModerationAction,
    pub to: ReviewStatus,
}

impl ModerationAction {
    /// Every action, in the order the editors' console offers them: keeping a flagged review
    /// first, then publishing, the two ways back to the queue, and the ways off the site.
    pub const ALL: [Self; 7] = [
        Self::DismissFlags,
        Self::Approve,
        Self::Hold,
        Self::Restore,
        Self::Reject,
        Self::Spam,
        Self::Delete,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::review::initial_status;

    fn verdict(rules: &Rules, body: &str) -> Verdict {
        rules.check(&Content {
            title: None,
            body,
            honeypot: None,
        })
    }

    #[test]
    fn banned_terms_match_whole_words_in_any_case_and_script() {
        let rules = Rules::new(&["Шахрай".into(), "buy pills".into(), "  ".into()], 2);
        let caught = verdict(&rules, "Автор — ШАХРАЙ, не вірте.");
        assert_eq!(caught.reasons, [ReasonCode::BannedTerm]);
        assert_eq!(
            initial_status(caught.action, None, None, ModerationMode::Post),
            ReviewStatus::Pending
        );
        assert_eq!(
            verdict(&rules, "Cheap: BUY   pills!").reasons,
            [ReasonCode::BannedTerm]
        );
        // Full-width letters are folded to ASCII before matching.
        assert_eq!(
            verdict(&rules, "ｂｕｙ ｐｉｌｌｓ").reasons,
            [ReasonCode::BannedTerm]
        );
        // Only whole words: a longer word that contains the term is not caught.
        assert!(verdict(&rules, "шахрайство як тема статті")
            .reasons
            .is_empty());
        assert!(Rules::default()
            .check(&Content {
                title: None,
                body: "x",
                honeypot: None
            })
            .reasons
            .is_empty());
    }

    #[test]
    fn links_honeypot_and_shouting_fire_with_their_actions() {
        let rules = Rules::default();
        let links = verdict(
            &rules,
            "see https://a.example and http://b.example and www.c.example",
        );
        assert_eq!(links.reasons, [ReasonCode::TooManyLinks]);
        assert_eq!(count_links("https://www.a.example https://b.example"), 2);

        let bot = rules.check(&Content {
            title: None,
            body: "A fine article.",
            honeypot: Some("http://spam.example"),
        });
        assert_eq!(bot.reasons, [ReasonCode::Honeypot]);
        assert_eq!(
            initial_status(bot.action, None, None, ModerationMode::Post),
            ReviewStatus::Spam
        );
        assert!(rules
            .check(&Content {
                title: None,
                body: "ok",
                honeypot: Some("  ")
            })
            .reasons
            .is_empty());

        assert_eq!(
            verdict(&rules, "ЦЕ ЖАХЛИВА СТАТТЯ, ВСЕ БРЕХНЯ").reasons,
            [ReasonCode::Shouting]
        );
        assert_eq!(
            verdict(&rules, "Noooooooooo way").reasons,
            [ReasonCode::Shouting]
        );
        assert_eq!(
            verdict(&rules, "Why?????????").reasons,
            [ReasonCode::Shouting]
        );
        let numbers = "Бюджет — 100 000 000 гривень, а не 1000000000.";
        assert!(verdict(&rules, numbers).reasons.is_empty());
        assert!(verdict(&rules, "NATO and ISIS-K: a USA view")
            .reasons
            .is_empty());
    }

    #[test]
    fn the_strictest_action_wins_and_pre_moderation_holds_clean_reviews() {
        let mut rules = Rules::default();
        let both = rules.check(&Content {
            title: None,
            body: "AAAAAAAAAAAAAAAA",
            honeypot: Some("x"),
        });
        assert_eq!(both.reasons, [ReasonCode::Honeypot, ReasonCode::Shouting]);
        let status = |verdict: &Verdict, mode| initial_status(verdict.action, None, None, mode);
        assert_eq!(status(&both, ModerationMode::Post), ReviewStatus::Spam);
        assert_eq!(
            status(&Verdict::default(), ModerationMode::Pre),
            ReviewStatus::Pending
        );
        assert_eq!(
            status(&Verdict::default(), ModerationMode::Post),
            ReviewStatus::Published
        );

        rules
            .parse_actions("shouting=spam, honeypot=pending")
            .unwrap();
        assert_eq!(rules.action(ReasonCode::Shouting), RuleAction::Spam);
        assert_eq!(rules.action(ReasonCode::Honeypot), RuleAction::Pending);
        assert!(rules.parse_actions("shouting=drop").is_err());
        assert!(rules.parse_actions("flagged=spam").is_err());
        assert!(rules.parse_actions("nonsense").is_err());
    }

    #[test]
    fn the_valid_fixture_reviews_pass_every_rule() {
        let fixtures: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../tests/fixtures/reviews-valid.json")).unwrap();
        let rules = Rules::new(&["шахрай".into(), "scam".into()], 2);
        for review in &fixtures {
            let content = Content {
                title: review["title"].as_str(),
                body: review["body"].as_str().unwrap(),
                honeypot: None,
            };
            assert_eq!(rules.check(&content), Verdict::default(), "{review}");
        }
    }

    #[test]
    fn moderators_move_reviews_only_along_allowed_transitions() {
        use ModerationAction::{Approve, Delete, Hold, Reject, Restore};
        use ReviewStatus::{Deleted, Pending, Published, Rejected, Spam};
        assert_eq!(Approve.apply(Pending, false), Ok(Published));
        assert_eq!(Approve.apply(Published, false), Ok(Published));
        assert!(Approve.apply(Deleted, false).is_err());
        assert_eq!(Restore.apply(Spam, false), Ok(Pending));
        assert!(Restore.apply(Deleted, false).is_err(), "deletion is final");
        assert!(Restore.apply(Deleted, true).is_err(), "erased stays erased");
        assert!(Restore.apply(Published, false).is_err());
        assert_eq!(Hold.apply(Published, false), Ok(Pending));
        assert_eq!(Hold.apply(Pending, false), Ok(Pending), "already held");
        assert!(Hold.apply(Rejected, false).is_err());
        assert!(Hold.apply(Deleted, false).is_err());
        assert_eq!(Delete.apply(Published, true), Ok(Deleted));
        assert!(Reject.apply(Deleted, false).is_err());
        assert_eq!(
            transition_event(Pending, Published),
            Some(EventType::ReviewPublished)
        );
        assert_eq!(
            transition_event(Published, Spam),
            Some(EventType::ReviewRejected)
        );
        assert_eq!(transition_event(Published, Published), None);
    }

    #[test]
    fn dismissing_flags_keeps_a_published_review_published_and_nothing_else() {
        use ReviewStatus::{Deleted, Pending, Published, Rejected, Spam};
        let dismiss = ModerationAction::DismissFlags;
        assert_eq!(dismiss.as_str(), "dismiss_flags");
        assert_eq!(
            serde_json::to_value(dismiss).ok(),
            Some(serde_json::json!("dismiss_flags"))
        );
        assert_eq!(dismiss.apply(Published, false), Ok(Published));
        assert_eq!(dismisses_flags(Published, 3), Ok(true));
        assert_eq!(dismisses_flags(Published, 0), Ok(false), "nothing to clear");
        // A review the flags took down waits for approve or reject; the others are not public.
        for from in [Pending, Rejected, Spam, Deleted] {
            assert_eq!(
                dismisses_flags(from, 3),
                Err(Disallowed {
                    from,
                    action: dismiss
                }),
                "{from:?}"
            );
        }
        // No status change, so no outbound event: flags are not part of any public shape.
        assert_eq!(transition_event(Published, Published), None);
    }

    #[test]
    fn the_transition_table_lists_every_allowed_move_once() {
        use ModerationAction::{Approve, Delete, DismissFlags, Hold, Restore};
        use ReviewStatus::{Deleted, Pending, Published, Rejected, Spam};
        let table = transitions();
        let to = |from, action| {
            table
                .iter()
                .find(|row| row.from == from && row.action == action)
                .map(|row| row.to)
        };
        assert_eq!(to(Pending, Approve), Some(Published));
        assert_eq!(to(Published, Hold), Some(Pending));
        assert_eq!(to(Spam, Restore), Some(Pending));
        assert_eq!(to(Published, DismissFlags), Some(Published));
        assert_eq!(to(Pending, DismissFlags), None);
        assert_eq!(to(Rejected, Hold), None);
        // Deletion is final: the only row from `deleted` is deleting again, which changes nothing.
        let from_deleted: Vec<_> = table.iter().filter(|row| row.from == Deleted).collect();
        assert_eq!(from_deleted.len(), 1);
        assert_eq!(to(Deleted, Delete), Some(Deleted));
        for row in &table {
            assert_eq!(row.action.apply(row.from, false), Ok(row.to), "{row:?}");
        }
        let allowed = ReviewStatus::ALL
            .iter()
            .flat_map(|from| ModerationAction::ALL.map(|action| action.apply(*from, false)))
            .filter(Result::is_ok)
            .count();
        assert_eq!(table.len(), allowed);
    }
}
