//! `/api/users/`: the directory (shape, email visibility, filters, ordering, paging) and its
//! administration (create, update, deactivate, the last admin, fresh roles).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers

/// POST /api/users/ as `token` with a full body for `username`.
async fn create_as(
    app: &TestApp,
    token: &str,
    username: &str,
    role: &str,
    display_name: Option<&str>,
) -> Response {
    let mut body = json!({"username": username, "email": format!("{username}@plant.test"),
                          "password": USER_PASSWORD, "role": role});
    if let Some(name) = display_name {
        body["display_name"] = json!(name);
    }
    app.post("/api/users/", Some(token), &body).await
}

/// Creates a user as `admin`; returns its JSON.
async fn make(
    app: &TestApp,
    admin: &str,
    username: &str,
    role: &str,
    display_name: Option<&str>,
) -> Value {
    let r = create_as(app, admin, username, role, display_name).await;
    assert_eq!(r.status(), StatusCode::CREATED, "create {username}");
    json_of(r).await
}

fn user_path(user: &Value) -> String {
    format!("/api/users/{}/", user["id"])
}

/// GET `path` as `token`; asserts 200 and returns the body.
async fn get_ok(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.get(path, token).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    json_of(r).await
}

fn usernames(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_string())
        .collect()
}

fn assert_rfc3339_utc(value: &Value) {
    let s = value.as_str().expect("time is a string");
    assert!(s.ends_with('Z'), "{s} is in UTC with Z");
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s} is not RFC 3339: {e}"));
}

fn assert_user_shape(user: &Value, with_email: bool) {
    let keys: BTreeSet<&str> = user
        .as_object()
        .expect("user is an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected: BTreeSet<&str> = [
        "id",
        "username",
        "display_name",
        "role",
        "is_active",
        "profile",
        "created_at",
        "updated_at",
    ]
    .into_iter()
    .collect();
    if with_email {
        expected.insert("email");
    }
    assert_eq!(keys, expected, "fields of {user}");
    assert!(user["id"].as_u64().is_some_and(|id| id > 0));
    assert!(user["username"].is_string() && user["display_name"].is_string());
    assert!(user["is_active"].is_boolean());
    assert!(
        ["admin", "staff", "user"].contains(&user["role"].as_str().unwrap_or("")),
        "{user}"
    );
    let profile_keys: BTreeSet<&str> = user["profile"]
        .as_object()
        .expect("profile is an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        profile_keys,
        ["department", "job_title", "phone", "shift"]
            .into_iter()
            .collect(),
        "profile of {user}"
    );
    assert_rfc3339_utc(&user["created_at"]);
    assert_rfc3339_utc(&user["updated_at"]);
}

/// Parses a `next`/`previous` link into its path and query parameters.
fn parse_link(link: &Value) -> (String, HashMap<String, String>) {
    let s = link.as_str().expect("link is a string");
    let (path, query) = s.split_once('?').expect("link has a query");
    let params = query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_string(), v.to_string())
        })
        .collect();
    (path.to_string(), params)
}

async fn assert_400(response: Response) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let code = response
        .json::<Value>()
        .await
        .expect("JSON error")
        .pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    assert!(
        code == "bad_request" || code == "validation_error",
        "code {code}"
    );
}

// ---------------------------------------------------------------------------------------------
// Reading

#[tokio::test]
async fn user_json_has_the_contract_fields_and_no_secrets() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (worker, token) = app.user_with_token("worker", "user").await;
    assert_user_shape(&worker, true);

    // As an admin: email shown.
    let r = app.get(&user_path(&worker), &admin).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_user_shape(&body, true);
    assert_eq!(body["username"], "worker");
    assert_eq!(body["email"], "worker@plant.test");
    assert_eq!(body["role"], "user");
    assert_eq!(body["is_active"], true);

    // The list never carries secrets either.
    for t in [&admin, &token] {
        let r = app.get("/api/users/", t).await;
        let text = r.text().await.unwrap();
        assert!(
            !text.contains("argon2") && !text.contains("password"),
            "{text}"
        );
    }
    // Nor does the current user.
    let text = app
        .get("/api/auth/user/", &token)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );
}

#[tokio::test]
async fn email_is_shown_only_to_admins_and_the_user() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (staff, staff_token) = app.user_with_token("foreman", "staff").await;
    let (user, user_token) = app.user_with_token("worker", "user").await;

    // Others' email hidden from staff and users.
    for (viewer, other) in [(&staff_token, &user), (&user_token, &staff)] {
        let body = get_ok(&app, &user_path(other), viewer).await;
        assert_user_shape(&body, false);
        assert!(body.get("email").is_none(), "{body}");
    }
    let body = get_ok(&app, "/api/users/1/", &user_token).await;
    assert!(body.get("email").is_none(), "admin's email hidden: {body}");

    // Own email shown.
    for (viewer, me) in [(&staff_token, &staff), (&user_token, &user)] {
        let body = get_ok(&app, &user_path(me), viewer).await;
        assert_eq!(body["email"], me["email"]);
    }
    // Admin sees all.
    for other in [&staff, &user] {
        let body = get_ok(&app, &user_path(other), &admin).await;
        assert_eq!(body["email"], other["email"]);
    }

    // The same in the list.
    let list = get_ok(&app, "/api/users/", &user_token).await;
    for row in list["results"].as_array().unwrap() {
        let own = row["id"] == user["id"];
        assert_eq!(row.get("email").is_some(), own, "{row}");
        assert_user_shape(row, own);
    }
    let list = get_ok(&app, "/api/users/", &admin).await;
    for row in list["results"].as_array().unwrap() {
        assert!(row["email"].is_string(), "{row}");
    }
}

#[tokio::test]
async fn unknown_user_id_is_404() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("worker", "user").await;
    let r = app.get("/api/users/9999/", &token).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.get("/api/users/0/", &token).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn directory_needs_authentication() {
    let app = spawn_app().await;
    let r = app
        .request(reqwest::Method::GET, "/api/users/", None)
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = app
        .request(reqwest::Method::GET, "/api/users/1/", None)
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

// ---------------------------------------------------------------------------------------------
// The list

#[tokio::test]
async fn list_is_visible_to_every_role_sorted_by_username() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for name in ["mike", "bella", "zoe"] {
        make(&app, &admin, name, "user", None).await;
    }
    let (_, staff) = app.user_with_token("carl", "staff").await;
    let (_, user) = app.user_with_token("dora", "user").await;
    for token in [&admin, &staff, &user] {
        let list = get_ok(&app, "/api/users/", token).await;
        assert_eq!(list["count"], 6, "{list}");
        assert!(
            list["next"].is_null() && list["previous"].is_null(),
            "{list}"
        );
        assert_eq!(
            usernames(&list),
            ["admin", "bella", "carl", "dora", "mike", "zoe"]
        );
    }
}

#[tokio::test]
async fn list_orders_by_username_and_created_at() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    make(&app, &admin, "zed", "user", None).await;
    // Creation times have whole seconds: make the order unambiguous.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    make(&app, &admin, "amy", "user", None).await;

    let get = |ordering: &'static str| {
        let app = &app;
        let admin = &admin;
        async move { usernames(&get_ok(app, &format!("/api/users/?ordering={ordering}"), admin).await) }
    };
    assert_eq!(get("username").await, ["admin", "amy", "zed"]);
    assert_eq!(get("-username").await, ["zed", "amy", "admin"]);
    assert_eq!(get("created_at").await, ["admin", "zed", "amy"]);
    assert_eq!(get("-created_at").await, ["amy", "zed", "admin"]);
    assert_eq!(
        usernames(&get_ok(&app, "/api/users/", &admin).await),
        ["admin", "amy", "zed"],
        "default is username"
    );
}

#[tokio::test]
async fn list_filters_by_role_activity_and_text() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    make(&app, &admin, "foreman", "staff", Some("Maria Gomez")).await;
    make(&app, &admin, "linelead", "staff", Some("Line Lead")).await;
    let idle = make(&app, &admin, "idle", "user", None).await;
    make(&app, &admin, "worker", "user", Some("Wanda")).await;
    let r = app
        .patch(&user_path(&idle), &admin, &json!({"is_active": false}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (_, viewer) = app.user_with_token("viewer", "user").await;

    let names = |path: &'static str| {
        let app = &app;
        let viewer = &viewer;
        async move {
            let list = get_ok(app, path, viewer).await;
            let names = usernames(&list);
            assert_eq!(list["count"], json!(names.len()), "{list}");
            names
        }
    };
    assert_eq!(
        names("/api/users/?role=staff").await,
        ["foreman", "linelead"]
    );
    assert_eq!(names("/api/users/?role=admin").await, ["admin"]);
    assert_eq!(
        names("/api/users/?role=user").await,
        ["idle", "viewer", "worker"]
    );
    assert_eq!(names("/api/users/?is_active=false").await, ["idle"]);
    assert_eq!(
        names("/api/users/?is_active=true").await,
        ["admin", "foreman", "linelead", "viewer", "worker"]
    );
    assert_eq!(
        names("/api/users/?role=user&is_active=true").await,
        ["viewer", "worker"]
    );
    // q: case-insensitive substring of username or display name.
    assert_eq!(names("/api/users/?q=GOMEZ").await, ["foreman"]);
    assert_eq!(names("/api/users/?q=LiNe").await, ["linelead"]);
    assert_eq!(names("/api/users/?q=wan").await, ["worker"]);
    assert_eq!(names("/api/users/?q=ork").await, ["worker"]);
    assert!(names("/api/users/?q=nobody-matches").await.is_empty());
    assert_eq!(
        names("/api/users/?q=A&role=staff&ordering=-username").await,
        ["linelead", "foreman"]
    );
    // Searching by a hidden email does not reveal who has it.
    assert!(names("/api/users/?q=foreman%40plant").await.is_empty());
}

#[tokio::test]
async fn list_rejects_bad_filters_ordering_and_paging() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("worker", "user").await;
    for query in [
        "ordering=password_hash",
        "ordering=email",
        "ordering=-nope",
        "ordering=--username",
        "role=superuser",
        "role=Admin",
        "is_active=maybe",
        "page=0",
        "page_size=0",
        "page=abc",
        "page_size=abc",
        "page=-1",
        "page=1.5",
    ] {
        let r = app.get(&format!("/api/users/?{query}"), &token).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_400(r).await;
    }
}

#[tokio::test]
async fn list_pages_with_next_and_previous_links() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for name in ["bea", "cid", "dan", "eve"] {
        make(&app, &admin, name, "user", None).await;
    }
    let p1 = get_ok(&app, "/api/users/?page_size=2", &admin).await;
    assert_eq!(p1["count"], 5);
    assert_eq!(usernames(&p1), ["admin", "bea"]);
    assert!(p1["previous"].is_null());
    assert_eq!(p1["next"], "/api/users/?page=2&page_size=2");

    let p2 = get_ok(&app, p1["next"].as_str().unwrap(), &admin).await;
    assert_eq!(p2["count"], 5);
    assert_eq!(usernames(&p2), ["cid", "dan"]);
    assert_eq!(p2["previous"], "/api/users/?page=1&page_size=2");
    assert_eq!(p2["next"], "/api/users/?page=3&page_size=2");

    let p3 = get_ok(&app, p2["next"].as_str().unwrap(), &admin).await;
    assert_eq!(usernames(&p3), ["eve"]);
    assert!(p3["next"].is_null(), "{p3}");
    assert_eq!(p3["previous"], "/api/users/?page=2&page_size=2");

    // Past the end: an empty page, not an error.
    let p9 = get_ok(&app, "/api/users/?page=9&page_size=2", &admin).await;
    assert_eq!(p9["count"], 5);
    assert!(usernames(&p9).is_empty());
    assert!(p9["next"].is_null());

    // Exactly filling the pages: no next on the last one.
    let full = get_ok(&app, "/api/users/?page=1&page_size=5", &admin).await;
    assert!(
        full["next"].is_null() && full["previous"].is_null(),
        "{full}"
    );
}

#[tokio::test]
async fn page_links_keep_the_other_query_parameters() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for name in ["bea", "cid", "dan"] {
        make(&app, &admin, name, "user", None).await;
    }
    let p1 = get_ok(
        &app,
        "/api/users/?role=user&ordering=-username&page_size=1",
        &admin,
    )
    .await;
    assert_eq!(p1["count"], 3);
    assert_eq!(usernames(&p1), ["dan"]);
    let (path, params) = parse_link(&p1["next"]);
    assert_eq!(path, "/api/users/");
    assert_eq!(params["page"], "2");
    assert_eq!(params["page_size"], "1");
    assert_eq!(params["role"], "user");
    assert_eq!(params["ordering"], "-username");

    let p2 = get_ok(&app, p1["next"].as_str().unwrap(), &admin).await;
    assert_eq!(usernames(&p2), ["cid"]);
    let (_, params) = parse_link(&p2["previous"]);
    assert_eq!(params["page"], "1");
    assert_eq!(params["role"], "user");
    assert_eq!(params["ordering"], "-username");
}

#[tokio::test]
async fn page_size_defaults_to_50_and_is_capped_at_200() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p2 = get_ok(&app, "/api/users/?page=2", &admin).await;
    let (_, params) = parse_link(&p2["previous"]);
    assert_eq!(params["page_size"], "50");
    assert_eq!(params["page"], "1");

    let p2 = get_ok(&app, "/api/users/?page=2&page_size=500", &admin).await;
    let (_, params) = parse_link(&p2["previous"]);
    assert_eq!(params["page_size"], "200", "capped");

    let p1 = get_ok(&app, "/api/users/?page_size=500", &admin).await;
    assert_eq!(p1["count"], 1);
    assert_eq!(usernames(&p1), ["admin"]);

    let p2 = get_ok(&app, "/api/users/?page=2&page_size=200", &admin).await;
    let (_, params) = parse_link(&p2["previous"]);
    assert_eq!(params["page_size"], "200", "200 itself is allowed");
}

// ---------------------------------------------------------------------------------------------
// Creating

#[tokio::test]
async fn admin_creates_users_with_any_role() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (name, role) in [("boss2", "admin"), ("foreman", "staff"), ("worker", "user")] {
        let r = create_as(&app, &admin, name, role, Some("Shown Name")).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let user = json_of(r).await;
        assert_user_shape(&user, true);
        assert_eq!(user["username"], name);
        assert_eq!(user["role"], role);
        assert_eq!(user["email"], format!("{name}@plant.test"));
        assert_eq!(user["display_name"], "Shown Name");
        assert_eq!(user["is_active"], true);
        let login = app.login(name, USER_PASSWORD).await;
        assert_eq!(login["user"]["role"], role);
        // The new user is in the directory.
        let body = get_ok(&app, &user_path(&user), &admin).await;
        assert_eq!(body["username"], name);
    }
}

#[tokio::test]
async fn only_admins_create_users() {
    let app = spawn_app().await;
    let (_, staff) = app.user_with_token("foreman", "staff").await;
    let (_, user) = app.user_with_token("worker", "user").await;
    for token in [&staff, &user] {
        for role in ["user", "admin"] {
            let r = create_as(&app, token, "intruder", role, None).await;
            assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    let r = app
        .post(
            "/api/users/",
            None,
            &json!({"username": "intruder", "email": "i@plant.test",
                    "password": USER_PASSWORD, "role": "user"}),
        )
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // Nothing was created.
    let admin = app.admin_token().await;
    let list = get_ok(&app, "/api/users/?q=intruder", &admin).await;
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn create_user_rejects_duplicates_and_invalid_input() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    make(&app, &admin, "worker", "user", None).await;

    for body in [
        json!({"username": "WORKER", "email": "w2@plant.test", "password": USER_PASSWORD, "role": "user"}),
        json!({"username": "worker2", "email": "Worker@Plant.Test", "password": USER_PASSWORD, "role": "user"}),
    ] {
        let r = app.post("/api/users/", Some(&admin), &body).await;
        assert_error(r, StatusCode::CONFLICT, "conflict").await;
    }

    for role in [json!("superuser"), json!("Admin"), json!(""), json!(3)] {
        let r = app
            .post(
                "/api/users/",
                Some(&admin),
                &json!({"username": "newbie", "email": "n@plant.test",
                        "password": USER_PASSWORD, "role": role}),
            )
            .await;
        assert_400(r).await;
    }
    let r = app
        .post(
            "/api/users/",
            Some(&admin),
            &json!({"username": "newbie", "email": "n@plant.test", "password": USER_PASSWORD}),
        )
        .await;
    assert_400(r).await;

    for (body, field) in [
        (
            json!({"username": "x", "email": "n@plant.test", "password": USER_PASSWORD, "role": "user"}),
            "username",
        ),
        (
            json!({"username": "newbie", "email": "nope", "password": USER_PASSWORD, "role": "user"}),
            "email",
        ),
        (
            json!({"username": "newbie", "email": "n@plant.test", "password": "short", "role": "user"}),
            "password",
        ),
    ] {
        let r = app.post("/api/users/", Some(&admin), &body).await;
        let err = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
        assert!(err["error"]["fields"][field].is_array(), "{field}: {err}");
    }
    let list = get_ok(&app, "/api/users/", &admin).await;
    assert_eq!(list["count"], 2, "{list}");
}

// ---------------------------------------------------------------------------------------------
// Updating

#[tokio::test]
async fn admin_updates_role_name_and_email() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let user = make(&app, &admin, "worker", "user", None).await;
    let r = app
        .patch(
            &user_path(&user),
            &admin,
            &json!({"role": "staff", "display_name": "Wanda W", "email": "wanda@plant.test"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert_user_shape(&body, true);
    assert_eq!(body["id"], user["id"]);
    assert_eq!(body["role"], "staff");
    assert_eq!(body["display_name"], "Wanda W");
    assert_eq!(body["email"], "wanda@plant.test");
    assert_eq!(body["username"], "worker");
    assert_eq!(body["created_at"], user["created_at"]);

    // Unmentioned fields stay.
    let r = app
        .patch(&user_path(&user), &admin, &json!({"display_name": "Wanda"}))
        .await;
    let body = json_of(r).await;
    assert_eq!(body["role"], "staff");
    assert_eq!(body["email"], "wanda@plant.test");
    assert_eq!(body["is_active"], true);

    let stored = get_ok(&app, &user_path(&user), &admin).await;
    assert_eq!(stored["display_name"], "Wanda");
    assert_eq!(stored["role"], "staff");
}

#[tokio::test]
async fn admin_update_rejects_bad_input_and_taken_email() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    make(&app, &admin, "other", "user", None).await;
    let user = make(&app, &admin, "worker", "user", None).await;
    let r = app
        .patch(
            &user_path(&user),
            &admin,
            &json!({"email": "OTHER@plant.test"}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let r = app
        .patch(&user_path(&user), &admin, &json!({"email": "broken"}))
        .await;
    let err = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(err["error"]["fields"]["email"].is_array(), "{err}");
    let r = app
        .patch(&user_path(&user), &admin, &json!({"role": "overlord"}))
        .await;
    assert_400(r).await;
    let r = app
        .patch(&user_path(&user), &admin, &json!({"is_active": "no"}))
        .await;
    assert_400(r).await;
    let stored = get_ok(&app, &user_path(&user), &admin).await;
    assert_eq!(stored["email"], "worker@plant.test");
    assert_eq!(stored["role"], "user");
    assert_eq!(stored["is_active"], true);

    let r = app
        .patch("/api/users/9999/", &admin, &json!({"display_name": "x"}))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn only_admins_update_users() {
    let app = spawn_app().await;
    let (staff_user, staff) = app.user_with_token("foreman", "staff").await;
    let (user, token) = app.user_with_token("worker", "user").await;
    for (t, target) in [
        (&staff, &user),
        (&token, &staff_user),
        (&token, &user),
        (&staff, &staff_user),
    ] {
        let r = app
            .patch(&user_path(target), t, &json!({"role": "admin"}))
            .await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let r = app
        .patch("/api/users/1/", &token, &json!({"is_active": false}))
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    // Nothing changed.
    let me = get_ok(&app, &user_path(&user), &token).await;
    assert_eq!(me["role"], "user");
    let admin = get_ok(&app, "/api/users/1/", &token).await;
    assert_eq!(admin["is_active"], true);
}

#[tokio::test]
async fn deactivating_a_user_revokes_their_tokens_and_login() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let user = make(&app, &admin, "worker", "user", None).await;
    let login = app.login("worker", USER_PASSWORD).await;
    let access = token_of(&login);
    let refresh = login["refresh"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/api/auth/user/", &access).await.status(),
        StatusCode::OK
    );

    let r = app
        .patch(&user_path(&user), &admin, &json!({"is_active": false}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["is_active"], false);

    let r = app.get("/api/auth/user/", &access).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = app.get("/api/users/", &access).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = app
        .post("/api/auth/refresh/", None, &json!({"refresh": refresh}))
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let bad = |password: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post(
                    "/api/auth/login/",
                    None,
                    &json!({"username": "worker", "password": password}),
                )
                .await;
            assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await
        }
    };
    let inactive = bad(USER_PASSWORD).await;
    let wrong = bad("wrong-password-xyz").await;
    assert_eq!(inactive["error"]["message"], wrong["error"]["message"]);
    assert_eq!(inactive["error"]["message"], "invalid username or password");

    // Still in the directory, marked inactive.
    let body = get_ok(&app, &user_path(&user), &admin).await;
    assert_eq!(body["is_active"], false);

    // Reactivated: can sign in again, but the old tokens stay dead.
    let r = app
        .patch(&user_path(&user), &admin, &json!({"is_active": true}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["is_active"], true);
    let fresh = app.login("worker", USER_PASSWORD).await;
    assert_eq!(
        app.get("/api/auth/user/", &token_of(&fresh)).await.status(),
        StatusCode::OK
    );
    let r = app.get("/api/auth/user/", &access).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn last_active_admin_cannot_be_demoted_or_deactivated() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for body in [
        json!({"role": "staff"}),
        json!({"role": "user"}),
        json!({"is_active": false}),
    ] {
        let r = app.patch("/api/users/1/", &admin, &body).await;
        assert_error(r, StatusCode::CONFLICT, "conflict").await;
    }
    let me = get_ok(&app, "/api/users/1/", &admin).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["is_active"], true);
    assert_eq!(
        app.get("/api/auth/user/", &admin).await.status(),
        StatusCode::OK
    );

    // With a second admin, the first may step down; then the second is the last.
    let second = make(&app, &admin, "boss2", "admin", None).await;
    let r = app
        .patch("/api/users/1/", &admin, &json!({"role": "staff"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let boss2 = token_of(&app.login("boss2", USER_PASSWORD).await);
    let r = app
        .patch(&user_path(&second), &boss2, &json!({"is_active": false}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let r = app
        .patch(&user_path(&second), &boss2, &json!({"role": "user"}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn an_inactive_admin_does_not_count_as_the_other_admin() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let second = make(&app, &admin, "boss2", "admin", None).await;
    let r = app
        .patch(&user_path(&second), &admin, &json!({"is_active": false}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .patch("/api/users/1/", &admin, &json!({"role": "user"}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn role_changes_apply_to_the_next_request() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (user, token) = app.user_with_token("worker", "user").await;
    let r = create_as(&app, &token, "helper1", "user", None).await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;

    let r = app
        .patch(&user_path(&user), &admin, &json!({"role": "admin"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Same token, new role.
    let r = create_as(&app, &token, "helper1", "user", None).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let me = get_ok(&app, "/api/auth/user/", &token).await;
    assert_eq!(me["role"], "admin");

    // And back: the old token loses the power at once.
    let r = app
        .patch(&user_path(&user), &admin, &json!({"role": "user"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = create_as(&app, &token, "helper2", "user", None).await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .patch(&user_path(&user), &token, &json!({"role": "admin"}))
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    // Others' email is hidden again.
    let body = get_ok(&app, "/api/users/1/", &token).await;
    assert!(body.get("email").is_none(), "{body}");
}

#[tokio::test]
async fn users_written_before_the_list_indexes_are_listed_filtered_and_counted() {
    // The database an earlier build wrote (see `old_data.rs`): the admin and `olga`.
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/schema-v1/nexus.redb"
    );
    std::fs::copy(fixture, dir.path().join("nexus.redb")).expect("copy the fixture");
    let data = dir.path().to_path_buf();
    let app = spawn_app_with(move |c| c.server.data_dir = data).await;
    let admin = app.admin_token().await;
    let all = json_of(app.get("/api/users/", &admin).await).await;
    let before = all["count"].as_u64().expect("a count");
    assert!(before >= 2, "{all}");
    assert_eq!(
        all["results"].as_array().map(Vec::len),
        Some(before as usize)
    );
    let olga = json_of(app.get("/api/users/?q=OLG&is_active=true", &admin).await).await;
    assert_eq!(olga["count"], 1, "{olga}");
    assert_eq!(olga["results"][0]["username"], "olga");
    let admins = json_of(app.get("/api/users/?role=admin", &admin).await).await;
    assert!(admins["count"].as_u64() >= Some(1), "{admins}");
    // A user created now is counted with the old ones.
    app.user_with_token("newcomer", "user").await;
    let after = json_of(app.get("/api/users/?ordering=-created_at", &admin).await).await;
    assert_eq!(after["count"].as_u64(), Some(before + 1), "{after}");
    assert_eq!(after["results"][0]["username"], "newcomer");
}
