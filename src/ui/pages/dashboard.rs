//! `/`: what a person needs first: what waits for their acknowledgement, open andon calls, their
//! open work by priority, unread notifications and the latest updates (critical ones first and
//! marked).

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::activities::{names_for, table};
use crate::domain::UserId;
use crate::domain::activity::{Activity, ActivityStatus, Priority};
use crate::domain::update::{Update, UpdateAcks};
use crate::http::AppState;
use crate::service::activities::ActivityQuery;
use crate::service::pagination::PageRequest;
use crate::service::updates::UpdateQuery;
use crate::ui::components::{csrf_field, empty_state, layout, priority_badge, when};
use crate::ui::error::UiError;
use crate::ui::session::Ctx;

const OPEN: [ActivityStatus; 3] = [
    ActivityStatus::InProgress,
    ActivityStatus::Planned,
    ActivityStatus::OnHold,
];

/// The caller's open activities (assigned to them), most urgent first, then by end time.
async fn my_open_work(state: &AppState, ctx: &Ctx) -> Result<(usize, Vec<Activity>), UiError> {
    let page = PageRequest {
        page: 1,
        page_size: 20,
    };
    let mut rows = Vec::new();
    let mut count = 0;
    for status in OPEN {
        let mut query = ActivityQuery::default();
        query.filter.assigned_to = Some(ctx.me.user.id);
        query.filter.status = Some(status);
        query.order = crate::store::ActivityOrder::Priority;
        query.descending = true;
        let found = state
            .services
            .activities
            .list(&ctx.me, &query, page)
            .await?;
        count += found.count;
        rows.extend(found.results);
    }
    rows.sort_by(|a, b| {
        b.priority
            .code()
            .cmp(&a.priority.code())
            .then(a.end_time.is_none().cmp(&b.end_time.is_none()))
            .then(a.end_time.cmp(&b.end_time))
            .then(a.id.0.cmp(&b.id.0))
    });
    rows.truncate(page.page_size);
    Ok((count, rows))
}

/// An update as a card; critical ones stand out.
pub fn update_card(ctx: &Ctx, update: &Update, author: &str) -> Markup {
    let critical = update.priority == Priority::Critical;
    let high = update.priority == Priority::High;
    let must_ack = update.requires_ack && update.acknowledged_at.is_none();
    // The version changes with my acknowledgement, so a live refresh marks the card.
    let version = if update.acknowledged_at.is_some() {
        "acked"
    } else {
        ""
    };
    html! {
        article.update .critical[critical] .high[high] .must-ack[must_ack] data-update-id=(update.id.0) data-version=(version) {
            header {
                h3 { (update.title) }
                (priority_badge(update.priority))
                span.type { (update.update_type.label()) }
                @if update.requires_ack {
                    span.badge.ack-badge { "Acknowledgement required" }
                }
            }
            @if !update.content.is_empty() {
                div.content { @for line in update.content.lines() { (line) br; } }
            }
            footer.muted { (author) " · " (when(&ctx.plant, update.created_at)) }
            @if update.requires_ack {
                div.ack {
                    @if let Some(at) = update.acknowledged_at {
                        span.acked { span aria-hidden="true" { "✓ " } "You acknowledged this " (when(&ctx.plant, at)) }
                    } @else {
                        form.inline method="post" action=(format!("/updates/{}/ack", update.id.0)) {
                            (csrf_field(ctx))
                            input type="hidden" name="return_to" value=(ctx.path);
                            button.primary type="submit" aria-label=(format!("Acknowledge “{}”", update.title)) { "Acknowledge" }
                        }
                    }
                }
            }
        }
    }
}

/// Who acknowledged an update and who has yet to (for its author, staff and admin).
pub fn acks_panel(update: &Update, acks: &UpdateAcks, names: &HashMap<UserId, String>) -> Markup {
    let name = |id: &UserId| {
        names
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("User {}", id.0))
    };
    html! {
        details.acks data-acks-for=(update.id.0) {
            summary {
                (acks.acknowledged.len()) " acknowledged · " (acks.pending.len()) " pending"
            }
            div.ack-lists {
                div {
                    h4 { "Acknowledged" }
                    @if acks.acknowledged.is_empty() { p.muted { "No one yet." } }
                    ul.acknowledged {
                        @for a in &acks.acknowledged {
                            li data-user-id=(a.user_id.0) { (name(&a.user_id)) }
                        }
                    }
                }
                div {
                    h4 { "Pending" }
                    @if acks.pending.is_empty() { p.muted { "No one." } }
                    ul.pending {
                        @for u in &acks.pending {
                            li data-user-id=(u.0) { (name(u)) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /`.
pub async fn page(State(state): State<AppState>, ctx: Ctx) -> Result<Response, UiError> {
    let (open_count, work) = my_open_work(&state, &ctx).await?;
    let (users, projects) = names_for(&state, &ctx, &work).await;
    let few = PageRequest {
        page: 1,
        page_size: 5,
    };
    let unread = state
        .services
        .updates
        .notifications(&ctx.me, true, few)
        .await?;
    let updates = state
        .services
        .updates
        .list(&ctx.me, UpdateQuery::default(), few)
        .await?;
    let to_ack = state
        .services
        .updates
        .list(
            &ctx.me,
            UpdateQuery {
                pending_ack: true,
                ..UpdateQuery::default()
            },
            few,
        )
        .await?;
    let calls = state
        .services
        .andon
        .list(
            &ctx.me,
            crate::service::andon::AndonQuery {
                open: Some(true),
                ..Default::default()
            },
            few,
        )
        .await?;
    let author_ids = updates
        .results
        .iter()
        .chain(&to_ack.results)
        .map(|u| u.created_by)
        .collect();
    let authors = super::user_names(&state, &ctx.me, author_ids).await;
    let body = html! {
        h1 { "Hello, " (ctx.me.user.display_name) }
        // What asks for my acknowledgement comes first, and stands out while anything does.
        section #to-acknowledge .panel .attention[to_ack.count > 0] data-live="updates" aria-labelledby="to-acknowledge-h" {
            h2 #to-acknowledge-h { "Waiting for your acknowledgement " span.count { (to_ack.count) } }
            @if to_ack.results.is_empty() {
                (empty_state("Nothing to acknowledge."))
            }
            @for u in &to_ack.results {
                (update_card(&ctx, u, authors.get(&u.created_by).map_or("", String::as_str)))
            }
            @if to_ack.count > to_ack.results.len() {
                a.more href="/updates?pending_ack=true" { "All " (to_ack.count) " →" }
            }
        }
        div.dashboard {
            section #open-andon .panel .attention[calls.count > 0] data-live="andon" aria-labelledby="open-andon-h" {
                h2 #open-andon-h { "Open andon calls " span.count { (calls.count) } }
                @if calls.results.is_empty() {
                    (empty_state("No one is calling for help."))
                } @else {
                    ul.andon-calls {
                        @for c in &calls.results {
                            li data-andon-id=(c.id.0) data-version=(c.version) {
                                a href=(format!("/andon#andon-{}", c.id.0)) { (c.kind.label()) ": " (c.message) }
                                " " span.badge { "Level " (c.level) } " " span.muted { (c.status.label()) ", " (when(&ctx.plant, c.raised_at)) }
                            }
                        }
                    }
                    a.more href="/andon" { "The andon board →" }
                }
            }
            section #my-activities .panel data-live="activities" aria-labelledby="my-activities-h" {
                h2 #my-activities-h { "My open activities " span.count { (open_count) } }
                @if work.is_empty() {
                    (empty_state("Nothing assigned to you is open."))
                } @else {
                    (table(&ctx, &work, &users, &projects, None))
                    @if open_count > work.len() {
                        a.more href=(format!("/activities?assigned_to={}", ctx.me.user.id.0)) { "All " (open_count) " →" }
                    }
                }
            }
            section #notifications .panel data-live="notifications" aria-labelledby="notifications-h" {
                h2 #notifications-h { "Unread notifications " span.count { (unread.count) } }
                @if unread.results.is_empty() {
                    (empty_state("You are all caught up."))
                } @else {
                    ul.notifications {
                        @for n in &unread.results {
                            li data-notification-id=(n.id.0) {
                                a href=(n.link) { (n.title) }
                                " " span.muted { (when(&ctx.plant, n.created_at)) }
                            }
                        }
                    }
                    a.more href="/notifications" { "All notifications →" }
                }
            }
            section #latest-updates .panel data-live="updates" aria-labelledby="updates-h" {
                h2 #updates-h { "Latest updates" }
                @if updates.results.is_empty() {
                    (empty_state("No updates yet."))
                }
                @for u in &updates.results {
                    (update_card(&ctx, u, authors.get(&u.created_by).map_or("", String::as_str)))
                }
                a.more href="/updates" { "All updates →" }
            }
        }
    };
    Ok(layout(&ctx, "Dashboard", body).into_response())
}
