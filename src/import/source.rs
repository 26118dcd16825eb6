//! What every source format is read into: one record per comment or review, in file order, with
//! nothing decided yet about Marginalia's model (that is `import::Run` with `domain::import`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One record of a source file.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A reader's comment or review.
    Item(Box<SourceItem>),
    /// Something the source holds that is not readers' feedback, counted in the report and not
    /// imported.
    LeftOut { source_id: String, reason: LeftOut },
}

/// Why a record of the source is not feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeftOut {
    /// A WordPress pingback.
    Pingback,
    /// A WordPress trackback.
    Trackback,
}

impl LeftOut {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pingback => "pingback",
            Self::Trackback => "trackback",
        }
    }
}

/// The page a comment was written under, as the source names it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceThread {
    /// The source's own key of the page (Disqus `<id>`, a WordPress post id, our `article_id`);
    /// `None` when the source has none or it is empty.
    pub identifier: Option<String>,
    /// The page's address; `None` when the source has none.
    pub url: Option<String>,
    pub title: Option<String>,
}

/// A comment's text as the source keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceText {
    /// HTML (Disqus, WordPress, Remark42, Commento): made into safe text by `import::html`.
    Html(String),
    /// Plain text or Markdown source (Isso, our own export): kept as it is.
    Plain(String),
}

/// Where a comment stood in the source: the domain's reading of it, which decides its status.
pub use crate::domain::import::SourceStatus as SourceState;

/// A reader's comment or review.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceItem {
    /// The source's id of the item, unique within the file; the import's key with the format.
    pub source_id: String,
    pub thread: SourceThread,
    /// The source id of the item it answers; `None` for a top-level item.
    pub parent_id: Option<String>,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub text: SourceText,
    pub title: Option<String>,
    /// Stars, as the source gives them (only our own export has any); `None`: unrated.
    pub rating: Option<i16>,
    pub created_at: DateTime<Utc>,
    pub state: SourceState,
    /// What only Marginalia's own export carries.
    pub own: Option<Box<OwnFields>>,
}

/// The fields of Marginalia's own export that no other source has, so that an export imported
/// into a fresh installation reads the same.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnFields {
    pub id: Uuid,
    /// The exact status (`pending`, `published`, `rejected`, `spam`, `deleted`).
    pub status: String,
    pub reasons: Vec<String>,
    pub language: Option<String>,
    pub helpful_count: i32,
    pub unhelpful_count: i32,
    pub flag_count: i32,
    pub reply: Option<OwnReply>,
    pub edited_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub erased_at: Option<DateTime<Utc>>,
    pub reader_id: Option<String>,
    pub reader_badges: Vec<String>,
}

/// The newsroom's reply to a review, from our own export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnReply {
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a source file stopped making sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", self.place())]
pub struct ParseError {
    /// 1-based line of the file (of the decompressed text for a gzipped file); `None` for a
    /// database source.
    pub line: Option<u64>,
    /// 1-based column, in characters.
    pub column: Option<u64>,
    pub message: String,
}

impl ParseError {
    fn place(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("line {line}, column {column}"),
            (Some(line), None) => format!("line {line}"),
            _ => "the source".to_owned(),
        }
    }
}

/// The records of one source file, read as they are needed.
pub type Records = Box<dyn Iterator<Item = Result<Record, ParseError>> + Send>;
