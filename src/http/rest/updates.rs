//! `/api/updates/`: announcements, and the caller's notifications.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::ListBody;
use crate::http::openapi::ErrorBody;

use crate::domain::activity::Priority;
use crate::domain::update::{NotificationView, Update, UpdateAck, UpdateAcks, UpdateType};
use crate::domain::{NotificationId, UpdateId};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, PathId, QueryMap};
use crate::service::updates::{NewUpdate, UpdatePatch, UpdateQuery};

/// Routes under `/api/updates`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/notifications", get(notifications))
        .route("/notifications/read-all", post(read_all))
        .route("/notifications/{id}/read", post(read_one))
        .route("/{id}", get(read).patch(update).delete(remove))
        .route("/{id}/ack", post(acknowledge))
        .route("/{id}/acks", get(acknowledgements))
}

#[utoipa::path(
    get,
    path = "/api/updates/",
    operation_id = "updates_list",
    tag = "updates",
    summary = "Updates (announcements)",
    params(("type" = Option<UpdateType>, Query), ("priority" = Option<Priority>, Query), ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339 time, or a YYYY-MM-DD date meaning its midnight UTC; inclusive"), ("ordering" = Option<String>, Query, pattern = r"^-?(created_at|priority)$", description = "created_at or priority; a leading - sorts descending"), ("pending_ack" = Option<bool>, Query, description = "true: only the updates you have yet to acknowledge, newest first (type, priority, since and ordering are refused with it)"), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of updates", body = ListBody<Update>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<Update>>, ApiError> {
    let filter = UpdateQuery {
        update_type: query.parsed(
            "type",
            UpdateType::parse,
            &format!("one of {}", UpdateType::choices()),
        )?,
        priority: query.parsed(
            "priority",
            Priority::parse,
            &format!("one of {}", Priority::choices()),
        )?,
        since: query.time("since")?,
        ordering: query.get("ordering").map(str::to_string),
        pending_ack: query.bool("pending_ack")?.unwrap_or(false),
    };
    let page = state
        .services
        .updates
        .list(&me, filter, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, "/api/updates/", &query.0)))
}

#[utoipa::path(
    post,
    path = "/api/updates/",
    operation_id = "updates_create",
    tag = "updates",
    summary = "Post an update (admin or staff)",
    request_body = NewUpdate,
    responses((status = 201, description = "The posted update", body = Update), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewUpdate>,
) -> Result<(StatusCode, Json<Update>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.updates.create(&me, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/updates/{id}/",
    operation_id = "updates_read",
    tag = "updates",
    summary = "One update",
    params(("id" = u64, Path, minimum = 1, description = "The update's id")),
    responses((status = 200, description = "The update", body = Update), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Update>, ApiError> {
    Ok(Json(state.services.updates.get(&me, UpdateId(id)).await?))
}

#[utoipa::path(
    patch,
    path = "/api/updates/{id}/",
    operation_id = "updates_update",
    tag = "updates",
    summary = "Change an update (author or admin)",
    params(("id" = u64, Path, minimum = 1, description = "The update's id")),
    request_body = UpdatePatch,
    responses((status = 200, description = "The changed update", body = Update), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<UpdatePatch>,
) -> Result<Json<Update>, ApiError> {
    Ok(Json(
        state
            .services
            .updates
            .update(&me, UpdateId(id), patch)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/updates/{id}/",
    operation_id = "updates_remove",
    tag = "updates",
    summary = "Delete an update (author or admin)",
    params(("id" = u64, Path, minimum = 1, description = "The update's id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.services.updates.delete(&me, UpdateId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/updates/{id}/ack/",
    operation_id = "updates_acknowledge",
    tag = "updates",
    summary = "Acknowledge an update that requires it (again: a no-op answering the first)",
    params(("id" = u64, Path, minimum = 1, description = "The update's id")),
    responses((status = 200, description = "Your acknowledgement", body = UpdateAck), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 409, description = "The update does not require acknowledgement", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<UpdateAck>, ApiError> {
    Ok(Json(
        state
            .services
            .updates
            .acknowledge(&me, UpdateId(id))
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/updates/{id}/acks/",
    operation_id = "updates_acks",
    tag = "updates",
    summary = "Who acknowledged an update and who has yet to, over the active users (author, staff or admin)",
    params(("id" = u64, Path, minimum = 1, description = "The update's id")),
    responses((status = 200, description = "The acknowledged and pending users", body = UpdateAcks), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn acknowledgements(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<UpdateAcks>, ApiError> {
    Ok(Json(
        state
            .services
            .updates
            .acknowledgements(&me, UpdateId(id))
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/updates/notifications/",
    operation_id = "updates_notifications",
    tag = "notifications",
    summary = "Your notifications, newest first",
    params(("unread" = Option<bool>, Query), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of your notifications, newest first", body = ListBody<NotificationView>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn notifications(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<NotificationView>>, ApiError> {
    let unread = query.bool("unread")?.unwrap_or(false);
    let page = state
        .services
        .updates
        .notifications(&me, unread, query.page()?)
        .await?;
    Ok(Json(ListBody::new(
        page.map(NotificationView::from),
        "/api/updates/notifications/",
        &query.0,
    )))
}

#[utoipa::path(
    post,
    path = "/api/updates/notifications/{id}/read/",
    operation_id = "updates_read_one",
    tag = "notifications",
    summary = "Mark a notification read",
    params(("id" = u64, Path, minimum = 1, description = "The notification's id")),
    responses((status = 204, description = "Marked"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn read_one(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .updates
        .mark_read(&me, NotificationId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/updates/notifications/read-all/",
    operation_id = "updates_read_all",
    tag = "notifications",
    summary = "Mark all your notifications read",
    responses((status = 204, description = "Marked"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn read_all(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> Result<StatusCode, ApiError> {
    state.services.updates.mark_all_read(&me).await?;
    Ok(StatusCode::NO_CONTENT)
}
