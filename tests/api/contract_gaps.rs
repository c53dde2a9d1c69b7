//! Contract gaps an outside client found (issue 11, point 7): field problems in a body are
//! `validation_error` on every write endpoint; the per-address limit counts only calls that
//! take credentials, and forwarding headers are believed only from trusted proxies; an answer
//! sent before the body was read closes the connection cleanly; an unknown config key stops
//! the start.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{
    ADMIN_PASSWORD, TestApp, assert_error, json_of, spawn_app, spawn_app_with, token_of,
};

// ---------------------------------------------------------------------------------------------
// a) field problems are validation errors naming the field

/// The objects the write endpoints act on, and the tokens they need.
struct Fixture {
    admin: String,
    refresh: String,
    user_id: u64,
    activity_id: u64,
    project_id: u64,
    update_id: u64,
}

async fn fixture(app: &TestApp) -> Fixture {
    let login = app.login("admin", ADMIN_PASSWORD).await;
    let admin = token_of(&login);
    let refresh = login["refresh"].as_str().expect("refresh").to_string();
    let user = app.create_user("worker", "user").await;
    let created = |path: &'static str, body: Value| {
        let admin = admin.clone();
        async move {
            let r = app.post(path, Some(&admin), &body).await;
            assert_eq!(r.status(), StatusCode::CREATED, "POST {path}");
            json_of(r).await["id"].as_u64().expect("id")
        }
    };
    Fixture {
        activity_id: created("/api/activities/", json!({"title": "Inspect press"})).await,
        project_id: created("/api/projects/", json!({"name": "Line 2"})).await,
        update_id: created("/api/updates/", json!({"title": "Hi", "content": "All"})).await,
        user_id: user["id"].as_u64().expect("user id"),
        admin,
        refresh,
    }
}

/// A method, a path, and bodies each with one bad field and that field's name.
type Endpoint = (Method, String, Vec<(Value, &'static str)>);

/// Every POST/PATCH route with a JSON body, with bodies whose one problem is a field
/// (missing, wrong JSON type, unknown enum value, out of range), and the field each names.
fn write_endpoints(f: &Fixture) -> Vec<Endpoint> {
    let pw = "long-enough-password";
    let post = Method::POST;
    let patch = Method::PATCH;
    vec![
        (
            post.clone(),
            "/api/auth/register/".into(),
            vec![
                (json!({"email": "n@x.io", "password": pw}), "username"),
                (
                    json!({"username": 5, "email": "n@x.io", "password": pw}),
                    "username",
                ),
                (
                    json!({"username": "newbie", "email": "n@x.io", "password": pw, "display_name": []}),
                    "display_name",
                ),
            ],
        ),
        (
            post.clone(),
            "/api/auth/login/".into(),
            vec![
                (json!({"username": "admin"}), "password"),
                (json!({"username": ["admin"], "password": pw}), "username"),
            ],
        ),
        (
            post.clone(),
            "/api/auth/refresh/".into(),
            vec![(json!({}), "refresh"), (json!({"refresh": 12}), "refresh")],
        ),
        (
            post.clone(),
            "/api/auth/logout/".into(),
            vec![(json!({"refresh": 12}), "refresh")],
        ),
        (
            patch.clone(),
            "/api/auth/user/".into(),
            vec![
                (json!({"email": 5}), "email"),
                (json!({"profile": {"phone": 5_551_234}}), "profile.phone"),
                (json!({"profile": "x"}), "profile"),
            ],
        ),
        (
            post.clone(),
            "/api/auth/password/".into(),
            vec![
                (json!({"current_password": ADMIN_PASSWORD}), "new_password"),
                (
                    json!({"current_password": 1, "new_password": pw}),
                    "current_password",
                ),
            ],
        ),
        (
            post.clone(),
            "/api/users/".into(),
            vec![
                (
                    json!({"username": "bob", "email": "b@x.io", "password": pw, "role": "superuser"}),
                    "role",
                ),
                (
                    json!({"username": "bob", "email": "b@x.io", "password": pw}),
                    "role",
                ),
                (
                    json!({"email": "b@x.io", "password": pw, "role": "user"}),
                    "username",
                ),
                (
                    json!({"username": 5, "email": "b@x.io", "password": pw, "role": "user"}),
                    "username",
                ),
            ],
        ),
        (
            patch.clone(),
            format!("/api/users/{}/", f.user_id),
            vec![
                (json!({"role": "superuser"}), "role"),
                (json!({"is_active": "yes"}), "is_active"),
            ],
        ),
        (
            post.clone(),
            "/api/activities/".into(),
            vec![
                (json!({"type": "maintenance"}), "title"),
                (json!({"title": "t", "type": "bogus"}), "type"),
                (json!({"title": "t", "assigned_to": "bob"}), "assigned_to"),
                (json!({"title": "t", "assigned_to": -1}), "assigned_to"),
                (json!({"title": "t", "start_time": 5}), "start_time"),
            ],
        ),
        (
            patch.clone(),
            format!("/api/activities/{}/", f.activity_id),
            vec![
                (json!({"status": "bogus"}), "status"),
                (json!({"version": "one"}), "version"),
                (json!({"start_time": 5}), "start_time"),
            ],
        ),
        (
            post.clone(),
            "/api/projects/".into(),
            vec![
                (json!({}), "name"),
                (json!({"name": "p", "status": "bogus"}), "status"),
                (
                    json!({"name": "p", "team_members": "everyone"}),
                    "team_members",
                ),
            ],
        ),
        (
            patch.clone(),
            format!("/api/projects/{}/", f.project_id),
            vec![
                (json!({"manager_id": "me"}), "manager_id"),
                (json!({"start_date": 20_261_201}), "start_date"),
            ],
        ),
        (
            post.clone(),
            format!("/api/projects/{}/team/", f.project_id),
            vec![
                (json!({}), "user_id"),
                (json!({"user_id": "worker"}), "user_id"),
            ],
        ),
        (
            post.clone(),
            format!("/api/projects/{}/activities/", f.project_id),
            vec![(json!({"title": "t", "priority": "bogus"}), "priority")],
        ),
        (
            post.clone(),
            "/api/updates/".into(),
            vec![
                (json!({"content": "c"}), "title"),
                (
                    json!({"title": "t", "content": "c", "type": "bogus"}),
                    "type",
                ),
            ],
        ),
        (
            patch.clone(),
            format!("/api/updates/{}/", f.update_id),
            vec![(json!({"priority": "bogus"}), "priority")],
        ),
        (
            post.clone(),
            "/api/chat/messages/".into(),
            vec![
                (json!({"receiver_id": 1}), "content"),
                (
                    json!({"receiver_id": "admin", "content": "hi"}),
                    "receiver_id",
                ),
            ],
        ),
        (
            post,
            "/api/chat/conversations/read/".into(),
            vec![(json!({"with": "admin"}), "with")],
        ),
    ]
}

#[tokio::test]
async fn field_problems_on_every_write_endpoint_are_validation_errors_naming_the_field() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    for (method, path, cases) in write_endpoints(&f) {
        for (body, field) in cases {
            let r = app
                .request(method.clone(), &path, Some(&f.admin))
                .json(&body)
                .send()
                .await
                .expect("request");
            let what = format!("{method} {path} {body}");
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
            let err = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
            let fields = &err["error"]["fields"];
            assert!(
                fields[field].as_array().is_some_and(|m| !m.is_empty()),
                "{what}: fields name {field}: {err}"
            );
            let text = err.to_string();
            for internal in ["deserialize", "Failed to", "u64", "struct ", "line 1"] {
                assert!(!text.contains(internal), "{what}: no internals: {text}");
            }
        }
    }
    // Nothing above went through: the admin still signs in with the same password and the
    // session whose refresh token was sent to logout is alive.
    let r = app
        .post("/api/auth/refresh/", None, &json!({"refresh": f.refresh}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.login("admin", ADMIN_PASSWORD).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_or_not_an_object_is_a_bad_request_on_every_write_endpoint() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    for (method, path, _) in write_endpoints(&f) {
        for body in ["{not json", "[1, 2]", "\"text\"", "42", "null"] {
            let r = app
                .request(method.clone(), &path, Some(&f.admin))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("request");
            let what = format!("{method} {path} {body}");
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
            let err = assert_error(r, StatusCode::BAD_REQUEST, "bad_request").await;
            assert!(err["error"].get("fields").is_none(), "{what}: {err}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// b) the per-address limit counts credential calls; forwarding headers only from trusted proxies

/// An app whose auth limit allows a burst of `burst` and refills slowly.
async fn limited_app(trusted: &[&str], burst: u32) -> TestApp {
    let trusted: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
    spawn_app_with(move |c| {
        c.auth.rate_limit_per_sec = 1;
        c.auth.rate_limit_burst = burst;
        c.server.trusted_proxies = trusted;
    })
    .await
}

async fn login_from(
    app: &TestApp,
    forwarded_for: Option<&str>,
    username: &str,
    password: &str,
) -> StatusCode {
    let mut request = app
        .request(Method::POST, "/api/auth/login/", None)
        .json(&json!({"username": username, "password": password}));
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.expect("login").status()
}

/// Sends `n` logins with wrong passwords for fresh usernames (so no lockout) at once, the
/// i-th with `X-Forwarded-For: forwarded_for(i)`; whether any was refused with `429`. At once,
/// so the allowance cannot refill meanwhile however slow the machine is.
async fn any_limited(
    app: &TestApp,
    n: usize,
    forwarded_for: impl Fn(usize) -> Option<String>,
) -> bool {
    let attempts = (0..n).map(|i| {
        let ip = forwarded_for(i);
        async move {
            let user = format!("nobody{i}");
            login_from(app, ip.as_deref(), &user, "wrong-password-1").await
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    for status in &statuses {
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(status),
            "{statuses:?}"
        );
    }
    statuses.contains(&StatusCode::TOO_MANY_REQUESTS)
}

async fn last_login_ip(app: &TestApp, admin: &str) -> Value {
    let list = json_of(app.get("/api/audit/?action=login.success", admin).await).await;
    list["results"][0]["ip"].clone()
}

#[tokio::test]
async fn reading_ones_own_user_is_not_limited_per_address_but_login_is() {
    let app = limited_app(&[], 3).await;
    let admin = app.admin_token().await;
    for i in 0..30 {
        let r = app.get("/api/auth/user/", &admin).await;
        assert_eq!(r.status(), StatusCode::OK, "GET /api/auth/user/ number {i}");
        let r = app
            .patch(
                "/api/auth/user/",
                &admin,
                &json!({"display_name": format!("Admin {i}")}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "PATCH /api/auth/user/ number {i}"
        );
    }
    assert!(
        any_limited(&app, 10, |_| None).await,
        "login is still limited per address"
    );
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let app = limited_app(&[], 3).await;
    assert_eq!(
        login_from(&app, Some("203.0.113.7"), "admin", ADMIN_PASSWORD).await,
        StatusCode::OK
    );
    let admin = app.admin_token().await;
    assert_eq!(
        last_login_ip(&app, &admin).await,
        "127.0.0.1",
        "the header was not believed"
    );
    // A fresh address in the header each time does not evade the limit.
    assert!(
        any_limited(&app, 10, |i| Some(format!("198.51.100.{i}"))).await,
        "changing X-Forwarded-For must not evade the per-address limit"
    );
}

#[tokio::test]
async fn forwarding_headers_from_a_trusted_proxy_give_the_client_address() {
    let app = limited_app(&["127.0.0.1/32"], 3).await;
    assert_eq!(
        login_from(&app, Some("203.0.113.7"), "admin", ADMIN_PASSWORD).await,
        StatusCode::OK
    );
    let token = token_of(&app.login("admin", ADMIN_PASSWORD).await);
    assert_eq!(
        last_login_ip(&app, &token).await,
        "127.0.0.1",
        "no header: the proxy itself"
    );
    let r = app
        .request(
            Method::GET,
            "/api/audit/?action=login.success&page_size=5",
            Some(&token),
        )
        .send()
        .await
        .expect("audit");
    let list = json_of(r).await;
    assert_eq!(list["results"][1]["ip"], "203.0.113.7", "{list}");

    // The limit is per forwarded address: one client used up, another still gets in.
    let one = |_| Some("198.51.100.1".to_string());
    assert!(any_limited(&app, 10, one).await, "198.51.100.1 is limited");
    // The same client through a proxy that writes RFC 7239 `Forwarded` is the same address
    // (a few tries: the allowance refills by one a second meanwhile).
    let mut limited = false;
    for _ in 0..4 {
        let r = app
            .request(Method::POST, "/api/auth/login/", None)
            .header("forwarded", "for=\"198.51.100.1:4711\";proto=https")
            .json(&json!({"username": "nobody", "password": "wrong-password-1"}))
            .send()
            .await
            .expect("login");
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "Forwarded: for= names the same, limited client");
    let other = login_from(&app, Some("198.51.100.2"), "nobody", "wrong-password-1").await;
    assert_eq!(
        other,
        StatusCode::UNAUTHORIZED,
        "198.51.100.2 has its own allowance"
    );
}

// ---------------------------------------------------------------------------------------------
// c) an answer sent before the body was read closes the connection cleanly

/// Sends `head` and a body of `len` bytes on a raw connection (the body written concurrently,
/// as a client that does not wait for `100 Continue` would), and reads the whole answer until
/// the server closes. Returns the answer's head, lower-cased, and whether the close was clean.
async fn refused_upload(app: &TestApp, head: String, len: usize) -> (String, bool) {
    let addr = app.base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            writer.write_all(&chunk[..n]).await?;
            left -= n;
        }
        std::io::Result::Ok(writer)
    });
    let mut answer = Vec::new();
    let clean = loop {
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await {
            Ok(Ok(0)) => break true,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Ok(Err(_)) => break false,
            Err(_) => panic!("the server kept the connection open after answering"),
        }
    };
    writing.abort();
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    (head, clean)
}

fn post_head(path: &str, token: Option<&str>, len: usize) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         {auth}Content-Length: {len}\r\n\r\n"
    )
}

#[tokio::test]
async fn an_answer_before_the_body_was_read_says_connection_close() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let too_big = 2 * 1024 * 1024;
    let (head, clean) = refused_upload(
        &app,
        post_head("/api/activities/", Some(&admin), too_big),
        too_big,
    )
    .await;
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(
        head.contains("\r\nconnection: close"),
        "413 says close: {head}"
    );
    assert!(clean, "the connection ends with a clean close");

    let big = 512 * 1024;
    let (head, clean) = refused_upload(&app, post_head("/api/activities/", None, big), big).await;
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(
        head.contains("\r\nconnection: close"),
        "401 says close: {head}"
    );
    assert!(clean, "the connection ends with a clean close");

    // A body that was read keeps the connection: no close on an ordinary answer.
    let r = app
        .post("/api/activities/", Some(&admin), &json!({"title": "kept"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(r.headers().get("connection").is_none(), "{:?}", r.headers());
}

#[tokio::test]
async fn a_keep_alive_client_goes_on_after_a_refused_upload() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("client");
    for round in 0..3 {
        let r = client
            .post(app.url("/api/activities/"))
            .header("content-type", "application/json")
            .body(vec![b' '; 512 * 1024])
            .send()
            .await
            .expect("refused upload");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "round {round}");
        let _ = r.bytes().await;
        let next = client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the next request failed: {e}"));
        assert_eq!(next.status(), StatusCode::OK);
    }
}

// ---------------------------------------------------------------------------------------------
// f) an unknown config key stops the start

#[test]
fn an_unknown_key_in_the_config_file_fails_the_start_naming_it() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("nexus.toml");
    std::fs::write(&file, "[server]\nlisten_adress = \"127.0.0.1:9999\"\n").expect("write");
    let out = crate::process::nexus(&dir.path().join("data"))
        .arg("--config")
        .arg(&file)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", crate::process::free_port()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run nexus");
    assert!(
        !out.status.success(),
        "a typo in the config file stops the start"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server.listen_adress"),
        "names the key: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn an_unknown_nexus_variable_is_a_warning_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("stderr.log");
    let mut cmd = crate::process::nexus(&dir.path().join("data"));
    cmd.env("NEXUS_SERVER__LISTEN_ADRESS", "127.0.0.1:9999");
    cmd.env("NEXUS_FUZZ_SEED", "7");
    let stderr = std::fs::File::create(&log).expect("log file");
    let app = crate::process::Running::start_logging_to(cmd, stderr.into());
    assert_eq!(app.terminate(), 0, "the start went on");
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.lines()
            .any(|l| l.contains("WARN") && l.contains("NEXUS_SERVER__LISTEN_ADRESS")),
        "warned: {text}"
    );
    assert!(
        !text.contains("NEXUS_FUZZ_SEED"),
        "test variables are not warned about: {text}"
    );
}
