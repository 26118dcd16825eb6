//! Isso's SQLite database: `threads(id, uri, title)` and `comments(tid, id, parent, created,
//! mode, text, author, email, …)`, opened read-only and read a page of comments at a time by id,
//! so that the iterator owns its connection and holds one page at most.
//!
//! Isso keys a page by its `uri` alone (usually a path) and keeps comments as Markdown. It has no
//! spam state: a comment is valid (mode 1), pending (2) or soft-deleted (4).

use std::collections::VecDeque;
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OpenFlags, Row};

use super::source::{
    ParseError, Record, Records, SourceItem, SourceState, SourceText, SourceThread,
};

/// Comments read per query.
const PAGE: i64 = 1000;

const SELECT_PAGE: &str = "SELECT c.id, c.parent, c.created, c.mode, c.text, c.author, c.email, \
     c.tid, t.id, t.uri, t.title \
     FROM comments AS c LEFT JOIN threads AS t ON t.id = c.tid \
     WHERE c.id > ?1 ORDER BY c.id LIMIT ?2";

fn error(message: String) -> ParseError {
    ParseError {
        line: None,
        column: None,
        message,
    }
}

/// Opens the Isso database at `path` read-only.
pub fn open(path: &Path) -> Result<Records, ParseError> {
    if let Err(e) = std::fs::metadata(path) {
        return Err(error(format!("cannot read {}: {e}", path.display())));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)
        .map_err(|e| error(format!("cannot open {} as SQLite: {e}", path.display())))?;
    // Fails early, before any record, on a file that is not an Isso database.
    connection
        .prepare(SELECT_PAGE)
        .map_err(|e| error(format!("{} is not an Isso database: {e}", path.display())))?;
    Ok(Box::new(Comments {
        connection,
        last_id: i64::MIN,
        page: VecDeque::new(),
        done: false,
    }))
}

struct Comments {
    connection: Connection,
    /// The id of the last comment read: the next page starts after it.
    last_id: i64,
    page: VecDeque<Result<Record, ParseError>>,
    done: bool,
}

impl Iterator for Comments {
    type Item = Result<Record, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.page.is_empty() {
            if let Err(e) = self.read_page() {
                self.page.push_back(Err(e));
            }
        }
        let next = self.page.pop_front();
        // The first error ends the reading, as it does for every source.
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

impl Comments {
    fn read_page(&mut self) -> Result<(), ParseError> {
        let failed = |e: rusqlite::Error| error(format!("cannot read the comments: {e}"));
        let mut statement = self
            .connection
            .prepare_cached(SELECT_PAGE)
            .map_err(failed)?;
        let mut rows = statement
            .query(params![self.last_id, PAGE])
            .map_err(failed)?;
        while let Some(row) = rows.next().map_err(failed)? {
            let id: i64 = row.get(0).map_err(failed)?;
            self.last_id = id;
            let record = comment(id, row);
            let stop = record.is_err();
            self.page.push_back(record);
            if stop {
                break;
            }
        }
        Ok(())
    }
}

/// One row of [`SELECT_PAGE`].
fn comment(id: i64, row: &Row<'_>) -> Result<Record, ParseError> {
    let field = |name: &str, e: rusqlite::Error| error(format!("comment {id}: bad `{name}`: {e}"));
    let parent: Option<i64> = row.get(1).map_err(|e| field("parent", e))?;
    let created: Option<f64> = row.get(2).map_err(|e| field("created", e))?;
    let mode: Option<i64> = row.get(3).map_err(|e| field("mode", e))?;
    let text: Option<String> = row.get(4).map_err(|e| field("text", e))?;
    let author: Option<String> = row.get(5).map_err(|e| field("author", e))?;
    let email: Option<String> = row.get(6).map_err(|e| field("email", e))?;
    let tid: Option<i64> = row.get(7).map_err(|e| field("tid", e))?;
    let thread_id: Option<i64> = row.get(8).map_err(|e| field("tid", e))?;
    let uri: Option<String> = row.get(9).map_err(|e| field("threads.uri", e))?;
    let title: Option<String> = row.get(10).map_err(|e| field("threads.title", e))?;
    if thread_id.is_none() {
        return Err(error(format!(
            "comment {id}: its thread (`tid` {tid:?}) is not in the database"
        )));
    }
    let created_at = created
        .and_then(unix_seconds)
        .ok_or_else(|| error(format!("comment {id}: bad `created` {created:?}")))?;
    let state = match mode {
        Some(1) => SourceState::Published,
        Some(2) => SourceState::Pending,
        Some(4) => SourceState::Deleted,
        other => return Err(error(format!("comment {id}: unknown `mode` {other:?}"))),
    };
    let non_empty = |text: Option<String>| text.filter(|t| !t.trim().is_empty());
    Ok(Record::Item(Box::new(SourceItem {
        source_id: id.to_string(),
        thread: SourceThread {
            identifier: non_empty(uri),
            url: None,
            title: non_empty(title),
        },
        parent_id: parent.map(|p| p.to_string()),
        author_name: non_empty(author),
        author_email: non_empty(email),
        text: SourceText::Plain(text.unwrap_or_default()),
        title: None,
        rating: None,
        created_at,
        state,
        own: None,
    })))
}

/// Isso's `created`: seconds since 1970 as a float, kept to the microsecond.
fn unix_seconds(seconds: f64) -> Option<DateTime<Utc>> {
    let micros = (seconds * 1_000_000.0).round();
    if !micros.is_finite() || micros.abs() > 9.0e18 {
        return None;
    }
    // In range and whole, checked above: the conversion cannot truncate.
    #[allow(clippy::cast_possible_truncation)]
    DateTime::from_timestamp_micros(micros as i64)
}

#[cfg(test)]
mod tests {
    use super::super::source::{ParseError, SourceItem, SourceState, SourceText};
    use super::open;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/isso.sql"
    );

    /// A database built from `sql`, in a directory removed when the result is dropped.
    fn database(sql: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("comments.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        (dir, path)
    }

    fn items(path: &std::path::Path) -> Result<Vec<SourceItem>, ParseError> {
        super::super::test_support::items(open(path))
    }

    #[test]
    fn fixture_items() {
        let (_dir, path) = database(&std::fs::read_to_string(FIXTURE).unwrap());
        let items = items(&path).unwrap();
        let ids: Vec<&str> = items.iter().map(|i| i.source_id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3", "4", "5", "6", "7", "8"]);
        let by = |id: &str| items.iter().find(|i| i.source_id == id).unwrap();
        let first = by("1");
        assert_eq!(
            first.thread.identifier.as_deref(),
            Some("/a/islamic-state-afghan-affiliate-claims-deadly-attacks")
        );
        assert_eq!(first.thread.url, None);
        assert!(first.thread.title.as_deref().unwrap().starts_with("Pushed"));
        assert_eq!(first.author_name.as_deref(), Some("Олена К."));
        assert_eq!(first.author_email.as_deref(), Some("olena.k@example.com"));
        assert_eq!(
            first.text,
            SourceText::Plain("Тверезий *аналіз*: угруповання досі живе.".into())
        );
        assert_eq!(
            first.created_at.to_rfc3339(),
            "2020-05-14T10:15:00.250+00:00"
        );
        assert_eq!(first.state, SourceState::Published);
        // Reply 2 comes before its parent 3.
        assert_eq!(by("2").parent_id.as_deref(), Some("3"));
        assert_eq!(by("3").parent_id.as_deref(), Some("1"));
        let anonymous = by("4");
        assert_eq!(
            (
                anonymous.author_name.clone(),
                anonymous.author_email.clone()
            ),
            (None, None)
        );
        assert_eq!(
            anonymous.text,
            SourceText::Plain("<script>alert(1)</script> تحليل ممتاز".into())
        );
        assert_eq!(by("5").state, SourceState::Pending);
        let deleted = by("6");
        assert_eq!(deleted.state, SourceState::Deleted);
        assert_eq!(deleted.thread.identifier, None);
        assert_eq!(
            deleted.thread.title.as_deref(),
            Some("Kunar Province Declared Cleared")
        );
        assert_eq!(by("7").parent_id.as_deref(), Some("99"));
        assert_eq!(by("7").author_email, None);
        let last = by("8");
        assert_eq!(
            last.thread.identifier.as_deref(),
            Some("https://news.example.org/a/kabul-maternity-ward-attack")
        );
        assert_eq!(last.thread.title, None);
        assert_eq!(last.created_at.to_rfc3339(), "2020-05-13T03:45:00+00:00");
        assert!(items.iter().all(|i| i.own.is_none() && i.rating.is_none()));
    }

    #[test]
    fn pages_and_errors() {
        let schema = std::fs::read_to_string(FIXTURE).unwrap();
        let schema = &schema[..schema.find("INSERT INTO preferences").unwrap()];
        // More than one page, ids with gaps.
        let mut sql = format!("{schema}INSERT INTO threads (id, uri) VALUES (1, '/a');\n");
        for id in (1..=2500).map(|n| n * 3) {
            sql.push_str(&format!(
                "INSERT INTO comments (tid, id, created, mode, text, voters) VALUES (1, {id}, 1.5, 1, 't', X'00');\n"
            ));
        }
        let (_dir, path) = database(&sql);
        let many = items(&path).unwrap();
        assert_eq!(many.len(), 2500);
        assert_eq!(many.last().unwrap().source_id, "7500");

        let cases = [
            ("(1, 1, 1.0, 3, 't', X'00')", "`mode`"),
            ("(9, 1, 1.0, 1, 't', X'00')", "thread"),
            ("(1, 1, 'soon', 1, 't', X'00')", "`created`"),
        ];
        for (row, field) in cases {
            let sql = format!(
                "PRAGMA foreign_keys = OFF;\n{schema}INSERT INTO threads (id, uri) VALUES (1, '/a');\nINSERT INTO comments (tid, id, created, mode, text, voters) VALUES {row};"
            );
            let (_dir, path) = database(&sql);
            let error = items(&path).unwrap_err();
            assert_eq!((error.line, error.column), (None, None));
            assert!(error.message.contains(field), "{field}: {error}");
        }
        let not_isso = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(not_isso.path(), "not a database").unwrap();
        assert!(open(not_isso.path()).is_err());
        assert!(open("/nonexistent/comments.db".as_ref()).is_err());
    }
}
