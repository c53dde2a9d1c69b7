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
    tag = "operations",
    summary = "The process serves",
    responses((status = 200, body = HealthBody))
)]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "The database is open and writable",
    responses((status = 200, body = ReadyBody), (status = 503, body = ReadyBody))
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.services.store.check().await {
        Ok(()) => Json(json!({"status": "ready", "checks": {"database": "ok"}})).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "checks": {"database": e.to_string()},
                "error": {"code": "unavailable", "message": format!("database: {e}")}
            })),
        )
            .into_response(),
    }
}
