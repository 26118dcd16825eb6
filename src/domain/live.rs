//! Live updates: which event a change is, who may see it, and the position a reader resumes from.

use std::fmt;
use std::str::FromStr;

use super::review::ReviewStatus;

/// What happened to a review, as the live streams tell it. The first four are public (a reader's
/// stream sends them, each rendered from the review as a public read shows it); the last two
/// only move the moderators' queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveKind {
    /// The review became public (submitted as published, or approved).
    Published,
    /// A public review's text changed.
    Updated,
    /// The newsroom's reply to a public review was set, changed or removed.
    Replied,
    /// A public review stopped being public (rejected, spam, deleted, erased, held again).
    Removed,
    /// A review that is not public changed status (held on submission, moved between queues).
    Moderated,
    /// A reader flagged a review.
    Flagged,
}

impl LiveKind {
    pub const ALL: [Self; 6] = [
        Self::Published,
        Self::Updated,
        Self::Replied,
        Self::Removed,
        Self::Moderated,
        Self::Flagged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Updated => "updated",
            Self::Replied => "replied",
            Self::Removed => "removed",
            Self::Moderated => "moderated",
            Self::Flagged => "flagged",
        }
    }

    pub fn from_stored(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    /// Whether a reader's public stream carries it.
    pub fn is_public(self) -> bool {
        matches!(
            self,
            Self::Published | Self::Updated | Self::Replied | Self::Removed
        )
    }

    /// The event's name on a reader's stream; `None` for the moderators' own kinds.
    pub fn public_event(self) -> Option<&'static str> {
        match self {
            Self::Published => Some("review.published"),
            Self::Updated => Some("review.updated"),
            Self::Replied => Some("review.replied"),
            Self::Removed => Some("review.removed"),
            Self::Moderated | Self::Flagged => None,
        }
    }

    /// A review's status moved from `from` to `to` (a moderator, its author, readers' flags).
    pub fn of_status_change(from: ReviewStatus, to: ReviewStatus) -> Self {
        match (from.is_public(), to.is_public()) {
            (false, true) => Self::Published,
            (true, false) => Self::Removed,
            (true, true) => Self::Updated,
            (false, false) => Self::Moderated,
        }
    }

    /// A new review stored in `status`.
    pub fn of_submission(status: ReviewStatus) -> Self {
        if status.is_public() {
            Self::Published
        } else {
            Self::Moderated
        }
    }

    /// The author edited a review that was in `from` and is in `to` after the edit.
    pub fn of_edit(from: ReviewStatus, to: ReviewStatus) -> Self {
        Self::of_status_change(from, to)
    }

    /// The newsroom's reply changed on a review in `status`: only a public review's reply is news
    /// to readers (a held review's reply is shown when the review is published).
    pub fn of_reply(status: ReviewStatus) -> Option<Self> {
        status.is_public().then_some(Self::Replied)
    }
}

/// Whether a review in `status` with `flag_count` flags sits in one of the moderators' queue tabs
/// (pending; spam; published and flagged): its changes show there, and leaving settles it.
pub fn in_queue_tabs(status: ReviewStatus, flag_count: i32) -> bool {
    match status {
        ReviewStatus::Pending | ReviewStatus::Spam => true,
        ReviewStatus::Published => flag_count > 0,
        ReviewStatus::Rejected | ReviewStatus::Deleted => false,
    }
}

/// A position in an article's (or a site's) changes: the writing transaction's id, then the
/// event's sequence number in it. Sent as an event's `id` (`<tx>-<seq>`) and received back as
/// `Last-Event-ID`; ordered as the changes must be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    pub tx: u64,
    pub seq: i64,
}

impl Cursor {
    /// The position just before every change of transaction `tx` and those after it: what a
    /// reader has seen once everything below the oldest running transaction `tx` is delivered.
    pub fn before_transaction(tx: u64) -> Self {
        Self {
            tx: tx.saturating_sub(1),
            seq: i64::MAX,
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.tx, self.seq)
    }
}

/// Why a `Last-Event-ID` is not a position this service sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a live event id (expected <transaction>-<sequence>, two decimal numbers)")]
pub struct MalformedCursor;

/// The longest `Last-Event-ID` parsed: two 20-digit numbers and the dash.
pub const CURSOR_MAX_LENGTH: usize = 41;

impl FromStr for Cursor {
    type Err = MalformedCursor;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if raw.len() > CURSOR_MAX_LENGTH {
            return Err(MalformedCursor);
        }
        let (tx, seq) = raw.split_once('-').ok_or(MalformedCursor)?;
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(tx) || !digits(seq) {
            return Err(MalformedCursor);
        }
        Ok(Self {
            tx: tx.parse().map_err(|_| MalformedCursor)?,
            seq: seq.parse().map_err(|_| MalformedCursor)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReviewStatus::*;

    #[test]
    fn only_what_a_public_read_shows_becomes_a_public_event() {
        for from in ReviewStatus::ALL {
            for to in ReviewStatus::ALL {
                let kind = LiveKind::of_status_change(from, to);
                if !from.is_public() && !to.is_public() {
                    assert_eq!(kind, LiveKind::Moderated, "{from:?} → {to:?}");
                    assert!(!kind.is_public());
                }
            }
        }
        assert_eq!(
            LiveKind::of_status_change(Pending, Published),
            LiveKind::Published
        );
        assert_eq!(
            LiveKind::of_status_change(Published, Spam),
            LiveKind::Removed
        );
        assert_eq!(LiveKind::of_submission(Pending), LiveKind::Moderated);
        assert_eq!(LiveKind::of_submission(Spam), LiveKind::Moderated);
        assert_eq!(LiveKind::of_submission(Published), LiveKind::Published);
        assert_eq!(LiveKind::of_reply(Pending), None);
        assert_eq!(LiveKind::of_reply(Published), Some(LiveKind::Replied));
        assert_eq!(LiveKind::of_edit(Published, Published), LiveKind::Updated);
        assert_eq!(LiveKind::of_edit(Published, Pending), LiveKind::Removed);
    }

    #[test]
    fn the_queue_tabs_hold_pending_spam_and_flagged_published_reviews() {
        assert!(in_queue_tabs(Pending, 0));
        assert!(in_queue_tabs(Spam, 0));
        assert!(in_queue_tabs(Published, 1));
        assert!(!in_queue_tabs(Published, 0));
        assert!(!in_queue_tabs(Rejected, 3));
        assert!(!in_queue_tabs(Deleted, 0));
    }

    #[test]
    fn kinds_round_trip_and_only_public_ones_have_a_public_name() {
        for kind in LiveKind::ALL {
            assert_eq!(LiveKind::from_stored(kind.as_str()), Some(kind));
            assert_eq!(kind.public_event().is_some(), kind.is_public());
        }
    }

    #[test]
    fn a_cursor_is_two_numbers_and_orders_by_transaction_first() {
        let cursor: Cursor = "812345-77".parse().unwrap();
        assert_eq!(
            cursor,
            Cursor {
                tx: 812345,
                seq: 77
            }
        );
        assert_eq!(cursor.to_string(), "812345-77");
        assert!(Cursor { tx: 2, seq: 1 } > Cursor { tx: 1, seq: 900 });
        assert!(Cursor::before_transaction(10) < Cursor { tx: 10, seq: 1 });
        assert!(Cursor::before_transaction(10) > Cursor { tx: 9, seq: 5 });
        for bad in [
            "",
            "1",
            "1-",
            "-1",
            "a-1",
            "1-b",
            "+1-2",
            "1--2",
            "1-2-3",
            " 1-2",
            "99999999999999999999999-1",
            "1-99999999999999999999",
        ] {
            assert_eq!(bad.parse::<Cursor>(), Err(MalformedCursor), "{bad:?}");
        }
    }
}
