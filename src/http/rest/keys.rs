//! `/api/keys/` (admin): machine keys for PLC gateways and wall screens. A key's secret is in
//! the answer to its `POST` only.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ListBody;
use crate::domain::machine_key::{KeyScope, MachineKey};
use crate::domain::time::rfc3339;
use crate::domain::{KeyId, UserId};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, PathId, QueryMap};
use crate::http::openapi::ErrorBody;
use crate::service::machine_keys::NewKeyInput;

/// Routes under `/api/keys`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/{id}", get(read).delete(revoke))
}

/// A machine key as the API shows it: never its secret or the secret's hash.
#[derive(Serialize, ToSchema)]
pub struct KeyView {
    id: KeyId,
    /// What it is for.
    name: String,
    /// What it may do: `read`, `report`, `display`.
    scopes: Vec<KeyScope>,
    created_by: UserId,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: time::OffsetDateTime,
    /// When it was last used (kept to within a few seconds).
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used_at: Option<time::OffsetDateTime>,
    /// When it was revoked; `null` while it works.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    revoked_at: Option<time::OffsetDateTime>,
}

impl From<MachineKey> for KeyView {
    fn from(k: MachineKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            scopes: k.scopes,
            created_by: k.created_by,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// The answer to creating a key: the key, and its secret, shown this once. (Written out rather
/// than flattening `KeyView`, so the schema is one closed object.)
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    id: KeyId,
    /// What it is for.
    name: String,
    /// What it may do: `read`, `report`, `display`.
    scopes: Vec<KeyScope>,
    created_by: UserId,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: time::OffsetDateTime,
    /// `null`: not used yet.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used_at: Option<time::OffsetDateTime>,
    /// `null`: not revoked.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    revoked_at: Option<time::OffsetDateTime>,
    /// Send it as `Authorization: Bearer nxk_…`. It is not stored and cannot be shown again.
    secret: String,
}

/// A new key.
#[derive(Deserialize, ToSchema)]
pub struct NewKey {
    /// What it is for, 1–100 characters, not only spaces.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
    /// At least one of `read`, `report`, `display`.
    #[schema(min_items = 1)]
    scopes: Vec<KeyScope>,
}

#[utoipa::path(
    get,
    path = "/api/keys/",
    operation_id = "keys_list",
    tag = "keys",
    summary = "Machine keys, newest first (admin)",
    params(("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of keys", body = ListBody<KeyView>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<KeyView>>, ApiError> {
    let page = state.services.keys.list(&me, query.page()?).await?;
    Ok(Json(ListBody::new(
        page.map(KeyView::from),
        "/api/keys/",
        &query.0,
    )))
}

#[utoipa::path(
    post,
    path = "/api/keys/",
    operation_id = "keys_create",
    tag = "keys",
    summary = "Create a machine key (admin); its secret is in this answer only",
    request_body = NewKey,
    responses((status = 201, description = "The new key and its secret", body = CreatedKey), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let (key, secret) = state
        .services
        .keys
        .create(
            &me,
            NewKeyInput {
                name: input.name,
                scopes: input.scopes,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            id: key.id,
            name: key.name,
            scopes: key.scopes,
            created_by: key.created_by,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
            secret,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/keys/{id}/",
    operation_id = "keys_read",
    tag = "keys",
    summary = "One machine key (admin)",
    params(("id" = u64, Path, minimum = 1, description = "The key's id")),
    responses((status = 200, description = "The key", body = KeyView), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<KeyView>, ApiError> {
    Ok(Json(state.services.keys.get(&me, KeyId(id)).await?.into()))
}

#[utoipa::path(
    delete,
    path = "/api/keys/{id}/",
    operation_id = "keys_revoke",
    tag = "keys",
    summary = "Revoke a machine key at once (admin)",
    description = "The key is refused from its next request on, and its live connections close. It stays listed, with `revoked_at`. Revoking a revoked key is not an error.",
    params(("id" = u64, Path, minimum = 1, description = "The key's id")),
    responses((status = 204, description = "Revoked"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn revoke(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.services.keys.revoke(&me, KeyId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
