//! Posted forms: the fields of a URL-encoded body, and the CSRF check every state-changing
//! form of a signed-in user passes.

use axum::Form;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

use super::error::{ErrorPage, UiError};
use super::session::SignedIn;
use crate::domain::{DomainError, FieldErrors};
use crate::http::AppState;
use crate::service::Principal;

/// A form's fields in the order sent; a name may repeat (checkboxes).
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The last value of `name`, as sent.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in the order sent (checkboxes).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last value of `name`, empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.raw(name).unwrap_or_default().to_string()
    }

    /// The value of `name` unless absent or blank.
    pub fn filled(&self, name: &str) -> Option<&str> {
        self.raw(name).filter(|v| !v.trim().is_empty())
    }

    /// Where to go back to after the form (`return_to`): a local path only, else `fallback`.
    pub fn return_to(&self, fallback: &str) -> String {
        match self.raw("return_to") {
            Some(to) if to.starts_with('/') && !to.starts_with("//") && !to.contains('\\') => {
                to.to_string()
            }
            _ => fallback.to_string(),
        }
    }

    /// A positive id in `name`: `Ok(None)` when blank, `Err` naming the field when not a number.
    pub fn id(&self, name: &str) -> Result<Option<u64>, (String, String)> {
        match self.filled(name) {
            None => Ok(None),
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|v| *v > 0)
                .map(Some)
                .ok_or_else(|| (name.to_string(), "must be chosen from the list".to_string())),
        }
    }
}

async fn fields(request: Request, state: &AppState) -> Result<Fields, UiError> {
    match Form::<Vec<(String, String)>>::from_request(request, state).await {
        Ok(Form(pairs)) => Ok(Fields(pairs)),
        Err(rejection) => Err(UiError::Page(ErrorPage::new(
            StatusCode::BAD_REQUEST,
            "Bad request",
            format!("The form could not be read: {}", rejection.body_text()),
        ))),
    }
}

/// A form posted by a signed-in user, with a valid CSRF token (`_csrf` field, or the
/// `X-CSRF-Token` header for script-sent forms); otherwise `403`.
pub struct UiForm {
    /// The signed-in caller.
    pub me: Principal,
    /// The fields.
    pub fields: Fields,
}

impl FromRequest<AppState> for UiForm {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &AppState) -> Result<UiForm, UiError> {
        let Some(SignedIn(me)) = request.extensions().get::<SignedIn>().cloned() else {
            return Err(UiError::SignIn { next: "/".into() });
        };
        let header_token = request
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let fields = fields(request, state).await?;
        let token = header_token.or_else(|| fields.raw("_csrf").map(str::to_string));
        let valid = token.is_some_and(|t| state.services.auth.csrf_valid(&me, &t));
        if !valid {
            return Err(UiError::bad_csrf());
        }
        Ok(UiForm { me, fields })
    }
}

/// A form anyone may post (sign-in), without a session and so without a CSRF token; the
/// session layer has already refused it if it came from another site.
pub struct PublicForm(pub Fields);

impl FromRequest<AppState> for PublicForm {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &AppState) -> Result<PublicForm, UiError> {
        Ok(PublicForm(fields(request, state).await?))
    }
}

/// Whether a form was sent by the page's script (which wants a short answer, not a page).
pub fn sent_by_script(headers: &axum::http::HeaderMap) -> bool {
    headers.get("x-nexus-fetch").is_some()
}

/// How a form that a service refused is shown again: field errors by their fields (`400`),
/// a refusal or conflict above the form (`403`, `409`); anything else is an error page.
pub fn failure(e: DomainError) -> Result<(StatusCode, FieldErrors, Option<String>), UiError> {
    match e {
        DomainError::Validation { fields, .. } => Ok((
            StatusCode::BAD_REQUEST,
            fields,
            Some("Some fields need attention.".into()),
        )),
        DomainError::Forbidden(m) => Ok((StatusCode::FORBIDDEN, FieldErrors::new(), Some(m))),
        DomainError::Conflict(m) => Ok((StatusCode::CONFLICT, FieldErrors::new(), Some(m))),
        DomainError::BadRequest(m) => Ok((StatusCode::BAD_REQUEST, FieldErrors::new(), Some(m))),
        other => Err(other.into()),
    }
}
