//! Prometheus metrics: what operators scrape to see traffic, latency, the database pool, errors,
//! the read cache and the private cluster's health.
//!
//! Recording goes through the `metrics` facade (one process-wide recorder, cheap atomic updates on
//! the hot path); `metrics-exporter-prometheus` renders the text format at scrape time.

use std::sync::OnceLock;

use actix_web::http::Method;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db::Pool;

const HTTP_REQUESTS: &str = "marginalia_http_requests_total";
const HTTP_DURATION: &str = "marginalia_http_request_duration_seconds";
const POOL_CONNECTIONS: &str = "marginalia_db_pool_connections";
const POOL_MAX: &str = "marginalia_db_pool_max_connections";
const POOL_WAITING: &str = "marginalia_db_pool_waiting_requests";
const DB_ERRORS: &str = "marginalia_db_errors_total";
const CACHE_LOOKUPS: &str = "marginalia_read_cache_lookups_total";
const READ_CHANGES_HEARD: &str = "marginalia_read_cache_changes_heard_total";
const READ_CACHE_LISTENING: &str = "marginalia_read_cache_listening";
const REPLICA_USABLE: &str = "marginalia_db_replica_usable";
const REVIEWS_CREATED: &str = "marginalia_reviews_created_total";
const CLUSTER_RESTARTS: &str = "marginalia_embedded_cluster_restarts_total";
const WEBHOOK_ATTEMPTS: &str = "marginalia_webhook_attempts_total";
const WEBHOOK_ATTEMPT_DURATION: &str = "marginalia_webhook_attempt_duration_seconds";
const WEBHOOK_DELIVERIES: &str = "marginalia_webhook_deliveries_total";
const WEBHOOK_PENDING: &str = "marginalia_webhook_deliveries_pending";
const WEBHOOK_DISABLED: &str = "marginalia_webhook_endpoints_disabled_total";
const WEBHOOK_NON_LOOPBACK: &str = "marginalia_webhook_non_loopback_refused_total";
const CMS_EVENTS: &str = "marginalia_cms_events_total";
const RATE_LIMITED: &str = "marginalia_rate_limited_total";
const RULE_HITS: &str = "marginalia_moderation_rule_hits_total";
const MODERATION_CHANGES: &str = "marginalia_moderation_changes_total";
const LIVE_STREAMS: &str = "marginalia_live_streams";
const LIVE_EVENTS: &str = "marginalia_live_events_total";
const LIVE_REFUSED: &str = "marginalia_live_streams_refused_total";
const LIVE_PRUNED: &str = "marginalia_live_events_pruned_total";
const MAIL_MESSAGES: &str = "marginalia_mail_messages_total";
const MAIL_PENDING: &str = "marginalia_mail_messages_pending";

/// Latency buckets in seconds: from a cached read (~1 ms) to the longest database deadline.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often queued histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Handles of the series whose labels are known in advance, registered once: recording through
/// a handle is one atomic update, with no key to build or look up.
struct Fixed {
    cache: [[metrics::Counter; 2]; 2],
    reviews_created: metrics::Counter,
    db_errors: [metrics::Counter; 3],
    cluster_restarts: metrics::Counter,
    webhook_attempts: [metrics::Counter; 2],
    webhook_deliveries: [metrics::Counter; 2],
    webhook_disabled: metrics::Counter,
    cms_events: [metrics::Counter; 4],
}

static FIXED: OnceLock<Fixed> = OnceLock::new();

fn fixed() -> &'static Fixed {
    FIXED.get_or_init(|| {
        init();
        let lookups = |cache: &'static str| {
            ["hit", "miss"].map(
                |result| metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => result),
            )
        };
        Fixed {
            cache: [lookups("stats"), lookups("first_page")],
            reviews_created: metrics::counter!(REVIEWS_CREATED),
            db_errors: ["unavailable", "timeout", "query"]
                .map(|kind| metrics::counter!(DB_ERRORS, "kind" => kind)),
            cluster_restarts: metrics::counter!(CLUSTER_RESTARTS),
            webhook_attempts: ["success", "failure"]
                .map(|result| metrics::counter!(WEBHOOK_ATTEMPTS, "result" => result)),
            webhook_deliveries: ["succeeded", "failed"]
                .map(|result| metrics::counter!(WEBHOOK_DELIVERIES, "result" => result)),
            webhook_disabled: metrics::counter!(WEBHOOK_DISABLED),
            cms_events: CmsEventOutcome::ALL
                .map(|outcome| metrics::counter!(CMS_EVENTS, "outcome" => outcome.as_str())),
        }
    })
}

/// Installs the process-wide recorder on first use and returns the handle that renders it;
/// `None` if another recorder was installed first (then nothing is recorded here).
fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), DURATION_BUCKETS)
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full(WEBHOOK_ATTEMPT_DURATION.into()),
                    DURATION_BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            // Exported at 0 from the start, so that a scraper checking that nothing left the
            // machine can tell "none" from "not exported".
            metrics::counter!(WEBHOOK_NON_LOOPBACK).absolute(0);
            // Histogram samples queue up until upkeep folds them into their buckets: without it,
            // memory grows with every request between scrapes (or forever, with no scraper).
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                })
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by route template, method and status"
    );
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by route template and method"
    );
    metrics::describe_gauge!(
        POOL_CONNECTIONS,
        "Pooled database connections by state (idle, in_use)"
    );
    metrics::describe_gauge!(POOL_MAX, "Most database connections the pool opens");
    metrics::describe_gauge!(POOL_WAITING, "Requests waiting for a database connection");
    metrics::describe_counter!(
        DB_ERRORS,
        "Failed database calls by kind (unavailable, timeout, query)"
    );
    metrics::describe_counter!(
        CACHE_LOOKUPS,
        "Read cache lookups by cache and result (hit, miss)"
    );
    metrics::describe_counter!(REVIEWS_CREATED, "Reviews stored");
    metrics::describe_gauge!(LIVE_STREAMS, "Live streams open on this node");
    metrics::describe_counter!(
        LIVE_EVENTS,
        "Live events rendered for the streams of this node, by stream (article, moderation); \
         each is rendered once, whatever the number of its subscribers"
    );
    metrics::describe_counter!(
        LIVE_PRUNED,
        "Live events this node's pruning deleted, once older than the resume window"
    );
    metrics::describe_counter!(
        LIVE_REFUSED,
        "Live streams refused, by reason (node_full, client_full, draining)"
    );
    metrics::describe_counter!(
        CLUSTER_RESTARTS,
        "Times the supervisor restarted the private PostgreSQL cluster after it died"
    );
    metrics::describe_counter!(
        WEBHOOK_ATTEMPTS,
        "Outbound webhook attempts by result (success: a 2xx answer; failure: anything else)"
    );
    metrics::describe_histogram!(
        WEBHOOK_ATTEMPT_DURATION,
        metrics::Unit::Seconds,
        "Time from sending an outbound webhook to the receiver's answer"
    );
    metrics::describe_counter!(
        WEBHOOK_DELIVERIES,
        "Outbound deliveries finished, by result (failed: no attempts left)"
    );
    metrics::describe_gauge!(
        WEBHOOK_PENDING,
        "Outbound deliveries waiting for an attempt, as this process last counted them"
    );
    metrics::describe_counter!(
        WEBHOOK_DISABLED,
        "Outbound endpoints disabled after failing for too long"
    );
    metrics::describe_counter!(
        WEBHOOK_NON_LOOPBACK,
        "Outbound webhook attempts refused because MARGINALIA_WEBHOOK_LOOPBACK_ONLY is set and \
         the target is not 127.0.0.0/8, ::1 or localhost"
    );
    metrics::describe_counter!(
        MAIL_MESSAGES,
        "Email messages by kind (confirm, published, rejected, replied, digest) and outcome \
         (sent, retried, dropped: no longer true or unsubscribed, failed: refused or out of retries)"
    );
    metrics::describe_gauge!(
        MAIL_PENDING,
        "Email messages due to be sent, as this process last counted them"
    );
    metrics::describe_counter!(
        CMS_EVENTS,
        "Inbound CMS events by outcome (applied, superseded, already_processed, refused)"
    );
}

/// Makes sure the recorder exists before anything is recorded.
pub fn init() {
    let _ = handle();
}

/// The metrics in the Prometheus text format, with the pool's gauges read now.
pub fn render(pool: &Pool) -> String {
    let status = pool.status();
    let in_use = status.size.saturating_sub(status.available);
    metrics::gauge!(POOL_CONNECTIONS, "state" => "in_use").set(in_use as f64);
    metrics::gauge!(POOL_CONNECTIONS, "state" => "idle").set(status.available as f64);
    metrics::gauge!(POOL_MAX).set(status.max_size as f64);
    metrics::gauge!(POOL_WAITING).set(status.waiting as f64);
    handle().map(PrometheusHandle::render).unwrap_or_default()
}

/// Kinds of failed database calls (in the order of `Fixed::db_errors`).
#[derive(Debug, Clone, Copy)]
pub enum DbErrorKind {
    /// Refused, closed or unreachable: the database is down or restarting.
    Unavailable,
    /// No answer within the deadline: the database stalls.
    Timeout,
    /// The database answered with an error.
    Query,
}

pub fn record_db_error(kind: DbErrorKind) {
    fixed().db_errors[kind as usize].increment(1);
}

/// The read caches whose lookups are counted.
#[derive(Debug, Clone, Copy)]
pub enum CacheName {
    Stats,
    FirstPage,
}

pub fn record_cache_lookup(cache: CacheName, hit: bool) {
    fixed().cache[cache as usize][usize::from(!hit)].increment(1);
}

/// A change committed through any node (this one included) was announced by the database.
pub fn record_read_change_heard() {
    metrics::counter!(READ_CHANGES_HEARD).increment(1);
}

/// Whether this node is listening for other nodes' changes (1) or relies on the TTL (0).
pub fn set_read_cache_listening(listening: bool) {
    metrics::gauge!(READ_CACHE_LISTENING).set(f64::from(u8::from(listening)));
}

/// Whether the replica at `index` of `DATABASE_READ_URL` serves public reads (1) or is skipped
/// for lagging, not answering or having been promoted (0).
pub fn set_replica_usable(index: usize, usable: bool) {
    metrics::gauge!(REPLICA_USABLE, "replica" => index.to_string())
        .set(f64::from(u8::from(usable)));
}

/// How many live streams this node holds now.
pub fn set_live_streams(open: usize) {
    metrics::gauge!(LIVE_STREAMS).set(open as f64);
}

/// `count` live events rendered for the streams of kind `stream` (`article`, `moderation`).
pub fn record_live_events(stream: &'static str, count: usize) {
    metrics::counter!(LIVE_EVENTS, "stream" => stream).increment(count as u64);
}

/// `count` live events deleted by this node's pruning, as older than the resume window.
pub fn record_live_events_pruned(count: usize) {
    metrics::counter!(LIVE_PRUNED).increment(count as u64);
}

/// What became of one try at an email message of `kind`.
pub fn record_mail(kind: &'static str, outcome: &'static str) {
    metrics::counter!(MAIL_MESSAGES, "kind" => kind, "outcome" => outcome).increment(1);
}

pub fn set_mail_pending(due: i64) {
    metrics::gauge!(MAIL_PENDING).set(due as f64);
}

pub fn record_live_refused(reason: &'static str) {
    metrics::counter!(LIVE_REFUSED, "reason" => reason).increment(1);
}

pub fn record_review_created() {
    fixed().reviews_created.increment(1);
}

pub fn record_cluster_restart() {
    fixed().cluster_restarts.increment(1);
}

/// One outbound attempt: whether the receiver answered 2xx, and how long it took.
pub fn record_webhook_attempt(success: bool, took: std::time::Duration) {
    fixed().webhook_attempts[usize::from(!success)].increment(1);
    metrics::histogram!(WEBHOOK_ATTEMPT_DURATION).record(took.as_secs_f64());
}

/// A delivery finished: succeeded, or failed with no attempts left.
pub fn record_webhook_delivery(succeeded: bool) {
    fixed().webhook_deliveries[usize::from(!succeeded)].increment(1);
}

/// A loopback-only sender refused a target elsewhere.
pub fn record_webhook_non_loopback_refused() {
    metrics::counter!(WEBHOOK_NON_LOOPBACK).increment(1);
}

pub fn record_webhook_endpoint_disabled() {
    fixed().webhook_disabled.increment(1);
}

/// A public write refused by its rate limit (`reviews` or `reactions`).
pub fn record_rate_limited(write: &'static str) {
    metrics::counter!(RATE_LIMITED, "write" => write).increment(1);
}

/// An automatic rule caught a submission or an edit.
pub fn record_rule_hit(reason: &'static str) {
    metrics::counter!(RULE_HITS, "reason" => reason).increment(1);
}

/// Reviews whose status a moderator, an author or the flag threshold changed, by action.
pub fn record_moderation_changes(action: &'static str, count: usize) {
    metrics::counter!(MODERATION_CHANGES, "action" => action).increment(count as u64);
}

pub fn set_webhook_pending(count: i64) {
    metrics::gauge!(WEBHOOK_PENDING).set(count as f64);
}

/// What became of an inbound CMS event.
#[derive(Debug, Clone, Copy)]
pub enum CmsEventOutcome {
    Applied,
    Superseded,
    AlreadyProcessed,
    /// Signature, timestamp or payload refused.
    Refused,
}

impl CmsEventOutcome {
    const ALL: [Self; 4] = [
        Self::Applied,
        Self::Superseded,
        Self::AlreadyProcessed,
        Self::Refused,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Superseded => "superseded",
            Self::AlreadyProcessed => "already_processed",
            Self::Refused => "refused",
        }
    }
}

pub fn record_cms_event(outcome: CmsEventOutcome) {
    fixed().cms_events[outcome as usize].increment(1);
}

/// Counts and times one answered request under its route template (`http_layer::routes` finds
/// it; never the raw path, so the number of series stays bounded whatever clients send) and,
/// for the count, its site (a site that exists, or `unknown`: bounded by the sites created).
pub fn record_request(
    route: metrics::SharedString,
    site: metrics::SharedString,
    method: &'static str,
    status: u16,
    took: std::time::Duration,
) {
    let status = status_label(status);
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status, "site" => site)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method)
        .record(took.as_secs_f64());
}

/// The status as a label, without allocating for the statuses this service sends.
fn status_label(status: u16) -> metrics::SharedString {
    let known = match status {
        200 => "200",
        201 => "201",
        304 => "304",
        308 => "308",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        409 => "409",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        other => return other.to_string().into(),
    };
    known.into()
}

/// The method as a label, one of a fixed few.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
