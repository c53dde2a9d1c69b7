//! `/api/audit/`: the audit log (admin only).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::ListBody;
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

async fn list(
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
