//! `/login` and `/logout`: sign-in limited and locked out exactly as the API's, through the
//! same `AuthService`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use crate::domain::DomainError;
use crate::http::AppState;
use crate::http::extract::{ClientIp, QueryMap};
use crate::ui::components::{bare_layout, form_error};
use crate::ui::form::{PublicForm, UiForm};
use crate::ui::session::{
    SignedIn, clear_key_cookie, clear_session_cookie, key_cookie, redirect, session_cookie,
};

/// Where to go after signing in: a local path only, never another site.
fn safe_next(raw: Option<&str>) -> String {
    match raw {
        Some(next)
            if next.starts_with('/')
                && !next.starts_with("//")
                && !next.contains('\\')
                && !next.starts_with("/login") =>
        {
            next.to_string()
        }
        _ => "/".to_string(),
    }
}

fn form(state: &AppState, next: &str, username: &str, error: Option<&str>) -> Markup {
    bare_layout(
        &state.plant,
        "Sign in",
        html! {
            section.signin {
                h1 { "Sign in" }
                (form_error(error))
                form #login method="post" action="/login" {
                    input type="hidden" name="next" value=(next);
                    div.field {
                        label for="username" { "Username" }
                        input #username name="username" type="text" value=(username)
                            autocomplete="username" autocapitalize="none" required autofocus[username.is_empty()];
                    }
                    div.field {
                        label for="password" { "Password" }
                        input #password name="password" type="password"
                            autocomplete="current-password" required autofocus[!username.is_empty()];
                    }
                    button.primary type="submit" { "Sign in" }
                }
                details.wall-screen {
                    summary { "Wall screen: sign in with a display key" }
                    form #login-key method="post" action="/login/key" {
                        div.field {
                            label for="key" { "Display key (nxk_…)" }
                            input #key name="key" type="password" autocomplete="off" required;
                        }
                        button type="submit" { "Show the andon board" }
                    }
                }
            }
        },
    )
}

/// `POST /login/key`: a wall screen signs in with a `display` machine key; the key's secret is
/// kept in an HttpOnly cookie and the screen opens `/andon`.
pub async fn submit_key(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    PublicForm(fields): PublicForm,
) -> Response {
    if let Err(retry_after) = state.auth_limit.check(&ip) {
        return refused(&state, "/", "", DomainError::RateLimited { retry_after });
    }
    let secret = fields.text("key").trim().to_string();
    let checked = state
        .services
        .keys
        .authenticate(&secret, Some(ip.to_string()))
        .await
        .and_then(|principal| {
            principal
                .may(crate::domain::machine_key::KeyUse::Live)
                .map_err(|_| {
                    DomainError::Unauthenticated(
                        "That key is not a display key; ask an admin for one with the display scope."
                            .into(),
                    )
                })
        });
    match checked {
        Ok(()) => {
            let mut response = redirect(&state, "/andon", None);
            response
                .headers_mut()
                .append(header::SET_COOKIE, key_cookie(&state.plant, &secret));
            response
        }
        Err(e) => refused(&state, "/", "", e),
    }
}

/// `POST /logout/key`: the wall screen forgets its key (the key itself stays valid).
pub async fn logout_key(State(state): State<AppState>) -> Response {
    let mut response = redirect(&state, "/login", None);
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_key_cookie(&state.plant));
    response
}

/// `GET /login`: the form, or straight on when already signed in.
pub async fn page(
    State(state): State<AppState>,
    signed_in: Option<axum::Extension<SignedIn>>,
    query: QueryMap,
) -> Response {
    let next = safe_next(query.get("next"));
    if signed_in.is_some() {
        return redirect(&state, &next, None);
    }
    form(&state, &next, "", None).into_response()
}

/// `POST /login`: signs in and sets the session cookie, or shows the form again with why not.
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    PublicForm(fields): PublicForm,
) -> Response {
    let next = safe_next(fields.raw("next"));
    let username = fields.text("username");
    if let Err(retry_after) = state.auth_limit.check(&ip) {
        return refused(
            &state,
            &next,
            &username,
            DomainError::RateLimited { retry_after },
        );
    }
    let password = fields.text("password");
    let ip_text = ip.to_string();
    match state
        .services
        .auth
        .login_web(&username, &password, Some(&ip_text))
        .await
    {
        Ok(web) => {
            let mut response = redirect(&state, &next, None);
            response
                .headers_mut()
                .append(header::SET_COOKIE, session_cookie(&state.plant, &web));
            response
        }
        Err(e) => refused(&state, &next, &username, e),
    }
}

fn refused(state: &AppState, next: &str, username: &str, e: DomainError) -> Response {
    let (status, retry_after) = match &e {
        DomainError::AccountLocked { retry_after } => (StatusCode::LOCKED, Some(*retry_after)),
        DomainError::RateLimited { retry_after } => {
            (StatusCode::TOO_MANY_REQUESTS, Some(*retry_after))
        }
        DomainError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, None),
        DomainError::Validation { .. } | DomainError::BadRequest(_) => {
            (StatusCode::BAD_REQUEST, None)
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, None),
    };
    let message = match &e {
        DomainError::AccountLocked { retry_after } => format!(
            "Too many failed sign-ins for this username. Try again in {} minutes.",
            retry_after.as_secs().div_ceil(60)
        ),
        DomainError::RateLimited { .. } => {
            "Too many attempts from this device. Wait a moment and try again.".to_string()
        }
        DomainError::Internal(_) => "Signing in failed on the server; try again.".to_string(),
        other => {
            let text = other.to_string();
            let mut chars = text.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    };
    let mut response = (status, form(state, next, username, Some(&message))).into_response();
    if let Some(after) = retry_after {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        if let Ok(value) = secs.to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// `POST /logout`: ends the session at once and removes the cookie.
pub async fn logout(State(state): State<AppState>, form: UiForm) -> Response {
    if let Err(e) = state.services.auth.logout(&form.me, None).await {
        tracing::warn!(error = %e, "signing out failed");
    }
    let mut response = redirect(&state, "/login", None);
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie(&state.plant));
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/activities?status=planned")),
            "/activities?status=planned"
        );
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/login?next=/",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
