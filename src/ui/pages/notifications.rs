//! `/notifications`: the caller's notifications, newest first; marking them read.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use crate::domain::NotificationId;
use crate::http::AppState;
use crate::http::extract::{PathId, QueryMap};
use crate::ui::components::{csrf_field, empty_state, layout, pager, when};
use crate::ui::error::UiError;
use crate::ui::form::UiForm;
use crate::ui::session::{Ctx, redirect};

/// `GET /notifications`.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let unread_only = query.get("unread") == Some("true");
    let request = query.page().map_err(|_| UiError::not_found())?;
    let page = state
        .services
        .updates
        .notifications(&ctx.me, unread_only, request)
        .await?;
    let params = [(
        "unread",
        if unread_only {
            "true".to_string()
        } else {
            String::new()
        },
    )];
    let body = html! {
        div.page-head {
            h1 { "Notifications" }
            div.actions {
                @if unread_only { a.button href="/notifications" { "Show all" } }
                @else { a.button href="/notifications?unread=true" { "Only unread" } }
                form method="post" action="/notifications/read-all" {
                    (csrf_field(&ctx))
                    button type="submit" { "Mark all read" }
                }
            }
        }
        div #notification-list data-live="notifications" {
            @if page.results.is_empty() {
                (empty_state("No notifications."))
            }
            ul.notifications.full {
                @for n in &page.results {
                    li .unread[!n.read] data-notification-id=(n.id.0) {
                        div {
                            a href=(n.link) { (n.title) }
                            @if !n.read { " " span.badge.unread-badge { "Unread" } }
                            p.muted { (n.body) " · " (when(&ctx.plant, n.created_at)) }
                        }
                        @if !n.read {
                            form method="post" action=(format!("/notifications/{}/read", n.id.0)) {
                                (csrf_field(&ctx))
                                button.quiet type="submit" { "Mark read" }
                            }
                        }
                    }
                }
            }
            (pager("/notifications", &params, request.page, request.page_size, page.count))
        }
    };
    Ok(layout(&ctx, "Notifications", body).into_response())
}

/// `POST /notifications/read-all`.
pub async fn read_all(State(state): State<AppState>, form: UiForm) -> Result<Response, UiError> {
    state.services.updates.mark_all_read(&form.me).await?;
    Ok(redirect(&state, "/notifications", None))
}

/// `POST /notifications/{id}/read`.
pub async fn read_one(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    state
        .services
        .updates
        .mark_read(&form.me, NotificationId(id))
        .await?;
    Ok(redirect(&state, "/notifications", None))
}
