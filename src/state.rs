//! What every handler shares.

use crate::db::Pool;
use crate::read_cache::ReadCache;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    /// `MARGINALIA_UNKNOWN_ARTICLES=accept`: a first review creates its article.
    pub create_missing_articles: bool,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    pub read_cache: ReadCache,
}
