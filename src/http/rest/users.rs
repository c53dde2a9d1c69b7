//! `/api/users/`: the directory, and its administration.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::ListBody;
use crate::domain::UserId;
use crate::domain::time::{Timestamp, rfc3339};
use crate::domain::user::{Profile, Role, User};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, PathId, QueryMap};
use crate::service::users::{AdminUpdateInput, CreateUserInput, UserQuery};
use crate::service::visibility;

/// User JSON; `email` only for admins and the user themselves.
#[derive(Serialize)]
pub struct UserView {
    id: UserId,
    username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    display_name: String,
    role: Role,
    is_active: bool,
    profile: Profile,
    #[serde(with = "rfc3339")]
    created_at: Timestamp,
    #[serde(with = "rfc3339")]
    updated_at: Timestamp,
}

impl UserView {
    /// `user` as `viewer` may see it.
    pub fn new(user: User, viewer: &User) -> Self {
        let email = visibility::can_see_email(viewer, &user).then_some(user.email);
        Self {
            id: user.id,
            username: user.username,
            email,
            display_name: user.display_name,
            role: user.role,
            is_active: user.is_active,
            profile: user.profile,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Routes under `/api/users`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/{id}", get(read).patch(update))
}

async fn list(
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
    let page = page.map(|u| UserView::new(u, &me.user));
    Ok(Json(ListBody::new(page, "/api/users/", &query.0)))
}

async fn create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<CreateUserInput>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let user = state
        .services
        .users
        .create(&me, &state.services.auth, input)
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::new(user, &me.user))))
}

async fn read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<UserView>, ApiError> {
    let user = state.services.users.get(&me, UserId(id)).await?;
    Ok(Json(UserView::new(user, &me.user)))
}

async fn update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AdminUpdateInput>,
) -> Result<Json<UserView>, ApiError> {
    let user = state.services.users.update(&me, UserId(id), input).await?;
    Ok(Json(UserView::new(user, &me.user)))
}
