//! `/updates`: announcements, newest first, critical ones standing out; staff and admins post
//! them; the author or an admin edits and deletes one on its own page.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::dashboard::{acks_panel, update_card};
use super::user_names;
use crate::domain::activity::Priority;
use crate::domain::update::{Update, UpdateAcks, UpdateType};
use crate::domain::visibility::{is_admin, is_staff};
use crate::domain::{DomainError, FieldErrors, UpdateId, UserId};
use crate::http::AppState;
use crate::http::extract::{PathId, QueryMap};
use crate::service::updates::{NewUpdate, UpdatePatch, UpdateQuery};
use crate::ui::components::{
    choices, csrf_field, empty_state, field, form_error, layout, pager, select, text_input,
};
use crate::ui::error::UiError;
use crate::ui::form::{Fields, UiForm, failure};
use crate::ui::session::{Ctx, Flash, redirect};

fn type_choices() -> Vec<(String, String)> {
    choices(UpdateType::ALL, UpdateType::as_str, UpdateType::label)
}

fn priority_choices() -> Vec<(String, String)> {
    choices(Priority::ALL, Priority::as_str, Priority::label)
}

struct Values {
    title: String,
    content: String,
    kind: String,
    priority: String,
    /// `yes`, `no`, or empty for the type's default.
    requires_ack: String,
}

fn ack_choices() -> Vec<(String, String)> {
    vec![
        ("yes".into(), "Required".into()),
        ("no".into(), "Not required".into()),
    ]
}

impl Values {
    fn blank() -> Values {
        Values {
            title: String::new(),
            content: String::new(),
            kind: "announcement".into(),
            priority: "medium".into(),
            requires_ack: String::new(),
        }
    }
    fn of(u: &Update) -> Values {
        Values {
            title: u.title.clone(),
            content: u.content.clone(),
            kind: u.update_type.as_str().into(),
            priority: u.priority.as_str().into(),
            requires_ack: if u.requires_ack { "yes" } else { "no" }.into(),
        }
    }
    fn sent(f: &Fields) -> Values {
        Values {
            title: f.text("title"),
            content: f.text("content"),
            kind: f.text("type"),
            priority: f.text("priority"),
            requires_ack: f.text("requires_ack"),
        }
    }
}

fn update_form(ctx: &Ctx, action: &str, v: &Values, errors: &FieldErrors, submit: &str) -> Markup {
    html! {
        form #update-form .stacked method="post" action=(action) novalidate {
            (csrf_field(ctx))
            (field("Title", "title", errors, text_input("title", "text", &v.title, errors, true)))
            (field("Type", "type", errors, select("type", &type_choices(), &v.kind, None, errors)))
            (field("Priority", "priority", errors, select("priority", &priority_choices(), &v.priority, None, errors)))
            (field("Acknowledgement", "requires_ack", errors, select("requires_ack", &ack_choices(), &v.requires_ack, Some("Default (required for safety notices)"), errors)))
            (field("Text", "content", errors, html! { textarea #content name="content" rows="5" { (v.content) } }))
            button.primary type="submit" { (submit) }
        }
    }
}

/// The list; `form` is the posting form and whether it shows open (after a failed post).
async fn list_body(
    state: &AppState,
    ctx: &Ctx,
    query: &QueryMap,
    form: Option<(Markup, bool)>,
) -> Result<Markup, UiError> {
    let request = query.page().map_err(|_| UiError::not_found())?;
    let pending_ack = query.get("pending_ack") == Some("true");
    let filter = if pending_ack {
        UpdateQuery {
            pending_ack,
            ..UpdateQuery::default()
        }
    } else {
        UpdateQuery {
            update_type: query.get("type").and_then(UpdateType::parse),
            priority: query.get("priority").and_then(Priority::parse),
            ..UpdateQuery::default()
        }
    };
    let page = state
        .services
        .updates
        .list(&ctx.me, filter, request)
        .await?;
    let acks = acks_of(state, ctx, &page.results).await?;
    let mut people: Vec<UserId> = page.results.iter().map(|u| u.created_by).collect();
    for a in acks.values() {
        people.extend(a.acknowledged.iter().map(|e| e.user_id));
        people.extend(a.pending.iter().copied());
    }
    let names = user_names(state, &ctx.me, people).await;
    let none = FieldErrors::new();
    let params = [
        ("type", query.get("type").unwrap_or_default().to_string()),
        (
            "priority",
            query.get("priority").unwrap_or_default().to_string(),
        ),
    ];
    Ok(html! {
        div.page-head { h1 { "Updates" } }
        @if let Some((form, open)) = form {
            details.create open[open] {
                summary.button { "Post an update" }
                (form)
            }
        }
        form #update-filters .filters method="get" action="/updates" {
            (field("Type", "type", &none, select("type", &type_choices(), &params[0].1, Some("Any"), &none)))
            (field("Priority", "priority", &none, select("priority", &priority_choices(), &params[1].1, Some("Any"), &none)))
            button type="submit" { "Filter" }
        }
        ol #updates .updates data-live="updates" {
            @if page.results.is_empty() { li { (empty_state("No updates.")) } }
            @for u in &page.results {
                li {
                    a.update-link href=(format!("/updates/{}", u.id.0)) aria-label=(format!("Open “{}”", u.title)) {}
                    (update_card(ctx, u, names.get(&u.created_by).map_or("", String::as_str)))
                    @if let Some(a) = acks.get(&u.id) { (acks_panel(u, a, &names)) }
                }
            }
        }
        (pager("/updates", &params, request.page, request.page_size, page.count))
    })
}

/// Who acknowledged each of `updates` that asks for it, where the caller may see it (its
/// author, staff and admin).
async fn acks_of(
    state: &AppState,
    ctx: &Ctx,
    updates: &[Update],
) -> Result<HashMap<UpdateId, UpdateAcks>, UiError> {
    let mut out = HashMap::new();
    for u in updates {
        if !u.requires_ack || !may_see_acks(ctx, u) {
            continue;
        }
        out.insert(
            u.id,
            state
                .services
                .updates
                .acknowledgements(&ctx.me, u.id)
                .await?,
        );
    }
    Ok(out)
}

fn may_see_acks(ctx: &Ctx, update: &Update) -> bool {
    is_staff(&ctx.me.user) || update.created_by == ctx.me.user.id
}

/// `POST /updates/{id}/ack`: the caller acknowledges, and goes back where they were.
pub async fn acknowledge(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    let back = form.fields.return_to("/updates");
    match state
        .services
        .updates
        .acknowledge(&form.me, UpdateId(id))
        .await
    {
        Ok(_) => Ok(redirect(&state, &back, Flash::done("Acknowledged."))),
        Err(DomainError::Conflict(m)) => Ok(redirect(&state, &back, Flash::refused(m))),
        Err(e) => Err(e.into()),
    }
}

/// `GET /updates`.
pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let form = is_staff(&ctx.me.user).then(|| {
        (
            update_form(
                &ctx,
                "/updates",
                &Values::blank(),
                &FieldErrors::new(),
                "Post update",
            ),
            false,
        )
    });
    let body = list_body(&state, &ctx, &query, form).await?;
    Ok(layout(&ctx, "Updates", body).into_response())
}

/// The form's acknowledgement choice: `None` for the default.
fn parse_ack(f: &Fields, errors: &mut FieldErrors) -> Option<bool> {
    match f.filled("requires_ack") {
        None => None,
        Some("yes") => Some(true),
        Some("no") => Some(false),
        Some(_) => {
            errors
                .entry("requires_ack".into())
                .or_default()
                .push("must be one of the listed choices".into());
            None
        }
    }
}

fn parse_choices(f: &Fields, errors: &mut FieldErrors) -> (Option<UpdateType>, Option<Priority>) {
    let kind = f.filled("type").and_then(|raw| {
        let parsed = UpdateType::parse(raw);
        if parsed.is_none() {
            errors
                .entry("type".into())
                .or_default()
                .push("must be one of the listed types".into());
        }
        parsed
    });
    let priority = f.filled("priority").and_then(|raw| {
        let parsed = Priority::parse(raw);
        if parsed.is_none() {
            errors
                .entry("priority".into())
                .or_default()
                .push("must be one of the listed priorities".into());
        }
        parsed
    });
    (kind, priority)
}

/// `POST /updates`.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
    form: UiForm,
) -> Result<Response, UiError> {
    let mut errors = FieldErrors::new();
    let (update_type, priority) = parse_choices(&form.fields, &mut errors);
    let requires_ack = parse_ack(&form.fields, &mut errors);
    let result = match DomainError::check(errors) {
        Ok(()) => {
            let input = NewUpdate {
                title: form.fields.text("title"),
                content: form.fields.text("content"),
                update_type,
                priority,
                requires_ack,
            };
            state.services.updates.create(&form.me, input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(update) => Ok(redirect(
            &state,
            "/updates",
            Flash::done(format!("Posted “{}”.", update.title)),
        )),
        Err(e) => {
            let (status, errors, message) = failure(e)?;
            let form_markup = html! {
                (form_error(message.as_deref()))
                (update_form(&ctx, "/updates", &Values::sent(&form.fields), &errors, "Post update"))
            };
            let body = list_body(&state, &ctx, &query, Some((form_markup, true))).await?;
            Ok((status, layout(&ctx, "Updates", body)).into_response())
        }
    }
}

fn may_edit(ctx: &Ctx, update: &Update) -> bool {
    is_admin(&ctx.me.user) || update.created_by == ctx.me.user.id
}

async fn detail_body(
    state: &AppState,
    ctx: &Ctx,
    update: &Update,
    values: &Values,
    errors: &FieldErrors,
    message: Option<&str>,
) -> Markup {
    let acks = acks_of(state, ctx, std::slice::from_ref(update))
        .await
        .unwrap_or_default();
    let mut people = vec![update.created_by];
    for a in acks.values() {
        people.extend(a.acknowledged.iter().map(|e| e.user_id));
        people.extend(a.pending.iter().copied());
    }
    let names = user_names(state, &ctx.me, people).await;
    let path = format!("/updates/{}", update.id.0);
    html! {
        h1 { (update.title) }
        div #update data-live="updates" {
            (update_card(ctx, update, names.get(&update.created_by).map_or("", String::as_str)))
            @if let Some(a) = acks.get(&update.id) { (acks_panel(update, a, &names)) }
        }
        @if may_edit(ctx, update) {
            section.edit {
                h2 { "Edit" }
                (form_error(message))
                (update_form(ctx, &path, values, errors, "Save changes"))
            }
            form #delete-update method="post" action=(format!("{path}/delete")) {
                (csrf_field(ctx))
                button.danger type="submit" { "Delete update" }
            }
        }
        p { a href="/updates" { "← All updates" } }
    }
}

/// `GET /updates/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> Result<Response, UiError> {
    let update = state.services.updates.get(&ctx.me, UpdateId(id)).await?;
    let body = detail_body(
        &state,
        &ctx,
        &update,
        &Values::of(&update),
        &FieldErrors::new(),
        None,
    )
    .await;
    Ok(layout(&ctx, &update.title, body).into_response())
}

/// `POST /updates/{id}`.
pub async fn edit(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    let mut errors = FieldErrors::new();
    let (update_type, priority) = parse_choices(&form.fields, &mut errors);
    let requires_ack = parse_ack(&form.fields, &mut errors);
    let result = match DomainError::check(errors) {
        Ok(()) => {
            let patch = UpdatePatch {
                title: Some(form.fields.text("title")),
                content: Some(form.fields.text("content")),
                update_type,
                priority,
                requires_ack,
            };
            state
                .services
                .updates
                .update(&form.me, UpdateId(id), patch)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(update) => Ok(redirect(
            &state,
            &format!("/updates/{}", update.id.0),
            Flash::done("Saved."),
        )),
        Err(e) => {
            let current = state.services.updates.get(&ctx.me, UpdateId(id)).await?;
            let (status, errors, message) = failure(e)?;
            let body = detail_body(
                &state,
                &ctx,
                &current,
                &Values::sent(&form.fields),
                &errors,
                message.as_deref(),
            )
            .await;
            Ok((status, layout(&ctx, &current.title, body)).into_response())
        }
    }
}

/// `POST /updates/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    match state.services.updates.delete(&form.me, UpdateId(id)).await {
        Ok(()) => Ok(redirect(&state, "/updates", Flash::done("Deleted."))),
        Err(DomainError::Forbidden(m)) => Ok(redirect(
            &state,
            &format!("/updates/{id}"),
            Flash::refused(m),
        )),
        Err(e) => Err(e.into()),
    }
}
