//! Per-client write limits and which proxies may name the client.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Reviews (submissions, edits, deletions) one client address may send a minute; 0 turns
    /// the limit off.
    #[arg(long, env = "MARGINALIA_RATE_LIMIT_REVIEWS", default_value_t = 10)]
    pub rate_limit_reviews: u32,

    /// Votes and flags one client address may send a minute; 0 turns the limit off.
    #[arg(long, env = "MARGINALIA_RATE_LIMIT_REACTIONS", default_value_t = 60)]
    pub rate_limit_reactions: u32,

    /// Proxies whose `X-Forwarded-For` names the client (addresses or CIDR ranges,
    /// comma-separated). Unset: the connection's address is the client.
    #[arg(
        long,
        env = "MARGINALIA_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub trusted_proxies: Vec<String>,
}
