//! `/api/auth/`: register, login, refresh, logout, the current user and password change.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::users::UserView;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, ClientIp, OptionalJson};
use crate::service::auth::{RegisterInput, Tokens, UpdateMeInput};

/// Routes under `/api/auth`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .route("/user", get(me).patch(update_me))
        .route("/password", post(change_password))
}

#[derive(Deserialize)]
struct LoginInput {
    username: String,
    password: String,
}

#[derive(Deserialize)]
struct RefreshInput {
    refresh: String,
}

#[derive(Deserialize, Default)]
struct LogoutInput {
    refresh: Option<String>,
}

#[derive(Deserialize)]
struct PasswordInput {
    current_password: String,
    new_password: String,
}

#[derive(Serialize)]
struct TokenBody {
    access: String,
    refresh: String,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<UserView>,
}

impl TokenBody {
    fn new(tokens: Tokens, user: Option<UserView>) -> Self {
        Self {
            access: tokens.access,
            refresh: tokens.refresh,
            token_type: "Bearer",
            expires_in: tokens.expires_in,
            user,
        }
    }
}

async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(input): ApiJson<RegisterInput>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let ip = ip.to_string();
    let user = state.services.auth.register(input, Some(&ip)).await?;
    let view = UserView::new(user.clone(), &user);
    Ok((StatusCode::CREATED, Json(view)))
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(input): ApiJson<LoginInput>,
) -> Result<Json<TokenBody>, ApiError> {
    let ip = ip.to_string();
    let (tokens, user) = state
        .services
        .auth
        .login(&input.username, &input.password, Some(&ip))
        .await?;
    let view = UserView::new(user.clone(), &user);
    Ok(Json(TokenBody::new(tokens, Some(view))))
}

async fn refresh(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<RefreshInput>,
) -> Result<Json<TokenBody>, ApiError> {
    let tokens = state.services.auth.refresh(&input.refresh).await?;
    Ok(Json(TokenBody::new(tokens, None)))
}

async fn logout(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    OptionalJson(input): OptionalJson<LogoutInput>,
) -> Result<StatusCode, ApiError> {
    let refresh = input.and_then(|i| i.refresh);
    state.services.auth.logout(&me, refresh.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(AuthUser(me): AuthUser) -> Json<UserView> {
    Json(UserView::new(me.user.clone(), &me.user))
}

async fn update_me(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<UpdateMeInput>,
) -> Result<Json<UserView>, ApiError> {
    let user = state.services.auth.update_me(&me, input).await?;
    Ok(Json(UserView::new(user, &me.user)))
}

async fn change_password(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<PasswordInput>,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .auth
        .change_password(&me, &input.current_password, &input.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
