//! WordPress's export (WXR 1.2): RSS `<item>`s, one per post or page, each holding its
//! `<wp:comment>`s.
//!
//! An item's comments are yielded when the item ends, since WordPress writes the post's id and
//! link before its comments but nothing in the format promises it: memory holds one post's
//! comments at most.

use std::collections::VecDeque;
use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::source::{
    LeftOut, ParseError, Record, Records, SourceItem, SourceState, SourceText, SourceThread,
};
use super::xml::{Fields, Step, XmlSource};

/// Reads the WordPress export at `path`.
pub fn open(path: &Path) -> Result<Records, ParseError> {
    let mut source = XmlSource::open(path)?;
    source.root(b"rss")?;
    Ok(Box::new(Comments {
        source,
        ready: VecDeque::new(),
        done: false,
    }))
}

struct Comments {
    source: XmlSource,
    /// The records of the last item read, not yet handed out.
    ready: VecDeque<Result<Record, ParseError>>,
    done: bool,
}

impl Iterator for Comments {
    type Item = Result<Record, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            if let Some(record) = self.ready.pop_front() {
                // The first error ends the reading: what follows it would be guesswork.
                self.done = record.is_err();
                return Some(record);
            }
            match self.next_item() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
        None
    }
}

impl Comments {
    /// Reads up to the end of the next `<item>`; `false` at the end of the file.
    fn next_item(&mut self) -> Result<bool, ParseError> {
        loop {
            match self.source.child()? {
                None => return Ok(false),
                Some(Step::Start {
                    name, empty: false, ..
                }) if name.as_slice() == b"item" => {
                    self.item()?;
                    return Ok(true);
                }
                // `<rss>` and `<channel>` are entered; the channel's own fields pass by.
                Some(_) => {}
            }
        }
    }

    fn item(&mut self) -> Result<(), ParseError> {
        let mut thread = SourceThread::default();
        let mut comments = Vec::new();
        loop {
            let step = match self.source.child()? {
                None => return Ok(()),
                Some(Step::End) => break,
                Some(step) => step,
            };
            let Step::Start { name, .. } = &step else {
                continue;
            };
            let value = |fields: Fields| fields.text("").map(str::to_owned);
            match name.as_slice() {
                b"title" => thread.title = value(self.source.collect(step)?),
                b"link" => thread.url = value(self.source.collect(step)?),
                // The WordPress plugin registers a post as article `wp-<post id>`
                // (integrations/wordpress), so imported comments land on the same article.
                b"post_id" => {
                    thread.identifier = value(self.source.collect(step)?)
                        .filter(|id| !id.trim().is_empty())
                        .map(|id| format!("wp-{}", id.trim()));
                }
                b"comment" => comments.push(self.source.collect(step)?),
                _ => self.source.skip(&step)?,
            }
        }
        for fields in comments {
            let record =
                comment(&fields, &thread).map_err(|m| self.source.error_at(fields.offset(), &m));
            self.ready.push_back(record);
        }
        Ok(())
    }
}

/// One `<wp:comment>`; the error is a message, placed at the comment by the caller.
fn comment(fields: &Fields, thread: &SourceThread) -> Result<Record, String> {
    let source_id = fields
        .text("comment_id")
        .ok_or("a <wp:comment> has no <wp:comment_id>")?
        .to_owned();
    let at = |what: &str| format!("comment {source_id}: {what}");
    match fields.text("comment_type") {
        Some("pingback") => return Ok(left_out(source_id, LeftOut::Pingback)),
        Some("trackback") => return Ok(left_out(source_id, LeftOut::Trackback)),
        _ => {}
    }
    let state = match fields.text("comment_approved") {
        Some("1") => SourceState::Published,
        Some("0") => SourceState::Pending,
        Some("spam") => SourceState::Spam,
        Some("trash" | "post-trashed") => SourceState::Deleted,
        other => return Err(at(&format!("unknown <wp:comment_approved> {other:?}"))),
    };
    let content = fields
        .get("comment_content")
        .ok_or_else(|| at("no <wp:comment_content>"))?;
    let created_at =
        comment_date(fields).ok_or_else(|| at("missing or bad <wp:comment_date_gmt>"))?;
    let parent_id = fields
        .text("comment_parent")
        .filter(|parent| *parent != "0")
        .map(str::to_owned);
    Ok(Record::Item(Box::new(SourceItem {
        source_id,
        thread: thread.clone(),
        parent_id,
        author_name: fields.text("comment_author").map(str::to_owned),
        author_email: fields.text("comment_author_email").map(str::to_owned),
        text: SourceText::Html(content.to_owned()),
        title: None,
        rating: None,
        created_at,
        state,
        own: None,
    })))
}

fn left_out(source_id: String, reason: LeftOut) -> Record {
    Record::LeftOut { source_id, reason }
}

/// `comment_date_gmt`, or `comment_date` (the site's local time, taken as UTC: the export does not
/// say the zone) where WordPress left the GMT date zeroed, as it does for some imported comments.
fn comment_date(fields: &Fields) -> Option<DateTime<Utc>> {
    let parse = |key: &str| {
        let text = fields.text(key)?;
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc())
    };
    match fields.text("comment_date_gmt") {
        Some("0000-00-00 00:00:00") | None => parse("comment_date"),
        Some(_) => parse("comment_date_gmt"),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::html::to_text;
    use super::super::source::{LeftOut, ParseError, Record, SourceItem, SourceState, SourceText};
    use super::open;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/wordpress.xml"
    );
    const BROKEN: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/wordpress-broken.xml"
    );

    fn read(path: &std::path::Path) -> Result<Vec<Record>, ParseError> {
        open(path)?.collect()
    }

    fn html(item: &SourceItem) -> &str {
        match &item.text {
            SourceText::Html(html) => html,
            SourceText::Plain(_) => panic!("plain text"),
        }
    }

    #[test]
    fn fixture_records() {
        let records = read(FIXTURE.as_ref()).unwrap();
        assert_eq!(records.len(), 10);
        let left_out: Vec<(&str, LeftOut)> = records
            .iter()
            .filter_map(|r| match r {
                Record::LeftOut { source_id, reason } => Some((source_id.as_str(), *reason)),
                Record::Item(_) => None,
            })
            .collect();
        assert_eq!(
            left_out,
            [("106", LeftOut::Pingback), ("204", LeftOut::Trackback)]
        );
        let items: Vec<&SourceItem> = records
            .iter()
            .filter_map(|r| match r {
                Record::Item(item) => Some(item.as_ref()),
                Record::LeftOut { .. } => None,
            })
            .collect();
        let ids: Vec<&str> = items.iter().map(|i| i.source_id.as_str()).collect();
        assert_eq!(
            ids,
            ["101", "103", "102", "104", "105", "201", "202", "203"]
        );
        let by = |id: &str| *items.iter().find(|i| i.source_id == id).unwrap();

        let first = by("101");
        assert_eq!(first.thread.identifier.as_deref(), Some("wp-12"));
        assert_eq!(
            first.thread.url.as_deref(),
            Some("https://news.example.org/a/islamic-state-afghan-affiliate-claims-deadly-attacks")
        );
        assert_eq!(
            first.thread.title.as_deref(),
            Some(
                "Pushed to the Brink Again, Islamic State’s Afghan Affiliate Claims Deadly Attacks"
            )
        );
        assert_eq!(first.author_name.as_deref(), Some("Олена К."));
        assert_eq!(first.author_email.as_deref(), Some("olena.k@example.com"));
        assert_eq!(first.parent_id, None);
        assert_eq!(first.created_at.to_rfc3339(), "2020-05-14T10:15:00+00:00");
        assert_eq!(first.state, SourceState::Published);
        assert_eq!(
            html(first),
            "<p>Тверезий погляд на те, чому угруповання не зникло.</p>"
        );

        assert_eq!(by("103").parent_id.as_deref(), Some("102"));
        assert_eq!(by("102").parent_id.as_deref(), Some("101"));
        assert!(html(by("102")).contains('👍'));
        let guest = by("104");
        assert_eq!(guest.author_email, None);
        assert_eq!(guest.author_name.as_deref(), Some("زائر"));
        assert_eq!(to_text(html(guest)), "تحليل ممتاز");
        assert_eq!(by("105").state, SourceState::Spam);

        let deleted = by("201");
        assert_eq!(deleted.state, SourceState::Deleted);
        assert_eq!(deleted.thread.identifier, None);
        assert_eq!(
            deleted.thread.url.as_deref(),
            Some("https://news.example.org/a/kunar-province-cleared")
        );
        let orphan = by("202");
        assert_eq!(orphan.parent_id.as_deref(), Some("199"));
        assert_eq!(orphan.state, SourceState::Pending);
        // The GMT date is zeroed: the local date stands in.
        assert_eq!(orphan.created_at.to_rfc3339(), "2020-03-21T11:30:00+00:00");
        let hebrew = by("203");
        assert_eq!(hebrew.state, SourceState::Deleted);
        assert_eq!(to_text(html(hebrew)), "כתבה חשובה & מאוזנת");
        assert!(items
            .iter()
            .all(|i| i.title.is_none() && i.rating.is_none() && i.own.is_none()));
    }

    #[test]
    fn broken_fixture_fails_at_the_open_cdata() {
        let error = read(BROKEN.as_ref()).unwrap_err();
        assert_eq!((error.line, error.column), (Some(20), Some(24)), "{error}");
    }

    #[test]
    fn bad_comments_are_errors_at_the_comment() {
        let cases = [
            ("<wp:comment_approved>1</wp:comment_approved><wp:comment_date_gmt>2020-01-01 00:00:00</wp:comment_date_gmt><wp:comment_content>x</wp:comment_content>", "comment_id"),
            ("<wp:comment_id>7</wp:comment_id><wp:comment_approved>1</wp:comment_approved><wp:comment_date_gmt>2020-01-01</wp:comment_date_gmt><wp:comment_content>x</wp:comment_content>", "comment_date_gmt"),
            ("<wp:comment_id>7</wp:comment_id><wp:comment_approved>maybe</wp:comment_approved><wp:comment_date_gmt>2020-01-01 00:00:00</wp:comment_date_gmt><wp:comment_content>x</wp:comment_content>", "comment_approved"),
            ("<wp:comment_id>7</wp:comment_id><wp:comment_approved>1</wp:comment_approved><wp:comment_date_gmt>2020-01-01 00:00:00</wp:comment_date_gmt>", "comment_content"),
        ];
        for (body, field) in cases {
            let mut file = tempfile::NamedTempFile::new().unwrap();
            write!(
                file,
                "<rss xmlns:wp=\"x\"><channel><item><wp:post_id>1</wp:post_id>\n\n <wp:comment>{body}</wp:comment></item></channel></rss>"
            )
            .unwrap();
            let error = read(file.path()).unwrap_err();
            assert_eq!((error.line, error.column), (Some(3), Some(2)), "{error}");
            assert!(error.message.contains(field), "{field}: {error}");
        }
    }
}
