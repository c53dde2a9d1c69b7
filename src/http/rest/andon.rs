//! `/api/andon/`: andon calls (API.md §Shop floor: andon). Thin: every rule is in
//! `service::andon`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::ListBody;
use crate::domain::andon::{AndonCall, AndonKind, AndonStatus};
use crate::domain::{AndonId, AssetId};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, OptionalJson, PathId, QueryMap};
use crate::http::openapi::ErrorBody;
use crate::service::andon::{AndonQuery, NewAndon, ResolveAndon};

/// Routes under `/api/andon`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(raise))
        .route("/{id}", get(read))
        .route("/{id}/acknowledge", post(acknowledge))
        .route("/{id}/resolve", post(resolve))
}

/// Parses the list's filters.
pub fn andon_query(query: &QueryMap) -> Result<AndonQuery, ApiError> {
    Ok(AndonQuery {
        asset: query.id("asset")?.map(AssetId),
        status: query.parsed(
            "status",
            AndonStatus::parse,
            &format!("one of {}", AndonStatus::choices()),
        )?,
        open: query.bool("open")?,
        level: query.parsed(
            "level",
            |raw| raw.parse::<u8>().ok().filter(|l| *l <= 2),
            "0, 1 or 2",
        )?,
        kind: query.parsed(
            "kind",
            AndonKind::parse,
            &format!("one of {}", AndonKind::choices()),
        )?,
    })
}

#[utoipa::path(
    get,
    path = "/api/andon/",
    operation_id = "andon_list",
    tag = "andon",
    summary = "Andon calls, newest first",
    params(("asset" = Option<u64>, Query, minimum = 1, description = "This asset and everything below it"), ("status" = Option<AndonStatus>, Query), ("open" = Option<bool>, Query, description = "true: calls not resolved (open or acknowledged); false: resolved calls"), ("level" = Option<u8>, Query, minimum = 0, maximum = 2), ("kind" = Option<AndonKind>, Query), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of andon calls", body = ListBody<AndonCall>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<AndonCall>>, ApiError> {
    let filter = andon_query(&query)?;
    let page = state
        .services
        .andon
        .list(&me, filter, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, "/api/andon/", &query.0)))
}

#[utoipa::path(
    post,
    path = "/api/andon/",
    operation_id = "andon_raise",
    tag = "andon",
    summary = "Raise an andon call (anyone); a safety call starts at level 1",
    request_body = NewAndon,
    responses((status = 201, description = "The new andon call", body = AndonCall), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn raise(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewAndon>,
) -> Result<(StatusCode, Json<AndonCall>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.andon.raise(&me, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/andon/{id}/",
    operation_id = "andon_read",
    tag = "andon",
    summary = "One andon call",
    params(("id" = u64, Path, minimum = 1, description = "The andon call's id")),
    responses((status = 200, description = "The andon call", body = AndonCall), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<AndonCall>, ApiError> {
    Ok(Json(state.services.andon.get(&me, AndonId(id)).await?))
}

#[utoipa::path(
    post,
    path = "/api/andon/{id}/acknowledge/",
    operation_id = "andon_acknowledge",
    tag = "andon",
    summary = "Acknowledge an open andon call (admin or staff); it stops escalating",
    params(("id" = u64, Path, minimum = 1, description = "The andon call's id")),
    responses((status = 200, description = "The acknowledged call", body = AndonCall), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "The call is not open", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<AndonCall>, ApiError> {
    Ok(Json(
        state.services.andon.acknowledge(&me, AndonId(id)).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/andon/{id}/resolve/",
    operation_id = "andon_resolve",
    tag = "andon",
    summary = "Resolve an open or acknowledged andon call (admin or staff)",
    params(("id" = u64, Path, minimum = 1, description = "The andon call's id")),
    request_body = Option<ResolveAndon>,
    responses((status = 200, description = "The resolved call", body = AndonCall), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "The call is already resolved", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn resolve(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    OptionalJson(input): OptionalJson<ResolveAndon>,
) -> Result<Json<AndonCall>, ApiError> {
    Ok(Json(
        state
            .services
            .andon
            .resolve(&me, AndonId(id), input.unwrap_or_default())
            .await?,
    ))
}
