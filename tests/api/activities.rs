//! `/api/activities/`: shape and defaults, validation, visibility and permissions per role, the
//! status-move table, versions, lists (filters, ordering, paging), types and statuses, the CSV
//! export, project activities, notifications, atomic writes and ids that are never reused.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers

const LIST: &str = "/api/activities/";

/// The fields of an activity, in the order of API.md (and of the CSV header).
const FIELDS: [&str; 14] = [
    "id",
    "title",
    "description",
    "type",
    "status",
    "priority",
    "start_time",
    "end_time",
    "assigned_to",
    "created_by",
    "project_id",
    "created_at",
    "updated_at",
    "version",
];

const STATUSES: [&str; 5] = [
    "planned",
    "in_progress",
    "on_hold",
    "completed",
    "cancelled",
];

fn id_of(value: &Value) -> u64 {
    value["id"].as_u64().expect("numeric id")
}

fn act_path(activity: &Value) -> String {
    format!("/api/activities/{}/", activity["id"])
}

/// POST /api/activities/ as `token`; asserts 201 and returns the activity.
async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post(LIST, Some(token), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "create {body}");
    json_of(r).await
}

/// Creates an activity titled `title` with nothing else set.
async fn create_titled(app: &TestApp, token: &str, title: &str) -> Value {
    create(app, token, json!({"title": title})).await
}

/// GET `path` as `token`; asserts 200 and returns the body.
async fn get_ok(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.get(path, token).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    json_of(r).await
}

/// The activity as `token` sees it now.
async fn fetch(app: &TestApp, token: &str, activity: &Value) -> Value {
    get_ok(app, &act_path(activity), token).await
}

/// PATCH the activity as `token`; asserts 200 and returns it.
async fn patch_ok(app: &TestApp, token: &str, activity: &Value, body: Value) -> Value {
    let r = app.patch(&act_path(activity), token, &body).await;
    assert_eq!(r.status(), StatusCode::OK, "PATCH {body} on {activity}");
    json_of(r).await
}

/// GET /api/activities/?`query` as `token`; asserts 200.
async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    get_ok(app, &format!("{LIST}?{query}"), token).await
}

fn ids(list: &Value) -> Vec<u64> {
    list["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(id_of)
        .collect()
}

fn id_set(ids: &[u64]) -> BTreeSet<u64> {
    ids.iter().copied().collect()
}

/// Every activity `token` may see (one page of 200), newest first.
async fn all(app: &TestApp, token: &str) -> Vec<Value> {
    let body = list(app, token, "page_size=200").await;
    body["results"].as_array().expect("results").clone()
}

/// POST /api/projects/ as admin; asserts 201 and returns the project.
async fn create_project(
    app: &TestApp,
    admin: &str,
    name: &str,
    manager: Option<u64>,
    team: &[u64],
) -> Value {
    let mut body = json!({"name": name, "team_members": team});
    if let Some(m) = manager {
        body["manager_id"] = json!(m);
    }
    let r = app.post("/api/projects/", Some(admin), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "create project {name}");
    json_of(r).await
}

/// The caller's notifications of `kind`, newest first.
async fn notifications_of(app: &TestApp, token: &str, kind: &str) -> Vec<Value> {
    let body = get_ok(app, "/api/updates/notifications/?page_size=200", token).await;
    body["results"]
        .as_array()
        .expect("notification results")
        .iter()
        .filter(|n| n["kind"] == kind)
        .cloned()
        .collect()
}

/// Asserts a `400 validation_error` whose `fields` names `field`.
async fn assert_field_error(response: Response, field: &str, what: &str) {
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "{what}: expected a 400 naming {field}"
    );
    let body = assert_error(response, StatusCode::BAD_REQUEST, "validation_error").await;
    let messages = body["error"]["fields"][field].as_array();
    assert!(
        messages.is_some_and(|m| !m.is_empty()),
        "fields names {field} in {body}"
    );
}

/// Asserts a `400` in the error format (either 400 code).
async fn assert_400(response: Response, what: &str) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
    let body: Value = response.json().await.expect("JSON error");
    let code = body["error"]["code"].as_str().unwrap_or("");
    assert!(
        code == "bad_request" || code == "validation_error",
        "{what}: code {code}"
    );
}

fn assert_rfc3339_utc(value: &Value) {
    let s = value.as_str().expect("time is a string");
    assert!(s.ends_with('Z'), "{s} is in UTC with Z");
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s} is not RFC 3339: {e}"));
}

fn assert_activity_shape(a: &Value) {
    let keys: BTreeSet<&str> = a
        .as_object()
        .expect("activity is an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, FIELDS.into_iter().collect(), "fields of {a}");
    assert!(a["id"].as_u64().is_some_and(|id| id > 0), "{a}");
    assert!(
        a["title"].is_string() && a["description"].is_string(),
        "{a}"
    );
    assert!(a["version"].as_u64().is_some_and(|v| v >= 1), "{a}");
    assert!(a["created_by"].as_u64().is_some(), "{a}");
    assert_rfc3339_utc(&a["created_at"]);
    assert_rfc3339_utc(&a["updated_at"]);
    for field in ["start_time", "end_time"] {
        if !a[field].is_null() {
            assert_rfc3339_utc(&a[field]);
        }
    }
    for field in ["assigned_to", "project_id"] {
        assert!(a[field].is_null() || a[field].as_u64().is_some(), "{a}");
    }
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

fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Statuses to pass through, from `planned`, to reach `status` with legal moves.
fn route_to(status: &str) -> &'static [&'static str] {
    match status {
        "planned" => &[],
        "in_progress" => &["in_progress"],
        "on_hold" => &["on_hold"],
        "completed" => &["in_progress", "completed"],
        "cancelled" => &["cancelled"],
        other => panic!("unknown status {other}"),
    }
}

/// Moves a `planned` activity to `status` as `token`; returns it.
async fn walk_to(app: &TestApp, token: &str, activity: &Value, status: &str) -> Value {
    let mut current = activity.clone();
    for step in route_to(status) {
        current = patch_ok(app, token, &current, json!({"status": step})).await;
    }
    assert_eq!(current["status"], status);
    current
}

/// A minimal RFC 4180 reader: records of fields. Panics on a bare `\n` outside quotes (records
/// must end with `\r\n`) and on a body that does not end with `\r\n`.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    assert!(text.ends_with("\r\n"), "CSV ends with CRLF: {text:?}");
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' => {
                assert!(
                    field.is_empty() && !quoted,
                    "quote inside an unquoted field"
                );
                in_quotes = true;
                quoted = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                quoted = false;
            }
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR is followed by LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                quoted = false;
            }
            '\n' => panic!("bare LF outside quotes in {text:?}"),
            other => {
                assert!(!quoted, "text after a closing quote");
                field.push(other);
            }
        }
    }
    assert!(!in_quotes, "unterminated quoted field");
    records
}

/// A JSON value as its CSV cell: null is empty, strings as they are, numbers in decimal.
fn csv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// GET the export as `token`; asserts 200 and `text/csv`, returns the body text.
async fn export(app: &TestApp, token: &str, query: &str) -> String {
    let r = app
        .get(&format!("/api/activities/export.csv?{query}"), token)
        .await;
    assert_eq!(r.status(), StatusCode::OK, "export ?{query}");
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("text/csv"),
        "export content type {content_type}"
    );
    r.text().await.expect("CSV body")
}

/// The ids of an export's data rows, in order.
fn csv_ids(text: &str) -> Vec<u64> {
    parse_csv(text)
        .iter()
        .skip(1)
        .map(|row| row[0].parse().expect("numeric id in CSV"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Create, read, delete

#[tokio::test]
async fn create_answers_201_with_defaults_and_the_caller_as_creator() {
    let app = spawn_app().await;
    let (user, token) = app.user_with_token("maria", "user").await;
    let r = app
        .post(LIST, Some(&token), &json!({"title": "Clean hopper"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let a = json_of(r).await;
    assert_activity_shape(&a);
    assert_eq!(a["title"], "Clean hopper");
    assert_eq!(a["description"], "");
    assert_eq!(a["type"], "other");
    assert_eq!(a["status"], "planned");
    assert_eq!(a["priority"], "medium");
    assert_eq!(a["version"], 1);
    assert_eq!(a["created_by"], user["id"]);
    for field in ["start_time", "end_time", "assigned_to", "project_id"] {
        assert!(a[field].is_null(), "{field} in {a}");
    }
    assert_eq!(a["created_at"], a["updated_at"]);

    // The same object reads back, with and without the trailing slash.
    assert_eq!(fetch(&app, &token, &a).await, a);
    assert_eq!(
        get_ok(&app, &format!("/api/activities/{}", a["id"]), &token).await,
        a
    );
}

#[tokio::test]
async fn create_keeps_every_given_field_and_converts_offsets_to_utc() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let worker = app.create_user("worker", "user").await;
    let project = create_project(&app, &admin, "Line 4", None, &[]).await;
    let a = create(
        &app,
        &admin,
        json!({"title": "Swap die", "description": "Die 7 to die 9", "type": "changeover",
               "status": "in_progress", "priority": "critical",
               "start_time": "2026-11-28T11:30:00+02:00", "end_time": "2026-11-28T10:15:00Z",
               "assigned_to": worker["id"], "project_id": project["id"],
               "unknown_field": "is ignored"}),
    )
    .await;
    assert_activity_shape(&a);
    assert_eq!(a["description"], "Die 7 to die 9");
    assert_eq!(a["type"], "changeover");
    assert_eq!(a["status"], "in_progress");
    assert_eq!(a["priority"], "critical");
    assert_eq!(a["start_time"], "2026-11-28T09:30:00Z");
    assert_eq!(a["end_time"], "2026-11-28T10:15:00Z");
    assert_eq!(a["assigned_to"], worker["id"]);
    assert_eq!(a["project_id"], project["id"]);
    assert!(a.get("unknown_field").is_none());

    // A PATCH with an offset is converted too.
    let a = patch_ok(
        &app,
        &admin,
        &a,
        json!({"end_time": "2026-11-28T07:00:00-05:00"}),
    )
    .await;
    assert_eq!(a["end_time"], "2026-11-28T12:00:00Z");
    assert_eq!(fetch(&app, &admin, &a).await, a);
}

#[tokio::test]
async fn create_validation_errors_name_the_field() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases = [
        (json!({"title": ""}), "title"),
        (json!({"title": "   \t "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (
            json!({"title": "ok", "description": "d".repeat(20_001)}),
            "description",
        ),
        (
            json!({"title": "ok", "start_time": "2026-11-28T10:00:00Z",
                   "end_time": "2026-11-28T09:59:59Z"}),
            "end_time",
        ),
        (
            json!({"title": "ok", "start_time": "2026-11-28T08:00:00Z",
                   "end_time": "2026-11-28T09:00:00+02:00"}),
            "end_time",
        ),
        (
            json!({"title": "ok", "assigned_to": 999_999}),
            "assigned_to",
        ),
        (json!({"title": "ok", "project_id": 999_999}), "project_id"),
    ];
    for (body, field) in cases {
        let r = app.post(LIST, Some(&admin), &body).await;
        assert_field_error(r, field, &body.to_string()).await;
    }
    assert_eq!(list(&app, &admin, "").await["count"], 0, "nothing created");

    // The limits themselves are allowed; so is an end equal to the start.
    let title = "é".repeat(200);
    let a = create(
        &app,
        &admin,
        json!({"title": title, "description": "d".repeat(20_000),
               "start_time": "2026-11-28T10:00:00Z", "end_time": "2026-11-28T10:00:00Z"}),
    )
    .await;
    assert_eq!(a["title"], title);
    assert_eq!(a["description"].as_str().unwrap().len(), 20_000);
}

#[tokio::test]
async fn bad_enum_values_and_wrong_types_in_a_body_are_400() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // An unknown enum value is a problem of one field (API.md §Errors).
    for (body, field) in [
        (json!({"title": "ok", "type": "party"}), "type"),
        (json!({"title": "ok", "status": "done"}), "status"),
        (json!({"title": "ok", "priority": "urgent"}), "priority"),
        (json!({"title": "ok", "priority": "HIGH"}), "priority"),
    ] {
        let r = app.post(LIST, Some(&admin), &body).await;
        assert_field_error(r, field, &format!("POST {body}")).await;
    }
    for body in [
        json!({}),
        json!({"title": 5}),
        json!({"title": "ok", "start_time": "yesterday"}),
        json!({"title": "ok", "assigned_to": "bob"}),
    ] {
        let r = app.post(LIST, Some(&admin), &body).await;
        assert_400(r, &format!("POST {body}")).await;
    }

    let a = create_titled(&app, &admin, "Target").await;
    for (body, field) in [
        (json!({"type": "party"}), "type"),
        (json!({"status": "done"}), "status"),
        (json!({"priority": "urgent"}), "priority"),
    ] {
        let r = app.patch(&act_path(&a), &admin, &body).await;
        assert_field_error(r, field, &format!("PATCH {body}")).await;
    }
    for body in [
        json!({"title": 5}),
        json!({"start_time": "soon"}),
        json!({"version": "one"}),
    ] {
        let r = app.patch(&act_path(&a), &admin, &body).await;
        assert_400(r, &format!("PATCH {body}")).await;
    }
    assert_eq!(fetch(&app, &admin, &a).await, a, "nothing changed");
    assert_eq!(list(&app, &admin, "").await["count"], 1);
}

#[tokio::test]
async fn patch_validation_errors_name_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = create(
        &app,
        &admin,
        json!({"title": "Grease bearings", "start_time": "2026-11-28T10:00:00Z",
               "end_time": "2026-11-28T11:00:00Z"}),
    )
    .await;
    let cases = [
        (json!({"title": ""}), "title"),
        (json!({"title": "  "}), "title"),
        (json!({"title": "t".repeat(201)}), "title"),
        (json!({"description": "d".repeat(20_001)}), "description"),
        // Checked against the stored start when only the end is given, and vice versa.
        (json!({"end_time": "2026-11-28T09:00:00Z"}), "end_time"),
        (json!({"start_time": "2026-11-28T12:00:00Z"}), "end_time"),
        (json!({"assigned_to": 999_999}), "assigned_to"),
        (json!({"project_id": 999_999}), "project_id"),
    ];
    for (body, field) in cases {
        let r = app.patch(&act_path(&a), &admin, &body).await;
        assert_field_error(r, field, &body.to_string()).await;
    }
    assert_eq!(fetch(&app, &admin, &a).await, a, "nothing changed");

    let b = patch_ok(&app, &admin, &a, json!({"title": "t".repeat(200)})).await;
    assert_eq!(b["title"], "t".repeat(200));
    assert_eq!(b["version"], 2);
}

#[tokio::test]
async fn unknown_activities_are_404_and_delete_is_204_then_404() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for path in ["/api/activities/999999/", "/api/activities/abc/"] {
        assert_error(
            app.get(path, &admin).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let r = app
        .patch("/api/activities/999999/", &admin, &json!({"title": "x"}))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.delete("/api/activities/999999/", &admin).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    let a = create_titled(&app, &admin, "Short-lived").await;
    let keep = create_titled(&app, &admin, "Stays").await;
    let r = app.delete(&act_path(&a), &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.unwrap().is_empty(), "204 has no body");
    let r = app.get(&act_path(&a), &admin).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .patch(&act_path(&a), &admin, &json!({"title": "x"}))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.delete(&act_path(&a), &admin).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let after = list(&app, &admin, "").await;
    assert_eq!(after["count"], 1);
    assert_eq!(ids(&after), vec![id_of(&keep)]);
}

#[tokio::test]
async fn activity_endpoints_require_authentication() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/api/activities/"),
        (Method::POST, "/api/activities/"),
        (Method::GET, "/api/activities/1/"),
        (Method::PATCH, "/api/activities/1/"),
        (Method::DELETE, "/api/activities/1/"),
        (Method::GET, "/api/activities/types/"),
        (Method::GET, "/api/activities/statuses/"),
        (Method::GET, "/api/activities/export.csv"),
    ] {
        let r = app
            .request(method.clone(), path, None)
            .json(&json!({"title": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
}

#[tokio::test]
async fn ids_are_never_reused_after_a_delete_even_across_a_restart() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let first = create_titled(&app, &admin, "First").await;
    let r = app.delete(&act_path(&first), &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let second = create_titled(&app, &admin, "Second").await;
    assert!(id_of(&second) > id_of(&first), "{second} after {first}");

    // Delete the newest, restart, create again: still a new id.
    let r = app.delete(&act_path(&second), &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let app = app.restart().await;
    let admin = app.admin_token().await;
    let third = create_titled(&app, &admin, "Third").await;
    assert!(id_of(&third) > id_of(&second), "{third} after {second}");
}

// ---------------------------------------------------------------------------------------------
// Visibility and permissions

#[tokio::test]
async fn a_user_sees_only_what_they_created_are_assigned_or_share_a_project_on() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (staff, staff_token) = app.user_with_token("sam", "staff").await;
    let (user, token) = app.user_with_token("uma", "user").await;
    let uid = user["id"].as_u64().unwrap();

    let team_project = create_project(&app, &admin, "Team project", None, &[uid]).await;
    let managed = create_project(&app, &admin, "Managed project", Some(uid), &[]).await;
    let left = create_project(&app, &admin, "Left project", None, &[uid]).await;
    let other = create_project(&app, &admin, "Other project", None, &[]).await;

    // Created by the user while on the team, then the user leaves the team.
    let own = create(
        &app,
        &token,
        json!({"title": "Own work", "project_id": left["id"]}),
    )
    .await;
    let r = app
        .delete(&format!("/api/projects/{}/team/{uid}/", left["id"]), &admin)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let hidden = create(
        &app,
        &admin,
        json!({"title": "Hidden", "project_id": other["id"]}),
    )
    .await;
    let hidden_assigned = create(
        &app,
        &admin,
        json!({"title": "Hidden for staff", "project_id": other["id"],
               "assigned_to": staff["id"]}),
    )
    .await;
    let hidden_left = create(
        &app,
        &admin,
        json!({"title": "Hidden after leaving", "project_id": left["id"]}),
    )
    .await;
    let assigned = create(
        &app,
        &admin,
        json!({"title": "Assigned", "project_id": other["id"], "assigned_to": uid}),
    )
    .await;
    let via_team = create(
        &app,
        &admin,
        json!({"title": "Via team", "project_id": team_project["id"]}),
    )
    .await;
    let via_manager = create(
        &app,
        &admin,
        json!({"title": "Via manager", "project_id": managed["id"]}),
    )
    .await;
    let no_project = create(&app, &staff_token, json!({"title": "No project"})).await;

    let visible: BTreeSet<u64> = [&own, &assigned, &via_team, &via_manager, &no_project]
        .into_iter()
        .map(id_of)
        .collect();
    let everything: BTreeSet<u64> = visible
        .iter()
        .copied()
        .chain(
            [&hidden, &hidden_assigned, &hidden_left]
                .into_iter()
                .map(id_of),
        )
        .collect();

    // The list and its count.
    let mine = list(&app, &token, "").await;
    assert_eq!(mine["count"], 5);
    assert_eq!(id_set(&ids(&mine)), visible);
    for (who, t) in [("admin", &admin), ("staff", &staff_token)] {
        let theirs = list(&app, t, "").await;
        assert_eq!(theirs["count"], 8, "{who} sees everything");
        assert_eq!(id_set(&ids(&theirs)), everything, "{who}");
    }

    // Each visible one reads; each invisible one is 404 on every verb, and stays unchanged.
    for a in [&own, &assigned, &via_team, &via_manager, &no_project] {
        assert_eq!(fetch(&app, &token, a).await["id"], a["id"]);
    }
    for a in [&hidden, &hidden_assigned, &hidden_left] {
        let r = app.get(&act_path(a), &token).await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = app
            .patch(&act_path(a), &token, &json!({"title": "Mine now"}))
            .await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = app.delete(&act_path(a), &token).await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(fetch(&app, &staff_token, a).await, *a, "unchanged");
    }

    // Filters do not widen what is seen.
    let in_other = list(&app, &token, &format!("project={}", other["id"])).await;
    assert_eq!(ids(&in_other), vec![id_of(&assigned)]);
    assert_eq!(in_other["count"], 1);
    let admin_id = get_ok(&app, "/api/auth/user/", &admin).await["id"].clone();
    let by_admin = list(&app, &token, &format!("created_by={admin_id}")).await;
    assert_eq!(
        id_set(&ids(&by_admin)),
        id_set(&[id_of(&assigned), id_of(&via_team), id_of(&via_manager)])
    );
    assert!(
        !ids(&by_admin).contains(&id_of(&hidden)),
        "filter by creator keeps visibility"
    );

    // The export shows the same.
    let csv = export(&app, &token, "").await;
    assert_eq!(id_set(&csv_ids(&csv)), visible);
    let csv = export(&app, &staff_token, "").await;
    assert_eq!(id_set(&csv_ids(&csv)), everything);
}

#[tokio::test]
async fn creating_in_a_project_is_for_admin_staff_and_its_members() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("sam", "staff").await;
    let (manager, manager_token) = app.user_with_token("mona", "user").await;
    let (member, member_token) = app.user_with_token("tim", "user").await;
    let (_, outsider) = app.user_with_token("otto", "user").await;
    let project = create_project(
        &app,
        &admin,
        "Press line",
        manager["id"].as_u64(),
        &[member["id"].as_u64().unwrap()],
    )
    .await;
    let pid = &project["id"];

    for (who, token) in [
        ("admin", &admin),
        ("staff", &staff),
        ("manager", &manager_token),
        ("team member", &member_token),
    ] {
        let r = app
            .post(
                LIST,
                Some(token),
                &json!({"title": format!("By {who}"), "project_id": pid}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{who} creates in project");
        assert_eq!(json_of(r).await["project_id"], *pid);
    }

    // A user outside the project (who cannot even see it) is refused, and nothing is created.
    let r = app
        .post(
            LIST,
            Some(&outsider),
            &json!({"title": "Sneaky", "project_id": pid}),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(list(&app, &admin, "").await["count"], 4);

    // Without a project anyone may create.
    let free = create(&app, &outsider, json!({"title": "Free"})).await;
    assert!(free["project_id"].is_null());
    // ... but not move it into a project they are not a member of.
    let r = app
        .patch(&act_path(&free), &outsider, &json!({"project_id": pid}))
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(fetch(&app, &outsider, &free).await, free);
    assert_eq!(list(&app, &admin, "").await["count"], 5);
}

#[tokio::test]
async fn update_is_for_admin_staff_creator_and_assignee() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("sam", "staff").await;
    let (_, creator) = app.user_with_token("cleo", "user").await;
    let (assignee, assignee_token) = app.user_with_token("ari", "user").await;
    let (other, other_token) = app.user_with_token("olaf", "user").await;

    let a = create(
        &app,
        &creator,
        json!({"title": "Shared", "assigned_to": assignee["id"]}),
    )
    .await;
    let mut version = 1;
    for (who, token) in [
        ("creator", &creator),
        ("assignee", &assignee_token),
        ("staff", &staff),
        ("admin", &admin),
    ] {
        let b = patch_ok(&app, token, &a, json!({"description": format!("by {who}")})).await;
        version += 1;
        assert_eq!(b["description"], format!("by {who}"));
        assert_eq!(b["version"], version, "{who}");
    }
    // The assignee may move the status too.
    let b = patch_ok(&app, &assignee_token, &a, json!({"status": "in_progress"})).await;
    assert_eq!(b["status"], "in_progress");

    // Another user sees it (no project) but may not change it.
    let before = fetch(&app, &other_token, &a).await;
    let r = app
        .patch(&act_path(&a), &other_token, &json!({"title": "Hijacked"}))
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .patch(&act_path(&a), &other_token, &json!({"status": "on_hold"}))
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(fetch(&app, &admin, &a).await, before, "unchanged");

    // A project member sees a project activity but may not change it.
    let project = create_project(&app, &admin, "Dock", None, &[id_of(&other)]).await;
    let p = create(
        &app,
        &admin,
        json!({"title": "In project", "project_id": project["id"]}),
    )
    .await;
    assert_eq!(fetch(&app, &other_token, &p).await, p);
    let r = app
        .patch(&act_path(&p), &other_token, &json!({"title": "Hijacked"}))
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(fetch(&app, &admin, &p).await, p, "unchanged");
}

#[tokio::test]
async fn delete_is_for_admin_staff_and_creator_only() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("sam", "staff").await;
    let (_, creator) = app.user_with_token("cleo", "user").await;
    let (assignee, assignee_token) = app.user_with_token("ari", "user").await;
    let (other, other_token) = app.user_with_token("olaf", "user").await;

    let a = create(
        &app,
        &creator,
        json!({"title": "Mine", "assigned_to": assignee["id"]}),
    )
    .await;
    for (who, token) in [("assignee", &assignee_token), ("other user", &other_token)] {
        let r = app.delete(&act_path(&a), token).await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(fetch(&app, &admin, &a).await, a, "still there after {who}");
    }
    let r = app.delete(&act_path(&a), &creator).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "creator deletes");

    // A project member who is not the creator may not delete either.
    let project = create_project(&app, &admin, "Dock", None, &[id_of(&other)]).await;
    let p = create(
        &app,
        &admin,
        json!({"title": "In project", "project_id": project["id"]}),
    )
    .await;
    let r = app.delete(&act_path(&p), &other_token).await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;

    // Staff and admin delete what others created.
    let by_user = create_titled(&app, &creator, "Staff deletes").await;
    let r = app.delete(&act_path(&by_user), &staff).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "staff deletes");
    let r = app.delete(&act_path(&p), &staff).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "staff deletes admin's");
    let by_user = create_titled(&app, &creator, "Admin deletes").await;
    let r = app.delete(&act_path(&by_user), &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "admin deletes");
    assert_eq!(list(&app, &admin, "").await["count"], 0);
}

// ---------------------------------------------------------------------------------------------
// Status moves and versions

#[tokio::test]
async fn status_moves_follow_the_contract_table() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("sam", "staff").await;
    let (_, user) = app.user_with_token("cleo", "user").await;
    let allowed = [
        ("planned", "in_progress"),
        ("planned", "on_hold"),
        ("planned", "cancelled"),
        ("in_progress", "on_hold"),
        ("in_progress", "completed"),
        ("in_progress", "cancelled"),
        ("on_hold", "in_progress"),
        ("on_hold", "cancelled"),
    ];
    let staff_only = [("completed", "planned"), ("cancelled", "planned")];

    for from in STATUSES {
        // Setting the same status is a no-op.
        let a = create_titled(&app, &user, &format!("Same {from}")).await;
        let a = walk_to(&app, &user, &a, from).await;
        let same = patch_ok(&app, &user, &a, json!({"status": from})).await;
        assert_eq!(same, a, "{from} -> {from} changes nothing");

        for to in STATUSES {
            if from == to {
                continue;
            }
            let a = create_titled(&app, &user, &format!("{from} to {to}")).await;
            let a = walk_to(&app, &user, &a, from).await;
            let version = a["version"].as_u64().unwrap();
            let r = app
                .patch(&act_path(&a), &user, &json!({"status": to}))
                .await;
            if allowed.contains(&(from, to)) {
                assert_eq!(r.status(), StatusCode::OK, "{from} -> {to}");
                let b = json_of(r).await;
                assert_eq!(b["status"], to);
                assert_eq!(b["version"], version + 1, "{from} -> {to}");
                assert_eq!(fetch(&app, &user, &a).await, b);
            } else if staff_only.contains(&(from, to)) {
                assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
                assert_eq!(fetch(&app, &user, &a).await, a, "{from} -> {to} refused");
                // Staff reopen it; the user walks it back; admin reopens it.
                let b = patch_ok(&app, &staff, &a, json!({"status": to})).await;
                assert_eq!(b["status"], "planned");
                assert_eq!(b["version"], version + 1);
                let b = walk_to(&app, &user, &b, from).await;
                let version = b["version"].as_u64().unwrap();
                let c = patch_ok(&app, &admin, &b, json!({"status": to})).await;
                assert_eq!(c["status"], "planned");
                assert_eq!(c["version"], version + 1);
            } else {
                assert_error(r, StatusCode::CONFLICT, "conflict").await;
                assert_eq!(fetch(&app, &user, &a).await, a, "{from} -> {to} refused");
                // Illegal for admin and staff too.
                for token in [&admin, &staff] {
                    let r = app
                        .patch(&act_path(&a), token, &json!({"status": to}))
                        .await;
                    assert_error(r, StatusCode::CONFLICT, "conflict").await;
                }
                assert_eq!(fetch(&app, &user, &a).await, a, "{from} -> {to} refused");
            }
        }
    }
}

#[tokio::test]
async fn version_grows_by_one_per_change_and_a_patch_that_changes_nothing_keeps_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = create(
        &app,
        &admin,
        json!({"title": "Calibrate", "priority": "high", "type": "quality_check"}),
    )
    .await;
    assert_eq!(a["version"], 1);
    let b = patch_ok(&app, &admin, &a, json!({"title": "Calibrate scale"})).await;
    assert_eq!(b["version"], 2);
    assert_eq!(b["created_at"], a["created_at"]);
    let c = patch_ok(
        &app,
        &admin,
        &a,
        json!({"priority": "low", "type": "inspection"}),
    )
    .await;
    assert_eq!(
        c["version"], 3,
        "several fields in one PATCH are one change"
    );
    assert_eq!(c["title"], "Calibrate scale");

    // Nothing changes: same object back, same version and updated_at.
    for body in [
        json!({}),
        json!({"title": "Calibrate scale"}),
        json!({"priority": "low", "status": "planned"}),
        json!({"assigned_to": null, "project_id": null}),
        json!({"version": 3}),
    ] {
        let d = patch_ok(&app, &admin, &a, body.clone()).await;
        assert_eq!(d, c, "PATCH {body} changes nothing");
    }
    assert_eq!(fetch(&app, &admin, &a).await, c);
    let d = patch_ok(&app, &admin, &a, json!({"status": "in_progress"})).await;
    assert_eq!(d["version"], 4);
}

#[tokio::test]
async fn patch_with_the_current_version_applies_and_a_stale_one_is_409() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = create_titled(&app, &admin, "Restock").await;
    let b = patch_ok(
        &app,
        &admin,
        &a,
        json!({"title": "Restock bins", "version": 1}),
    )
    .await;
    assert_eq!(b["version"], 2);
    assert_eq!(b["title"], "Restock bins");

    for stale in [1, 3, 99] {
        let r = app
            .patch(
                &act_path(&a),
                &admin,
                &json!({"title": "Lost update", "status": "in_progress", "version": stale}),
            )
            .await;
        assert_error(r, StatusCode::CONFLICT, "conflict").await;
    }
    assert_eq!(fetch(&app, &admin, &a).await, b, "nothing changed");
    let c = patch_ok(
        &app,
        &admin,
        &a,
        json!({"status": "in_progress", "version": 2}),
    )
    .await;
    assert_eq!(c["version"], 3);
}

#[tokio::test]
async fn patch_null_clears_nullable_fields_and_absent_fields_stay() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let worker = app.create_user("worker", "user").await;
    let project = create_project(&app, &admin, "Paint shop", None, &[]).await;
    let a = create(
        &app,
        &admin,
        json!({"title": "Mix paint", "description": "Batch 12", "type": "production",
               "priority": "high", "start_time": "2026-11-28T06:00:00Z",
               "end_time": "2026-11-28T08:00:00Z", "assigned_to": worker["id"],
               "project_id": project["id"]}),
    )
    .await;

    let b = patch_ok(&app, &admin, &a, json!({"title": "Mix paint (blue)"})).await;
    for field in FIELDS {
        if !["title", "version", "updated_at"].contains(&field) {
            assert_eq!(b[field], a[field], "{field} stays");
        }
    }

    let c = patch_ok(
        &app,
        &admin,
        &b,
        json!({"assigned_to": null, "project_id": null, "start_time": null, "end_time": null}),
    )
    .await;
    for field in ["assigned_to", "project_id", "start_time", "end_time"] {
        assert!(c[field].is_null(), "{field} cleared in {c}");
    }
    assert_eq!(c["version"], 3);
    for field in [
        "title",
        "description",
        "type",
        "priority",
        "status",
        "created_by",
    ] {
        assert_eq!(c[field], b[field], "{field} stays");
    }
    assert_eq!(fetch(&app, &admin, &a).await, c);

    // Clearing one time leaves the other.
    let d = patch_ok(
        &app,
        &admin,
        &c,
        json!({"start_time": "2026-11-28T06:00:00Z", "end_time": "2026-11-28T07:00:00Z"}),
    )
    .await;
    let e = patch_ok(&app, &admin, &d, json!({"start_time": null})).await;
    assert!(e["start_time"].is_null());
    assert_eq!(e["end_time"], "2026-11-28T07:00:00Z");
}

// ---------------------------------------------------------------------------------------------
// Lists

#[tokio::test]
async fn list_answers_the_envelope_newest_first() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let empty = list(&app, &admin, "").await;
    assert_eq!(
        empty,
        json!({"count": 0, "next": null, "previous": null, "results": []})
    );
    let a = create_titled(&app, &admin, "One").await;
    let b = create_titled(&app, &admin, "Two").await;
    let c = create_titled(&app, &admin, "Three").await;
    let body = list(&app, &admin, "").await;
    assert_eq!(body["count"], 3);
    assert!(body["next"].is_null() && body["previous"].is_null());
    assert_eq!(ids(&body), vec![id_of(&c), id_of(&b), id_of(&a)]);
    for item in body["results"].as_array().unwrap() {
        assert_activity_shape(item);
    }
    assert_eq!(body["results"][2], a, "list rows equal the objects");
    // Without the trailing slash, the same.
    assert_eq!(get_ok(&app, "/api/activities", &admin).await, body);
}

#[tokio::test]
async fn list_filters_by_status_type_priority_people_and_project() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (user, token) = app.user_with_token("uma", "user").await;
    let uid = user["id"].as_u64().unwrap();
    let project = create_project(&app, &admin, "Boiler", None, &[uid]).await;
    let pid = project["id"].as_u64().unwrap();

    create(
        &app,
        &admin,
        json!({"title": "a", "type": "maintenance", "priority": "high"}),
    )
    .await;
    create(
        &app,
        &admin,
        json!({"title": "b", "type": "maintenance", "assigned_to": uid}),
    )
    .await;
    create(
        &app,
        &admin,
        json!({"title": "c", "type": "safety", "priority": "high",
                                "project_id": pid}),
    )
    .await;
    let d = create(
        &app,
        &token,
        json!({"title": "d", "priority": "low",
                                        "project_id": pid}),
    )
    .await;
    patch_ok(&app, &token, &d, json!({"status": "in_progress"})).await;
    let e = create(
        &app,
        &token,
        json!({"title": "e", "type": "training",
                                        "assigned_to": uid}),
    )
    .await;
    patch_ok(&app, &token, &e, json!({"status": "cancelled"})).await;
    create(&app, &admin, json!({"title": "f", "priority": "critical"})).await;

    let everything = all(&app, &admin).await;
    assert_eq!(everything.len(), 6);
    let admin_id = get_ok(&app, "/api/auth/user/", &admin).await["id"]
        .as_u64()
        .unwrap();
    type Pred = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(String, Pred)> = vec![
        (
            "status=planned".into(),
            Box::new(|a: &Value| a["status"] == "planned"),
        ),
        (
            "status=in_progress".into(),
            Box::new(|a: &Value| a["status"] == "in_progress"),
        ),
        (
            "status=cancelled".into(),
            Box::new(|a: &Value| a["status"] == "cancelled"),
        ),
        (
            "type=maintenance".into(),
            Box::new(|a: &Value| a["type"] == "maintenance"),
        ),
        (
            "type=other".into(),
            Box::new(|a: &Value| a["type"] == "other"),
        ),
        (
            "priority=high".into(),
            Box::new(|a: &Value| a["priority"] == "high"),
        ),
        (
            "priority=medium".into(),
            Box::new(|a: &Value| a["priority"] == "medium"),
        ),
        (
            format!("assigned_to={uid}"),
            Box::new(move |a: &Value| a["assigned_to"] == uid),
        ),
        (
            format!("created_by={uid}"),
            Box::new(move |a: &Value| a["created_by"] == uid),
        ),
        (
            format!("created_by={admin_id}"),
            Box::new(move |a: &Value| a["created_by"] == admin_id),
        ),
        (
            format!("project={pid}"),
            Box::new(move |a: &Value| a["project_id"] == pid),
        ),
        (
            "type=maintenance&priority=high".into(),
            Box::new(|a: &Value| a["type"] == "maintenance" && a["priority"] == "high"),
        ),
        (
            format!("project={pid}&status=planned"),
            Box::new(move |a: &Value| a["project_id"] == pid && a["status"] == "planned"),
        ),
        ("assigned_to=999999".into(), Box::new(|_: &Value| false)),
        ("type=downtime".into(), Box::new(|_: &Value| false)),
    ];
    for (query, pred) in cases {
        let expected: Vec<u64> = everything.iter().filter(|a| pred(a)).map(id_of).collect();
        let body = list(&app, &admin, &query).await;
        assert_eq!(ids(&body), expected, "?{query}");
        assert_eq!(body["count"], expected.len(), "?{query}");
        // The export applies the same filters.
        let csv = export(&app, &admin, &query).await;
        assert_eq!(csv_ids(&csv), expected, "export ?{query}");
    }
}

#[tokio::test]
async fn list_filters_by_start_window_inclusively_with_times_and_dates() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let jan1 = create(
        &app,
        &admin,
        json!({"title": "a", "start_time": "2026-01-01T00:00:00Z"}),
    )
    .await;
    let jan2 = create(
        &app,
        &admin,
        json!({"title": "b", "start_time": "2026-01-02T12:00:00Z"}),
    )
    .await;
    let jan3 = create(
        &app,
        &admin,
        json!({"title": "c", "start_time": "2026-01-03T00:00:00Z"}),
    )
    .await;
    create_titled(&app, &admin, "no start").await;
    let (a, b, c) = (id_of(&jan1), id_of(&jan2), id_of(&jan3));

    let cases: [(&str, Vec<u64>); 9] = [
        ("start_after=2026-01-02T12:00:00Z", vec![c, b]),
        ("start_before=2026-01-02T12:00:00Z", vec![b, a]),
        ("start_after=2026-01-02T12:00:01Z", vec![c]),
        ("start_after=2026-01-02", vec![c, b]),
        ("start_before=2026-01-03", vec![c, b, a]),
        ("start_before=2026-01-02", vec![a]),
        (
            "start_after=2026-01-01T00:00:01Z&start_before=2026-01-02T23:59:59Z",
            vec![b],
        ),
        ("start_after=2026-01-02T14:00:00%2B02:00", vec![c, b]),
        ("start_after=2027-01-01", vec![]),
    ];
    for (query, expected) in cases {
        let body = list(&app, &admin, query).await;
        assert_eq!(ids(&body), expected, "?{query}");
        assert_eq!(body["count"], expected.len(), "?{query}");
    }
}

#[tokio::test]
async fn list_q_needs_every_word_in_title_or_description_ignoring_case() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = create(&app, &admin, json!({"title": "Replace pump seal"})).await;
    let b = create(
        &app,
        &admin,
        json!({"title": "Inspect conveyor", "description": "Check the PUMP housing and Seal"}),
    )
    .await;
    let c = create(
        &app,
        &admin,
        json!({"title": "Pump calibration", "description": "quarterly"}),
    )
    .await;
    create(
        &app,
        &admin,
        json!({"title": "Sweep floor", "description": "daily"}),
    )
    .await;
    let (a, b, c) = (id_of(&a), id_of(&b), id_of(&c));

    let cases: [(&str, Vec<u64>); 7] = [
        ("q=pump", vec![c, b, a]),
        ("q=PUMP%20seal", vec![b, a]),
        ("q=seal+pump", vec![b, a]),
        ("q=calibration%20QUARTERLY", vec![c]),
        ("q=seal%20quarterly", vec![]),
        ("q=housing", vec![b]),
        ("q=pump&priority=medium&ordering=created_at", vec![a, b, c]),
    ];
    for (query, expected) in cases {
        let body = list(&app, &admin, query).await;
        assert_eq!(ids(&body), expected, "?{query}");
        assert_eq!(body["count"], expected.len(), "?{query}");
    }
    assert_eq!(
        csv_ids(&export(&app, &admin, "q=PUMP%20seal").await),
        vec![b, a]
    );
}

#[tokio::test]
async fn list_orders_by_each_field_both_ways() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let banana = create(
        &app,
        &admin,
        json!({"title": "banana", "priority": "low",
               "start_time": "2026-03-02T00:00:00Z", "end_time": "2026-03-05T00:00:00Z"}),
    )
    .await;
    let apple = create(
        &app,
        &admin,
        json!({"title": "Apple", "priority": "critical",
               "start_time": "2026-03-01T00:00:00Z", "end_time": "2026-03-06T00:00:00Z"}),
    )
    .await;
    let cherry = create(
        &app,
        &admin,
        json!({"title": "Cherry", "priority": "medium"}),
    )
    .await;
    let date = create(
        &app,
        &admin,
        json!({"title": "date", "priority": "high",
               "start_time": "2026-03-03T00:00:00Z", "end_time": "2026-03-04T00:00:00Z"}),
    )
    .await;
    let (ba, ap, ch, da) = (id_of(&banana), id_of(&apple), id_of(&cherry), id_of(&date));

    let cases: [(&str, Vec<u64>); 9] = [
        ("", vec![da, ch, ap, ba]),
        ("ordering=-created_at", vec![da, ch, ap, ba]),
        ("ordering=created_at", vec![ba, ap, ch, da]),
        ("ordering=title", vec![ap, ba, ch, da]),
        ("ordering=-title", vec![da, ch, ba, ap]),
        ("ordering=priority", vec![ba, ch, da, ap]),
        ("ordering=-priority", vec![ap, da, ch, ba]),
        // Without a time: after those with one, ascending.
        ("ordering=start_time", vec![ap, ba, da, ch]),
        ("ordering=end_time", vec![da, ba, ap, ch]),
    ];
    for (query, expected) in cases {
        assert_eq!(ids(&list(&app, &admin, query).await), expected, "?{query}");
    }
    // Descending by time: those with one, latest first (where the one without goes is not
    // pinned by the contract).
    for (query, expected) in [
        ("ordering=-start_time", vec![da, ba, ap]),
        ("ordering=-end_time", vec![ap, ba, da]),
    ] {
        let got: Vec<u64> = ids(&list(&app, &admin, query).await)
            .into_iter()
            .filter(|id| *id != ch)
            .collect();
        assert_eq!(got, expected, "?{query}");
    }
    // Ordering and paging together.
    let page = list(&app, &admin, "ordering=title&page=2&page_size=2").await;
    assert_eq!(ids(&page), vec![ch, da]);

    // updated_at: change one a second later; it sorts last ascending, first descending.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    patch_ok(&app, &admin, &banana, json!({"description": "ripe"})).await;
    let up = ids(&list(&app, &admin, "ordering=updated_at").await);
    assert_eq!(up.last(), Some(&ba), "{up:?}");
    let down = ids(&list(&app, &admin, "ordering=-updated_at").await);
    assert_eq!(down.first(), Some(&ba), "{down:?}");
    // created_at does not move.
    assert_eq!(
        ids(&list(&app, &admin, "ordering=created_at").await),
        vec![ba, ap, ch, da]
    );
}

#[tokio::test]
async fn list_rejects_bad_filters_orderings_and_pages() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    create_titled(&app, &admin, "Something").await;
    for query in [
        "status=bogus",
        "type=party",
        "priority=urgent",
        "assigned_to=abc",
        "assigned_to=-1",
        "created_by=x",
        "project=1.5",
        "start_after=notatime",
        "start_before=2026-13-01",
        "start_after=28.11.2026",
        "ordering=bogus",
        "ordering=-colour",
        "ordering=id;drop",
        "page=0",
        "page_size=0",
        "page=abc",
        "page_size=-5",
    ] {
        let r = app.get(&format!("{LIST}?{query}"), &admin).await;
        assert_400(r, &format!("list ?{query}")).await;
    }
    for query in ["status=bogus", "start_after=notatime", "ordering=bogus"] {
        let r = app
            .get(&format!("/api/activities/export.csv?{query}"), &admin)
            .await;
        assert_400(r, &format!("export ?{query}")).await;
    }
    // A filter error names the parameter.
    let r = app.get(&format!("{LIST}?status=bogus"), &admin).await;
    assert_field_error(r, "status", "?status=bogus").await;
}

#[tokio::test]
async fn list_pages_with_links_that_keep_the_other_parameters() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut planned = Vec::new();
    for i in 0..5 {
        planned.push(id_of(
            &create_titled(&app, &admin, &format!("Planned {i}")).await,
        ));
    }
    let started = create_titled(&app, &admin, "Started").await;
    patch_ok(&app, &admin, &started, json!({"status": "in_progress"})).await;
    planned.reverse(); // newest first

    let page1 = list(&app, &admin, "status=planned&page_size=2").await;
    assert_eq!(page1["count"], 5);
    assert!(page1["previous"].is_null());
    assert_eq!(ids(&page1), planned[0..2]);
    let (path, query) = parse_link(&page1["next"]);
    assert_eq!(path, "/api/activities/");
    assert_eq!(
        query,
        params(&[("status", "planned"), ("page", "2"), ("page_size", "2")])
    );

    let next = page1["next"].as_str().unwrap().to_string();
    let page2 = get_ok(&app, &next, &admin).await;
    assert_eq!(page2["count"], 5);
    assert_eq!(ids(&page2), planned[2..4]);
    let (_, prev) = parse_link(&page2["previous"]);
    assert_eq!(
        prev,
        params(&[("status", "planned"), ("page", "1"), ("page_size", "2")])
    );
    let (_, next) = parse_link(&page2["next"]);
    assert_eq!(
        next,
        params(&[("status", "planned"), ("page", "3"), ("page_size", "2")])
    );

    let page3 = get_ok(&app, page2["next"].as_str().unwrap(), &admin).await;
    assert_eq!(ids(&page3), planned[4..5]);
    assert!(page3["next"].is_null(), "last page has no next");
    assert!(page3["previous"].is_string());

    // Past the end: empty, same count.
    let page9 = list(&app, &admin, "status=planned&page=9&page_size=2").await;
    assert_eq!(page9["count"], 5);
    assert!(page9["results"].as_array().unwrap().is_empty());
    assert!(page9["next"].is_null());

    // Ordering and q survive in the links too.
    let body = list(&app, &admin, "q=planned&ordering=created_at&page_size=3").await;
    assert_eq!(body["count"], 5);
    let (_, next) = parse_link(&body["next"]);
    assert_eq!(
        next,
        params(&[
            ("q", "planned"),
            ("ordering", "created_at"),
            ("page", "2"),
            ("page_size", "3")
        ])
    );
    let rest = get_ok(&app, body["next"].as_str().unwrap(), &admin).await;
    let mut both = ids(&body);
    both.extend(ids(&rest));
    let mut oldest_first = planned.clone();
    oldest_first.reverse();
    assert_eq!(both, oldest_first);
}

#[tokio::test]
async fn list_page_size_defaults_to_50_and_is_capped_at_200() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for i in 0..51 {
        create_titled(&app, &admin, &format!("Task {i}")).await;
    }
    let page1 = list(&app, &admin, "").await;
    assert_eq!(page1["count"], 51);
    assert_eq!(page1["results"].as_array().unwrap().len(), 50);
    let (_, next) = parse_link(&page1["next"]);
    assert_eq!(next, params(&[("page", "2"), ("page_size", "50")]));
    let page2 = get_ok(&app, page1["next"].as_str().unwrap(), &admin).await;
    assert_eq!(page2["results"].as_array().unwrap().len(), 1);
    assert!(page2["next"].is_null());

    let big = list(&app, &admin, "page_size=500").await;
    assert_eq!(big["results"].as_array().unwrap().len(), 51);
    assert!(big["next"].is_null());
    // Page 2 of a capped size starts at row 200: its previous link shows the cap.
    let capped = list(&app, &admin, "page=2&page_size=500").await;
    assert_eq!(capped["count"], 51);
    assert!(capped["results"].as_array().unwrap().is_empty());
    let (_, prev) = parse_link(&capped["previous"]);
    assert_eq!(prev, params(&[("page", "1"), ("page_size", "200")]));
}

// ---------------------------------------------------------------------------------------------
// Types, statuses and the CSV export

#[tokio::test]
async fn types_and_statuses_are_listed_in_contract_order() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("uma", "user").await;
    let types = get_ok(&app, "/api/activities/types/", &token).await;
    let types = types.as_array().expect("types is an array");
    let values: Vec<&str> = types.iter().map(|t| t["value"].as_str().unwrap()).collect();
    assert_eq!(
        values,
        [
            "production",
            "maintenance",
            "quality_check",
            "inspection",
            "setup",
            "changeover",
            "downtime",
            "safety",
            "training",
            "other"
        ]
    );
    for t in types {
        let keys: BTreeSet<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["label", "value"].into_iter().collect(), "{t}");
        assert!(t["label"].as_str().is_some_and(|l| !l.is_empty()), "{t}");
    }

    let statuses = get_ok(&app, "/api/activities/statuses", &token).await;
    let statuses = statuses.as_array().expect("statuses is an array");
    let values: Vec<(&str, bool)> = statuses
        .iter()
        .map(|s| {
            (
                s["value"].as_str().unwrap(),
                s["terminal"].as_bool().expect("terminal is a boolean"),
            )
        })
        .collect();
    assert_eq!(
        values,
        [
            ("planned", false),
            ("in_progress", false),
            ("on_hold", false),
            ("completed", true),
            ("cancelled", true)
        ]
    );
    for s in statuses {
        let keys: BTreeSet<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["label", "terminal", "value"].into_iter().collect(),
            "{s}"
        );
        assert!(s["label"].as_str().is_some_and(|l| !l.is_empty()), "{s}");
    }
}

#[tokio::test]
async fn csv_export_has_the_header_crlf_lines_and_rfc4180_quoting() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let worker = app.create_user("worker", "user").await;
    let project = create_project(&app, &admin, "Kiln", None, &[]).await;
    let tricky = create(
        &app,
        &admin,
        json!({"title": "Pump 3, \"urgent\"\nsecond line",
               "description": "a,b \"c\" d\r\nnext line; tab\there",
               "type": "maintenance", "priority": "critical",
               "start_time": "2026-11-28T09:30:00Z", "end_time": "2026-11-28T10:00:00Z",
               "assigned_to": worker["id"], "project_id": project["id"]}),
    )
    .await;
    let plain = create_titled(&app, &admin, "Plain").await;
    let started = create_titled(&app, &admin, "Started").await;
    patch_ok(&app, &admin, &started, json!({"status": "in_progress"})).await;

    let text = export(&app, &admin, "").await;
    let header = "id,title,description,type,status,priority,start_time,end_time,assigned_to,\
                  created_by,project_id,created_at,updated_at,version\r\n";
    assert!(text.starts_with(header), "header first: {text:?}");
    assert!(
        text.contains("\"Pump 3, \"\"urgent\"\"\nsecond line\""),
        "title quoted with doubled quotes: {text:?}"
    );

    let records = parse_csv(&text);
    assert_eq!(records[0], FIELDS.map(String::from).to_vec());
    let listed = all(&app, &admin).await;
    assert_eq!(records.len(), 1 + listed.len());
    // Same rows, same order as the list, every cell equal to the JSON.
    for (row, a) in records[1..].iter().zip(&listed) {
        assert_eq!(row.len(), FIELDS.len(), "{row:?}");
        for (cell, field) in row.iter().zip(FIELDS) {
            assert_eq!(*cell, csv_cell(&a[field]), "{field} of {}", a["id"]);
        }
    }
    let ids_in_csv: Vec<u64> = records[1..].iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(
        ids_in_csv,
        vec![id_of(&started), id_of(&plain), id_of(&tricky)]
    );
    let tricky_row = &records[3];
    assert_eq!(tricky_row[1], tricky["title"].as_str().unwrap());
    assert_eq!(tricky_row[2], tricky["description"].as_str().unwrap());

    // Filters apply; an empty result is the header alone.
    assert_eq!(
        csv_ids(&export(&app, &admin, "status=in_progress").await),
        vec![id_of(&started)]
    );
    assert_eq!(export(&app, &admin, "type=downtime").await, header);
}

// ---------------------------------------------------------------------------------------------
// Project activities

#[tokio::test]
async fn project_activities_are_listed_and_created_under_the_project() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (member, member_token) = app.user_with_token("tim", "user").await;
    let (_, outsider) = app.user_with_token("otto", "user").await;
    let project = create_project(&app, &admin, "Mill", None, &[id_of(&member)]).await;
    let other = create_project(&app, &admin, "Other", None, &[]).await;
    let path = format!("/api/projects/{}/activities/", project["id"]);

    let r = app
        .post(
            &path,
            Some(&member_token),
            &json!({"title": "Sharpen blades"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let by_member = json_of(r).await;
    assert_activity_shape(&by_member);
    assert_eq!(by_member["project_id"], project["id"]);
    assert_eq!(by_member["created_by"], member["id"]);
    // A project_id in the body does not move it elsewhere.
    let r = app
        .post(
            &path,
            Some(&admin),
            &json!({"title": "Oil gears", "project_id": other["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let by_admin = json_of(r).await;
    assert_eq!(by_admin["project_id"], project["id"]);
    create(
        &app,
        &admin,
        json!({"title": "Elsewhere", "project_id": other["id"]}),
    )
    .await;
    create_titled(&app, &admin, "Nowhere").await;

    for token in [&admin, &member_token] {
        let body = get_ok(&app, &path, token).await;
        assert_eq!(body["count"], 2);
        assert_eq!(ids(&body), vec![id_of(&by_admin), id_of(&by_member)]);
    }
    // Filters and paging work within the project; links point at the project's list.
    let body = get_ok(&app, &format!("{path}?ordering=title&page_size=1"), &admin).await;
    assert_eq!(ids(&body), vec![id_of(&by_admin)]);
    let (link_path, query) = parse_link(&body["next"]);
    assert_eq!(link_path, path);
    assert_eq!(
        query,
        params(&[("ordering", "title"), ("page", "2"), ("page_size", "1")])
    );
    let body = get_ok(&app, &format!("{path}?q=blades"), &admin).await;
    assert_eq!(ids(&body), vec![id_of(&by_member)]);

    // An outsider cannot see the project: 404 for its activity list and for creating in it.
    let r = app.get(&path, &outsider).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .post(&path, Some(&outsider), &json!({"title": "x"}))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.get("/api/projects/999999/activities/", &admin).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(list(&app, &admin, "").await["count"], 4);
}

#[tokio::test]
async fn deleting_a_project_keeps_its_activities_without_a_project() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let project = create_project(&app, &admin, "Foundry", None, &[]).await;
    let inside = create(
        &app,
        &admin,
        json!({"title": "Pour", "project_id": project["id"], "priority": "high"}),
    )
    .await;
    let outside = create_titled(&app, &admin, "Unrelated").await;

    let r = app
        .delete(&format!("/api/projects/{}/", project["id"]), &admin)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let after = fetch(&app, &admin, &inside).await;
    assert!(after["project_id"].is_null(), "{after}");
    assert_eq!(after["version"], 2, "the unlinking is a change");
    for field in [
        "id",
        "title",
        "priority",
        "status",
        "created_by",
        "created_at",
    ] {
        assert_eq!(after[field], inside[field], "{field} stays");
    }
    assert_eq!(fetch(&app, &admin, &outside).await, outside);
    assert_eq!(list(&app, &admin, "").await["count"], 2);
    let r = app
        .get(
            &format!("/api/projects/{}/activities/", project["id"]),
            &admin,
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

// ---------------------------------------------------------------------------------------------
// Notifications

#[tokio::test]
async fn assigning_notifies_the_assignee_but_never_the_actor() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_token("ann", "user").await;
    let (bob, bob_token) = app.user_with_token("bob", "user").await;

    let a = create(
        &app,
        &admin,
        json!({"title": "Check valves", "assigned_to": ann["id"]}),
    )
    .await;
    let notes = notifications_of(&app, &ann_token, "activity_assigned").await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    let n = &notes[0];
    let keys: BTreeSet<&str> = n.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["body", "created_at", "id", "kind", "link", "read", "title"]
            .into_iter()
            .collect()
    );
    assert_eq!(n["read"], false);
    assert!(n["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert_rfc3339_utc(&n["created_at"]);
    assert!(
        notifications_of(&app, &bob_token, "activity_assigned")
            .await
            .is_empty()
    );

    // Reassigning by PATCH notifies the new assignee; the same assignee again does not.
    patch_ok(&app, &admin, &a, json!({"assigned_to": bob["id"]})).await;
    assert_eq!(
        notifications_of(&app, &bob_token, "activity_assigned")
            .await
            .len(),
        1
    );
    patch_ok(
        &app,
        &admin,
        &a,
        json!({"assigned_to": bob["id"], "title": "Check valves 2"}),
    )
    .await;
    assert_eq!(
        notifications_of(&app, &bob_token, "activity_assigned")
            .await
            .len(),
        1
    );
    assert_eq!(
        notifications_of(&app, &ann_token, "activity_assigned")
            .await
            .len(),
        1
    );
    // Unassigning notifies nobody.
    patch_ok(&app, &admin, &a, json!({"assigned_to": null})).await;
    assert_eq!(
        notifications_of(&app, &bob_token, "activity_assigned")
            .await
            .len(),
        1
    );

    // Nobody is notified of assigning themselves.
    let me = get_ok(&app, "/api/auth/user/", &admin).await;
    let own = create(
        &app,
        &admin,
        json!({"title": "Mine", "assigned_to": me["id"]}),
    )
    .await;
    patch_ok(&app, &admin, &own, json!({"assigned_to": null})).await;
    patch_ok(&app, &admin, &own, json!({"assigned_to": me["id"]})).await;
    assert!(
        notifications_of(&app, &admin, "activity_assigned")
            .await
            .is_empty()
    );
    create(
        &app,
        &ann_token,
        json!({"title": "Self", "assigned_to": ann["id"]}),
    )
    .await;
    assert_eq!(
        notifications_of(&app, &ann_token, "activity_assigned")
            .await
            .len(),
        1
    );

    // A user assigning someone else notifies them.
    create(
        &app,
        &ann_token,
        json!({"title": "For Bob", "assigned_to": bob["id"]}),
    )
    .await;
    assert_eq!(
        notifications_of(&app, &bob_token, "activity_assigned")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn a_status_change_notifies_creator_and_assignee_but_not_the_actor() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, cleo) = app.user_with_token("cleo", "user").await;
    let (ari, ari_token) = app.user_with_token("ari", "user").await;

    let a = create(
        &app,
        &cleo,
        json!({"title": "Audit", "assigned_to": ari["id"]}),
    )
    .await;
    let count = |v: Vec<Value>| v.len();
    assert_eq!(
        count(notifications_of(&app, &cleo, "activity_status").await),
        0
    );

    // Admin moves it: both hear.
    patch_ok(&app, &admin, &a, json!({"status": "in_progress"})).await;
    assert_eq!(
        count(notifications_of(&app, &cleo, "activity_status").await),
        1
    );
    assert_eq!(
        count(notifications_of(&app, &ari_token, "activity_status").await),
        1
    );
    assert!(
        notifications_of(&app, &admin, "activity_status")
            .await
            .is_empty()
    );

    // The assignee moves it: only the creator hears.
    patch_ok(&app, &ari_token, &a, json!({"status": "on_hold"})).await;
    assert_eq!(
        count(notifications_of(&app, &cleo, "activity_status").await),
        2
    );
    assert_eq!(
        count(notifications_of(&app, &ari_token, "activity_status").await),
        1
    );

    // The creator moves it: only the assignee hears.
    patch_ok(&app, &cleo, &a, json!({"status": "in_progress"})).await;
    assert_eq!(
        count(notifications_of(&app, &cleo, "activity_status").await),
        2
    );
    assert_eq!(
        count(notifications_of(&app, &ari_token, "activity_status").await),
        2
    );

    // Changes that are not status moves, and no-op status PATCHes, notify nobody of status.
    patch_ok(
        &app,
        &admin,
        &a,
        json!({"title": "Audit 2", "status": "in_progress"}),
    )
    .await;
    assert_eq!(
        count(notifications_of(&app, &cleo, "activity_status").await),
        2
    );
    assert_eq!(
        count(notifications_of(&app, &ari_token, "activity_status").await),
        2
    );

    // A status move refused leaves no notification.
    let r = app
        .patch(&act_path(&a), &admin, &json!({"status": "planned"}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(
        count(notifications_of(&app, &cleo, "activity_status").await),
        2
    );

    // Admin moving an unassigned activity of their own notifies nobody.
    let own = create_titled(&app, &admin, "Own").await;
    patch_ok(&app, &admin, &own, json!({"status": "cancelled"})).await;
    assert!(
        notifications_of(&app, &admin, "activity_status")
            .await
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Atomicity

#[tokio::test]
async fn a_failed_write_leaves_nothing_behind() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (user, token) = app.user_with_token("uma", "user").await;
    let a = create_titled(&app, &admin, "Existing").await;

    // Failed creates: nothing stored, no notification to the would-be assignee.
    for (body, field) in [
        (json!({"title": "x", "assigned_to": 999_999}), "assigned_to"),
        (
            json!({"title": "x", "assigned_to": user["id"], "project_id": 999_999}),
            "project_id",
        ),
        (json!({"title": "", "assigned_to": user["id"]}), "title"),
        (
            json!({"title": "x", "assigned_to": user["id"],
                   "start_time": "2026-11-28T10:00:00Z", "end_time": "2026-11-28T09:00:00Z"}),
            "end_time",
        ),
    ] {
        let r = app.post(LIST, Some(&admin), &body).await;
        assert_field_error(r, field, &body.to_string()).await;
    }
    assert_eq!(list(&app, &admin, "").await["count"], 1);
    assert!(
        notifications_of(&app, &token, "activity_assigned")
            .await
            .is_empty()
    );

    // Failed updates: every field stays, the version too, and nobody is notified.
    let cases = [
        (
            json!({"title": "Changed", "status": "completed"}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"title": "Changed", "assigned_to": user["id"], "status": "completed"}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"title": "Changed", "assigned_to": 999_999}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"title": "Changed", "assigned_to": user["id"], "project_id": 999_999}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"title": "Changed", "assigned_to": user["id"], "version": 7}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"description": "Changed", "title": ""}),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, status) in cases {
        let r = app.patch(&act_path(&a), &admin, &body).await;
        assert_eq!(r.status(), status, "PATCH {body}");
        assert_eq!(fetch(&app, &admin, &a).await, a, "after PATCH {body}");
    }
    assert!(
        notifications_of(&app, &token, "activity_assigned")
            .await
            .is_empty()
    );
    assert!(
        notifications_of(&app, &token, "activity_status")
            .await
            .is_empty()
    );

    // A refused status move leaves the version where it was.
    let b = patch_ok(&app, &admin, &a, json!({"status": "in_progress"})).await;
    assert_eq!(b["version"], 2);
    let r = app
        .patch(
            &act_path(&a),
            &admin,
            &json!({"status": "planned", "priority": "low"}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(fetch(&app, &admin, &a).await, b);

    // A forbidden change by a user leaves it too.
    let r = app
        .patch(&act_path(&a), &token, &json!({"title": "Mine"}))
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(fetch(&app, &admin, &a).await, b);
}
