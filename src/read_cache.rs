//! A short-lived in-process cache of the hottest public reads: per-article stats and the first
//! page of an article's reviews (what a widget on a busy page asks for on every page view).
//!
//! Entries live for a configurable TTL (1 s by default). A review submitted through this process
//! makes its article's entries stale at once, so readers always see their own review; a change
//! committed through another node does too, as soon as its notification arrives (`coherence`);
//! the TTL bounds staleness only while that notification channel is down. A TTL of zero turns
//! caching off. Concurrent misses of one entry share a single database read.
//!
//! Staleness is decided by a write clock rather than by deleting entries: every write ticks the
//! clock and records the tick for its article, every entry remembers the tick at which its read
//! began, and an entry is current only if that read began after the article's last write.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::db::Pool;
use crate::domain::page::PageKey;
use crate::domain::stats::RatingCounters;
use crate::metrics::{self, CacheName};
use crate::store::{self, StoreError};
use crate::views::tagged::TaggedBody;

const MAX_ARTICLES: u64 = 50_000;
/// The first pages kept, in bytes of JSON, so memory stays bounded whatever the traffic.
const MAX_PAGE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct ReadCache {
    /// Absent when caching is off.
    inner: Option<Arc<Inner>>,
    ttl: Duration,
}

struct Inner {
    clock: AtomicU64,
    /// The tick of the last "anything may have changed" (notifications were lost): every entry
    /// read before it is stale.
    everything_written: AtomicU64,
    last_write: Cache<String, u64>,
    /// `None` for an article with no counters yet.
    stats: Cache<String, Stamped<Option<RatingCounters>>>,
    /// Serialized first pages by article and query.
    first_pages: Cache<(String, PageKey), Stamped<TaggedBody>>,
}

#[derive(Clone)]
struct Stamped<T> {
    read_from: u64,
    value: T,
}

impl Inner {
    fn now(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }

    async fn is_current<T>(&self, article_id: &str, entry: &Stamped<T>) -> bool {
        // Every write ticks the clock before its tick is recorded anywhere, so with no tick since
        // the entry's read began nothing can have made it stale: the article's last write need
        // not be looked up (most reads, on a site where reviews arrive far less often than
        // pages are viewed).
        if entry.read_from >= self.now() {
            return true;
        }
        entry.read_from >= self.everything_written.load(Ordering::SeqCst)
            && entry.read_from >= self.last_write.get(article_id).await.unwrap_or(0)
    }

    /// The cached value of `key` if current; otherwise one shared call of `load`.
    async fn through<K, V, E, F, Fut>(
        &self,
        name: CacheName,
        cache: &Cache<K, Stamped<V>>,
        article_id: &str,
        key: K,
        load: F,
    ) -> Result<V, E>
    where
        K: Hash + Eq + Send + Sync + Clone + 'static,
        V: Clone + Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(entry) = cache.get(&key).await {
            if self.is_current(article_id, &entry).await {
                metrics::record_cache_lookup(name, true);
                return Ok(entry.value);
            }
            cache.invalidate(&key).await;
        }
        metrics::record_cache_lookup(name, false);
        let read_from = self.now();
        let entry = cache
            .try_get_with(key, async {
                load().await.map(|value| Stamped { read_from, value })
            })
            .await
            .map_err(|error| (*error).clone())?;
        if self.is_current(article_id, &entry).await {
            Ok(entry.value)
        } else {
            // The shared read began before this article's latest write: read again.
            load().await
        }
    }
}

impl ReadCache {
    /// An empty cache with this one's time to live: each site has its own.
    pub fn fresh(&self) -> Self {
        Self::new(self.ttl)
    }

    /// No caching: every read goes to the database.
    pub fn off() -> Self {
        Self::new(Duration::ZERO)
    }

    pub fn new(ttl: Duration) -> Self {
        let inner = (!ttl.is_zero()).then(|| {
            Arc::new(Inner {
                clock: AtomicU64::new(0),
                everything_written: AtomicU64::new(0),
                // Outlives the entries it judges, so an entry never outlasts the memory of a write.
                last_write: Cache::builder()
                    .max_capacity(MAX_ARTICLES * 2)
                    .time_to_live(ttl * 2)
                    .build(),
                stats: Cache::builder()
                    .max_capacity(MAX_ARTICLES)
                    .time_to_live(ttl)
                    .build(),
                first_pages: Cache::builder()
                    .weigher(|_, page: &Stamped<TaggedBody>| {
                        u32::try_from(page.value.body.len()).unwrap_or(u32::MAX)
                    })
                    .max_capacity(MAX_PAGE_BYTES)
                    .time_to_live(ttl)
                    .build(),
            })
        });
        Self { inner, ttl }
    }

    /// Marks an article's cached reads stale; call after a committed change to its reviews.
    pub async fn record_write(&self, article_id: &str) {
        if let Some(inner) = &self.inner {
            let tick = inner.clock.fetch_add(1, Ordering::SeqCst) + 1;
            inner.last_write.insert(article_id.to_owned(), tick).await;
        }
    }

    /// Marks every cached read stale: after changes this node may not have heard of.
    pub fn record_unknown_writes(&self) {
        if let Some(inner) = &self.inner {
            let tick = inner.clock.fetch_add(1, Ordering::SeqCst) + 1;
            inner.everything_written.store(tick, Ordering::SeqCst);
        }
    }

    /// One article's counters, from the cache or the database.
    pub async fn stats(
        &self,
        pool: &Pool,
        article_id: &str,
    ) -> Result<Option<RatingCounters>, StoreError> {
        let load = || store::stats::for_article(pool, article_id);
        match &self.inner {
            None => load().await,
            Some(inner) => {
                inner
                    .through(
                        CacheName::Stats,
                        &inner.stats,
                        article_id,
                        article_id.to_owned(),
                        load,
                    )
                    .await
            }
        }
    }

    /// Counters of many articles; only the ones not cached are read, in one query.
    pub async fn many_stats(
        &self,
        pool: &Pool,
        article_ids: &[String],
    ) -> Result<HashMap<String, RatingCounters>, StoreError> {
        let Some(inner) = &self.inner else {
            return store::stats::for_articles(pool, article_ids).await;
        };
        let mut found = HashMap::with_capacity(article_ids.len());
        let mut missing = Vec::new();
        for id in article_ids {
            match inner.stats.get(id).await {
                Some(entry) if inner.is_current(id, &entry).await => {
                    metrics::record_cache_lookup(CacheName::Stats, true);
                    found.extend(entry.value.map(|counters| (id.clone(), counters)));
                }
                _ => {
                    metrics::record_cache_lookup(CacheName::Stats, false);
                    missing.push(id.clone());
                }
            }
        }
        if !missing.is_empty() {
            let read_from = inner.now();
            let loaded = store::stats::for_articles(pool, &missing).await?;
            for id in missing {
                let value = loaded.get(&id).copied();
                inner.stats.insert(id, Stamped { read_from, value }).await;
            }
            found.extend(loaded);
        }
        Ok(found)
    }

    /// The serialized first page of an article's reviews for `query_key`, from the cache or
    /// from `load` (whose errors are never cached).
    pub async fn first_page<E, F, Fut>(
        &self,
        article_id: &str,
        query_key: PageKey,
        load: F,
    ) -> Result<TaggedBody, E>
    where
        E: Clone + Send + Sync + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<TaggedBody, E>>,
    {
        match &self.inner {
            None => load().await,
            Some(inner) => {
                let key = (article_id.to_owned(), query_key);
                inner
                    .through(
                        CacheName::FirstPage,
                        &inner.first_pages,
                        article_id,
                        key,
                        load,
                    )
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::PageQuery;
    use actix_web::web::Bytes;

    #[test]
    fn a_zero_ttl_turns_the_cache_off() {
        assert!(ReadCache::new(Duration::ZERO).inner.is_none());
        assert!(ReadCache::new(Duration::from_secs(1)).inner.is_some());
    }

    #[actix_web::test]
    async fn a_write_makes_earlier_reads_stale() {
        let cache = ReadCache::new(Duration::from_secs(60));
        let page = |text: &'static str| {
            move || async move {
                Ok::<_, StoreError>(TaggedBody::new(Bytes::from_static(text.as_bytes())))
            }
        };
        let key = || PageQuery::default().cache_key();
        let cache = &cache;
        let read = |text| async move {
            cache
                .first_page("a", key(), page(text))
                .await
                .map(|page| page.body)
        };
        assert_eq!(read("one").await.unwrap(), "one");
        assert_eq!(read("two").await.unwrap(), "one", "cached");
        cache.record_write("b").await;
        assert_eq!(read("two").await.unwrap(), "one", "another article's write");
        cache.record_write("a").await;
        assert_eq!(read("three").await.unwrap(), "three", "stale after a write");
        assert_eq!(read("four").await.unwrap(), "three");
        cache.record_unknown_writes();
        assert_eq!(
            read("five").await.unwrap(),
            "five",
            "stale after lost notifications"
        );
        assert_eq!(read("six").await.unwrap(), "five");
    }

    #[actix_web::test]
    async fn errors_are_not_cached() {
        let cache = ReadCache::new(Duration::from_secs(60));
        let failing = || async { Err::<TaggedBody, _>(StoreError::Unavailable("down".into())) };
        assert!(cache
            .first_page("a", PageQuery::default().cache_key(), failing)
            .await
            .is_err());
        let working = || async { Ok::<_, StoreError>(TaggedBody::new(Bytes::from_static(b"up"))) };
        assert_eq!(
            cache
                .first_page("a", PageQuery::default().cache_key(), working)
                .await
                .unwrap()
                .body,
            "up"
        );
    }
}
