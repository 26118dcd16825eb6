//! Disqus's XML export: `<thread>` and `<post>` elements side by side under `<disqus>`, posts
//! pointing at their thread and parent by `dsq:id`.
//!
//! Threads may come after the posts that name them, so the file is read twice: once keeping only
//! the threads (a few per article), then again yielding posts one at a time. Memory stays that of
//! the threads whatever the number of posts.
//!
//! The helpers shared by every source reader (`file`) and by the two XML readers (`xml`) live here
//! too, as this was the first reader written.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::source::{
    ParseError, Record, Records, SourceItem, SourceState, SourceText, SourceThread,
};
use super::xml::{Fields, Step, XmlSource};

/// Reads the Disqus export at `path`. Threads are read first, so an error anywhere in the file
/// may be returned here rather than by the iterator.
pub fn open(path: &Path) -> Result<Records, ParseError> {
    let threads = read_threads(path)?;
    let mut source = XmlSource::open(path)?;
    source.root(b"disqus")?;
    Ok(Box::new(Posts {
        source,
        threads,
        done: false,
    }))
}

/// The first pass: every `<thread>` by its `dsq:id`.
fn read_threads(path: &Path) -> Result<HashMap<String, SourceThread>, ParseError> {
    let mut source = XmlSource::open(path)?;
    source.root(b"disqus")?;
    let mut threads = HashMap::new();
    while let Some(step) = source.child()? {
        let Step::Start { name, offset, .. } = &step else {
            continue;
        };
        if name.as_slice() != b"thread" {
            source.skip(&step)?;
            continue;
        }
        let fields = source.collect(step.clone())?;
        let Some(id) = fields.text("@id") else {
            return Err(source.error_at(*offset, "a <thread> has no dsq:id attribute"));
        };
        let thread = SourceThread {
            identifier: fields.text("id").map(str::to_owned),
            url: fields.text("link").map(str::to_owned),
            title: fields.text("title").map(str::to_owned),
        };
        threads.insert(id.to_owned(), thread);
    }
    Ok(threads)
}

/// The second pass: one record per `<post>`.
struct Posts {
    source: XmlSource,
    threads: HashMap<String, SourceThread>,
    done: bool,
}

impl Iterator for Posts {
    type Item = Result<Record, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.next_post();
        match result {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                // After a syntax error the reader's position means nothing: stop there.
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

impl Posts {
    fn next_post(&mut self) -> Result<Option<Record>, ParseError> {
        while let Some(step) = self.source.child()? {
            match &step {
                Step::Start { name, .. } if name.as_slice() == b"post" => {
                    let fields = self.source.collect(step)?;
                    return self.post(&fields).map(Some);
                }
                _ => self.source.skip(&step)?,
            }
        }
        Ok(None)
    }

    fn post(&self, fields: &Fields) -> Result<Record, ParseError> {
        let missing = |what: &str| self.source.error_at(fields.offset(), what);
        let source_id = fields
            .text("@id")
            .ok_or_else(|| missing("a <post> has no dsq:id attribute"))?;
        let at = |what: String| missing(&format!("post {source_id}: {what}"));
        let thread_id = fields
            .text("thread@id")
            .ok_or_else(|| at("no <thread dsq:id=\"…\"/> reference".into()))?;
        let thread = self
            .threads
            .get(thread_id)
            .ok_or_else(|| at(format!("<thread> {thread_id} is not in the file")))?;
        let message = fields
            .get("message")
            .ok_or_else(|| at("no <message>".into()))?;
        let created_at = fields
            .text("createdAt")
            .and_then(rfc3339)
            .ok_or_else(|| at("missing or bad <createdAt>".into()))?;
        let flag = |key: &str| fields.text(key) == Some("true");
        // A post Disqus took for spam is usually also marked deleted; spam says more.
        let state = if flag("isSpam") {
            SourceState::Spam
        } else if flag("isDeleted") {
            SourceState::Deleted
        } else {
            SourceState::Published
        };
        Ok(Record::Item(Box::new(SourceItem {
            source_id: source_id.to_owned(),
            thread: thread.clone(),
            parent_id: fields.text("parent@id").map(str::to_owned),
            author_name: fields.text("author/name").map(str::to_owned),
            author_email: fields.text("author/email").map(str::to_owned),
            text: SourceText::Html(message.to_owned()),
            title: None,
            rating: None,
            created_at,
            state,
            own: None,
        })))
    }
}

fn rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {

    use super::super::source::{ParseError, Record, SourceItem, SourceState, SourceText};
    use super::open;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/disqus.xml"
    );
    const BROKEN: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/disqus-broken.xml"
    );

    fn read(path: &std::path::Path) -> Result<Vec<Record>, ParseError> {
        open(path)?.collect()
    }

    fn items(path: &str) -> Vec<SourceItem> {
        read(path.as_ref())
            .unwrap()
            .into_iter()
            .map(|record| match record {
                Record::Item(item) => *item,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    fn html(item: &SourceItem) -> &str {
        match &item.text {
            SourceText::Html(html) => html,
            SourceText::Plain(_) => panic!("plain text"),
        }
    }

    use super::super::test_support::temp;

    #[test]
    fn fixture_items() {
        let items = items(FIXTURE);
        let ids: Vec<&str> = items.iter().map(|i| i.source_id.as_str()).collect();
        assert_eq!(
            ids,
            ["9001", "9003", "9002", "9004", "9005", "9006", "9007", "9008", "9009"]
        );
        let by = |id: &str| items.iter().find(|i| i.source_id == id).unwrap();

        let first = by("9001");
        assert_eq!(
            first.thread.identifier.as_deref(),
            Some("voa-2020-05-iskp-attacks")
        );
        assert_eq!(
            first.thread.url.as_deref(),
            Some("https://news.example.org/a/islamic-state-afghan-affiliate-claims-deadly-attacks")
        );
        assert!(first
            .thread
            .title
            .as_deref()
            .unwrap()
            .starts_with("Pushed to the Brink"));
        assert_eq!(first.parent_id, None);
        assert_eq!(first.author_name.as_deref(), Some("Олена К."));
        assert_eq!(first.author_email.as_deref(), Some("olena.k@example.com"));
        assert!(html(first).starts_with("<p>Чесний аналіз"));
        assert_eq!(first.created_at.to_rfc3339(), "2020-05-14T10:15:00+00:00");
        assert_eq!(first.state, SourceState::Published);
        assert_eq!(
            (first.title.clone(), first.rating, first.own.clone()),
            (None, None, None)
        );

        // The reply comes before its parent in the file.
        assert_eq!(by("9003").parent_id.as_deref(), Some("9002"));
        assert_eq!(by("9002").parent_id.as_deref(), Some("9001"));
        assert!(html(by("9002")).contains('🙏'));

        let guest = by("9004");
        assert_eq!(guest.author_email, None);
        assert_eq!(guest.author_name.as_deref(), Some("Guest reader"));
        assert_eq!(
            super::super::html::to_text(html(guest)),
            "مقالة جيدة جداً\n\nSee VOA (https://www.voanews.com/) and this."
        );

        assert_eq!(by("9005").state, SourceState::Spam);
        assert_eq!(by("9006").state, SourceState::Deleted);
        assert_eq!(html(by("9006")), "");
        assert_eq!(by("9006").thread.identifier, None);
        assert_eq!(
            by("9006").thread.url.as_deref(),
            Some("https://news.example.org/a/kunar-province-cleared")
        );
        assert_eq!(by("9007").parent_id.as_deref(), Some("8999"));
        assert_eq!(html(by("9008")), "<p>כתבה חשובה &amp; מאוזנת</p>");
        assert_eq!(
            super::super::html::to_text(html(by("9008"))),
            "כתבה חשובה & מאוזנת"
        );
        // Its thread comes after it in the file.
        let late = by("9009");
        assert_eq!(
            late.thread.identifier.as_deref(),
            Some("voa-2020-05-kabul-hospital")
        );
        assert_eq!(late.created_at.to_rfc3339(), "2020-05-13T03:45:00+00:00");
    }

    #[test]
    fn broken_fixture_fails_at_the_bad_end_tag() {
        let error = read(BROKEN.as_ref()).unwrap_err();
        assert_eq!((error.line, error.column), (Some(17), Some(24)), "{error}");
        assert!(error.message.contains("malformed XML"), "{error}");
    }

    #[test]
    fn missing_fields_are_errors_at_the_post() {
        let thread = r#"<thread dsq:id="1"><id>a</id></thread>"#;
        let cases = [
            ("<post dsq:id=\"5\">\n<message>x</message><createdAt>2020-01-01T00:00:00Z</createdAt></post>", "thread"),
            ("<post dsq:id=\"5\"><thread dsq:id=\"2\"/><message>x</message><createdAt>2020-01-01T00:00:00Z</createdAt></post>", "not in the file"),
            ("<post dsq:id=\"5\"><thread dsq:id=\"1\"/><message>x</message><createdAt>yesterday</createdAt></post>", "createdAt"),
            ("<post dsq:id=\"5\"><thread dsq:id=\"1\"/><createdAt>2020-01-01T00:00:00Z</createdAt></post>", "message"),
            ("<post><thread dsq:id=\"1\"/></post>", "dsq:id"),
        ];
        for (post, field) in cases {
            let file = temp(&format!("<disqus>\n{thread}\n  {post}\n</disqus>"));
            let error = read(file.path()).unwrap_err();
            assert_eq!((error.line, error.column), (Some(3), Some(3)), "{error}");
            assert!(error.message.contains(field), "{field}: {error}");
        }
        let file = temp("<rss></rss>");
        assert!(read(file.path()).unwrap_err().message.contains("<disqus>"));
        let missing = std::path::Path::new("/nonexistent/disqus.xml");
        let error = open(missing).err().unwrap();
        assert_eq!(error.line, None);
        assert!(error.message.contains("/nonexistent/disqus.xml"));
    }
}
