//! `/activities`: the filterable, sortable, paged table; the form to create one; one
//! activity with its status moves, edit form and deletion.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::{project_choices, project_names, user_choices, user_names};
use crate::domain::activity::{
    Activity, ActivityStatus, ActivityType, Move, Priority, status_move,
};
use crate::domain::visibility::{can_change_activity, can_delete_activity};
use crate::domain::{ActivityId, DomainError, FieldErrors, ProjectId, UserId};
use crate::http::AppState;
use crate::http::extract::{PathId, QueryMap};
use crate::http::rest::activities::activity_query;
use crate::service::activities::{ActivityPatch, NewActivity};
use crate::ui::components::{
    choices, csrf_field, empty_state, field, form_error, href, layout, local_input, pager,
    parse_local_input, priority_badge, select, status_badge, text_input, when,
};
use crate::ui::error::UiError;
use crate::ui::form::{Fields, UiForm, failure, sent_by_script};
use crate::ui::session::{Ctx, Flash, redirect};

/// The list filters a page keeps in its URL, in order.
pub const FILTERS: &[&str] = &[
    "status",
    "type",
    "priority",
    "assigned_to",
    "project",
    "q",
    "ordering",
];

/// The filters of `query` as `(name, value)` pairs, for links that keep them.
pub fn kept_filters(query: &QueryMap) -> Vec<(&'static str, String)> {
    FILTERS
        .iter()
        .map(|k| (*k, query.get(k).unwrap_or_default().to_string()))
        .collect()
}

fn status_choices() -> Vec<(String, String)> {
    choices(
        ActivityStatus::ALL,
        ActivityStatus::as_str,
        ActivityStatus::label,
    )
}

fn type_choices() -> Vec<(String, String)> {
    choices(ActivityType::ALL, ActivityType::as_str, ActivityType::label)
}

fn priority_choices() -> Vec<(String, String)> {
    choices(Priority::ALL, Priority::as_str, Priority::label)
}

/// Who and which project each activity of `rows` names.
pub async fn names_for(
    state: &AppState,
    ctx: &Ctx,
    rows: &[Activity],
) -> (HashMap<UserId, String>, HashMap<ProjectId, String>) {
    let assignees: Vec<UserId> = rows.iter().filter_map(|a| a.assigned_to).collect();
    let project_ids: Vec<ProjectId> = rows.iter().filter_map(|a| a.project_id).collect();
    let users = user_names(state, &ctx.me, assignees).await;
    let projects = project_names(state, &ctx.me, project_ids).await;
    (users, projects)
}

/// A table of activities; `sort` links the column headings when given the current filters.
pub fn table(
    ctx: &Ctx,
    rows: &[Activity],
    users: &HashMap<UserId, String>,
    projects: &HashMap<ProjectId, String>,
    sort: Option<&[(&'static str, String)]>,
) -> Markup {
    let heading = |label: &str, key: &str| -> Markup {
        let Some(params) = sort else {
            return html! { th scope="col" { (label) } };
        };
        let current = params
            .iter()
            .find(|(k, _)| *k == "ordering")
            .map_or("", |(_, v)| v.as_str());
        let (next, state) = if current == key {
            (format!("-{key}"), Some("ascending"))
        } else if current == format!("-{key}") {
            (key.to_string(), Some("descending"))
        } else {
            (key.to_string(), None)
        };
        let mut all: Vec<(&str, String)> = params
            .iter()
            .filter(|(k, _)| *k != "ordering")
            .cloned()
            .collect();
        all.push(("ordering", next));
        html! {
            th scope="col" aria-sort=[state] {
                a href=(href("/activities", &all)) { (label)
                    @match state { Some("ascending") => " ↑", Some(_) => " ↓", None => "" }
                }
            }
        }
    };
    html! {
        table #activity-table .data {
            thead {
                tr {
                    (heading("Title", "title"))
                    th scope="col" { "Status" }
                    (heading("Priority", "priority"))
                    th scope="col" { "Type" }
                    th scope="col" { "Assignee" }
                    th scope="col" { "Project" }
                    (heading("Start", "start_time"))
                    (heading("End", "end_time"))
                }
            }
            tbody {
                @for a in rows {
                    tr data-activity-id=(a.id.0) data-version=(a.version) {
                        td data-label="Title" { a href=(format!("/activities/{}", a.id.0)) { (a.title) } }
                        td data-label="Status" { (status_badge(a.status)) }
                        td data-label="Priority" { (priority_badge(a.priority)) }
                        td data-label="Type" { (a.activity_type.label()) }
                        td data-label="Assignee" {
                            @match a.assigned_to {
                                Some(u) => (users.get(&u).map_or("", String::as_str)),
                                None => span.muted { "—" },
                            }
                        }
                        td data-label="Project" {
                            @match a.project_id.and_then(|p| projects.get(&p).map(|n| (p, n))) {
                                Some((p, name)) => a href=(format!("/projects/{}", p.0)) { (name) },
                                None => span.muted { "—" },
                            }
                        }
                        td data-label="Start" { @if let Some(t) = a.start_time { (when(&ctx.plant, t)) } }
                        td data-label="End" { @if let Some(t) = a.end_time { (when(&ctx.plant, t)) } }
                    }
                }
            }
        }
    }
}

/// The filter bar, kept in the URL so a filtered view can be bookmarked.
async fn filters(state: &AppState, ctx: &Ctx, query: &QueryMap, action: &str) -> Markup {
    let none = FieldErrors::new();
    let users = user_choices(state, &ctx.me).await;
    let projects = project_choices(state, &ctx.me).await;
    let v = |k: &str| query.get(k).unwrap_or_default().to_string();
    html! {
        form #activity-filters .filters method="get" action=(action) {
            div.field { label for="q" { "Text" } input #q type="search" name="q" value=(v("q")); }
            (field("Status", "status", &none, select("status", &status_choices(), &v("status"), Some("Any"), &none)))
            (field("Type", "type", &none, select("type", &type_choices(), &v("type"), Some("Any"), &none)))
            (field("Priority", "priority", &none, select("priority", &priority_choices(), &v("priority"), Some("Any"), &none)))
            (field("Assignee", "assigned_to", &none, select("assigned_to", &users, &v("assigned_to"), Some("Anyone"), &none)))
            (field("Project", "project", &none, select("project", &projects, &v("project"), Some("Any"), &none)))
            input type="hidden" name="ordering" value=(v("ordering"));
            button type="submit" { "Filter" }
            a.button.quiet href=(action) { "Clear" }
        }
    }
}

/// `GET /activities`.
pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let page_request = query.page().map_err(|_| bad_filter())?;
    let parsed = activity_query(&query).map_err(|_| bad_filter())?;
    let page = state
        .services
        .activities
        .list(&ctx.me, &parsed, page_request)
        .await?;
    let (users, projects) = names_for(&state, &ctx, &page.results).await;
    let kept = kept_filters(&query);
    let body = html! {
        div.page-head {
            h1 { "Activities" }
            div.actions {
                a #board-view .button href=(href("/activities/board", &kept)) { "Board" }
                a #new-activity .button.primary href="/activities/new" { "New activity" }
            }
        }
        (filters(&state, &ctx, &query, "/activities").await)
        div #activity-list data-live="activities" {
            @if page.results.is_empty() {
                (empty_state("No activities match these filters."))
            } @else {
                (table(&ctx, &page.results, &users, &projects, Some(&kept)))
            }
            (pager("/activities", &kept, page_request.page, page_request.page_size, page.count))
        }
    };
    Ok(layout(&ctx, "Activities", body).into_response())
}

fn bad_filter() -> UiError {
    UiError::Page(crate::ui::error::ErrorPage::new(
        StatusCode::BAD_REQUEST,
        "Bad filter",
        "One of the filters in the address is not valid. Clear the filters and try again.",
    ))
}

/// The values a form shows: a stored activity's, or what was sent.
#[derive(Default)]
struct Values {
    title: String,
    description: String,
    activity_type: String,
    priority: String,
    start_time: String,
    end_time: String,
    assigned_to: String,
    project_id: String,
    version: String,
}

impl Values {
    fn of(ctx: &Ctx, a: &Activity) -> Values {
        Values {
            title: a.title.clone(),
            description: a.description.clone(),
            activity_type: a.activity_type.as_str().into(),
            priority: a.priority.as_str().into(),
            start_time: local_input(&ctx.plant, a.start_time),
            end_time: local_input(&ctx.plant, a.end_time),
            assigned_to: a.assigned_to.map(|u| u.0.to_string()).unwrap_or_default(),
            project_id: a.project_id.map(|p| p.0.to_string()).unwrap_or_default(),
            version: a.version.to_string(),
        }
    }

    fn sent(fields: &Fields) -> Values {
        Values {
            title: fields.text("title"),
            description: fields.text("description"),
            activity_type: fields.text("type"),
            priority: fields.text("priority"),
            start_time: fields.text("start_time"),
            end_time: fields.text("end_time"),
            assigned_to: fields.text("assigned_to"),
            project_id: fields.text("project_id"),
            version: fields.text("version"),
        }
    }
}

async fn activity_form(
    state: &AppState,
    ctx: &Ctx,
    action: &str,
    values: &Values,
    errors: &FieldErrors,
    submit: &str,
) -> Markup {
    let users = user_choices(state, &ctx.me).await;
    let projects = project_choices(state, &ctx.me).await;
    html! {
        form #activity-form .stacked method="post" action=(action) novalidate {
            (csrf_field(ctx))
            @if !values.version.is_empty() {
                input type="hidden" name="version" value=(values.version);
            }
            (field("Title", "title", errors, text_input("title", "text", &values.title, errors, true)))
            (field("Type", "type", errors, select("type", &type_choices(), &values.activity_type, None, errors)))
            (field("Priority", "priority", errors, select("priority", &priority_choices(), if values.priority.is_empty() { "medium" } else { &values.priority }, None, errors)))
            (field("Start", "start_time", errors, text_input("start_time", "datetime-local", &values.start_time, errors, false)))
            (field("End", "end_time", errors, text_input("end_time", "datetime-local", &values.end_time, errors, false)))
            (field("Assignee", "assigned_to", errors, select("assigned_to", &users, &values.assigned_to, Some("Nobody"), errors)))
            (field("Project", "project_id", errors, select("project_id", &projects, &values.project_id, Some("No project"), errors)))
            (field("Description", "description", errors, html! {
                textarea #description name="description" rows="6" { (values.description) }
            }))
            button.primary type="submit" { (submit) }
        }
    }
}

/// Reads the form's fields into typed values; problems go into `errors`.
struct Parsed {
    activity_type: Option<ActivityType>,
    priority: Option<Priority>,
    start_time: Option<time::OffsetDateTime>,
    end_time: Option<time::OffsetDateTime>,
    assigned_to: Option<UserId>,
    project_id: Option<ProjectId>,
}

fn parse(ctx: &Ctx, fields: &Fields, errors: &mut FieldErrors) -> Parsed {
    let mut push = |name: &str, message: &str| {
        errors
            .entry(name.to_string())
            .or_default()
            .push(message.to_string());
    };
    let activity_type = fields.filled("type").and_then(|raw| {
        let parsed = ActivityType::parse(raw);
        if parsed.is_none() {
            push("type", "must be one of the listed types");
        }
        parsed
    });
    let priority = fields.filled("priority").and_then(|raw| {
        let parsed = Priority::parse(raw);
        if parsed.is_none() {
            push("priority", "must be one of the listed priorities");
        }
        parsed
    });
    let mut time_of = |name: &str| {
        fields.filled(name).and_then(|raw| {
            let parsed = parse_local_input(&ctx.plant, raw);
            if parsed.is_none() {
                push(name, "must be a date and time");
            }
            parsed
        })
    };
    let start_time = time_of("start_time");
    let end_time = time_of("end_time");
    let mut id_of = |name: &str| match fields.id(name) {
        Ok(id) => id,
        Err((field, message)) => {
            errors.entry(field).or_default().push(message);
            None
        }
    };
    let assigned_to = id_of("assigned_to").map(UserId);
    let project_id = id_of("project_id").map(ProjectId);
    Parsed {
        activity_type,
        priority,
        start_time,
        end_time,
        assigned_to,
        project_id,
    }
}

/// `GET /activities/new`.
pub async fn new_form(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let values = Values {
        project_id: query.get("project").unwrap_or_default().to_string(),
        ..Values::default()
    };
    let body = html! {
        h1 { "New activity" }
        (activity_form(&state, &ctx, "/activities", &values, &FieldErrors::new(), "Create activity").await)
    };
    Ok(layout(&ctx, "New activity", body).into_response())
}

/// `POST /activities`.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    form: UiForm,
) -> Result<Response, UiError> {
    let fields = &form.fields;
    let mut errors = FieldErrors::new();
    let parsed = parse(&ctx, fields, &mut errors);
    let result = match DomainError::check(errors) {
        Ok(()) => {
            let input = NewActivity {
                title: fields.text("title"),
                description: fields.text("description"),
                activity_type: parsed.activity_type,
                status: None,
                priority: parsed.priority,
                start_time: parsed.start_time,
                end_time: parsed.end_time,
                assigned_to: parsed.assigned_to,
                project_id: parsed.project_id,
            };
            state.services.activities.create(&form.me, input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(activity) => Ok(redirect(
            &state,
            &format!("/activities/{}", activity.id.0),
            Flash::done(format!("Created “{}”.", activity.title)),
        )),
        Err(e) => {
            let (status, errors, message) = failure(e)?;
            let body = html! {
                h1 { "New activity" }
                (form_error(message.as_deref()))
                (activity_form(&state, &ctx, "/activities", &Values::sent(fields), &errors, "Create activity").await)
            };
            Ok((status, layout(&ctx, "New activity", body)).into_response())
        }
    }
}

/// The statuses `ctx`'s caller may move `activity` to, in workflow order.
pub fn next_statuses(ctx: &Ctx, activity: &Activity) -> Vec<ActivityStatus> {
    ActivityStatus::ALL
        .iter()
        .copied()
        .filter(|to| match status_move(activity.status, *to) {
            Move::Allowed => true,
            Move::StaffOnly => ctx.is_staff(),
            Move::Illegal => false,
        })
        .collect()
}

async fn detail_page(
    state: &AppState,
    ctx: &Ctx,
    activity: &Activity,
    values: &Values,
    errors: &FieldErrors,
    message: Option<&str>,
) -> Markup {
    let history = state
        .services
        .activities
        .history(&ctx.me, activity.id, HISTORY)
        .await
        .unwrap_or_default();
    let steps: Vec<Step> = history_steps(&history);
    let ids: Vec<UserId> = [Some(activity.created_by), activity.assigned_to]
        .into_iter()
        .flatten()
        .chain(history.iter().filter_map(|e| e.actor.map(UserId)))
        .chain(steps.iter().flat_map(|s| s.people()))
        .collect();
    let people = user_names(state, &ctx.me, ids).await;
    let project = match activity.project_id {
        Some(p) => state.services.projects.get(&ctx.me, p).await.ok(),
        None => None,
    };
    let may_change = can_change_activity(&ctx.me.user, activity);
    let path = format!("/activities/{}", activity.id.0);
    html! {
        article.activity data-live="activities" id="activity" data-version=(activity.version) {
            div.page-head {
                h1 { (activity.title) }
                div #activity-status .status-line { (status_badge(activity.status)) " " (priority_badge(activity.priority)) }
            }
            @if may_change {
                div #status-actions .actions role="group" aria-label="Move to" {
                    @for to in next_statuses(ctx, activity) {
                        form method="post" action=(format!("{path}/status")) {
                            (csrf_field(ctx))
                            input type="hidden" name="return_to" value=(path);
                            button type="submit" name="status" value=(to.as_str()) { "→ " (to.label()) }
                        }
                    }
                }
            }
            dl.facts {
                dt { "Type" } dd { (activity.activity_type.label()) }
                dt { "Assignee" } dd { @match activity.assigned_to { Some(u) => (people.get(&u).map_or("", String::as_str)), None => "Nobody" } }
                dt { "Project" } dd { @match &project { Some(p) => a href=(format!("/projects/{}", p.id.0)) { (p.name) }, None => "None" } }
                dt { "Start" } dd { @match activity.start_time { Some(t) => (when(&ctx.plant, t)), None => "—" } }
                dt { "End" } dd { @match activity.end_time { Some(t) => (when(&ctx.plant, t)), None => "—" } }
            }
            @if !activity.description.is_empty() {
                div.description { @for line in activity.description.lines() { (line) br; } }
            }
            h2 { "History" }
            ol #history .timeline {
                @for step in &steps {
                    li {
                        strong { (step.actor.and_then(|a| people.get(&UserId(a))).map_or("Someone", String::as_str)) }
                        " "
                        @if step.created { "created it" } @else if step.changes.is_empty() { "changed it" } @else { "changed" }
                        ", " (when(&ctx.plant, step.at))
                        @if !step.changes.is_empty() {
                            ul.changes {
                                @for change in &step.changes {
                                    li { (change.field) ": " (change.from.show(&ctx.plant, &people)) " → " (change.to.show(&ctx.plant, &people)) }
                                }
                            }
                        }
                    }
                }
                @if steps.last().is_none_or(|s| !s.created) {
                    li { strong { (people.get(&activity.created_by).map_or("", String::as_str)) } " created it, " (when(&ctx.plant, activity.created_at)) }
                }
            }
        }
        @if may_change {
            section.edit {
                h2 { "Edit" }
                (form_error(message))
                (activity_form(state, ctx, &path, values, errors, "Save changes").await)
            }
        } @else {
            (form_error(message))
        }
        @if can_delete_activity(&ctx.me.user, activity) {
            form #delete-activity method="post" action=(format!("{path}/delete")) {
                (csrf_field(ctx))
                button.danger type="submit" { "Delete activity" }
            }
        }
    }
}

/// `GET /activities/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> Result<Response, UiError> {
    let activity = state
        .services
        .activities
        .get(&ctx.me, ActivityId(id))
        .await?;
    let values = Values::of(&ctx, &activity);
    let body = detail_page(&state, &ctx, &activity, &values, &FieldErrors::new(), None).await;
    Ok(layout(&ctx, &activity.title, body).into_response())
}

/// `POST /activities/{id}`: saves the edit form; a stale `version` says someone else changed it.
pub async fn edit(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    let fields = &form.fields;
    let mut errors = FieldErrors::new();
    let parsed = parse(&ctx, fields, &mut errors);
    let version = fields
        .filled("version")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let result = match DomainError::check(errors) {
        Ok(()) => {
            let patch = ActivityPatch {
                title: Some(fields.text("title")),
                description: Some(fields.text("description")),
                activity_type: parsed.activity_type,
                status: None,
                priority: parsed.priority,
                start_time: Some(parsed.start_time),
                end_time: Some(parsed.end_time),
                assigned_to: Some(parsed.assigned_to),
                project_id: Some(parsed.project_id),
                version,
            };
            state
                .services
                .activities
                .update(&form.me, ActivityId(id), patch)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(activity) => Ok(redirect(
            &state,
            &format!("/activities/{}", activity.id.0),
            Flash::done("Saved."),
        )),
        Err(e) => {
            let current = state
                .services
                .activities
                .get(&ctx.me, ActivityId(id))
                .await?;
            let stale = matches!(e, DomainError::Conflict(_));
            let (status, errors, message) = failure(e)?;
            let message = if stale {
                Some(format!(
                    "Changed by someone else while you edited it (now version {}, last changed {}) — reload to see their change; your edits are kept below.",
                    current.version,
                    crate::ui::components::local_text(&ctx.plant, current.updated_at)
                ))
            } else {
                message
            };
            let mut values = Values::sent(fields);
            if stale {
                values.version = current.version.to_string();
            }
            let body =
                detail_page(&state, &ctx, &current, &values, &errors, message.as_deref()).await;
            Ok((status, layout(&ctx, &current.title, body)).into_response())
        }
    }
}

/// `POST /activities/{id}/status`: one move through the service's transition rules. A page
/// form is answered with a redirect and a flash; the board's script gets a short answer.
pub async fn move_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    let back = form.fields.return_to(&format!("/activities/{id}"));
    let result = match form.fields.raw("status").and_then(ActivityStatus::parse) {
        Some(status) => {
            let patch = ActivityPatch {
                status: Some(status),
                ..ActivityPatch::default()
            };
            state
                .services
                .activities
                .update(&form.me, ActivityId(id), patch)
                .await
        }
        None => Err(DomainError::field("status", "must be one of the statuses")),
    };
    let script = sent_by_script(&headers);
    match result {
        Ok(activity) => {
            let message = format!("Moved “{}” to {}.", activity.title, activity.status.label());
            if script {
                return Ok((StatusCode::OK, message).into_response());
            }
            Ok(redirect(&state, &back, Flash::done(message)))
        }
        Err(DomainError::NotFound(_)) => Err(UiError::not_found()),
        Err(e) => {
            let status = match &e {
                DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
                DomainError::Conflict(_) => StatusCode::CONFLICT,
                DomainError::Validation { .. } | DomainError::BadRequest(_) => {
                    StatusCode::BAD_REQUEST
                }
                _ => return Err(e.into()),
            };
            let message = format!("Not moved: {e}.");
            if script {
                return Ok((status, message).into_response());
            }
            Ok(redirect(&state, &back, Flash::refused(message)))
        }
    }
}

/// `POST /activities/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    match state
        .services
        .activities
        .delete(&form.me, ActivityId(id))
        .await
    {
        Ok(()) => Ok(redirect(&state, "/activities", Flash::done("Deleted."))),
        Err(DomainError::Forbidden(m)) => Ok(redirect(
            &state,
            &format!("/activities/{id}"),
            Flash::refused(m),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Changes shown in an activity's history, newest first.
const HISTORY: usize = 30;

/// One entry of an activity's history: who, when, and which fields went from what to what.
struct Step {
    actor: Option<u64>,
    at: time::OffsetDateTime,
    created: bool,
    changes: Vec<FieldChange>,
}

impl Step {
    fn people(&self) -> impl Iterator<Item = UserId> + '_ {
        self.changes
            .iter()
            .flat_map(|c| [&c.from, &c.to])
            .filter_map(|v| match v {
                Shown::User(u) => Some(UserId(*u)),
                _ => None,
            })
    }
}

struct FieldChange {
    field: &'static str,
    from: Shown,
    to: Shown,
}

/// A field's value as the history shows it.
enum Shown {
    Nothing,
    Text(String),
    User(u64),
    Time(time::OffsetDateTime),
}

impl Shown {
    fn show(&self, plant: &crate::ui::session::Plant, people: &HashMap<UserId, String>) -> String {
        match self {
            Shown::Nothing => "none".into(),
            Shown::Text(t) => t.clone(),
            Shown::User(u) => people
                .get(&UserId(*u))
                .cloned()
                .unwrap_or_else(|| format!("#{u}")),
            Shown::Time(t) => crate::ui::components::local_text(plant, *t),
        }
    }
}

/// The fields a person reads in a history, how each is shown, from the REST form of an activity.
fn shown(field: &str, value: &serde_json::Value) -> Shown {
    use serde_json::Value;
    match (field, value) {
        (_, Value::Null) => Shown::Nothing,
        ("assigned_to", Value::Number(n)) => n.as_u64().map_or(Shown::Nothing, Shown::User),
        ("start_time" | "end_time", Value::String(s)) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_or_else(|_| Shown::Text(s.clone()), Shown::Time)
        }
        ("status", Value::String(s)) => Shown::Text(
            ActivityStatus::parse(s)
                .map_or(s.as_str(), |v| v.label())
                .into(),
        ),
        ("priority", Value::String(s)) => {
            Shown::Text(Priority::parse(s).map_or(s.as_str(), |v| v.label()).into())
        }
        ("type", Value::String(s)) => Shown::Text(
            ActivityType::parse(s)
                .map_or(s.as_str(), |v| v.label())
                .into(),
        ),
        ("description", Value::String(s)) => {
            Shown::Text(format!("{} characters", s.chars().count()))
        }
        (_, Value::String(s)) => Shown::Text(s.clone()),
        (_, other) => Shown::Text(other.to_string()),
    }
}

const TRACKED: [(&str, &str); 9] = [
    ("status", "Status"),
    ("title", "Title"),
    ("priority", "Priority"),
    ("type", "Type"),
    ("assigned_to", "Assignee"),
    ("project_id", "Project"),
    ("start_time", "Start"),
    ("end_time", "End"),
    ("description", "Description"),
];

/// Each change-log entry (newest first) compared with the one before it.
fn history_steps(entries: &[crate::domain::change::ChangeEntry]) -> Vec<Step> {
    use crate::domain::change::ChangeOp;
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let created = entry.op == ChangeOp::Created;
            let changes = match entries.get(i + 1) {
                Some(before) if !created => TRACKED
                    .iter()
                    .filter(|(key, _)| before.data.get(key) != entry.data.get(key))
                    .map(|(key, label)| FieldChange {
                        field: label,
                        from: shown(
                            key,
                            before.data.get(key).unwrap_or(&serde_json::Value::Null),
                        ),
                        to: shown(key, entry.data.get(key).unwrap_or(&serde_json::Value::Null)),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Step {
                actor: entry.actor,
                at: entry.ts,
                created,
                changes,
            }
        })
        .collect()
}
