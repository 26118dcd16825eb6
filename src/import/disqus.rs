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

use self::xml::{Fields, Step, XmlSource};
use super::source::{
    ParseError, Record, Records, SourceItem, SourceState, SourceText, SourceThread,
};

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

/// Opening source files and saying where in them something went wrong.
pub(super) mod file {
    use std::fs::File;
    use std::io::{BufRead, BufReader, Read};
    use std::path::Path;

    use flate2::read::MultiGzDecoder;

    use super::super::source::{ParseError, Record};

    pub fn io_error(path: &Path, error: &std::io::Error) -> ParseError {
        ParseError {
            line: None,
            column: None,
            message: format!("cannot read {}: {error}", path.display()),
        }
    }

    /// A reader of the text of `path`, decompressed when the file starts with gzip's magic bytes.
    pub fn open_text(path: &Path) -> Result<Box<dyn BufRead + Send>, ParseError> {
        let file = File::open(path).map_err(|e| io_error(path, &e))?;
        let mut reader = BufReader::new(file);
        let head = reader.fill_buf().map_err(|e| io_error(path, &e))?;
        if head.starts_with(&[0x1f, 0x8b]) {
            Ok(Box::new(BufReader::new(MultiGzDecoder::new(reader))))
        } else {
            Ok(Box::new(reader))
        }
    }

    /// The 1-based line and column (in characters) of byte `offset` of the text of `path`, read
    /// again from the start: only done once something went wrong.
    pub fn position(path: &Path, offset: u64) -> Result<(u64, u64), ParseError> {
        let mut reader = open_text(path)?.take(offset);
        let (mut line, mut column) = (1, 1);
        let mut chunk = [0u8; 8192];
        loop {
            let read = reader.read(&mut chunk).map_err(|e| io_error(path, &e))?;
            if read == 0 {
                return Ok((line, column));
            }
            for &byte in &chunk[..read] {
                if byte == b'\n' {
                    line += 1;
                    column = 1;
                } else if is_char_start(byte) {
                    column += 1;
                }
            }
        }
    }

    /// The column in characters of the character holding the 1-based byte column `byte_column`
    /// of `line`: serde_json counts columns in bytes.
    pub fn char_column(line: &[u8], byte_column: u64) -> u64 {
        let end = usize::try_from(byte_column)
            .unwrap_or(usize::MAX)
            .min(line.len());
        let chars = line[..end].iter().filter(|&&b| is_char_start(b)).count();
        u64::try_from(chars).unwrap_or(u64::MAX).max(1)
    }

    /// The bytes of 1-based line `number` of the text of `path`, without its end of line.
    pub fn line(path: &Path, number: u64) -> Result<Vec<u8>, ParseError> {
        let mut reader = open_text(path)?;
        let mut line = Vec::new();
        for _ in 0..number {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| io_error(path, &e))?;
            if read == 0 {
                break;
            }
        }
        trim_end_of_line(&mut line);
        Ok(line)
    }

    fn trim_end_of_line(line: &mut Vec<u8>) {
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
    }

    /// A ParseError from serde_json's error about `line`, the text of 1-based line `number`.
    pub fn json_error(error: &serde_json::Error, number: u64, line: &[u8]) -> ParseError {
        let column = u64::try_from(error.column()).unwrap_or(u64::MAX);
        ParseError {
            line: Some(number),
            column: Some(char_column(line, column)),
            message: json_message(error),
        }
    }

    /// Newline-delimited JSON: one record per non-blank line, read as it is needed. `parse`
    /// makes a line into a record, or `None` for a line that holds none (a metadata line).
    pub struct NdJson<F> {
        reader: Box<dyn BufRead + Send>,
        path: std::path::PathBuf,
        number: u64,
        buf: Vec<u8>,
        parse: F,
        done: bool,
    }

    impl<F> NdJson<F>
    where
        F: FnMut(u64, &[u8]) -> Result<Option<Record>, ParseError>,
    {
        pub fn open(path: &Path, parse: F) -> Result<Self, ParseError> {
            Ok(Self {
                reader: open_text(path)?,
                path: path.to_owned(),
                number: 0,
                buf: Vec::new(),
                parse,
                done: false,
            })
        }

        fn next_record(&mut self) -> Result<Option<Record>, ParseError> {
            loop {
                self.buf.clear();
                let read = self
                    .reader
                    .read_until(b'\n', &mut self.buf)
                    .map_err(|e| io_error(&self.path, &e))?;
                if read == 0 {
                    return Ok(None);
                }
                self.number += 1;
                trim_end_of_line(&mut self.buf);
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if let Some(record) = (self.parse)(self.number, &self.buf)? {
                    return Ok(Some(record));
                }
            }
        }
    }

    impl<F> Iterator for NdJson<F>
    where
        F: FnMut(u64, &[u8]) -> Result<Option<Record>, ParseError>,
    {
        type Item = Result<Record, ParseError>;

        fn next(&mut self) -> Option<Self::Item> {
            if self.done {
                return None;
            }
            let next = self.next_record().transpose();
            // The first error ends the reading, as it does for every source.
            self.done = !matches!(next, Some(Ok(_)));
            next
        }
    }

    /// serde_json's message without the " at line L column C" it appends.
    pub fn json_message(error: &serde_json::Error) -> String {
        let text = error.to_string();
        match text.rfind(" at line ") {
            Some(end) => text[..end].to_owned(),
            None => text,
        }
    }

    fn is_char_start(byte: u8) -> bool {
        byte & 0xC0 != 0x80
    }
}

/// Streaming XML for the Disqus and WordPress readers: records read one element at a time into
/// small path-keyed maps.
pub(super) mod xml {
    use std::borrow::Cow;
    use std::io::BufRead;
    use std::path::{Path, PathBuf};

    use quick_xml::events::{BytesRef, BytesStart, Event};
    use quick_xml::{Reader, XmlVersion};

    use super::super::source::ParseError;
    use super::file;

    /// What the reader met at the level it was asked about.
    #[derive(Debug, Clone)]
    pub enum Step {
        /// An element's start (`empty` for `<x/>`), at byte `offset` of the file.
        Start {
            name: Vec<u8>,
            attributes: Vec<(String, String)>,
            offset: u64,
            empty: bool,
        },
        /// The end of the element whose children were being read.
        End,
    }

    /// The text and attributes of one element and everything inside it, keyed by the path of
    /// local names below it: `message`, `author/email`, `thread@id` (an attribute), `@id` (the
    /// element's own attribute).
    #[derive(Debug, Default)]
    pub struct Fields {
        offset: u64,
        entries: Vec<(String, String)>,
    }

    impl Fields {
        /// Where the element starts in the file.
        pub fn offset(&self) -> u64 {
            self.offset
        }

        /// The text at `key` as it is (`None` when there is no such element).
        pub fn get(&self, key: &str) -> Option<&str> {
            self.entries
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        }

        /// The text at `key` without surrounding whitespace; `None` when absent or blank.
        pub fn text(&self, key: &str) -> Option<&str> {
            self.get(key).map(str::trim).filter(|v| !v.is_empty())
        }

        fn append(&mut self, key: &str, text: &str) {
            match self.entries.iter_mut().find(|(k, _)| k == key) {
                Some((_, value)) => value.push_str(text),
                None => self.entries.push((key.to_owned(), text.to_owned())),
            }
        }
    }

    pub struct XmlSource {
        reader: Reader<Box<dyn BufRead + Send>>,
        buf: Vec<u8>,
        path: PathBuf,
    }

    /// A ParseError at byte `offset` of the file at `path`.
    fn error_at(path: &Path, offset: u64, message: &str) -> ParseError {
        match file::position(path, offset) {
            Ok((line, column)) => ParseError {
                line: Some(line),
                column: Some(column),
                message: message.to_owned(),
            },
            Err(error) => error,
        }
    }

    fn syntax_error(
        path: &Path,
        reader: &Reader<Box<dyn BufRead + Send>>,
        error: &quick_xml::Error,
    ) -> ParseError {
        let message = format!("malformed XML: {error}");
        error_at(path, reader.error_position(), &message)
    }

    impl XmlSource {
        pub fn open(path: &Path) -> Result<Self, ParseError> {
            let reader = Reader::from_reader(file::open_text(path)?);
            Ok(Self {
                reader,
                buf: Vec::new(),
                path: path.to_owned(),
            })
        }

        /// A ParseError at byte `offset` of the file.
        pub fn error_at(&self, offset: u64, message: &str) -> ParseError {
            error_at(&self.path, offset, message)
        }

        /// Reads up to the root element, which must be `name`.
        pub fn root(&mut self, name: &[u8]) -> Result<(), ParseError> {
            match self.child()? {
                Some(Step::Start {
                    name: found,
                    empty: false,
                    ..
                }) if found == name => Ok(()),
                _ => {
                    let name = String::from_utf8_lossy(name);
                    Err(self.error_at(0, &format!("the root element is not <{name}>")))
                }
            }
        }

        /// The next child element at the current level, `Some(Step::End)` at the end of the
        /// enclosing element, `None` at the end of the file. Text between elements is skipped.
        pub fn child(&mut self) -> Result<Option<Step>, ParseError> {
            let Self { reader, buf, path } = self;
            loop {
                let offset = reader.buffer_position();
                buf.clear();
                let (start, empty) = match reader.read_event_into(buf) {
                    Ok(Event::Start(start)) => (start, false),
                    Ok(Event::Empty(start)) => (start, true),
                    Ok(Event::End(_)) => return Ok(Some(Step::End)),
                    Ok(Event::Eof) => return Ok(None),
                    Ok(_) => continue,
                    Err(error) => return Err(syntax_error(path, reader, &error)),
                };
                let name = start.local_name().as_ref().to_vec();
                let attributes = attributes(&start).map_err(|e| syntax_error(path, reader, &e))?;
                return Ok(Some(Step::Start {
                    name,
                    attributes,
                    offset,
                    empty,
                }));
            }
        }

        /// Passes over the element that `step` starts, and all inside it.
        pub fn skip(&mut self, step: &Step) -> Result<(), ParseError> {
            if let Step::Start { empty: false, .. } = step {
                let mut depth = 1usize;
                while depth > 0 {
                    match self.child()? {
                        Some(Step::Start { empty: false, .. }) => depth += 1,
                        Some(Step::Start { .. }) => {}
                        Some(Step::End) => depth -= 1,
                        None => return Err(self.unexpected_end()),
                    }
                }
            }
            Ok(())
        }

        fn unexpected_end(&self) -> ParseError {
            let end = self.reader.buffer_position();
            self.error_at(end, "the file ends inside an element")
        }

        /// Reads the element that `step` starts into [`Fields`].
        pub fn collect(&mut self, step: Step) -> Result<Fields, ParseError> {
            let Step::Start {
                attributes,
                offset,
                empty,
                ..
            } = step
            else {
                return Ok(Fields::default());
            };
            let mut fields = Fields {
                offset,
                entries: Vec::new(),
            };
            for (key, value) in attributes {
                fields.append(&format!("@{key}"), &value);
            }
            if !empty {
                self.collect_children(&mut fields)?;
            }
            Ok(fields)
        }

        fn collect_children(&mut self, fields: &mut Fields) -> Result<(), ParseError> {
            let Self { reader, buf, path } = self;
            let mut open: Vec<String> = Vec::new();
            loop {
                buf.clear();
                let event = reader
                    .read_event_into(buf)
                    .map_err(|e| syntax_error(path, reader, &e))?;
                let text = match event {
                    Event::Start(start) => {
                        let name = element(fields, &open, &start)
                            .map_err(|e| syntax_error(path, reader, &e))?;
                        open.push(name);
                        continue;
                    }
                    Event::Empty(start) => {
                        element(fields, &open, &start)
                            .map_err(|e| syntax_error(path, reader, &e))?;
                        continue;
                    }
                    Event::End(_) if open.pop().is_none() => return Ok(()),
                    Event::Text(text) => text.xml10_content().map(Cow::into_owned),
                    Event::CData(data) => data.xml10_content().map(Cow::into_owned),
                    Event::GeneralRef(reference) => Ok(resolve(&reference)),
                    Event::Eof => {
                        let end = reader.buffer_position();
                        return Err(error_at(path, end, "the file ends inside an element"));
                    }
                    _ => continue,
                };
                let text = text.map_err(|e| syntax_error(path, reader, &e.into()))?;
                fields.append(&open.join("/"), &text);
            }
        }
    }

    /// Records the element `start`, below the open elements `open`, in `fields`, and returns its
    /// local name.
    fn element(
        fields: &mut Fields,
        open: &[String],
        start: &BytesStart<'_>,
    ) -> Result<String, quick_xml::Error> {
        let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let key = if open.is_empty() {
            name.clone()
        } else {
            format!("{}/{name}", open.join("/"))
        };
        // An empty element is still there: `<message/>` is an empty message, not a missing one.
        fields.append(&key, "");
        for (attr, value) in attributes(start)? {
            fields.append(&format!("{key}@{attr}"), &value);
        }
        Ok(name)
    }

    /// An entity in text: character references and XML's five, and any other name kept as
    /// written (HTML messages are decoded later by `import::html`).
    fn resolve(reference: &BytesRef<'_>) -> String {
        if let Ok(Some(c)) = reference.resolve_char_ref() {
            return c.to_string();
        }
        let name = String::from_utf8_lossy(reference).into_owned();
        match quick_xml::escape::resolve_xml_entity(&name) {
            Some(text) => text.to_owned(),
            None => format!("&{name};"),
        }
    }

    /// The attributes of `start` by local name, unescaped.
    fn attributes(start: &BytesStart<'_>) -> Result<Vec<(String, String)>, quick_xml::Error> {
        let mut list = Vec::new();
        for attribute in start.attributes() {
            let attribute = attribute?;
            let key = String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned();
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)?
                .into_owned();
            list.push((key, value));
        }
        Ok(list)
    }
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
