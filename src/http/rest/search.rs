//! `/api/search/`: one box that finds activities, projects, updates and chat.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{AuthUser, QueryMap};
use crate::http::openapi::ErrorBody;
use crate::search::Hit;

/// Routes under `/api/search`.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(search))
}

/// The search answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchBody {
    /// All matches the caller may see.
    count: usize,
    /// Milliseconds the search took.
    took_ms: u64,
    /// This page, best first.
    results: Vec<Hit>,
}

#[utoipa::path(
    get,
    path = "/api/search/",
    operation_id = "search_search",
    tag = "search",
    summary = "Search activities, projects, updates and chat",
    params(
        ("q" = String, Query, min_length = 1, pattern = r"\S", description = "Words (all must match), \"phrases\", title:/status:/type:/priority:, AND/OR/NOT, prefix*"),
        ("kind" = Option<String>, Query, pattern = r"^\s*(activity|project|update|chat|asset|downtime|handover|andon)?\s*(,\s*(activity|project|update|chat|asset|downtime|handover|andon)?\s*)*$", description = "Comma-separated kinds: activity, project, update, chat, asset, downtime, handover, andon"),
        ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")
    ),
    responses(
        (status = 200, description = "The matches you may see, best first", body = SearchBody),
        (status = 400, description = "The query does not parse; the message says where", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed"))),
        (status = 503, description = "The index is being rebuilt", body = ErrorBody)
    ),
    security(("bearer" = []))
)]
pub async fn search(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<SearchBody>, ApiError> {
    let q = query.get("q").unwrap_or("");
    let kinds: Vec<String> = query
        .get("kind")
        .map(|k| {
            k.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let answer = state
        .services
        .search
        .search(&me, q, &kinds, query.page()?)
        .await?;
    Ok(Json(SearchBody {
        count: answer.hits.count,
        took_ms: answer.took_ms,
        results: answer.hits.results,
    }))
}
