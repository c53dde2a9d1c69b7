//! `GET /metrics` (Prometheus text format) and the middleware that counts every request by its
//! matched route pattern.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::live_limit::Transport;

/// The metrics route; public, like `/healthz` (see `metrics.enabled` in config/nexus.toml).
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    description = "Request counts and latencies by route pattern, live connections, events published, group-commit batch sizes and latency, database and search-index size, search lag, sign-in failures and lockouts, and the last backup's time, in the Prometheus text format. Absent (`404`) when `metrics.enabled` is false.",
    responses((status = 200, description = "The metrics, in the Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let storage = state.services.health.storage().await;
    let gauges = crate::metrics::ServerGauges {
        websockets: state.live.count(Transport::WebSocket),
        sse: state.live.count(Transport::Sse),
        database_bytes: storage.database_bytes,
        search_index_bytes: storage.search_index_bytes,
        search_index_lag: storage.search_index_lag,
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(&gauges),
    )
        .into_response()
}

/// Counts each request and times it to its response head, labelled with the route pattern it
/// matched. Routers reached as a fallback service (the web UI) match after this runs, so their
/// pattern comes back on the response (`expose_route`).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = crate::metrics::method_label(request.method());
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = matched.or_else(|| response.extensions().get::<MatchedPath>().cloned());
    crate::metrics::record_request(
        method,
        route.as_ref().map(MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Hands the route pattern a nested router matched back to `track`, on the response.
pub async fn expose_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}
