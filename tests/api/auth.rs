//! `/api/auth/`: login, lockout and rate limits, refresh rotation and reuse detection, logout,
//! password change, registration, one's own account, token tampering and restarts.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use nexus::config::Secret;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

/// The message of every failed login.
const BAD_CREDENTIALS: &str = "invalid username or password";
/// A JWT key for apps whose tokens the tests forge.
pub(crate) const KNOWN_SECRET: &str = "a-known-test-signing-secret-of-at-least-32-bytes";

// ---------------------------------------------------------------------------------------------
// Helpers

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding.
fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes base64url without padding.
fn b64url_decode(s: &str) -> Vec<u8> {
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = B64
            .iter()
            .position(|&x| x == c)
            .expect("base64url character") as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    out
}

/// A JWT's three parts.
pub(crate) fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.');
    let (h, p, s) = (it.next(), it.next(), it.next());
    assert!(it.next().is_none(), "a JWT has three parts: {token}");
    (
        h.expect("header").to_string(),
        p.expect("payload").to_string(),
        s.expect("signature").to_string(),
    )
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&b64url_decode(part)).expect("JWT part is JSON")
}

pub(crate) fn encode_part(value: &Value) -> String {
    b64url_encode(value.to_string().as_bytes())
}

/// A token's header and claims.
pub(crate) fn jwt_header_and_claims(token: &str) -> (Value, Value) {
    let (h, p, _) = parts(token);
    (decode_part(&h), decode_part(&p))
}

/// Signs `claims` with `key` using `alg`.
pub(crate) fn sign(alg: Algorithm, claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(key).expect("key"),
    )
    .expect("sign")
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

async fn me(app: &TestApp, token: &str) -> Response {
    app.get("/api/auth/user/", token).await
}

async fn login_response(app: &TestApp, username: &str, password: &str) -> Response {
    app.post(
        "/api/auth/login/",
        None,
        &json!({"username": username, "password": password}),
    )
    .await
}

async fn refresh(app: &TestApp, refresh_token: &str) -> Response {
    app.post(
        "/api/auth/refresh/",
        None,
        &json!({"refresh": refresh_token}),
    )
    .await
}

fn refresh_of(body: &Value) -> String {
    body["refresh"].as_str().expect("refresh token").to_string()
}

async fn assert_unauthenticated(response: Response) {
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

/// Retry-After as whole seconds; panics unless present and an integer.
fn retry_after(response: &Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .expect("ASCII Retry-After")
        .parse()
        .expect("Retry-After is whole seconds")
}

/// Registers; returns the response.
async fn register(app: &TestApp, body: &Value) -> Response {
    app.post("/api/auth/register/", None, body).await
}

fn field_names(body: &Value) -> Vec<String> {
    body["error"]["fields"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Login

#[tokio::test]
async fn login_returns_token_pair_and_own_user() {
    let app = spawn_app().await;
    let r = login_response(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let text = r.text().await.unwrap();
    assert!(!text.contains(ADMIN_PASSWORD), "password echoed: {text}");
    assert!(!text.contains("argon2"), "hash leaked: {text}");
    assert!(!text.contains("password"), "password field: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let access = token_of(&body);
    let refresh_token = refresh_of(&body);
    assert_ne!(access, refresh_token);
    let user = &body["user"];
    assert_eq!(user["username"], "admin");
    assert_eq!(user["role"], "admin");
    assert_eq!(user["is_active"], true);
    assert!(user["id"].as_u64().is_some_and(|id| id > 0), "{user}");
    assert!(user["email"].is_string(), "own email is shown: {user}");

    // The access token works.
    let r = me(&app, &access).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["username"], "admin");
}

#[tokio::test]
async fn access_token_is_hs256_with_contract_claims() {
    let app = spawn_app().await;
    let body = app.login("admin", ADMIN_PASSWORD).await;
    let (header, claims) = jwt_header_and_claims(&token_of(&body));
    assert_eq!(header["alg"], "HS256", "{header}");
    let id = body["user"]["id"].as_u64().unwrap();
    assert_eq!(claims["sub"], json!(id.to_string()), "{claims}");
    assert_eq!(claims["role"], "admin");
    assert!(
        claims["sid"].is_number() || claims["sid"].is_string(),
        "{claims}"
    );
    let iat = claims["iat"].as_u64().expect("iat");
    let exp = claims["exp"].as_u64().expect("exp");
    assert_eq!(exp - iat, 900, "access lifetime is 15 minutes");
    let now = unix_now();
    assert!(
        iat <= now + 5 && iat + 60 >= now,
        "iat {iat} is about now {now}"
    );
}

#[tokio::test]
async fn access_lifetime_follows_config() {
    let app = spawn_app_with(|c| c.auth.access_ttl_secs = 120).await;
    let body = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(body["expires_in"], 120);
    let (_, claims) = jwt_header_and_claims(&token_of(&body));
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        120
    );
}

#[tokio::test]
async fn each_login_opens_a_separate_session() {
    let app = spawn_app().await;
    let a = app.login("admin", ADMIN_PASSWORD).await;
    let b = app.login("admin", ADMIN_PASSWORD).await;
    let (_, ca) = jwt_header_and_claims(&token_of(&a));
    let (_, cb) = jwt_header_and_claims(&token_of(&b));
    assert_ne!(ca["sid"], cb["sid"]);
    assert_ne!(refresh_of(&a), refresh_of(&b));
}

#[tokio::test]
async fn wrong_password_unknown_user_and_inactive_user_get_the_same_401() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let user = app.create_user("idle", "user").await;
    let r = app
        .patch(
            &format!("/api/users/{}/", user["id"]),
            &admin,
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let wrong_password = assert_error(
        login_response(&app, "admin", "not-the-password").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let unknown = assert_error(
        login_response(&app, "nobody-here", ADMIN_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let inactive = assert_error(
        login_response(&app, "idle", USER_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    for body in [&wrong_password, &unknown, &inactive] {
        assert_eq!(body["error"]["message"], BAD_CREDENTIALS, "{body}");
        assert!(body["error"].get("fields").is_none(), "{body}");
    }
}

#[tokio::test]
async fn login_with_missing_fields_is_400() {
    let app = spawn_app().await;
    for body in [
        json!({"username": "admin"}),
        json!({"password": ADMIN_PASSWORD}),
        json!({}),
        json!({"username": 1, "password": ADMIN_PASSWORD}),
    ] {
        let r = app.post("/api/auth/login/", None, &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn login_ignores_unknown_fields() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"username": "admin", "password": ADMIN_PASSWORD, "remember_me": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Lockout

/// Fails `n` logins for `username`, asserting each is a plain 401.
async fn fail_logins(app: &TestApp, username: &str, n: usize) {
    for i in 0..n {
        let r = login_response(app, username, "wrong-password-xyz").await;
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "failure {} for {username}",
            i + 1
        );
    }
}

async fn assert_locked(response: Response) {
    assert_eq!(response.status(), StatusCode::LOCKED);
    let secs = retry_after(&response);
    assert!(
        secs > 0 && secs <= 15 * 60,
        "Retry-After {secs} is within the lock"
    );
    assert_error(response, StatusCode::LOCKED, "account_locked").await;
}

#[tokio::test]
async fn locked_out_after_five_failures_even_with_the_right_password() {
    let app = spawn_app().await;
    app.create_user("bystander", "user").await;
    fail_logins(&app, "admin", 5).await;
    assert_locked(login_response(&app, "admin", ADMIN_PASSWORD).await).await;
    // Still locked on the next try.
    assert_locked(login_response(&app, "admin", "wrong-password-xyz").await).await;
    // The lock is per username: others still sign in.
    let r = login_response(&app, "bystander", USER_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn four_failures_do_not_lock() {
    let app = spawn_app().await;
    fail_logins(&app, "admin", 4).await;
    let r = login_response(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_username_is_locked_out_too() {
    let app = spawn_app().await;
    fail_logins(&app, "ghost-user", 5).await;
    assert_locked(login_response(&app, "ghost-user", "anything-at-all").await).await;
}

#[tokio::test]
async fn lockout_matches_usernames_case_insensitively() {
    let app = spawn_app().await;
    for name in ["Admin", "ADMIN", "aDmin", "adMIN", "admiN"] {
        fail_logins(&app, name, 1).await;
    }
    assert_locked(login_response(&app, "admin", ADMIN_PASSWORD).await).await;
}

#[tokio::test]
async fn lockout_does_not_affect_existing_sessions() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    fail_logins(&app, "admin", 5).await;
    assert_locked(login_response(&app, "admin", ADMIN_PASSWORD).await).await;
    assert_eq!(me(&app, &token).await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Per-client rate limit

#[tokio::test]
async fn auth_endpoints_are_rate_limited_per_client() {
    let app = spawn_app_with(|c| {
        c.auth.rate_limit_per_sec = 10;
        c.auth.rate_limit_burst = 20;
    })
    .await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..40 {
        let r = refresh(&app, "garbage-token").await;
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS && limited.is_none() {
            limited = Some(r);
        }
    }
    assert_eq!(
        statuses[0],
        StatusCode::UNAUTHORIZED,
        "the first request is served"
    );
    let served = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(served >= 20, "the burst of 20 is served: {statuses:?}");
    let limited = limited.expect("some requests are rate limited");
    assert!(retry_after(&limited) > 0);
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Login is limited as well (a token may have come back meanwhile, so try a few).
    let mut login_limited = false;
    for _ in 0..5 {
        let r = login_response(&app, "admin", "wrong-password-xyz").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            login_limited = true;
            break;
        }
    }
    assert!(login_limited, "login is rate limited too");
}

#[tokio::test]
async fn rate_limit_zero_turns_it_off() {
    let app = spawn_app().await;
    for _ in 0..40 {
        let r = refresh(&app, "garbage-token").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}

// ---------------------------------------------------------------------------------------------
// Refresh

#[tokio::test]
async fn refresh_returns_a_new_pair_without_user() {
    let app = spawn_app().await;
    let login = app.login("admin", ADMIN_PASSWORD).await;
    let r = refresh(&app, &refresh_of(&login)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body.get("user").is_none(), "{body}");
    assert_ne!(refresh_of(&body), refresh_of(&login));
    let (_, old) = jwt_header_and_claims(&token_of(&login));
    let (_, new) = jwt_header_and_claims(&token_of(&body));
    assert_eq!(old["sid"], new["sid"], "refresh stays in the same session");
    let r = me(&app, &token_of(&body)).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The new refresh token rotates in turn.
    let r = refresh(&app, &refresh_of(&body)).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn spent_refresh_token_is_rejected_and_revokes_the_session() {
    let app = spawn_app().await;
    let first = app.login("admin", ADMIN_PASSWORD).await;
    let other_session = app.login("admin", ADMIN_PASSWORD).await;
    let r = refresh(&app, &refresh_of(&first)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let second = json_of(r).await;

    // Reuse of the spent token.
    assert_unauthenticated(refresh(&app, &refresh_of(&first)).await).await;
    // The whole session is gone: the newest refresh token and both access tokens.
    assert_unauthenticated(refresh(&app, &refresh_of(&second)).await).await;
    assert_unauthenticated(me(&app, &token_of(&second)).await).await;
    assert_unauthenticated(me(&app, &token_of(&first)).await).await;
    // Other sessions of the user are untouched.
    assert_eq!(
        me(&app, &token_of(&other_session)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        refresh(&app, &refresh_of(&other_session)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_with_garbage_or_missing_token_fails() {
    let app = spawn_app().await;
    assert_unauthenticated(refresh(&app, "not-a-token").await).await;
    assert_unauthenticated(refresh(&app, "").await).await;
    let r = app.post("/api/auth/refresh/", None, &json!({})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn refresh_and_access_tokens_are_not_interchangeable() {
    let app = spawn_app().await;
    let login = app.login("admin", ADMIN_PASSWORD).await;
    assert_unauthenticated(me(&app, &refresh_of(&login)).await).await;
    assert_unauthenticated(app.get("/api/users/", &refresh_of(&login)).await).await;
    assert_unauthenticated(refresh(&app, &token_of(&login)).await).await;
    // Neither misuse harmed the session.
    assert_eq!(me(&app, &token_of(&login)).await.status(), StatusCode::OK);
    assert_eq!(
        refresh(&app, &refresh_of(&login)).await.status(),
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------------
// Logout

#[tokio::test]
async fn logout_revokes_that_session_at_once() {
    let app = spawn_app().await;
    let a = app.login("admin", ADMIN_PASSWORD).await;
    let b = app.login("admin", ADMIN_PASSWORD).await;
    let r = app
        .post(
            "/api/auth/logout/",
            Some(&token_of(&a)),
            &json!({"refresh": refresh_of(&a)}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.unwrap().is_empty(), "204 has no body");
    assert_unauthenticated(me(&app, &token_of(&a)).await).await;
    assert_unauthenticated(refresh(&app, &refresh_of(&a)).await).await;
    // The other session keeps working.
    assert_eq!(me(&app, &token_of(&b)).await.status(), StatusCode::OK);
    assert_eq!(
        refresh(&app, &refresh_of(&b)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_without_body_revokes_the_session() {
    let app = spawn_app().await;
    let a = app.login("admin", ADMIN_PASSWORD).await;
    let b = app.login("admin", ADMIN_PASSWORD).await;
    let r = app
        .request(Method::POST, "/api/auth/logout/", Some(&token_of(&a)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_unauthenticated(me(&app, &token_of(&a)).await).await;
    assert_unauthenticated(refresh(&app, &refresh_of(&a)).await).await;
    assert_eq!(me(&app, &token_of(&b)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_needs_a_valid_access_token() {
    let app = spawn_app().await;
    let login = app.login("admin", ADMIN_PASSWORD).await;
    let r = app.post("/api/auth/logout/", None, &json!({})).await;
    assert_unauthenticated(r).await;
    // A refresh token is not an access token.
    let r = app
        .post(
            "/api/auth/logout/",
            Some(&refresh_of(&login)),
            &json!({"refresh": refresh_of(&login)}),
        )
        .await;
    assert_unauthenticated(r).await;
    assert_eq!(me(&app, &token_of(&login)).await.status(), StatusCode::OK);
    // Logging out twice: the second time the token is already dead.
    let t = token_of(&login);
    let r = app.post("/api/auth/logout/", Some(&t), &json!({})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app.post("/api/auth/logout/", Some(&t), &json!({})).await;
    assert_unauthenticated(r).await;
}

// ---------------------------------------------------------------------------------------------
// Password change

const NEW_PASSWORD: &str = "a-brand-new-password-456";

#[tokio::test]
async fn password_change_keeps_this_session_and_revokes_the_others() {
    let app = spawn_app().await;
    app.create_user("worker", "user").await;
    let this = app.login("worker", USER_PASSWORD).await;
    let other = app.login("worker", USER_PASSWORD).await;
    let r = app
        .post(
            "/api/auth/password/",
            Some(&token_of(&this)),
            &json!({"current_password": USER_PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    assert_eq!(me(&app, &token_of(&this)).await.status(), StatusCode::OK);
    assert_unauthenticated(me(&app, &token_of(&other)).await).await;
    assert_unauthenticated(refresh(&app, &refresh_of(&other)).await).await;
    // This session's refresh token still works.
    assert_eq!(
        refresh(&app, &refresh_of(&this)).await.status(),
        StatusCode::OK
    );

    let body = assert_error(
        login_response(&app, "worker", USER_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(body["error"]["message"], BAD_CREDENTIALS);
    assert_eq!(
        login_response(&app, "worker", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn password_change_with_wrong_current_password_is_rejected() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("worker", "user").await;
    let r = app
        .post(
            "/api/auth/password/",
            Some(&token),
            &json!({"current_password": "not-my-password", "new_password": NEW_PASSWORD}),
        )
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(
        body["error"]["fields"]["current_password"].is_array(),
        "{body}"
    );
    // Nothing changed.
    assert_eq!(
        login_response(&app, "worker", USER_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(me(&app, &token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn password_change_validates_the_new_password() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("worker", "user").await;
    for new in ["short", "123456789", &"x".repeat(257)] {
        let r = app
            .post(
                "/api/auth/password/",
                Some(&token),
                &json!({"current_password": USER_PASSWORD, "new_password": new}),
            )
            .await;
        let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
        assert!(body["error"]["fields"]["new_password"].is_array(), "{body}");
    }
    assert_eq!(
        login_response(&app, "worker", USER_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn password_change_needs_authentication() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/password/",
            None,
            &json!({"current_password": ADMIN_PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_unauthenticated(r).await;
}

// ---------------------------------------------------------------------------------------------
// Registration

#[tokio::test]
async fn register_creates_a_user_who_can_sign_in() {
    let app = spawn_app().await;
    let r = register(
        &app,
        &json!({"username": "newbie", "email": "newbie@plant.test",
                "password": "newbie-password-1", "display_name": "New Bie"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let text = r.text().await.unwrap();
    assert!(!text.contains("newbie-password-1") && !text.contains("argon2"));
    let user: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(user["username"], "newbie");
    assert_eq!(user["email"], "newbie@plant.test");
    assert_eq!(user["display_name"], "New Bie");
    assert_eq!(user["role"], "user");
    assert_eq!(user["is_active"], true);
    assert!(user["id"].as_u64().is_some_and(|id| id > 0));

    let login = app.login("newbie", "newbie-password-1").await;
    assert_eq!(login["user"]["id"], user["id"]);
    assert_eq!(login["user"]["role"], "user");
}

#[tokio::test]
async fn register_cannot_choose_a_role() {
    let app = spawn_app().await;
    let r = register(
        &app,
        &json!({"username": "sneaky", "email": "sneaky@plant.test",
                "password": "sneaky-password-1", "role": "admin"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(json_of(r).await["role"], "user");
    let token = token_of(&app.login("sneaky", "sneaky-password-1").await);
    let r = app
        .post(
            "/api/users/",
            Some(&token),
            &json!({"username": "minion", "email": "minion@plant.test",
                    "password": "minion-password-1", "role": "admin"}),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn register_rejects_duplicate_username_or_email_case_insensitively() {
    let app = spawn_app().await;
    let r = register(
        &app,
        &json!({"username": "Bob", "email": "Bob@Plant.test", "password": "bob-password-1"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for body in [
        json!({"username": "bob", "email": "other@plant.test", "password": "bob-password-1"}),
        json!({"username": "BOB", "email": "other2@plant.test", "password": "bob-password-1"}),
        json!({"username": "robert", "email": "bob@plant.test", "password": "bob-password-1"}),
        json!({"username": "bobby", "email": "BOB@PLANT.TEST", "password": "bob-password-1"}),
        json!({"username": "admin2", "email": "admin@localhost", "password": "bob-password-1"}),
        json!({"username": "Admin", "email": "x@plant.test", "password": "bob-password-1"}),
    ] {
        let r = register(&app, &body).await;
        assert_error(r, StatusCode::CONFLICT, "conflict").await;
    }
}

#[tokio::test]
async fn register_validates_username_email_and_password() {
    let app = spawn_app().await;
    let ok_password = "long-enough-pw";
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"username": "ab", "email": "a1@plant.test", "password": ok_password}),
            "username",
        ),
        (
            json!({"username": "a".repeat(33), "email": "a2@plant.test", "password": ok_password}),
            "username",
        ),
        (
            json!({"username": "has space", "email": "a3@plant.test", "password": ok_password}),
            "username",
        ),
        (
            json!({"username": "slash/name", "email": "a4@plant.test", "password": ok_password}),
            "username",
        ),
        (
            json!({"username": "ümlaut", "email": "a5@plant.test", "password": ok_password}),
            "username",
        ),
        (
            json!({"username": "", "email": "a6@plant.test", "password": ok_password}),
            "username",
        ),
        (
            json!({"username": "goodname1", "email": "not-an-email", "password": ok_password}),
            "email",
        ),
        (
            json!({"username": "goodname2", "email": "", "password": ok_password}),
            "email",
        ),
        (
            json!({"username": "goodname3", "email": "a@", "password": ok_password}),
            "email",
        ),
        (
            json!({"username": "goodname4", "email": "a7@plant.test", "password": "123456789"}),
            "password",
        ),
        (
            json!({"username": "goodname5", "email": "a8@plant.test", "password": "x".repeat(257)}),
            "password",
        ),
    ];
    for (body, field) in cases {
        let r = register(&app, &body).await;
        let err = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
        assert!(
            field_names(&err).contains(&field.to_string()),
            "{field} in {err} for {body}"
        );
    }
    // Nothing was created.
    let admin = app.admin_token().await;
    let list = json_of(app.get("/api/users/", &admin).await).await;
    assert_eq!(list["count"], 1, "{list}");
}

#[tokio::test]
async fn register_accepts_boundary_lengths() {
    let app = spawn_app().await;
    for body in [
        json!({"username": "abc", "email": "b1@plant.test", "password": "1234567890"}),
        json!({"username": "a".repeat(32), "email": "b2@plant.test", "password": "p".repeat(256)}),
        json!({"username": "Line.Lead-2_x", "email": "b3@plant.test", "password": "1234567890"}),
    ] {
        let r = register(&app, &body).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{body}");
    }
    app.login(&"a".repeat(32), &"p".repeat(256)).await;
}

#[tokio::test]
async fn register_is_forbidden_when_disabled() {
    let app = spawn_app_with(|c| c.auth.allow_registration = false).await;
    let r = register(
        &app,
        &json!({"username": "newbie", "email": "newbie@plant.test", "password": "newbie-password-1"}),
    )
    .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = login_response(&app, "newbie", "newbie-password-1").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// The current user

#[tokio::test]
async fn current_user_is_shown_with_email() {
    let app = spawn_app().await;
    let (user, token) = app.user_with_token("worker", "staff").await;
    let r = me(&app, &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert_eq!(body["id"], user["id"]);
    assert_eq!(body["username"], "worker");
    assert_eq!(body["email"], "worker@plant.test");
    assert_eq!(body["role"], "staff");
    assert!(body.get("password").is_none() && body.get("password_hash").is_none());
}

#[tokio::test]
async fn protected_endpoints_need_a_bearer_token() {
    let app = spawn_app().await;
    let login = app.login("admin", ADMIN_PASSWORD).await;
    let access = token_of(&login);
    let cases = [
        (Method::GET, "/api/auth/user/"),
        (Method::PATCH, "/api/auth/user/"),
        (Method::POST, "/api/auth/logout/"),
        (Method::POST, "/api/auth/password/"),
        (Method::GET, "/api/users/"),
        (Method::POST, "/api/users/"),
        (Method::GET, "/api/users/1/"),
        (Method::PATCH, "/api/users/1/"),
    ];
    for (method, path) in cases {
        // No header.
        let r = app
            .request(method.clone(), path, None)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_unauthenticated(r).await;
        // Wrong scheme.
        let r = app
            .request(method.clone(), path, None)
            .header("authorization", format!("Basic {access}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "Basic {method} {path}"
        );
        // Garbage bearer.
        let r = app
            .request(method.clone(), path, Some("garbage"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "garbage {method} {path}"
        );
    }
}

#[tokio::test]
async fn update_own_account_merges_profile_fields() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("worker", "user").await;
    let r = app
        .patch(
            "/api/auth/user/",
            &token,
            &json!({"display_name": "Wanda Worker",
                    "profile": {"job_title": "Line lead", "department": "Assembly"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert_eq!(body["display_name"], "Wanda Worker");
    assert_eq!(body["email"], "worker@plant.test");
    assert_eq!(body["profile"]["job_title"], "Line lead");
    assert_eq!(body["profile"]["department"], "Assembly");

    let r = app
        .patch(
            "/api/auth/user/",
            &token,
            &json!({"profile": {"phone": "555-0100", "shift": "night"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert_eq!(
        body["profile"],
        json!({"job_title": "Line lead", "department": "Assembly",
               "phone": "555-0100", "shift": "night"})
    );
    assert_eq!(
        body["display_name"], "Wanda Worker",
        "unmentioned fields stay"
    );

    let r = app
        .patch(
            "/api/auth/user/",
            &token,
            &json!({"email": "wanda@plant.test"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // The stored user reflects all of it.
    let body = json_of(me(&app, &token).await).await;
    assert_eq!(body["email"], "wanda@plant.test");
    assert_eq!(body["display_name"], "Wanda Worker");
    assert_eq!(body["profile"]["job_title"], "Line lead");
    assert_eq!(body["profile"]["shift"], "night");

    // An empty patch changes nothing.
    let r = app.patch("/api/auth/user/", &token, &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let after = json_of(r).await;
    assert_eq!(after["profile"], body["profile"]);
    assert_eq!(after["email"], body["email"]);
}

#[tokio::test]
async fn update_own_account_cannot_change_role_or_activity() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("worker", "user").await;
    let r = app
        .patch(
            "/api/auth/user/",
            &token,
            &json!({"role": "admin", "is_active": false, "username": "boss"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(me(&app, &token).await).await;
    assert_eq!(body["role"], "user");
    assert_eq!(body["is_active"], true);
    assert_eq!(body["username"], "worker");
}

#[tokio::test]
async fn update_own_account_rejects_bad_or_taken_email() {
    let app = spawn_app().await;
    app.create_user("other", "user").await;
    let (_, token) = app.user_with_token("worker", "user").await;
    let r = app
        .patch("/api/auth/user/", &token, &json!({"email": "not-an-email"}))
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(body["error"]["fields"]["email"].is_array(), "{body}");

    for taken in ["other@plant.test", "OTHER@plant.test"] {
        let r = app
            .patch("/api/auth/user/", &token, &json!({"email": taken}))
            .await;
        assert_error(r, StatusCode::CONFLICT, "conflict").await;
    }
    let body = json_of(me(&app, &token).await).await;
    assert_eq!(body["email"], "worker@plant.test");
}

// ---------------------------------------------------------------------------------------------
// Token tampering

#[tokio::test]
async fn token_with_altered_signature_is_rejected() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (h, p, s) = parts(&token);
    // Flip characters at the start of the signature (the last character carries padding bits).
    let mut sig: Vec<char> = s.chars().collect();
    for c in sig.iter_mut().take(4) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    let sig: String = sig.into_iter().collect();
    assert_unauthenticated(me(&app, &format!("{h}.{p}.{sig}")).await).await;
    // Missing signature.
    assert_unauthenticated(me(&app, &format!("{h}.{p}.")).await).await;
    assert_unauthenticated(me(&app, &format!("{h}.{p}")).await).await;
    // The genuine token still works.
    assert_eq!(me(&app, &token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn token_with_altered_claims_is_rejected() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("worker", "user").await;
    let (h, p, s) = parts(&token);
    let mut claims = decode_part(&p);
    claims["role"] = json!("admin");
    claims["sub"] = json!("1");
    let forged = format!("{h}.{}.{s}", encode_part(&claims));
    assert_unauthenticated(me(&app, &forged).await).await;
    let mut claims = decode_part(&p);
    claims["exp"] = json!(unix_now() + 365 * 24 * 3600);
    let forged = format!("{h}.{}.{s}", encode_part(&claims));
    assert_unauthenticated(me(&app, &forged).await).await;
}

#[tokio::test]
async fn token_signed_with_another_key_is_rejected() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (_, claims) = jwt_header_and_claims(&token);
    let forged = sign(
        Algorithm::HS256,
        &claims,
        b"some-other-key-that-is-definitely-long-enough",
    );
    assert_unauthenticated(me(&app, &forged).await).await;
}

#[tokio::test]
async fn token_with_alg_none_is_rejected() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (_, p, s) = parts(&token);
    for alg in ["none", "None", "NONE"] {
        let header = encode_part(&json!({"alg": alg, "typ": "JWT"}));
        assert_unauthenticated(me(&app, &format!("{header}.{p}.")).await).await;
        assert_unauthenticated(me(&app, &format!("{header}.{p}.{s}")).await).await;
    }
}

#[tokio::test]
async fn only_hs256_tokens_with_the_server_key_are_accepted() {
    let app = spawn_app_with(|c| c.jwt_secret = Some(Secret::new(KNOWN_SECRET))).await;
    let token = app.admin_token().await;
    let (_, claims) = jwt_header_and_claims(&token);

    // Control: a token we sign ourselves with the server's key and algorithm is accepted, so
    // the rejections below are about what they change.
    let good = sign(Algorithm::HS256, &claims, KNOWN_SECRET.as_bytes());
    assert_eq!(me(&app, &good).await.status(), StatusCode::OK);

    // Another HMAC algorithm with the right key: the algorithm is pinned.
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let other = sign(alg, &claims, KNOWN_SECRET.as_bytes());
        assert_unauthenticated(me(&app, &other).await).await;
    }

    // Expired, though correctly signed.
    let mut expired = claims.clone();
    expired["iat"] = json!(unix_now() - 3600);
    expired["exp"] = json!(unix_now() - 60);
    let expired = sign(Algorithm::HS256, &expired, KNOWN_SECRET.as_bytes());
    assert_unauthenticated(me(&app, &expired).await).await;

    // Without exp.
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let no_exp = sign(Algorithm::HS256, &no_exp, KNOWN_SECRET.as_bytes());
    assert_unauthenticated(me(&app, &no_exp).await).await;

    // A session that does not exist.
    let mut ghost = claims.clone();
    ghost["sid"] = json!(999_999);
    let ghost = sign(Algorithm::HS256, &ghost, KNOWN_SECRET.as_bytes());
    assert_unauthenticated(me(&app, &ghost).await).await;

    // Another user's id on this session.
    let other = app.create_user("worker", "user").await;
    let mut swapped = claims.clone();
    swapped["sub"] = json!(other["id"].as_u64().unwrap().to_string());
    let swapped = sign(Algorithm::HS256, &swapped, KNOWN_SECRET.as_bytes());
    let r = me(&app, &swapped).await;
    assert_unauthenticated(r).await;
}

#[tokio::test]
async fn expired_access_token_is_rejected_and_refresh_renews_it() {
    let app = spawn_app_with(|c| c.auth.access_ttl_secs = 2).await;
    let login = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(login["expires_in"], 2);
    assert_eq!(me(&app, &token_of(&login)).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_unauthenticated(me(&app, &token_of(&login)).await).await;
    let r = refresh(&app, &refresh_of(&login)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let renewed = json_of(r).await;
    assert_eq!(me(&app, &token_of(&renewed)).await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Restart

#[tokio::test]
async fn restart_keeps_users_sessions_and_signing_key() {
    let app = spawn_app().await;
    let login = app.login("admin", ADMIN_PASSWORD).await;
    let token = token_of(&login);
    let (user, user_token) = app.user_with_token("worker", "staff").await;
    let app = app.restart().await;

    let r = me(&app, &token).await;
    assert_eq!(r.status(), StatusCode::OK, "token from before the restart");
    assert_eq!(json_of(r).await["username"], "admin");
    let r = me(&app, &user_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .get(&format!("/api/users/{}/", user["id"]), &token)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["role"], "staff");
    assert_eq!(
        refresh(&app, &refresh_of(&login)).await.status(),
        StatusCode::OK
    );
    app.login("worker", USER_PASSWORD).await;
}
