//! Prometheus metrics for `GET /metrics`.
//!
//! Two kinds of series, kept apart on purpose:
//!
//! - **Process counters and histograms** (requests, events published, group commits, logins)
//!   go through the `metrics` facade into one Prometheus recorder per process, installed by
//!   the first server that starts. Code deep below the adapters (the writer thread, the auth
//!   service) records them without being handed anything. Several servers in one process (the
//!   API tests) share them, as counters summed over the process.
//! - **Gauges of one server's state** (its open live connections, its database and index
//!   sizes, its search lag) are read from that server when `/metrics` is scraped and written
//!   straight into the answer, so two servers in one process never report each other's.
//!
//! Every label takes a bounded set of values: the route is the matched route pattern (or
//! `unmatched`), never the raw path.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ::metrics::{SharedString, Unit, counter, describe_counter, describe_histogram, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered: `{method, route, status}`.
pub const HTTP_REQUESTS: &str = "nexus_http_requests_total";
/// Time to the response's head, in seconds: `{method, route}`.
pub const HTTP_DURATION: &str = "nexus_http_request_duration_seconds";
/// Change-log entries published on the event bus after their commit.
pub const EVENTS_PUBLISHED: &str = "nexus_events_published_total";
/// Write requests committed together in one transaction (group commit).
pub const COMMIT_BATCH_SIZE: &str = "nexus_store_commit_batch_size";
/// Time from a batch's first write to its durable commit, in seconds.
pub const COMMIT_DURATION: &str = "nexus_store_commit_duration_seconds";
/// Sign-ins refused for a wrong username or password (as audited: `login.failure`).
pub const LOGIN_FAILURES: &str = "nexus_login_failures_total";
/// Usernames locked after repeated failures (as audited: `login.lockout`).
pub const LOGIN_LOCKOUTS: &str = "nexus_login_lockouts_total";
/// Open live connections of this server: `{transport}` (`websocket`, `sse`).
pub const LIVE_CONNECTIONS: &str = "nexus_live_connections";
/// Size of this server's database file, in bytes.
pub const DATABASE_SIZE: &str = "nexus_database_size_bytes";
/// Size of this server's search index on disk, in bytes.
pub const SEARCH_INDEX_SIZE: &str = "nexus_search_index_size_bytes";
/// Change-log entries committed but not yet in this server's search index.
pub const SEARCH_INDEX_LAG: &str = "nexus_search_index_lag_entries";
/// Unix time of the newest successful backup; 0 until one is made.
pub const LAST_BACKUP: &str = "nexus_last_backup_timestamp_seconds";

/// The `route` label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Request durations: 0.5 ms to 10 s.
const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Commit latencies: an fsync takes from a fraction of a millisecond to seconds on a bad disk.
const COMMIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Batch sizes, up to the writer's largest batch (256).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// How often recorded histogram samples are folded into their buckets when nobody scrapes, so
/// that an unscraped server's memory stays flat.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static LAST_BACKUP_SECS: AtomicU64 = AtomicU64::new(0);

/// Installs the process's recorder, once; later calls return the same handle. `None` when
/// another recorder was installed before (Nexus embedded in a program that has its own):
/// `/metrics` then shows only the per-server gauges.
pub fn install() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), DURATION_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(COMMIT_DURATION.into()), COMMIT_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(COMMIT_BATCH_SIZE.into()), BATCH_BUCKETS)
                })
                .and_then(PrometheusBuilder::install_recorder);
            let handle = match built {
                Ok(handle) => handle,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics shows this server's gauges only");
                    return None;
                }
            };
            describe();
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("nexus-metrics".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "metrics upkeep thread not started; histograms fold only when scraped");
            }
            Some(handle)
        })
        .as_ref()
}

/// Help texts, and the unlabelled counters at zero so they are scraped before they first move.
fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route pattern and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from a request to its response head, by method and route pattern"
    );
    describe_counter!(
        EVENTS_PUBLISHED,
        "Change-log entries published to live subscribers"
    );
    describe_histogram!(
        COMMIT_BATCH_SIZE,
        Unit::Count,
        "Write requests committed together in one transaction and one fsync"
    );
    describe_histogram!(
        COMMIT_DURATION,
        Unit::Seconds,
        "Time from a write batch's start to its durable commit"
    );
    describe_counter!(
        LOGIN_FAILURES,
        "Sign-ins refused for a wrong username or password"
    );
    describe_counter!(
        LOGIN_LOCKOUTS,
        "Usernames locked after repeated failed sign-ins"
    );
    for name in [EVENTS_PUBLISHED, LOGIN_FAILURES, LOGIN_LOCKOUTS] {
        counter!(name).increment(0);
    }
}

/// The `method` label: the standard methods by name, anything else as `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Counts one answered request and its duration; `route` is the matched pattern, if any.
pub fn record_request(method: &'static str, route: Option<&str>, status: u16, elapsed: Duration) {
    let route = match route {
        Some(route) => SharedString::from(route.to_owned()),
        None => SharedString::const_str(UNMATCHED_ROUTE),
    };
    counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(elapsed.as_secs_f64());
}

/// Records one durable group commit of `requests` writes that took `elapsed`.
pub fn record_commit(requests: usize, elapsed: Duration) {
    histogram!(COMMIT_BATCH_SIZE).record(requests as f64);
    histogram!(COMMIT_DURATION).record(elapsed.as_secs_f64());
}

/// Counts change-log entries published on the bus.
pub fn record_published(entries: usize) {
    counter!(EVENTS_PUBLISHED).increment(entries as u64);
}

/// Counts a sign-in refused for its credentials.
pub fn record_login_failure() {
    counter!(LOGIN_FAILURES).increment(1);
}

/// Counts a username locked after repeated failures.
pub fn record_lockout() {
    counter!(LOGIN_LOCKOUTS).increment(1);
}

/// Records a successful backup finished at `unix_secs` (seconds since 1970). The gauge keeps
/// the newest one recorded in this process.
pub fn record_backup(unix_secs: u64) {
    LAST_BACKUP_SECS.fetch_max(unix_secs, Ordering::Relaxed);
}

/// One server's state at the moment of a scrape.
#[derive(Clone, Debug, Default)]
pub struct ServerGauges {
    /// Open WebSocket connections (GraphQL's included).
    pub websockets: usize,
    /// Open SSE streams.
    pub sse: usize,
    /// The database file's size, if it could be read.
    pub database_bytes: Option<u64>,
    /// The search index's size on disk, if it could be read.
    pub search_index_bytes: Option<u64>,
    /// Committed change-log entries the index does not hold yet, if known.
    pub search_index_lag: Option<u64>,
}

/// The whole `/metrics` answer: the process's series, then `server`'s gauges.
pub fn render(server: &ServerGauges) -> String {
    let mut out = install().map(PrometheusHandle::render).unwrap_or_default();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    gauge_head(
        &mut out,
        LIVE_CONNECTIONS,
        "Open live connections (WebSocket and SSE) of this server",
    );
    let _ = writeln!(
        out,
        "{LIVE_CONNECTIONS}{{transport=\"websocket\"}} {}",
        server.websockets
    );
    let _ = writeln!(
        out,
        "{LIVE_CONNECTIONS}{{transport=\"sse\"}} {}",
        server.sse
    );
    let optional = [
        (
            DATABASE_SIZE,
            "Size of the database file, in bytes",
            server.database_bytes,
        ),
        (
            SEARCH_INDEX_SIZE,
            "Size of the search index on disk, in bytes",
            server.search_index_bytes,
        ),
        (
            SEARCH_INDEX_LAG,
            "Committed change-log entries not yet in the search index",
            server.search_index_lag,
        ),
    ];
    for (name, help, value) in optional {
        // Absent rather than a made-up zero when it could not be read.
        if let Some(value) = value {
            gauge_head(&mut out, name, help);
            let _ = writeln!(out, "{name} {value}");
        }
    }
    gauge_head(
        &mut out,
        LAST_BACKUP,
        "Unix time of the newest successful backup; 0 until one is made",
    );
    let _ = writeln!(
        out,
        "{LAST_BACKUP} {}",
        LAST_BACKUP_SECS.load(Ordering::Relaxed)
    );
    out
}

fn gauge_head(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        let custom = axum::http::Method::from_bytes(b"PROPFIND").expect("a method");
        assert_eq!(method_label(&custom), "other");
        assert_eq!(method_label(&axum::http::Method::PATCH), "PATCH");
    }

    #[test]
    fn a_gauge_that_could_not_be_read_is_left_out() {
        let text = render(&ServerGauges {
            websockets: 2,
            database_bytes: Some(4096),
            ..ServerGauges::default()
        });
        assert!(text.contains("nexus_live_connections{transport=\"websocket\"} 2\n"));
        assert!(text.contains("nexus_database_size_bytes 4096\n"));
        assert!(!text.contains("nexus_search_index_lag_entries"), "{text}");
    }
}
