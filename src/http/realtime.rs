//! Live channels: the WebSocket at `/ws/` and the Server-Sent Events stream at `/api/events/`.
//! Both hold a `Subscriber` from `service::realtime`, which decides what each connection is sent;
//! this module only speaks the two protocols.

use std::convert::Infallible;
use std::sync::Arc;
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
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::error::ApiError;
use super::extract::{ClientIp, QueryMap, bearer_token};
use super::live_limit::LiveSlot;
use crate::domain::DomainError;
use crate::events::Published;
use crate::service::Principal;
use crate::service::realtime::{Observed, Replay, Subscriber, parse_topic, replay, topic_name};

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

/// The access token of a live-channel request: `?token=`, or `Authorization: Bearer`.
fn token_of(query: &QueryMap, headers: &HeaderMap) -> Option<String> {
    if let Some(t) = query.get("token") {
        return Some(t.to_string());
    }
    bearer_token(headers).map(str::to_string)
}

/// Completes once the server starts shutting down.
async fn stopping(rx: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
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
    let token = token_of(&query, &headers);
    let principal = match &token {
        Some(t) => state
            .services
            .auth
            .authenticate(t, Some(ip.to_string()))
            .await
            .ok(),
        None => None,
    };
    let slot = match &principal {
        Some(p) => match state.live.open(p.user.id.0) {
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

async fn live_socket(socket: WebSocket, state: AppState, principal: Principal, token: String) {
    // Subscribe before anything else, so nothing committed from now on is missed.
    let mut bus = state.bus.subscribe();
    let mut shutdown = state.shutdown.clone();
    let store = state.services.store.clone();
    let mut subscriber = match Subscriber::new(store.as_ref(), &principal, Vec::new()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a live session");
            return close(socket, 1011, "internal error").await;
        }
    };
    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    // Entries up to here were already sent by a replay.
    let mut replayed_up_to = 0u64;
    let end = loop {
        let outgoing: Vec<Message> = tokio::select! {
            () = stopping(&mut shutdown) => break End::GoingAway,
            incoming = stream.next() => match incoming {
                None | Some(Ok(Message::Close(_))) => break End::ClientGone,
                Some(Err(e)) => break read_error_end(e),
                Some(Ok(Message::Text(raw))) => {
                    match client_message(&raw, &mut subscriber, store.as_ref()).await {
                        Ok((replies, replayed)) => {
                            replayed_up_to = replayed_up_to.max(replayed);
                            replies
                        }
                        Err(message) => vec![text(json!({"type": "error", "message": message}))],
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    vec![text(json!({"type": "error", "message": "send JSON text messages"}))]
                }
                Some(Ok(_)) => Vec::new(),
            },
            received = bus.recv() => match received {
                Ok(entry) if entry.seq <= replayed_up_to => Vec::new(),
                Ok(entry) => match deliver(&entry, &mut subscriber, &state).await {
                    Ok(message) => message.into_iter().collect(),
                    Err(end) => break end,
                },
                Err(RecvError::Lagged(missed)) => {
                    vec![text(json!({"type": "lagged", "missed": missed}))]
                }
                Err(RecvError::Closed) => break End::GoingAway,
            },
            _ = ping.tick() => {
                if state.services.auth.authenticate(&token, None).await.is_err() {
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

/// Turns one bus entry into the message for this connection, if any; ends the session when
/// its user may no longer be signed in.
async fn deliver(
    entry: &Arc<Published>,
    subscriber: &mut Subscriber,
    state: &AppState,
) -> Result<Option<Message>, End> {
    if subscriber.observe(entry) == Observed::UserChanged {
        match state.services.store.user(subscriber.user().id).await {
            Ok(Some(user)) if user.is_active => subscriber.set_user(user),
            _ => return Err(End::Unauthenticated),
        }
    }
    Ok(ws_event(entry, subscriber))
}

/// The WebSocket message for `entry`, rendered once per topic and shared by every connection.
fn ws_event(entry: &Published, subscriber: &Subscriber) -> Option<Message> {
    let (slot, event) = subscriber.route(entry)?;
    let bytes = entry.rendered(slot, || {
        let value = json!({
            "type": "event",
            "id": entry.seq,
            "topic": topic_name(entry, slot),
            "event": event,
            "ts": entry.ts.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "data": &entry.data,
        });
        bytes::Bytes::from(value.to_string())
    });
    axum::extract::ws::Utf8Bytes::try_from(bytes)
        .ok()
        .map(Message::Text)
}

/// Handles one client message; returns the replies and the last entry a replay sent.
async fn client_message(
    raw: &str,
    subscriber: &mut Subscriber,
    store: &dyn crate::store::Store,
) -> Result<(Vec<Message>, u64), String> {
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
            subscriber.subscribe(&topics);
            let mut replies = vec![text(json!({"type": "subscribed", "topics": topics}))];
            let mut replayed = 0;
            if let Some(since) = message.since {
                match replay(store, since).await.map_err(|e| e.to_string())? {
                    Replay::Reset => replies.push(text(json!({"type": "reset", "since": since}))),
                    Replay::Entries(entries) => {
                        for entry in entries {
                            replayed = entry.seq;
                            subscriber.observe(&entry);
                            replies.extend(ws_event(&entry, subscriber));
                        }
                    }
                }
            }
            Ok((replies, replayed))
        }
        "unsubscribe" => {
            subscriber.unsubscribe(&topics);
            Ok((
                vec![text(json!({"type": "unsubscribed", "topics": topics}))],
                0,
            ))
        }
        "ping" => Ok((vec![text(json!({"type": "pong"}))], 0)),
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
    let token = token_of(&query, &headers).ok_or_else(|| {
        ApiError::from(DomainError::Unauthenticated(
            "authentication required: send Authorization: Bearer <access token> or ?token=".into(),
        ))
    })?;
    let principal = state
        .services
        .auth
        .authenticate(&token, Some(ip.to_string()))
        .await?;
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
    let subscriber = Subscriber::new(state.services.store.as_ref(), &principal, topics).await?;
    let slot = state.live.open(principal.user.id.0)?;
    let stream = event_stream(state, subscriber, since, slot);
    Ok(Sse::new(stream)
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(15))
                .text("keep-alive"),
        )
        .into_response())
}

fn sse_event(envelope: &crate::service::realtime::Envelope) -> Event {
    Event::default()
        .id(envelope.id.to_string())
        .data(json!(envelope).to_string())
}

fn reset_event(since: u64) -> Event {
    Event::default().event("reset").data(
        json!({"since": since, "message": "the change log no longer reaches back that far; reload"})
            .to_string(),
    )
}

/// The SSE stream: a replay from `since` (if given), then live entries. A lagging stream
/// catches up from the change log instead of losing events.
fn event_stream(
    state: AppState,
    mut subscriber: Subscriber,
    since: Option<u64>,
    slot: LiveSlot,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        // Held while the stream lives: the user's live-connection count drops with it.
        let _slot = slot;
        let mut bus = state.bus.subscribe();
        let mut shutdown = state.shutdown.clone();
        let store = state.services.store.clone();
        let mut delivered = since.unwrap_or(0);
        let mut pending_replay = since;
        loop {
            if let Some(from) = pending_replay.take() {
                match replay(store.as_ref(), from).await {
                    Ok(Replay::Reset) => yield Ok(reset_event(from)),
                    Ok(Replay::Entries(entries)) => {
                        for entry in entries {
                            delivered = delivered.max(entry.seq);
                            subscriber.observe(&entry);
                            if let Some(envelope) = subscriber.envelope(&entry) {
                                yield Ok(sse_event(&envelope));
                            }
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "event replay failed");
                        break;
                    }
                }
            }
            let received = tokio::select! {
                () = stopping(&mut shutdown) => break,
                received = bus.recv() => received,
            };
            match received {
                Ok(entry) if entry.seq <= delivered => {}
                Ok(entry) => {
                    delivered = entry.seq;
                    if subscriber.observe(&entry) == Observed::UserChanged {
                        match store.user(subscriber.user().id).await {
                            Ok(Some(user)) if user.is_active => subscriber.set_user(user),
                            _ => break,
                        }
                    }
                    if let Some(envelope) = subscriber.envelope(&entry) {
                        yield Ok(sse_event(&envelope));
                    }
                }
                Err(RecvError::Lagged(_)) => pending_replay = Some(delivered),
                Err(RecvError::Closed) => break,
            }
        }
    }
}
