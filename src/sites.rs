//! The sites an installation serves, as requests see them. Each site gets its own `AppState`:
//! the pool bound to the site (so row-level security shows it only its rows), its moderation
//! settings and CMS secrets (the site's own where it set them, the installation's otherwise) and
//! its own read cache. The directory reloads the `sites` table at most every `FRESH_FOR`, so a
//! site created or changed by the CLI or another node is served within that time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::db::Pool;
use crate::domain::language::LanguageDetector;
use crate::domain::moderation::ModerationMode;
use crate::domain::reader::ReaderTokenSettings;
use crate::domain::review::RatingRule;
use crate::domain::site::SiteId;
use crate::live::Live;
use crate::rate_limit::{Limit, LimitedWrite};
use crate::readers::ReaderTokens;
use crate::replicas::Replicas;
use crate::state::AppState;
use crate::store::sites::SiteRow;
use crate::store::{self, StoreError};
use crate::webhooks::sender::Sender;
use crate::webhooks::signature::Secret;

/// How long the directory trusts what it read of the `sites` table.
pub const FRESH_FOR: Duration = Duration::from_secs(5);
/// How soon a request for a site the directory does not know reads the table again: a site just
/// created (by the CLI, another node) is served within this, and requests naming sites that do
/// not exist cost at most one read of the table per interval.
const UNKNOWN_RETRY: Duration = Duration::from_secs(1);

/// Why a request's site could not be served.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("there is no site `{0}`")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The site a request named (the default site when it named none), in its extensions
/// (`http_layer::site` puts it there).
#[derive(Debug, Clone)]
pub struct RequestSite(pub SiteId);

/// Every site's state, keyed by site id.
pub struct SiteDirectory {
    /// The installation's state: its settings are every site's defaults; its pool is unbound.
    installation: AppState,
    /// The installation's CORS origins (`MARGINALIA_CORS_ORIGINS`), for sites without their own.
    installation_origins: Vec<String>,
    known: RwLock<Known>,
    /// One reload at a time; the others wait for it and use what it read.
    reloading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Known {
    sites: HashMap<String, Site>,
    loaded_at: Option<Instant>,
}

/// A site's row as last read, and the state built from it.
struct Site {
    row: SiteRow,
    state: Arc<AppState>,
}

impl SiteDirectory {
    pub fn new(installation: AppState, installation_origins: Vec<String>) -> Self {
        Self {
            installation,
            installation_origins,
            known: RwLock::default(),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The state of `site`: from memory while fresh, else after reading the `sites` table again.
    /// While the database is away, the last state read keeps serving.
    pub async fn state(&self, site: &SiteId) -> Result<Arc<AppState>, SiteError> {
        if let (Some(state), true) = self.cached(site) {
            return Ok(state);
        }
        let _one_at_a_time = self.reloading.lock().await;
        let (cached, fresh) = self.cached(site);
        if !fresh {
            match self.reload().await {
                Ok(()) => {}
                Err(error) => return cached.ok_or(SiteError::Store(error)),
            }
        }
        self.cached(site)
            .0
            .ok_or_else(|| SiteError::Unknown(site.to_string()))
    }

    /// Every site's state, read afresh from the `sites` table (a site created a moment ago by
    /// another node is included), in site id order: for an installation admin's request that
    /// acts on every site.
    pub async fn every_site(&self) -> Result<Vec<(SiteId, Arc<AppState>)>, StoreError> {
        {
            let _one_at_a_time = self.reloading.lock().await;
            self.reload().await?;
        }
        let known = self.read();
        let mut sites: Vec<_> = known
            .sites
            .values()
            .filter_map(|site| {
                let id = SiteId::parse(&site.row.site_id, "site_id").ok()?;
                Some((id, site.state.clone()))
            })
            .collect();
        sites.sort_by(|(a, _), (b, _)| a.as_str().cmp(b.as_str()));
        Ok(sites)
    }

    /// Forgets idle clients of every rate limit: the installation's and each site's own.
    pub fn forget_idle_clients(&self) {
        let installation = &self.installation.abuse;
        let mut limits = vec![&installation.reviews_limit, &installation.reactions_limit];
        let known = self.read();
        for site in known.sites.values() {
            for limit in [
                &site.state.abuse.reviews_limit,
                &site.state.abuse.reactions_limit,
            ] {
                if !limits.iter().any(|seen| seen.same_buckets(limit)) {
                    limits.push(limit);
                }
            }
        }
        for limit in limits {
            limit.forget_idle();
        }
    }

    /// Makes `site`'s cached reads of `article_id` stale (a change committed elsewhere). A site
    /// not read yet has nothing cached.
    pub async fn record_write(&self, site: &str, article_id: &str) {
        let cache = self
            .read()
            .sites
            .get(site)
            .map(|site| site.state.read_cache.clone());
        if let Some(cache) = cache {
            cache.record_write(article_id).await;
        }
    }

    /// This process's name in its change announcements (`coherence`).
    /// This node's live streams (one for every site).
    pub fn live(&self) -> &Live {
        &self.installation.live
    }

    pub fn own_node(&self) -> &str {
        self.installation.announcer.node()
    }

    /// The installation's read replicas, and its (unbound) primary pool.
    pub fn replicas(&self) -> (&Replicas, &Pool) {
        (&self.installation.replicas, &self.installation.pool)
    }

    /// Makes every site's cached reads stale (changes may have been missed).
    pub fn record_unknown_writes(&self) {
        for site in self.read().sites.values() {
            site.state.read_cache.record_unknown_writes();
        }
    }

    /// Whether a browser page at `origin` may call `site`'s API: one of the site's origins, or
    /// of the installation's when the site has none (`*`: any). Judged on what was last read
    /// (`serve_the_site` reads the site before CORS runs).
    pub fn allows_origin(&self, site: &SiteId, origin: &[u8]) -> bool {
        let known = self.read();
        let origins = known
            .sites
            .get(site.as_str())
            .and_then(|s| s.row.origins.as_deref())
            .unwrap_or(&self.installation_origins);
        origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.as_bytes() == origin)
    }

    /// Whether `site` was among the sites last read.
    pub fn is_known(&self, site: &str) -> bool {
        self.read().sites.contains_key(site)
    }

    /// Makes the next request read the `sites` table again (after this node changed it).
    pub fn forget(&self) {
        self.write().loaded_at = None;
    }

    /// The site's state if known, and whether what is known is fresh enough: `FRESH_FOR` for a
    /// known site, `UNKNOWN_RETRY` for one that was not there.
    fn cached(&self, site: &SiteId) -> (Option<Arc<AppState>>, bool) {
        let known = self.read();
        let state = known.sites.get(site.as_str()).map(|s| s.state.clone());
        let trusted_for = if state.is_some() {
            FRESH_FOR
        } else {
            UNKNOWN_RETRY
        };
        let fresh = known
            .loaded_at
            .is_some_and(|loaded| loaded.elapsed() < trusted_for);
        (state, fresh)
    }

    async fn reload(&self) -> Result<(), StoreError> {
        let rows = store::sites::list(&self.installation.pool).await?;
        let mut known = self.write();
        let mut sites = HashMap::with_capacity(rows.len());
        for row in rows {
            let previous = known.sites.remove(&row.site_id);
            let site = match previous {
                Some(previous) if previous.row == row => previous,
                previous => Site {
                    state: Arc::new(site_state(
                        &self.installation,
                        &row,
                        previous.map(|p| p.state).as_deref(),
                    )),
                    row,
                },
            };
            sites.insert(site.row.site_id.clone(), site);
        }
        *known = Known {
            sites,
            loaded_at: Some(Instant::now()),
        };
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Known> {
        self.known
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Known> {
        self.known
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The site's reader tokens, if it has settings for them: the previous state's while the
/// settings stay the same (with the keys fetched meanwhile).
fn reader_tokens(
    site: &SiteId,
    row: &SiteRow,
    previous: Option<&AppState>,
    fetcher: &Sender,
) -> Option<ReaderTokens> {
    let settings = serde_json::from_value::<ReaderTokenSettings>(row.reader_tokens.clone()?)
        .inspect_err(|error| tracing::error!(site = %site, %error, "the site's reader tokens"))
        .ok()?;
    match previous.map(|previous| &previous.readers.tokens) {
        Some(tokens) if tokens.built_from(&settings) => Some(tokens.clone()),
        _ => ReaderTokens::new(site.as_str(), &settings, fetcher.clone())
            .inspect_err(|error| tracing::error!(site = %site, %error, "the site's reader tokens"))
            .ok(),
    }
}

/// A site's state: the installation's, with the site's own settings where it has them. What
/// outlives a change of settings comes from the `previous` state: the read cache, and the rate
/// limits' buckets while their rate stays. A stored setting that no longer parses (the API
/// validates before storing, so only a hand-edited row) is logged and the installation's is
/// used.
fn site_state(installation: &AppState, row: &SiteRow, previous: Option<&AppState>) -> AppState {
    let mut state = installation.clone();
    let site = SiteId::parse(&row.site_id, "site_id").unwrap_or_else(|_| SiteId::default_site());
    state.pool = installation.pool.site(&site);
    state.replicas = installation.replicas.site(&site);
    state.read_cache = previous.map_or_else(
        || installation.read_cache.fresh(),
        |previous| previous.read_cache.clone(),
    );
    let own_limit = |kind, rate: Option<i32>, previous: Option<&Limit>| {
        let rate = u32::try_from(rate?).ok()?;
        Some(match previous {
            Some(limit) if limit.per_minute_rate() == rate => limit.clone(),
            _ => Limit::of_site(&site, kind, rate),
        })
    };
    let previous_abuse = previous.map(|p| &p.abuse);
    // Without a rate of its own, the site counts in the installation's buckets (the clone's).
    if let Some(limit) = own_limit(
        LimitedWrite::Reviews,
        row.rate_limit_reviews,
        previous_abuse.map(|a| &a.reviews_limit),
    ) {
        state.abuse.reviews_limit = limit;
    }
    if let Some(limit) = own_limit(
        LimitedWrite::Reactions,
        row.rate_limit_reactions,
        previous_abuse.map(|a| &a.reactions_limit),
    ) {
        state.abuse.reactions_limit = limit;
    }
    let moderation = &mut state.moderation;
    if let Some(mode) = row
        .moderation
        .as_deref()
        .and_then(ModerationMode::from_stored)
    {
        moderation.site_mode = mode;
    }
    if row.banned_terms.is_some() || row.max_links.is_some() {
        let terms = row.banned_terms.clone().unwrap_or_default();
        let max_links = row
            .max_links
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(moderation.rules.max_links);
        moderation.rules = Arc::new(moderation.rules.with_terms(&terms, max_links));
    }
    if let Some(languages) = &row.languages {
        match LanguageDetector::among(languages) {
            Ok(detector) => moderation.language_detector = Arc::new(detector),
            Err(error) => tracing::error!(site = %site, %error, "the site's languages"),
        }
    }
    if row.unrated_reviews == Some(true) {
        moderation.rating_rule = RatingRule::Optional;
    }
    if let Some(threshold) = row.flag_threshold.and_then(|n| u32::try_from(n).ok()) {
        moderation.flag_threshold = threshold;
    }
    if let Some(name) = &row.newsroom_name {
        moderation.newsroom_name = Arc::from(name.as_str());
    }
    if let Some(tokens) = reader_tokens(&site, row, previous, &state.readers.fetcher) {
        state.readers.tokens = tokens;
    }
    if let Some(secrets) = &row.cms_secrets {
        match secrets.iter().map(|s| Secret::parse(s)).collect() {
            Ok(parsed) => state.webhooks.cms_secrets = Arc::new(parsed),
            Err(error) => tracing::error!(site = %site, %error, "the site's CMS secrets"),
        }
    }
    state
}
