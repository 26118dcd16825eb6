//! Streaming XML for the Disqus and WordPress readers: records read one element at a time into
//! small path-keyed maps.

use std::borrow::Cow;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::file;
use super::source::ParseError;

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
                    element(fields, &open, &start).map_err(|e| syntax_error(path, reader, &e))?;
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
