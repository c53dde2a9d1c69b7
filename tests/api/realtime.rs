//! Realtime (API.md §Realtime): the WebSocket at `/ws/` and the Server-Sent Events stream at
//! `/api/events/`. Envelopes and event names with the REST form of each object, topics and the
//! default subscription, visibility per connection (roles, team changes, own notifications and
//! conversations, `project:{id}`), replay from the change log (`Last-Event-ID`, `since`, across
//! restarts, `reset` when the log no longer reaches back), authentication (4401, 401), malformed
//! client messages, going-away on shutdown, and slow readers (`lagged`).
//!
//! "Nothing arrives" is proved where possible with a marker: after the change the client must not
//! see, make one it must see; events arrive in order, so the next event must be the marker.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers: REST

/// How long any one wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(5);
/// How long to listen when asserting that nothing arrives.
const QUIET: Duration = Duration::from_millis(500);

const ACTIVITIES: &str = "/api/activities/";
const PROJECTS: &str = "/api/projects/";
const UPDATES: &str = "/api/updates/";
const MESSAGES: &str = "/api/chat/messages/";
const NOTIFICATIONS: &str = "/api/updates/notifications/";
const EVENTS: &str = "/api/events/";

fn id_of(value: &Value) -> u64 {
    value["id"].as_u64().expect("numeric id")
}

/// Asserts `201` and returns the body.
async fn created(response: Response, what: &str) -> Value {
    assert_eq!(response.status(), StatusCode::CREATED, "{what}");
    json_of(response).await
}

/// GET `path` as `token`; asserts 200 and returns the body.
async fn get_ok(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.get(path, token).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    json_of(r).await
}

/// POST /api/activities/ as `token` with `body`; returns the activity.
async fn activity(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post(ACTIVITIES, Some(token), &body).await;
    created(r, &format!("create activity {body}")).await
}

/// An activity titled `title` with no project and no assignee (visible to everyone).
async fn public_activity(app: &TestApp, token: &str, title: &str) -> Value {
    activity(app, token, json!({"title": title})).await
}

/// An activity titled `title` in `project`.
async fn project_activity(app: &TestApp, token: &str, project: &Value, title: &str) -> Value {
    activity(
        app,
        token,
        json!({"title": title, "project_id": project["id"]}),
    )
    .await
}

/// A project named `name` with `team`, created (and managed) by `token`.
async fn project(app: &TestApp, token: &str, name: &str, team: &[&Value]) -> Value {
    let members: Vec<Value> = team.iter().map(|u| u["id"].clone()).collect();
    let r = app
        .post(
            PROJECTS,
            Some(token),
            &json!({"name": name, "team_members": members}),
        )
        .await;
    created(r, &format!("create project {name}")).await
}

fn project_path(project: &Value) -> String {
    format!("{PROJECTS}{}/", project["id"])
}

/// Adds `user` to the team of `project` as `token`.
async fn add_member(app: &TestApp, token: &str, project: &Value, user: &Value) {
    let r = app
        .post(
            &format!("{}team/", project_path(project)),
            Some(token),
            &json!({"user_id": user["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "add team member");
}

/// A direct message from `token` to `to`.
async fn dm(app: &TestApp, token: &str, to: &Value, content: &str) -> Value {
    let r = app
        .post(
            MESSAGES,
            Some(token),
            &json!({"receiver_id": to["id"], "content": content}),
        )
        .await;
    created(r, &format!("send {content}")).await
}

/// The caller's notifications, newest first.
async fn notifications(app: &TestApp, token: &str) -> Vec<Value> {
    let body = get_ok(app, NOTIFICATIONS, token).await;
    body["results"].as_array().expect("results").clone()
}

/// Checks the envelope fields every channel sends; `extra` names the keys allowed besides them.
fn assert_envelope(envelope: &Value, topic: &str, event: &str, extra: &[&str]) {
    assert_eq!(envelope["topic"], topic, "topic of {envelope}");
    assert_eq!(envelope["event"], event, "event of {envelope}");
    assert!(
        envelope["id"].as_u64().is_some_and(|id| id > 0),
        "id of {envelope}"
    );
    let ts = envelope["ts"].as_str().expect("ts is a string");
    assert!(
        ts.len() >= 20 && ts.as_bytes()[10] == b'T' && ts.ends_with('Z'),
        "ts {ts:?} is RFC 3339 in UTC"
    );
    assert!(envelope["data"].is_object(), "data of {envelope}");
    let keys: BTreeSet<&str> = envelope
        .as_object()
        .expect("envelope object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected: BTreeSet<&str> = ["id", "topic", "event", "ts", "data"].into();
    expected.extend(extra);
    assert_eq!(keys, expected, "envelope keys of {envelope}");
}

// ---------------------------------------------------------------------------------------------
// Helpers: WebSocket client

fn host(app: &TestApp) -> &str {
    app.base.trim_start_matches("http://")
}

/// A WebSocket client of `/ws/`.
struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Opens `/ws/?token=<token>`; asserts the upgrade succeeds.
async fn ws(app: &TestApp, token: &str) -> Ws {
    ws_to(format!("ws://{}/ws/?token={token}", host(app))).await
}

/// Opens a WebSocket to `url`; asserts the upgrade succeeds.
async fn ws_to(url: String) -> Ws {
    let (stream, response) = timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("WebSocket upgrade in time")
        .expect("WebSocket upgrade");
    assert_eq!(response.status().as_u16(), 101, "upgrade status");
    Ws { stream }
}

/// Opens a WebSocket as `token` subscribed to `topics` (on top of the defaults).
async fn ws_subscribed(app: &TestApp, token: &str, topics: &[&str]) -> Ws {
    let mut socket = ws(app, token).await;
    socket.subscribe(topics).await;
    socket
}

impl Ws {
    async fn send(&mut self, value: Value) {
        self.send_message(Message::text(value.to_string())).await;
    }

    async fn send_message(&mut self, message: Message) {
        timeout(WAIT, self.stream.send(message))
            .await
            .expect("send in time")
            .expect("send");
    }

    /// The next message that is not a ping or pong, or `None` after `wait`.
    async fn frame(&mut self, wait: Duration) -> Option<Message> {
        let deadline = Instant::now() + wait;
        loop {
            match timeout_at(deadline, self.stream.next()).await {
                Err(_) => return None,
                Ok(None) => panic!("the WebSocket ended"),
                Ok(Some(Err(e))) => panic!("WebSocket error: {e}"),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                Ok(Some(Ok(message))) => return Some(message),
            }
        }
    }

    /// The next text message, as JSON.
    async fn recv(&mut self) -> Value {
        match self.frame(WAIT).await {
            Some(Message::Text(text)) => serde_json::from_str(text.as_str())
                .unwrap_or_else(|e| panic!("message {text:?} is not JSON: {e}")),
            Some(other) => panic!("expected a text message, got {other:?}"),
            None => panic!("no message within {WAIT:?}"),
        }
    }

    /// The next message, which must be an event.
    async fn event(&mut self) -> Value {
        let message = self.recv().await;
        assert_eq!(message["type"], "event", "expected an event: {message}");
        message
    }

    /// The next message, which must be the event `name` on `topic`; checks the envelope.
    async fn expect(&mut self, topic: &str, name: &str) -> Value {
        let message = self.event().await;
        assert_envelope(&message, topic, name, &["type"]);
        message
    }

    /// Asserts that nothing arrives for a while.
    async fn assert_quiet(&mut self) {
        if let Some(message) = self.frame(QUIET).await {
            panic!("expected nothing, got {message:?}");
        }
    }

    async fn subscribe(&mut self, topics: &[&str]) {
        self.send(json!({"type": "subscribe", "topics": topics}))
            .await;
        let reply = self.recv().await;
        assert_eq!(reply, json!({"type": "subscribed", "topics": topics}));
    }

    async fn subscribe_since(&mut self, topics: &[&str], since: u64) {
        self.send(json!({"type": "subscribe", "topics": topics, "since": since}))
            .await;
        let reply = self.recv().await;
        assert_eq!(reply, json!({"type": "subscribed", "topics": topics}));
    }

    async fn unsubscribe(&mut self, topics: &[&str]) {
        self.send(json!({"type": "unsubscribe", "topics": topics}))
            .await;
        let reply = self.recv().await;
        assert_eq!(reply, json!({"type": "unsubscribed", "topics": topics}));
    }

    /// Sends a ping message and expects the pong: the connection is alive and usable.
    async fn assert_alive(&mut self) {
        self.send(json!({"type": "ping"})).await;
        assert_eq!(self.recv().await, json!({"type": "pong"}));
    }

    /// Waits for the server's close frame; returns its code.
    async fn close_code(&mut self) -> u16 {
        loop {
            match timeout(WAIT, self.stream.next()).await {
                Err(_) => panic!("no close frame within {WAIT:?}"),
                Ok(Some(Ok(Message::Close(Some(frame))))) => return u16::from(frame.code),
                Ok(Some(Ok(Message::Close(None)))) => panic!("a close frame without a code"),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                Ok(Some(Ok(other))) => panic!("expected a close frame, got {other:?}"),
                Ok(Some(Err(e))) => panic!("WebSocket error before the close frame: {e}"),
                Ok(None) => panic!("the WebSocket ended without a close frame"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers: Server-Sent Events client

/// One SSE block: its fields and comments.
#[derive(Debug, Default)]
struct SseBlock {
    id: Option<String>,
    event: Option<String>,
    data: Vec<String>,
    comments: Vec<String>,
}

impl SseBlock {
    fn parse(raw: &str) -> SseBlock {
        let mut block = SseBlock::default();
        for line in raw.lines().filter(|l| !l.is_empty()) {
            if let Some(comment) = line.strip_prefix(':') {
                block.comments.push(comment.trim().to_string());
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value).to_string();
            match field {
                "id" => block.id = Some(value),
                "event" => block.event = Some(value),
                "data" => block.data.push(value),
                _ => {}
            }
        }
        block
    }

    fn is_comment_only(&self) -> bool {
        self.id.is_none() && self.event.is_none() && self.data.is_empty()
    }

    fn json(&self) -> Value {
        let data = self.data.join("\n");
        serde_json::from_str(&data).unwrap_or_else(|e| panic!("data {data:?} is not JSON: {e}"))
    }
}

/// A reader of an `/api/events/` response.
struct Sse {
    response: Response,
    buf: Vec<u8>,
}

/// GET /api/events/{query}, as `token` (bearer) if given, with `Last-Event-ID` if given.
async fn sse_request(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    last_event_id: Option<u64>,
) -> Response {
    let mut request = app.request(Method::GET, &format!("{EVENTS}{query}"), token);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    timeout(WAIT, request.send())
        .await
        .expect("SSE response in time")
        .expect("SSE request")
}

/// Opens the stream as `token` on `topics`; asserts it is an event stream.
async fn sse(app: &TestApp, token: &str, topics: &str, last_event_id: Option<u64>) -> Sse {
    let response = sse_request(
        app,
        Some(token),
        &format!("?topics={topics}"),
        last_event_id,
    )
    .await;
    Sse::of(response)
}

impl Sse {
    fn of(response: Response) -> Sse {
        assert_eq!(response.status(), StatusCode::OK, "SSE status");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(
            content_type.starts_with("text/event-stream"),
            "SSE content type was {content_type:?}"
        );
        Sse {
            response,
            buf: Vec::new(),
        }
    }

    /// The next block (comments included), or `None` after `wait`.
    async fn block(&mut self, wait: Duration) -> Option<SseBlock> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let raw: Vec<u8> = self.buf.drain(..end + 2).collect();
                return Some(SseBlock::parse(
                    std::str::from_utf8(&raw).expect("SSE is UTF-8"),
                ));
            }
            match timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buf.extend_from_slice(&bytes),
                Ok(Ok(None)) => panic!("the SSE stream ended"),
                Ok(Err(e)) => panic!("SSE stream error: {e}"),
            }
        }
    }

    /// The next block that is not only a comment.
    async fn next(&mut self) -> SseBlock {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.block(left).await {
                Some(block) if block.is_comment_only() => {}
                Some(block) => return block,
                None => panic!("no SSE event within {WAIT:?}"),
            }
        }
    }

    /// The next event, which must be a plain message whose `id:` is the envelope's id; returns
    /// the envelope.
    async fn event(&mut self) -> Value {
        let block = self.next().await;
        assert_eq!(block.event, None, "expected a plain event: {block:?}");
        let envelope = block.json();
        let id = block.id.as_deref().expect("an id: field");
        assert_eq!(
            id.parse::<u64>().ok(),
            envelope["id"].as_u64(),
            "id: field and envelope id of {block:?}"
        );
        envelope
    }

    /// The next event, which must be `name` on `topic`; checks the envelope.
    async fn expect(&mut self, topic: &str, name: &str) -> Value {
        let envelope = self.event().await;
        assert_envelope(&envelope, topic, name, &[]);
        envelope
    }

    /// Asserts that no event (comments aside) arrives for a while.
    async fn assert_quiet(&mut self) {
        let deadline = Instant::now() + QUIET;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.block(left).await {
                None => return,
                Some(block) if block.is_comment_only() => {}
                Some(block) => panic!("expected nothing, got {block:?}"),
            }
        }
    }

    /// Waits for the server to end the stream.
    async fn assert_ends(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            match timeout_at(deadline, self.response.chunk()).await {
                Err(_) => panic!("the SSE stream did not end within {WAIT:?}"),
                Ok(Ok(Some(bytes))) => self.buf.extend_from_slice(&bytes),
                Ok(Ok(None) | Err(_)) => return,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Delivery: both channels, envelopes, event names

#[tokio::test]
async fn websocket_and_sse_both_deliver_a_created_activity_with_its_rest_form() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut socket = ws_subscribed(&app, &admin, &["activities"]).await;
    let mut stream = sse(&app, &admin, "activities", None).await;

    let created = activity(
        &app,
        &admin,
        json!({"title": "Press line 2 changeover", "description": "die swap",
               "type": "changeover", "priority": "high"}),
    )
    .await;

    let over_ws = socket.expect("activities", "activity.created").await;
    assert_eq!(over_ws["data"], created, "WebSocket data is the REST body");
    let over_sse = stream.expect("activities", "activity.created").await;
    assert_eq!(over_sse["data"], created, "SSE data is the REST body");
    assert_eq!(over_ws["id"], over_sse["id"], "one change, one id");
    assert_eq!(over_ws["ts"], over_sse["ts"]);

    // Exactly one event each.
    socket.assert_quiet().await;
    stream.assert_quiet().await;
}

#[tokio::test]
async fn every_kind_of_change_is_an_event_named_as_in_the_contract_with_the_rest_form() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (worker, worker_token) = app.user_with_token("worker", "user").await;
    let mut socket = ws_subscribed(&app, &admin, &["activities", "projects", "updates"]).await;
    let mut ids = Vec::new();

    // Activities: created, updated, deleted (with its last state).
    let a = public_activity(&app, &admin, "Calibrate scale").await;
    let e = socket.expect("activities", "activity.created").await;
    assert_eq!(e["data"], a);
    ids.push(id_of(&e));
    let path = format!("{ACTIVITIES}{}/", a["id"]);
    let r = app
        .patch(&path, &admin, &json!({"title": "Calibrate scale 3"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let patched = json_of(r).await;
    let e = socket.expect("activities", "activity.updated").await;
    assert_eq!(e["data"], patched);
    ids.push(id_of(&e));
    assert_eq!(
        app.delete(&path, &admin).await.status(),
        StatusCode::NO_CONTENT
    );
    let e = socket.expect("activities", "activity.deleted").await;
    assert_eq!(e["data"], patched, "a delete carries the last state");
    ids.push(id_of(&e));

    // Projects: created, updated, team changed, deleted.
    let p = project(&app, &admin, "Line 4 retrofit", &[]).await;
    let e = socket.expect("projects", "project.created").await;
    assert_eq!(e["data"], p);
    ids.push(id_of(&e));
    let r = app
        .patch(
            &project_path(&p),
            &admin,
            &json!({"description": "phase 1"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let patched = json_of(r).await;
    let e = socket.expect("projects", "project.updated").await;
    assert_eq!(e["data"], patched);
    ids.push(id_of(&e));
    add_member(&app, &admin, &p, &worker).await;
    let e = socket.expect("projects", "project.team_changed").await;
    let now = get_ok(&app, &project_path(&p), &admin).await;
    assert_eq!(
        e["data"], now,
        "team_changed carries the project with its new team"
    );
    assert!(
        now["team_members"]
            .as_array()
            .expect("team")
            .contains(&worker["id"])
    );
    ids.push(id_of(&e));
    assert_eq!(
        app.delete(&project_path(&p), &admin).await.status(),
        StatusCode::NO_CONTENT
    );
    let e = socket.expect("projects", "project.deleted").await;
    assert_eq!(e["data"]["id"], p["id"]);
    ids.push(id_of(&e));

    // Updates: created, updated, deleted.
    let u = created(
        app.post(
            UPDATES,
            Some(&admin),
            &json!({"title": "Canteen closed", "content": "Friday", "priority": "low"}),
        )
        .await,
        "post update",
    )
    .await;
    let e = socket.expect("updates", "update.created").await;
    assert_eq!(e["data"], u);
    ids.push(id_of(&e));
    let upath = format!("{UPDATES}{}/", u["id"]);
    let r = app
        .patch(&upath, &admin, &json!({"content": "Friday and Monday"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let patched = json_of(r).await;
    let e = socket.expect("updates", "update.updated").await;
    assert_eq!(e["data"], patched);
    ids.push(id_of(&e));
    assert_eq!(
        app.delete(&upath, &admin).await.status(),
        StatusCode::NO_CONTENT
    );
    let e = socket.expect("updates", "update.deleted").await;
    assert_eq!(e["data"]["id"], u["id"]);
    ids.push(id_of(&e));

    // Chat (a default topic): a direct message to the admin, then its deletion.
    let me = get_ok(&app, "/api/auth/user/", &admin).await;
    let m = dm(&app, &worker_token, &me, "shift report is in").await;
    let e = socket.expect("chat", "chat.message").await;
    assert_eq!(e["data"], m);
    ids.push(id_of(&e));
    // The admin is told by a notification too.
    let n = socket.expect("notifications", "notification.created").await;
    assert_eq!(n["data"]["kind"], "chat_message");
    ids.push(id_of(&n));
    let r = app.delete(&format!("{MESSAGES}{}/", m["id"]), &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let e = socket.expect("chat", "chat.deleted").await;
    assert_eq!(e["data"]["id"], m["id"]);
    ids.push(id_of(&e));

    // Ids grow; the admin sees everything but the worker's team notification, so they grow by
    // one at each step but that one.
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "ids grow: {ids:?}");
    let steps: Vec<u64> = ids.windows(2).map(|w| w[1] - w[0]).collect();
    let mut expected = vec![1; ids.len() - 1];
    expected[5] = 2; // team_changed → deleted: the worker's team_added notification between
    assert_eq!(steps, expected, "ids {ids:?}");
    socket.assert_quiet().await;
}

#[tokio::test]
async fn the_default_subscription_is_notifications_and_chat_and_subscribe_adds_to_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (alice, alice_token) = app.user_with_token("alice", "user").await;

    // No subscribe message: notifications and chat only, no activities.
    let mut socket = ws(&app, &alice_token).await;
    let assigned = activity(
        &app,
        &admin,
        json!({"title": "Inspect forklift", "assigned_to": alice["id"]}),
    )
    .await;
    let e = socket.expect("notifications", "notification.created").await;
    assert_eq!(e["data"]["kind"], "activity_assigned");
    let mine = notifications(&app, &alice_token).await;
    assert_eq!(
        e["data"], mine[0],
        "data is the notification as REST lists it"
    );
    socket.assert_quiet().await; // no activity.created
    let m = dm(&app, &admin, &alice, "see me at 3").await;
    let e = socket.expect("chat", "chat.message").await;
    assert_eq!(e["data"], m);
    let e = socket.expect("notifications", "notification.created").await;
    assert_eq!(e["data"]["kind"], "chat_message");

    // Subscribing to activities keeps the defaults.
    socket.subscribe(&["activities"]).await;
    let r = app
        .patch(
            &format!("{ACTIVITIES}{}/", assigned["id"]),
            &admin,
            &json!({"title": "Inspect forklift 2"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let e = socket.expect("activities", "activity.updated").await;
    assert_eq!(e["data"], json_of(r).await);
    dm(&app, &admin, &alice, "still there?").await;
    socket.expect("chat", "chat.message").await;
    socket.expect("notifications", "notification.created").await;

    // Unsubscribing stops a topic, and only that one.
    socket.unsubscribe(&["activities", "chat"]).await;
    public_activity(&app, &admin, "Not for this socket").await;
    dm(&app, &admin, &alice, "nor this message").await;
    let e = socket.expect("notifications", "notification.created").await;
    assert_eq!(e["data"]["kind"], "chat_message");
    socket.assert_quiet().await;
}

#[tokio::test]
async fn sse_without_topics_carries_the_default_topics() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (alice, alice_token) = app.user_with_token("alice", "user").await;
    let mut stream = Sse::of(sse_request(&app, Some(&alice_token), "", None).await);

    activity(
        &app,
        &admin,
        json!({"title": "Inspect forklift", "assigned_to": alice["id"]}),
    )
    .await;
    let e = stream.expect("notifications", "notification.created").await;
    assert_eq!(e["data"], notifications(&app, &alice_token).await[0]);
    let m = dm(&app, &admin, &alice, "hello").await;
    let e = stream.expect("chat", "chat.message").await;
    assert_eq!(e["data"], m);
    stream.expect("notifications", "notification.created").await;
    stream.assert_quiet().await;
}

// ---------------------------------------------------------------------------------------------
// Visibility

#[tokio::test]
async fn a_user_gets_a_projects_activities_only_once_on_its_team() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (user, token) = app.user_with_token("outsider", "user").await;
    let private = project(&app, &admin, "Private project", &[]).await;
    let mut socket = ws_subscribed(&app, &token, &["activities", "projects"]).await;
    let mut stream = sse(&app, &token, "activities,projects", None).await;

    // Not on the team: nothing of the project, neither the activity nor the project's changes.
    project_activity(&app, &admin, &private, "Secret trial run").await;
    let r = app
        .patch(
            &project_path(&private),
            &admin,
            &json!({"description": "hush"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let marker = public_activity(&app, &admin, "Marker").await;
    let e = socket.expect("activities", "activity.created").await;
    assert_eq!(e["data"], marker, "the hidden activity was skipped");
    let e = stream.expect("activities", "activity.created").await;
    assert_eq!(e["data"], marker, "the hidden activity was skipped on SSE");

    // On the team: the team change itself, then the project's activities.
    add_member(&app, &admin, &private, &user).await;
    let team = get_ok(&app, &project_path(&private), &admin).await;
    let e = socket.expect("projects", "project.team_changed").await;
    assert_eq!(e["data"], team);
    let e = stream.expect("projects", "project.team_changed").await;
    assert_eq!(e["data"], team);
    // (and a team_added notification, on the default topic of the WebSocket)
    let e = socket.expect("notifications", "notification.created").await;
    assert_eq!(e["data"]["kind"], "team_added");

    let visible = project_activity(&app, &admin, &private, "Open trial run").await;
    let e = socket.expect("activities", "activity.created").await;
    assert_eq!(e["data"], visible);
    let e = stream.expect("activities", "activity.created").await;
    assert_eq!(e["data"], visible);

    // Off the team again: nothing more of it.
    let r = app
        .delete(
            &format!("{}team/{}/", project_path(&private), user["id"]),
            &admin,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    project_activity(&app, &admin, &private, "Secret again").await;
    let marker = public_activity(&app, &admin, "Marker 2").await;
    let e = socket.event().await;
    assert_eq!(e["data"], marker, "after removal from the team: {e}");
    let e = stream.event().await;
    assert_eq!(e["data"], marker, "after removal from the team (SSE): {e}");
}

#[tokio::test]
async fn a_user_sees_activities_it_created_or_is_assigned_in_a_hidden_project() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (user, token) = app.user_with_token("assignee", "user").await;
    let private = project(&app, &admin, "Private project", &[]).await;
    let mut socket = ws_subscribed(&app, &token, &["activities"]).await;
    socket.unsubscribe(&["notifications", "chat"]).await;

    let assigned = activity(
        &app,
        &admin,
        json!({"title": "Yours", "project_id": private["id"], "assigned_to": user["id"]}),
    )
    .await;
    let e = socket.expect("activities", "activity.created").await;
    assert_eq!(e["data"], assigned);
    socket.assert_quiet().await;
}

#[tokio::test]
async fn staff_see_every_activity_until_demoted() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (staff, token) = app.user_with_token("foreman", "staff").await;
    let private = project(&app, &admin, "Private project", &[]).await;
    let mut socket = ws_subscribed(&app, &token, &["activities"]).await;

    let a = project_activity(&app, &admin, &private, "Seen by staff").await;
    let e = socket.expect("activities", "activity.created").await;
    assert_eq!(e["data"], a);

    let r = app
        .patch(
            &format!("/api/users/{}/", staff["id"]),
            &admin,
            &json!({"role": "user"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    project_activity(&app, &admin, &private, "Not any more").await;
    let marker = public_activity(&app, &admin, "Marker").await;
    let e = socket.event().await;
    assert_eq!(e["data"], marker, "a demoted user's live connection: {e}");
}

#[tokio::test]
async fn notifications_reach_only_their_recipient() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (alice, alice_token) = app.user_with_token("alice", "user").await;
    let (bob, bob_token) = app.user_with_token("bob", "user").await;
    let mut a_ws = ws(&app, &alice_token).await;
    let mut b_ws = ws(&app, &bob_token).await;
    let mut b_sse = sse(&app, &bob_token, "notifications", None).await;

    activity(
        &app,
        &admin,
        json!({"title": "For alice", "assigned_to": alice["id"]}),
    )
    .await;
    let e = a_ws.expect("notifications", "notification.created").await;
    assert_eq!(e["data"], notifications(&app, &alice_token).await[0]);
    assert_eq!(e["data"]["kind"], "activity_assigned");

    // Bob's first notification event is his own.
    activity(
        &app,
        &admin,
        json!({"title": "For bob", "assigned_to": bob["id"]}),
    )
    .await;
    let bobs = notifications(&app, &bob_token).await;
    assert_eq!(bobs.len(), 1);
    let e = b_ws.expect("notifications", "notification.created").await;
    assert_eq!(e["data"], bobs[0], "bob got alice's notification first?");
    let e = b_sse.expect("notifications", "notification.created").await;
    assert_eq!(
        e["data"], bobs[0],
        "bob got alice's notification first (SSE)?"
    );
    a_ws.assert_quiet().await;
    b_ws.assert_quiet().await;
}

#[tokio::test]
async fn a_direct_message_reaches_its_two_parties_only() {
    let app = spawn_app().await;
    let (_, a_token) = app.user_with_token("alice", "user").await;
    let (b, b_token) = app.user_with_token("bob", "user").await;
    let (c, c_token) = app.user_with_token("carol", "user").await;
    let mut a_ws = ws(&app, &a_token).await;
    let mut b_ws = ws(&app, &b_token).await;
    let mut c_ws = ws(&app, &c_token).await;

    let message = dm(&app, &a_token, &b, "lunch at 12?").await;

    // Bob: the message and a notification of it, in either order.
    let first = b_ws.event().await;
    let second = b_ws.event().await;
    let (chat, note) = if first["event"] == "chat.message" {
        (first, second)
    } else {
        (second, first)
    };
    assert_envelope(&chat, "chat", "chat.message", &["type"]);
    assert_eq!(chat["data"], message);
    assert_envelope(&note, "notifications", "notification.created", &["type"]);
    assert_eq!(note["data"]["kind"], "chat_message");
    assert_eq!(note["data"], notifications(&app, &b_token).await[0]);

    // Alice, the sender: the message (it is her conversation), no notification.
    let e = a_ws.expect("chat", "chat.message").await;
    assert_eq!(e["data"], message);
    a_ws.assert_quiet().await;

    // Carol: nothing of it; her first event is a message to her.
    let to_carol = dm(&app, &b_token, &c, "hi carol").await;
    let e = c_ws.expect("chat", "chat.message").await;
    assert_eq!(
        e["data"], to_carol,
        "carol saw someone else's message first"
    );
    assert_eq!(e["data"]["sender_id"], b["id"]);
    assert_ne!(id_of(&e["data"]), id_of(&message));
}

#[tokio::test]
async fn the_project_topic_carries_that_project_only() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (member, token) = app.user_with_token("member", "user").await;
    let (_, outsider_token) = app.user_with_token("outsider", "user").await;
    let mine = project(&app, &admin, "Line 3", &[&member]).await;
    let other = project(&app, &admin, "Line 4", &[&member]).await;
    let topic = format!("project:{}", mine["id"]);

    let mut socket = ws(&app, &token).await;
    socket.unsubscribe(&["notifications", "chat"]).await;
    socket.subscribe(&[&topic]).await;
    let mut stream = sse(&app, &token, &topic, None).await;
    let mut outsider = ws_subscribed(&app, &outsider_token, &[&topic, "activities"]).await;

    // Another project's activity (visible to the member) and a project-less one: not on it.
    project_activity(&app, &admin, &other, "Line 4 work").await;
    public_activity(&app, &admin, "No project").await;
    let a = project_activity(&app, &admin, &mine, "Line 3 work").await;
    let e = socket.expect(&topic, "activity.created").await;
    assert_eq!(e["data"], a);
    let e = stream.expect(&topic, "activity.created").await;
    assert_eq!(e["data"], a);

    // Everything about the project: its own changes and its room.
    let r = app
        .patch(
            &project_path(&mine),
            &admin,
            &json!({"description": "new tooling"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let patched = json_of(r).await;
    let e = socket.expect(&topic, "project.updated").await;
    assert_eq!(e["data"], patched);
    stream.expect(&topic, "project.updated").await;
    let said = created(
        app.post(
            MESSAGES,
            Some(&admin),
            &json!({"project_id": mine["id"], "content": "kick-off at 9"}),
        )
        .await,
        "room message",
    )
    .await;
    let e = socket.expect(&topic, "chat.message").await;
    assert_eq!(e["data"], said);
    let e = stream.expect(&topic, "chat.message").await;
    assert_eq!(e["data"], said);
    socket.assert_quiet().await;
    stream.assert_quiet().await;

    // Someone who cannot see the project gets nothing of it on that topic either: the first
    // thing the outsider sees is the project-less activity.
    let e = outsider.expect("activities", "activity.created").await;
    assert_eq!(e["data"]["title"], "No project");
    outsider.assert_quiet().await;
}

// ---------------------------------------------------------------------------------------------
// Replay

/// Opens SSE on activities as `token`, creates an activity, reads its event; returns its id.
async fn last_seen_over_sse(app: &TestApp, token: &str) -> u64 {
    let mut stream = sse(app, token, "activities", None).await;
    let a = public_activity(app, token, "Seen").await;
    let e = stream.expect("activities", "activity.created").await;
    assert_eq!(e["data"], a);
    id_of(&e)
}

/// Creates three activities as `token`; returns them.
async fn three_activities(app: &TestApp, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for title in ["Missed 1", "Missed 2", "Missed 3"] {
        out.push(public_activity(app, token, title).await);
    }
    out
}

#[tokio::test]
async fn sse_last_event_id_replays_exactly_what_was_missed_then_goes_live() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let seen = last_seen_over_sse(&app, &admin).await;
    let missed = three_activities(&app, &admin).await;

    let mut stream = sse(&app, &admin, "activities", Some(seen)).await;
    for (i, a) in missed.iter().enumerate() {
        let e = stream.expect("activities", "activity.created").await;
        assert_eq!(e["data"], *a, "replayed in order");
        assert_eq!(id_of(&e), seen + 1 + i as u64, "one id per change");
    }
    stream.assert_quiet().await;
    let live = public_activity(&app, &admin, "Live").await;
    let e = stream.expect("activities", "activity.created").await;
    assert_eq!(e["data"], live);
    assert_eq!(id_of(&e), seen + 4);
    stream.assert_quiet().await;

    // A replay from the newest event gives nothing old.
    let mut stream = sse(&app, &admin, "activities", Some(seen + 4)).await;
    stream.assert_quiet().await;
}

#[tokio::test]
async fn sse_last_event_id_replays_across_a_restart() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let seen = last_seen_over_sse(&app, &admin).await;
    let missed = three_activities(&app, &admin).await;

    let app = app.restart().await;
    let admin = app.admin_token().await;
    let mut stream = sse(&app, &admin, "activities", Some(seen)).await;
    for (i, a) in missed.iter().enumerate() {
        let e = stream.expect("activities", "activity.created").await;
        assert_eq!(e["data"], *a, "replayed in order after a restart");
        assert_eq!(id_of(&e), seen + 1 + i as u64);
    }
    stream.assert_quiet().await;
    // Ids go on from where they were.
    let live = public_activity(&app, &admin, "After restart").await;
    let e = stream.expect("activities", "activity.created").await;
    assert_eq!(e["data"], live);
    assert_eq!(id_of(&e), seen + 4, "ids survive the restart");
}

#[tokio::test]
async fn websocket_subscribe_since_replays_then_goes_live_without_duplicates() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut socket = ws_subscribed(&app, &admin, &["activities"]).await;
    let a = public_activity(&app, &admin, "Seen").await;
    let e = socket.expect("activities", "activity.created").await;
    assert_eq!(e["data"], a);
    let seen = id_of(&e);
    drop(socket);

    let missed = three_activities(&app, &admin).await;
    let mut socket = ws(&app, &admin).await;
    socket.subscribe_since(&["activities"], seen).await;
    for (i, a) in missed.iter().enumerate() {
        let e = socket.expect("activities", "activity.created").await;
        assert_eq!(e["data"], *a, "replayed in order");
        assert_eq!(id_of(&e), seen + 1 + i as u64);
    }
    socket.assert_quiet().await;
    let live = public_activity(&app, &admin, "Live").await;
    let e = socket.expect("activities", "activity.created").await;
    assert_eq!(e["data"], live);
    assert_eq!(id_of(&e), seen + 4);
    socket.assert_quiet().await;
}

#[tokio::test]
async fn websocket_subscribe_since_replays_across_a_restart() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let seen = last_seen_over_sse(&app, &admin).await;
    let missed = three_activities(&app, &admin).await;

    let app = app.restart().await;
    let admin = app.admin_token().await;
    let mut socket = ws(&app, &admin).await;
    socket.subscribe_since(&["activities"], seen).await;
    for a in &missed {
        let e = socket.expect("activities", "activity.created").await;
        assert_eq!(e["data"], *a);
    }
    socket.assert_quiet().await;
}

#[tokio::test]
async fn a_replay_holds_only_what_the_caller_may_see() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, token) = app.user_with_token("outsider", "user").await;
    let private = project(&app, &admin, "Private project", &[]).await;
    let seen = last_seen_over_sse(&app, &token).await;

    let first = public_activity(&app, &admin, "Visible 1").await;
    project_activity(&app, &admin, &private, "Hidden").await;
    let last = public_activity(&app, &admin, "Visible 2").await;

    let mut stream = sse(&app, &token, "activities", Some(seen)).await;
    let e1 = stream.expect("activities", "activity.created").await;
    assert_eq!(e1["data"], first);
    let e2 = stream.expect("activities", "activity.created").await;
    assert_eq!(e2["data"], last);
    assert_eq!(
        id_of(&e2),
        id_of(&e1) + 2,
        "a gap where the hidden change was"
    );
    stream.assert_quiet().await;

    let mut socket = ws(&app, &token).await;
    socket.subscribe_since(&["activities"], seen).await;
    assert_eq!(socket.event().await["data"], first);
    assert_eq!(socket.event().await["data"], last);
    socket.assert_quiet().await;
}

#[tokio::test]
async fn a_replay_from_before_the_retained_log_is_a_reset() {
    let app = spawn_app_with(|c| {
        c.changes.retention_entries = 2;
        c.changes.retention_days = 0;
    })
    .await;
    let admin = app.admin_token().await;
    let mut stream = sse(&app, &admin, "activities", None).await;
    let mut ids = Vec::new();
    let mut made = Vec::new();
    for i in 1..=5 {
        made.push(public_activity(&app, &admin, &format!("A{i}")).await);
        ids.push(id_of(
            &stream.expect("activities", "activity.created").await,
        ));
    }
    drop(stream);

    // The restart compacts the log down to its two newest entries (A4, A5); with
    // retention_days = 0 only entries of an earlier second than now are past the age limit.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let app = app.restart().await;
    let admin = app.admin_token().await;
    let deadline = Instant::now() + WAIT;
    let mut stream = loop {
        let mut stream = sse(&app, &admin, "activities", Some(ids[1])).await;
        let block = stream.next().await;
        if block.event.as_deref() == Some("reset") {
            assert_eq!(block.json()["since"], ids[1], "reset data: {block:?}");
            break stream;
        }
        assert!(
            Instant::now() < deadline,
            "no reset for a replay from before the log: {block:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // After the reset, live events.
    let live = public_activity(&app, &admin, "Live").await;
    let e = stream.expect("activities", "activity.created").await;
    assert_eq!(e["data"], live);
    assert_eq!(id_of(&e), ids[4] + 1);

    // From where the log still reaches: a plain replay.
    let mut stream = sse(&app, &admin, "activities", Some(ids[2])).await;
    assert_eq!(stream.event().await["data"], made[3]);
    assert_eq!(stream.event().await["data"], made[4]);
    assert_eq!(stream.event().await["data"], live);
    stream.assert_quiet().await;

    // The WebSocket says so too.
    let mut socket = ws(&app, &admin).await;
    socket.subscribe_since(&["activities"], ids[1]).await;
    let reset = socket.recv().await;
    assert_eq!(reset["type"], "reset", "{reset}");
    socket.assert_alive().await;
}

#[tokio::test]
async fn event_ids_never_repeat_even_when_compaction_empties_the_log() {
    let app = spawn_app_with(|c| {
        c.changes.retention_entries = 0;
        c.changes.retention_days = 0;
    })
    .await;
    let admin = app.admin_token().await;
    let before = last_seen_over_sse(&app, &admin).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // The first restart compacts the log; wait until a replay from 0 no longer finds entries.
    let app = app.restart().await;
    let admin = app.admin_token().await;
    let deadline = Instant::now() + WAIT;
    loop {
        // Compaction keeps only the newest entry (it carries the sequence across restarts),
        // so a replay from 0 is told to reset.
        let mut stream = sse(&app, &admin, "activities", Some(0)).await;
        match stream.block(Duration::from_millis(300)).await {
            None => break,
            Some(block) if block.event.as_deref() == Some("reset") => break,
            Some(_) => {}
        }
        assert!(Instant::now() < deadline, "the log was never compacted");
    }
    // The second restart starts on the empty log.
    let app = app.restart().await;
    let admin = app.admin_token().await;
    let after = last_seen_over_sse(&app, &admin).await;
    assert!(
        after > before,
        "event id {after} after the restarts, {before} before: ids repeat"
    );
}

#[tokio::test]
async fn a_replay_from_an_emptied_log_is_a_reset() {
    let app = spawn_app_with(|c| {
        c.changes.retention_entries = 0;
        c.changes.retention_days = 0;
    })
    .await;
    let admin = app.admin_token().await;
    let seen = last_seen_over_sse(&app, &admin).await;
    three_activities(&app, &admin).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // The restart compacts everything away, the three missed changes too.
    let app = app.restart().await;
    let admin = app.admin_token().await;
    let deadline = Instant::now() + WAIT;
    loop {
        // Compaction keeps only the newest entry (it carries the sequence across restarts),
        // so a replay from 0 is told to reset.
        let mut stream = sse(&app, &admin, "activities", Some(0)).await;
        match stream.block(Duration::from_millis(300)).await {
            None => break,
            Some(block) if block.event.as_deref() == Some("reset") => break,
            Some(_) => {}
        }
        assert!(Instant::now() < deadline, "the log was never compacted");
    }
    let mut stream = sse(&app, &admin, "activities", Some(seen)).await;
    let block = stream.next().await;
    assert_eq!(
        block.event.as_deref(),
        Some("reset"),
        "the missed changes are gone: {block:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Authentication and client messages

/// Asserts that a WebSocket opened with `url` is closed with 4401 at once.
async fn assert_ws_refused(url: String) {
    let mut socket = ws_to(url).await;
    assert_eq!(socket.close_code().await, 4401);
}

#[tokio::test]
async fn websocket_with_a_bad_missing_or_revoked_token_is_closed_with_4401() {
    let app = spawn_app().await;
    let h = host(&app).to_string();
    assert_ws_refused(format!("ws://{h}/ws/?token=not-a-jwt")).await;
    assert_ws_refused(format!("ws://{h}/ws/")).await;
    assert_ws_refused(format!("ws://{h}/ws/?token=")).await;

    // A token of a logged-out session.
    let login = app.login("admin", ADMIN_PASSWORD).await;
    let token = token_of(&login);
    let r = app
        .post(
            "/api/auth/logout/",
            Some(&token),
            &json!({"refresh": login["refresh"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_ws_refused(format!("ws://{h}/ws/?token={token}")).await;

    // A token signed with another key.
    let other = spawn_app().await;
    let foreign = other.admin_token().await;
    assert_ws_refused(format!("ws://{h}/ws/?token={foreign}")).await;
}

#[tokio::test]
async fn websocket_with_an_expired_token_is_closed_with_4401() {
    let app = spawn_app_with(|c| c.auth.access_ttl_secs = 1).await;
    let token = app.admin_token().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_ws_refused(format!("ws://{}/ws/?token={token}", host(&app))).await;
}

#[tokio::test]
async fn websocket_accepts_a_bearer_header() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut request = format!("ws://{}/ws/", host(&app))
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {admin}").parse().expect("header"),
    );
    let (stream, _) = timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("upgrade in time")
        .expect("upgrade");
    let mut socket = Ws { stream };
    socket.subscribe(&["activities"]).await;
    let a = public_activity(&app, &admin, "Via header").await;
    assert_eq!(
        socket.expect("activities", "activity.created").await["data"],
        a
    );
}

#[tokio::test]
async fn a_deactivated_users_live_connections_end() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (user, token) = app.user_with_token("leaver", "user").await;
    let mut socket = ws_subscribed(&app, &token, &["activities"]).await;
    let mut stream = sse(&app, &token, "activities", None).await;

    let r = app
        .patch(
            &format!("/api/users/{}/", user["id"]),
            &admin,
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(socket.close_code().await, 4401);
    stream.assert_ends().await;
}

#[tokio::test]
#[ignore = "slow: waits for the 30 s ping that re-checks the token"]
async fn websocket_of_a_session_logged_out_while_open_is_closed_with_4401() {
    let app = spawn_app().await;
    let login = app.login("admin", ADMIN_PASSWORD).await;
    let token = token_of(&login);
    let mut socket = ws_subscribed(&app, &token, &["activities"]).await;
    let r = app
        .post("/api/auth/logout/", Some(&token), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let code = timeout(Duration::from_secs(40), async {
        loop {
            match socket.stream.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("closed within 40 s");
    assert_eq!(code, 4401);
}

#[tokio::test]
async fn malformed_client_messages_get_an_error_and_the_connection_stays_usable() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut socket = ws(&app, &admin).await;

    let bad: Vec<Message> = vec![
        Message::text("not json"),
        Message::text("{\"type\":"),
        Message::text(json!({"type": "dance"}).to_string()),
        Message::text(json!({"type": "subscribe", "topics": ["bogus"]}).to_string()),
        Message::text(json!({"type": "subscribe", "topics": ["project:abc"]}).to_string()),
        Message::text(json!({"type": "subscribe", "topics": "activities"}).to_string()),
        Message::text(json!({"topics": ["activities"]}).to_string()),
        Message::text(json!([1, 2]).to_string()),
        Message::binary(b"{\"type\":\"ping\"}".to_vec()),
    ];
    for message in bad {
        let shown = format!("{message:?}");
        socket.send_message(message).await;
        let reply = socket.recv().await;
        assert_eq!(reply["type"], "error", "reply to {shown}: {reply}");
        assert!(
            reply["message"].as_str().is_some_and(|m| !m.is_empty()),
            "error message for {shown}: {reply}"
        );
    }
    // A rejected subscribe subscribed to nothing; the connection still works.
    socket.assert_alive().await;
    socket.subscribe(&["activities"]).await;
    let a = public_activity(&app, &admin, "Still here").await;
    assert_eq!(
        socket.expect("activities", "activity.created").await["data"],
        a
    );
    socket.assert_quiet().await;
}

#[tokio::test]
async fn sse_refuses_missing_and_bad_tokens_and_bad_parameters() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    let r = sse_request(&app, None, "?topics=activities", None).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = sse_request(&app, Some("not-a-jwt"), "?topics=activities", None).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = sse_request(&app, None, "?topics=activities&token=not-a-jwt", None).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    for query in [
        "?topics=bogus",
        "?topics=activities,bogus",
        "?topics=project:x",
    ] {
        let r = sse_request(&app, Some(&admin), query, None).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        let body = json_of(r).await;
        let code = body["error"]["code"].as_str().unwrap_or("");
        assert!(
            ["bad_request", "validation_error"].contains(&code),
            "{query}: {body}"
        );
    }
    let r = app
        .request(
            Method::GET,
            &format!("{EVENTS}?topics=activities"),
            Some(&admin),
        )
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sse_accepts_a_token_in_the_query() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let response = sse_request(
        &app,
        None,
        &format!("?topics=activities&token={admin}"),
        None,
    )
    .await;
    let mut stream = Sse::of(response);
    let a = public_activity(&app, &admin, "Via query").await;
    assert_eq!(
        stream.expect("activities", "activity.created").await["data"],
        a
    );
}

#[tokio::test]
#[ignore = "slow: idles 15 s for the keep-alive, holding one of the suite's test threads"]
async fn sse_sends_keep_alive_comments_every_15_seconds() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut stream = sse(&app, &admin, "activities", None).await;
    let block = stream
        .block(Duration::from_secs(17))
        .await
        .expect("a keep-alive within 17 s");
    assert!(
        block.is_comment_only() && !block.comments.is_empty(),
        "a comment, not an event: {block:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Shutdown

#[tokio::test]
async fn a_graceful_stop_closes_websockets_with_1001_and_ends_sse() {
    let mut app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut socket = ws_subscribed(&app, &admin, &["activities"]).await;
    let mut stream = sse(&app, &admin, "activities", None).await;

    let (stopped, code) = tokio::join!(
        async { timeout(Duration::from_secs(15), app.stop()).await },
        socket.close_code()
    );
    assert_eq!(code, 1001, "going away");
    stopped
        .expect("the server stops in time with live connections open")
        .expect("clean stop");
    stream.assert_ends().await;
}

// ---------------------------------------------------------------------------------------------
// Slow readers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_falls_behind_is_told_it_lagged_and_sse_catches_up() {
    // Each activity assigned to the listener is two changes it may see: the activity and its
    // notification. 6,000 changes are well past the bus's 4,096 once the socket buffers fill.
    const ACTIVITIES_MADE: usize = 3_000;
    const CHANGES: usize = 2 * ACTIVITIES_MADE;
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (listener, token) = app.user_with_token("listener", "user").await;
    let mut socket = ws_subscribed(&app, &token, &["activities"]).await;
    let mut stream = sse(&app, &token, "activities,notifications", None).await;

    // Large events fill the socket buffers quickly; while
    // neither client reads, the server falls behind on the bus.
    let description = "x".repeat(10_000);
    let started = std::time::Instant::now();
    futures_util::stream::iter(0..ACTIVITIES_MADE)
        .map(|i| {
            let body = json!({"title": format!("Bulk {i}"), "description": description,
                              "assigned_to": listener["id"]});
            let app = &app;
            let admin = &admin;
            async move {
                let r = app.post(ACTIVITIES, Some(admin), &body).await;
                assert_eq!(r.status(), StatusCode::CREATED);
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    eprintln!(
        "{ACTIVITIES_MADE} activities created in {:?}",
        started.elapsed()
    );

    // The WebSocket: every change is either delivered or counted as missed, in order.
    let mut delivered = 0usize;
    let mut missed = 0usize;
    let mut lags = 0usize;
    let mut last = 0u64;
    while delivered + missed < CHANGES {
        let message = socket.recv().await;
        match message["type"].as_str() {
            Some("event") => {
                assert!(
                    ["activity.created", "notification.created"]
                        .contains(&message["event"].as_str().unwrap_or("")),
                    "{message}"
                );
                let id = id_of(&message);
                assert!(id > last, "ids grow: {id} after {last}");
                last = id;
                delivered += 1;
            }
            Some("lagged") => {
                let n = message["missed"].as_u64().expect("missed count");
                assert!(n > 0, "{message}");
                missed += n as usize;
                lags += 1;
            }
            _ => panic!("unexpected {message}"),
        }
    }
    eprintln!("WebSocket: {delivered} delivered, {missed} missed in {lags} lagged notices");
    assert!(lags > 0, "the socket never lagged ({delivered} delivered)");
    assert_eq!(delivered + missed, CHANGES);
    socket.assert_alive().await;

    // SSE has no lagged notice: it must catch up from the log and lose nothing.
    let first = id_of(&stream.event().await);
    for i in 1..CHANGES as u64 {
        let e = stream.event().await;
        assert_eq!(id_of(&e), first + i, "SSE lost or reordered events");
    }
    stream.assert_quiet().await;
}
