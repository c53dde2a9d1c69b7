//! What is not a page: `404` in the layout for a browser, the API's JSON error otherwise; and
//! `/menu`, every place as a list (the phone's "More").

use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::ui::components::{layout, menu};
use crate::ui::error::UiError;
use crate::ui::session::Ctx;

/// The fallback of every path no route matched.
pub async fn fallback(request: Request) -> Response {
    let path = request.uri().path();
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if path.starts_with("/api/") || path == "/api" || !wants_html {
        return crate::http::error::not_found().await.into_response();
    }
    UiError::not_found().into_response()
}

/// `GET /menu`.
pub async fn more(ctx: Ctx) -> Response {
    layout(&ctx, "Menu", menu(&ctx)).into_response()
}
