//! Bounded resources (issue 7, limits): request head size, header-read and request timeouts,
//! open connections, WebSocket message size and live connections per user. Slow clients must
//! not exhaust the server.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

fn host_of(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `within` passes); returns what it sent and
/// whether it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into(), false),
        }
    }
}

#[tokio::test]
async fn slowloris_clients_are_cut_off_and_others_are_served_meanwhile() {
    let app = spawn_app_with(|c| c.server.header_read_timeout_secs = 1).await;
    let host = host_of(&app);
    // 50 clients that start a request and then trickle a byte now and then, never finishing
    // their headers.
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(&host).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        slow.push(s);
    }
    let trickle = tokio::spawn(async move {
        for _ in 0..20 {
            for s in &mut slow {
                let _ = s.write_all(b"X").await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        slow
    });
    // Meanwhile ordinary requests are answered at once.
    for _ in 0..20 {
        let started = Instant::now();
        let r = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "a normal request waited {:?} behind slow clients",
            started.elapsed()
        );
    }
    let mut slow = trickle.await.expect("trickle");
    // The trickle lasted two seconds, past the one-second header timeout: every slow
    // connection has been closed by the server.
    for s in &mut slow {
        let (_, closed) = read_until_closed(s, Duration::from_secs(2)).await;
        assert!(
            closed,
            "a client still sending its headers after the timeout was not cut off"
        );
    }
}

#[tokio::test]
async fn clients_past_the_connection_cap_wait_and_are_served_once_slots_free() {
    let app = spawn_app_with(|c| {
        c.server.max_connections = 4;
        c.server.header_read_timeout_secs = 1;
    })
    .await;
    let host = host_of(&app);
    // Four idle connections take every slot.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(&host).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A fifth client waits (it is not refused, and the server does not fall over), and is
    // served once the idle ones are timed out.
    let started = Instant::now();
    let r = timeout(
        Duration::from_secs(10),
        reqwest::Client::new().get(app.url("/healthz")).send(),
    )
    .await
    .expect("served within the header timeout")
    .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "served at once ({:?}): the cap of 4 connections did not hold",
        started.elapsed()
    );
    drop(idle);
}

#[tokio::test]
async fn an_oversized_request_head_is_refused_and_a_normal_one_is_not() {
    let app = spawn_app_with(|c| c.server.max_header_bytes = 8192).await;
    let big = "x".repeat(20_000);
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("X-Filler", big)
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        // The server may close the connection as soon as the head overflows.
        Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "{e}"),
    }
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("X-Filler", "x".repeat(4000))
        .send()
        .await
        .expect("a head within the limit");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_body_that_trickles_in_past_the_request_timeout_is_answered_408() {
    let app = spawn_app_with(|c| c.server.request_timeout_secs = 1).await;
    let token = app.admin_token().await;
    let mut s = TcpStream::connect(host_of(&app)).await.expect("connect");
    let head = format!(
        "POST /api/activities/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\":"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let (response, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        response.starts_with("HTTP/1.1 408"),
        "no 408 for a stalled body: {response:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    // The body may be chunked; the JSON error is inside it either way.
    assert!(
        body.contains(r#""code":"request_timeout""#),
        "the contract's error body: {body:?}"
    );
    // The server is fine afterwards.
    let r = app.get("/api/activities/", &token).await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn ws(app: &TestApp, token: &str) -> Result<WsStream, tokio_tungstenite::tungstenite::Error> {
    let url = format!("ws://{}/ws/?token={token}", host_of(app));
    timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("handshake in time")
    .map(|(s, _)| s)
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::test]
async fn a_websocket_message_over_the_limit_closes_that_socket_only() {
    let app = spawn_app_with(|c| c.server.ws_max_message_bytes = 1024).await;
    let token = app.admin_token().await;
    let mut bystander = ws(&app, &token).await.expect("bystander");
    let mut sender = ws(&app, &token).await.expect("sender");
    let big = format!(
        r#"{{"type":"subscribe","topics":["{}"]}}"#,
        "a".repeat(4096)
    );
    sender.send(Message::text(big)).await.expect("send");
    let closed = timeout(Duration::from_secs(5), async {
        loop {
            match sender.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the server ends the socket");
    if let Some(code) = closed {
        assert_eq!(code, 1009, "message too big");
    }
    // The other socket still works: it subscribes and is answered.
    bystander
        .send(Message::text(
            r#"{"type":"subscribe","topics":["activities"]}"#,
        ))
        .await
        .expect("send");
    let reply = timeout(Duration::from_secs(5), bystander.next())
        .await
        .expect("a reply")
        .expect("open")
        .expect("frame");
    let reply: Value = serde_json::from_str(reply.to_text().expect("text")).expect("json");
    assert_eq!(reply["type"], "subscribed", "{reply}");
}

#[tokio::test]
async fn live_connections_per_user_are_capped_across_websocket_and_sse() {
    let app = spawn_app_with(|c| c.server.live_connections_per_user = 2).await;
    let token = app.admin_token().await;
    let (_, other) = app.user_with_token("fitter", "user").await;
    let first = ws(&app, &token).await.expect("first socket");
    let sse = app
        .client
        .get(app.url("/api/events/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sse");
    assert_eq!(sse.status(), StatusCode::OK);
    // A third, of either kind, is refused with the contract's 429.
    match ws(&app, &token).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status().as_u16(), 429);
        }
        other => panic!("a third live connection was not refused: {other:?}"),
    }
    let r = app
        .client
        .get(app.url("/api/events/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sse");
    let body = assert_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(body["error"]["message"].is_string());
    // Another user is not affected.
    ws(&app, &other).await.expect("another user's socket");
    // Closing one frees its slot.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match ws(&app, &token).await {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the slot of a closed socket was not freed: {e}"),
        }
    }
    drop(sse);
}
