//! `/activities/board`: one column per status. A card moves through the same service and its
//! transition rules as anywhere else: with its own small form (keyboards, touch, no script)
//! or by dragging it to a column (the script posts that same form).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::activities::{kept_filters, names_for, next_statuses};
use crate::domain::activity::ActivityStatus;
use crate::http::AppState;
use crate::http::extract::QueryMap;
use crate::http::rest::activities::activity_query;
use crate::service::pagination::PageRequest;
use crate::ui::components::{csrf_field, empty_state, href, layout, priority_badge};
use crate::ui::error::UiError;
use crate::ui::session::Ctx;

/// Cards shown per column; a longer column links to the filtered table.
const PER_COLUMN: usize = 50;

/// `GET /activities/board`.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let mut parsed = activity_query(&query).map_err(|_| UiError::not_found())?;
    if query.get("ordering").is_none() {
        parsed.order = crate::store::ActivityOrder::Priority;
        parsed.descending = true;
    }
    let kept = kept_filters(&query);
    let page = PageRequest {
        page: 1,
        page_size: PER_COLUMN,
    };
    let mut columns = Vec::new();
    let mut all = Vec::new();
    for status in ActivityStatus::ALL {
        if parsed.filter.status.is_some_and(|s| s != *status) {
            columns.push((*status, 0, Vec::new()));
            continue;
        }
        let mut column_query = parsed.clone();
        column_query.filter.status = Some(*status);
        let found = state
            .services
            .activities
            .list(&ctx.me, &column_query, page)
            .await?;
        all.extend(found.results.iter().cloned());
        columns.push((*status, found.count, found.results));
    }
    let (users, projects) = names_for(&state, &ctx, &all).await;
    let return_to = href("/activities/board", &kept);
    let body = html! {
        div.page-head {
            h1 { "Board" }
            div.actions {
                a.button href=(href("/activities", &kept)) { "Table" }
                a #new-activity .button.primary href="/activities/new" { "New activity" }
            }
        }
        div #board .board data-live="activities" {
            @for (status, count, cards) in &columns {
                section.board-column data-status=(status.as_str()) aria-labelledby=(format!("col-{}", status.as_str())) {
                    h2 id=(format!("col-{}", status.as_str())) class=(format!("status-{}", status.as_str())) {
                        (status.label()) " " span.count { (count) }
                    }
                    @if cards.is_empty() {
                        (empty_state("Nothing here."))
                    }
                    @for a in cards {
                        article.card draggable="true" data-activity-id=(a.id.0) data-status=(a.status.as_str()) data-version=(a.version) {
                            a.title href=(format!("/activities/{}", a.id.0)) { (a.title) }
                            div.meta {
                                (priority_badge(a.priority))
                                @if let Some(u) = a.assigned_to { span.who { (users.get(&u).map_or("", String::as_str)) } }
                                @if let Some(p) = a.project_id.and_then(|p| projects.get(&p)) { span.project { (p) } }
                            }
                            @let next = next_statuses(&ctx, a);
                            @if !next.is_empty() {
                                form.move-form method="post" action=(format!("/activities/{}/status", a.id.0)) {
                                    (csrf_field(&ctx))
                                    input type="hidden" name="return_to" value=(return_to);
                                    label.visually-hidden for=(format!("move-{}", a.id.0)) { "Move “" (a.title) "” to" }
                                    select id=(format!("move-{}", a.id.0)) name="status" {
                                        @for to in &next { option value=(to.as_str()) { (to.label()) } }
                                    }
                                    button type="submit" { "Move" }
                                }
                            }
                        }
                    }
                    @if *count > cards.len() {
                        a.more href=(column_link(&kept, *status)) { "All " (count) " in the table →" }
                    }
                }
            }
        }
    };
    Ok(layout(&ctx, "Board", body).into_response())
}

/// The table filtered to one column's status, keeping the other filters.
fn column_link(kept: &[(&'static str, String)], status: ActivityStatus) -> String {
    let mut params: Vec<(&str, String)> = kept
        .iter()
        .filter(|(k, _)| *k != "status")
        .cloned()
        .collect();
    params.push(("status", status.as_str().to_string()));
    href("/activities", &params)
}
