//! `/api/auth/`: register, login, refresh, logout, the current user and password change.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::users::UserView;
use crate::http::openapi::ErrorBody;

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, ClientIp, OptionalJson};
use crate::service::auth::{RegisterInput, Tokens, UpdateMeInput};

/// Routes under `/api/auth` that take credentials (a password or a refresh token): the ones
/// limited per client address.
pub fn credentials_router() -> Router<AppState> {
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/password", post(change_password))
}

/// The other routes under `/api/auth`: ordinary authenticated calls.
pub fn session_router() -> Router<AppState> {
    Router::new()
        .route("/logout", post(logout))
        .route("/user", get(me).patch(update_me))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginInput {
    username: String,
    password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshInput {
    refresh: String,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct LogoutInput {
    refresh: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordInput {
    current_password: String,
    /// 10–256 characters.
    #[schema(min_length = 10, max_length = 256)]
    new_password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenBody {
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

#[utoipa::path(
    post,
    path = "/api/auth/register/",
    operation_id = "auth_register",
    tag = "auth",
    summary = "Sign up as a user (when registration is enabled)",
    request_body = RegisterInput,
    responses((status = 201, description = "The new user", body = UserView), (status = 400, description = "Invalid input", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed"))))
)]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(input): ApiJson<RegisterInput>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let ip = ip.to_string();
    let user = state.services.auth.register(input, Some(&ip)).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(
    post,
    path = "/api/auth/login/",
    operation_id = "auth_login",
    tag = "auth",
    summary = "Sign in",
    request_body = LoginInput,
    responses((status = 200, description = "Signed in: a token pair and the user", body = TokenBody), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 423, description = "Account locked", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until the lock ends"))), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed"))))
)]
pub async fn login(
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
    Ok(Json(TokenBody::new(tokens, Some(user))))
}

#[utoipa::path(
    post,
    path = "/api/auth/refresh/",
    operation_id = "auth_refresh",
    tag = "auth",
    summary = "Spend a refresh token for a new pair",
    request_body = RefreshInput,
    responses((status = 200, description = "A new token pair", body = TokenBody), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed"))))
)]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<RefreshInput>,
) -> Result<Json<TokenBody>, ApiError> {
    let tokens = state.services.auth.refresh(&input.refresh).await?;
    Ok(Json(TokenBody::new(tokens, None)))
}

#[utoipa::path(
    post,
    path = "/api/auth/logout/",
    operation_id = "auth_logout",
    tag = "auth",
    summary = "End this session",
    request_body = Option<LogoutInput>,
    responses((status = 204, description = "Signed out"), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn logout(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    OptionalJson(input): OptionalJson<LogoutInput>,
) -> Result<StatusCode, ApiError> {
    let refresh = input.and_then(|i| i.refresh);
    state.services.auth.logout(&me, refresh.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/auth/user/",
    operation_id = "auth_me",
    tag = "auth",
    summary = "The current user",
    responses((status = 200, description = "The current user", body = UserView), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn me(AuthUser(me): AuthUser) -> Json<UserView> {
    Json(me.own_view())
}

#[utoipa::path(
    patch,
    path = "/api/auth/user/",
    operation_id = "auth_update_me",
    tag = "auth",
    summary = "Change your email, name or profile",
    request_body = UpdateMeInput,
    responses((status = 200, description = "The changed current user", body = UserView), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn update_me(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<UpdateMeInput>,
) -> Result<Json<UserView>, ApiError> {
    let user = state.services.auth.update_me(&me, input).await?;
    Ok(Json(user))
}

#[utoipa::path(
    post,
    path = "/api/auth/password/",
    operation_id = "auth_change_password",
    tag = "auth",
    summary = "Change your password; ends your other sessions",
    request_body = PasswordInput,
    responses((status = 204, description = "Changed"), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn change_password(
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
