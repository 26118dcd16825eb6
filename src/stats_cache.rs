//! A short-lived in-process cache of per-article rating counters.
//!
//! Stats are the hottest read (a widget on a home page polls them for every visitor), and one
//! indexed lookup still costs a database round trip. Entries live for a configurable TTL (1 s by
//! default); a review submitted through this process drops its article's entry at once, so a
//! reader always sees their own review counted. A review submitted through another instance shows
//! up within the TTL. A TTL of zero turns the cache off.

use std::collections::HashMap;
use std::time::Duration;

use moka::sync::Cache;

use crate::db::Pool;
use crate::domain::stats::RatingCounters;
use crate::store::{self, StoreError};

const MAX_ENTRIES: u64 = 100_000;

#[derive(Clone)]
pub struct StatsCache {
    /// `None` for an article with no counters yet. Absent when caching is off.
    entries: Option<Cache<String, Option<RatingCounters>>>,
}

impl StatsCache {
    pub fn new(ttl: Duration) -> Self {
        let entries = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .build()
        });
        Self { entries }
    }

    /// One article's counters, from the cache or the database.
    pub async fn article(
        &self,
        pool: &Pool,
        article_id: &str,
    ) -> Result<Option<RatingCounters>, StoreError> {
        if let Some(hit) = self.entries.as_ref().and_then(|e| e.get(article_id)) {
            return Ok(hit);
        }
        let counters = store::stats::for_article(pool, article_id).await?;
        if let Some(entries) = &self.entries {
            entries.insert(article_id.to_owned(), counters);
        }
        Ok(counters)
    }

    /// Counters of many articles; only the ones not cached are read, in one query.
    pub async fn articles(
        &self,
        pool: &Pool,
        article_ids: &[String],
    ) -> Result<HashMap<String, RatingCounters>, StoreError> {
        let mut found = HashMap::with_capacity(article_ids.len());
        let mut missing = Vec::new();
        for id in article_ids {
            match self.entries.as_ref().and_then(|e| e.get(id)) {
                Some(Some(counters)) => {
                    found.insert(id.clone(), counters);
                }
                Some(None) => {}
                None => missing.push(id.clone()),
            }
        }
        if !missing.is_empty() {
            let loaded = store::stats::for_articles(pool, &missing).await?;
            if let Some(entries) = &self.entries {
                for id in &missing {
                    entries.insert(id.clone(), loaded.get(id).copied());
                }
            }
            found.extend(loaded);
        }
        Ok(found)
    }

    /// Drops an article's entry after a change to its reviews.
    pub fn forget(&self, article_id: &str) {
        if let Some(entries) = &self.entries {
            entries.invalidate(article_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_ttl_turns_the_cache_off() {
        assert!(StatsCache::new(Duration::ZERO).entries.is_none());
        assert!(StatsCache::new(Duration::from_secs(1)).entries.is_some());
    }

    #[test]
    fn forgetting_drops_the_entry() {
        let cache = StatsCache::new(Duration::from_secs(60));
        let entries = cache.entries.as_ref().unwrap();
        entries.insert("a".into(), Some(RatingCounters::default()));
        assert!(entries.get("a").is_some());
        cache.forget("a");
        assert!(entries.get("a").is_none());
    }
}
