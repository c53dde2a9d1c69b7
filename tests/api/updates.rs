//! `/api/updates/`: announcements (shape, defaults, who posts and changes them, validation,
//! filters and ordering) and the caller's notifications (which updates notify whom, the list,
//! marking read, privacy).

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers

const NOTIFICATIONS: &str = "/api/updates/notifications/";

/// POST /api/updates/ as `token`; asserts 201 and returns the update.
async fn post_update(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/updates/", Some(token), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "post update {body}");
    json_of(r).await
}

/// Posts an update with `title` and `priority`.
async fn post_with(app: &TestApp, token: &str, title: &str, priority: &str) -> Value {
    post_update(
        app,
        token,
        json!({"title": title, "content": "details", "priority": priority}),
    )
    .await
}

fn path_of(update: &Value) -> String {
    format!("/api/updates/{}/", update["id"])
}

/// GET `path` as `token`; asserts 200 and returns the body.
async fn get_ok(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.get(path, token).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    json_of(r).await
}

/// The titles of a list, checking the envelope of a single page.
async fn titles(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let list = get_ok(app, path, token).await;
    let got: Vec<String> = list["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|u| u["title"].as_str().expect("title").to_string())
        .collect();
    assert_eq!(list["count"], json!(got.len()), "{path}: {list}");
    got
}

/// The caller's notifications (first 200).
async fn notifications(app: &TestApp, token: &str) -> Vec<Value> {
    let list = get_ok(app, &format!("{NOTIFICATIONS}?page_size=200"), token).await;
    let rows = list["results"].as_array().expect("results").clone();
    assert_eq!(list["count"], json!(rows.len()), "{list}");
    rows
}

/// The kinds of the caller's notifications, newest first.
async fn kinds(app: &TestApp, token: &str) -> Vec<String> {
    notifications(app, token)
        .await
        .iter()
        .map(|n| n["kind"].as_str().expect("kind").to_string())
        .collect()
}

fn count_kind(rows: &[Value], kind: &str) -> usize {
    rows.iter().filter(|n| n["kind"] == kind).count()
}

async fn unread_count(app: &TestApp, token: &str) -> u64 {
    let list = get_ok(app, &format!("{NOTIFICATIONS}?unread=true"), token).await;
    for n in list["results"].as_array().unwrap() {
        assert_eq!(n["read"], false, "{n}");
    }
    list["count"].as_u64().expect("count")
}

fn read_path(notification: &Value) -> String {
    format!("{NOTIFICATIONS}{}/read/", notification["id"])
}

fn assert_rfc3339_utc(value: &Value) {
    let s = value.as_str().expect("time is a string");
    assert!(s.ends_with('Z'), "{s} is in UTC with Z");
    time::OffsetDateTime::parse(s, &Rfc3339).unwrap_or_else(|e| panic!("{s} is not RFC 3339: {e}"));
}

fn key_set(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_update_shape(update: &Value) {
    let expected: BTreeSet<&str> = [
        "id",
        "title",
        "content",
        "type",
        "priority",
        "created_by",
        "created_at",
        "updated_at",
        "requires_ack",
    ]
    .into_iter()
    .collect();
    // The caller's acknowledgement is there only when they made one.
    let mut keys = key_set(update);
    if keys.remove("acknowledged_at") {
        assert_rfc3339_utc(&update["acknowledged_at"]);
        assert_eq!(update["requires_ack"], true, "{update}");
    }
    assert_eq!(keys, expected, "fields of {update}");
    assert!(update["requires_ack"].is_boolean());
    assert!(update["id"].as_u64().is_some_and(|id| id > 0));
    assert!(update["title"].is_string() && update["content"].is_string());
    assert!(
        [
            "announcement",
            "maintenance",
            "safety",
            "production",
            "system"
        ]
        .contains(&update["type"].as_str().unwrap_or("")),
        "{update}"
    );
    assert!(
        ["low", "medium", "high", "critical"].contains(&update["priority"].as_str().unwrap_or("")),
        "{update}"
    );
    assert!(update["created_by"].as_u64().is_some_and(|id| id > 0));
    assert_rfc3339_utc(&update["created_at"]);
    assert_rfc3339_utc(&update["updated_at"]);
}

fn assert_notification_shape(n: &Value) {
    let expected: BTreeSet<&str> = ["id", "kind", "title", "body", "link", "read", "created_at"]
        .into_iter()
        .collect();
    assert_eq!(key_set(n), expected, "fields of {n}");
    assert!(n["id"].as_u64().is_some_and(|id| id > 0));
    assert!(
        [
            "activity_assigned",
            "activity_status",
            "team_added",
            "chat_message",
            "update_posted",
            "ack_reminder"
        ]
        .contains(&n["kind"].as_str().unwrap_or("")),
        "{n}"
    );
    assert!(n["title"].is_string() && n["body"].is_string() && n["link"].is_string());
    assert!(n["read"].is_boolean());
    assert_rfc3339_utc(&n["created_at"]);
}

async fn assert_400(response: Response) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.json::<Value>().await.expect("JSON error");
    let code = body
        .pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("");
    assert!(
        code == "bad_request" || code == "validation_error",
        "code in {body}"
    );
}

async fn assert_field_error(response: Response, field: &str) {
    let err = assert_error(response, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(err["error"]["fields"][field].is_array(), "{field}: {err}");
}

// ---------------------------------------------------------------------------------------------
// Updates

#[tokio::test]
async fn update_json_has_the_contract_fields_and_defaults() {
    let app = spawn_app().await;
    let (staff, staff_token) = app.user_with_token("foreman", "staff").await;
    let (_, user_token) = app.user_with_token("worker", "user").await;
    let update = post_update(
        &app,
        &staff_token,
        json!({"title": "Canteen closed Friday", "content": "Bring lunch."}),
    )
    .await;
    assert_update_shape(&update);
    assert_eq!(update["title"], "Canteen closed Friday");
    assert_eq!(update["content"], "Bring lunch.");
    assert_eq!(update["type"], "announcement", "default type");
    assert_eq!(update["priority"], "medium", "default priority");
    assert_eq!(update["created_by"], staff["id"]);
    assert_eq!(update["created_at"], update["updated_at"]);

    // Every role reads it.
    let admin = app.admin_token().await;
    for token in [&admin, &staff_token, &user_token] {
        assert_eq!(get_ok(&app, &path_of(&update), token).await, update);
        let list = get_ok(&app, "/api/updates/", token).await;
        assert_eq!(list["count"], 1);
        assert_eq!(list["results"][0], update);
        assert!(list["next"].is_null() && list["previous"].is_null());
    }

    let full = post_update(
        &app,
        &admin,
        json!({"title": "Boiler test", "content": "Sirens at noon", "type": "safety",
               "priority": "low"}),
    )
    .await;
    assert_update_shape(&full);
    assert_eq!(full["type"], "safety");
    assert_eq!(full["priority"], "low");
    assert_eq!(full["created_by"], 1);

    let r = app.get("/api/updates/9999/", &user_token).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .request(Method::GET, "/api/updates/", None)
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn only_admin_and_staff_post_updates() {
    let app = spawn_app().await;
    let (_, user) = app.user_with_token("worker", "user").await;
    let r = app
        .post(
            "/api/updates/",
            Some(&user),
            &json!({"title": "Free pizza"}),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .post("/api/updates/", None, &json!({"title": "Free pizza"}))
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert!(titles(&app, "/api/updates/", &user).await.is_empty());
}

#[tokio::test]
async fn update_input_is_validated() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for title in [json!(""), json!("t".repeat(201))] {
        let r = app
            .post("/api/updates/", Some(&admin), &json!({"title": title}))
            .await;
        assert_field_error(r, "title").await;
    }
    for body in [
        json!({}),
        json!({"title": 5}),
        json!({"title": "Bad type", "type": "news"}),
        json!({"title": "Bad type", "type": "Safety"}),
        json!({"title": "Bad priority", "priority": "urgent"}),
        json!({"title": "Bad priority", "priority": 3}),
    ] {
        let r = app.post("/api/updates/", Some(&admin), &body).await;
        assert_400(r).await;
    }
    // 200 characters (not bytes) is allowed.
    let long = "ü".repeat(200);
    let update = post_update(&app, &admin, json!({"title": long})).await;
    assert_eq!(update["title"], json!(long));

    for title in [json!(""), json!("t".repeat(201))] {
        let r = app
            .patch(&path_of(&update), &admin, &json!({"title": title}))
            .await;
        assert_field_error(r, "title").await;
    }
    let r = app
        .patch(&path_of(&update), &admin, &json!({"priority": "extreme"}))
        .await;
    assert_400(r).await;
    assert_eq!(get_ok(&app, &path_of(&update), &admin).await, update);
    assert_eq!(titles(&app, "/api/updates/", &admin).await.len(), 1);
}

#[tokio::test]
async fn the_author_and_admins_change_and_delete_updates() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, author) = app.user_with_token("foreman", "staff").await;
    let (_, other_staff) = app.user_with_token("planner", "staff").await;
    let (_, user) = app.user_with_token("worker", "user").await;
    let update = post_update(
        &app,
        &author,
        json!({"title": "Shift change", "content": "From Monday", "type": "production"}),
    )
    .await;

    for token in [&other_staff, &user] {
        let r = app
            .patch(&path_of(&update), token, &json!({"title": "Hijacked"}))
            .await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.delete(&path_of(&update), token).await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert_eq!(get_ok(&app, &path_of(&update), &user).await, update);

    let r = app
        .patch(
            &path_of(&update),
            &author,
            &json!({"title": "Shift change (updated)", "priority": "high"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert_update_shape(&body);
    assert_eq!(body["title"], "Shift change (updated)");
    assert_eq!(body["priority"], "high");
    assert_eq!(body["content"], "From Monday", "unchanged fields stay");
    assert_eq!(body["type"], "production");
    assert_eq!(body["created_by"], update["created_by"]);
    assert_eq!(body["created_at"], update["created_at"]);

    let r = app
        .patch(
            &path_of(&update),
            &admin,
            &json!({"content": "From Tuesday", "type": "announcement"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert_eq!(body["content"], "From Tuesday");
    assert_eq!(body["type"], "announcement");
    assert_eq!(body["created_by"], update["created_by"], "author stays");
    assert_eq!(get_ok(&app, &path_of(&update), &user).await, body);

    // The author deletes their own; an admin deletes anyone's.
    let second = post_update(&app, &author, json!({"title": "Second"})).await;
    let r = app.delete(&path_of(&second), &author).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app.delete(&path_of(&update), &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for u in [&update, &second] {
        let r = app.get(&path_of(u), &user).await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = app.delete(&path_of(u), &admin).await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = app
            .patch(&path_of(u), &admin, &json!({"title": "Back"}))
            .await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert!(titles(&app, "/api/updates/", &user).await.is_empty());
}

#[tokio::test]
async fn list_filters_by_type_and_priority() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (title, kind, priority) in [
        ("Gas leak drill", "safety", "high"),
        ("New badge readers", "system", "low"),
        ("Helmet reminder", "safety", "medium"),
        ("Line 3 stop", "production", "high"),
        ("Welcome", "announcement", "medium"),
    ] {
        post_update(
            &app,
            &admin,
            json!({"title": title, "type": kind, "priority": priority}),
        )
        .await;
    }
    let sorted = |path: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let mut got = titles(app, path, admin).await;
            got.sort();
            got
        }
    };
    assert_eq!(
        sorted("/api/updates/?type=safety").await,
        ["Gas leak drill", "Helmet reminder"]
    );
    assert_eq!(
        sorted("/api/updates/?type=system").await,
        ["New badge readers"]
    );
    assert!(sorted("/api/updates/?type=maintenance").await.is_empty());
    assert_eq!(
        sorted("/api/updates/?priority=high").await,
        ["Gas leak drill", "Line 3 stop"]
    );
    assert!(sorted("/api/updates/?priority=critical").await.is_empty());
    assert_eq!(
        sorted("/api/updates/?type=safety&priority=high").await,
        ["Gas leak drill"]
    );
    assert_eq!(sorted("/api/updates/").await.len(), 5);
}

#[tokio::test]
async fn list_filters_by_since_inclusively() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let first = post_update(&app, &admin, json!({"title": "First"})).await;
    // Times have whole seconds: make "since" able to tell them apart.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = post_update(&app, &admin, json!({"title": "Second"})).await;
    post_update(&app, &admin, json!({"title": "Third"})).await;

    let get = |query: String| {
        let app = &app;
        let admin = &admin;
        async move {
            let mut got = titles(app, &format!("/api/updates/?{query}"), admin).await;
            got.sort();
            got
        }
    };
    let at = |v: &Value| {
        time::OffsetDateTime::parse(v["created_at"].as_str().unwrap(), &Rfc3339).unwrap()
    };
    let enc = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap().replace('+', "%2B");

    // Inclusive: an update posted exactly at `since` is in.
    assert_eq!(
        get(format!("since={}", second["created_at"].as_str().unwrap())).await,
        ["Second", "Third"]
    );
    assert_eq!(
        get(format!("since={}", first["created_at"].as_str().unwrap())).await,
        ["First", "Second", "Third"]
    );
    assert_eq!(
        get(format!(
            "since={}",
            enc(at(&first) + Duration::from_secs(1))
        ))
        .await,
        ["Second", "Third"]
    );
    // The same instant written with an offset.
    let plus_two = at(&second).to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
    assert_eq!(
        get(format!("since={}", enc(plus_two))).await,
        ["Second", "Third"]
    );
    // A date means from its start.
    let today = at(&first).date();
    assert_eq!(
        get(format!("since={today}")).await,
        ["First", "Second", "Third"]
    );
    let tomorrow = today.next_day().unwrap();
    assert!(get(format!("since={tomorrow}")).await.is_empty());
    assert!(get("since=2999-01-01T00:00:00Z".into()).await.is_empty());
    assert_eq!(
        get(format!(
            "since={}&priority=medium",
            second["created_at"].as_str().unwrap()
        ))
        .await,
        ["Second", "Third"]
    );
}

#[tokio::test]
async fn list_orders_by_created_at_and_priority() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (i, (title, priority)) in [
        ("A low", "low"),
        ("B critical", "critical"),
        ("C medium", "medium"),
        ("D high", "high"),
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            // Creation times have whole seconds: make the order unambiguous.
            tokio::time::sleep(Duration::from_millis(1050)).await;
        }
        post_with(&app, &admin, title, priority).await;
    }
    let get = |path: &'static str| {
        let app = &app;
        let admin = &admin;
        async move { titles(app, path, admin).await }
    };
    assert_eq!(
        get("/api/updates/").await,
        ["D high", "C medium", "B critical", "A low"],
        "default is newest first"
    );
    assert_eq!(
        get("/api/updates/?ordering=-created_at").await,
        ["D high", "C medium", "B critical", "A low"]
    );
    assert_eq!(
        get("/api/updates/?ordering=created_at").await,
        ["A low", "B critical", "C medium", "D high"]
    );
    // Priority sorts by urgency, not alphabetically.
    assert_eq!(
        get("/api/updates/?ordering=priority").await,
        ["A low", "C medium", "D high", "B critical"]
    );
    assert_eq!(
        get("/api/updates/?ordering=-priority").await,
        ["B critical", "D high", "C medium", "A low"]
    );

    // Paging keeps the order.
    let p1 = get_ok(&app, "/api/updates/?page_size=3", &admin).await;
    assert_eq!(p1["count"], 4);
    assert_eq!(p1["next"], "/api/updates/?page=2&page_size=3");
    assert!(p1["previous"].is_null());
    let p2 = get_ok(&app, p1["next"].as_str().unwrap(), &admin).await;
    assert_eq!(p2["results"].as_array().unwrap().len(), 1);
    assert_eq!(p2["results"][0]["title"], "A low");
    assert!(p2["next"].is_null());
}

#[tokio::test]
async fn list_rejects_bad_filters_and_ordering() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("worker", "user").await;
    for query in [
        "type=news",
        "type=SAFETY",
        "priority=urgent",
        "priority=1",
        "since=yesterday",
        "since=2026-13-01",
        "since=2026-01-01T25:00:00Z",
        "since=1700000000",
        "ordering=title",
        "ordering=created_by",
        "ordering=--created_at",
        "page=0",
        "page_size=x",
    ] {
        let r = app.get(&format!("/api/updates/?{query}"), &token).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_400(r).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Which updates notify

#[tokio::test]
async fn high_and_critical_updates_notify_every_active_user_but_the_author() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, author) = app.user_with_token("foreman", "staff").await;
    let (_, worker) = app.user_with_token("worker", "user").await;
    let idle = app.create_user("idle", "user").await;
    let idle_path = format!("/api/users/{}/", idle["id"]);
    let r = app
        .patch(&idle_path, &admin, &json!({"is_active": false}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    post_with(&app, &author, "Low one", "low").await;
    post_with(&app, &author, "Medium one", "medium").await;
    for token in [&admin, &author, &worker] {
        assert!(
            notifications(&app, token).await.is_empty(),
            "low and medium notify nobody"
        );
    }

    let high = post_with(&app, &author, "Evacuation drill", "high").await;
    for token in [&admin, &worker] {
        let rows = notifications(&app, token).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_notification_shape(&rows[0]);
        assert_eq!(rows[0]["kind"], "update_posted");
        assert_eq!(rows[0]["read"], false);
    }
    assert!(
        notifications(&app, &author).await.is_empty(),
        "the author is not notified"
    );

    post_with(&app, &admin, "Chemical spill", "critical").await;
    assert_eq!(
        count_kind(&notifications(&app, &worker).await, "update_posted"),
        2
    );
    assert_eq!(
        count_kind(&notifications(&app, &author).await, "update_posted"),
        1,
        "staff get the admin's critical update"
    );
    assert_eq!(
        count_kind(&notifications(&app, &admin).await, "update_posted"),
        1,
        "the admin is not notified of their own"
    );

    // Changing an update's priority later is not a new posting.
    let r = app
        .patch(&path_of(&high), &author, &json!({"priority": "critical"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(notifications(&app, &worker).await.len(), 2);

    // The deactivated user got nothing while inactive.
    let r = app
        .patch(&idle_path, &admin, &json!({"is_active": true}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let idle_token = token_of(&app.login("idle", USER_PASSWORD).await);
    assert!(
        notifications(&app, &idle_token).await.is_empty(),
        "inactive users are not notified"
    );
}

// ---------------------------------------------------------------------------------------------
// Notifications

#[tokio::test]
async fn notifications_are_the_callers_own_newest_first() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (worker, worker_token) = app.user_with_token("worker", "user").await;
    let (_, staff) = app.user_with_token("foreman", "staff").await;

    // Three kinds, one after the other.
    let r = app
        .post(
            "/api/projects/",
            Some(&admin),
            &json!({"name": "Press Line", "team_members": [worker["id"]]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    post_with(&app, &staff, "Fire alarm test", "high").await;
    let r = app
        .post(
            "/api/chat/messages/",
            Some(&staff),
            &json!({"receiver_id": worker["id"], "content": "See me after shift"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let list = get_ok(&app, NOTIFICATIONS, &worker_token).await;
    assert_eq!(list["count"], 3);
    assert!(list["next"].is_null() && list["previous"].is_null());
    let rows = list["results"].as_array().unwrap();
    for n in rows {
        assert_notification_shape(n);
        assert!(n.get("recipient").is_none() && n.get("recipient_id").is_none());
        assert_eq!(n["read"], false);
    }
    assert_eq!(
        kinds(&app, &worker_token).await,
        ["chat_message", "update_posted", "team_added"],
        "newest first"
    );
    let times: Vec<&str> = rows
        .iter()
        .map(|n| n["created_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let ids: BTreeSet<u64> = rows.iter().map(|n| n["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 3);

    // Paging.
    let p1 = get_ok(&app, &format!("{NOTIFICATIONS}?page_size=2"), &worker_token).await;
    assert_eq!(p1["count"], 3);
    assert_eq!(p1["results"][0]["kind"], "chat_message");
    assert_eq!(p1["next"], "/api/updates/notifications/?page=2&page_size=2");
    let p2 = get_ok(&app, p1["next"].as_str().unwrap(), &worker_token).await;
    assert_eq!(p2["results"].as_array().unwrap().len(), 1);
    assert_eq!(p2["results"][0]["kind"], "team_added");

    // Others see only their own: the staff author has none, the admin has the update.
    assert!(notifications(&app, &staff).await.is_empty());
    let admin_rows = notifications(&app, &admin).await;
    assert_eq!(admin_rows.len(), 1);
    assert_eq!(admin_rows[0]["kind"], "update_posted");
    assert!(!ids.contains(&admin_rows[0]["id"].as_u64().unwrap()));

    let r = app
        .request(Method::GET, NOTIFICATIONS, None)
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn marking_one_notification_read() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, worker) = app.user_with_token("worker", "user").await;
    post_with(&app, &admin, "One", "high").await;
    post_with(&app, &admin, "Two", "critical").await;
    assert_eq!(unread_count(&app, &worker).await, 2);

    let rows = notifications(&app, &worker).await;
    let target = rows[1].clone();
    let r = app
        .post(&read_path(&target), Some(&worker), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(unread_count(&app, &worker).await, 1);
    let unread = get_ok(&app, &format!("{NOTIFICATIONS}?unread=true"), &worker).await;
    assert_ne!(unread["results"][0]["id"], target["id"]);

    let rows = notifications(&app, &worker).await;
    assert_eq!(rows.len(), 2, "read ones stay in the full list");
    for n in &rows {
        assert_eq!(n["read"], n["id"] == target["id"], "{n}");
    }
    // Marking it again is harmless.
    let r = app
        .post(&read_path(&target), Some(&worker), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(unread_count(&app, &worker).await, 1);

    let r = app
        .post(
            &format!("{NOTIFICATIONS}9999/read/"),
            Some(&worker),
            &json!({}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn someone_elses_notification_cannot_be_read_or_marked() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, worker) = app.user_with_token("worker", "user").await;
    let (_, other) = app.user_with_token("visitor", "user").await;
    post_with(&app, &admin, "Boiler fault", "high").await;

    let mine = notifications(&app, &worker).await;
    let theirs = notifications(&app, &other).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(theirs.len(), 1);
    assert_ne!(mine[0]["id"], theirs[0]["id"], "one notification each");

    let r = app
        .post(&read_path(&mine[0]), Some(&other), &json!({}))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .post(&read_path(&mine[0]), Some(&admin), &json!({}))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(unread_count(&app, &worker).await, 1, "still unread");
    assert_eq!(unread_count(&app, &other).await, 1);

    // Reading all of mine does not touch theirs.
    let r = app
        .post(
            &format!("{NOTIFICATIONS}read-all/"),
            Some(&worker),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(unread_count(&app, &worker).await, 0);
    assert_eq!(unread_count(&app, &other).await, 1);
}

#[tokio::test]
async fn read_all_marks_every_notification_read() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, worker) = app.user_with_token("worker", "user").await;
    for title in ["One", "Two", "Three"] {
        post_with(&app, &admin, title, "high").await;
    }
    assert_eq!(unread_count(&app, &worker).await, 3);
    let r = app
        .post(
            &format!("{NOTIFICATIONS}read-all/"),
            Some(&worker),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(unread_count(&app, &worker).await, 0);
    let rows = notifications(&app, &worker).await;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|n| n["read"] == true), "{rows:?}");

    // New ones after that are unread again; with nothing unread, read-all is still 204.
    post_with(&app, &admin, "Four", "critical").await;
    assert_eq!(unread_count(&app, &worker).await, 1);
    let r = app
        .post(
            &format!("{NOTIFICATIONS}read-all/"),
            Some(&worker),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .post(
            &format!("{NOTIFICATIONS}read-all/"),
            Some(&worker),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(unread_count(&app, &worker).await, 0);
}

#[tokio::test]
async fn updates_written_before_the_list_indexes_are_listed_filtered_and_counted() {
    // The database an earlier build wrote (see `old_data.rs`), with one update.
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/schema-v1/nexus.redb"
    );
    std::fs::copy(fixture, dir.path().join("nexus.redb")).expect("copy the fixture");
    let data = dir.path().to_path_buf();
    let app = spawn_app_with(move |c| c.server.data_dir = data).await;
    let admin = app.admin_token().await;
    let all = json_of(app.get("/api/updates/", &admin).await).await;
    assert_eq!(all["count"], 1, "{all}");
    let old = &all["results"][0];
    let (kind, priority) = (old["type"].as_str(), old["priority"].as_str());
    let (kind, priority) = (kind.expect("a type"), priority.expect("a priority"));
    let same = json_of(
        app.get(
            &format!("/api/updates/?type={kind}&priority={priority}&ordering=priority"),
            &admin,
        )
        .await,
    )
    .await;
    assert_eq!(same["count"], 1, "{same}");
    // An update posted now is listed before it.
    post_update(
        &app,
        &admin,
        json!({"title": "Posted today", "type": "safety"}),
    )
    .await;
    let now = json_of(app.get("/api/updates/", &admin).await).await;
    assert_eq!(now["count"], 2, "{now}");
    assert_eq!(now["results"][0]["title"], "Posted today");
}
