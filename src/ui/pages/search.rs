//! `/search`: hits grouped by kind with their highlighted snippets, kind filters, the query kept
//! in the box, and a query error next to the box with its position. `/chat/messages/{id}`
//! opens a chat hit in its conversation.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{PreEscaped, html};

use super::chat::conversation_path;
use crate::domain::chat::Conversation;
use crate::domain::{DomainError, MessageId};
use crate::http::AppState;
use crate::http::extract::PathId;
use crate::service::pagination::PageRequest;
use crate::ui::components::{layout, pager};
use crate::ui::error::UiError;
use crate::ui::session::{Ctx, redirect};

const KINDS: [(&str, &str); 4] = [
    ("activity", "Activities"),
    ("project", "Projects"),
    ("update", "Updates"),
    ("chat", "Chat messages"),
];

fn link(kind: &str, id: u64) -> String {
    match kind {
        "activity" => format!("/activities/{id}"),
        "project" => format!("/projects/{id}"),
        "update" => format!("/updates/{id}"),
        _ => format!("/chat/messages/{id}"),
    }
}

/// `GET /search?q=&kind=`.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    // `kind` may repeat (one checkbox each), which a key → value map would fold.
    pairs: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, UiError> {
    let pairs = pairs.map(|Query(p)| p).unwrap_or_default();
    let q = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let kinds: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| k == "kind" && !v.is_empty())
        .flat_map(|(_, v)| v.split(',').map(str::to_string).collect::<Vec<_>>())
        .collect();
    let page_number = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let request = PageRequest {
        page: page_number,
        page_size: 20,
    };
    let mut error = None;
    let mut answer = None;
    if !q.trim().is_empty() {
        match state
            .services
            .search
            .search(&ctx.me, &q, &kinds, request)
            .await
        {
            Ok(found) => answer = Some(found),
            Err(DomainError::Validation { fields, .. }) => {
                error = Some(
                    fields
                        .values()
                        .flatten()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
            Err(e @ DomainError::Unavailable(_)) => error = Some(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    let mut params: Vec<(&str, String)> = vec![("q", q.clone())];
    params.extend(kinds.iter().map(|k| ("kind", k.clone())));
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = html! {
        h1 { "Search" }
        form #search-form .search-form role="search" method="get" action="/search" {
            div.field {
                label for="search-q" { "Search for" }
                div.row {
                    input #search-q type="search" name="q" value=(q) aria-describedby=[error.as_ref().map(|_| "search-error")] aria-invalid=[error.as_ref().map(|_| "true")];
                    button.primary type="submit" { "Search" }
                }
                @if let Some(error) = &error {
                    p #search-error .field-error role="alert" { "This search could not be read: " (error) }
                }
            }
            fieldset.kinds {
                legend { "Only" }
                @for (kind, label) in KINDS {
                    label.check {
                        input type="checkbox" name="kind" value=(kind) checked[kinds.iter().any(|k| k == kind)];
                        (label)
                    }
                }
            }
            p.hint.muted { "Words must all match. Use \"exact phrases\", title:pump, status:planned, OR, NOT, and pump* for prefixes." }
        }
        @if let Some(answer) = &answer {
            p.muted { (answer.hits.count) " found in " (answer.took_ms) " ms" }
            ol #results .results {
                @for (kind, label) in KINDS {
                    @let hits: Vec<_> = answer.hits.results.iter().filter(|h| h.kind == kind).collect();
                    @if !hits.is_empty() {
                        li.group {
                            h2 { (label) }
                            ol {
                                @for hit in hits {
                                    li.hit data-kind=(hit.kind) data-id=(hit.id) {
                                        a href=(link(&hit.kind, hit.id)) { (hit.title) }
                                        // The index escapes the snippet and marks the matches itself.
                                        p.snippet { (PreEscaped(&hit.snippet)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if answer.hits.count == 0 { p.empty { "Nothing matches. Try fewer words, or a prefix such as pump*." } }
            (pager("/search", &params, request.page, request.page_size, answer.hits.count))
        }
    };
    Ok((status, layout(&ctx, "Search", body)).into_response())
}

/// `GET /chat/messages/{id}`: a message's conversation (where a chat hit leads).
pub async fn message(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> Result<Response, UiError> {
    let message = state.services.chat.get(&ctx.me, MessageId(id)).await?;
    let conversation = match (message.project_id, message.receiver_id) {
        (Some(p), _) => Conversation::Project(p),
        (None, Some(receiver)) if receiver == ctx.me.user.id => {
            Conversation::Direct(message.sender_id)
        }
        (None, Some(receiver)) => Conversation::Direct(receiver),
        (None, None) => return Err(UiError::not_found()),
    };
    Ok(redirect(&state, &conversation_path(conversation), None))
}
