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
use crate::http::openapi::{ConversationView, ErrorBody};
use crate::service::chat::NewMessage;

/// Routes under `/api/chat`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/messages", get(messages).post(send))
        .route("/messages/{id}", delete(remove))
        .route("/conversations", get(conversations))
        .route("/conversations/read", post(mark_read))
}

#[utoipa::path(
    post,
    path = "/api/chat/messages/",
    operation_id = "chat_send",
    tag = "chat",
    summary = "Send a direct or project-room message",
    request_body = NewMessage,
    responses((status = 201, description = "The sent message", body = Message), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn send(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewMessage>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.chat.send(&me, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/chat/messages/",
    operation_id = "chat_messages",
    tag = "chat",
    summary = "A conversation, newest first",
    // `with` and `project`, exactly one of them, are added as one object parameter by
    // `openapi::QueryAsRead`: two parameters cannot say "exactly one".
    params(("before" = Option<u64>, Query, minimum = 1, description = "Only messages with smaller ids"), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of the conversation, newest first", body = ListBody<Message>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn messages(
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

#[utoipa::path(
    delete,
    path = "/api/chat/messages/{id}/",
    operation_id = "chat_remove",
    tag = "chat",
    summary = "Delete a message (sender or admin)",
    params(("id" = u64, Path, minimum = 1, description = "The message's id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.services.chat.delete(&me, MessageId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/chat/conversations/",
    operation_id = "chat_conversations",
    tag = "chat",
    summary = "Your conversations with unread counts",
    responses((status = 200, description = "Your conversations", body = Vec<ConversationView>), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn conversations(
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

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReadInput {
    with: Option<UserId>,
    project: Option<ProjectId>,
}

#[utoipa::path(
    post,
    path = "/api/chat/conversations/read/",
    operation_id = "chat_mark_read",
    tag = "chat",
    summary = "Mark a conversation read",
    request_body = ReadInput,
    responses((status = 204, description = "Marked"), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn mark_read(
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
