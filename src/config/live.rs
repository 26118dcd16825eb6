//! Live updates: how many streams a node holds, how often they are kept alive, how far back a
//! reader may resume.

use std::time::Duration;

use clap::Args;

use super::units::seconds;

#[derive(Debug, Clone, Args)]
pub struct Live {
    /// Most live streams (readers' and moderators') this node holds at once; more get a 429.
    /// Below `MARGINALIA_MAX_CONNECTIONS`, since each holds a connection. Each idle stream costs
    /// about 14 KiB (docs/benchmarks.md, "Live streams").
    #[arg(long = "live-max-streams", env = "MARGINALIA_LIVE_MAX_STREAMS", default_value_t = 8_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_streams: u64,

    /// Most live streams one client network (an IPv4 address, an IPv6 /64) holds on this node at
    /// once; more get a 429. Readers behind one office or carrier NAT share it.
    #[arg(long = "live-max-streams-per-client", env = "MARGINALIA_LIVE_MAX_STREAMS_PER_CLIENT", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_streams_per_client: u64,

    /// Seconds between keep-alive comments on an idle stream, so that proxies and browsers do
    /// not time it out, and between checks that a moderator's key is still valid.
    #[arg(long = "live-heartbeat-secs", env = "MARGINALIA_LIVE_HEARTBEAT_SECS", default_value = "20",
          value_name = "LIVE_HEARTBEAT_SECS", value_parser = seconds(1..=300))]
    pub heartbeat: Duration,

    /// Seconds the changes are kept for readers who reconnect with `Last-Event-ID`; a reader
    /// away longer is told to reload.
    #[arg(long = "live-window-secs", env = "MARGINALIA_LIVE_WINDOW_SECS", default_value = "600",
          value_name = "LIVE_WINDOW_SECS", value_parser = seconds(10..=86_400))]
    pub window: Duration,
}
