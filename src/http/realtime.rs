//! Live channels: the WebSocket at `/ws/` and the Server-Sent Events stream at `/api/events/`.
//! Both hold a `LiveSession` from `service::realtime`, which decides what each connection is
//! sent and does replay and catch-up; this module only speaks the two protocols.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::Stream;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::extract::{ClientIp, QueryMap, bearer_token};
use super::live_limit::{LiveSlot, Transport};
use crate::domain::DomainError;
use crate::service::Principal;
use crate::service::realtime::{Ended, Live, LiveSession, OnLag, parse_topic};

/// WebSocket close code for a bad or expired token.
const CLOSE_UNAUTHENTICATED: u16 = 4401;
/// WebSocket close code when the server shuts down.
const CLOSE_GOING_AWAY: u16 = 1001;
/// How often the server pings a WebSocket (and re-checks its token).
const PING_EVERY: Duration = Duration::from_secs(30);

/// `/ws` (mounted at the root) and `/events` (mounted under `/api`).
pub fn ws_router() -> Router<AppState> {
    Router::new().route("/ws", get(websocket))
}

/// `/api/events`.
pub fn sse_router() -> Router<AppState> {
    Router::new().route("/events", get(events))
}

/// How a live-channel request proves who it is: an access token or machine key (`?token=` or
/// `Authorization: Bearer`), or the web UI's session cookie, or a wall screen's key cookie.
#[derive(Clone)]
enum Credential {
    Token(String),
    Cookie(String),
    KeyCookie(String),
}

impl Credential {
    /// The request's credential; a token wins over the cookie.
    fn of(query: &QueryMap, headers: &HeaderMap) -> Option<Credential> {
        if let Some(t) = query.get("token") {
            return Some(Credential::Token(t.to_string()));
        }
        if let Some(t) = bearer_token(headers) {
            return Some(Credential::Token(t.to_string()));
        }
        if let Some(c) = crate::ui::session::cookie(headers, crate::ui::SESSION_COOKIE) {
            return Some(Credential::Cookie(c.to_string()));
        }
        crate::ui::session::cookie(headers, crate::ui::KEY_COOKIE)
            .map(|c| Credential::KeyCookie(c.to_string()))
    }

    /// The caller, if the credential is (still) good.
    async fn check(&self, state: &AppState, ip: Option<String>) -> Result<Principal, DomainError> {
        match self {
            Credential::Token(token) | Credential::KeyCookie(token) => {
                state.services.authenticate_bearer(token, ip).await
            }
            Credential::Cookie(cookie) => state
                .services
                .auth
                .authenticate_web(cookie, ip)
                .await
                .map(|(principal, _)| principal),
        }
    }
}

// ---- WebSocket ----

#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    topics: Vec<String>,
    since: Option<u64>,
}

async fn websocket(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    query: QueryMap,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let token = Credential::of(&query, &headers).filter(|c| {
        // Browsers send cookies on cross-site WebSocket handshakes too: a cookie socket must
        // come from our own pages, by the same rule as the web UI's forms.
        matches!(c, Credential::Token(_)) || !crate::ui::session::is_cross_site(&headers)
    });
    let principal = match &token {
        Some(t) => t.check(&state, Some(ip.to_string())).await.ok(),
        None => None,
    };
    let slot = match &principal {
        Some(p) => match state.live.open(p.rate_limit_key(), Transport::WebSocket) {
            Ok(slot) => Some(slot),
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => None,
    };
    // Small buffers: an idle connection should cost the server a few kilobytes, not the
    // 128 KiB read buffer tungstenite allocates by default.
    let max_message = state.ws_max_message_bytes;
    upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| async move {
            match (principal, token) {
                (Some(principal), Some(token)) => {
                    live_socket(socket, state, principal, token).await;
                }
                _ => close(socket, CLOSE_UNAUTHENTICATED, "invalid or expired token").await,
            }
            drop(slot);
        })
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

fn text(value: serde_json::Value) -> Message {
    Message::Text(value.to_string().into())
}

/// Why a WebSocket session ended, when the server ends it.
enum End {
    Unauthenticated,
    GoingAway,
    ClientGone,
    /// The client broke the protocol: the close code and reason to tell it.
    ClientError(u16, &'static str),
}

/// The close frame for a read error: a message over `server.ws_max_message_bytes` is 1009, a protocol
/// violation 1002, text that is not UTF-8 1007 (RFC 6455 §7.4.1). Anything else means the
/// connection is gone and there is no one to tell.
fn read_error_end(error: axum::Error) -> End {
    use tokio_tungstenite::tungstenite::Error;
    match error.into_inner().downcast_ref::<Error>() {
        Some(Error::Capacity(_)) => End::ClientError(1009, "message too big"),
        Some(Error::Protocol(_)) => End::ClientError(1002, "protocol error"),
        Some(Error::Utf8(_)) => End::ClientError(1007, "text message is not UTF-8"),
        _ => End::ClientGone,
    }
}

async fn live_socket(socket: WebSocket, state: AppState, principal: Principal, token: Credential) {
    let realtime = &state.services.realtime;
    let mut session = match realtime
        .open(&principal, Vec::new(), None, OnLag::Report)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a live session");
            return close(socket, 1011, "internal error").await;
        }
    };
    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let end = loop {
        let outgoing: Vec<Message> = tokio::select! {
            incoming = stream.next() => match incoming {
                None | Some(Ok(Message::Close(_))) => break End::ClientGone,
                Some(Err(e)) => break read_error_end(e),
                Some(Ok(Message::Text(raw))) => match client_message(&raw, &mut session).await {
                    Ok(reply) => vec![reply],
                    Err(message) => vec![text(json!({"type": "error", "message": message}))],
                },
                Some(Ok(Message::Binary(_))) => {
                    vec![text(json!({"type": "error", "message": "send JSON text messages"}))]
                }
                Some(Ok(_)) => Vec::new(),
            },
            live = session.next() => match live {
                Live::Event(delivery) => {
                    match axum::extract::ws::Utf8Bytes::try_from(delivery.typed_json()) {
                        Ok(bytes) => vec![Message::Text(bytes)],
                        Err(_) => Vec::new(),
                    }
                }
                Live::Reset { since } => vec![text(json!({"type": "reset", "since": since}))],
                Live::Lagged { missed } => vec![text(json!({"type": "lagged", "missed": missed}))],
                Live::Ended(Ended::Unauthenticated) => break End::Unauthenticated,
                Live::Ended(Ended::GoingAway) => break End::GoingAway,
            },
            _ = ping.tick() => {
                if token.check(&state, None).await.is_err() {
                    break End::Unauthenticated;
                }
                vec![Message::Ping(Vec::new().into())]
            }
        };
        for message in outgoing {
            if sink.send(message).await.is_err() {
                return;
            }
        }
    };
    let frame = match end {
        End::Unauthenticated => Some((CLOSE_UNAUTHENTICATED, "invalid or expired token")),
        End::GoingAway => Some((CLOSE_GOING_AWAY, "server shutting down")),
        End::ClientError(code, reason) => Some((code, reason)),
        End::ClientGone => None,
    };
    if let Some((code, reason)) = frame {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
}

/// Handles one client message; returns the reply. A subscribe with `since` queues the replay,
/// which the session yields next.
async fn client_message(raw: &str, session: &mut LiveSession) -> Result<Message, String> {
    let message: ClientMessage = serde_json::from_str(raw).map_err(|e| {
        format!(
            "messages are JSON like {{\"type\":\"subscribe\",\"topics\":[\"activities\"]}}: {e}"
        )
    })?;
    let topics = message
        .topics
        .iter()
        .map(|t| parse_topic(t).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    match message.kind.as_str() {
        "subscribe" => {
            session
                .subscribe(&topics, message.since)
                .await
                .map_err(|e| e.to_string())?;
            Ok(text(json!({"type": "subscribed", "topics": topics})))
        }
        "unsubscribe" => {
            session.unsubscribe(&topics);
            Ok(text(json!({"type": "unsubscribed", "topics": topics})))
        }
        "ping" => Ok(text(json!({"type": "pong"}))),
        other => Err(format!(
            "unknown message type {other:?}; use subscribe, unsubscribe or ping"
        )),
    }
}

// ---- Server-Sent Events ----

async fn events(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    query: QueryMap,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = Credential::of(&query, &headers).ok_or_else(|| {
        ApiError::from(DomainError::Unauthenticated(
            "authentication required: send Authorization: Bearer <access token> or ?token=".into(),
        ))
    })?;
    let principal = token.check(&state, Some(ip.to_string())).await?;
    let topics = match query.get("topics") {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .filter(|t| !t.trim().is_empty())
            .map(parse_topic)
            .collect::<Result<Vec<_>, _>>()?,
    };
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query.get("last_event_id").map(str::to_string));
    let since = match last_event_id {
        None => None,
        Some(raw) => Some(raw.trim().parse::<u64>().map_err(|_| {
            ApiError::from(DomainError::field(
                "Last-Event-ID",
                "must be the id of an event",
            ))
        })?),
    };
    let slot = state
        .live
        .open(principal.rate_limit_key(), Transport::Sse)?;
    let session = state
        .services
        .realtime
        .open(&principal, topics, since, OnLag::CatchUp)
        .await?;
    Ok(Sse::new(event_stream(session, slot))
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(15))
                .text("keep-alive"),
        )
        .into_response())
}

fn reset_event(since: u64) -> Event {
    Event::default().event("reset").data(
        json!({"since": since, "message": "the change log no longer reaches back that far; reload"})
            .to_string(),
    )
}

/// The SSE stream: what the session yields, encoded; it ends with the session.
fn event_stream(
    mut session: LiveSession,
    slot: LiveSlot,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        // Held while the stream lives: the user's live-connection count drops with it.
        let _slot = slot;
        loop {
            match session.next().await {
                Live::Event(delivery) => {
                    let json = delivery.envelope_json();
                    // The envelope is JSON text, so always UTF-8.
                    let data = std::str::from_utf8(&json).unwrap_or_default();
                    yield Ok(Event::default().id(delivery.event_id().to_string()).data(data));
                }
                Live::Reset { since } => yield Ok(reset_event(since)),
                // The session catches up by itself; a report never comes with `CatchUp`.
                Live::Lagged { .. } => {}
                Live::Ended(_) => break,
            }
        }
    }
}
