//! Remark42's backup: gzipped (or not) newline-delimited JSON, a metadata record
//! (`{"version":1,"users":[…],"posts":[…]}`) first, then one comment per line.
//!
//! Remark42 keys pages by URL only and keeps no email addresses, so threads have no identifier
//! and authors no email.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::file::{json_error, NdJson};
use super::source::{
    ParseError, Record, Records, SourceItem, SourceState, SourceText, SourceThread,
};

/// Reads the Remark42 backup at `path`, gzipped or plain.
pub fn open(path: &Path) -> Result<Records, ParseError> {
    Ok(Box::new(NdJson::open(path, parse_line)?))
}

/// One line of the backup: a comment, or the metadata record (which has `version` and no `id`).
#[derive(Deserialize)]
struct Line {
    version: Option<u64>,
    id: Option<String>,
    #[serde(default)]
    pid: String,
    text: Option<String>,
    user: Option<User>,
    locator: Option<Locator>,
    time: Option<DateTime<Utc>>,
    #[serde(default)]
    delete: bool,
    title: Option<String>,
}

#[derive(Deserialize)]
struct User {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Locator {
    url: Option<String>,
}

fn parse_line(number: u64, bytes: &[u8]) -> Result<Option<Record>, ParseError> {
    let line: Line = serde_json::from_slice(bytes).map_err(|e| json_error(&e, number, bytes))?;
    if line.version.is_some() && line.id.is_none() {
        return Ok(None);
    }
    let missing = |field: &str| ParseError {
        line: Some(number),
        column: Some(1),
        message: format!("a comment has no `{field}`"),
    };
    let source_id = line
        .id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| missing("id"))?;
    let url = line
        .locator
        .and_then(|locator| locator.url)
        .filter(|url| !url.is_empty())
        .ok_or_else(|| missing("locator.url"))?;
    let created_at = line.time.ok_or_else(|| missing("time"))?;
    let text = line.text.ok_or_else(|| missing("text"))?;
    Ok(Some(Record::Item(Box::new(SourceItem {
        source_id,
        thread: SourceThread {
            identifier: None,
            url: Some(url),
            title: line.title.filter(|title| !title.is_empty()),
        },
        parent_id: Some(line.pid).filter(|pid| !pid.is_empty()),
        author_name: line
            .user
            .and_then(|user| user.name)
            .filter(|n| !n.is_empty()),
        author_email: None,
        text: SourceText::Html(text),
        title: None,
        rating: None,
        created_at,
        state: if line.delete {
            SourceState::Deleted
        } else {
            SourceState::Published
        },
        own: None,
    }))))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::source::{ParseError, SourceItem, SourceState, SourceText};
    use super::open;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/remark42.backup"
    );

    fn items(path: &std::path::Path) -> Result<Vec<SourceItem>, ParseError> {
        super::super::test_support::items(open(path))
    }

    fn gzipped(bytes: &[u8]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut encoder =
            flate2::write::GzEncoder::new(file.reopen().unwrap(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap();
        file
    }

    fn check(items: &[SourceItem]) {
        let ids: Vec<&str> = items.iter().map(|i| i.source_id.as_str()).collect();
        assert_eq!(
            ids,
            ["r-101", "r-103", "r-102", "r-104", "r-105", "r-201", "r-202", "r-301"]
        );
        let by = |id: &str| items.iter().find(|i| i.source_id == id).unwrap();
        let first = by("r-101");
        assert_eq!(first.thread.identifier, None);
        assert_eq!(
            first.thread.url.as_deref(),
            Some("https://news.example.org/a/islamic-state-afghan-affiliate-claims-deadly-attacks")
        );
        assert!(first.thread.title.as_deref().unwrap().starts_with("Pushed"));
        assert_eq!(first.author_name.as_deref(), Some("Олена К."));
        assert_eq!(first.parent_id, None);
        assert_eq!(
            first.created_at.to_rfc3339(),
            "2020-05-14T10:15:00.123456789+00:00"
        );
        assert_eq!(
            first.text,
            SourceText::Html("<p>Автори чесно показують, що угруповання вистояло.</p>".into())
        );
        assert!(items
            .iter()
            .all(|i| i.author_email.is_none() && i.own.is_none()));
        assert_eq!(by("r-103").parent_id.as_deref(), Some("r-102"));
        assert_eq!(by("r-102").parent_id.as_deref(), Some("r-101"));
        let SourceText::Html(arabic) = &by("r-104").text else {
            panic!()
        };
        assert_eq!(super::super::html::to_text(arabic), "تحليل ممتاز");
        assert_eq!(by("r-105").state, SourceState::Deleted);
        assert!(items
            .iter()
            .filter(|i| i.source_id != "r-105")
            .all(|i| i.state == SourceState::Published));
        assert_eq!(by("r-201").parent_id.as_deref(), Some("r-199"));
        assert_eq!(by("r-202").author_name.as_deref(), Some("נועה"));
        let last = by("r-301");
        assert_eq!(last.thread.title, None);
        assert_eq!(last.created_at.to_rfc3339(), "2020-05-13T03:45:00+00:00");
    }

    #[test]
    fn fixture_plain_and_gzipped() {
        check(&items(FIXTURE.as_ref()).unwrap());
        let gz = gzipped(&std::fs::read(FIXTURE).unwrap());
        check(&items(gz.path()).unwrap());
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let meta = "{\"version\":1,\"users\":[],\"posts\":[]}\n";
        let good = r#"{"id":"a","pid":"","text":"x","user":{"name":"n"},"locator":{"url":"https://x.org/"},"time":"2020-01-01T00:00:00Z"}"#;
        let cases = [
            (
                r#"{"id":"b","text":"ї","locator":{"url":"u"},"time":"yesterday"}"#,
                2,
                61,
                "input contains invalid characters",
            ),
            (
                r#"{"pid":"","text":"x","locator":{"url":"u"},"time":"2020-01-01T00:00:00Z"}"#,
                2,
                1,
                "`id`",
            ),
            (
                r#"{"id":"b","text":"x","time":"2020-01-01T00:00:00Z"}"#,
                2,
                1,
                "`locator.url`",
            ),
            ("{\"id\":\"ї\",", 2, 10, "EOF"),
        ];
        for (line, number, column, message) in cases {
            let content = format!("{meta}{line}\n{good}\n");
            let gz = gzipped(content.as_bytes());
            let error = items(gz.path()).unwrap_err();
            assert_eq!(
                (error.line, error.column),
                (Some(number), Some(column)),
                "{error}"
            );
            assert!(error.message.contains(message), "{message}: {error}");
        }
    }
}
