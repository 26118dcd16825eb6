//! Keeps every node's read cache coherent with changes committed through the others.
//!
//! The database announces each committed change to a public read on the channel `CHANNEL` (a
//! trigger, see the `read_notifications` migration), as `<site>/<article>`. Each node listens on
//! one connection of its own, outside the pool, and makes its cached reads of that article stale
//! the moment the notification arrives; a moderator's reject through one node is then not served
//! from another node's memory.
//!
//! With read replicas, a read right after the notification may still come from a replica that
//! has not replayed the change, and be cached. So the changes heard are gathered for
//! `GATHER_FOR`, the primary's position is asked once for the batch, and when every usable
//! replica has replayed past it the same articles are made stale once more: staleness is bounded
//! by the replicas' lag, not by the TTL.
//!
//! Notifications are not queued for a listener that is away, so whenever the connection is
//! (re)established every cached read is made stale: what changed meanwhile cannot be served. While
//! the connection is down, the cache's TTL is what bounds staleness. The connection is checked
//! every `KEEPALIVE` so that a silent network failure is noticed too.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::StreamExt;

use crate::metrics;
use crate::sites::SiteDirectory;
use crate::store;

/// Where changes are announced (the migration's trigger names it too).
pub const CHANNEL: &str = "marginalia_reads";
/// The listening session's `application_name`.
pub const LISTENER_NAME: &str = "marginalia-listener";
/// How long changes heard are gathered before the primary's position is asked for them all.
const GATHER_FOR: Duration = Duration::from_millis(20);
/// Longest the second round waits for the replicas (beyond it, they are not usable anyway).
const REPLAY_WAIT: Duration = Duration::from_secs(30);
/// How often a quiet connection is asked whether it is still there, and how long it may take.
const KEEPALIVE: Duration = Duration::from_secs(5);
/// Longest wait before connecting again after a failure (doubling from `FIRST_RETRY`).
const LONGEST_RETRY: Duration = Duration::from_secs(5);
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Listens for changes on the database at `database_url` (the primary: notifications are not
/// replicated) until the process ends, reconnecting by itself.
pub async fn listen(database_url: String, directory: Arc<SiteDirectory>) {
    let mut retry = FIRST_RETRY;
    loop {
        let error = listen_once(&database_url, &directory, &mut retry).await;
        metrics::set_read_cache_listening(false);
        directory.record_unknown_writes();
        tracing::warn!(%error, retry_ms = retry.as_millis() as u64,
            "not listening for other nodes' changes; cached reads live at most their TTL meanwhile");
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LONGEST_RETRY);
    }
}

/// One connection's life: connect, listen, apply notifications until something fails.
async fn listen_once(
    database_url: &str,
    directory: &Arc<SiteDirectory>,
    retry: &mut Duration,
) -> String {
    let connecting = AsyncPgConnection::establish(database_url);
    let mut connection = match tokio::time::timeout(KEEPALIVE, connecting).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => return format!("connecting: {error}"),
        Err(_) => return "connecting timed out".to_owned(),
    };
    // Named, so that an operator sees which session listens (and can end it to test recovery).
    let listen = format!("SET application_name = '{LISTENER_NAME}'; LISTEN {CHANNEL}");
    if let Err(error) = connection.batch_execute(&listen).await {
        return format!("LISTEN: {error}");
    }
    // Whatever changed before this point was not heard of.
    directory.record_unknown_writes();
    metrics::set_read_cache_listening(true);
    *retry = FIRST_RETRY;
    tracing::info!(channel = CHANNEL, "listening for other nodes' changes");
    loop {
        {
            let notifications = connection.notifications_stream();
            let mut notifications = std::pin::pin!(notifications);
            let quiet = tokio::time::sleep(KEEPALIVE);
            let mut quiet = std::pin::pin!(quiet);
            let mut heard = Vec::new();
            let gathered = tokio::time::sleep(GATHER_FOR);
            let mut gathered = std::pin::pin!(gathered);
            loop {
                tokio::select! {
                    received = notifications.next() => match received {
                        Some(Ok(notification)) => {
                            if let Some(change) = apply(directory, &notification.payload).await {
                                if heard.is_empty() {
                                    gathered.as_mut().reset(tokio::time::Instant::now() + GATHER_FOR);
                                }
                                heard.push(change);
                            }
                        }
                        Some(Err(error)) => return format!("receiving: {error}"),
                        None => return "the connection closed".to_owned(),
                    },
                    () = &mut gathered, if !heard.is_empty() => {
                        again_once_replayed(directory, std::mem::take(&mut heard));
                    }
                    () = &mut quiet => break,
                }
            }
            again_once_replayed(directory, heard);
        }
        match tokio::time::timeout(KEEPALIVE, connection.batch_execute("SELECT 1")).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return format!("keepalive: {error}"),
            Err(_) => return "keepalive timed out".to_owned(),
        }
    }
}

/// Makes the change's article stale; returns it (site, article) for the second round.
async fn apply(directory: &SiteDirectory, payload: &str) -> Option<(String, String)> {
    match parse(payload) {
        Some((site, article_id)) => {
            metrics::record_read_change_heard();
            directory.record_write(site, article_id).await;
            Some((site.to_owned(), article_id.to_owned()))
        }
        None => {
            tracing::warn!(payload, "ignoring a malformed change notification");
            None
        }
    }
}

/// With replicas: makes `changes` stale again once every usable replica has replayed them, so
/// that what was read from a replica in between is not served on.
fn again_once_replayed(directory: &Arc<SiteDirectory>, changes: Vec<(String, String)>) {
    let (replicas, primary) = directory.replicas();
    if changes.is_empty() || replicas.is_empty() {
        return;
    }
    let (replicas, primary, directory) = (replicas.clone(), primary.clone(), directory.clone());
    tokio::spawn(async move {
        match store::replication::primary_position(&primary).await {
            Ok(Some(position)) => replicas.replayed(position, REPLAY_WAIT).await,
            // Unknown: the longest a usable replica may lag is the safe wait.
            _ => tokio::time::sleep(REPLAY_WAIT).await,
        }
        for (site, article_id) in changes {
            directory.record_write(&site, &article_id).await;
        }
    });
}

/// `<site>/<article>`; site ids hold no `/`, article ids may.
fn parse(payload: &str) -> Option<(&str, &str)> {
    payload
        .split_once('/')
        .filter(|(site, article)| !site.is_empty() && !article.is_empty())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_notification_names_the_site_then_the_article() {
        assert_eq!(parse("default/a-1"), Some(("default", "a-1")));
        assert_eq!(parse("news/2026/12/story"), Some(("news", "2026/12/story")));
        assert_eq!(parse("no-slash"), None);
        assert_eq!(parse("/article"), None);
        assert_eq!(parse("site/"), None);
    }
}
