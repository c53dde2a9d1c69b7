//! `/projects`: the list with status and team size, a form to start one; a project's page with
//! its team (add, remove), its activities (the same table) and its room chat.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::activities::{names_for, table};
use super::chat::conversation_view;
use super::{user_choices, user_names};
use crate::domain::chat::Conversation;
use crate::domain::project::{Project, ProjectStatus};
use crate::domain::visibility::{can_change_project, is_admin, is_staff};
use crate::domain::{DomainError, FieldErrors, ProjectId, UserId};
use crate::http::AppState;
use crate::http::extract::{PathId, QueryMap};
use crate::service::activities::ActivityQuery;
use crate::service::pagination::PageRequest;
use crate::service::projects::{NewProject, ProjectPatch, ProjectQuery};
use crate::ui::components::{
    choices, csrf_field, empty_state, field, form_error, layout, pager, select, text_input,
};
use crate::ui::error::UiError;
use crate::ui::form::{UiForm, failure};
use crate::ui::session::{Ctx, Flash, redirect};

fn status_choices() -> Vec<(String, String)> {
    choices(
        ProjectStatus::ALL,
        ProjectStatus::as_str,
        ProjectStatus::label,
    )
}

fn status_badge(status: ProjectStatus) -> Markup {
    html! { span class=(format!("badge project-{}", status.as_str())) { (status.label()) } }
}

fn new_project_form(ctx: &Ctx, name: &str, errors: &FieldErrors) -> Markup {
    html! {
        details.create open[!errors.is_empty()] {
            summary.button { "New project" }
            form #project-form .stacked method="post" action="/projects" {
                (csrf_field(ctx))
                (field("Name", "name", errors, text_input("name", "text", name, errors, true)))
                (field("Status", "status", errors, select("status", &status_choices(), "planning", None, errors)))
                button.primary type="submit" { "Create project" }
            }
        }
    }
}

async fn list_page(
    state: &AppState,
    ctx: &Ctx,
    query: &QueryMap,
    form: Markup,
) -> Result<Markup, UiError> {
    let request = query.page().map_err(|_| UiError::not_found())?;
    let filter = ProjectQuery {
        status: query.get("status").and_then(ProjectStatus::parse),
        q: query.get("q").map(str::to_string),
        ..ProjectQuery::default()
    };
    let page = state
        .services
        .projects
        .list(&ctx.me, filter, request)
        .await?;
    let managers: Vec<UserId> = page.results.iter().map(|p| p.manager_id).collect();
    let names = user_names(state, &ctx.me, managers).await;
    let none = FieldErrors::new();
    let params = [
        (
            "status",
            query.get("status").unwrap_or_default().to_string(),
        ),
        ("q", query.get("q").unwrap_or_default().to_string()),
    ];
    Ok(html! {
        div.page-head { h1 { "Projects" } }
        @if is_staff(&ctx.me.user) { (form) }
        form #project-filters .filters method="get" action="/projects" {
            div.field { label for="q" { "Text" } input #q type="search" name="q" value=(params[1].1); }
            (field("Status", "status", &none, select("status", &status_choices(), &params[0].1, Some("Any"), &none)))
            button type="submit" { "Filter" }
        }
        div #project-list data-live="projects" {
            @if page.results.is_empty() {
                (empty_state("No projects to show."))
            } @else {
                table #project-table .data {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Manager" } th scope="col" { "Team" } } }
                    tbody {
                        @for p in &page.results {
                            tr data-project-id=(p.id.0) {
                                td data-label="Name" { a href=(format!("/projects/{}", p.id.0)) { (p.name) } }
                                td data-label="Status" { (status_badge(p.status)) }
                                td data-label="Manager" { (names.get(&p.manager_id).map_or("", String::as_str)) }
                                td data-label="Team" { (p.team_members.len()) }
                            }
                        }
                    }
                }
            }
            (pager("/projects", &params, request.page, request.page_size, page.count))
        }
    })
}

/// `GET /projects`.
pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let form = new_project_form(&ctx, "", &FieldErrors::new());
    let body = list_page(&state, &ctx, &query, form).await?;
    Ok(layout(&ctx, "Projects", body).into_response())
}

/// `POST /projects`.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
    form: UiForm,
) -> Result<Response, UiError> {
    let name = form.fields.text("name");
    let input = NewProject {
        name: name.clone(),
        description: String::new(),
        status: form.fields.raw("status").and_then(ProjectStatus::parse),
        start_date: None,
        end_date: None,
        manager_id: None,
        team_members: Vec::new(),
    };
    match state.services.projects.create(&form.me, input).await {
        Ok(project) => Ok(redirect(
            &state,
            &format!("/projects/{}", project.id.0),
            Flash::done(format!("Created “{}”.", project.name)),
        )),
        Err(e) => {
            let (status, errors, message) = failure(e)?;
            let form_markup =
                html! { (form_error(message.as_deref())) (new_project_form(&ctx, &name, &errors)) };
            let body = list_page(&state, &ctx, &query, form_markup).await?;
            Ok((status, layout(&ctx, "Projects", body)).into_response())
        }
    }
}

async fn detail_page(
    state: &AppState,
    ctx: &Ctx,
    project: &Project,
    error: Option<&str>,
) -> Result<Markup, UiError> {
    let team = state.services.projects.team(&ctx.me, project.id).await?;
    let manager = user_names(state, &ctx.me, vec![project.manager_id]).await;
    let may_change = can_change_project(&ctx.me.user, project);
    let mut query = ActivityQuery::default();
    query.filter.project = Some(project.id);
    let page = PageRequest {
        page: 1,
        page_size: 50,
    };
    let activities = state
        .services
        .activities
        .list(&ctx.me, &query, page)
        .await?;
    let (users, projects) = names_for(state, ctx, &activities.results).await;
    let choices = if may_change {
        user_choices(state, &ctx.me).await
    } else {
        Vec::new()
    };
    let path = format!("/projects/{}", project.id.0);
    let room = conversation_view(
        state,
        ctx,
        Conversation::Project(project.id),
        None,
        &path,
        None,
        "",
    )
    .await?;
    Ok(html! {
        div.page-head {
            h1 { (project.name) }
            div.actions { (status_badge(project.status)) }
        }
        (form_error(error))
        @if !project.description.is_empty() {
            div.description { @for line in project.description.lines() { (line) br; } }
        }
        p { "Manager: " (manager.get(&project.manager_id).map_or("", String::as_str)) }
        @if may_change {
            form #project-status .inline method="post" action=(format!("{path}/edit")) {
                (csrf_field(ctx))
                label for="status" { "Status" }
                div.row {
                    (select("status", &status_choices(), project.status.as_str(), None, &FieldErrors::new()))
                    button type="submit" { "Save" }
                }
            }
        }
        div.project-columns {
            section #team .panel data-live=(format!("project:{}", project.id.0)) aria-labelledby="team-h" {
                h2 #team-h { "Team " span.count { (team.len()) } }
                @if team.is_empty() { (empty_state("No team members yet.")) }
                ul.team {
                    @for member in &team {
                        li data-user-id=(member.id.0) {
                            span { (member.display_name) " " span.muted { "(" (member.username) ")" } }
                            @if may_change {
                                form method="post" action=(format!("{path}/team/{}/remove", member.id.0)) {
                                    (csrf_field(ctx))
                                    button.quiet type="submit" aria-label=(format!("Remove {} from the team", member.display_name)) { "Remove" }
                                }
                            }
                        }
                    }
                }
                @if may_change {
                    form #add-member .inline method="post" action=(format!("{path}/team")) {
                        (csrf_field(ctx))
                        label for="user_id" { "Add a member" }
                        div.row {
                            select #user_id name="user_id" required {
                                option value="" { "Choose a person" }
                                @for (id, name) in &choices { option value=(id) { (name) } }
                            }
                            button type="submit" { "Add" }
                        }
                    }
                }
            }
            section #room .panel aria-labelledby="room-h" {
                h2 #room-h { "Room chat" }
                (room)
            }
        }
        section #project-activities aria-labelledby="activities-h" {
            div.page-head {
                h2 #activities-h { "Activities " span.count { (activities.count) } }
                a.button href=(format!("/activities/new?project={}", project.id.0)) { "New activity in this project" }
            }
            div #project-activity-list data-live=(format!("project:{}", project.id.0)) {
                @if activities.results.is_empty() { (empty_state("No activities in this project.")) }
                @else { (table(ctx, &activities.results, &users, &projects, None)) }
                @if activities.count > activities.results.len() {
                    a.more href=(format!("/activities?project={}", project.id.0)) { "All " (activities.count) " →" }
                }
            }
        }
        @if is_admin(&ctx.me.user) {
            form #delete-project method="post" action=(format!("{path}/delete")) {
                (csrf_field(ctx))
                button.danger type="submit" { "Delete project" }
            }
        }
    })
}

/// `GET /projects/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> Result<Response, UiError> {
    let project = state.services.projects.get(&ctx.me, ProjectId(id)).await?;
    let body = detail_page(&state, &ctx, &project, None).await?;
    Ok(layout(&ctx, &project.name, body).into_response())
}

fn back(
    state: &AppState,
    id: u64,
    result: Result<(), DomainError>,
    done: &str,
) -> Result<Response, UiError> {
    let to = format!("/projects/{id}");
    match result {
        Ok(()) => Ok(redirect(state, &to, Flash::done(done))),
        Err(
            e @ (DomainError::Forbidden(_)
            | DomainError::Conflict(_)
            | DomainError::Validation { .. }
            | DomainError::BadRequest(_)),
        ) => {
            let message = match &e {
                DomainError::Validation { fields, .. } => fields
                    .iter()
                    .map(|(f, m)| format!("{f} {}", m.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            Ok(redirect(state, &to, Flash::refused(message)))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /projects/{id}/edit`: the status (the rest of a project is edited over the API).
pub async fn edit(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    let patch = ProjectPatch {
        status: form.fields.raw("status").and_then(ProjectStatus::parse),
        ..ProjectPatch::default()
    };
    let result = state
        .services
        .projects
        .update(&form.me, ProjectId(id), patch)
        .await
        .map(|_| ());
    back(&state, id, result, "Saved.")
}

/// `POST /projects/{id}/team`.
pub async fn add_member(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    let result = match form.fields.id("user_id") {
        Ok(Some(user)) => state
            .services
            .projects
            .add_member(&form.me, ProjectId(id), UserId(user))
            .await
            .map(|_| ()),
        _ => Err(DomainError::field(
            "user_id",
            "must be chosen from the list",
        )),
    };
    back(&state, id, result, "Added to the team.")
}

/// `POST /projects/{id}/team/{user}/remove`.
pub async fn remove_member(
    State(state): State<AppState>,
    Path((id, user)): Path<(u64, u64)>,
    form: UiForm,
) -> Result<Response, UiError> {
    let result = state
        .services
        .projects
        .remove_member(&form.me, ProjectId(id), UserId(user))
        .await;
    back(&state, id, result, "Removed from the team.")
}

/// `POST /projects/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    match state
        .services
        .projects
        .delete(&form.me, ProjectId(id))
        .await
    {
        Ok(()) => Ok(redirect(&state, "/projects", Flash::done("Deleted."))),
        Err(e @ DomainError::Forbidden(_)) => back(&state, id, Err(e), ""),
        Err(e) => Err(e.into()),
    }
}
