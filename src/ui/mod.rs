//! The web UI: server-rendered pages (maud) over the same services as the REST API, with
//! embedded assets and a small script of our own for live regions (see README §Web UI).
//!
//! Every page is complete HTML and every form posts without JavaScript. A page is an adapter
//! like a REST handler: it parses, calls a service, and renders; who may see or do what is
//! decided by the services, so a page never shows what the REST API would answer `404` for.

pub mod assets;
pub mod components;
mod error;
mod form;
mod pages;
pub mod session;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;

pub use error::UiError;
pub use session::{KEY_COOKIE, Plant, SESSION_COOKIE};

use crate::http::AppState;

/// Every page and form of the web UI, and the assets. Mounted as the fallback of the API
/// router, so anything not an API route lands here; its own fallback answers `404` as a page
/// for a browser and as the API's JSON error otherwise.
pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .route("/", get(pages::dashboard::page))
        .route("/login", get(pages::login::page).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/login/key", post(pages::login::submit_key))
        .route("/logout/key", post(pages::login::logout_key))
        .route(
            "/admin/keys",
            get(pages::keys::page).post(pages::keys::create),
        )
        .route("/admin/keys/{id}/revoke", post(pages::keys::revoke))
        .route(
            "/activities",
            get(pages::activities::list).post(pages::activities::create),
        )
        .route("/activities/new", get(pages::activities::new_form))
        .route("/activities/board", get(pages::board::page))
        .route(
            "/activities/{id}",
            get(pages::activities::detail).post(pages::activities::edit),
        )
        .route(
            "/activities/{id}/status",
            post(pages::activities::move_status),
        )
        .route("/activities/{id}/delete", post(pages::activities::delete))
        .route(
            "/projects",
            get(pages::projects::list).post(pages::projects::create),
        )
        .route("/projects/{id}", get(pages::projects::detail))
        .route("/projects/{id}/edit", post(pages::projects::edit))
        .route("/projects/{id}/delete", post(pages::projects::delete))
        .route("/projects/{id}/team", post(pages::projects::add_member))
        .route(
            "/projects/{id}/team/{user}/remove",
            post(pages::projects::remove_member),
        )
        .route(
            "/updates",
            get(pages::updates::list).post(pages::updates::create),
        )
        .route(
            "/updates/{id}",
            get(pages::updates::detail).post(pages::updates::edit),
        )
        .route("/updates/{id}/delete", post(pages::updates::delete))
        .route("/updates/{id}/ack", post(pages::updates::acknowledge))
        .route("/chat", get(pages::chat::page))
        .route("/chat/messages", post(pages::chat::send))
        .route("/chat/messages/{id}", get(pages::search::message))
        .route("/chat/messages/{id}/delete", post(pages::chat::delete))
        .route("/search", get(pages::search::page))
        .route(
            "/assets",
            get(pages::shopfloor::assets).post(pages::shopfloor::create_asset),
        )
        .route("/downtime", get(pages::shopfloor::downtime))
        .route("/downtime/stop", post(pages::shopfloor::stop))
        .route("/downtime/{id}/end", post(pages::shopfloor::end))
        .route(
            "/downtime/export.csv",
            get(pages::shopfloor::downtime_export),
        )
        .route(
            "/handovers",
            get(pages::handovers::page_get).post(pages::handovers::create),
        )
        .route(
            "/handovers/{id}",
            get(pages::handovers::detail).post(pages::handovers::edit),
        )
        .route(
            "/handovers/{id}/acknowledge",
            post(pages::handovers::acknowledge),
        )
        .route("/handovers/{id}/delete", post(pages::handovers::delete))
        .route("/oee", get(pages::shopfloor::oee))
        .route("/oee/export.csv", get(pages::shopfloor::oee_export))
        .route("/andon", get(pages::andon::wall).post(pages::andon::raise))
        .route("/andon/{id}/acknowledge", post(pages::andon::acknowledge))
        .route("/andon/{id}/resolve", post(pages::andon::resolve))
        .route(
            "/admin/users",
            get(pages::admin::users).post(pages::admin::create_user),
        )
        .route("/admin/users/{id}", post(pages::admin::update_user))
        .route(
            "/admin/users/{id}/password",
            post(pages::admin::reset_password),
        )
        .route("/admin/audit", get(pages::admin::audit))
        .route(
            "/profile",
            get(pages::profile::page).post(pages::profile::save),
        )
        .route("/profile/password", post(pages::profile::change_password))
        .route("/menu", get(pages::errors::more))
        .route("/notifications", get(pages::notifications::page))
        .route(
            "/notifications/read-all",
            post(pages::notifications::read_all),
        )
        .route(
            "/notifications/{id}/read",
            post(pages::notifications::read_one),
        )
        .fallback(pages::errors::fallback)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::web_session,
        ))
        .layer(middleware::map_response(no_store));
    Router::new()
        .merge(pages)
        .route("/assets/{file}", get(assets::serve))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(crate::http::metrics::expose_route))
        .with_state(state)
}

/// Pages show private data: no cache may keep them, so Back after sign-out asks the server
/// again and lands on the sign-in page.
async fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
    response
}

/// A request's path and query, to come back to after signing in.
pub(crate) fn path_and_query(request: &Request) -> String {
    request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_string(), |pq| pq.as_str().to_string())
}
