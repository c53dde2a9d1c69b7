//! How a page fails: sign in first, or an error page (403, 404, 500 …) drawn in the app's
//! layout by the session layer, which knows who is signed in.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::components;
use super::session::Ctx;
use crate::domain::DomainError;
use crate::http::AppState;

/// A page that could not be shown.
#[derive(Debug)]
pub enum UiError {
    /// No (live) session: go to sign-in, then back to `next`.
    SignIn {
        /// Where to return.
        next: String,
    },
    /// An error page.
    Page(ErrorPage),
}

/// An error page to draw: put on the response by a handler, drawn by `session::web_session`.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    status: StatusCode,
    title: &'static str,
    message: String,
}

impl ErrorPage {
    /// A page with `status`, a heading and a message for people.
    pub fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
        }
    }

    /// The page, in the layout when the caller is signed in.
    pub async fn render(self, ctx: Option<&Ctx>, state: &AppState) -> Response {
        let body = html! {
            section.error-page {
                h1 { (self.title) }
                p { (self.message) }
                p { a href="/" { "Back to the dashboard" } }
            }
        };
        let markup = match ctx {
            Some(ctx) => components::layout(ctx, self.title, body),
            None => components::bare_layout(&state.plant, self.title, body),
        };
        (self.status, markup).into_response()
    }
}

impl From<DomainError> for UiError {
    fn from(e: DomainError) -> Self {
        let (status, title) = match &e {
            DomainError::Unauthenticated(_) => {
                return UiError::SignIn { next: "/".into() };
            }
            DomainError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            DomainError::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
            DomainError::Validation { .. } | DomainError::BadRequest(_) => {
                (StatusCode::BAD_REQUEST, "Bad request")
            }
            DomainError::Conflict(_) => (StatusCode::CONFLICT, "Conflict"),
            DomainError::AccountLocked { .. } | DomainError::RateLimited { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "Slow down")
            }
            DomainError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
            DomainError::Internal(detail) => {
                tracing::error!(error = %detail, "page failed");
                return UiError::Page(ErrorPage::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The server could not show this page. The error has been logged.",
                ));
            }
        };
        let message = match &e {
            DomainError::NotFound(_) => {
                "There is nothing here, or it is not yours to see.".to_string()
            }
            other => other.to_string(),
        };
        UiError::Page(ErrorPage::new(status, title, message))
    }
}

impl UiError {
    /// `404` as a page.
    pub fn not_found() -> Self {
        UiError::Page(ErrorPage::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing here, or it is not yours to see.",
        ))
    }

    /// `403` for a form without a valid CSRF token.
    pub fn bad_csrf() -> Self {
        UiError::Page(ErrorPage::new(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form has expired or did not come from this site. Go back, reload the page, \
             and try again.",
        ))
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn { next } => {
                let to = format!("/login?next={}", components::encode_query_value(&next));
                (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, to)]).into_response()
            }
            UiError::Page(page) => {
                let mut response = page.status.into_response();
                response.extensions_mut().insert(page);
                response
            }
        }
    }
}
