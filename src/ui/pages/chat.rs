//! `/chat`: the conversation list with unread counts beside the open conversation (one pane at
//! a time on phones); older messages page back with `?before=`. A project's room is also shown
//! on its page, with the same pieces.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::{project_names, user_choices, user_names};
use crate::domain::chat::{Conversation, Message};
use crate::domain::visibility::can_delete_message;
use crate::domain::{DomainError, MessageId, ProjectId, UserId};
use crate::http::AppState;
use crate::http::extract::{PathId, QueryMap};
use crate::service::chat::NewMessage;
use crate::service::pagination::PageRequest;
use crate::ui::components::{csrf_field, empty_state, form_error, layout, when};
use crate::ui::error::UiError;
use crate::ui::form::UiForm;
use crate::ui::session::{Ctx, Flash, redirect};

/// Messages shown at once; older ones are a link away.
const PAGE: usize = 50;

/// Where a conversation's page is.
pub fn conversation_path(conversation: Conversation) -> String {
    match conversation {
        Conversation::Direct(peer) => format!("/chat?with={}", peer.0),
        Conversation::Project(p) => format!("/chat?project={}", p.0),
    }
}

/// The live topics of a conversation's messages.
fn topics(conversation: Conversation) -> String {
    match conversation {
        Conversation::Direct(_) => "chat".into(),
        Conversation::Project(p) => format!("chat,project:{}", p.0),
    }
}

/// A conversation's messages, oldest at the top, with a link to older ones, and the form to
/// write in it. `path` is the page it is shown on (for the older link and after sending).
pub async fn conversation_view(
    state: &AppState,
    ctx: &Ctx,
    conversation: Conversation,
    before: Option<MessageId>,
    path: &str,
    error: Option<&str>,
    draft: &str,
) -> Result<Markup, UiError> {
    let page = PageRequest {
        page: 1,
        page_size: PAGE,
    };
    let found = state
        .services
        .chat
        .messages(&ctx.me, conversation, before, page)
        .await?;
    if before.is_none() {
        // Opening a conversation reads it; a failure here only leaves it unread.
        if let Err(e) = state.services.chat.mark_read(&ctx.me, conversation).await {
            tracing::debug!(error = %e, "could not mark a conversation read");
        }
    }
    let senders: Vec<UserId> = found.results.iter().map(|m| m.sender_id).collect();
    let names = user_names(state, &ctx.me, senders).await;
    let oldest = found.results.last().map(|m| m.id);
    let more = found.count > found.results.len();
    let mut messages: Vec<&Message> = found.results.iter().collect();
    messages.reverse();
    let (receiver, project) = match conversation {
        Conversation::Direct(peer) => (Some(peer), None),
        Conversation::Project(p) => (None, Some(p)),
    };
    let older = oldest.map(|id| {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{path}{sep}before={}", id.0)
    });
    Ok(html! {
        div.conversation {
            @if more {
                @if let Some(older) = &older { a #older .more href=(older) { "↑ Older messages" } }
            }
            ol #messages .messages data-live=(topics(conversation)) aria-live="polite" aria-label="Messages" {
                @if messages.is_empty() {
                    li.empty { "No messages yet. Say hello." }
                }
                @for m in &messages {
                    (message_item(ctx, m, &names))
                }
            }
            @if before.is_some() {
                a.more href=(path) { "↓ Newest messages" }
            }
            (form_error(error))
            form #chat-form .chat-form method="post" action="/chat/messages" {
                (csrf_field(ctx))
                @if let Some(peer) = receiver { input type="hidden" name="receiver_id" value=(peer.0); }
                @if let Some(p) = project { input type="hidden" name="project_id" value=(p.0); }
                input type="hidden" name="return_to" value=(path);
                label.visually-hidden for="content" { "Message" }
                textarea #content name="content" rows="2" maxlength="5000" required placeholder="Write a message — Enter sends, Shift+Enter for a new line" { (draft) }
                button.primary type="submit" { "Send" }
            }
        }
    })
}

fn message_item(ctx: &Ctx, m: &Message, names: &HashMap<UserId, String>) -> Markup {
    let mine = m.sender_id == ctx.me.user.id;
    html! {
        li.message .mine[mine] data-message-id=(m.id.0) {
            div.meta {
                strong { (names.get(&m.sender_id).map_or("", String::as_str)) }
                " " span.muted { (when(&ctx.plant, m.created_at)) }
            }
            div.text { @for line in m.content.lines() { (line) br; } }
            @if can_delete_message(&ctx.me.user, m) {
                form.delete method="post" action=(format!("/chat/messages/{}/delete", m.id.0)) {
                    (csrf_field(ctx))
                    button.quiet type="submit" aria-label="Delete this message" { "Delete" }
                }
            }
        }
    }
}

/// `GET /chat`, `GET /chat?with=ID`, `GET /chat?project=ID`.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let with = query
        .id("with")
        .map_err(|_| UiError::not_found())?
        .map(UserId);
    let project = query
        .id("project")
        .map_err(|_| UiError::not_found())?
        .map(ProjectId);
    let before = query
        .id("before")
        .map_err(|_| UiError::not_found())?
        .map(MessageId);
    let open = match (with, project) {
        (None, None) => None,
        (with, project) => Some(
            state
                .services
                .chat
                .conversation(&ctx.me, with, project)
                .await?,
        ),
    };
    let pane = match open {
        Some(conversation) => {
            let path = conversation_path(conversation);
            Some(conversation_view(&state, &ctx, conversation, before, &path, None, "").await?)
        }
        None => None,
    };
    let body = chat_layout(&state, &ctx, open, pane).await?;
    Ok(layout(&ctx, "Chat", body).into_response())
}

async fn chat_layout(
    state: &AppState,
    ctx: &Ctx,
    open: Option<Conversation>,
    pane: Option<Markup>,
) -> Result<Markup, UiError> {
    let summaries = state.services.chat.conversations(&ctx.me).await?;
    let peers: Vec<UserId> = summaries
        .iter()
        .filter_map(|s| match s.conversation {
            Conversation::Direct(peer) => Some(peer),
            Conversation::Project(_) => None,
        })
        .chain(match open {
            Some(Conversation::Direct(peer)) => Some(peer),
            _ => None,
        })
        .collect();
    let rooms: Vec<ProjectId> = summaries
        .iter()
        .filter_map(|s| match s.conversation {
            Conversation::Project(p) => Some(p),
            Conversation::Direct(_) => None,
        })
        .chain(match open {
            Some(Conversation::Project(p)) => Some(p),
            _ => None,
        })
        .collect();
    let people = user_names(state, &ctx.me, peers).await;
    let projects = project_names(state, &ctx.me, rooms).await;
    let name_of = |c: Conversation| match c {
        Conversation::Direct(peer) => people.get(&peer).cloned().unwrap_or_default(),
        Conversation::Project(p) => format!("# {}", projects.get(&p).map_or("", String::as_str)),
    };
    let users = user_choices(state, &ctx.me).await;
    Ok(html! {
        div.chat .has-open[open.is_some()] {
            div.chat-list {
                h1 { "Chat" }
                form #new-conversation .inline method="get" action="/chat" {
                    label for="with" { "Message someone" }
                    div.row {
                        select #with name="with" required {
                            option value="" { "Choose a person" }
                            @for (id, name) in &users {
                                @if *id != ctx.me.user.id.0.to_string() { option value=(id) { (name) } }
                            }
                        }
                        button type="submit" { "Open" }
                    }
                }
                nav #conversations aria-label="Conversations" data-live="chat" {
                    @if summaries.is_empty() { (empty_state("No conversations yet.")) }
                    ul {
                        @for s in &summaries {
                            @let current = open == Some(s.conversation);
                            li {
                                @match s.conversation {
                                    Conversation::Direct(peer) => {
                                        a.conversation href=(conversation_path(s.conversation)) data-peer-id=(peer.0) aria-current=[current.then_some("page")] {
                                            (conversation_entry(&name_of(s.conversation), s.unread, &s.last_message.content))
                                        }
                                    }
                                    Conversation::Project(p) => {
                                        a.conversation href=(conversation_path(s.conversation)) data-project-id=(p.0) aria-current=[current.then_some("page")] {
                                            (conversation_entry(&name_of(s.conversation), s.unread, &s.last_message.content))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.chat-pane aria-label="Conversation" {
                @match (open, pane) {
                    (Some(c), Some(pane)) => {
                        div.pane-head {
                            a.back href="/chat" { "← All conversations" }
                            h2 { (name_of(c)) }
                        }
                        (pane)
                    }
                    _ => (empty_state("Choose a conversation, or message someone.")),
                }
            }
        }
    })
}

fn conversation_entry(name: &str, unread: usize, last: &str) -> Markup {
    let preview: String = last.chars().take(60).collect();
    html! {
        span.name { (name) }
        @if unread > 0 {
            span.unread aria-label=(format!("{unread} unread")) { (unread) }
        }
        span.preview.muted { (preview) }
    }
}

/// `POST /chat/messages`: sends, then back to the conversation; a refused message stays in the
/// box with the reason.
pub async fn send(
    State(state): State<AppState>,
    ctx: Ctx,
    form: UiForm,
) -> Result<Response, UiError> {
    let back = form.fields.return_to("/chat");
    let receiver = form.fields.id("receiver_id").ok().flatten().map(UserId);
    let project = form.fields.id("project_id").ok().flatten().map(ProjectId);
    let content = form.fields.text("content");
    let input = NewMessage {
        receiver_id: receiver,
        project_id: project,
        content: content.clone(),
    };
    match state.services.chat.send(&form.me, input).await {
        Ok(_) => Ok(redirect(&state, &back, None)),
        Err(
            e @ (DomainError::Validation { .. }
            | DomainError::BadRequest(_)
            | DomainError::Forbidden(_)),
        ) => {
            let conversation = state
                .services
                .chat
                .conversation(&ctx.me, receiver, project)
                .await?;
            let message = match &e {
                DomainError::Validation { fields, .. } => fields
                    .get("content")
                    .and_then(|m| m.first())
                    .map_or_else(|| e.to_string(), |m| format!("The message {m}.")),
                other => other.to_string(),
            };
            let path = conversation_path(conversation);
            let pane = conversation_view(
                &state,
                &ctx,
                conversation,
                None,
                &path,
                Some(&message),
                &content,
            )
            .await?;
            let body = chat_layout(&state, &ctx, Some(conversation), Some(pane)).await?;
            Ok((
                axum::http::StatusCode::BAD_REQUEST,
                layout(&ctx, "Chat", body),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /chat/messages/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    let back = form.fields.return_to("/chat");
    match state.services.chat.delete(&form.me, MessageId(id)).await {
        Ok(()) => Ok(redirect(&state, &back, None)),
        Err(DomainError::Forbidden(m)) => Ok(redirect(&state, &back, Flash::refused(m))),
        Err(e) => Err(e.into()),
    }
}
