//! The web UI's pages as a browser client sees them over HTTP: sign-in and its cookie, CSRF
//! and cross-site refusals, visibility and escaping on every page, errors shown as pages,
//! assets, and the cookie on the live channels. (The browser-driven tests are in tests/e2e.)

use reqwest::header::{self, HeaderMap};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::common::{ADMIN_PASSWORD, TestApp, USER_PASSWORD, spawn_app};

/// A browser-like client: keeps the session cookie, follows no redirects.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookie: Option<String>,
    /// The one-shot message cookie, as a browser would keep it.
    flash: Option<String>,
    /// A wall screen's display-key cookie.
    key: Option<String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            app,
            client,
            cookie: None,
            flash: None,
            key: None,
        }
    }

    async fn signed_in(app: &'a TestApp, username: &str, password: &str) -> Browser<'a> {
        let mut browser = Browser::new(app);
        let r = browser
            .post_form("/login", &[("username", username), ("password", password)])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in of {username}");
        assert!(browser.cookie.is_some(), "sign-in sets the cookie");
        browser
    }

    fn keep_cookie(&mut self, r: &Response) {
        for value in r.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap_or_default();
            if let Some(rest) = text.strip_prefix("nexus_session=") {
                let token = rest.split(';').next().unwrap_or_default();
                self.cookie = (!token.is_empty()).then(|| token.to_string());
            }
            if let Some(rest) = text.strip_prefix("nexus_key=") {
                let value = rest.split(';').next().unwrap_or_default();
                self.key = (!value.is_empty()).then(|| value.to_string());
            }
            if let Some(rest) = text.strip_prefix("nexus_flash=") {
                let value = rest.split(';').next().unwrap_or_default();
                self.flash = (!value.is_empty()).then(|| value.to_string());
            }
        }
    }

    fn with_cookie(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let mut pairs = Vec::new();
        if let Some(c) = &self.cookie {
            pairs.push(format!("nexus_session={c}"));
        }
        if let Some(f) = &self.flash {
            pairs.push(format!("nexus_flash={f}"));
        }
        if let Some(k) = &self.key {
            pairs.push(format!("nexus_key={k}"));
        }
        if pairs.is_empty() {
            builder
        } else {
            builder.header(header::COOKIE, pairs.join("; "))
        }
    }

    async fn get(&mut self, path: &str) -> Response {
        let builder = self
            .client
            .get(self.app.url(path))
            .header(header::ACCEPT, "text/html");
        let r = self.with_cookie(builder).send().await.expect("request");
        self.keep_cookie(&r);
        r
    }

    async fn page(&mut self, path: &str) -> (StatusCode, String) {
        let r = self.get(path).await;
        let status = r.status();
        (status, r.text().await.expect("body"))
    }

    async fn post_form_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: HeaderMap,
    ) -> Response {
        let builder = self
            .client
            .post(self.app.url(path))
            .headers(headers)
            .form(fields);
        let r = self.with_cookie(builder).send().await.expect("request");
        self.keep_cookie(&r);
        r
    }

    async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.post_form_with(path, fields, HeaderMap::new()).await
    }

    /// The CSRF token of the current session, as a page carries it.
    async fn csrf(&mut self) -> String {
        let (status, body) = self.page("/profile").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        between(&body, "data-csrf=\"", "\"").to_string()
    }

    /// POSTs `fields` with this session's CSRF token.
    async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let csrf = self.csrf().await;
        let mut all = fields.to_vec();
        all.push(("_csrf", &csrf));
        self.post_form(path, &all).await
    }
}

fn between<'t>(text: &'t str, start: &str, end: &str) -> &'t str {
    let from = text.find(start).map(|i| i + start.len()).unwrap_or(0);
    let rest = &text[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

fn location(r: &Response) -> String {
    r.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn created(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    let r = app.post(path, Some(token), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{path}");
    r.json().await.expect("json")
}

#[tokio::test]
async fn sign_in_sets_a_locked_down_cookie_and_returns_to_the_page_asked_for() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let r = browser.get("/activities?status=planned").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=/activities%3Fstatus%3Dplanned");

    let (status, form) = browser.page("/login?next=/activities").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"<form id="login""#), "{form}");

    let r = browser
        .post_form(
            "/login",
            &[
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("next", "/activities?status=planned"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/activities?status=planned");
    let cookie = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("nexus_session="))
        .expect("session cookie")
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");

    let r = browser.get("/activities?status=planned").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        r.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("no-store"),
        "pages must not be cached, so Back after sign-out shows nothing"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");

    // Only local paths are followed after sign-in.
    let mut other = Browser::new(&app);
    let r = other
        .post_form(
            "/login",
            &[
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/");
}

#[tokio::test]
async fn failed_sign_ins_show_the_form_again_and_lock_out_like_the_api() {
    let app = spawn_app().await;
    app.create_user("olga", "user").await;
    let mut browser = Browser::new(&app);
    let r = browser
        .post_form(
            "/login",
            &[("username", "olga"), ("password", "wrong-password")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"id="form-error""#), "{body}");
    assert!(
        body.contains(r#"value="olga""#),
        "the username is kept: {body}"
    );
    assert!(browser.cookie.is_none());
    for _ in 0..4 {
        browser
            .post_form(
                "/login",
                &[("username", "olga"), ("password", "wrong-password")],
            )
            .await;
    }
    let r = browser
        .post_form(
            "/login",
            &[("username", "olga"), ("password", USER_PASSWORD)],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::LOCKED,
        "locked even with the right password"
    );
    assert!(r.headers().contains_key(header::RETRY_AFTER));
    // The same lockout as the API's: one counter per username.
    let r = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"username": "olga", "password": USER_PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::LOCKED);
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_address_like_the_api() {
    let app = crate::common::spawn_app_with(|c| {
        c.auth.rate_limit_per_sec = 1;
        c.auth.rate_limit_burst = 2;
    })
    .await;
    // Sent together, so the limiter sees them before any password is hashed.
    let attempts = (0..6).map(|_| {
        app.client
            .post(app.url("/login"))
            .form(&[("username", "nobody"), ("password", "whatever-123")])
            .send()
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("request").status())
        .collect();
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_state_change_without_the_sessions_csrf_token_is_refused() {
    let app = spawn_app().await;
    let mut browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let mut other = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let others_token = other.csrf().await;

    let title = [("title", "Refused"), ("type", "other"), ("priority", "low")];
    let r = browser.post_form("/activities", &title).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no token");
    let mut wrong = title.to_vec();
    wrong.push(("_csrf", "00ff"));
    assert_eq!(
        browser.post_form("/activities", &wrong).await.status(),
        StatusCode::FORBIDDEN
    );
    let mut foreign = title.to_vec();
    foreign.push(("_csrf", &others_token));
    assert_eq!(
        browser.post_form("/activities", &foreign).await.status(),
        StatusCode::FORBIDDEN,
        "another session's token"
    );
    let admin = app.admin_token().await;
    let list = app.get("/api/activities/", &admin).await;
    assert_eq!(list.json::<Value>().await.unwrap()["count"], 0);

    let r = browser.submit("/activities", &title).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/activities/"), "{}", location(&r));
}

#[tokio::test]
async fn cross_site_posts_are_refused_even_with_a_valid_token() {
    let app = spawn_app().await;
    let mut browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = browser.csrf().await;
    let fields = [
        ("title", "From elsewhere"),
        ("type", "other"),
        ("_csrf", csrf.as_str()),
    ];
    let mut foreign = HeaderMap::new();
    foreign.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let r = browser
        .post_form_with("/activities", &fields, foreign)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut cross = HeaderMap::new();
    cross.insert("sec-fetch-site", "cross-site".parse().unwrap());
    let r = browser.post_form_with("/activities", &fields, cross).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut cross_login = HeaderMap::new();
    cross_login.insert("sec-fetch-site", "cross-site".parse().unwrap());
    let r = Browser::new(&app)
        .post_form_with(
            "/login",
            &[("username", "admin"), ("password", ADMIN_PASSWORD)],
            cross_login,
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "no sign-in from another site"
    );

    let mut own = HeaderMap::new();
    own.insert(header::ORIGIN, app.base.parse().expect("origin header"));
    let r = browser.post_form_with("/activities", &fields, own).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_out_and_deactivation_end_the_web_session_at_once() {
    let app = spawn_app().await;
    let (user, _) = app.user_with_token("piet", "user").await;
    let mut browser = Browser::signed_in(&app, "piet", USER_PASSWORD).await;
    let cookie = browser.cookie.clone();
    let r = browser.submit("/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    assert!(browser.cookie.is_none(), "sign-out removes the cookie");
    // The old cookie, replayed (the back button, a copied cookie), no longer works.
    browser.cookie = cookie;
    let r = browser.get("/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"));

    let mut again = Browser::signed_in(&app, "piet", USER_PASSWORD).await;
    assert_eq!(again.get("/").await.status(), StatusCode::OK);
    let admin = app.admin_token().await;
    let r = app
        .patch(
            &format!("/api/users/{}/", user["id"]),
            &admin,
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = again.get("/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "deactivated: signed out");
}

#[tokio::test]
async fn a_bad_cookie_goes_to_sign_in_and_is_removed() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    browser.cookie = Some("not-a-token".into());
    let r = browser.get("/chat").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=/chat");
    let cleared = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with("nexus_session=;") && v.contains("Max-Age=0"));
    assert!(cleared, "{:?}", r.headers());
    // An API access token is not a session cookie.
    let mut with_token = Browser::new(&app);
    with_token.cookie = Some(app.admin_token().await);
    assert_eq!(with_token.get("/").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_page_renders_for_its_audience_and_admin_pages_refuse_others() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, user_token) = app.user_with_token("uma", "user").await;
    let project = created(&app, "/api/projects/", &admin, json!({"name": "Line 2"})).await;
    let activity = created(
        &app,
        "/api/activities/",
        &user_token,
        json!({"title": "Grease the press", "type": "maintenance"}),
    )
    .await;
    let update = created(
        &app,
        "/api/updates/",
        &admin,
        json!({"title": "Fire drill", "content": "at 10", "priority": "critical"}),
    )
    .await;
    let pages = [
        "/".to_string(),
        "/activities".into(),
        "/activities?status=planned&ordering=-priority".into(),
        "/activities/board".into(),
        "/activities/new".into(),
        format!("/activities/{}", activity["id"]),
        "/projects".into(),
        format!("/projects/{}", project["id"]),
        "/updates".into(),
        format!("/updates/{}", update["id"]),
        "/chat".into(),
        "/chat?with=1".into(),
        format!("/chat?project={}", project["id"]),
        "/search?q=press".into(),
        "/notifications".into(),
        "/profile".into(),
        "/menu".into(),
        "/admin/users".into(),
        "/admin/audit".into(),
    ];
    let mut browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    for path in &pages {
        let (status, body) = browser.page(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body.matches("<h1").count(), 1, "{path}: one h1");
        assert!(body.contains(r#"<main id="main""#), "{path}");
        assert!(body.contains("<nav"), "{path}");
    }
    let mut user = Browser::signed_in(&app, "uma", USER_PASSWORD).await;
    for path in ["/admin/users", "/admin/audit"] {
        let (status, body) = user.page(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(body.contains("<nav"), "403 in the app's layout: {body}");
    }
    let (status, body) = user.page(&format!("/projects/{}", project["id"])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not on its team");
    assert!(
        body.contains("Not found") && body.contains("<nav"),
        "{body}"
    );
    let (_, dashboard) = user.page("/").await;
    assert!(
        dashboard.contains("Fire drill"),
        "critical update on the dashboard"
    );
    assert!(
        dashboard.contains("class=\"update critical\""),
        "{dashboard}"
    );
}

#[tokio::test]
async fn no_page_shows_what_the_api_hides() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, alice) = app.user_with_token("alice", "user").await;
    let (bob_user, _) = app.user_with_token("bob", "user").await;
    app.create_user("carl", "user").await;
    let project = created(
        &app,
        "/api/projects/",
        &admin,
        json!({"name": "Hidden hydraulics", "team_members": []}),
    )
    .await;
    let pid = project["id"].as_u64().unwrap();
    let secret = created(
        &app,
        &format!("/api/projects/{pid}/activities/"),
        &admin,
        json!({"title": "Zebrafinch overhaul", "type": "maintenance"}),
    )
    .await;
    let sid = secret["id"].as_u64().unwrap();
    created(
        &app,
        "/api/chat/messages/",
        &alice,
        json!({"receiver_id": bob_user["id"], "content": "Zebrafinch gossip"}),
    )
    .await;
    created(
        &app,
        "/api/chat/messages/",
        &admin,
        json!({"project_id": pid, "content": "Zebrafinch room talk"}),
    )
    .await;

    let mut outsider = Browser::signed_in(&app, "carl", USER_PASSWORD).await;
    for path in [
        format!("/activities/{sid}"),
        format!("/projects/{pid}"),
        format!("/chat?project={pid}"),
    ] {
        let (status, body) = outsider.page(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("Zebrafinch"), "{path}: {body}");
    }
    for path in [
        "/",
        "/activities",
        "/activities/board",
        "/projects",
        "/chat",
        "/search?q=zebrafinch",
        "/notifications",
        "/activities/new",
    ] {
        let (status, body) = outsider.page(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            !body.contains("Zebrafinch") && !body.contains("Hidden hydraulics"),
            "{path} shows something hidden: {body}"
        );
    }
    // What the API shows, the page shows.
    let mut insider = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, body) = insider.page("/search?q=zebrafinch").await;
    assert!(body.contains(&format!("data-id=\"{sid}\"")), "{body}");
    assert!(
        !body.contains("Zebrafinch gossip"),
        "a direct message between others stays private even to an admin: {body}"
    );
    let (_, board) = insider.page("/activities/board").await;
    assert!(board.contains("Zebrafinch overhaul"));
}

#[tokio::test]
async fn titles_and_messages_show_as_text_everywhere() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (bob, _) = app.user_with_token("bob", "user").await;
    let evil = "<script>alert(1)</script>";
    let project = created(
        &app,
        "/api/projects/",
        &admin,
        json!({"name": format!("{evil} project")}),
    )
    .await;
    let activity = created(
        &app,
        "/api/activities/",
        &admin,
        json!({"title": format!("{evil} task"), "description": evil, "project_id": project["id"], "assigned_to": 1}),
    )
    .await;
    let update = created(
        &app,
        "/api/updates/",
        &admin,
        json!({"title": format!("{evil} news"), "content": evil, "priority": "high"}),
    )
    .await;
    created(
        &app,
        "/api/chat/messages/",
        &admin,
        json!({"receiver_id": bob["id"], "content": format!("{evil} hello")}),
    )
    .await;
    created(
        &app,
        "/api/chat/messages/",
        &admin,
        json!({"project_id": project["id"], "content": format!("{evil} room")}),
    )
    .await;
    let mut browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    for path in [
        "/".to_string(),
        "/activities".into(),
        "/activities/board".into(),
        format!("/activities/{}", activity["id"]),
        format!("/projects/{}", project["id"]),
        "/projects".into(),
        "/updates".into(),
        format!("/updates/{}", update["id"]),
        format!("/chat?with={}", bob["id"]),
        "/chat".into(),
        "/search?q=alert".into(),
        "/search?q=script".into(),
    ] {
        let (status, body) = browser.page(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            !body.contains("<script>alert"),
            "{path} is not escaped: {body}"
        );
        assert!(
            body.contains("&lt;script&gt;"),
            "{path} shows the text: {body}"
        );
    }
    let (_, hits) = browser.page("/search?q=alert").await;
    assert!(hits.contains("<mark>"), "snippets keep their marks: {hits}");
}

#[tokio::test]
async fn a_failed_form_shows_errors_by_their_fields_and_keeps_the_input() {
    let app = spawn_app().await;
    let mut browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let r = browser
        .submit(
            "/activities",
            &[
                ("title", ""),
                ("description", "kept words"),
                ("type", "maintenance"),
                ("start_time", "2026-12-01T10:00"),
                ("end_time", "2026-12-01T09:00"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"id="title-error""#), "{body}");
    assert!(body.contains(r#"id="end_time-error""#), "{body}");
    assert!(body.contains(r#"aria-invalid="true""#));
    assert!(body.contains("kept words"), "input kept");
    assert!(body.contains(r#"value="2026-12-01T10:00""#), "input kept");
    assert!(
        body.contains(r#"<option value="maintenance" selected>"#),
        "{body}"
    );
}

#[tokio::test]
async fn a_refused_move_comes_back_with_the_reason() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let activity = created(
        &app,
        "/api/activities/",
        &admin,
        json!({"title": "Calibrate", "type": "quality_check"}),
    )
    .await;
    let id = activity["id"].as_u64().unwrap();
    let mut browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let path = format!("/activities/{id}/status");
    let r = browser
        .submit(
            &path,
            &[("status", "completed"), ("return_to", "/activities/board")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/activities/board");
    let flash = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("nexus_flash="))
        .expect("flash cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = browser
        .with_cookie(
            browser
                .client
                .get(app.url("/activities/board"))
                .header(header::COOKIE, flash.clone()),
        )
        .send()
        .await
        .unwrap();
    // `with_cookie` adds the session as a second Cookie header; both reach the server.
    let body = page.text().await.unwrap();
    assert!(
        body.contains("cannot move an activity from planned to completed"),
        "{body}"
    );
    assert!(body.contains(r#"role="alert""#));

    // The board's script gets a short answer instead of a page.
    let csrf = browser.csrf().await;
    let mut headers = HeaderMap::new();
    headers.insert("x-nexus-fetch", "1".parse().unwrap());
    let r = browser
        .post_form_with(
            &path,
            &[("status", "completed"), ("_csrf", &csrf)],
            headers.clone(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("cannot move"));
    let r = browser
        .post_form_with(
            &path,
            &[("status", "in_progress"), ("_csrf", &csrf)],
            headers,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let now = app.get(&format!("/api/activities/{id}/"), &admin).await;
    assert_eq!(now.json::<Value>().await.unwrap()["status"], "in_progress");
}

#[tokio::test]
async fn a_form_creates_through_the_same_service_as_the_api() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("fatima", "user").await;
    let mut browser = Browser::signed_in(&app, "fatima", USER_PASSWORD).await;
    let r = browser
        .submit(
            "/activities",
            &[
                ("title", "Replace the belt"),
                ("type", "maintenance"),
                ("priority", "high"),
                ("start_time", "2026-12-01T10:00"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id: u64 = location(&r)
        .trim_start_matches("/activities/")
        .parse()
        .expect("id");
    let stored: Value = app
        .get(&format!("/api/activities/{id}/"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["title"], "Replace the belt");
    assert_eq!(stored["priority"], "high");
    assert_eq!(
        stored["start_time"], "2026-12-01T10:00:00Z",
        "plant zone is UTC"
    );
    let (status, body) = browser.page(&format!("/activities/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Replace the belt"));
    assert!(
        body.contains("Created “Replace the belt”."),
        "flash shown once: {body}"
    );
    let (_, again) = browser.page(&format!("/activities/{id}")).await;
    assert!(
        !again.contains("Created “Replace the belt”."),
        "and only once"
    );
}

#[tokio::test]
async fn times_show_in_the_plants_zone() {
    let app = crate::common::spawn_app_with(|c| c.plant.timezone = "Europe/Berlin".into()).await;
    let admin = app.admin_token().await;
    let activity = created(
        &app,
        "/api/activities/",
        &admin,
        json!({"title": "Summer job", "start_time": "2026-07-01T08:30:00Z"}),
    )
    .await;
    let mut browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, body) = browser
        .page(&format!("/activities/{}", activity["id"]))
        .await;
    assert!(body.contains(">2026-07-01 10:30</time>"), "{body}");
    assert!(body.contains(r#"value="2026-07-01T10:30""#), "{body}");
}

#[tokio::test]
async fn unknown_paths_are_a_page_for_browsers_and_json_for_clients() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let (status, body) = browser.page("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("<h1>Not found</h1>"), "{body}");
    let r = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    let r = app
        .client
        .get(app.url("/api/nothing/"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
}

#[tokio::test]
async fn assets_are_hashed_immutable_compressed_and_a_page_stays_small() {
    let app = spawn_app().await;
    let mut browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, page) = browser.page("/activities").await;
    let mut total = 0;
    let mut assets = Vec::new();
    for (start, end) in [
        ("<link rel=\"stylesheet\" href=\"", "\""),
        ("<script src=\"", "\""),
        ("<link rel=\"icon\" href=\"", "\""),
    ] {
        assets.push(between(&page, start, end).to_string());
    }
    for asset in &assets {
        assert!(
            asset.starts_with("/assets/") && asset.matches('.').count() == 2,
            "hashed name: {asset}"
        );
        let r = app
            .client
            .get(app.url(asset))
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
        let cache = r.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .to_string();
        assert!(cache.contains("immutable") && cache.contains("max-age=31536000"));
        let etag = r.headers()[header::ETAG].clone();
        total += r.bytes().await.unwrap().len();
        let again = app
            .client
            .get(app.url(asset))
            .header(header::IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{asset}");
    }
    let css = app
        .client
        .get(app.url(&assets[0]))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()[header::CONTENT_ENCODING], "gzip");
    let html = browser
        .with_cookie(
            browser
                .client
                .get(app.url("/activities"))
                .header(header::ACCEPT_ENCODING, "gzip"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(html.headers()[header::CONTENT_ENCODING], "gzip");
    total += html.bytes().await.unwrap().len();
    assert!(total < 100 * 1024, "first load is {total} bytes compressed");
    let missing = app
        .client
        .get(app.url("/assets/app.0000000000.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_session_cookie_opens_the_event_stream_and_the_websocket() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = spawn_app().await;
    let browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let cookie = format!("nexus_session={}", browser.cookie.clone().unwrap());
    let r = app
        .client
        .get(app.url("/api/events/?topics=activities"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    drop(r);

    let ws_url = app.base.replace("http://", "ws://") + "/ws/";
    let mut request = ws_url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("origin", app.base.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("ws");
    use futures_util::SinkExt;
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            r#"{"type":"subscribe","topics":["activities"]}"#.into(),
        ))
        .await
        .unwrap();
    let reply = socket.next().await.unwrap().unwrap();
    assert!(reply.to_text().unwrap().contains("subscribed"), "{reply:?}");

    // From another site's page, the browser would send the cookie too: refused.
    let mut foreign = ws_url.as_str().into_client_request().unwrap();
    foreign
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    foreign
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(foreign).await.expect("ws");
    match socket.next().await {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), 4401);
        }
        other => panic!("expected a 4401 close, got {other:?}"),
    }
}

#[tokio::test]
async fn an_activitys_page_shows_who_changed_what_and_when() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (worker, token) = app.user_with_token("wanda", "user").await;
    let activity = created(
        &app,
        "/api/activities/",
        &admin,
        json!({"title": "Swap the filter", "assigned_to": worker["id"]}),
    )
    .await;
    let path = format!("/api/activities/{}/", activity["id"]);
    let r = app
        .patch(
            &path,
            &token,
            &json!({"status": "in_progress", "priority": "high"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, body) = browser
        .page(&format!("/activities/{}", activity["id"]))
        .await;
    let history = between(
        &body,
        r#"<ol class="timeline" id="history">"#,
        "</ol></article>",
    );
    assert!(
        history.contains("<strong>wanda</strong> changed"),
        "{history}"
    );
    assert!(
        history.contains("Status: Planned → In progress"),
        "{history}"
    );
    assert!(history.contains("Priority: Medium → High"), "{history}");
    assert!(
        history.contains("<strong>Administrator</strong> created it"),
        "{history}"
    );
    let newest = history.find("wanda").unwrap_or(usize::MAX);
    let oldest = history.find("created it").unwrap_or(0);
    assert!(newest < oldest, "newest first: {history}");
}

#[tokio::test]
async fn a_session_in_use_renews_itself() {
    let app = crate::common::spawn_app_with(|c| c.ui.session_idle_secs = 60).await;
    let mut browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let first = browser.cookie.clone();
    let r = browser.get("/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        browser.cookie, first,
        "a fresh cookie is not renewed on every request"
    );
    // Past a quarter of its 60 s life, the next page renews it.
    tokio::time::sleep(std::time::Duration::from_secs(16)).await;
    let r = browser.get("/").await;
    assert_eq!(r.status(), StatusCode::OK);
    let renewed = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("nexus_session="))
        .expect("a renewed cookie")
        .to_string();
    assert!(
        renewed.contains("Max-Age=60") && renewed.contains("HttpOnly"),
        "{renewed}"
    );
    assert_ne!(browser.cookie, first);
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_graphql_ide_queries_as_the_signed_in_user_with_the_csrf_token() {
    let app = spawn_app().await;
    let mut browser = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (status, ide) = browser.page("/graphql").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = between(&ide, r#"<meta name="csrf-token" content=""#, "\"").to_string();
    assert_eq!(
        csrf,
        browser.csrf().await,
        "the IDE carries the session's token"
    );
    let (_, anonymous) = Browser::new(&app).page("/graphql").await;
    assert!(!anonymous.contains("csrf-token"), "no session, no token");

    let query = json!({"query": "{ me { username } }"});
    let ask = |csrf: Option<&str>| {
        let mut request = browser
            .with_cookie(browser.client.post(app.url("/graphql")))
            .json(&query);
        if let Some(token) = csrf {
            request = request.header("x-csrf-token", token);
        }
        request.send()
    };
    let r = ask(Some(&csrf)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["data"]["me"]["username"],
        "admin"
    );
    let r = ask(None).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "the cookie alone is not enough"
    );
    let r = ask(Some("00")).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_dashboard_asks_for_an_acknowledgement_and_its_button_records_it() {
    let app = spawn_app().await;
    let (_, staff) = app.user_with_token("sam", "staff").await;
    let (uma, _) = app.user_with_token("uma", "user").await;
    let notice = created(
        &app,
        "/api/updates/",
        &staff,
        json!({"title": "Forklift lane closed", "type": "safety"}),
    )
    .await;
    let id = notice["id"].as_u64().expect("id");

    let mut browser = Browser::signed_in(&app, "uma", USER_PASSWORD).await;
    let (_, home) = browser.page("/").await;
    let waiting = between(&home, "id=\"to-acknowledge\"", "</section>");
    assert!(waiting.contains("Forklift lane closed"), "{waiting}");
    assert!(waiting.contains(&format!("action=\"/updates/{id}/ack\"")));

    let r = browser
        .submit(&format!("/updates/{id}/ack"), &[("return_to", "/")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
    let (_, home) = browser.page("/").await;
    let waiting = between(&home, "id=\"to-acknowledge\"", "</section>");
    assert!(!waiting.contains("Forklift lane closed"), "{waiting}");

    // The author sees uma among those who acknowledged; uma sees no lists.
    let acks: Value = app
        .get(&format!("/api/updates/{id}/acks/"), &staff)
        .await
        .json()
        .await
        .expect("acks");
    assert_eq!(acks["acknowledged"][1]["user_id"], uma["id"]);
    let mut author = Browser::signed_in(&app, "sam", USER_PASSWORD).await;
    let (_, page) = author.page(&format!("/updates/{id}")).await;
    let lists = between(&page, "class=\"acks\"", "</details>");
    assert!(lists.contains("2 acknowledged"), "{lists}");
    let (_, page) = browser.page(&format!("/updates/{id}")).await;
    assert!(!page.contains("class=\"acks\""));
    assert!(page.contains("You acknowledged this"));
}

#[tokio::test]
async fn an_admin_makes_and_revokes_machine_keys_on_their_page_and_sees_a_secret_once() {
    let app = spawn_app().await;
    let mut admin = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (status, body) = admin.page("/admin/keys").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No machine keys yet."), "{body}");
    let r = admin
        .submit(
            "/admin/keys",
            &[
                ("name", "Line 1 screen"),
                ("scope", "display"),
                ("scope", "read"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body = r.text().await.expect("body");
    let secret = between(&body, "<code id=\"secret\">", "<").to_string();
    assert!(secret.starts_with("nxk_") && secret.len() == 68, "{secret}");
    let (_, again) = admin.page("/admin/keys").await;
    assert!(
        again.contains("Line 1 screen") && again.contains("read, display"),
        "{again}"
    );
    assert!(!again.contains(&secret), "the secret is shown only once");
    let token = app.admin_token().await;
    assert_eq!(
        app.get("/api/assets/", &secret).await.status(),
        StatusCode::OK
    );

    let r = admin.submit("/admin/keys", &[("name", "  ")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let id = between(&again, "data-key-id=\"", "\"").to_string();
    let r = admin.submit(&format!("/admin/keys/{id}/revoke"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/api/assets/", &secret).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let keys: Value = app
        .get("/api/keys/", &token)
        .await
        .json()
        .await
        .expect("json");
    assert!(keys["results"][0]["revoked_at"].is_string(), "{keys}");

    let (_, user_token) = app.user_with_token("plain", "user").await;
    drop(user_token);
    let mut user = Browser::signed_in(&app, "plain", USER_PASSWORD).await;
    let (status, _) = user.page("/admin/keys").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_wall_screen_signs_in_with_a_display_key_and_sees_only_the_boards() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let made = |scopes: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            let r = app
                .post(
                    "/api/keys/",
                    Some(&token),
                    &json!({"name": "wall", "scopes": scopes}),
                )
                .await;
            let body: Value = r.json().await.expect("json");
            body["secret"].as_str().expect("secret").to_string()
        }
    };
    let read = made(json!(["read"])).await;
    let display = made(json!(["display"])).await;

    let mut screen = Browser::new(&app);
    let r = screen.post_form("/login/key", &[("key", &read)]).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a read key is no display key"
    );
    assert!(screen.key.is_none());
    let r = screen
        .post_form("/login/key", &[("key", "nxk_nonsense")])
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = screen.post_form("/login/key", &[("key", &display)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/andon");
    let set = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .find(|v| v.starts_with("nexus_key="))
        .expect("the key cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let (status, _) = screen.page("/assets").await;
    assert_eq!(status, StatusCode::OK);
    for person_only in [
        "/",
        "/chat",
        "/admin/keys",
        "/profile",
        "/activities",
        "/notifications",
    ] {
        let (status, body) = screen.page(person_only).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{person_only}: {body}");
    }
    let r = screen
        .post_form("/downtime/stop", &[("asset_id", "1")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Revoked: the screen is sent to sign in, and its cookie removed.
    let keys: Value = app
        .get("/api/keys/", &token)
        .await
        .json()
        .await
        .expect("json");
    let id = keys["results"][0]["id"].as_u64().expect("id");
    assert_eq!(
        app.delete(&format!("/api/keys/{id}/"), &token)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let r = screen.get("/assets").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    assert!(screen.key.is_none(), "the dead key's cookie is removed");
}

/// `/handovers`: a draft is written and saved through the form, edited and submitted from its
/// page, acknowledged with a comment by someone else, and a draft deleted; a form the service
/// refuses comes back with the field's error; the writer's own card has no acknowledge button.
#[tokio::test]
async fn handovers_are_written_submitted_and_acknowledged_through_the_forms() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let line = created(
        &app,
        "/api/assets/",
        &admin,
        json!({"code": "L7", "name": "Line 7", "kind": "line"}),
    )
    .await["id"]
        .to_string();
    let shift = created(
        &app,
        "/api/shifts/",
        &admin,
        json!({"name": "Night", "starts": "22:00", "ends": "06:00"}),
    )
    .await["id"]
        .to_string();
    app.create_user("writer", "user").await;
    app.create_user("reader", "user").await;
    let mut w = Browser::signed_in(&app, "writer", USER_PASSWORD).await;
    let (status, page) = w.page("/handovers").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"handover-form\"") && page.contains("Night (22:00–06:00)"));
    assert!(page.contains("href=\"/handovers\""), "in the navigation");

    let r = w
        .submit(
            "/handovers",
            &[
                ("asset_id", &line),
                ("shift_id", &shift),
                ("summary", "  "),
                ("then", "save"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    assert!(body.contains("summary-error"), "the error under its field");

    let r = w
        .submit(
            "/handovers",
            &[
                ("asset_id", &line),
                ("shift_id", &shift),
                ("summary", "Oven 2 ran hot <b>twice</b>"),
                ("safety_notes", "Hot surface signs up"),
                ("then", "save"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    let id = to
        .strip_prefix("/handovers/")
        .expect("to the draft's page")
        .to_string();
    let (_, page) = w.page(&to).await;
    assert!(
        page.contains("Oven 2 ran hot &lt;b&gt;twice&lt;/b&gt;"),
        "text, escaped"
    );
    let r = w
        .submit(
            &to,
            &[
                ("asset_id", &line),
                ("shift_id", &shift),
                ("summary", "Oven 2 ran hot twice"),
                ("open_issues", "Thermocouple to replace"),
                ("then", "submit"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/handovers");
    let h = app.get(&format!("/api/handovers/{id}/"), &admin).await;
    let h: Value = h.json().await.unwrap();
    assert_eq!(h["status"], "submitted", "{h}");
    assert_eq!(h["open_issues"], "Thermocouple to replace");
    let (_, page) = w.page("/handovers").await;
    let card = between(&page, &format!("data-handover-id=\"{id}\""), "</article>");
    assert!(
        !card.contains("ack-form"),
        "no acknowledge button on one's own"
    );

    // The writer's acknowledgement is refused with the reason; the reader's goes through.
    let r = w
        .submit(
            &format!("/handovers/{id}/acknowledge"),
            &[("comment", "self")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut reader = Browser::signed_in(&app, "reader", USER_PASSWORD).await;
    let (_, page) = reader.page("/handovers").await;
    assert!(
        between(&page, &format!("data-handover-id=\"{id}\""), "</article>").contains("ack-form")
    );
    let r = reader
        .submit(
            &format!("/handovers/{id}/acknowledge"),
            &[("comment", "Will swap it")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let h: Value = app
        .get(&format!("/api/handovers/{id}/"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "acknowledged");
    assert_eq!(h["ack_comment"], "Will swap it");
    let (_, page) = reader.page(&format!("/handovers/{id}")).await;
    assert!(page.contains("Will swap it") && !page.contains("ack-form"));

    // A draft goes away by its writer; someone else's page of it has no form.
    let r = w
        .submit(
            "/handovers",
            &[
                ("asset_id", &line),
                ("shift_id", &shift),
                ("summary", "scratch"),
                ("then", "save"),
            ],
        )
        .await;
    let draft = location(&r);
    let (_, page) = reader.page(&draft).await;
    assert!(!page.contains("id=\"handover-form\""));
    let r = reader.submit(&format!("{draft}/delete"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "back with the reason");
    assert_eq!(location(&r), draft);
    let r = w.submit(&format!("{draft}/delete"), &[]).await;
    assert_eq!(location(&r), "/handovers");
    let (status, _) = w.page(&draft).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn andon_is_raised_from_the_asset_tree_and_answered_from_the_wall_by_staff_only() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let press = created(
        &app,
        "/api/assets/",
        &admin,
        json!({"code": "PRESS-1", "name": "Press", "kind": "machine"}),
    )
    .await;
    let press = press["id"].as_u64().unwrap().to_string();
    app.create_user("olga", "user").await;
    app.create_user("sam", "staff").await;
    let mut operator = Browser::signed_in(&app, "olga", USER_PASSWORD).await;
    let (status, page) = operator.page("/assets").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Call for help"), "{page}");

    // One tap on a kind, no message: the call says what and where.
    let r = operator
        .submit(
            "/andon",
            &[
                ("asset_id", &press),
                ("kind", "maintenance"),
                ("message", " "),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/assets");
    let calls = crate::common::json_of(app.get("/api/andon/", &admin).await).await;
    let call = &calls["results"][0];
    assert_eq!(call["message"], "Maintenance needed at PRESS-1", "{calls}");
    let id = call["id"].as_u64().unwrap();
    let acknowledge = format!("/andon/{id}/acknowledge");

    let (status, wall) = operator.page("/andon").await;
    assert_eq!(status, StatusCode::OK);
    assert!(wall.contains("PRESS-1") && wall.contains("Maintenance needed at PRESS-1"));
    assert!(
        wall.contains("data-live=\"andon\""),
        "live from the andon topic"
    );
    assert!(!wall.contains(&acknowledge), "no answer buttons for a user");
    let r = operator.submit(&acknowledge, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let c = crate::common::json_of(app.get(&format!("/api/andon/{id}/"), &admin).await).await;
    assert_eq!(c["status"], "open", "the service refused the user");

    let mut staff = Browser::signed_in(&app, "sam", USER_PASSWORD).await;
    let (_, wall) = staff.page("/andon").await;
    assert!(wall.contains(&acknowledge), "staff answer from the wall");
    let r = staff.submit(&acknowledge, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/andon");
    let c = crate::common::json_of(app.get(&format!("/api/andon/{id}/"), &admin).await).await;
    assert_eq!(c["status"], "acknowledged");
    let r = staff
        .submit(
            &format!("/andon/{id}/resolve"),
            &[("resolution", "belt replaced")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, wall) = staff.page("/andon").await;
    assert!(
        wall.contains("All clear"),
        "a resolved call leaves the wall"
    );
    let c = crate::common::json_of(app.get(&format!("/api/andon/{id}/"), &admin).await).await;
    assert_eq!(c["resolution"], "belt replaced");
}

#[tokio::test]
async fn the_dashboard_shows_open_andon_calls_and_the_phone_bar_leads_to_the_board() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let machine = created(
        &app,
        "/api/assets/",
        &admin,
        json!({"code": "LATHE-4", "name": "Lathe 4", "kind": "machine"}),
    )
    .await;
    let mut user = {
        app.create_user("olga", "user").await;
        Browser::signed_in(&app, "olga", USER_PASSWORD).await
    };
    let (_, calm) = user.page("/").await;
    assert!(calm.contains("No one is calling for help."), "{calm}");
    let bar = between(&calm, "class=\"bottombar\"", "</nav>");
    let hrefs: Vec<&str> = bar
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(
        hrefs,
        ["/", "/activities", "/andon", "/chat", "/menu"],
        "{bar}"
    );
    created(
        &app,
        "/api/andon/",
        &admin,
        json!({"asset_id": machine["id"], "kind": "quality", "message": "Burrs on every part"}),
    )
    .await;
    let (_, called) = user.page("/").await;
    let panel = between(&called, "id=\"open-andon\"", "</section>");
    assert!(panel.contains("Burrs on every part"), "{panel}");
    assert!(panel.contains("/andon#andon-"), "{panel}");
}
