//! `/api/updates/`: announcements, and the caller's notifications.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::ListBody;
use crate::domain::activity::Priority;
use crate::domain::time::{Timestamp, rfc3339};
use crate::domain::update::{Notification, NotificationKind, Update, UpdateType};
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
}

/// Notification JSON: the recipient is left out, since only they see it.
#[derive(Serialize)]
pub struct NotificationView {
    id: NotificationId,
    kind: NotificationKind,
    title: String,
    body: String,
    link: String,
    read: bool,
    #[serde(with = "rfc3339")]
    created_at: Timestamp,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            kind: n.kind,
            title: n.title,
            body: n.body,
            link: n.link,
            read: n.read,
            created_at: n.created_at,
        }
    }
}

async fn list(
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
    };
    let page = state
        .services
        .updates
        .list(&me, filter, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, "/api/updates/", &query.0)))
}

async fn create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewUpdate>,
) -> Result<(StatusCode, Json<Update>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.updates.create(&me, input).await?),
    ))
}

async fn read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Update>, ApiError> {
    Ok(Json(state.services.updates.get(&me, UpdateId(id)).await?))
}

async fn update(
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

async fn remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.services.updates.delete(&me, UpdateId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn notifications(
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

async fn read_one(
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

async fn read_all(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> Result<StatusCode, ApiError> {
    state.services.updates.mark_all_read(&me).await?;
    Ok(StatusCode::NO_CONTENT)
}
