//! What every handler shares.

use std::time::Duration;

use crate::db::Pool;
use crate::read_cache::ReadCache;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    /// `MARGINALIA_UNKNOWN_ARTICLES=accept`: a first review creates its article.
    pub create_missing_articles: bool,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest a client may take to send a request body.
    pub body_read_timeout: Duration,
    pub read_cache: ReadCache,
}
