//! `/healthz` (the process serves) and `/readyz` (its storage works).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;
use super::openapi::{HealthBody, ReadyBody};

/// Health routes; public.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    summary = "The process serves",
    responses((status = 200, description = "The process serves", body = HealthBody))
)]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    summary = "The database is open and writable",
    responses((status = 200, description = "The database and the search index are open and writable", body = ReadyBody), (status = 503, description = "A part fails; `error` names it", body = ReadyBody))
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let results = state.services.health.checks().await;
    let checks: serde_json::Map<String, serde_json::Value> = results
        .iter()
        .map(|(name, r)| {
            let shown = match r {
                Ok(()) => "ok".to_string(),
                Err(e) => e.clone(),
            };
            (name.to_string(), json!(shown))
        })
        .collect();
    let failing: Vec<String> = results
        .iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    if failing.is_empty() {
        Json(json!({"status": "ready", "checks": checks})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "checks": checks,
                "error": {"code": "unavailable", "message": failing.join("; ")}
            })),
        )
            .into_response()
    }
}
