//! `/api/chat/`: messages, conversations and read markers.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ListBody;
use crate::domain::chat::{Conversation, Message};
use crate::domain::{MessageId, ProjectId, UserId};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, PathId, QueryMap};
use crate::service::chat::NewMessage;

/// Routes under `/api/chat`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/messages", get(messages).post(send))
        .route("/messages/{id}", delete(remove))
        .route("/conversations", get(conversations))
        .route("/conversations/read", post(mark_read))
}

async fn send(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewMessage>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.chat.send(&me, input).await?),
    ))
}

async fn messages(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<Message>>, ApiError> {
    let with = query.id("with")?.map(UserId);
    let project = query.id("project")?.map(ProjectId);
    let conversation = state.services.chat.conversation(&me, with, project).await?;
    let before = query.id("before")?.map(MessageId);
    let page = state
        .services
        .chat
        .messages(&me, conversation, before, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, "/api/chat/messages/", &query.0)))
}

async fn remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.services.chat.delete(&me, MessageId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn conversations(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> Result<Json<Vec<Value>>, ApiError> {
    let summaries = state.services.chat.conversations(&me).await?;
    Ok(Json(
        summaries
            .into_iter()
            .map(|s| match s.conversation {
                Conversation::Direct(peer) => {
                    json!({"kind": "direct", "peer_id": peer, "last_message": s.last_message, "unread": s.unread})
                }
                Conversation::Project(p) => {
                    json!({"kind": "project", "project_id": p, "last_message": s.last_message, "unread": s.unread})
                }
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
struct ReadInput {
    with: Option<UserId>,
    project: Option<ProjectId>,
}

async fn mark_read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<ReadInput>,
) -> Result<StatusCode, ApiError> {
    let conversation = state
        .services
        .chat
        .conversation(&me, input.with, input.project)
        .await?;
    state.services.chat.mark_read(&me, conversation).await?;
    Ok(StatusCode::NO_CONTENT)
}
