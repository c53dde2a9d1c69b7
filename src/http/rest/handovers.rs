//! `/api/handovers/`: shift handovers (API.md §Shop floor: andon, shift handover, …). Thin:
//! every rule is in `service::handovers`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::ListBody;
use crate::domain::handover::{Handover, HandoverStatus};
use crate::domain::{AssetId, HandoverId, UserId};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, OptionalJson, PathId, QueryMap};
use crate::http::openapi::ErrorBody;
use crate::service::handovers::{AcknowledgeHandover, HandoverPatch, NewHandover};
use crate::store::HandoverFilter;

/// Routes under `/api/handovers`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/{id}", get(read).patch(update).delete(remove))
        .route("/{id}/submit", post(submit))
        .route("/{id}/acknowledge", post(acknowledge))
}

/// Parses the list's filters: the asset apart, since the service widens it to its subtree.
pub fn filter_of(query: &QueryMap) -> Result<(Option<AssetId>, HandoverFilter), ApiError> {
    Ok((
        query.id("asset")?.map(AssetId),
        HandoverFilter {
            assets: None,
            status: query.parsed(
                "status",
                HandoverStatus::parse,
                &format!("one of {}", HandoverStatus::choices()),
            )?,
            written_by: query.id("written_by")?.map(UserId),
            from: query.time("from")?,
            to: query.time("to")?,
        },
    ))
}

#[utoipa::path(
    get,
    path = "/api/handovers/",
    operation_id = "handovers_list",
    tag = "handovers",
    summary = "Shift handovers, newest first",
    params(("asset" = Option<u64>, Query, minimum = 1, description = "This asset and everything below it"), ("status" = Option<HandoverStatus>, Query), ("written_by" = Option<u64>, Query, minimum = 1, description = "Only those this user wrote"), ("from" = Option<String>, Query, format = DateTime, description = "Created at or after this time (RFC 3339 or a date)"), ("to" = Option<String>, Query, format = DateTime, description = "Created before this time (RFC 3339 or a date)"), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of handovers", body = ListBody<Handover>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<Handover>>, ApiError> {
    let (asset, filter) = filter_of(&query)?;
    let page = state
        .services
        .handovers
        .list(&me, asset, filter, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, "/api/handovers/", &query.0)))
}

#[utoipa::path(
    post,
    path = "/api/handovers/",
    operation_id = "handovers_create",
    tag = "handovers",
    summary = "Write a draft handover (anyone)",
    request_body = NewHandover,
    responses((status = 201, description = "The new draft", body = Handover), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewHandover>,
) -> Result<(StatusCode, Json<Handover>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.handovers.create(&me, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/handovers/{id}/",
    operation_id = "handovers_read",
    tag = "handovers",
    summary = "One handover",
    params(("id" = u64, Path, minimum = 1, description = "The handover's id")),
    responses((status = 200, description = "The handover", body = Handover), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Handover>, ApiError> {
    Ok(Json(
        state.services.handovers.get(&me, HandoverId(id)).await?,
    ))
}

#[utoipa::path(
    patch,
    path = "/api/handovers/{id}/",
    operation_id = "handovers_update",
    tag = "handovers",
    summary = "Edit a draft (its writer); a submitted handover is 409",
    params(("id" = u64, Path, minimum = 1, description = "The handover's id")),
    request_body = HandoverPatch,
    responses((status = 200, description = "The changed draft", body = Handover), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Not a draft, or a stale version", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<HandoverPatch>,
) -> Result<Json<Handover>, ApiError> {
    Ok(Json(
        state
            .services
            .handovers
            .update(&me, HandoverId(id), patch)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/handovers/{id}/",
    operation_id = "handovers_remove",
    tag = "handovers",
    summary = "Delete a draft (its writer, or an admin)",
    params(("id" = u64, Path, minimum = 1, description = "The handover's id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Not a draft", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.services.handovers.delete(&me, HandoverId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/handovers/{id}/submit/",
    operation_id = "handovers_submit",
    tag = "handovers",
    summary = "Submit a draft (its writer)",
    params(("id" = u64, Path, minimum = 1, description = "The handover's id")),
    responses((status = 200, description = "The submitted handover", body = Handover), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Not a draft", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn submit(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Handover>, ApiError> {
    Ok(Json(
        state.services.handovers.submit(&me, HandoverId(id)).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/handovers/{id}/acknowledge/",
    operation_id = "handovers_acknowledge",
    tag = "handovers",
    summary = "Acknowledge a submitted handover (anyone but its writer)",
    params(("id" = u64, Path, minimum = 1, description = "The handover's id")),
    request_body = Option<AcknowledgeHandover>,
    responses((status = 200, description = "The acknowledged handover", body = Handover), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "The writer's own handover", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Not submitted", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    OptionalJson(input): OptionalJson<AcknowledgeHandover>,
) -> Result<Json<Handover>, ApiError> {
    Ok(Json(
        state
            .services
            .handovers
            .acknowledge(&me, HandoverId(id), input.unwrap_or_default())
            .await?,
    ))
}
