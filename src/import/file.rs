//! Opening source files and saying where in them something went wrong.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::source::{ParseError, Record};

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
