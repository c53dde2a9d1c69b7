//! `GET /metrics` (API.md §Operations), read with a Prometheus text-format parser.
//!
//! Counters and histograms belong to the process, and the other tests of this binary run at the
//! same time, so these tests assert that a series grew by at least what they did themselves.
//! The gauges of a server's own state (live connections, sizes, lag) are that server's alone,
//! and are asserted exactly.

use std::time::{Duration, Instant};

use prom_text_format_parser::{Sample, Scrape, ValueType};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

/// GET /metrics without credentials; asserts `200` and the text format, and parses it.
async fn scrape(app: &TestApp) -> Scrape {
    let r = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(r.status(), StatusCode::OK, "GET /metrics");
    let content_type = r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = r.text().await.expect("body");
    Scrape::parse(&text).unwrap_or_else(|e| panic!("not the Prometheus text format: {e:?}\n{text}"))
}

/// The samples of family `metric` of type `kind` whose labels include every pair of `labels`.
fn matching<'a>(
    scrape: &'a Scrape,
    metric: &str,
    kind: ValueType,
    labels: &[(&str, &str)],
) -> Vec<&'a Sample> {
    scrape
        .metrics
        .iter()
        .filter(|m| m.name == metric)
        .flat_map(|m| &m.samples)
        .filter(|s| s.value.value_type == kind)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|l| l.key == *k && l.value == *v))
        })
        .collect()
}

/// The value of a counter or gauge, summed over the matching label sets (0 when absent).
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    matching(scrape, metric, ValueType::Sample, labels)
        .iter()
        .map(|s| s.value.value.as_f64())
        .sum()
}

/// Whether family `metric` is present at all (a gauge that could be read).
fn present(scrape: &Scrape, metric: &str) -> bool {
    scrape
        .metrics
        .iter()
        .any(|m| m.name == metric && !m.samples.is_empty())
}

/// The observations a histogram holds (its `_count`), over the matching label sets.
fn observations(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    matching(scrape, metric, ValueType::Count, labels)
        .iter()
        .map(|s| s.value.value.as_f64())
        .sum()
}

/// Scrapes until `check` holds (a gauge settling), or fails after five seconds.
async fn eventually(app: &TestApp, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = scrape(app).await;
        if check(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "{what}: never true");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_never_by_raw_path() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app
        .post(
            "/api/activities/",
            Some(&admin),
            &json!({"title": "Metered"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = json_of(r).await["id"].as_u64().expect("id");
    let path = format!("/api/activities/{id}/");
    let pattern = [("method", "GET"), ("route", "/api/activities/{id}")];
    let ok = [pattern[0], pattern[1], ("status", "200")];
    let before = scrape(&app).await;
    for _ in 0..3 {
        assert_eq!(app.get(&path, &admin).await.status(), StatusCode::OK);
    }
    let missing = format!("/api/activities/{}/", id + 1_000_000);
    assert_eq!(
        app.get(&missing, &admin).await.status(),
        StatusCode::NOT_FOUND
    );
    for raw in ["/no/such/thing/4711", "/api/nothing-here/"] {
        let r = app.client.get(app.url(raw)).send().await.expect("request");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{raw}");
    }
    let page = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let after = scrape(&app).await;

    let counted = |labels: &[(&str, &str)]| {
        value(&after, "nexus_http_requests_total", labels)
            - value(&before, "nexus_http_requests_total", labels)
    };
    assert!(counted(&ok) >= 3.0, "three GETs of one activity");
    let not_found = [pattern[0], pattern[1], ("status", "404")];
    assert!(counted(&not_found) >= 1.0, "the 404 under the same pattern");
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert!(
        counted(&unmatched) >= 2.0,
        "paths that match no route share one label"
    );
    let ui = [("method", "GET"), ("route", "/login"), ("status", "200")];
    assert!(
        counted(&ui) >= 1.0,
        "web pages are labelled by their pattern too"
    );
    let timed = observations(&after, "nexus_http_request_duration_seconds", &pattern)
        - observations(&before, "nexus_http_request_duration_seconds", &pattern);
    assert!(
        timed >= 4.0,
        "each request timed under its pattern: {timed}"
    );

    // Bounded cardinality: no label holds a raw path.
    let labels = after
        .metrics
        .iter()
        .flat_map(|m| &m.samples)
        .flat_map(|s| s.labels.iter());
    for label in labels {
        if label.key == "route" {
            let route = &label.value;
            assert!(
                route == "unmatched" || route.starts_with('/'),
                "route label {route:?}"
            );
            assert!(
                !route.contains("4711") && !route.contains("nothing-here"),
                "a raw path became a label: {route}"
            );
            assert!(
                !route.contains(&id.to_string()),
                "an id in a label: {route}"
            );
        }
    }
    // Every family says what it is.
    for family in &after.metrics {
        assert!(family.help_desc.is_some(), "HELP of {}", family.name);
    }
}

#[tokio::test]
async fn metrics_count_group_commits_events_and_failed_logins() {
    let app = spawn_app_with(|c| c.auth.lockout_failures = 2).await;
    let admin = app.admin_token().await;
    let before = scrape(&app).await;
    for title in ["One", "Two"] {
        let r = app
            .post("/api/activities/", Some(&admin), &json!({"title": title}))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    for _ in 0..2 {
        let r = app
            .post(
                "/api/auth/login/",
                None,
                &json!({"username": "metered", "password": "wrong-password-1"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let after = scrape(&app).await;
    let grew = |metric: &str| value(&after, metric, &[]) - value(&before, metric, &[]);
    assert!(
        grew("nexus_events_published_total") >= 2.0,
        "two creations published"
    );
    assert!(
        grew("nexus_login_failures_total") >= 2.0,
        "two failed sign-ins"
    );
    assert!(
        grew("nexus_login_lockouts_total") >= 1.0,
        "the second locks the name"
    );
    for histogram in [
        "nexus_store_commit_batch_size",
        "nexus_store_commit_duration_seconds",
    ] {
        let commits = observations(&after, histogram, &[]) - observations(&before, histogram, &[]);
        assert!(commits >= 2.0, "{histogram}: two durable writes, {commits}");
    }
}

#[tokio::test]
async fn metrics_show_this_servers_live_connections_and_storage() {
    let app = spawn_app().await;
    // Another server in the same process: its connections are not this one's.
    let other = spawn_app().await;
    let other_admin = other.admin_token().await;
    let admin = app.admin_token().await;
    let live = |transport: &'static str| {
        move |s: &Scrape| value(s, "nexus_live_connections", &[("transport", transport)])
    };
    let idle = scrape(&app).await;
    assert_eq!(live("websocket")(&idle), 0.0);
    assert_eq!(live("sse")(&idle), 0.0);

    let host = app.base.trim_start_matches("http://");
    let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{host}/ws/?token={admin}"))
        .await
        .expect("WebSocket");
    let other_host = other.base.trim_start_matches("http://");
    let (other_socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{other_host}/ws/?token={other_admin}"))
            .await
            .expect("WebSocket to the other server");
    let stream = app.get("/api/events/", &admin).await;
    assert_eq!(stream.status(), StatusCode::OK);
    let open = eventually(&app, "one socket and one stream", |s| {
        live("websocket")(s) == 1.0 && live("sse")(s) == 1.0
    })
    .await;
    assert!(value(&open, "nexus_database_size_bytes", &[]) > 0.0);
    assert!(value(&open, "nexus_search_index_size_bytes", &[]) > 0.0);
    assert!(present(&open, "nexus_search_index_lag_entries"));

    // A socket's end is seen at once (an SSE stream's only at its next write).
    drop(socket);
    eventually(&app, "the socket closed", |s| live("websocket")(s) == 0.0).await;
    drop(stream);
    drop(other_socket);

    // Writes reach the search index within a second: the lag comes back to zero.
    for title in ["Lagging", "Behind"] {
        let r = app
            .post("/api/activities/", Some(&admin), &json!({"title": title}))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    eventually(&app, "the index caught up", |s| {
        present(s, "nexus_search_index_lag_entries")
            && value(s, "nexus_search_index_lag_entries", &[]) == 0.0
    })
    .await;
}

/// The lag is the change-log entries the index does not hold: a data directory whose index is
/// gone reports every entry until the index is rebuilt.
#[tokio::test]
async fn search_lag_counts_the_entries_the_index_lacks() {
    let mut app = spawn_app().await;
    let admin = app.admin_token().await;
    for title in ["Indexed", "Twice"] {
        let r = app
            .post("/api/activities/", Some(&admin), &json!({"title": title}))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    app.stop().await.expect("clean stop");
    std::fs::remove_dir_all(app.data_dir.path().join(nexus::search::INDEX_DIR))
        .expect("remove the index");
    let opened = nexus::App::open(&app.config).await.expect("open");
    let behind = opened.services.health.storage().await;
    let lag = behind.search_index_lag.expect("lag known");
    assert!(lag >= 2, "both creations are missing from the index: {lag}");
    let database = behind.database_bytes.expect("database size");
    assert!(database > 0);
    opened.rebuild_search().await.expect("rebuild");
    let rebuilt = opened.services.health.storage().await;
    assert_eq!(rebuilt.search_index_lag, Some(0));
    assert!(rebuilt.search_index_bytes.expect("index size") > 0);
    opened.close().await;
}

#[tokio::test]
async fn metrics_show_the_newest_backup_time() {
    let app = spawn_app().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    nexus::metrics::record_backup(now);
    nexus::metrics::record_backup(now - 3600);
    let scraped = scrape(&app).await;
    let shown = value(&scraped, "nexus_last_backup_timestamp_seconds", &[]);
    assert!(
        shown >= now as f64,
        "an older backup does not hide a newer one: {shown}"
    );
}

#[tokio::test]
async fn metrics_turned_off_are_not_served() {
    let app = spawn_app_with(|c| c.metrics.enabled = false).await;
    let r = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// The identifiers `nexus_…` in `text`.
fn series_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("nexus_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.push(name);
    }
    names
}

#[tokio::test]
async fn the_grafana_dashboard_charts_every_series_and_only_those() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app
        .post(
            "/api/activities/",
            Some(&admin),
            &json!({"title": "Charted"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging/grafana/nexus-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("dashboard")).expect("JSON");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    assert!(!exprs.is_empty(), "the dashboard queries something");
    let charted: Vec<String> = exprs.iter().flat_map(|e| series_names(e)).collect();
    for name in &charted {
        let exposed = text
            .lines()
            .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")));
        assert!(exposed, "the dashboard charts {name}, which /metrics lacks");
    }
    let families: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .filter(|name| name.starts_with("nexus_"))
        .map(str::to_string)
        .collect();
    for family in families {
        assert!(
            charted.iter().any(|c| c.starts_with(&family)),
            "{family} is on no panel of the dashboard"
        );
    }
}
