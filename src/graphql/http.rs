//! `POST /graphql` (queries and mutations), `GET /graphql` (the in-browser IDE) and its
//! assets; `/graphql/ws` is in `ws`.

use std::net::IpAddr;

use async_graphql::ErrorExtensionValues;
use async_graphql_axum::GraphQLResponse;
use axum::extract::{Extension, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;

use super::error::{extend, finish};
use super::{NexusSchema, schema, with_caller, ws};
use crate::domain::DomainError;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ClientIp, bearer_token};
use crate::service::Principal;

/// The routes under `/graphql`, with their own schema.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/graphql", get(ide_page).post(execute))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/graphql/ide.js", get(ide_script))
        .route("/graphql/ide.css", get(ide_style))
        .layer(Extension(schema()))
}

/// Who is calling: the signed-in user of `Authorization: Bearer <access token>`, or of the
/// web session cookie (the in-browser IDE), held to the per-user API rate as every REST call
/// is. A request made with the cookie must carry the session's CSRF token in `X-CSRF-Token`,
/// as every state-changing form of the web UI does, since a browser sends the cookie on its
/// own. The one place `POST /graphql` learns who calls; `/graphql/ws` authenticates in
/// `connection_init`.
pub(crate) async fn who_is_calling(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
) -> Result<Principal, DomainError> {
    let ip = ip.map(|ip| ip.to_string());
    let principal = match bearer_token(headers) {
        Some(token) => state.services.authenticate_bearer(token, ip).await?,
        None => {
            let cookie = crate::ui::session::cookie(headers, crate::ui::SESSION_COOKIE)
                .ok_or_else(|| {
                    DomainError::Unauthenticated(
                        "authentication required: send Authorization: Bearer <access token>".into(),
                    )
                })?;
            let (principal, _) = state.services.auth.authenticate_web(cookie, ip).await?;
            let csrf = headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !state.services.auth.csrf_valid(&principal, csrf) {
                return Err(DomainError::Forbidden(
                    "a request signed in by the session cookie must carry its X-CSRF-Token".into(),
                ));
            }
            principal
        }
    };
    state
        .api_limit
        .check(&principal.rate_limit_key())
        .map_err(|retry_after| DomainError::RateLimited { retry_after })?;
    Ok(principal)
}

/// An error before anything executed, with the status REST would give it, in GraphQL's
/// shape: `{"errors": [{"message", "extensions": {"code", ...}}]}`.
pub(crate) fn refused(api: ApiError) -> Response {
    let mut extensions = ErrorExtensionValues::default();
    extend(&mut extensions, &api);
    let mut error = async_graphql::ServerError::new(api.message(), None);
    error.extensions = Some(extensions);
    let mut response =
        (api.status(), Json(serde_json::json!({ "errors": [error] }))).into_response();
    if let Some(secs) = api.retry_after_secs() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Runs one query or mutation: `{"query", "variables"?, "operationName"?, "extensions"?}`.
/// A batch (a JSON array) is refused, so every operation counts against the rate limit.
async fn execute(
    State(state): State<AppState>,
    Extension(schema): Extension<NexusSchema>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    request: Request,
) -> Response {
    // As REST: who is calling first, so an unauthenticated upload is not even read.
    let principal = match who_is_calling(&state, &headers, Some(ip)).await {
        Ok(p) => p,
        Err(e) => return refused(e.into()),
    };
    if !is_json(&headers) {
        return refused(ApiError::unsupported_media_type());
    }
    let body = match Bytes::from_request(request, &state).await {
        Ok(body) => body,
        Err(rejection) => return refused(rejection.into()),
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return refused(ApiError::bad_request(format!(
                "the body must be a JSON object {{\"query\", \"variables\", \"operationName\"}}: {e}"
            )));
        }
    };
    if let Err(e) = principal.may(super::keys::key_use(&request)) {
        return refused(e.into());
    }
    let request = with_caller(request, &state.services, principal);
    let response = finish(schema.execute(request).await);
    let mut response = GraphQLResponse::from(response).into_response();
    // Every JSON answer of the API is `application/json` (API.md §General).
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The IDE: a page, a script and a style sheet, all from this server (the CSP allows nothing
/// else). Opened by someone signed in to the web UI, the page carries their session's CSRF
/// token, so it queries as them without a pasted access token.
async fn ide_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    const PAGE: &str = include_str!("ide/index.html");
    let signed_in = match crate::ui::session::cookie(&headers, crate::ui::SESSION_COOKIE) {
        Some(cookie) => state
            .services
            .auth
            .authenticate_web(cookie, None)
            .await
            .ok(),
        None => None,
    };
    let Some((principal, _)) = signed_in else {
        return asset(PAGE, "text/html; charset=utf-8");
    };
    let csrf = state.services.auth.csrf_token(&principal);
    let page = PAGE.replacen(
        "</head>",
        &format!("<meta name=\"csrf-token\" content=\"{csrf}\">\n</head>"),
        1,
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store, private"),
        ],
        page,
    )
        .into_response()
}

async fn ide_script() -> Response {
    asset(include_str!("ide/ide.js"), "text/javascript; charset=utf-8")
}

async fn ide_style() -> Response {
    asset(include_str!("ide/ide.css"), "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
