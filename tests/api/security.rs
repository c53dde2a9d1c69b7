//! Security checks beyond the auth flows of `auth.rs` (which covers forged and expired tokens,
//! reuse detection and logout on REST):
//!
//! - forged tokens (`alg: none`, another HMAC algorithm, a bad signature, past `exp`, a refresh
//!   token) are refused on every channel: REST `401`, SSE `401`, WebSocket close `4401`;
//! - a session revoked by refresh-token reuse or by logout is refused on every channel at once;
//! - every kind of response carries the headers of API.md's last paragraph;
//! - no response body or log line (JSON logs at debug level) holds a password, a password hash
//!   or a token.
//!
//! The Web UI's CSRF protection cannot be tested: there is no UI and no cookie sign-in yet.

use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use jsonwebtoken::Algorithm;
use nexus::config::Secret;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::auth::{KNOWN_SECRET, encode_part, jwt_header_and_claims, parts, sign, unix_now};
use crate::common::*;
use crate::process::{Running, nexus};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Opens `/ws/?token=<token>` and returns the close code the server sends first (or `None` if
/// it sends something else, meaning the connection was accepted).
async fn ws_close_code(app: &TestApp, token: &str) -> Option<u16> {
    let url = format!(
        "ws://{}/ws/?token={token}",
        app.base.trim_start_matches("http://")
    );
    let (mut socket, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("upgrade in time")
    .expect("upgrade");
    // An accepted connection answers a ping; a refused one is closed at once.
    use futures_util::SinkExt;
    let _ = socket
        .send(Message::text(json!({"type": "ping"}).to_string()))
        .await;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("an answer within 5 s")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(Message::Text(_))) => return None,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("WebSocket error: {e}"),
            None => panic!("the WebSocket ended without a close frame"),
        }
    }
}

/// The status of `GET /api/events/?topics=activities&token=<token>` (not reading the stream).
async fn sse_status(app: &TestApp, token: &str) -> StatusCode {
    app.client
        .get(app.url("/api/events/"))
        .query(&[("topics", "activities"), ("token", token)])
        .send()
        .await
        .expect("request")
        .status()
}

/// Asserts `token` is refused on REST, SSE and the WebSocket.
async fn assert_refused_everywhere(app: &TestApp, token: &str, what: &str) {
    let r = app.get("/api/auth/user/", token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "REST, {what}");
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(
        sse_status(app, token).await,
        StatusCode::UNAUTHORIZED,
        "SSE, {what}"
    );
    assert_eq!(
        ws_close_code(app, token).await,
        Some(4401),
        "WebSocket, {what}"
    );
}

/// Asserts `token` is accepted on REST, SSE and the WebSocket.
async fn assert_accepted_everywhere(app: &TestApp, token: &str, what: &str) {
    let r = app.get("/api/auth/user/", token).await;
    assert_eq!(r.status(), StatusCode::OK, "REST, {what}");
    assert_eq!(sse_status(app, token).await, StatusCode::OK, "SSE, {what}");
    assert_eq!(ws_close_code(app, token).await, None, "WebSocket, {what}");
}

// ---------------------------------------------------------------------------------------------
// Forged tokens on every channel

#[tokio::test]
async fn forged_and_expired_tokens_are_refused_on_rest_sse_and_websocket() {
    let app = spawn_app_with(|c| c.jwt_secret = Some(Secret::new(KNOWN_SECRET))).await;
    let login = app.login("admin", ADMIN_PASSWORD).await;
    let token = token_of(&login);
    let (_, claims) = jwt_header_and_claims(&token);
    let (_, payload, signature) = parts(&token);

    // Control: the genuine token, and one we sign the same way, are accepted everywhere.
    assert_accepted_everywhere(&app, &token, "the genuine token").await;
    let resigned = sign(Algorithm::HS256, &claims, KNOWN_SECRET.as_bytes());
    assert_accepted_everywhere(&app, &resigned, "re-signed with the server's key").await;

    let mut forged = Vec::new();
    for alg in ["none", "None", "NONE"] {
        let header = encode_part(&json!({"alg": alg, "typ": "JWT"}));
        forged.push((
            format!("alg {alg}, no signature"),
            format!("{header}.{payload}."),
        ));
        forged.push((
            format!("alg {alg}, genuine signature"),
            format!("{header}.{payload}.{signature}"),
        ));
    }
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        forged.push((
            format!("{alg:?} with the server's key"),
            sign(alg, &claims, KNOWN_SECRET.as_bytes()),
        ));
    }
    forged.push((
        "signed with another key".into(),
        sign(
            Algorithm::HS256,
            &claims,
            b"another-key-that-is-long-enough-for-hs256",
        ),
    ));
    let mut sig: Vec<char> = signature.chars().collect();
    for c in sig.iter_mut().take(4) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    let header = parts(&token).0;
    forged.push((
        "altered signature".into(),
        format!("{header}.{payload}.{}", sig.into_iter().collect::<String>()),
    ));
    let mut elevated = claims.clone();
    elevated["role"] = json!("staff");
    forged.push((
        "altered claims, old signature".into(),
        format!("{header}.{}.{signature}", encode_part(&elevated)),
    ));
    let mut expired = claims.clone();
    expired["iat"] = json!(unix_now() - 3600);
    expired["exp"] = json!(unix_now() - 60);
    forged.push((
        "past exp".into(),
        sign(Algorithm::HS256, &expired, KNOWN_SECRET.as_bytes()),
    ));
    forged.push((
        "a refresh token".into(),
        login["refresh"].as_str().expect("refresh").to_string(),
    ));

    for (what, token) in &forged {
        assert_refused_everywhere(&app, token, what).await;
    }
    // None of it harmed the genuine session.
    assert_accepted_everywhere(&app, &token, "the genuine token afterwards").await;
}

// ---------------------------------------------------------------------------------------------
// Revoked sessions on every channel

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_session_on_every_channel_at_once() {
    let app = spawn_app().await;
    let first = app.login("admin", ADMIN_PASSWORD).await;
    let other = app.login("admin", ADMIN_PASSWORD).await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.post("/api/auth/refresh/", None, &json!({"refresh": token}))
                .await
        }
    };
    let r = refresh(first["refresh"].as_str().unwrap().to_string()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let second = json_of(r).await;
    assert_accepted_everywhere(&app, &token_of(&second), "the rotated token").await;

    // The spent refresh token comes back (stolen and replayed): the whole session dies.
    let r = refresh(first["refresh"].as_str().unwrap().to_string()).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_refused_everywhere(&app, &token_of(&second), "access of the revoked session").await;
    assert_refused_everywhere(&app, &token_of(&first), "first access of the session").await;
    let r = refresh(second["refresh"].as_str().unwrap().to_string()).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // Another session of the same user lives on.
    assert_accepted_everywhere(&app, &token_of(&other), "another session").await;
}

#[tokio::test]
async fn after_logout_the_access_token_fails_at_once_on_every_channel() {
    let app = spawn_app().await;
    let login = app.login("admin", ADMIN_PASSWORD).await;
    let token = token_of(&login);
    assert_accepted_everywhere(&app, &token, "before logout").await;
    let r = app
        .post(
            "/api/auth/logout/",
            Some(&token),
            &json!({"refresh": login["refresh"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // No grace period: the very next request is refused.
    assert_refused_everywhere(&app, &token, "after logout").await;
}

// ---------------------------------------------------------------------------------------------
// Headers

/// Asserts the headers of API.md's last paragraph.
fn assert_security_headers(headers: &reqwest::header::HeaderMap, what: &str) {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header").to_string())
    };
    assert_eq!(
        header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{what}");
    assert_eq!(
        header("referrer-policy").as_deref(),
        Some("no-referrer"),
        "{what}"
    );
    let csp = header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'self'"), "{what}: CSP {csp:?}");
    assert!(
        !csp.contains("http") && !csp.contains('*'),
        "{what}: CSP allows no outside origin: {csp:?}"
    );
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let send = |method: Method, path: &str, token: Option<&str>| {
        let request = app.request(method, path, token);
        async move { request.send().await.expect("request") }
    };
    let mut answers: Vec<(String, Response)> = Vec::new();
    for (method, path, token) in [
        (Method::GET, "/healthz", None),
        (Method::GET, "/readyz", None),
        (Method::GET, "/api/openapi.json", None),
        (Method::GET, "/api/activities/", Some(admin.as_str())),
        (
            Method::GET,
            "/api/activities/export.csv",
            Some(admin.as_str()),
        ),
        (Method::GET, "/api/search/?q=pump", Some(admin.as_str())),
        (Method::GET, "/api/search/?q=(", Some(admin.as_str())),
        (Method::GET, "/api/activities/", None),
        (Method::GET, "/api/activities/999/", Some(admin.as_str())),
        (Method::GET, "/nowhere", None),
        (Method::GET, "/api/nowhere/", None),
        (Method::PUT, "/api/activities/", Some(admin.as_str())),
        (Method::GET, "/ws/", None),
        (Method::GET, "/", None),
        (Method::HEAD, "/healthz", None),
    ] {
        let r = send(method.clone(), path, token).await;
        answers.push((format!("{method} {path} → {}", r.status()), r));
    }
    // SSE: the headers of the stream's response.
    let r = send(
        Method::GET,
        "/api/events/?topics=activities",
        Some(admin.as_str()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    answers.push(("SSE stream".into(), r));
    // Bodies that are refused before any handler runs.
    let r = app
        .request(Method::POST, "/api/activities/", Some(&admin))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    answers.push((format!("415 → {}", r.status()), r));
    let r = app
        .request(Method::POST, "/api/activities/", Some(&admin))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    answers.push((format!("413 → {}", r.status()), r));
    let r = app
        .request(Method::POST, "/api/activities/", Some(&admin))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    answers.push((format!("400 → {}", r.status()), r));
    // A CORS preflight from an origin that is not allowed.
    let r = app
        .request(Method::OPTIONS, "/api/activities/", None)
        .header("origin", "https://elsewhere.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    answers.push((format!("preflight → {}", r.status()), r));
    for (what, response) in &answers {
        assert_security_headers(response.headers(), what);
    }

    // The WebSocket upgrade (101) too.
    let url = format!(
        "ws://{}/ws/?token={admin}",
        app.base.trim_start_matches("http://")
    );
    let (_socket, response) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in response.headers() {
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.insert(name, value);
        }
    }
    assert_security_headers(&headers, "WebSocket upgrade (101)");
}

// ---------------------------------------------------------------------------------------------
// Secrets in bodies and logs

const ADMIN_SECRET: &str = "Admin-Secret-Pw-7341";
const ALICE_FIRST: &str = "Alice-First-Pw-5512";
const ALICE_SECOND: &str = "Alice-Second-Pw-9031";
const BOB_PASSWORD: &str = "Bob-Created-Pw-2288";
const WRONG_PASSWORD: &str = "Wrong-Guess-Pw-6620";
const SHORT_PASSWORD: &str = "Short7pw";

/// A client that records every answer's body.
struct Recorder {
    client: Client,
    base: String,
    /// (what, body, whether the body may carry tokens: login and refresh answers).
    bodies: Vec<(String, String, bool)>,
}

impl Recorder {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.expect("request");
        let status = r.status();
        let text = r.text().await.expect("body");
        let issues_tokens = status.is_success()
            && (path.starts_with("/api/auth/login") || path.starts_with("/api/auth/refresh"));
        self.bodies.push((
            format!("{method} {path} → {status}"),
            text.clone(),
            issues_tokens,
        ));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn login(&mut self, username: &str, password: &str) -> (StatusCode, Value) {
        self.send(
            Method::POST,
            "/api/auth/login/",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_body_or_log_line_holds_a_password_a_hash_or_a_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("stderr.log");
    let mut cmd = nexus(&dir.path().join("data"));
    cmd.env("NEXUS_LOG__FORMAT", "json")
        .env("NEXUS_LOG__LEVEL", "debug")
        .env("RUST_LOG", "debug")
        .env("NEXUS_ADMIN_PASSWORD", ADMIN_SECRET);
    let stderr = Stdio::from(std::fs::File::create(&log).expect("log file"));
    let app = tokio::task::spawn_blocking(move || Running::start_logging_to(cmd, stderr))
        .await
        .expect("start");
    let mut rec = Recorder {
        client: Client::new(),
        base: app.base.clone(),
        bodies: Vec::new(),
    };
    let mut tokens: Vec<String> = Vec::new();
    let mut keep = |body: &Value| {
        for key in ["access", "refresh"] {
            if let Some(t) = body[key].as_str() {
                tokens.push(t.to_string());
            }
        }
    };

    let (status, admin) = rec.login("admin", ADMIN_SECRET).await;
    assert_eq!(status, StatusCode::OK);
    keep(&admin);
    let admin_token = admin["access"].as_str().unwrap().to_string();

    // Registration, with a password too short first (the error must not echo it).
    let register = |password: &str| json!({"username": "alice", "email": "alice@plant.test", "password": password});
    let (status, _) = rec
        .send(
            Method::POST,
            "/api/auth/register/",
            None,
            Some(register(SHORT_PASSWORD)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = rec
        .send(
            Method::POST,
            "/api/auth/register/",
            None,
            Some(register(ALICE_FIRST)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Sign in, refresh, replay the spent refresh token (reuse detection).
    let (status, alice) = rec.login("alice", ALICE_FIRST).await;
    assert_eq!(status, StatusCode::OK);
    keep(&alice);
    let spent = alice["refresh"].as_str().unwrap().to_string();
    let (status, rotated) = rec
        .send(
            Method::POST,
            "/api/auth/refresh/",
            None,
            Some(json!({"refresh": spent})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    keep(&rotated);
    let (status, _) = rec
        .send(
            Method::POST,
            "/api/auth/refresh/",
            None,
            Some(json!({"refresh": spent})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Change the password: a wrong current one first, then the right one.
    let (status, alice) = rec.login("alice", ALICE_FIRST).await;
    assert_eq!(status, StatusCode::OK);
    keep(&alice);
    let alice_token = alice["access"].as_str().unwrap().to_string();
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let (status, _) = rec
        .send(
            Method::POST,
            "/api/auth/password/",
            Some(&alice_token),
            Some(change(WRONG_PASSWORD, ALICE_SECOND)),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    let (status, _) = rec
        .send(
            Method::POST,
            "/api/auth/password/",
            Some(&alice_token),
            Some(change(ALICE_FIRST, SHORT_PASSWORD)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = rec
        .send(
            Method::POST,
            "/api/auth/password/",
            Some(&alice_token),
            Some(change(ALICE_FIRST, ALICE_SECOND)),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Failed logins: wrong password, unknown user, until the lockout.
    for _ in 0..3 {
        let (status, _) = rec.login("alice", WRONG_PASSWORD).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    for _ in 0..6 {
        let (status, _) = rec.login("nobody", WRONG_PASSWORD).await;
        assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::LOCKED);
    }
    // A password in a body that does not parse.
    let r = rec
        .client
        .post(format!("{}/api/auth/login/", rec.base))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"username\": \"alice\", \"password\": \"{WRONG_PASSWORD}\""
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    rec.bodies
        .push(("truncated login".into(), r.text().await.unwrap(), false));
    let (status, alice) = rec.login("alice", ALICE_SECOND).await;
    assert_eq!(status, StatusCode::OK);
    keep(&alice);
    let alice_token = alice["access"].as_str().unwrap().to_string();

    // Users made and read by an admin; the current user; a forged token.
    let (status, _) = rec
        .send(
            Method::POST,
            "/api/users/",
            Some(&admin_token),
            Some(json!({"username": "bob", "email": "bob@plant.test",
                        "password": BOB_PASSWORD, "role": "staff"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for path in [
        "/api/users/",
        "/api/users/2/",
        "/api/auth/user/",
        "/api/audit/",
    ] {
        let (status, _) = rec.send(Method::GET, path, Some(&admin_token), None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, _) = rec
        .send(Method::GET, "/api/auth/user/", Some(&alice_token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (h, p, _) = parts(&alice_token);
    let forged = format!("{h}.{p}.Zm9yZ2VkLXNpZ25hdHVyZS1mb3ItbG9nLXRlc3Q");
    tokens.push(forged.clone());
    let (status, _) = rec
        .send(Method::GET, "/api/auth/user/", Some(&forged), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Tokens in query strings: the live channels.
    let r = rec
        .client
        .get(format!("{}/api/events/", rec.base))
        .query(&[("topics", "activities"), ("token", alice_token.as_str())])
        .send()
        .await
        .expect("SSE");
    assert_eq!(r.status(), StatusCode::OK);
    drop(r);
    let r = rec
        .client
        .get(format!("{}/api/events/", rec.base))
        .query(&[("topics", "activities"), ("token", forged.as_str())])
        .send()
        .await
        .expect("SSE");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    rec.bodies.push((
        "SSE with a forged token".into(),
        r.text().await.unwrap(),
        false,
    ));
    let ws = format!(
        "ws://{}/ws/?token={alice_token}",
        rec.base.trim_start_matches("http://")
    );
    let (socket, _) = tokio_tungstenite::connect_async(ws).await.expect("upgrade");
    drop(socket);

    // Logout.
    let (status, _) = rec
        .send(
            Method::POST,
            "/api/auth/logout/",
            Some(&alice_token),
            Some(json!({"refresh": alice["refresh"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let stdout = app.stdout_lines();
    let code = tokio::task::spawn_blocking(move || app.terminate())
        .await
        .expect("stop");
    assert_eq!(code, 0);

    let logs = std::fs::read_to_string(&log).expect("log");
    // The log is really at debug level and records the requests, so its silence means
    // something.
    assert!(
        logs.lines().any(|l| l.contains("\"level\":\"DEBUG\"")),
        "debug lines in the log"
    );
    assert!(
        logs.contains("/api/auth/password"),
        "request lines in the log"
    );
    assert!(
        logs.lines().count() > 50,
        "a busy log: {} lines",
        logs.lines().count()
    );

    let passwords = [
        ADMIN_SECRET,
        ALICE_FIRST,
        ALICE_SECOND,
        BOB_PASSWORD,
        WRONG_PASSWORD,
        SHORT_PASSWORD,
    ];
    assert!(tokens.len() >= 10, "tokens were collected");
    // A token's signature alone is as secret as the token.
    let token_parts: Vec<String> = tokens
        .iter()
        .flat_map(|t| [t.clone(), parts(t).2])
        .collect();
    let mut outputs: Vec<(String, String, bool)> = rec.bodies;
    outputs.push(("the log (stderr)".into(), logs, false));
    outputs.push(("stdout".into(), stdout.join("\n"), false));
    for (what, text, issues_tokens) in &outputs {
        for password in passwords {
            assert!(
                !text.contains(password),
                "{what} holds the password {password}"
            );
        }
        assert!(!text.contains("$argon2"), "{what} holds a password hash");
        if !issues_tokens {
            for secret in &token_parts {
                assert!(!text.contains(secret.as_str()), "{what} holds a token");
            }
        }
    }
}
