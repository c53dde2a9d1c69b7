//! `/admin/users` (create, role, deactivate, reset password) and `/admin/audit` (filters).
//! Admins only: the services refuse anyone else, and the page shows their `403`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::user_names;
use crate::domain::user::Role;
use crate::domain::{DomainError, FieldErrors, UserId};
use crate::http::AppState;
use crate::http::extract::{PathId, QueryMap};
use crate::service::audit::AuditQuery;
use crate::service::users::{AdminUpdateInput, CreateUserInput, UserQuery};
use crate::ui::components::{
    csrf_field, empty_state, field, form_error, layout, pager, select, text_input, when,
};
use crate::ui::error::UiError;
use crate::ui::form::{Fields, UiForm};
use crate::ui::session::{Ctx, Flash, redirect};

fn role_choices() -> Vec<(String, String)> {
    [Role::User, Role::Staff, Role::Admin]
        .iter()
        .map(|r| (r.as_str().to_string(), r.as_str().to_string()))
        .collect()
}

fn forbidden_unless_admin(ctx: &Ctx) -> Result<(), UiError> {
    if ctx.is_admin() {
        Ok(())
    } else {
        Err(
            DomainError::Forbidden("only an admin may manage users and read the audit log".into())
                .into(),
        )
    }
}

fn create_form(ctx: &Ctx, sent: Option<&Fields>, errors: &FieldErrors) -> Markup {
    let v = |k: &str| sent.map(|f| f.text(k)).unwrap_or_default();
    let role = sent.map_or_else(|| "user".to_string(), |f| f.text("role"));
    html! {
        details.create open[!errors.is_empty()] {
            summary.button { "New user" }
            form #create-user .stacked method="post" action="/admin/users" novalidate {
                (csrf_field(ctx))
                (field("Username", "username", errors, text_input("username", "text", &v("username"), errors, true)))
                (field("Email", "email", errors, text_input("email", "email", &v("email"), errors, true)))
                (field("Display name", "display_name", errors, text_input("display_name", "text", &v("display_name"), errors, false)))
                (field("Role", "role", errors, select("role", &role_choices(), &role, None, errors)))
                (field("Password (at least 10 characters)", "password", errors, text_input("password", "password", "", errors, true)))
                button.primary type="submit" { "Create user" }
            }
        }
    }
}

async fn users_body(
    state: &AppState,
    ctx: &Ctx,
    query: &QueryMap,
    form: Markup,
) -> Result<Markup, UiError> {
    let request = query.page().map_err(|_| UiError::not_found())?;
    let filter = UserQuery {
        role: query.get("role").and_then(Role::parse),
        is_active: match query.get("is_active") {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        },
        q: query.get("q").map(str::to_string),
        ordering: None,
    };
    let page = state.services.users.list(&ctx.me, filter, request).await?;
    let none = FieldErrors::new();
    let params = [
        ("q", query.get("q").unwrap_or_default().to_string()),
        ("role", query.get("role").unwrap_or_default().to_string()),
        (
            "is_active",
            query.get("is_active").unwrap_or_default().to_string(),
        ),
    ];
    let active_choices = vec![
        ("true".to_string(), "Active".to_string()),
        ("false".to_string(), "Deactivated".to_string()),
    ];
    Ok(html! {
        div.page-head { h1 { "Users" } }
        (form)
        form #user-filters .filters method="get" action="/admin/users" {
            div.field { label for="q" { "Name or email" } input #q type="search" name="q" value=(params[0].1); }
            (field("Role", "role", &none, select("role", &role_choices(), &params[1].1, Some("Any"), &none)))
            (field("State", "is_active", &none, select("is_active", &active_choices, &params[2].1, Some("Any"), &none)))
            button type="submit" { "Filter" }
        }
        @if page.results.is_empty() { (empty_state("No users match.")) }
        @else {
            table #user-table .data {
                thead { tr { th scope="col" { "User" } th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "State" } th scope="col" { "Password" } } }
                tbody {
                    @for u in &page.results {
                        tr data-user-id=(u.id.0) {
                            td data-label="User" { (u.display_name) br; span.muted { (u.username) } }
                            td data-label="Email" { (u.email.as_deref().unwrap_or("")) }
                            td data-label="Role" {
                                form.inline method="post" action=(format!("/admin/users/{}", u.id.0)) {
                                    (csrf_field(ctx))
                                    label.visually-hidden for=(format!("role-{}", u.id.0)) { "Role of " (u.username) }
                                    div.row {
                                        select id=(format!("role-{}", u.id.0)) name="role" {
                                            @for (value, label) in role_choices() { option value=(value) selected[value == u.role.as_str()] { (label) } }
                                        }
                                        button type="submit" { "Set" }
                                    }
                                }
                            }
                            td data-label="State" {
                                form.inline method="post" action=(format!("/admin/users/{}", u.id.0)) {
                                    (csrf_field(ctx))
                                    @if u.is_active {
                                        span.badge.status-completed { "Active" } " "
                                        button type="submit" name="is_active" value="false" aria-label=(format!("Deactivate {}", u.username)) { "Deactivate" }
                                    } @else {
                                        span.badge.status-cancelled { "Deactivated" } " "
                                        button type="submit" name="is_active" value="true" aria-label=(format!("Activate {}", u.username)) { "Activate" }
                                    }
                                }
                            }
                            td data-label="Password" {
                                form.inline method="post" action=(format!("/admin/users/{}/password", u.id.0)) {
                                    (csrf_field(ctx))
                                    label.visually-hidden for=(format!("password-{}", u.id.0)) { "New password for " (u.username) }
                                    div.row {
                                        input id=(format!("password-{}", u.id.0)) type="password" name="password" autocomplete="new-password" minlength="10" required;
                                        button type="submit" { "Reset" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (pager("/admin/users", &params, request.page, request.page_size, page.count))
    })
}

/// `GET /admin/users`.
pub async fn users(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    forbidden_unless_admin(&ctx)?;
    let body = users_body(
        &state,
        &ctx,
        &query,
        create_form(&ctx, None, &FieldErrors::new()),
    )
    .await?;
    Ok(layout(&ctx, "Users", body).into_response())
}

/// `POST /admin/users`.
pub async fn create_user(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
    form: UiForm,
) -> Result<Response, UiError> {
    forbidden_unless_admin(&ctx)?;
    let f = &form.fields;
    let role = Role::parse(&f.text("role"));
    let result = match role {
        Some(role) => {
            let input = CreateUserInput {
                username: f.text("username"),
                email: f.text("email"),
                password: f.text("password"),
                display_name: f.filled("display_name").map(str::to_string),
                role,
            };
            state
                .services
                .users
                .create(&form.me, &state.services.auth, input)
                .await
        }
        None => Err(DomainError::field("role", "must be user, staff or admin")),
    };
    match result {
        Ok(user) => Ok(redirect(
            &state,
            "/admin/users",
            Flash::done(format!("Created {}.", user.username)),
        )),
        Err(e) => {
            let (status, errors, message) = match e {
                DomainError::Validation { fields, .. } => (
                    StatusCode::BAD_REQUEST,
                    fields,
                    "Some fields need attention.".to_string(),
                ),
                DomainError::Conflict(m) => (StatusCode::CONFLICT, FieldErrors::new(), m),
                other => return Err(other.into()),
            };
            let form_markup =
                html! { (form_error(Some(&message))) (create_form(&ctx, Some(f), &errors)) };
            let body = users_body(&state, &ctx, &query, form_markup).await?;
            Ok((status, layout(&ctx, "Users", body)).into_response())
        }
    }
}

fn refused(state: &AppState, e: DomainError) -> Result<Response, UiError> {
    match e {
        DomainError::Validation { fields, .. } => {
            let message = fields
                .iter()
                .map(|(f, m)| format!("{f} {}", m.join(", ")))
                .collect::<Vec<_>>()
                .join("; ");
            Ok(redirect(state, "/admin/users", Flash::refused(message)))
        }
        e @ (DomainError::Conflict(_) | DomainError::BadRequest(_)) => Ok(redirect(
            state,
            "/admin/users",
            Flash::refused(e.to_string()),
        )),
        other => Err(other.into()),
    }
}

/// `POST /admin/users/{id}`: role or active state.
pub async fn update_user(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    let input = AdminUpdateInput {
        role: form.fields.raw("role").and_then(Role::parse),
        is_active: form.fields.raw("is_active").map(|v| v == "true"),
        ..AdminUpdateInput::default()
    };
    match state
        .services
        .users
        .update(&form.me, UserId(id), input)
        .await
    {
        Ok(user) => Ok(redirect(
            &state,
            "/admin/users",
            Flash::done(format!("Saved {}.", user.username)),
        )),
        Err(e) => refused(&state, e),
    }
}

/// `POST /admin/users/{id}/password`: a new password; the user's sessions end.
pub async fn reset_password(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    match state
        .services
        .users
        .set_password(&form.me, UserId(id), &form.fields.text("password"))
        .await
    {
        Ok(()) => Ok(redirect(
            &state,
            "/admin/users",
            Flash::done("Password reset; their sessions have ended."),
        )),
        Err(e) => refused(&state, e),
    }
}

/// `GET /admin/audit`.
pub async fn audit(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    forbidden_unless_admin(&ctx)?;
    let request = query.page().map_err(|_| UiError::not_found())?;
    let since = query.time("since").map_err(|_| UiError::not_found())?;
    let filter = AuditQuery {
        action: query.get("action").map(str::to_string),
        actor: query
            .id("actor")
            .map_err(|_| UiError::not_found())?
            .map(UserId),
        since,
    };
    let page = state.services.audit.list(&ctx.me, filter, request).await?;
    let actors: Vec<UserId> = page.results.iter().filter_map(|e| e.actor_id).collect();
    let names = user_names(&state, &ctx.me, actors).await;
    let params = [
        (
            "action",
            query.get("action").unwrap_or_default().to_string(),
        ),
        ("actor", query.get("actor").unwrap_or_default().to_string()),
        ("since", query.get("since").unwrap_or_default().to_string()),
    ];
    let body = html! {
        h1 { "Audit log" }
        form #audit-filters .filters method="get" action="/admin/audit" {
            div.field { label for="action" { "Action" } input #action type="text" name="action" value=(params[0].1) placeholder="login.failure"; }
            div.field { label for="actor" { "Actor (user id)" } input #actor type="text" inputmode="numeric" name="actor" value=(params[1].1); }
            div.field { label for="since" { "Since (date)" } input #since type="date" name="since" value=(params[2].1); }
            button type="submit" { "Filter" }
        }
        @if page.results.is_empty() { (empty_state("No entries match.")) }
        @else {
            table #audit-table .data {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Action" } th scope="col" { "Target" } th scope="col" { "Address" } th scope="col" { "Detail" } } }
                tbody {
                    @for e in &page.results {
                        tr data-audit-id=(e.id.0) {
                            td data-label="When" { (when(&ctx.plant, e.ts)) }
                            td data-label="Who" { @match e.actor_id { Some(a) => (names.get(&a).map_or("", String::as_str)), None => span.muted { "—" } } }
                            td data-label="Action" { code { (e.action) } }
                            td data-label="Target" { (e.target) }
                            td data-label="Address" { (e.ip.as_deref().unwrap_or("")) }
                            td data-label="Detail" { code.detail { (e.detail.to_string()) } }
                        }
                    }
                }
            }
        }
        (pager("/admin/audit", &params, request.page, request.page_size, page.count))
    };
    Ok(layout(&ctx, "Audit log", body).into_response())
}
