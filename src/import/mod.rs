//! Imports from Disqus, WordPress, Remark42, Commento, Isso and Marginalia's own export
//! (docs/import.md). A source file is read as a stream of records (one parser per format, on a
//! blocking thread), gathered into batches, each planned with `domain::import` and written in one
//! transaction by `store::imports`: a run can stop anywhere and be run again, and a second run of
//! the same export changes nothing.

mod commento;
mod disqus;
mod file;
pub mod html;
mod isso;
mod own;
mod remark42;
pub mod source;
mod wxr;
mod xml;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use self::source::{ParseError, Record, SourceItem, SourceText};
use crate::coherence;
use crate::db::pool::PooledConnection;
use crate::db::Pool;
use crate::domain::import::{
    article_id_for_url, article_key, checked_text, review_id, status_of, Announce, ArticleKey,
    ArticleMatch, ImportFormat, ImportReport, RemapRules, SkipReason, StoppedAt, UnknownArticles,
};
use crate::domain::language::{Guess, LanguageDetector};
use crate::domain::review::Rating;
use crate::domain::site::SiteId;
use crate::store::imports::{self as store_imports, BatchOutcome, ImportRow, NewArticle};
use crate::store::{self, StoreError};

/// What to import, from where, into which site, and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub format: ImportFormat,
    pub path: PathBuf,
    pub site: SiteId,
    /// Read and check everything inside one transaction that is rolled back at the end.
    pub dry_run: bool,
    pub matching: ArticleMatch,
    pub unknown_articles: UnknownArticles,
    pub remap: RemapRules,
    pub announce: Announce,
    /// Makes a thread's path (Isso, Commento) a URL: `https://news.example.org`.
    pub base_url: Option<String>,
    /// Records per transaction.
    pub batch_size: usize,
}

/// Why a run could not start or go on (a malformed source is not one: the report says where it
/// stopped).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("another import of {format} into site {site} is running")]
    Busy { format: &'static str, site: String },
}

/// Records per transaction unless told otherwise: large enough that a transaction's cost is
/// spread over many rows, small enough that a stop loses little and holds few locks.
pub const DEFAULT_BATCH: usize = 500;

/// What the reading thread hands over: a batch, or where the source stopped (the records read
/// since the last batch are dropped with it, so nothing of a bad batch is written).
enum Read {
    Batch(Vec<Record>),
    Stopped(ParseError),
}

/// Runs an import with `pool` bound to `options.site`; `progress` sees the report after every
/// batch.
pub async fn run(
    pool: &Pool,
    options: &ImportOptions,
    progress: &(dyn Fn(&ImportReport) + Sync),
) -> Result<ImportReport, ImportError> {
    let source = options.format.as_str();
    let site = options.site.as_str().to_owned();
    let mut conn = store::connection(pool).await?;
    if !store_imports::try_lock(conn.connection(), &site, source).await? {
        return Err(ImportError::Busy {
            format: source,
            site,
        });
    }
    let result = run_locked(pool, &mut conn, options, progress).await;
    if result.is_ok() {
        store_imports::unlock(conn.connection(), &site, source).await?;
    } else {
        // Its lock and any open transaction go with the session.
        conn.discard();
    }
    result
}

async fn run_locked(
    pool: &Pool,
    conn: &mut PooledConnection,
    options: &ImportOptions,
    progress: &(dyn Fn(&ImportReport) + Sync),
) -> Result<ImportReport, ImportError> {
    use diesel_async::{AnsiTransactionManager, TransactionManager};
    let mut run = Run::new(options);
    // A file that cannot be opened, or whose first pass fails, stops the run before anything
    // is written; the report says where.
    let opened = read_in_batches(options.format, options.path.clone(), options.batch_size).await;
    if options.dry_run {
        AnsiTransactionManager::begin_transaction(conn.connection())
            .await
            .map_err(StoreError::from)?;
    }
    match opened {
        Err(error) => run.report.stopped = Some(stopped_at(error)),
        Ok(mut batches) => {
            while let Some(read) = batches.recv().await {
                match read {
                    Read::Batch(records) => run.batch(pool, conn, records).await?,
                    Read::Stopped(error) => {
                        run.report.stopped = Some(stopped_at(error));
                        break;
                    }
                }
                progress(&run.report);
            }
        }
    }
    run.finish(conn).await?;
    if options.dry_run {
        AnsiTransactionManager::rollback_transaction(conn.connection())
            .await
            .map_err(StoreError::from)?;
    }
    Ok(run.report)
}

fn stopped_at(error: ParseError) -> StoppedAt {
    StoppedAt {
        line: error.line,
        column: error.column,
        message: error.message,
    }
}

/// Opens the source and reads it on a blocking thread, a batch at a time, at most two batches
/// ahead of the writer: memory stays bounded whatever the file's size.
async fn read_in_batches(
    format: ImportFormat,
    path: PathBuf,
    batch_size: usize,
) -> Result<mpsc::Receiver<Read>, ParseError> {
    let records = tokio::task::spawn_blocking(move || open(format, &path))
        .await
        .map_err(|error| ParseError {
            line: None,
            column: None,
            message: format!("the reader stopped: {error}"),
        })??;
    let (sender, receiver) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(batch_size);
        for record in records {
            match record {
                Ok(record) => batch.push(record),
                Err(error) => {
                    let _ = sender.blocking_send(Read::Stopped(error));
                    return;
                }
            }
            if batch.len() >= batch_size {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                if sender.blocking_send(Read::Batch(full)).is_err() {
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = sender.blocking_send(Read::Batch(batch));
        }
    });
    Ok(receiver)
}

fn open(format: ImportFormat, path: &std::path::Path) -> Result<source::Records, ParseError> {
    match format {
        ImportFormat::Disqus => disqus::open(path),
        ImportFormat::Wordpress => wxr::open(path),
        ImportFormat::Remark42 => remark42::open(path),
        ImportFormat::Commento => commento::open(path),
        ImportFormat::Isso => isso::open(path),
        ImportFormat::Marginalia => own::open(path),
    }
}

/// A run in progress: its report and what it learnt of the site's articles.
struct Run<'a> {
    options: &'a ImportOptions,
    report: ImportReport,
    /// Each thread's article once looked up (`None`: unknown and not created).
    articles: HashMap<ArticleKey, Option<String>>,
    /// Articles whose published counts moved, for the summary events.
    counted: BTreeSet<String>,
    detector: LanguageDetector,
    /// Announces changed articles to running nodes, so their cached reads are dropped.
    node: String,
}

impl<'a> Run<'a> {
    fn new(options: &'a ImportOptions) -> Self {
        Self {
            options,
            report: ImportReport {
                format: options.format.as_str(),
                site: options.site.as_str().to_owned(),
                dry_run: options.dry_run,
                ..ImportReport::default()
            },
            articles: HashMap::new(),
            counted: BTreeSet::new(),
            detector: LanguageDetector::default(),
            node: format!("import-{}", uuid::Uuid::now_v7().simple()),
        }
    }

    async fn batch(
        &mut self,
        pool: &Pool,
        conn: &mut PooledConnection,
        records: Vec<Record>,
    ) -> Result<(), ImportError> {
        self.report.read += records.len() as u64;
        let mut items = Vec::with_capacity(records.len());
        for record in records {
            match record {
                Record::LeftOut { reason, .. } => self.report.skip(match reason {
                    source::LeftOut::Pingback => SkipReason::Pingback,
                    source::LeftOut::Trackback => SkipReason::Trackback,
                }),
                Record::Item(item) => items.push(item),
            }
        }
        self.map_threads(conn, &items).await?;
        let rows: Vec<ImportRow> = items
            .into_iter()
            .filter_map(|item| self.row_of(*item))
            .collect();
        let outcome = store_imports::write_batch(
            conn.connection(),
            self.options.site.as_str(),
            self.report.format,
            rows,
        )
        .await?;
        self.count(pool, outcome).await;
        Ok(())
    }

    /// Finds (or creates) the article of every thread of `items` not seen before.
    async fn map_threads(
        &mut self,
        conn: &mut PooledConnection,
        items: &[Box<SourceItem>],
    ) -> Result<(), ImportError> {
        let mut new: HashMap<ArticleKey, &SourceItem> = HashMap::new();
        for item in items {
            if let Some(key) = self.key_of(item) {
                if !self.articles.contains_key(&key) {
                    new.entry(key).or_insert(item);
                }
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = new
            .keys()
            .filter_map(|key| match key {
                ArticleKey::Id(id) => Some(id.clone()),
                ArticleKey::Url(_) => None,
            })
            .collect();
        let urls: Vec<String> = new
            .keys()
            .filter_map(|key| match key {
                ArticleKey::Url(url) => Some(url.clone()),
                ArticleKey::Id(_) => None,
            })
            .collect();
        let known: BTreeSet<String> = store_imports::known_ids(conn.connection(), &ids)
            .await?
            .into_iter()
            .collect();
        let by_url = store_imports::ids_by_url(conn.connection(), &urls).await?;
        let mut create = Vec::new();
        for (key, item) in new {
            let found = match &key {
                ArticleKey::Id(id) => known.contains(id).then(|| id.clone()),
                ArticleKey::Url(url) => by_url.get(url).cloned(),
            };
            let article = match (found, self.options.unknown_articles) {
                (Some(id), _) => Some(id),
                (None, UnknownArticles::Skip) => {
                    self.report.unmapped_threads.insert(describe(&key));
                    None
                }
                (None, UnknownArticles::Create) => {
                    let id = match &key {
                        ArticleKey::Id(id) => id.clone(),
                        ArticleKey::Url(url) => article_id_for_url(url),
                    };
                    create.push(NewArticle {
                        article_id: id.clone(),
                        title: item.thread.title.clone(),
                        url: item.thread.url.clone(),
                    });
                    Some(id)
                }
            };
            self.articles.insert(key, article);
        }
        if !create.is_empty() {
            self.report.articles_created +=
                store_imports::create_articles(conn.connection(), &create).await?;
        }
        Ok(())
    }

    fn key_of(&self, item: &SourceItem) -> Option<ArticleKey> {
        article_key(
            item.thread.identifier.as_deref(),
            item.thread.url.as_deref(),
            self.options.matching,
            &self.options.remap,
            self.options.base_url.as_deref(),
        )
    }

    /// The review an item becomes, or `None` (counted in the report) when it is skipped.
    fn row_of(&mut self, item: SourceItem) -> Option<ImportRow> {
        let Some(key) = self.key_of(&item) else {
            self.report.skip(SkipReason::NoThread);
            let thread = "(a thread with neither identifier nor URL)".to_owned();
            self.report.unmapped_threads.insert(thread);
            return None;
        };
        let Some(article_id) = self.articles.get(&key).cloned().flatten() else {
            self.report.skip(SkipReason::UnknownArticle);
            return None;
        };
        let body = match &item.text {
            SourceText::Html(html) => html::to_text(html),
            SourceText::Plain(text) => text.clone(),
        };
        let checked = checked_text(
            &body,
            item.title.as_deref(),
            item.author_name.as_deref(),
            item.author_email.as_deref(),
            item.rating,
        );
        let text = match checked {
            Ok(text) => text,
            // What the source deleted and kept nothing of is not a review to keep.
            Err(SkipReason::EmptyText) if item.state == source::SourceState::Deleted => {
                self.report.skip(SkipReason::DeletedWithoutText);
                return None;
            }
            Err(reason) => {
                self.report.skip(reason);
                return None;
            }
        };
        for field in &text.dropped {
            *self.report.dropped_fields.entry(field).or_default() += 1;
        }
        Some(self.build_row(item, article_id, text))
    }
}

/// A thread as the report names it.
fn describe(key: &ArticleKey) -> String {
    match key {
        ArticleKey::Id(id) => id.clone(),
        ArticleKey::Url(url) => url.clone(),
    }
}

impl Run<'_> {
    /// The stored review of an item: ours keeps its id, status, counters and reply; any other
    /// source's gets an id derived from its key and the status its source gave it.
    fn build_row(
        &self,
        item: SourceItem,
        article_id: String,
        text: crate::domain::import::ImportedText,
    ) -> ImportRow {
        let format = self.options.format;
        let import_digest = digest_of(&text, item.parent_id.as_deref());
        let body = text.body.as_str().to_owned();
        let detected = || match self.detector.guess(&body) {
            Guess::Sure(tag) => Some(tag.as_str().to_owned()),
            Guess::Undecided(_) | Guess::Unknown => None,
        };
        let mut row = ImportRow {
            id: review_id(
                self.options.site.as_str(),
                format,
                &item.source_id,
                item.created_at,
            ),
            article_id,
            rating: Rating::to_stored(text.rating),
            title: text.title.map(|title| title.as_str().to_owned()),
            body: String::new(),
            author_name: text.author_name.map(|name| name.as_str().to_owned()),
            author_email: text.author_email.map(|email| email.as_str().to_owned()),
            language: None,
            status: status_of(item.state).as_str().to_owned(),
            created_at: item.created_at,
            updated_at: item.created_at,
            reasons: Vec::new(),
            helpful_count: 0,
            unhelpful_count: 0,
            flag_count: 0,
            edited_at: None,
            reply_body: None,
            reply_created_at: None,
            reply_updated_at: None,
            erased_at: None,
            reader_id: None,
            reader_badges: Vec::new(),
            import_source: format.as_str().to_owned(),
            import_id: item.source_id,
            import_parent: item.parent_id,
            import_digest,
        };
        match item.own {
            None => row.language = detected(),
            Some(own) => {
                let own = *own;
                row.id = own.id;
                row.status = own.status;
                row.language = own.language;
                row.reasons = own.reasons;
                row.helpful_count = own.helpful_count;
                row.unhelpful_count = own.unhelpful_count;
                row.flag_count = own.flag_count;
                row.edited_at = own.edited_at;
                row.updated_at = own.updated_at;
                row.erased_at = own.erased_at;
                row.reader_id = own.reader_id;
                row.reader_badges = own.reader_badges;
                if let Some(reply) = own.reply {
                    row.reply_body = Some(reply.body);
                    row.reply_created_at = Some(reply.created_at);
                    row.reply_updated_at = Some(reply.updated_at);
                }
            }
        }
        row.body = body;
        row
    }

    /// Adds a written batch to the report, and tells running nodes which articles changed.
    async fn count(&mut self, pool: &Pool, outcome: BatchOutcome) {
        self.report.imported += outcome.inserted.len() as u64;
        for status in outcome.inserted {
            *self.report.by_status.entry(status.as_str()).or_default() += 1;
        }
        self.report.updated += outcome.updated;
        self.report.unchanged += outcome.unchanged;
        self.report.replies += outcome.linked;
        if self.options.dry_run || outcome.counted_articles.is_empty() {
            return;
        }
        let site = self.options.site.as_str();
        let changes: Vec<String> = outcome
            .counted_articles
            .iter()
            .map(|article| format!("{} {site}/{article}", self.node))
            .collect();
        if let Err(error) = store::notifications::announce(pool, coherence::CHANNEL, &changes).await
        {
            tracing::warn!(%error, "could not tell running nodes; their cached reads expire by themselves");
        }
        self.counted.extend(outcome.counted_articles);
    }

    /// Counts the orphans and queues the summary events.
    async fn finish(&mut self, conn: &mut PooledConnection) -> Result<(), ImportError> {
        let source = self.options.format.as_str();
        let site = self.options.site.as_str();
        self.report.orphans = store_imports::orphans(conn.connection(), site, source).await?;
        if self.options.announce == Announce::Summary
            && !self.options.dry_run
            && !self.counted.is_empty()
        {
            let articles: Vec<String> = self.counted.iter().cloned().collect();
            store_imports::announce_summaries(
                conn.connection(),
                self.options.site.as_str(),
                &articles,
            )
            .await?;
        }
        Ok(())
    }
}

/// The digest of what an import takes from an item, to tell a changed item from an unchanged
/// one on the next run (its status is not in it: that is the moderators' after the first run).
fn digest_of(text: &crate::domain::import::ImportedText, parent: Option<&str>) -> Vec<u8> {
    let mut hasher = Sha256::new();
    let fields = [
        Some(text.body.as_str()),
        text.title.as_ref().map(|title| title.as_str()),
        text.author_name.as_ref().map(|name| name.as_str()),
        text.author_email.as_ref().map(|email| email.as_str()),
        parent,
    ];
    for field in fields {
        match field {
            Some(value) => {
                hasher.update([1]);
                hasher.update((value.len() as u64).to_be_bytes());
                hasher.update(value.as_bytes());
            }
            None => hasher.update([0]),
        }
    }
    hasher.update(Rating::to_stored(text.rating).to_be_bytes());
    hasher.finalize().to_vec()
}

/// What the parsers' tests share.
#[cfg(test)]
mod test_support {
    use std::io::Write;

    use super::source::{ParseError, Record, Records, SourceItem};

    /// Every record of a source, which must all be comments.
    pub fn items(records: Result<Records, ParseError>) -> Result<Vec<SourceItem>, ParseError> {
        records?
            .map(|record| match record? {
                Record::Item(item) => Ok(*item),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    /// A temporary file holding `content`.
    pub fn temp(content: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content.as_bytes()).unwrap();
        file
    }
}
