//! `/profile`: one's own name, email and shop-floor details, and one's password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use crate::domain::user::ProfilePatch;
use crate::domain::{DomainError, FieldErrors};
use crate::http::AppState;
use crate::service::auth::UpdateMeInput;
use crate::ui::components::{csrf_field, field, form_error, layout, text_input};
use crate::ui::error::UiError;
use crate::ui::form::{Fields, UiForm};
use crate::ui::session::{Ctx, Flash, redirect};

fn body(
    ctx: &Ctx,
    sent: Option<&Fields>,
    profile_errors: &FieldErrors,
    password_errors: &FieldErrors,
    message: Option<&str>,
) -> Markup {
    let user = &ctx.me.user;
    let v = |k: &str, stored: &str| sent.and_then(|f| f.raw(k)).unwrap_or(stored).to_string();
    html! {
        h1 { "Profile" }
        p.muted { "Signed in as " strong { (user.username) } " (" (user.role.as_str()) ")" }
        (form_error(message))
        section aria-labelledby="details-h" {
            h2 #details-h { "Your details" }
            form #profile-form .stacked method="post" action="/profile" novalidate {
                (csrf_field(ctx))
                (field("Display name", "display_name", profile_errors, text_input("display_name", "text", &v("display_name", &user.display_name), profile_errors, true)))
                (field("Email", "email", profile_errors, text_input("email", "email", &v("email", &user.email), profile_errors, true)))
                (field("Job title", "profile.job_title", profile_errors, text_input("profile.job_title", "text", &v("profile.job_title", &user.profile.job_title), profile_errors, false)))
                (field("Department", "profile.department", profile_errors, text_input("profile.department", "text", &v("profile.department", &user.profile.department), profile_errors, false)))
                (field("Phone", "profile.phone", profile_errors, text_input("profile.phone", "tel", &v("profile.phone", &user.profile.phone), profile_errors, false)))
                (field("Shift", "profile.shift", profile_errors, text_input("profile.shift", "text", &v("profile.shift", &user.profile.shift), profile_errors, false)))
                button.primary type="submit" { "Save details" }
            }
        }
        section aria-labelledby="password-h" {
            h2 #password-h { "Password" }
            p.muted { "Changing it signs you out everywhere else." }
            form #password-form .stacked method="post" action="/profile/password" novalidate {
                (csrf_field(ctx))
                input type="text" name="username" value=(user.username) autocomplete="username" hidden;
                (field("Current password", "current_password", password_errors, html! {
                    input #current_password type="password" name="current_password" autocomplete="current-password" required;
                }))
                (field("New password (at least 10 characters)", "new_password", password_errors, html! {
                    input #new_password type="password" name="new_password" autocomplete="new-password" minlength="10" required;
                }))
                button.primary type="submit" { "Change password" }
            }
        }
    }
}

/// `GET /profile`.
pub async fn page(ctx: Ctx) -> Response {
    let none = FieldErrors::new();
    layout(&ctx, "Profile", body(&ctx, None, &none, &none, None)).into_response()
}

/// `POST /profile`.
pub async fn save(
    State(state): State<AppState>,
    ctx: Ctx,
    form: UiForm,
) -> Result<Response, UiError> {
    let f = &form.fields;
    let input = UpdateMeInput {
        email: Some(f.text("email")),
        display_name: Some(f.text("display_name")),
        profile: Some(ProfilePatch {
            job_title: Some(f.text("profile.job_title")),
            department: Some(f.text("profile.department")),
            phone: Some(f.text("profile.phone")),
            shift: Some(f.text("profile.shift")),
        }),
    };
    match state.services.auth.update_me(&form.me, input).await {
        Ok(_) => Ok(redirect(&state, "/profile", Flash::done("Saved."))),
        Err(DomainError::Validation { fields, .. }) => {
            let none = FieldErrors::new();
            let markup = body(
                &ctx,
                Some(f),
                &fields,
                &none,
                Some("Some fields need attention."),
            );
            Ok((StatusCode::BAD_REQUEST, layout(&ctx, "Profile", markup)).into_response())
        }
        Err(DomainError::Conflict(m)) => {
            let none = FieldErrors::new();
            let markup = body(&ctx, Some(f), &none, &none, Some(&m));
            Ok((StatusCode::CONFLICT, layout(&ctx, "Profile", markup)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /profile/password`.
pub async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    form: UiForm,
) -> Result<Response, UiError> {
    let f = &form.fields;
    match state
        .services
        .auth
        .change_password(
            &form.me,
            &f.text("current_password"),
            &f.text("new_password"),
        )
        .await
    {
        Ok(()) => Ok(redirect(
            &state,
            "/profile",
            Flash::done("Password changed; your other sessions have ended."),
        )),
        Err(DomainError::Validation { fields, .. }) => {
            let none = FieldErrors::new();
            let markup = body(
                &ctx,
                None,
                &none,
                &fields,
                Some("The password was not changed."),
            );
            Ok((StatusCode::BAD_REQUEST, layout(&ctx, "Profile", markup)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
