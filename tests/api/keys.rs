//! Machine keys (API.md §Machine keys): created by an admin with its secret shown once, stored
//! hashed, sent as `Authorization: Bearer nxk_…`, acting with only its scopes (`read`, `report`,
//! `display`), never reaching chat, one's own account, user administration or other keys,
//! revoked at once (live connections too), limited and audited.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

const KEYS: &str = "/api/keys/";
const WAIT: Duration = Duration::from_secs(5);

/// Creates a key with `scopes` as the admin; returns (the answer, the secret).
async fn key(app: &TestApp, admin: &str, name: &str, scopes: &[&str]) -> (Value, String) {
    let r = app
        .post(KEYS, Some(admin), &json!({"name": name, "scopes": scopes}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body = json_of(r).await;
    let secret = body["secret"].as_str().expect("secret").to_string();
    (body, secret)
}

async fn status(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> StatusCode {
    let mut request = app.request(method, path, Some(token));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request").status()
}

async fn asset(app: &TestApp, admin: &str, code: &str) -> u64 {
    let r = app
        .post(
            "/api/assets/",
            Some(admin),
            &json!({"code": code, "name": code, "kind": "machine", "ideal_cycle_secs": 10.0}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    json_of(r).await["id"].as_u64().expect("id")
}

#[tokio::test]
async fn an_admin_creates_a_key_whose_secret_is_shown_once_and_never_stored() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (created, secret) = key(&app, &admin, "Line 2 gateway", &["report", "read"]).await;
    assert!(secret.starts_with("nxk_") && secret.len() == 68, "{secret}");
    assert_eq!(created["name"], "Line 2 gateway");
    assert_eq!(created["scopes"], json!(["read", "report"]));
    assert!(created["last_used_at"].is_null() && created["revoked_at"].is_null());
    assert!(created["created_by"].as_u64().is_some());
    let id = created["id"].as_u64().expect("id");

    let listed = json_of(app.get(KEYS, &admin).await).await;
    assert_eq!(listed["count"], 1);
    let one = json_of(app.get(&format!("{KEYS}{id}/"), &admin).await).await;
    for shown in [&listed["results"][0], &one] {
        let text = shown.to_string();
        assert!(
            shown.get("secret").is_none() && shown.get("secret_hash").is_none(),
            "{text}"
        );
        assert!(!text.contains(&secret[4..]), "the secret leaked: {text}");
    }
    // Stored hashed: the database file holds neither the secret nor its hex body.
    app.get(KEYS, &admin).await;
    let mut stopped = app;
    stopped.stop().await.expect("stop");
    let db = std::fs::read(stopped.data_dir.path().join("nexus.redb")).expect("db file");
    let body = &secret.as_bytes()[4..];
    assert!(
        !db.windows(body.len()).any(|w| w == body),
        "the secret is in the database"
    );
}

#[tokio::test]
async fn only_an_admin_manages_keys_and_bad_input_is_refused_by_field() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("staffer", "staff").await;
    for (method, path) in [
        (Method::GET, KEYS),
        (Method::POST, KEYS),
        (Method::DELETE, "/api/keys/1/"),
    ] {
        let body = (method == Method::POST).then(|| json!({"name": "x", "scopes": ["read"]}));
        assert_eq!(
            status(&app, method.clone(), path, &staff, body).await,
            StatusCode::FORBIDDEN,
            "{method} {path}"
        );
    }
    for (body, field) in [
        (json!({"name": "", "scopes": ["read"]}), "name"),
        (json!({"name": "x".repeat(101), "scopes": ["read"]}), "name"),
        (json!({"name": "gw", "scopes": []}), "scopes"),
        (json!({"name": "gw", "scopes": ["write"]}), "scopes.0"),
        (json!({"name": "gw"}), "scopes"),
    ] {
        let r = app.post(KEYS, Some(&admin), &body).await;
        let error = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
        assert!(
            error["error"]["fields"][field].is_array(),
            "{body}: {error}"
        );
    }
    assert_error(
        app.get("/api/keys/99/", &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_read_key_reads_what_a_user_may_and_nothing_personal_or_written() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, read) = key(&app, &admin, "reader", &["read"]).await;
    let machine = asset(&app, &admin, "M1").await;
    for path in [
        "/api/activities/",
        "/api/projects/",
        "/api/updates/",
        "/api/users/",
        "/api/assets/",
        "/api/downtime/",
        "/api/shifts/",
        "/api/search/?q=anything",
    ] {
        assert_eq!(
            status(&app, Method::GET, path, &read, None).await,
            StatusCode::OK,
            "GET {path}"
        );
    }
    let forbidden = [
        (Method::GET, "/api/chat/conversations/", None),
        (Method::GET, "/api/chat/messages/?with=1", None),
        (
            Method::POST,
            "/api/chat/messages/",
            Some(json!({"receiver_id": 1, "content": "hi"})),
        ),
        (Method::GET, "/api/auth/user/", None),
        (Method::GET, "/api/updates/notifications/", None),
        (Method::GET, KEYS, None),
        (
            Method::POST,
            KEYS,
            Some(json!({"name": "more", "scopes": ["read"]})),
        ),
        (Method::GET, "/api/audit/", None),
        (
            Method::POST,
            "/api/users/",
            Some(
                json!({"username": "x", "email": "x@x.x", "password": "long-enough-1", "role": "admin"}),
            ),
        ),
        (
            Method::PATCH,
            "/api/users/1/",
            Some(json!({"role": "user"})),
        ),
        (
            Method::POST,
            "/api/activities/",
            Some(json!({"title": "a key's activity", "type": "other"})),
        ),
        (
            Method::POST,
            "/api/downtime/",
            Some(json!({"asset_id": machine})),
        ),
    ];
    for (method, path, body) in forbidden {
        let r = {
            let mut request = app.request(method.clone(), path, Some(&read));
            if let Some(body) = &body {
                request = request.json(body);
            }
            request.send().await.expect("request")
        };
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Nothing was written by those refusals.
    let activities = json_of(app.get("/api/activities/", &admin).await).await;
    assert_eq!(activities["count"], 0);
}

#[tokio::test]
async fn a_report_key_reports_downtime_production_and_only_that() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (created, report) = key(&app, &admin, "PLC", &["report"]).await;
    let key_id = created["id"].as_u64().expect("id");
    let machine = asset(&app, &admin, "PRESS-1").await;

    let r = app
        .post(
            "/api/downtime/",
            Some(&report),
            &json!({"asset_id": machine}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let stop = json_of(r).await;
    let stop_id = stop["id"].as_u64().expect("id");
    let r = app
        .post(
            &format!("/api/downtime/{stop_id}/end/"),
            Some(&report),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", json_of(r).await);
    let r = app
        .post(
            "/api/production/",
            Some(&report),
            &json!({"asset_id": machine, "started_at": "2026-11-30T08:00:00Z",
                    "ended_at": "2026-11-30T09:00:00Z", "total_count": 100, "good_count": 98}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", json_of(r).await);

    // Reporting is not reading, nor editing what was reported.
    assert_eq!(
        status(&app, Method::GET, "/api/assets/", &report, None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            &app,
            Method::PATCH,
            &format!("/api/downtime/{stop_id}/"),
            &report,
            Some(json!({"note": "x"}))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            &app,
            Method::DELETE,
            &format!("/api/downtime/{stop_id}/"),
            &report,
            None
        )
        .await,
        StatusCode::FORBIDDEN
    );

    // What the key did is audited as the key's, with no person as the actor.
    let audit = json_of(app.get("/api/audit/?page_size=200", &admin).await).await;
    let by_key: Vec<&Value> = audit["results"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["detail"]["machine_key"] == json!(key_id))
        .collect();
    assert!(!by_key.is_empty(), "no audit entry names the key: {audit}");
    assert!(by_key.iter().all(|e| e["actor_id"].is_null()), "{by_key:?}");
    assert!(
        audit["results"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["action"] == "machine_key.create"),
        "{audit}"
    );
}

#[tokio::test]
async fn a_bad_or_revoked_key_is_unauthenticated_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (created, read) = key(&app, &admin, "screen", &["read"]).await;
    let id = created["id"].as_u64().expect("id");
    for bad in [
        "nxk_".to_string(),
        format!("nxk_{}", "0".repeat(64)),
        format!("{}0", &read[..read.len() - 1]).replace("nxk_0", "nxk_1"),
    ] {
        if bad == read {
            continue;
        }
        assert_error(
            app.get("/api/assets/", &bad).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
    }
    assert_eq!(
        status(&app, Method::GET, "/api/assets/", &read, None).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, Method::DELETE, &format!("{KEYS}{id}/"), &admin, None).await,
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get("/api/assets/", &read).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // Revoking again is no error; the key stays listed, revoked.
    assert_eq!(
        status(&app, Method::DELETE, &format!("{KEYS}{id}/"), &admin, None).await,
        StatusCode::NO_CONTENT
    );
    let shown = json_of(app.get(&format!("{KEYS}{id}/"), &admin).await).await;
    assert!(shown["revoked_at"].is_string(), "{shown}");
    let audit = json_of(
        app.get("/api/audit/?action=machine_key.revoke", &admin)
            .await,
    )
    .await;
    assert_eq!(audit["count"], 1, "{audit}");
}

#[tokio::test]
async fn last_used_at_follows_use_without_a_write_per_request_and_survives_a_restart() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (created, read) = key(&app, &admin, "screen", &["read"]).await;
    let id = created["id"].as_u64().expect("id");
    let before = json_of(app.get("/api/assets/", &read).await).await;
    assert_eq!(before["count"], 0);
    let shown = json_of(app.get(&format!("{KEYS}{id}/"), &admin).await).await;
    assert!(
        shown["last_used_at"].is_string(),
        "the use shows at once: {shown}"
    );
    // The deadline sweep writes it down; wake it, then wait for the write.
    app.clock.advance(1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let app = app.restart().await;
    let admin = app.admin_token().await;
    let shown = json_of(app.get(&format!("{KEYS}{id}/"), &admin).await).await;
    assert!(
        shown["last_used_at"].is_string(),
        "kept across a restart: {shown}"
    );
}

#[tokio::test]
async fn keys_are_rate_limited_like_users_each_on_its_own_budget() {
    let app = spawn_app_with(|c| {
        c.api.rate_limit_per_sec = 1;
        c.api.rate_limit_burst = 3;
    })
    .await;
    let admin = app.admin_token().await;
    let (_, first) = key(&app, &admin, "one", &["read"]).await;
    let (_, second) = key(&app, &admin, "two", &["read"]).await;
    let mut limited = false;
    for _ in 0..10 {
        if status(&app, Method::GET, "/api/assets/", &first, None).await
            == StatusCode::TOO_MANY_REQUESTS
        {
            limited = true;
            break;
        }
    }
    assert!(limited, "a key was never limited");
    assert_eq!(
        status(&app, Method::GET, "/api/assets/", &second, None).await,
        StatusCode::OK
    );
}

/// A WebSocket to `/ws/` as `token`.
async fn ws(
    app: &TestApp,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!(
        "ws://{}/ws/?token={token}",
        app.base.trim_start_matches("http://")
    );
    let (stream, _) = timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("upgrade in time")
        .expect("upgrade");
    stream
}

/// The next text message as JSON, or the close code when the socket closes instead.
async fn next_message(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Result<Value, Option<u16>> {
    let deadline = Instant::now() + WAIT;
    loop {
        match timeout_at(deadline, socket.next())
            .await
            .expect("a message in time")
        {
            Some(Ok(Message::Text(text))) => {
                return Ok(serde_json::from_str(text.as_str()).expect("JSON"));
            }
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return Err(None),
        }
    }
}

#[tokio::test]
async fn a_display_key_follows_the_live_stream_until_revoked_and_never_chat() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (created, display) = key(&app, &admin, "wall", &["display"]).await;
    let id = created["id"].as_u64().expect("id");
    let (_, read) = key(&app, &admin, "reader", &["read"]).await;

    // Only `display` reaches the live stream.
    let r = app
        .request(Method::GET, "/api/events/?topics=assets", Some(&read))
        .send()
        .await
        .expect("sse");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .request(Method::GET, "/api/events/?topics=chat", Some(&display))
        .send()
        .await
        .expect("sse");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "chat is never a key's");

    let mut socket = ws(&app, &display).await;
    socket
        .send(Message::text(
            json!({"type": "subscribe", "topics": ["chat"]}).to_string(),
        ))
        .await
        .expect("send");
    let reply = next_message(&mut socket).await.expect("a reply");
    assert_eq!(reply["type"], "error", "{reply}");
    socket
        .send(Message::text(
            json!({"type": "subscribe", "topics": ["assets"]}).to_string(),
        ))
        .await
        .expect("send");
    let reply = next_message(&mut socket).await.expect("a reply");
    assert_eq!(reply["type"], "subscribed", "{reply}");
    asset(&app, &admin, "LIVE-1").await;
    let event = next_message(&mut socket).await.expect("an event");
    assert_eq!(event["event"], "asset.created", "{event}");

    // Revoked: the open socket closes with 4401 straight away, not at the next ping.
    let started = Instant::now();
    assert_eq!(
        status(&app, Method::DELETE, &format!("{KEYS}{id}/"), &admin, None).await,
        StatusCode::NO_CONTENT
    );
    let closed = loop {
        match next_message(&mut socket).await {
            Ok(_) => continue,
            Err(code) => break code,
        }
    };
    assert_eq!(closed, Some(4401));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_revoked_key_ends_its_event_stream() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (created, display) = key(&app, &admin, "wall", &["display"]).await;
    let id = created["id"].as_u64().expect("id");
    let mut stream = app
        .request(Method::GET, "/api/events/?topics=assets", Some(&display))
        .send()
        .await
        .expect("sse");
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(
        status(&app, Method::DELETE, &format!("{KEYS}{id}/"), &admin, None).await,
        StatusCode::NO_CONTENT
    );
    let deadline = Instant::now() + WAIT;
    // The stream ends (or fails) instead of running on.
    while let Ok(Some(_)) = timeout_at(deadline, stream.chunk())
        .await
        .expect("the stream ends in time")
    {}
}

#[tokio::test]
async fn graphql_gives_a_key_reads_and_reports_but_never_chat_or_other_writes() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, both) = key(&app, &admin, "gateway", &["read", "report"]).await;
    let machine = asset(&app, &admin, "GQL-1").await;
    let gql = |query: String| {
        let app = &app;
        let both = both.clone();
        async move {
            let r = app
                .post("/graphql", Some(&both), &json!({"query": query}))
                .await;
            (r.status(), json_of(r).await)
        }
    };
    let (code, body) = gql("{ assets { count } }".into()).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["assets"]["count"], 1, "{body}");
    let (code, body) = gql(format!(
        "mutation {{ reportDowntime(input: {{assetId: {machine}}}) {{ id }} }}"
    ))
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert!(body["data"]["reportDowntime"]["id"].is_u64(), "{body}");
    for refused in [
        "{ me { id } }".to_string(),
        "{ messages(withUserId: 1) { count } }".to_string(),
        "mutation { sendMessage(input: {receiverId: 1, content: \"hi\"}) { id } }".to_string(),
        "mutation { createActivity(input: {title: \"t\", type: OTHER}) { id } }".to_string(),
    ] {
        let (code, body) = gql(refused.clone()).await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{refused}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "forbidden",
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_report_key_raises_andon_calls_and_a_display_key_shows_them_on_the_wall() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, report) = key(&app, &admin, "Press PLC", &["report"]).await;
    let (_, display) = key(&app, &admin, "Hall screen", &["display"]).await;
    let machine = asset(&app, &admin, "PRESS-9").await;
    let r = app
        .post(
            "/api/andon/",
            Some(&report),
            &json!({"asset_id": machine, "kind": "material", "message": "Coil empty"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let call = json_of(r).await;
    let id = call["id"].as_u64().expect("id");
    // Answering a call is a person's job.
    for step in ["acknowledge", "resolve"] {
        let path = format!("/api/andon/{id}/{step}/");
        assert_eq!(
            status(&app, Method::POST, &path, &report, Some(json!({}))).await,
            StatusCode::FORBIDDEN,
            "{step}"
        );
        assert_eq!(
            status(&app, Method::POST, &path, &display, Some(json!({}))).await,
            StatusCode::FORBIDDEN,
            "{step}"
        );
    }
    assert_eq!(
        status(&app, Method::GET, "/api/andon/", &display, None).await,
        StatusCode::OK
    );

    // The wall screen, signed in by its display key's cookie, shows the call.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let wall = client
        .get(app.url("/andon"))
        .header("Accept", "text/html")
        .header("Cookie", format!("nexus_key={display}"))
        .send()
        .await
        .expect("wall");
    assert_eq!(wall.status(), StatusCode::OK);
    let html = wall.text().await.expect("html");
    assert!(html.contains("Coil empty"), "{html}");
    assert!(
        !html.contains("/acknowledge\""),
        "no answer buttons for a screen"
    );
    // A report key is no display key: no wall.
    let refused = client
        .get(app.url("/andon"))
        .header("Accept", "text/html")
        .header("Cookie", format!("nexus_key={report}"))
        .send()
        .await
        .expect("wall");
    assert_ne!(refused.status(), StatusCode::OK);
}
