//! The HTTP adapter: router, middleware, extractors and the REST resources. Handlers parse,
//! call a service, and shape the answer; nothing here decides who may do what.

pub mod client_addr;
pub mod error;
pub mod extract;
mod health;
pub(crate) mod live_limit;
pub(crate) mod metrics;
pub mod openapi;
mod realtime;
pub mod rest;
pub mod serve;
pub mod tls;

use std::net::IpAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::Config;
use crate::domain::DomainError;
use crate::service::Services;
use crate::service::ratelimit::KeyedLimit;
use extract::ClientIp;

/// What every handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The domain services.
    pub services: Services,
    /// Per client address, on `/api/auth/`.
    pub auth_limit: KeyedLimit<IpAddr>,
    /// Per user, on every authenticated call.
    pub api_limit: KeyedLimit<u64>,
    /// Open WebSocket and SSE connections per user, bounded.
    pub live: live_limit::LiveConnections,
    /// Largest WebSocket message a client may send.
    pub ws_max_message_bytes: usize,
    /// Whose forwarding headers are believed when telling the client's address.
    pub client_addr: client_addr::TrustedProxies,
    /// The plant, as the web UI shows it.
    pub plant: std::sync::Arc<crate::ui::Plant>,
}

impl AppState {
    /// State for `services` with the limits of `config`.
    pub fn new(config: &Config, services: Services) -> Self {
        // `Config::validate` has checked the zone; UTC is only a fallback for configs built
        // without it (tests).
        let tz = config.plant.time_zone().unwrap_or(jiff::tz::TimeZone::UTC);
        Self {
            plant: std::sync::Arc::new(crate::ui::Plant {
                name: config.plant.name.clone(),
                tz,
                secure_cookies: config.tls_enabled(),
            }),
            services,
            auth_limit: KeyedLimit::new(
                config.auth.rate_limit_per_sec,
                config.auth.rate_limit_burst,
            ),
            api_limit: KeyedLimit::new(config.api.rate_limit_per_sec, config.api.rate_limit_burst),
            live: live_limit::LiveConnections::new(config.server.live_connections_per_user),
            ws_max_message_bytes: config.server.ws_max_message_bytes,
            client_addr: client_addr::TrustedProxies::new(config.server.trusted_proxy_nets()),
        }
    }
}

/// The policy for every page and document: nothing from outside the box.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The whole application: routes plus middleware. Paths are declared without the trailing
/// slash; `lib.rs` trims it from requests before routing.
pub fn router(config: &Config, state: AppState) -> Router {
    let auth_routes = rest::auth::credentials_router()
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth_rate_limit,
        ))
        .merge(rest::auth::session_router());
    let client_addr = state.client_addr.clone();
    let api = Router::new()
        .nest("/auth", auth_routes)
        .nest("/users", rest::users::router())
        .nest("/activities", rest::activities::router())
        .nest("/projects", rest::projects::router())
        .nest("/updates", rest::updates::router())
        .nest("/chat", rest::chat::router())
        .nest("/audit", rest::audit::router())
        .nest("/admin", rest::admin::router())
        .nest("/search", rest::search::router())
        .nest("/assets", rest::shopfloor::assets_router())
        .nest("/shifts", rest::shopfloor::shifts_router())
        .nest("/downtime", rest::shopfloor::downtime_router())
        .nest("/production", rest::shopfloor::production_router())
        .nest("/oee", rest::shopfloor::oee_router())
        .nest("/andon", rest::andon::router())
        .nest("/keys", rest::keys::router())
        .nest("/handovers", rest::handovers::router())
        .route("/openapi.json", axum::routing::get(openapi::document))
        .merge(realtime::sse_router());
    let mut routes = Router::new()
        .nest("/api", api)
        .merge(health::router())
        .merge(realtime::ws_router())
        .merge(crate::graphql::router());
    if config.metrics.enabled {
        routes = routes.merge(metrics::router());
    }
    let routes = routes
        .fallback_service(crate::ui::router(state.clone()))
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            Duration::from_secs(config.server.request_timeout_secs),
            request_timeout,
        ))
        .layer(DefaultBodyLimit::max(config.server.max_body_bytes))
        .layer(cors(config))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(middleware::map_response_with_state(
            config.tls_enabled(),
            security_headers,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |req: &Request| {
                    let client = client_addr.client_ip(req.headers(), req.extensions());
                    // The path only: query strings may carry tokens.
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        client = ?client,
                    )
                })
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        );
    // Outermost, so that it counts what the layers above answer too (408, 413, a panic's 500).
    let routes = if config.metrics.enabled {
        routes.layer(middleware::from_fn(metrics::track))
    } else {
        routes
    };
    routes.with_state(state)
}

/// Answers `408` when a request (its body upload included) has not produced a response within
/// `server.request_timeout_secs`. Streaming responses are not cut: their headers are the response.
async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => error::ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request took longer than {} s (server.request_timeout_secs)",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

/// Adds the headers every response carries (API.md, last paragraph); under TLS also HSTS.
async fn security_headers(State(tls): State<bool>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    if tls {
        // A year, as browsers' preload rules ask; no includeSubDomains: sibling hosts of a
        // plant's network are not Nexus's to decide.
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

fn cors(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .server
        .cors_origins
        .iter()
        .filter_map(|o| match HeaderValue::from_str(o) {
            Ok(v) => Some(v),
            Err(_) => {
                tracing::warn!(origin = %o, "ignoring malformed server.cors_origins entry");
                None
            }
        })
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("last-event-id"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Limits each client address on the auth endpoints that take credentials.
async fn auth_rate_limit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    match state.auth_limit.check(&ip) {
        Ok(()) => next.run(request).await,
        Err(retry_after) => {
            error::ApiError::from(DomainError::RateLimited { retry_after }).into_response()
        }
    }
}
