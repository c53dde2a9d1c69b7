//! The error format of every endpoint: 400/413/415 for bodies, 404/405 for paths and methods,
//! trailing slashes, path ids, and the JSON content type and security headers on every answer.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Asserts the security headers every answer carries.
fn assert_security_headers(response: &Response) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ASCII header").to_string())
    };
    let what = format!("{} {}", response.status(), response.url().path());
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
    assert!(
        header("content-security-policy").is_some_and(|v| !v.trim().is_empty()),
        "{what}: Content-Security-Policy"
    );
}

/// Asserts the error answer in full: status, code, JSON content type, the body's shape and the
/// security headers. Returns the body.
async fn assert_api_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_security_headers(&response);
    let body = assert_error(response, status, code).await;
    let top: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(top, ["error"], "only `error` at the top: {body}");
    let error = body["error"].as_object().expect("error object");
    for key in error.keys() {
        assert!(
            ["code", "message", "fields"].contains(&key.as_str()),
            "unexpected key {key} in {body}"
        );
    }
    if code == "validation_error" {
        let fields = body["error"]["fields"]
            .as_object()
            .unwrap_or_else(|| panic!("validation error has fields: {body}"));
        assert!(!fields.is_empty(), "{body}");
        for (name, messages) in fields {
            let messages = messages
                .as_array()
                .unwrap_or_else(|| panic!("{name}: a list of messages in {body}"));
            assert!(!messages.is_empty(), "{body}");
            assert!(
                messages
                    .iter()
                    .all(|m| m.as_str().is_some_and(|s| !s.is_empty())),
                "{body}"
            );
        }
    } else {
        assert!(
            body["error"].get("fields").is_none(),
            "fields only for validation errors: {body}"
        );
    }
    body
}

/// A request with a raw body and an optional content type.
fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> RequestBuilder {
    let mut builder = app.request(method, path, token).body(body);
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    builder
}

async fn send(builder: RequestBuilder) -> Response {
    builder.send().await.expect("request")
}

fn login_body() -> String {
    json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string()
}

// ---------------------------------------------------------------------------------------------
// 415

#[tokio::test]
async fn json_body_without_content_type_is_415() {
    let app = spawn_app().await;
    let r = send(raw(
        &app,
        Method::POST,
        "/api/auth/login/",
        None,
        None,
        login_body(),
    ))
    .await;
    assert_api_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let admin = app.admin_token().await;
    let r = send(raw(
        &app,
        Method::PATCH,
        "/api/auth/user/",
        Some(&admin),
        None,
        r#"{"display_name":"x"}"#,
    ))
    .await;
    assert_api_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "multipart/form-data; boundary=x",
        "text/json-ish",
    ] {
        let r = send(raw(
            &app,
            Method::POST,
            "/api/auth/login/",
            None,
            Some(ct),
            login_body(),
        ))
        .await;
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        assert_api_error(
            r,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;

        let user = json!({"username": "newbie", "email": "n@plant.test",
                          "password": USER_PASSWORD, "role": "user"});
        let r = send(raw(
            &app,
            Method::POST,
            "/api/users/",
            Some(&admin),
            Some(ct),
            user.to_string(),
        ))
        .await;
        assert_api_error(
            r,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }
    // Nothing was created by the rejected bodies.
    let list = json_of(app.get("/api/users/", &admin).await).await;
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn json_content_type_with_charset_is_accepted() {
    let app = spawn_app().await;
    let r = send(raw(
        &app,
        Method::POST,
        "/api/auth/login/",
        None,
        Some("application/json; charset=utf-8"),
        login_body(),
    ))
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// 413

#[tokio::test]
async fn body_over_configured_limit_is_413() {
    let app = spawn_app_with(|c| c.server.max_body_bytes = 1024).await;
    // Under the limit: served.
    let r = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"username": "admin", "password": ADMIN_PASSWORD, "pad": "x".repeat(500)}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Over it.
    let r = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"username": "admin", "password": ADMIN_PASSWORD, "pad": "x".repeat(2000)}),
        )
        .await;
    assert_api_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let admin = app.admin_token().await;
    let r = app
        .patch(
            "/api/auth/user/",
            &admin,
            &json!({"display_name": "x".repeat(5000)}),
        )
        .await;
    assert_api_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Not applied.
    let me = json_of(app.get("/api/auth/user/", &admin).await).await;
    assert_ne!(me["display_name"], "x".repeat(5000));
}

#[tokio::test]
async fn default_body_limit_is_one_mebibyte() {
    let app = spawn_app().await;
    let big = "x".repeat(1024 * 1024 + 1);
    let r = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"username": "admin", "password": ADMIN_PASSWORD, "pad": big}),
        )
        .await;
    assert_api_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let r = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"username": "admin", "password": ADMIN_PASSWORD,
                    "pad": "x".repeat(1000 * 1000)}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "just under 1 MiB is served");
}

// ---------------------------------------------------------------------------------------------
// 400

#[tokio::test]
async fn malformed_json_is_400_bad_request() {
    let app = spawn_app().await;
    for body in ["{not json", "{", "", "{\"username\": \"admin\",}", "\u{0}"] {
        let r = send(raw(
            &app,
            Method::POST,
            "/api/auth/login/",
            None,
            Some("application/json"),
            body,
        ))
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body:?}");
        assert_api_error(r, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    // The server is still fine.
    app.login("admin", ADMIN_PASSWORD).await;
}

/// A body that is not a JSON object is `bad_request`; a field of the wrong type is a problem
/// of that field, `validation_error` naming it (API.md §Errors).
#[tokio::test]
async fn wrong_types_are_400_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for body in [json!([]), json!(null), json!("admin"), json!(42)] {
        let r = app.post("/api/auth/login/", None, &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_api_error(r, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let field_error = |r: reqwest::Response, field: &'static str, what: String| async move {
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
        let body = assert_api_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
        assert!(body["error"]["fields"][field].is_array(), "{what}: {body}");
    };
    for (body, field) in [
        (
            json!({"username": "admin", "password": 12_345_678_901_u64}),
            "password",
        ),
        (
            json!({"username": ["admin"], "password": ADMIN_PASSWORD}),
            "username",
        ),
        (
            json!({"username": null, "password": ADMIN_PASSWORD}),
            "username",
        ),
    ] {
        let r = app.post("/api/auth/login/", None, &body).await;
        field_error(r, field, format!("login {body}")).await;
    }
    for (body, field) in [
        (json!({"email": 5}), "email"),
        (json!({"display_name": true}), "display_name"),
        (json!({"profile": "x"}), "profile"),
        (json!({"profile": {"phone": 5551234}}), "profile.phone"),
    ] {
        let r = app.patch("/api/auth/user/", &admin, &body).await;
        field_error(r, field, format!("PATCH me {body}")).await;
    }
    for (body, field) in [
        (json!({"is_active": "yes"}), "is_active"),
        (json!({"role": 1}), "role"),
        (json!({"display_name": {"a": 1}}), "display_name"),
    ] {
        let r = app.patch("/api/users/1/", &admin, &body).await;
        field_error(r, field, format!("PATCH user {body}")).await;
    }
    let me = json_of(app.get("/api/auth/user/", &admin).await).await;
    assert_eq!(me["is_active"], true);
    assert_eq!(me["role"], "admin");
}

#[tokio::test]
async fn validation_errors_name_the_offending_fields() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/register/",
            None,
            &json!({"username": "ab", "email": "x@plant.test", "password": "long-enough-pw"}),
        )
        .await;
    let body = assert_api_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    let fields = body["error"]["fields"].as_object().unwrap();
    assert!(fields.contains_key("username"), "{body}");
    assert!(!fields.contains_key("email") && !fields.contains_key("password"));

    // Several bad fields at once are all reported.
    let r = app
        .post(
            "/api/auth/register/",
            None,
            &json!({"username": "ab", "email": "nope", "password": "short"}),
        )
        .await;
    let body = assert_api_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    let fields = body["error"]["fields"].as_object().unwrap();
    for f in ["username", "email", "password"] {
        assert!(fields.contains_key(f), "{f} in {body}");
    }
}

// ---------------------------------------------------------------------------------------------
// 404 and 405

#[tokio::test]
async fn unknown_path_is_404_json() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for path in [
        "/api/nope/",
        "/api/nope",
        "/api/",
        "/api/auth/nope/",
        "/api/users/1/extra/",
        "/nope",
        "/api/usersx/",
    ] {
        for token in [None, Some(admin.as_str())] {
            let r = send(app.request(Method::GET, path, token)).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "GET {path}");
            assert_api_error(r, StatusCode::NOT_FOUND, "not_found").await;
        }
        let r = app.post(path, Some(&admin), &json!({})).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "POST {path}");
        assert_api_error(r, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn wrong_method_is_405_json() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases = [
        (Method::GET, "/api/auth/login/"),
        (Method::DELETE, "/api/auth/login/"),
        (Method::GET, "/api/auth/login"),
        (Method::GET, "/api/auth/register/"),
        (Method::GET, "/api/auth/refresh/"),
        (Method::GET, "/api/auth/logout/"),
        (Method::PUT, "/api/auth/password/"),
        (Method::DELETE, "/api/auth/user/"),
        (Method::POST, "/api/auth/user/"),
        (Method::PUT, "/api/users/"),
        (Method::DELETE, "/api/users/"),
        (Method::PUT, "/api/users/1/"),
        (Method::POST, "/api/users/1/"),
        (Method::DELETE, "/api/users/1"),
    ];
    for (method, path) in cases {
        let r = send(
            app.request(method.clone(), path, Some(&admin))
                .json(&json!({})),
        )
        .await;
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_api_error(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
    // Nothing was deleted.
    let r = app.get("/api/users/1/", &admin).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn trailing_slash_is_optional() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/login",
            None,
            &json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let admin = token_of(&json_of(r).await);
    for (with, without) in [
        ("/api/auth/user/", "/api/auth/user"),
        ("/api/users/", "/api/users"),
        ("/api/users/1/", "/api/users/1"),
        (
            "/api/users/?page_size=1&ordering=-username",
            "/api/users?page_size=1&ordering=-username",
        ),
    ] {
        let a = app.get(with, &admin).await;
        let b = app.get(without, &admin).await;
        assert_eq!(a.status(), StatusCode::OK, "{with}");
        assert_eq!(b.status(), StatusCode::OK, "{without}");
        assert_eq!(json_of(a).await, json_of(b).await, "{with} vs {without}");
    }
    let r = app
        .patch("/api/auth/user", &admin, &json!({"display_name": "Boss"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .patch("/api/users/1", &admin, &json!({"display_name": "Big Boss"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(
            "/api/users",
            Some(&admin),
            &json!({"username": "newbie", "email": "n@plant.test",
                    "password": USER_PASSWORD, "role": "user"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.post("/api/auth/logout", Some(&admin), &json!({})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app.get("/api/auth/user", &admin).await;
    assert_api_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn non_numeric_or_out_of_range_id_is_404() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for path in [
        "/api/users/abc/",
        "/api/users/abc",
        "/api/users/-1/",
        "/api/users/1.5/",
        "/api/users/1e3/",
        "/api/users/%20/",
        "/api/users/99999999999999999999999/",
        "/api/users/0/",
    ] {
        let r = app.get(path, &admin).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "GET {path}");
        assert_api_error(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = app.patch(path, &admin, &json!({"display_name": "x"})).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "PATCH {path}");
        assert_api_error(r, StatusCode::NOT_FOUND, "not_found").await;
    }
}

// ---------------------------------------------------------------------------------------------
// Headers on every answer

#[tokio::test]
async fn every_error_is_json_with_security_headers() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, user) = app.user_with_token("worker", "user").await;

    // 400 bad_request
    let r = send(raw(
        &app,
        Method::POST,
        "/api/auth/login/",
        None,
        Some("application/json"),
        "{",
    ))
    .await;
    assert_api_error(r, StatusCode::BAD_REQUEST, "bad_request").await;
    // 400 validation_error
    let r = app
        .patch("/api/auth/user/", &user, &json!({"email": "nope"}))
        .await;
    assert_api_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    // 400 on a query
    let r = app.get("/api/users/?page=0", &user).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_security_headers(&r);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    // 401
    let r = send(app.request(Method::GET, "/api/users/", None)).await;
    assert_api_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"username": "admin", "password": "wrong-password-1"}),
        )
        .await;
    assert_api_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // 403
    let r = app
        .patch("/api/users/1/", &user, &json!({"role": "user"}))
        .await;
    assert_api_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    // 404
    let r = app.get("/api/users/4242/", &user).await;
    assert_api_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = send(app.request(Method::GET, "/api/nowhere/", None)).await;
    assert_api_error(r, StatusCode::NOT_FOUND, "not_found").await;
    // 405
    let r = send(app.request(Method::DELETE, "/api/auth/login/", None)).await;
    assert_api_error(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    // 409
    let r = app
        .patch("/api/users/1/", &admin, &json!({"is_active": false}))
        .await;
    assert_api_error(r, StatusCode::CONFLICT, "conflict").await;
    // 413
    let r = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"pad": "x".repeat(1024 * 1024 + 10)}),
        )
        .await;
    assert_api_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // 415
    let r = send(raw(
        &app,
        Method::POST,
        "/api/auth/login/",
        None,
        Some("text/plain"),
        login_body(),
    ))
    .await;
    assert_api_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // 423
    for _ in 0..5 {
        let r = app
            .post(
                "/api/auth/login/",
                None,
                &json!({"username": "nobody", "password": "wrong-password-1"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"username": "nobody", "password": "wrong-password-1"}),
        )
        .await;
    assert!(r.headers().contains_key("retry-after"));
    assert_api_error(r, StatusCode::LOCKED, "account_locked").await;
}

#[tokio::test]
async fn rate_limited_answer_is_json_with_security_headers() {
    let app = spawn_app_with(|c| {
        c.auth.rate_limit_per_sec = 1;
        c.auth.rate_limit_burst = 1;
    })
    .await;
    let mut limited = None;
    for _ in 0..10 {
        let r = app
            .post("/api/auth/refresh/", None, &json!({"refresh": "garbage"}))
            .await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
        assert_api_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let r = limited.expect("rate limited within 10 quick requests");
    let secs: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After seconds");
    assert!(secs > 0);
    assert_api_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn successful_answers_carry_security_headers_too() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_security_headers(&r);
    let admin = token_of(&json_of(r).await);
    for path in ["/api/users/", "/api/users/1/", "/api/auth/user/"] {
        let r = app.get(path, &admin).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_security_headers(&r);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
    }
    let r = app
        .post("/api/auth/logout/", Some(&admin), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_security_headers(&r);
}
