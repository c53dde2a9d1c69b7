//! `/api/assets/`, `/api/shifts/`, `/api/downtime/`, `/api/production/` and `/api/oee/`: the
//! shop floor (API.md §Shop floor). Thin: every rule is in `service::shopfloor`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::ListBody;
use crate::domain::oee::Group;
use crate::domain::shopfloor::{
    Asset, AssetKind, DowntimeEvent, DowntimeReason, ProductionCount, Shift,
};
use crate::domain::{AssetId, DowntimeId, ProductionId, ReasonId, ShiftId};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, OptionalJson, PathId, QueryMap};
use crate::http::openapi::ErrorBody;
use crate::service::pagination::Page;
use crate::service::shopfloor::{
    AssetPatch, CurrentShift, DowntimePatch, EndDowntime, NewAsset, NewDowntime, NewProduction,
    OeeQuery, OeeRow, ParetoRow, ProductionPatch, ReasonInput, ShiftInput,
};
use crate::store::{AssetFilter, DowntimeFilter, ProductionFilter};

/// Routes under `/api/assets`.
pub fn assets_router() -> Router<AppState> {
    Router::new()
        .route("/", get(assets_list).post(assets_create))
        .route(
            "/{id}",
            get(assets_read).patch(assets_update).delete(assets_remove),
        )
        .route("/{id}/tree", get(assets_tree))
}

/// Routes under `/api/shifts`.
pub fn shifts_router() -> Router<AppState> {
    Router::new()
        .route("/", get(shifts_list).post(shifts_create))
        .route("/current", get(shifts_current))
        .route(
            "/{id}",
            get(shifts_read).patch(shifts_update).delete(shifts_remove),
        )
}

/// Routes under `/api/downtime`.
pub fn downtime_router() -> Router<AppState> {
    Router::new()
        .route("/", get(downtime_list).post(downtime_create))
        .route("/export.csv", get(downtime_export))
        .route("/pareto", get(downtime_pareto))
        .route("/reasons", get(reasons_list).post(reasons_create))
        .route(
            "/reasons/{id}",
            get(reasons_read)
                .patch(reasons_update)
                .delete(reasons_remove),
        )
        .route(
            "/{id}",
            get(downtime_read)
                .patch(downtime_update)
                .delete(downtime_remove),
        )
        .route("/{id}/end", post(downtime_end))
}

/// Routes under `/api/production`.
pub fn production_router() -> Router<AppState> {
    Router::new()
        .route("/", get(production_list).post(production_create))
        .route(
            "/{id}",
            get(production_read)
                .patch(production_update)
                .delete(production_remove),
        )
}

/// Routes under `/api/oee`.
pub fn oee_router() -> Router<AppState> {
    Router::new()
        .route("/", get(oee))
        .route("/export.csv", get(oee_export))
}

#[utoipa::path(
    get,
    path = "/api/assets/",
    operation_id = "assets_list",
    tag = "assets",
    summary = "Assets",
    params(("kind" = Option<AssetKind>, Query), ("parent" = Option<u64>, Query, minimum = 1, description = "Only direct children of this asset"), ("q" = Option<String>, Query, description = "Part of the code or name"), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of assets", body = ListBody<Asset>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn assets_list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<Asset>>, ApiError> {
    let filter = AssetFilter {
        kind: query.parsed(
            "kind",
            AssetKind::parse,
            &format!("one of {}", AssetKind::choices()),
        )?,
        parent: query.id("parent")?.map(AssetId),
        q: query.get("q").map(str::to_string),
    };
    let page = state
        .services
        .shopfloor
        .assets(&me, filter, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, "/api/assets/", &query.0)))
}

#[utoipa::path(
    post,
    path = "/api/assets/",
    operation_id = "assets_create",
    tag = "assets",
    summary = "Create a asset (admin or staff)",
    request_body = NewAsset,
    responses((status = 201, description = "The new asset", body = Asset), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn assets_create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewAsset>,
) -> Result<(StatusCode, Json<Asset>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.shopfloor.create_asset(&me, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/assets/{id}/",
    operation_id = "assets_read",
    tag = "assets",
    summary = "One asset",
    params(("id" = u64, Path, minimum = 1, description = "The asset's id")),
    responses((status = 200, description = "The asset", body = Asset), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn assets_read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Asset>, ApiError> {
    Ok(Json(
        state.services.shopfloor.asset(&me, AssetId(id)).await?,
    ))
}

#[utoipa::path(
    patch,
    path = "/api/assets/{id}/",
    operation_id = "assets_update",
    tag = "assets",
    summary = "Change a asset (admin or staff)",
    params(("id" = u64, Path, minimum = 1, description = "The asset's id")),
    request_body = AssetPatch,
    responses((status = 200, description = "The changed asset", body = Asset), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn assets_update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<AssetPatch>,
) -> Result<Json<Asset>, ApiError> {
    Ok(Json(
        state
            .services
            .shopfloor
            .update_asset(&me, AssetId(id), patch)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/assets/{id}/",
    operation_id = "assets_remove",
    tag = "assets",
    summary = "Delete a asset (admin or staff)",
    params(("id" = u64, Path, minimum = 1, description = "The asset's id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn assets_remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .shopfloor
        .delete_asset(&me, AssetId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/assets/{id}/tree/",
    operation_id = "assets_tree",
    tag = "assets",
    summary = "The asset and everything below it",
    params(("id" = u64, Path, minimum = 1, description = "The asset's id")),
    responses((status = 200, description = "The subtree, parents before children", body = Vec<Asset>), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn assets_tree(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Vec<Asset>>, ApiError> {
    Ok(Json(
        state.services.shopfloor.subtree(&me, AssetId(id)).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/shifts/",
    operation_id = "shifts_list",
    tag = "shifts",
    summary = "Shifts",
    params(("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of shifts", body = ListBody<Shift>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn shifts_list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<Shift>>, ApiError> {
    let request = query.page()?;
    let all = state.services.shopfloor.shifts(&me).await?;
    let count = all.len();
    let results = all
        .into_iter()
        .skip(request.offset())
        .take(request.page_size)
        .collect();
    let page = Page {
        count,
        results,
        request,
    };
    Ok(Json(ListBody::new(page, "/api/shifts/", &query.0)))
}

#[utoipa::path(
    post,
    path = "/api/shifts/",
    operation_id = "shifts_create",
    tag = "shifts",
    summary = "Create a shift (admin)",
    request_body = ShiftInput,
    responses((status = 201, description = "The new shift", body = Shift), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn shifts_create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<ShiftInput>,
) -> Result<(StatusCode, Json<Shift>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.shopfloor.create_shift(&me, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/shifts/{id}/",
    operation_id = "shifts_read",
    tag = "shifts",
    summary = "One shift",
    params(("id" = u64, Path, minimum = 1, description = "The shift's id")),
    responses((status = 200, description = "The shift", body = Shift), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn shifts_read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Shift>, ApiError> {
    Ok(Json(
        state.services.shopfloor.shift(&me, ShiftId(id)).await?,
    ))
}

#[utoipa::path(
    patch,
    path = "/api/shifts/{id}/",
    operation_id = "shifts_update",
    tag = "shifts",
    summary = "Change a shift (admin)",
    params(("id" = u64, Path, minimum = 1, description = "The shift's id")),
    request_body = ShiftInput,
    responses((status = 200, description = "The changed shift", body = Shift), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn shifts_update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<ShiftInput>,
) -> Result<Json<Shift>, ApiError> {
    Ok(Json(
        state
            .services
            .shopfloor
            .update_shift(&me, ShiftId(id), patch)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/shifts/{id}/",
    operation_id = "shifts_remove",
    tag = "shifts",
    summary = "Delete a shift (admin)",
    params(("id" = u64, Path, minimum = 1, description = "The shift's id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn shifts_remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .shopfloor
        .delete_shift(&me, ShiftId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/shifts/current/",
    operation_id = "shifts_current",
    tag = "shifts",
    summary = "The shift now, with its UTC start and end",
    responses((status = 200, description = "The current shift", body = CurrentShift), (status = 404, description = "No shift is on now", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn shifts_current(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> Result<Json<CurrentShift>, ApiError> {
    let now = crate::domain::time::now();
    match state.services.shopfloor.shift_at(&me, now).await? {
        Some(current) => Ok(Json(current)),
        None => Err(crate::domain::DomainError::NotFound("no shift is on now".into()).into()),
    }
}

#[utoipa::path(
    get,
    path = "/api/downtime/reasons/",
    operation_id = "reasons_list",
    tag = "reasons",
    summary = "Downtime reasons",
    params(("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of downtime reasons", body = ListBody<DowntimeReason>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn reasons_list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<DowntimeReason>>, ApiError> {
    let page = state.services.shopfloor.reasons(&me, query.page()?).await?;
    Ok(Json(ListBody::new(
        page,
        "/api/downtime/reasons/",
        &query.0,
    )))
}

#[utoipa::path(
    post,
    path = "/api/downtime/reasons/",
    operation_id = "reasons_create",
    tag = "reasons",
    summary = "Create a downtime reason (admin or staff)",
    request_body = ReasonInput,
    responses((status = 201, description = "The new downtime reason", body = DowntimeReason), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn reasons_create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<ReasonInput>,
) -> Result<(StatusCode, Json<DowntimeReason>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.shopfloor.create_reason(&me, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/downtime/reasons/{id}/",
    operation_id = "reasons_read",
    tag = "reasons",
    summary = "One downtime reason",
    params(("id" = u64, Path, minimum = 1, description = "The downtime reason's id")),
    responses((status = 200, description = "The downtime reason", body = DowntimeReason), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn reasons_read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<DowntimeReason>, ApiError> {
    Ok(Json(
        state.services.shopfloor.reason(&me, ReasonId(id)).await?,
    ))
}

#[utoipa::path(
    patch,
    path = "/api/downtime/reasons/{id}/",
    operation_id = "reasons_update",
    tag = "reasons",
    summary = "Change a downtime reason (admin or staff)",
    params(("id" = u64, Path, minimum = 1, description = "The downtime reason's id")),
    request_body = ReasonInput,
    responses((status = 200, description = "The changed downtime reason", body = DowntimeReason), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn reasons_update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<ReasonInput>,
) -> Result<Json<DowntimeReason>, ApiError> {
    Ok(Json(
        state
            .services
            .shopfloor
            .update_reason(&me, ReasonId(id), patch)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/downtime/reasons/{id}/",
    operation_id = "reasons_remove",
    tag = "reasons",
    summary = "Delete a downtime reason (admin or staff)",
    params(("id" = u64, Path, minimum = 1, description = "The downtime reason's id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn reasons_remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .shopfloor
        .delete_reason(&me, ReasonId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/downtime/",
    operation_id = "downtime_list",
    tag = "downtime",
    summary = "Downtime events",
    params(("asset" = Option<u64>, Query, minimum = 1, description = "This asset and everything below it"), ("reason" = Option<u64>, Query, minimum = 1), ("open" = Option<bool>, Query), ("from" = Option<String>, Query, format = DateTime, description = "Events still going at or after this time (RFC 3339 or a date)"), ("to" = Option<String>, Query, format = DateTime, description = "Events started before this time (RFC 3339 or a date)"), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of downtime events", body = ListBody<DowntimeEvent>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn downtime_list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<DowntimeEvent>>, ApiError> {
    let (asset, filter) = downtime_filter(&query)?;
    let page = state
        .services
        .shopfloor
        .downtimes(&me, asset, filter, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, "/api/downtime/", &query.0)))
}

#[utoipa::path(
    post,
    path = "/api/downtime/",
    operation_id = "downtime_create",
    tag = "downtime",
    summary = "Create a downtime event (anyone)",
    request_body = NewDowntime,
    responses((status = 201, description = "The new downtime event", body = DowntimeEvent), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn downtime_create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewDowntime>,
) -> Result<(StatusCode, Json<DowntimeEvent>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.shopfloor.report_downtime(&me, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/downtime/{id}/",
    operation_id = "downtime_read",
    tag = "downtime",
    summary = "One downtime event",
    params(("id" = u64, Path, minimum = 1, description = "The downtime event's id")),
    responses((status = 200, description = "The downtime event", body = DowntimeEvent), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn downtime_read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<DowntimeEvent>, ApiError> {
    Ok(Json(
        state
            .services
            .shopfloor
            .downtime(&me, DowntimeId(id))
            .await?,
    ))
}

#[utoipa::path(
    patch,
    path = "/api/downtime/{id}/",
    operation_id = "downtime_update",
    tag = "downtime",
    summary = "Change a downtime event (admin or staff)",
    params(("id" = u64, Path, minimum = 1, description = "The downtime event's id")),
    request_body = DowntimePatch,
    responses((status = 200, description = "The changed downtime event", body = DowntimeEvent), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn downtime_update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<DowntimePatch>,
) -> Result<Json<DowntimeEvent>, ApiError> {
    Ok(Json(
        state
            .services
            .shopfloor
            .update_downtime(&me, DowntimeId(id), patch)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/downtime/{id}/",
    operation_id = "downtime_remove",
    tag = "downtime",
    summary = "Delete a downtime event (admin or staff)",
    params(("id" = u64, Path, minimum = 1, description = "The downtime event's id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn downtime_remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .shopfloor
        .delete_downtime(&me, DowntimeId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/downtime/{id}/end/",
    operation_id = "downtime_end",
    tag = "downtime",
    summary = "End an open downtime event (anyone)",
    params(("id" = u64, Path, minimum = 1, description = "The downtime event's id")),
    request_body = Option<EndDowntime>,
    responses((status = 200, description = "The ended event", body = DowntimeEvent), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn downtime_end(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    OptionalJson(input): OptionalJson<EndDowntime>,
) -> Result<Json<DowntimeEvent>, ApiError> {
    Ok(Json(
        state
            .services
            .shopfloor
            .end_downtime(&me, DowntimeId(id), input.unwrap_or_default())
            .await?,
    ))
}

/// Parses the downtime list's filters.
fn downtime_filter(query: &QueryMap) -> Result<(Option<AssetId>, DowntimeFilter), ApiError> {
    Ok((
        query.id("asset")?.map(AssetId),
        DowntimeFilter {
            assets: None,
            reason: query.id("reason")?.map(ReasonId),
            open: query.bool("open")?,
            from: query.time("from")?,
            to: query.time("to")?,
        },
    ))
}

#[utoipa::path(
    get,
    path = "/api/downtime/pareto/",
    operation_id = "downtime_pareto",
    tag = "downtime",
    summary = "Unplanned downtime by reason, the largest loss first",
    params(("asset" = u64, Query, minimum = 1, description = "The asset; one with children sums them"), ("from" = String, Query, format = DateTime, description = "Window start (RFC 3339 or a date)"), ("to" = String, Query, format = DateTime, description = "Window end, exclusive (RFC 3339 or a date)")),
    responses((status = 200, description = "Reasons, largest loss first", body = Vec<ParetoRow>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn downtime_pareto(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<Vec<ParetoRow>>, ApiError> {
    let (asset, from, to) = window(&query)?;
    Ok(Json(
        state
            .services
            .shopfloor
            .pareto(&me, asset, from, to)
            .await?,
    ))
}

/// `asset`, `from` and `to`, all required.
fn window(
    query: &QueryMap,
) -> Result<
    (
        AssetId,
        crate::domain::time::Timestamp,
        crate::domain::time::Timestamp,
    ),
    ApiError,
> {
    let required =
        |field: &str| ApiError::from(crate::domain::DomainError::field(field, "is required"));
    let asset = query.id("asset")?.ok_or_else(|| required("asset"))?;
    let from = query.time("from")?.ok_or_else(|| required("from"))?;
    let to = query.time("to")?.ok_or_else(|| required("to"))?;
    Ok((AssetId(asset), from, to))
}

#[utoipa::path(
    get,
    path = "/api/downtime/export.csv",
    operation_id = "downtime_export",
    tag = "downtime",
    summary = "The filtered events as CSV",
    params(("asset" = Option<u64>, Query, minimum = 1, description = "This asset and everything below it"), ("reason" = Option<u64>, Query, minimum = 1), ("open" = Option<bool>, Query), ("from" = Option<String>, Query, format = DateTime, description = "Events still going at or after this time (RFC 3339 or a date)"), ("to" = Option<String>, Query, format = DateTime, description = "Events started before this time (RFC 3339 or a date)")),
    responses((status = 200, description = "CSV, header row first", content_type = "text/csv", body = String), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn downtime_export(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Response, ApiError> {
    let (asset, filter) = downtime_filter(&query)?;
    let out = state
        .services
        .shopfloor
        .downtime_csv(&me, asset, filter)
        .await?;
    Ok(csv(out))
}

fn csv(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}

#[utoipa::path(
    get,
    path = "/api/production/",
    operation_id = "production_list",
    tag = "production",
    summary = "Production counts",
    params(("asset" = Option<u64>, Query, minimum = 1, description = "This asset and everything below it"), ("from" = Option<String>, Query, format = DateTime, description = "Counts ending after this time (RFC 3339 or a date)"), ("to" = Option<String>, Query, format = DateTime, description = "Counts started before this time (RFC 3339 or a date)"), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of production counts", body = ListBody<ProductionCount>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn production_list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<ProductionCount>>, ApiError> {
    let filter = ProductionFilter {
        assets: None,
        from: query.time("from")?,
        to: query.time("to")?,
    };
    let page = state
        .services
        .shopfloor
        .productions(&me, query.id("asset")?.map(AssetId), filter, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, "/api/production/", &query.0)))
}

#[utoipa::path(
    post,
    path = "/api/production/",
    operation_id = "production_create",
    tag = "production",
    summary = "Create a production count (anyone)",
    request_body = NewProduction,
    responses((status = 201, description = "The new production count", body = ProductionCount), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn production_create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewProduction>,
) -> Result<(StatusCode, Json<ProductionCount>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .services
                .shopfloor
                .report_production(&me, input)
                .await?,
        ),
    ))
}

#[utoipa::path(
    get,
    path = "/api/production/{id}/",
    operation_id = "production_read",
    tag = "production",
    summary = "One production count",
    params(("id" = u64, Path, minimum = 1, description = "The production count's id")),
    responses((status = 200, description = "The production count", body = ProductionCount), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn production_read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<ProductionCount>, ApiError> {
    Ok(Json(
        state
            .services
            .shopfloor
            .production(&me, ProductionId(id))
            .await?,
    ))
}

#[utoipa::path(
    patch,
    path = "/api/production/{id}/",
    operation_id = "production_update",
    tag = "production",
    summary = "Change a production count (admin or staff)",
    params(("id" = u64, Path, minimum = 1, description = "The production count's id")),
    request_body = ProductionPatch,
    responses((status = 200, description = "The changed production count", body = ProductionCount), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn production_update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<ProductionPatch>,
) -> Result<Json<ProductionCount>, ApiError> {
    Ok(Json(
        state
            .services
            .shopfloor
            .update_production(&me, ProductionId(id), patch)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/production/{id}/",
    operation_id = "production_remove",
    tag = "production",
    summary = "Delete a production count (admin or staff)",
    params(("id" = u64, Path, minimum = 1, description = "The production count's id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn production_remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .shopfloor
        .delete_production(&me, ProductionId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/oee/",
    operation_id = "oee",
    tag = "oee",
    summary = "OEE per bucket (ISO 22400)",
    params(("asset" = u64, Query, minimum = 1, description = "The asset; one with children sums them"), ("from" = String, Query, format = DateTime, description = "Window start (RFC 3339 or a date)"), ("to" = String, Query, format = DateTime, description = "Window end, exclusive (RFC 3339 or a date)"), ("group" = Option<String>, Query, pattern = r"^(shift|day|hour|none)$", description = "shift, day, hour or none (default)")),
    responses((status = 200, description = "One row per bucket", body = Vec<OeeRow>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn oee(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<Vec<OeeRow>>, ApiError> {
    let q = oee_query(&query)?;
    Ok(Json(state.services.shopfloor.oee(&me, q).await?))
}

fn oee_query(query: &QueryMap) -> Result<OeeQuery, ApiError> {
    let (asset, from, to) = window(query)?;
    let group = query
        .parsed("group", Group::parse, "one of shift, day, hour, none")?
        .unwrap_or(Group::None);
    Ok(OeeQuery {
        asset,
        from,
        to,
        group,
    })
}

#[utoipa::path(
    get,
    path = "/api/oee/export.csv",
    operation_id = "oee_export",
    tag = "oee",
    summary = "The OEE table as CSV",
    params(("asset" = u64, Query, minimum = 1, description = "The asset; one with children sums them"), ("from" = String, Query, format = DateTime, description = "Window start (RFC 3339 or a date)"), ("to" = String, Query, format = DateTime, description = "Window end, exclusive (RFC 3339 or a date)"), ("group" = Option<String>, Query, pattern = r"^(shift|day|hour|none)$", description = "shift, day, hour or none (default)")),
    responses((status = 200, description = "CSV, header row first", content_type = "text/csv", body = String), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn oee_export(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Response, ApiError> {
    let q = oee_query(&query)?;
    let rows = state.services.shopfloor.oee(&me, q).await?;
    let out = crate::service::shopfloor::oee_csv(&rows);
    Ok(csv(out))
}
