//! Commento's export: one JSON object, `{"version":1,"comments":[…],"commenters":[…]}`,
//! gzipped as Commento hands it out or already unpacked.
//!
//! The commenters (names and emails) may follow the comments, and the comments can be many, so
//! the file is read twice without ever being held whole: a first pass keeps only the commenters,
//! a second streams the comments from a reading thread through a small bounded channel.
//!
//! Commento's exporter writes a comment's path under the key `url` (`path` is accepted too) and
//! leaves `html` empty, so a comment's text is its Markdown unless `html` has something.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::file::{self, json_message};
use super::source::{
    ParseError, Record, Records, SourceItem, SourceState, SourceText, SourceThread,
};

/// How many comments the reading thread may run ahead of the importer.
const AHEAD: usize = 256;

/// What the reading thread says when the importer stopped listening.
const STOPPED: &str = "the importer stopped reading";

/// Reads the Commento export at `path`. The commenters are read first, so an error anywhere in
/// the file may be returned here.
pub fn open(path: &Path) -> Result<Records, ParseError> {
    let authors = read_commenters(path)?;
    let (sender, receiver) = sync_channel(AHEAD);
    let path = path.to_owned();
    std::thread::Builder::new()
        .name("commento-import".into())
        .spawn(move || send_comments(&path, &authors, &sender))
        .map_err(|e| ParseError {
            line: None,
            column: None,
            message: format!("cannot start reading: {e}"),
        })?;
    Ok(Box::new(Comments { receiver }))
}

struct Comments {
    receiver: Receiver<Result<Record, ParseError>>,
}

impl Iterator for Comments {
    type Item = Result<Record, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        // The reading thread stops after its first error and hangs up when done.
        self.receiver.recv().ok()
    }
}

#[derive(Deserialize)]
struct Commenter {
    #[serde(rename = "commenterHex")]
    hex: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
}

/// A commenter's name and email, either possibly absent.
type Author = (Option<String>, Option<String>);

#[derive(Deserialize)]
struct Comment {
    #[serde(rename = "commentHex")]
    hex: String,
    #[serde(default)]
    domain: String,
    #[serde(default, alias = "path")]
    url: String,
    #[serde(rename = "commenterHex")]
    commenter: String,
    #[serde(default)]
    markdown: String,
    #[serde(default)]
    html: String,
    #[serde(rename = "parentHex")]
    parent: String,
    state: State,
    #[serde(default)]
    deleted: bool,
    #[serde(rename = "creationDate")]
    created_at: DateTime<Utc>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum State {
    Approved,
    Unapproved,
    Flagged,
}

fn non_empty(text: String) -> Option<String> {
    Some(text).filter(|t| !t.trim().is_empty())
}

fn open_json(
    path: &Path,
) -> Result<
    serde_json::Deserializer<serde_json::de::IoRead<Box<dyn std::io::BufRead + Send>>>,
    ParseError,
> {
    Ok(serde_json::Deserializer::from_reader(file::open_text(
        path,
    )?))
}

/// serde_json's error placed in the file: its column is in bytes, ours in characters.
fn json_error(path: &Path, error: &serde_json::Error) -> ParseError {
    let line = u64::try_from(error.line()).unwrap_or(0);
    if line == 0 {
        return ParseError {
            line: None,
            column: None,
            message: json_message(error),
        };
    }
    let byte_column = u64::try_from(error.column()).unwrap_or(0);
    let column = match file::line(path, line) {
        Ok(text) => file::char_column(&text, byte_column),
        Err(_) => byte_column.max(1),
    };
    ParseError {
        line: Some(line),
        column: Some(column),
        message: json_message(error),
    }
}

/// The first pass: every commenter by hex.
fn read_commenters(path: &Path) -> Result<HashMap<String, Author>, ParseError> {
    let mut deserializer = open_json(path)?;
    let authors = deserializer
        .deserialize_map(Top { comments: None })
        .and_then(|authors| deserializer.end().map(|()| authors))
        .map_err(|e| json_error(path, &e))?;
    Ok(authors)
}

/// The second pass, on the reading thread.
fn send_comments(
    path: &Path,
    authors: &HashMap<String, Author>,
    sender: &SyncSender<Result<Record, ParseError>>,
) {
    let result = open_json(path).and_then(|mut deserializer| {
        let top = Top {
            comments: Some(CommentSeq { authors, sender }),
        };
        deserializer
            .deserialize_map(top)
            .and_then(|_| deserializer.end())
            .map_err(|e| json_error(path, &e))
    });
    if let Err(error) = result {
        if error.message != STOPPED {
            // Nobody may be listening any more: then there is no one to tell.
            let _ = sender.send(Err(error));
        }
    }
}

/// The top-level object. In the first pass (`comments` None) it keeps the commenters and skips
/// the comments; in the second it sends the comments and skips the commenters.
struct Top<'a> {
    comments: Option<CommentSeq<'a>>,
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = HashMap<String, Author>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Commento export object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut authors = HashMap::new();
        while let Some(key) = map.next_key::<String>()? {
            match (key.as_str(), self.comments.take()) {
                ("commenters", None) => {
                    for commenter in map.next_value::<Vec<Commenter>>()? {
                        let author = (non_empty(commenter.name), non_empty(commenter.email));
                        authors.insert(commenter.hex, author);
                    }
                }
                ("comments", Some(seq)) => map.next_value_seed(seq)?,
                (_, comments) => {
                    self.comments = comments;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(authors)
    }
}

struct CommentSeq<'a> {
    authors: &'a HashMap<String, Author>,
    sender: &'a SyncSender<Result<Record, ParseError>>,
}

impl<'de> DeserializeSeed<'de> for CommentSeq<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CommentSeq<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of comments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(comment) = seq.next_element::<Comment>()? {
            let record = Ok(item(comment, self.authors));
            if self.sender.send(record).is_err() {
                return Err(de::Error::custom(STOPPED));
            }
        }
        Ok(())
    }
}

fn item(comment: Comment, authors: &HashMap<String, Author>) -> Record {
    let (author_name, author_email) = match comment.commenter.as_str() {
        "anonymous" => (None, None),
        hex => authors.get(hex).cloned().unwrap_or_default(),
    };
    let state = match (comment.deleted, comment.state) {
        (true, _) => SourceState::Deleted,
        (false, State::Approved) => SourceState::Published,
        (false, State::Unapproved) => SourceState::Pending,
        (false, State::Flagged) => SourceState::Spam,
    };
    let text = match non_empty(comment.html) {
        Some(html) => SourceText::Html(html),
        None => SourceText::Plain(comment.markdown),
    };
    let url =
        (!comment.domain.is_empty()).then(|| format!("https://{}{}", comment.domain, comment.url));
    Record::Item(Box::new(SourceItem {
        source_id: comment.hex,
        thread: SourceThread {
            identifier: non_empty(comment.url),
            url,
            title: None,
        },
        parent_id: Some(comment.parent).filter(|p| p != "root" && !p.is_empty()),
        author_name,
        author_email,
        text,
        title: None,
        rating: None,
        created_at: comment.created_at,
        state,
        own: None,
    }))
}

#[cfg(test)]
mod tests {

    use super::super::source::{ParseError, SourceItem, SourceState, SourceText};
    use super::open;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/commento.json"
    );

    fn items(path: &std::path::Path) -> Result<Vec<SourceItem>, ParseError> {
        super::super::test_support::items(open(path))
    }

    use super::super::test_support::temp;

    #[test]
    fn fixture_items() {
        let items = items(FIXTURE.as_ref()).unwrap();
        let ids: Vec<&str> = items.iter().map(|i| i.source_id.as_str()).collect();
        assert_eq!(
            ids,
            ["c101", "c103", "c102", "c104", "c105", "c106", "c201", "c202"]
        );
        let by = |id: &str| items.iter().find(|i| i.source_id == id).unwrap();
        let path = "/a/islamic-state-afghan-affiliate-claims-deadly-attacks";
        let first = by("c101");
        assert_eq!(first.thread.identifier.as_deref(), Some(path));
        assert_eq!(
            first.thread.url.as_deref(),
            Some(format!("https://news.example.org{path}").as_str())
        );
        assert_eq!(first.thread.title, None);
        assert_eq!(first.author_name.as_deref(), Some("Олена К."));
        assert_eq!(first.author_email.as_deref(), Some("olena.k@example.com"));
        assert_eq!(first.parent_id, None);
        assert_eq!(
            first.text,
            SourceText::Plain("Тверезий **аналіз**, дякую.".into())
        );
        assert_eq!(first.state, SourceState::Published);
        assert_eq!(first.created_at.to_rfc3339(), "2020-05-14T10:15:00+00:00");
        assert_eq!(by("c103").parent_id.as_deref(), Some("c102"));
        assert_eq!(by("c102").parent_id.as_deref(), Some("c101"));
        let anonymous = by("c104");
        assert_eq!(
            (
                anonymous.author_name.clone(),
                anonymous.author_email.clone()
            ),
            (None, None)
        );
        let SourceText::Html(html) = &anonymous.text else {
            panic!()
        };
        assert_eq!(super::super::html::to_text(html), "تحليل ممتاز");
        assert_eq!(by("c105").state, SourceState::Spam);
        assert_eq!(by("c106").state, SourceState::Deleted);
        let orphan = by("c201");
        assert_eq!(orphan.state, SourceState::Pending);
        assert_eq!(orphan.parent_id.as_deref(), Some("c199"));
        assert_eq!(
            orphan.thread.identifier.as_deref(),
            Some("/a/kunar-province-cleared")
        );
        let no_path = by("c202");
        assert_eq!(no_path.thread.identifier, None);
        assert_eq!(
            no_path.thread.url.as_deref(),
            Some("https://news.example.org")
        );
        assert_eq!(no_path.author_name.as_deref(), Some("נועה"));
        assert_eq!(no_path.author_email, None);
        assert_eq!(
            no_path.created_at.to_rfc3339(),
            "2020-03-22T08:00:00.500+00:00"
        );
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let comment = |state: &str| {
            format!("{{\"commentHex\":\"a\",\"commenterHex\":\"anonymous\",\"parentHex\":\"root\",\"state\":\"{state}\",\"creationDate\":\"2020-01-01T00:00:00Z\"}}")
        };
        let cases = [
            (
                format!(
                    "{{\"comments\":[\n{},\n  {}]}}",
                    comment("approved"),
                    comment("ї-maybe")
                ),
                3,
                83,
                "unknown variant",
            ),
            (
                "{\"comments\":[\n{\"commenterHex\":\"x\"}]}".to_owned(),
                2,
                20,
                "missing field `commentHex`",
            ),
            (
                "{\"comments\":[],\n\"commenters\":[{\"name\":\"Тарас\"}]}".to_owned(),
                2,
                30,
                "missing field `commenterHex`",
            ),
            ("[1, 2]".to_owned(), 1, 1, "Commento export object"),
            ("{\"comments\":[\n".to_owned(), 2, 0, "EOF"),
        ];
        for (content, line, column, message) in cases {
            let file = temp(&content);
            let error = items(file.path()).unwrap_err();
            assert_eq!(
                (error.line, error.column),
                (Some(line), Some(column.max(1))),
                "{error}"
            );
            assert!(error.message.contains(message), "{message}: {error}");
        }
    }
}
