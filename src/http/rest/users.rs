//! `/api/users/`: the directory, and its administration.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::ListBody;
use crate::http::openapi::ErrorBody;

use crate::domain::UserId;
use crate::domain::user::Role;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, PathId, QueryMap};
use crate::service::users::{AdminUpdateInput, CreateUserInput, UserQuery};

/// User JSON; `email` only for admins and the user themselves (decided by the service).
pub use crate::service::users::VisibleUser as UserView;

/// Routes under `/api/users`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/{id}", get(read).patch(update))
}

#[utoipa::path(
    get,
    path = "/api/users/",
    operation_id = "users_list",
    tag = "users",
    summary = "The user directory",
    params(("role" = Option<Role>, Query), ("is_active" = Option<bool>, Query), ("q" = Option<String>, Query), ("ordering" = Option<String>, Query, pattern = r"^-?(username|created_at)$", description = "username or created_at; a leading - sorts descending"), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of the user directory", body = ListBody<UserView>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<UserView>>, ApiError> {
    let role = match query.get("role") {
        None => None,
        Some(r) => Some(Role::parse(r).ok_or_else(|| {
            ApiError::from(crate::domain::DomainError::field(
                "role",
                "must be one of admin, staff, user",
            ))
        })?),
    };
    let filter = UserQuery {
        role,
        is_active: query.bool("is_active")?,
        q: query.get("q").map(str::to_string),
        ordering: query.get("ordering").map(str::to_string),
    };
    let page = state
        .services
        .users
        .list(&me, filter, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, "/api/users/", &query.0)))
}

#[utoipa::path(
    post,
    path = "/api/users/",
    operation_id = "users_create",
    tag = "users",
    summary = "Create a user (admin)",
    request_body = CreateUserInput,
    responses((status = 201, description = "The created user", body = UserView), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<CreateUserInput>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let user = state
        .services
        .users
        .create(&me, &state.services.auth, input)
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(
    get,
    path = "/api/users/{id}/",
    operation_id = "users_read",
    tag = "users",
    summary = "One user",
    params(("id" = u64, Path, minimum = 1, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserView), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<UserView>, ApiError> {
    let user = state.services.users.get(&me, UserId(id)).await?;
    Ok(Json(user))
}

#[utoipa::path(
    patch,
    path = "/api/users/{id}/",
    operation_id = "users_update",
    tag = "users",
    summary = "Change a user (admin)",
    params(("id" = u64, Path, minimum = 1, description = "The user's id")),
    request_body = AdminUpdateInput,
    responses((status = 200, description = "The changed user", body = UserView), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AdminUpdateInput>,
) -> Result<Json<UserView>, ApiError> {
    let user = state.services.users.update(&me, UserId(id), input).await?;
    Ok(Json(user))
}
