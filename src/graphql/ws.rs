//! `/graphql/ws`: subscriptions (and queries and mutations) over the `graphql-transport-ws`
//! protocol. The client authenticates in `connection_init` with `{"token": "<access>"}` or
//! `{"Authorization": "Bearer <access>"}`; a bad or expired token closes the socket with 4401,
//! as `/ws/` does, also when it stops working later (checked every 30 s, and when a
//! subscription's live session ends because the user was deactivated).

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::futures_util::stream::{AbortHandle, Abortable, BoxStream, SelectAll};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::error::finish;
use super::subscription::EndSignal;
use super::{NexusSchema, with_caller};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::ClientIp;
use crate::service::Principal;
use crate::service::realtime::Ended;

/// The one subprotocol spoken.
const PROTOCOL: &str = "graphql-transport-ws";
/// Close code for a bad or expired token (as `/ws/`).
const CLOSE_UNAUTHENTICATED: u16 = 4401;
/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the token is checked again (as `/ws/`).
const RECHECK_EVERY: Duration = Duration::from_secs(30);
/// Most operations one connection runs at once.
const MAX_OPERATIONS: usize = 32;

#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<Value>,
}

/// Upgrades to a WebSocket speaking `graphql-transport-ws`.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    Extension(schema): Extension<NexusSchema>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let spoken = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL);
    if !spoken {
        return super::http::refused(ApiError::bad_request(format!(
            "ask for the WebSocket subprotocol {PROTOCOL}"
        )));
    }
    let max_message = state.ws_max_message_bytes;
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| serve(socket, state, schema, ip.to_string()))
        .into_response()
}

/// How a connection ends when the server ends it.
enum End {
    Close(u16, &'static str),
    Gone,
}

/// How the connection closes when a live session ends for `why`.
fn ended(why: Ended) -> End {
    match why {
        Ended::Unauthenticated => End::Close(CLOSE_UNAUTHENTICATED, "invalid or expired token"),
        Ended::GoingAway => End::Close(1001, "server shutting down"),
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

/// The token of a `connection_init` payload.
fn token_of(payload: Option<&Value>) -> Option<String> {
    let payload = payload?;
    if let Some(token) = payload.get("token").and_then(Value::as_str) {
        return Some(token.to_string());
    }
    let header = payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
        .and_then(Value::as_str)?;
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

async fn serve(mut socket: WebSocket, state: AppState, schema: NexusSchema, ip: String) {
    // Until `connection_init`, nothing else is accepted.
    let init = tokio::time::timeout(INIT_TIMEOUT, socket.recv()).await;
    let payload = match init {
        Err(_) => return close(&mut socket, 4408, "connection initialisation timeout").await,
        Ok(None | Some(Err(_))) => return,
        Ok(Some(Ok(Message::Text(raw)))) => match serde_json::from_str::<ClientMessage>(&raw) {
            Ok(m) if m.kind == "connection_init" => m.payload,
            Ok(m) if m.kind == "subscribe" => {
                return close(&mut socket, 4401, "unauthorized").await;
            }
            _ => return close(&mut socket, 4400, "expected connection_init").await,
        },
        Ok(Some(Ok(_))) => return close(&mut socket, 4400, "expected connection_init").await,
    };
    let Some(token) = token_of(payload.as_ref()) else {
        return close(
            &mut socket,
            CLOSE_UNAUTHENTICATED,
            "invalid or expired token",
        )
        .await;
    };
    let principal = match state.services.authenticate_bearer(&token, Some(ip)).await {
        Ok(p) => p,
        Err(_) => {
            return close(
                &mut socket,
                CLOSE_UNAUTHENTICATED,
                "invalid or expired token",
            )
            .await;
        }
    };
    // Held while the socket lives: counted with the user's other live connections.
    let _slot = match state.live.open(
        principal.rate_limit_key(),
        crate::http::live_limit::Transport::WebSocket,
    ) {
        Ok(slot) => slot,
        Err(_) => return close(&mut socket, 4429, "too many live connections").await,
    };
    if socket
        .send(text(json!({"type": "connection_ack"})))
        .await
        .is_err()
    {
        return;
    }
    run(socket, &state, &schema, principal, &token).await;
}

/// The acknowledged connection: client messages, operation results and re-checks, until one
/// side ends it.
async fn run(
    socket: WebSocket,
    state: &AppState,
    schema: &NexusSchema,
    principal: Principal,
    token: &str,
) {
    let (mut sink, mut stream) = socket.split();
    let (end_tx, mut end_rx) = watch::channel::<Option<Ended>>(None);
    let mut running: SelectAll<BoxStream<'static, (String, Option<async_graphql::Response>)>> =
        SelectAll::new();
    let mut handles: HashMap<String, AbortHandle> = HashMap::new();
    let mut recheck =
        tokio::time::interval_at(tokio::time::Instant::now() + RECHECK_EVERY, RECHECK_EVERY);
    // Subscriptions end by themselves when the server stops; a socket running none must too.
    let stopped = state.services.realtime.stopped();
    tokio::pin!(stopped);
    let end = loop {
        let outgoing: Vec<Message> = tokio::select! {
            incoming = stream.next() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break End::Gone,
                Some(Ok(Message::Text(raw))) => {
                    let message = match serde_json::from_str::<ClientMessage>(&raw) {
                        Ok(m) => m,
                        Err(_) => break End::Close(4400, "invalid message"),
                    };
                    match message.kind.as_str() {
                        "ping" => vec![text(json!({"type": "pong"}))],
                        "pong" => Vec::new(),
                        "connection_init" => break End::Close(4429, "too many initialisation requests"),
                        "complete" => {
                            if let Some(handle) = message.id.and_then(|id| handles.remove(&id)) {
                                handle.abort();
                            }
                            Vec::new()
                        }
                        "subscribe" => {
                            let (Some(id), Some(payload)) = (message.id, message.payload) else {
                                break End::Close(4400, "subscribe needs an id and a payload");
                            };
                            if handles.contains_key(&id) {
                                break End::Close(4409, "subscriber for that id already exists");
                            }
                            if handles.len() >= MAX_OPERATIONS {
                                vec![text(json!({"type": "error", "id": id, "payload": [{
                                    "message": format!("at most {MAX_OPERATIONS} operations may run on one connection"),
                                    "extensions": {"code": "rate_limited"}}]}))]
                            } else {
                                match serde_json::from_value::<async_graphql::Request>(payload) {
                                    Ok(request) if principal.may(super::keys::key_use(&request)).is_err() => {
                                        vec![text(json!({"type": "error", "id": id, "payload": [{
                                            "message": "this machine key's scopes do not allow this operation",
                                            "extensions": {"code": "forbidden"}}]}))]
                                    }
                                    Ok(request) => {
                                        let request = with_caller(request, &state.services, principal.clone())
                                            .data(EndSignal(end_tx.clone()));
                                        let (handle, registration) = AbortHandle::new_pair();
                                        handles.insert(id.clone(), handle);
                                        running.push(operation(schema, request, id, registration));
                                        Vec::new()
                                    }
                                    Err(_) => break End::Close(4400, "invalid subscribe payload"),
                                }
                            }
                        }
                        _ => break End::Close(4400, "unknown message type"),
                    }
                }
                Some(Ok(Message::Binary(_))) => break End::Close(4400, "send JSON text messages"),
                Some(Ok(_)) => Vec::new(),
            },
            Some((id, response)) = running.next(), if !running.is_empty() => match response {
                Some(response) => {
                    let (message, failed) = result_message(&id, response);
                    if failed {
                        // An `error` ends the operation; no `complete` follows it.
                        handles.remove(&id);
                    }
                    vec![message]
                }
                None => {
                    // A subscription ends early when its session did: the connection ends too.
                    if let Some(why) = *end_rx.borrow() {
                        break ended(why);
                    }
                    // Completed by the server: said once, unless the client completed it
                    // first or it failed.
                    match handles.remove(&id) {
                        Some(_) => vec![text(json!({"type": "complete", "id": id}))],
                        None => Vec::new(),
                    }
                }
            },
            changed = end_rx.changed() => match (changed, *end_rx.borrow()) {
                (Ok(()), Some(why)) => break ended(why),
                _ => Vec::new(),
            },
            () = &mut stopped => break End::Close(1001, "server shutting down"),
            _ = recheck.tick() => {
                if state.services.authenticate_bearer(token, None).await.is_err() {
                    break End::Close(CLOSE_UNAUTHENTICATED, "invalid or expired token");
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
    for handle in handles.values() {
        handle.abort();
    }
    if let End::Close(code, reason) = end {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
}

/// One operation's results, tagged with its id, then `None` once it is complete (or was
/// stopped by the client).
fn operation(
    schema: &NexusSchema,
    request: async_graphql::Request,
    id: String,
    registration: async_graphql::futures_util::stream::AbortRegistration,
) -> BoxStream<'static, (String, Option<async_graphql::Response>)> {
    let results = Abortable::new(schema.execute_stream(request), registration);
    let done = id.clone();
    results
        .map(move |response| (id.clone(), Some(finish(response))))
        .chain(futures_util::stream::once(async move { (done, None) }))
        .boxed()
}

/// A result as `next`, or as `error` when the operation failed before it ran (it did not
/// parse or validate, or was refused): then there is no data at all.
/// Whether it was an `error` is returned with it.
fn result_message(id: &str, response: async_graphql::Response) -> (Message, bool) {
    let failed_early = response.data == async_graphql::Value::Null && !response.errors.is_empty();
    if failed_early {
        let message = text(json!({"type": "error", "id": id, "payload": response.errors}));
        (message, true)
    } else {
        (
            text(json!({"type": "next", "id": id, "payload": response})),
            false,
        )
    }
}
