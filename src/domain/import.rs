//! Imports from other systems (docs/import.md): how a comment of a source becomes a review, which
//! article it belongs to, and the report of a run. Plain functions over values; reading the files
//! is `import`, writing the rows `store::imports`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::article::ArticleId;
use super::review::{AuthorEmail, AuthorName, Rating, ReviewBody, ReviewStatus, ReviewTitle};

/// The systems an import reads; `as_str` is also the `import_source` kept with each review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// A Disqus XML export.
    Disqus,
    /// A WordPress WXR export (Tools → Export).
    Wordpress,
    /// A Remark42 backup (gzipped, one JSON record per line).
    Remark42,
    /// A Commento JSON export.
    Commento,
    /// Isso's SQLite database file.
    Isso,
    /// Marginalia's own NDJSON export (`GET /v1/exports/reviews`).
    Marginalia,
}

impl ImportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disqus => "disqus",
            Self::Wordpress => "wordpress",
            Self::Remark42 => "remark42",
            Self::Commento => "commento",
            Self::Isso => "isso",
            Self::Marginalia => "marginalia",
        }
    }
}

/// How a source's thread finds its article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ArticleMatch {
    /// The thread's identifier is the article id; a thread without one (or with one that is not
    /// a valid article id) goes by its URL.
    #[default]
    Identifier,
    /// The article whose registered URL is the thread's URL (after the remap rules).
    Url,
}

/// What happens to the comments of a thread whose article Marginalia does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum UnknownArticles {
    /// The article is created from the export's title and URL.
    #[default]
    Create,
    /// The comments are skipped and the thread reported as unmapped.
    Skip,
}

/// What the CMS's webhooks hear of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Announce {
    /// Nothing: imported reviews are history, not news.
    #[default]
    None,
    /// One `article.stats_changed` event per article whose published counts moved.
    Summary,
}

/// Rules for moved pages, one per line: `<old URL> <new URL or article id>`; an old URL ending in
/// `*` is a prefix, and what follows it is kept after a new URL ending in `*`. `#` starts a comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemapRules(Vec<(String, Target)>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Url(String),
    Article(ArticleId),
}

/// A thread's place in Marginalia after the remap rules: an article id, or a URL to look up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArticleKey {
    Id(String),
    Url(String),
}

/// A line of a remap file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("remap rules, line {line}: {message}")]
pub struct RemapError {
    pub line: usize,
    pub message: String,
}

impl RemapRules {
    pub fn parse(text: &str) -> Result<Self, RemapError> {
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let error = |message: &str| RemapError {
                line: index + 1,
                message: message.to_owned(),
            };
            let mut parts = line.split_whitespace();
            let (Some(from), Some(to), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(error("expected `<old URL> <new URL or article id>`"));
            };
            let target = if to.contains("://") {
                Target::Url(to.to_owned())
            } else {
                Target::Article(
                    ArticleId::parse(to, "remap").map_err(|field| error(&field.message))?,
                )
            };
            rules.push((from.to_owned(), target));
        }
        Ok(Self(rules))
    }

    /// The first rule's answer for `url`, or `url` itself.
    fn apply(&self, url: &str) -> ArticleKey {
        for (from, target) in &self.0 {
            let rest = match from.strip_suffix('*') {
                Some(prefix) => url.strip_prefix(prefix),
                None => (url == from).then_some(""),
            };
            let Some(rest) = rest else { continue };
            return match target {
                Target::Article(id) => ArticleKey::Id(id.as_str().to_owned()),
                Target::Url(to) => match to.strip_suffix('*') {
                    Some(prefix) => ArticleKey::Url(format!("{prefix}{rest}")),
                    None => ArticleKey::Url(to.clone()),
                },
            };
        }
        ArticleKey::Url(url.to_owned())
    }
}

/// Where a thread's comments go: by its identifier when that is a valid article id and the
/// match is by identifier (a remap rule for its URL wins), otherwise by its URL. A thread
/// without a URL whose identifier is a path (Isso, Commento) has the URL `base_url` + path
/// when a base is given; any other identifier that is no article id is looked up as a URL.
/// `None`: the thread names no page at all.
pub fn article_key(
    identifier: Option<&str>,
    url: Option<&str>,
    matching: ArticleMatch,
    remap: &RemapRules,
    base_url: Option<&str>,
) -> Option<ArticleKey> {
    let identifier = identifier.filter(|id| !id.trim().is_empty());
    let based = match (url, identifier, base_url) {
        (None, Some(path), Some(base)) if path.starts_with('/') => {
            Some(format!("{}{path}", base.trim_end_matches('/')))
        }
        _ => None,
    };
    let by_url = url.or(based.as_deref()).map(|url| remap.apply(url));
    if matches!(by_url, Some(ArticleKey::Id(_))) {
        return by_url;
    }
    let by_identifier = identifier
        .filter(|id| ArticleId::parse(id, "thread").is_ok())
        .map(|id| ArticleKey::Id(id.to_owned()));
    let by_raw_identifier = || identifier.map(|id| remap.apply(id));
    match matching {
        ArticleMatch::Identifier => by_identifier.or(by_url).or_else(by_raw_identifier),
        ArticleMatch::Url => by_url.or(by_identifier).or_else(by_raw_identifier),
    }
}

/// The id an article created for a thread known only by its URL gets: its host and path made
/// into an article id, with a digest of the whole URL so two URLs never share one.
pub fn article_id_for_url(url: &str) -> String {
    let readable: String = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let readable: String = readable
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let digest = Sha256::digest(url.as_bytes());
    let suffix: String = digest[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let room = ArticleId::MAX_LEN - suffix.len() - 1;
    let readable: String = readable.chars().take(room).collect();
    format!("{}~{suffix}", readable.trim_end_matches('-'))
}

/// A comment's status once imported: spam stays spam and deleted stays deleted, so nothing the
/// source's moderators removed becomes public.
pub fn status_of(state: SourceStatus) -> ReviewStatus {
    match state {
        SourceStatus::Published => ReviewStatus::Published,
        SourceStatus::Pending => ReviewStatus::Pending,
        SourceStatus::Spam => ReviewStatus::Spam,
        SourceStatus::Rejected => ReviewStatus::Rejected,
        SourceStatus::Deleted => ReviewStatus::Deleted,
    }
}

/// Where a comment stood in its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceStatus {
    Published,
    /// Waiting for the source's moderators.
    Pending,
    Spam,
    /// Turned down by a moderator (only our own export says so).
    Rejected,
    /// Deleted or trashed in the source.
    Deleted,
}

/// The id of an imported review: a UUIDv7 whose time is the comment's original time (so lists
/// sort as the comments were written) and whose random part is a digest of the site, the source
/// and the source id, so two runs of one export give every review the same id.
pub fn review_id(site: &str, format: ImportFormat, source_id: &str, at: DateTime<Utc>) -> Uuid {
    let digest = Sha256::digest([site, format.as_str(), source_id].join("\u{0}").as_bytes());
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest[..10]);
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// Why a comment of the source was not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Pingback,
    Trackback,
    /// Nothing readable was left once the markup was gone (an image, an embed).
    EmptyText,
    /// Deleted in the source, with nothing of its text left.
    DeletedWithoutText,
    /// Longer than a review may be (`ReviewBody::MAX_CHARS`).
    TooLong,
    /// The thread's article is unknown and `--unknown-articles skip` was given.
    UnknownArticle,
    /// The thread has neither an identifier nor a URL.
    NoThread,
}

/// A comment as a review, checked by the same rules as a reader's submission; fields a review
/// cannot hold are dropped (and counted), never cut.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedText {
    pub body: ReviewBody,
    pub title: Option<ReviewTitle>,
    pub author_name: Option<AuthorName>,
    pub author_email: Option<AuthorEmail>,
    pub rating: Option<Rating>,
    /// Fields dropped because a review cannot hold them as they are.
    pub dropped: Vec<&'static str>,
}

/// Checks a comment's fields; the body decides whether it is imported at all.
pub fn checked_text(
    body: &str,
    title: Option<&str>,
    author_name: Option<&str>,
    author_email: Option<&str>,
    rating: Option<i16>,
) -> Result<ImportedText, SkipReason> {
    if body.chars().count() > ReviewBody::MAX_CHARS {
        return Err(SkipReason::TooLong);
    }
    let body = ReviewBody::parse(body).map_err(|_| SkipReason::EmptyText)?;
    let mut dropped = Vec::new();
    let mut keep = |field: &'static str, ok: bool| {
        if !ok {
            dropped.push(field);
        }
    };
    let title = title
        .filter(|title| !title.trim().is_empty())
        .map(ReviewTitle::parse);
    keep("title", !matches!(title, Some(Err(_))));
    let author_name = author_name
        .filter(|name| !name.trim().is_empty())
        .map(AuthorName::parse);
    keep("author_name", !matches!(author_name, Some(Err(_))));
    let author_email = author_email
        .filter(|email| !email.trim().is_empty())
        .map(AuthorEmail::parse);
    keep("author_email", !matches!(author_email, Some(Err(_))));
    let rating = rating.map(|stars| Rating::parse(i64::from(stars)));
    keep("rating", !matches!(rating, Some(Err(_))));
    Ok(ImportedText {
        body,
        title: title.and_then(Result::ok).flatten(),
        author_name: author_name.and_then(Result::ok).flatten(),
        author_email: author_email.and_then(Result::ok),
        rating: rating.and_then(Result::ok),
        dropped,
    })
}

/// What a run did, printed at its end and, with `--json`, given to scripts as this object.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    pub format: &'static str,
    pub site: String,
    pub dry_run: bool,
    /// Comments read from the source, left-out records (pingbacks, trackbacks) included.
    pub read: u64,
    /// New reviews written by this run.
    pub imported: u64,
    /// Reviews of an earlier run whose text changed in the source since, brought up to date
    /// (their status stays the moderators').
    pub updated: u64,
    /// Reviews of an earlier run that the source still has as they were.
    pub unchanged: u64,
    /// Comments not imported, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// The new reviews by status.
    pub by_status: BTreeMap<&'static str, u64>,
    /// Replies whose parent is in no import of this source into the site (shown as top-level
    /// reviews until it is).
    pub orphans: u64,
    /// Replies linked to the review they answer.
    pub replies: u64,
    /// Articles created for threads Marginalia did not know.
    pub articles_created: u64,
    /// Threads whose comments were skipped: unknown articles with `--unknown-articles skip`,
    /// or no identifier and no URL.
    pub unmapped_threads: std::collections::BTreeSet<String>,
    /// Fields dropped from otherwise imported reviews, by field.
    pub dropped_fields: BTreeMap<&'static str, u64>,
    /// Where the source stopped making sense; nothing of the batch it was in was written.
    pub stopped: Option<StoppedAt>,
}

/// The place and reason a run stopped at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoppedAt {
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl ImportReport {
    pub fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// The report as people read it.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{} import into site {}{}\n  read {}, imported {}, updated {}, unchanged {}\n",
            self.format,
            self.site,
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            },
            self.read,
            self.imported,
            self.updated,
            self.unchanged,
        );
        let list = |map: &mut dyn Iterator<Item = (String, u64)>| {
            map.map(|(key, count)| format!("{key} {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.by_status.is_empty() {
            let statuses = list(&mut self.by_status.iter().map(|(k, v)| ((*k).to_owned(), *v)));
            out.push_str(&format!("  new reviews by status: {statuses}\n"));
        }
        if !self.skipped.is_empty() {
            let reasons = list(&mut self.skipped.iter().map(|(k, v)| (skip_name(*k), *v)));
            out.push_str(&format!("  skipped: {reasons}\n"));
        }
        out.push_str(&format!(
            "  replies linked {}, orphans {}, articles created {}\n",
            self.replies, self.orphans, self.articles_created
        ));
        if !self.unmapped_threads.is_empty() {
            out.push_str(&format!(
                "  unmapped threads ({}): {}\n",
                self.unmapped_threads.len(),
                self.unmapped_threads
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.dropped_fields.is_empty() {
            let fields = list(
                &mut self
                    .dropped_fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), *v)),
            );
            out.push_str(&format!("  fields dropped: {fields}\n"));
        }
        if let Some(stopped) = &self.stopped {
            out.push_str(&format!("  STOPPED: {}\n", stopped.describe()));
        }
        out
    }
}

impl StoppedAt {
    pub fn describe(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("line {line}, column {column}: {}", self.message),
            (Some(line), None) => format!("line {line}: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

fn skip_name(reason: SkipReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_thread_goes_by_identifier_unless_empty_invalid_or_remapped() {
        let none = RemapRules::default();
        let key = |id, url, matching| article_key(id, url, matching, &none, None);
        let url = Some("https://news.example/a");
        assert_eq!(
            key(Some("story-1"), url, ArticleMatch::Identifier),
            Some(ArticleKey::Id("story-1".into()))
        );
        // Isso #135: an empty <id> must not lose the thread.
        assert_eq!(
            key(None, url, ArticleMatch::Identifier),
            Some(ArticleKey::Url("https://news.example/a".into()))
        );
        assert_eq!(
            key(Some("/a path/"), url, ArticleMatch::Identifier),
            Some(ArticleKey::Url("https://news.example/a".into()))
        );
        assert_eq!(
            key(Some("story-1"), url, ArticleMatch::Url),
            Some(ArticleKey::Url("https://news.example/a".into()))
        );
        assert_eq!(key(None, None, ArticleMatch::Url), None);
        assert_eq!(key(Some(" "), None, ArticleMatch::Url), None);
        // Isso keys a thread by its path: with a base it is a URL, without it is looked up as one.
        let path = Some("/a/kunar/");
        let base = Some("https://news.example/");
        assert_eq!(
            article_key(path, None, ArticleMatch::Identifier, &none, base),
            Some(ArticleKey::Url("https://news.example/a/kunar/".into()))
        );
        assert_eq!(
            key(path, None, ArticleMatch::Identifier),
            Some(ArticleKey::Url("/a/kunar/".into()))
        );
        let moved = RemapRules::parse(
            "# moved in 2024\nhttps://old.example/* https://news.example/*\nhttps://x.example/p story-9\n",
        )
        .unwrap();
        assert_eq!(
            article_key(
                Some("s"),
                Some("https://old.example/a"),
                ArticleMatch::Url,
                &moved,
                None
            ),
            Some(ArticleKey::Url("https://news.example/a".into()))
        );
        assert_eq!(
            article_key(
                Some("s"),
                Some("https://x.example/p"),
                ArticleMatch::Identifier,
                &moved,
                None
            ),
            Some(ArticleKey::Id("story-9".into()))
        );
        let error = RemapRules::parse("a b c").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(RemapRules::parse("https://a.example/ not/an id").is_err());
    }

    #[test]
    fn articles_created_for_urls_get_valid_distinct_ids() {
        let long = format!("https://news.example/{}", "дуже-довга-адреса/".repeat(30));
        for url in ["https://news.example/2020/05/iskp?x=1", long.as_str(), "//"] {
            let id = article_id_for_url(url);
            assert!(ArticleId::parse(&id, "id").is_ok(), "{id}");
        }
        assert_ne!(
            article_id_for_url("https://a.example/x"),
            article_id_for_url("https://a.example/x/")
        );
        assert!(article_id_for_url("https://news.example/2020/iskp")
            .starts_with("news-example-2020-iskp~"));
    }

    #[test]
    fn ids_are_stable_per_source_item_and_sort_by_original_time() {
        let early = Utc.with_ymd_and_hms(2015, 3, 1, 10, 0, 0).unwrap();
        let late = Utc.with_ymd_and_hms(2019, 3, 1, 10, 0, 0).unwrap();
        let a = review_id("uk", ImportFormat::Disqus, "1", late);
        assert_eq!(a, review_id("uk", ImportFormat::Disqus, "1", late));
        assert_ne!(a, review_id("en", ImportFormat::Disqus, "1", late));
        assert_ne!(a, review_id("uk", ImportFormat::Isso, "1", late));
        assert!(review_id("uk", ImportFormat::Disqus, "2", early) < a);
        assert_eq!(a.get_version_num(), 7);
    }

    #[test]
    fn text_that_a_review_cannot_hold_is_skipped_or_dropped_never_cut() {
        let long = "а".repeat(ReviewBody::MAX_CHARS + 1);
        assert_eq!(
            checked_text(&long, None, None, None, None),
            Err(SkipReason::TooLong)
        );
        assert_eq!(
            checked_text("  \n ", None, None, None, None),
            Err(SkipReason::EmptyText)
        );
        let long_name = "n".repeat(AuthorName::MAX_CHARS + 1);
        let text = checked_text(
            "Добре",
            Some(""),
            Some(&long_name),
            Some("not an email"),
            Some(9),
        )
        .unwrap();
        assert_eq!(text.dropped, ["author_name", "author_email", "rating"]);
        assert_eq!(
            (text.author_name, text.title, text.rating),
            (None, None, None)
        );
        let text = checked_text("Добре", None, Some("Олена"), None, Some(4)).unwrap();
        assert!(text.dropped.is_empty());
        assert_eq!(text.rating.map(Rating::get), Some(4));
    }

    #[test]
    fn the_report_reads_as_text() {
        let mut report = ImportReport {
            format: "disqus",
            site: "uk".into(),
            read: 3,
            imported: 2,
            ..ImportReport::default()
        };
        report.skip(SkipReason::Pingback);
        report.stopped = Some(StoppedAt {
            line: Some(4),
            column: Some(7),
            message: "unexpected end".into(),
        });
        let text = report.to_text();
        assert!(text.contains("read 3, imported 2"), "{text}");
        assert!(text.contains("skipped: pingback 1"), "{text}");
        assert!(
            text.contains("STOPPED: line 4, column 7: unexpected end"),
            "{text}"
        );
    }
}
