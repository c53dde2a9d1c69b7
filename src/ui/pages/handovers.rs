//! `/handovers`: the shift handover inbox (submitted handovers waiting for an acknowledgement
//! first, then my drafts, then the recent ones), the handover form (asset, shift, the texts,
//! linked activities; save a draft or submit), and a handover's page with its acknowledge
//! button and comment. Every rule is the service's; everything updates live from the
//! `handovers` topic.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use crate::domain::activity::{Activity, ActivityStatus};
use crate::domain::handover::{Handover, HandoverStatus};
use crate::domain::shopfloor::{Asset, Shift};
use crate::domain::{ActivityId, AssetId, DomainError, FieldErrors, HandoverId, ShiftId, UserId};
use crate::http::AppState;
use crate::http::extract::PathId;
use crate::service::Principal;
use crate::service::activities::ActivityQuery;
use crate::service::handovers::{AcknowledgeHandover, HandoverPatch, NewHandover};
use crate::service::pagination::PageRequest;
use crate::store::{AssetFilter, HandoverFilter};
use crate::ui::components::{csrf_field, empty_state, field, form_error, layout, select, when};
use crate::ui::error::UiError;
use crate::ui::form::{Fields, UiForm, failure};
use crate::ui::session::{Ctx, Flash, redirect};

/// How many handovers each part of the inbox shows.
const SHOWN: usize = 30;
/// How many recent activities the form offers to link.
const OFFERED: usize = 30;

fn page(size: usize) -> PageRequest {
    PageRequest {
        page: 1,
        page_size: size,
    }
}

/// What the pages name things by: assets, shifts and people.
struct Names {
    assets: Vec<Asset>,
    shifts: Vec<Shift>,
    people: HashMap<UserId, String>,
}

impl Names {
    async fn load(
        state: &AppState,
        me: &Principal,
        handovers: &[&Handover],
    ) -> Result<Names, DomainError> {
        let assets = state
            .services
            .shopfloor
            .assets(me, AssetFilter::default(), page(200))
            .await?
            .results;
        let shifts = state.services.shopfloor.shifts(me).await?;
        let mut ids: Vec<UserId> = handovers
            .iter()
            .flat_map(|h| std::iter::once(h.written_by).chain(h.acknowledged_by))
            .collect();
        ids.sort();
        ids.dedup();
        let people = state
            .services
            .users
            .get_many(me, &ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect();
        Ok(Names {
            assets,
            shifts,
            people,
        })
    }

    fn asset(&self, id: AssetId) -> String {
        self.assets.iter().find(|a| a.id == id).map_or_else(
            || format!("Asset #{id}"),
            |a| format!("{} {}", a.code, a.name),
        )
    }

    fn shift(&self, id: ShiftId) -> String {
        self.shifts
            .iter()
            .find(|s| s.id == id)
            .map_or_else(|| format!("Shift #{id}"), |s| s.name.clone())
    }

    fn person(&self, id: UserId) -> String {
        self.people
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("User #{id}"))
    }
}

fn status_badge(h: &Handover) -> Markup {
    html! {
        span class=(format!("badge handover-{}", h.status.as_str())) { (h.status.label()) }
        @if h.overdue_at.is_some() && h.status == HandoverStatus::Submitted {
            " " span.badge.handover-overdue { "Overdue" }
        }
    }
}

/// The acknowledge form: a comment and one button.
fn ack_form(ctx: &Ctx, h: &Handover, errors: &FieldErrors, comment: &str) -> Markup {
    let messages = errors.get("comment");
    html! {
        form.ack-form method="post" action=(format!("/handovers/{}/acknowledge", h.id)) novalidate {
            (csrf_field(ctx))
            div.field .invalid[messages.is_some()] {
                label for=(format!("ack-comment-{}", h.id)) { "Comment (optional)" }
                textarea id=(format!("ack-comment-{}", h.id)) name="comment" rows="2" maxlength="2000" { (comment) }
                @if let Some(messages) = messages {
                    @for m in messages { p.field-error { "Comment " (m) } }
                }
            }
            button.primary.big type="submit" { "Acknowledge" }
        }
    }
}

/// One handover as a card: what, where, who, when, and the one act that fits the viewer.
fn card(ctx: &Ctx, names: &Names, h: &Handover) -> Markup {
    let mine = h.written_by == ctx.me.user.id;
    html! {
        article.handover-card data-handover-id=(h.id.0) data-version=(h.version) {
            header {
                h3 { a href=(format!("/handovers/{}", h.id)) { (names.asset(h.asset_id)) " · " (names.shift(h.shift_id)) } }
                (status_badge(h))
            }
            p.meta {
                "by " (names.person(h.written_by))
                @if let Some(t) = h.submitted_at { ", submitted " (when(&ctx.plant, t)) }
                @else { ", started " (when(&ctx.plant, h.created_at)) }
                @if let (Some(by), Some(t)) = (h.acknowledged_by, h.acknowledged_at) {
                    "; acknowledged by " (names.person(by)) " " (when(&ctx.plant, t))
                }
            }
            p.summary { (h.summary) }
            @if !h.open_issues.is_empty() { p { strong { "Open issues: " } (h.open_issues) } }
            @if !h.safety_notes.is_empty() { p.safety { strong { "Safety: " } (h.safety_notes) } }
            @if !h.ack_comment.is_empty() { p { strong { "Reply: " } (h.ack_comment) } }
            @match (h.status, mine) {
                (HandoverStatus::Submitted, false) => (ack_form(ctx, h, &FieldErrors::new(), "")),
                (HandoverStatus::Submitted, true) => p.hint { "Waiting for someone of the next shift." },
                (HandoverStatus::Draft, true) => a.button href=(format!("/handovers/{}", h.id)) { "Continue writing" },
                _ => {}
            }
        }
    }
}

fn cards(ctx: &Ctx, names: &Names, rows: &[Handover], empty: &str) -> Markup {
    html! {
        @if rows.is_empty() { (empty_state(empty)) }
        @for h in rows { (card(ctx, names, h)) }
    }
}

/// What the form was given, to show again.
#[derive(Default)]
struct Values {
    asset_id: String,
    shift_id: String,
    summary: String,
    open_issues: String,
    safety_notes: String,
    activity_ids: Vec<u64>,
}

impl Values {
    fn of(h: &Handover) -> Self {
        Self {
            asset_id: h.asset_id.0.to_string(),
            shift_id: h.shift_id.0.to_string(),
            summary: h.summary.clone(),
            open_issues: h.open_issues.clone(),
            safety_notes: h.safety_notes.clone(),
            activity_ids: h.activity_ids.iter().map(|a| a.0).collect(),
        }
    }

    fn sent(f: &Fields, raw_activities: &[u64]) -> Self {
        Self {
            asset_id: f.text("asset_id"),
            shift_id: f.text("shift_id"),
            summary: f.text("summary"),
            open_issues: f.text("open_issues"),
            safety_notes: f.text("safety_notes"),
            activity_ids: raw_activities.to_vec(),
        }
    }
}

/// Activities to offer for linking: the caller's most recently changed open ones, and those
/// already linked.
async fn offered(
    state: &AppState,
    me: &Principal,
    linked: &[u64],
) -> Result<Vec<Activity>, DomainError> {
    let query = ActivityQuery {
        order: crate::store::ActivityOrder::UpdatedAt,
        ..ActivityQuery::default()
    };
    let mut rows: Vec<Activity> = state
        .services
        .activities
        .list(me, &query, page(OFFERED))
        .await?
        .results
        .into_iter()
        .filter(|a| {
            linked.contains(&a.id.0)
                || !matches!(
                    a.status,
                    ActivityStatus::Completed | ActivityStatus::Cancelled
                )
        })
        .collect();
    let shown: HashSet<u64> = rows.iter().map(|a| a.id.0).collect();
    for id in linked.iter().filter(|id| !shown.contains(id)) {
        if let Ok(a) = state.services.activities.get(me, ActivityId(*id)).await {
            rows.push(a);
        }
    }
    Ok(rows)
}

/// The handover form: a new draft (`id` none) or an edit of one.
fn form(
    ctx: &Ctx,
    names: &Names,
    activities: &[Activity],
    id: Option<HandoverId>,
    v: &Values,
    errors: &FieldErrors,
) -> Markup {
    let assets: Vec<(String, String)> = names
        .assets
        .iter()
        .filter(|a| a.is_active || v.asset_id == a.id.0.to_string())
        .map(|a| (a.id.0.to_string(), format!("{} {}", a.code, a.name)))
        .collect();
    let shifts: Vec<(String, String)> = names
        .shifts
        .iter()
        .map(|s| {
            (
                s.id.0.to_string(),
                format!("{} ({}–{})", s.name, s.starts, s.ends),
            )
        })
        .collect();
    let action = id.map_or_else(|| "/handovers".to_string(), |id| format!("/handovers/{id}"));
    let text = |name: &str, label: &str, value: &str, rows: u8, required: bool| {
        let messages = errors.get(name);
        html! {
            div.field .invalid[messages.is_some()] {
                label for=(name) { (label) }
                textarea id=(name) name=(name) rows=(rows) maxlength="5000" required[required]
                    aria-invalid=[messages.is_some().then_some("true")]
                    aria-describedby=[messages.is_some().then(|| format!("{name}-error"))] { (value) }
                @if let Some(messages) = messages {
                    @for m in messages { p.field-error id=(format!("{name}-error")) { (label) " " (m) } }
                }
            }
        }
    };
    let linked_errors = errors.get("activity_ids");
    html! {
        form #handover-form .stacked method="post" action=(action) novalidate {
            (csrf_field(ctx))
            (field("Asset", "asset_id", errors, select("asset_id", &assets, &v.asset_id, Some("Choose the asset"), errors)))
            (field("Shift", "shift_id", errors, select("shift_id", &shifts, &v.shift_id, Some("Choose the shift"), errors)))
            (text("summary", "What happened", &v.summary, 4, true))
            (text("open_issues", "Open issues for the next shift", &v.open_issues, 3, false))
            (text("safety_notes", "Safety notes", &v.safety_notes, 2, false))
            fieldset.field .invalid[linked_errors.is_some()] .linked-activities {
                legend { "Linked activities" }
                @if activities.is_empty() { p.hint { "No open activities to link." } }
                @for a in activities {
                    label.check {
                        input type="checkbox" name="activity_ids" value=(a.id.0) checked[v.activity_ids.contains(&a.id.0)];
                        " " (a.title)
                    }
                }
                @if let Some(messages) = linked_errors {
                    @for m in messages { p.field-error { "Linked activities " (m) } }
                }
            }
            div.actions {
                button type="submit" name="then" value="save" { "Save draft" }
                button.primary type="submit" name="then" value="submit" { "Submit handover" }
            }
        }
    }
}

/// The inbox's three parts, each a live region.
async fn inbox(state: &AppState, ctx: &Ctx) -> Result<(Markup, Names), DomainError> {
    let me = &ctx.me;
    let list = |status, written_by, size| {
        state.services.handovers.list(
            me,
            None,
            HandoverFilter {
                status: Some(status),
                written_by,
                ..HandoverFilter::default()
            },
            page(size),
        )
    };
    let waiting = list(HandoverStatus::Submitted, None, SHOWN).await?;
    let drafts = list(HandoverStatus::Draft, Some(me.user.id), SHOWN).await?;
    let recent = list(HandoverStatus::Acknowledged, None, 10).await?;
    let all: Vec<&Handover> = waiting
        .results
        .iter()
        .chain(&drafts.results)
        .chain(&recent.results)
        .collect();
    let names = Names::load(state, me, &all).await?;
    // Mine waiting come last: what I can act on first.
    let mut waiting_rows = waiting.results.clone();
    waiting_rows.sort_by_key(|h| h.written_by == me.user.id);
    let markup = html! {
        section #handover-inbox .handover-list data-live="handovers" aria-live="polite" aria-labelledby="waiting-title" {
            h2 #waiting-title { "Waiting for acknowledgement " span.count { (waiting.count) } }
            (cards(ctx, &names, &waiting_rows, "Nothing waiting: every handover is acknowledged."))
        }
        section #handover-drafts .handover-list data-live="handovers" aria-labelledby="drafts-title" {
            h2 #drafts-title { "My drafts" }
            (cards(ctx, &names, &drafts.results, "No drafts."))
        }
        section #handover-recent .handover-list data-live="handovers" aria-labelledby="recent-title" {
            h2 #recent-title { "Recently acknowledged" }
            (cards(ctx, &names, &recent.results, "None yet."))
        }
    };
    Ok((markup, names))
}

async fn inbox_page(
    state: &AppState,
    ctx: &Ctx,
    form_markup: Option<Markup>,
) -> Result<Markup, UiError> {
    let (regions, names) = inbox(state, ctx).await?;
    let open = form_markup.is_some();
    let form_markup = match form_markup {
        Some(m) => m,
        None => {
            let activities = offered(state, &ctx.me, &[]).await?;
            form(
                ctx,
                &names,
                &activities,
                None,
                &Values::default(),
                &FieldErrors::new(),
            )
        }
    };
    Ok(layout(
        ctx,
        "Shift handovers",
        html! {
            div.page-head { h1 { "Shift handovers" } }
            details.create #new-handover open[open] {
                summary.button.primary { "Write a handover" }
                (form_markup)
            }
            (regions)
        },
    ))
}

/// `GET /handovers`.
pub async fn page_get(State(state): State<AppState>, ctx: Ctx) -> Result<Response, UiError> {
    Ok(inbox_page(&state, &ctx, None).await?.into_response())
}

/// The form's fields as the service takes them; what cannot be read is a field error.
fn read_form(f: &Fields) -> (Option<AssetId>, Option<ShiftId>, Vec<u64>, FieldErrors) {
    let mut errors = FieldErrors::new();
    let mut id = |name: &str| match f.id(name) {
        Ok(Some(v)) => Some(v),
        Ok(None) => {
            errors.insert(name.into(), vec!["must be chosen".into()]);
            None
        }
        Err((k, m)) => {
            errors.insert(k, vec![m]);
            None
        }
    };
    let asset = id("asset_id").map(AssetId);
    let shift = id("shift_id").map(ShiftId);
    let activities: Vec<u64> = f
        .all("activity_ids")
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .collect();
    (asset, shift, activities, errors)
}

fn wants_submit(f: &Fields) -> bool {
    f.raw("then") == Some("submit")
}

/// `POST /handovers`: a new draft, submitted at once when asked.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    form_in: UiForm,
) -> Result<Response, UiError> {
    let f = &form_in.fields;
    let (asset, shift, activities, errors) = read_form(f);
    let result = match (asset, shift, DomainError::check(errors)) {
        (Some(asset_id), Some(shift_id), Ok(())) => {
            let input = NewHandover {
                asset_id,
                shift_id,
                summary: f.text("summary"),
                open_issues: f.text("open_issues"),
                safety_notes: f.text("safety_notes"),
                activity_ids: activities.iter().map(|a| ActivityId(*a)).collect(),
            };
            match state.services.handovers.create(&form_in.me, input).await {
                Ok(h) if wants_submit(f) => {
                    state.services.handovers.submit(&form_in.me, h.id).await
                }
                other => other,
            }
        }
        (_, _, Err(e)) => Err(e),
        _ => Err(DomainError::field("asset_id", "must be chosen")),
    };
    match result {
        Ok(h) => {
            let (to, message) = if h.status == HandoverStatus::Submitted {
                ("/handovers".to_string(), "Handover submitted.")
            } else {
                (format!("/handovers/{}", h.id), "Draft saved.")
            };
            Ok(redirect(&state, &to, Flash::done(message)))
        }
        Err(e) => {
            let (status, errors, message) = failure(e)?;
            let (_, names) = inbox(&state, &ctx).await?;
            let offered = offered(&state, &ctx.me, &activities).await?;
            let markup = html! {
                (form_error(message.as_deref()))
                (form(&ctx, &names, &offered, None, &Values::sent(f, &activities), &errors))
            };
            Ok((status, inbox_page(&state, &ctx, Some(markup)).await?).into_response())
        }
    }
}

/// A handover's own page: the form for its writer while a draft, else the handover with the
/// acknowledge form for anyone else while it waits.
async fn detail_page(
    state: &AppState,
    ctx: &Ctx,
    h: &Handover,
    edit: Option<(Values, FieldErrors, Option<String>)>,
    ack: Option<(FieldErrors, String, Option<String>)>,
) -> Result<Markup, UiError> {
    let names = Names::load(state, &ctx.me, &[h]).await?;
    let mine = h.written_by == ctx.me.user.id;
    let editable = mine && h.status == HandoverStatus::Draft;
    let body = if editable {
        let (values, errors, message) =
            edit.unwrap_or_else(|| (Values::of(h), FieldErrors::new(), None));
        let activities = offered(state, &ctx.me, &values.activity_ids).await?;
        html! {
            (form_error(message.as_deref()))
            (form(ctx, &names, &activities, Some(h.id), &values, &errors))
            form.inline method="post" action=(format!("/handovers/{}/delete", h.id)) {
                (csrf_field(ctx))
                button.danger type="submit" { "Delete draft" }
            }
        }
    } else {
        let linked = offered(
            state,
            &ctx.me,
            &h.activity_ids.iter().map(|a| a.0).collect::<Vec<_>>(),
        )
        .await?;
        html! {
            div #handover-detail data-live="handovers" {
                @if let Some((errors, comment, message)) = &ack {
                    (form_error(message.as_deref()))
                    article.handover-card {
                        header { h2 { (names.asset(h.asset_id)) " · " (names.shift(h.shift_id)) } (status_badge(h)) }
                        p.summary { (h.summary) }
                        (ack_form(ctx, h, errors, comment))
                    }
                } @else {
                    (card(ctx, &names, h))
                }
                @if h.status == HandoverStatus::Draft && ctx.is_admin() {
                    form.inline method="post" action=(format!("/handovers/{}/delete", h.id)) {
                        (csrf_field(ctx))
                        button.danger type="submit" { "Delete draft" }
                    }
                }
                @let links: Vec<&Activity> = linked.iter().filter(|a| h.activity_ids.contains(&a.id)).collect();
                @if !links.is_empty() {
                    h2 { "Linked activities" }
                    ul.linked {
                        @for a in links { li { a href=(format!("/activities/{}", a.id)) { (a.title) } } }
                    }
                }
            }
        }
    };
    Ok(layout(
        ctx,
        "Shift handover",
        html! {
            div.page-head { h1 { "Shift handover #" (h.id) } a.button href="/handovers" { "All handovers" } }
            (body)
        },
    ))
}

/// `GET /handovers/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> Result<Response, UiError> {
    let h = state
        .services
        .handovers
        .get(&ctx.me, HandoverId(id))
        .await?;
    Ok(detail_page(&state, &ctx, &h, None, None)
        .await?
        .into_response())
}

/// `POST /handovers/{id}`: edits a draft, and submits it when asked.
pub async fn edit(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    form_in: UiForm,
) -> Result<Response, UiError> {
    let id = HandoverId(id);
    let f = &form_in.fields;
    let (asset, shift, activities, errors) = read_form(f);
    let result = match DomainError::check(errors) {
        Ok(()) => {
            let patch = HandoverPatch {
                asset_id: asset,
                shift_id: shift,
                summary: Some(f.text("summary")),
                open_issues: Some(f.text("open_issues")),
                safety_notes: Some(f.text("safety_notes")),
                activity_ids: Some(activities.iter().map(|a| ActivityId(*a)).collect()),
                version: None,
            };
            match state
                .services
                .handovers
                .update(&form_in.me, id, patch)
                .await
            {
                Ok(_) if wants_submit(f) => state.services.handovers.submit(&form_in.me, id).await,
                other => other,
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(h) if h.status == HandoverStatus::Submitted => Ok(redirect(
            &state,
            "/handovers",
            Flash::done("Handover submitted."),
        )),
        Ok(h) => Ok(redirect(
            &state,
            &format!("/handovers/{}", h.id),
            Flash::done("Draft saved."),
        )),
        Err(e) => {
            let (status, errors, message) = failure(e)?;
            let h = state.services.handovers.get(&ctx.me, id).await?;
            let values = Values::sent(f, &activities);
            let page = detail_page(&state, &ctx, &h, Some((values, errors, message)), None).await?;
            Ok((status, page).into_response())
        }
    }
}

/// `POST /handovers/{id}/acknowledge`.
pub async fn acknowledge(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    form_in: UiForm,
) -> Result<Response, UiError> {
    let id = HandoverId(id);
    let comment = form_in.fields.text("comment");
    let input = AcknowledgeHandover {
        comment: Some(comment.clone()),
    };
    match state
        .services
        .handovers
        .acknowledge(&form_in.me, id, input)
        .await
    {
        Ok(_) => Ok(redirect(
            &state,
            "/handovers",
            Flash::done("Handover acknowledged."),
        )),
        Err(e) => {
            let (status, errors, message) = failure(e)?;
            let h = state.services.handovers.get(&ctx.me, id).await?;
            let page =
                detail_page(&state, &ctx, &h, None, Some((errors, comment, message))).await?;
            Ok((status, page).into_response())
        }
    }
}

/// `POST /handovers/{id}/delete`: a draft goes away.
pub async fn delete(
    State(state): State<AppState>,
    PathId(id): PathId,
    form_in: UiForm,
) -> Result<Response, UiError> {
    match state
        .services
        .handovers
        .delete(&form_in.me, HandoverId(id))
        .await
    {
        Ok(()) => Ok(redirect(
            &state,
            "/handovers",
            Flash::done("Draft deleted."),
        )),
        Err(e) => {
            let (_, _, message) = failure(e)?;
            Ok(redirect(
                &state,
                &format!("/handovers/{id}"),
                Flash::refused(message.unwrap_or_default()),
            ))
        }
    }
}
