//! `/api/audit/`: the audit log (admin only).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::ListBody;
use crate::http::openapi::ErrorBody;

use crate::domain::UserId;
use crate::domain::audit::AuditEntry;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{AuthUser, QueryMap};
use crate::service::audit::AuditQuery;

/// Routes under `/api/audit`.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(list))
}

#[utoipa::path(
    get,
    path = "/api/audit/",
    operation_id = "audit_list",
    tag = "audit",
    summary = "The audit log (admin)",
    params(("action" = Option<String>, Query), ("actor" = Option<u64>, Query, minimum = 1), ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339 time, or a YYYY-MM-DD date meaning its midnight UTC; inclusive"), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of audit entries", body = ListBody<AuditEntry>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<AuditEntry>>, ApiError> {
    let filter = AuditQuery {
        action: query.get("action").map(str::to_string),
        actor: query.id("actor")?.map(UserId),
        since: query.time("since")?,
    };
    let page = state
        .services
        .audit
        .list(&me, filter, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, "/api/audit/", &query.0)))
}
