//! `/api/projects/`: shape and defaults, validation and unique names, visibility by role and
//! membership, who may change and delete, list filters/ordering/paging, and teams (listing,
//! adding, removing, the visibility it grants and the notification it sends).

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers

/// POST /api/projects/ as `token`.
async fn create(app: &TestApp, token: &str, body: &Value) -> Response {
    app.post("/api/projects/", Some(token), body).await
}

/// Creates a project as `token`; asserts 201 and returns its JSON.
async fn make(app: &TestApp, token: &str, body: Value) -> Value {
    let r = create(app, token, &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "create project {body}");
    json_of(r).await
}

/// Creates a project with just a name.
async fn make_named(app: &TestApp, token: &str, name: &str) -> Value {
    make(app, token, json!({"name": name})).await
}

fn path_of(project: &Value) -> String {
    format!("/api/projects/{}/", project["id"])
}

fn team_path(project: &Value) -> String {
    format!("/api/projects/{}/team/", project["id"])
}

fn member_path(project: &Value, user: &Value) -> String {
    format!("/api/projects/{}/team/{}/", project["id"], user["id"])
}

/// GET `path` as `token`; asserts 200 and returns the body.
async fn get_ok(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.get(path, token).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    json_of(r).await
}

/// The names in a list body, in order; also checks `count` against a single full page.
fn names(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect()
}

/// GET a project list as `token` and return its names, checking the envelope.
async fn list_names(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let list = get_ok(app, path, token).await;
    let got = names(&list);
    assert_eq!(list["count"], json!(got.len()), "{path}: {list}");
    assert!(
        list["next"].is_null() && list["previous"].is_null(),
        "{list}"
    );
    got
}

fn ids(values: &Value) -> Vec<u64> {
    values
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_u64().expect("id"))
        .collect()
}

fn id_of(value: &Value) -> u64 {
    value["id"].as_u64().expect("id")
}

fn assert_rfc3339_utc(value: &Value) {
    let s = value.as_str().expect("time is a string");
    assert!(s.ends_with('Z'), "{s} is in UTC with Z");
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s} is not RFC 3339: {e}"));
}

fn assert_project_shape(project: &Value) {
    let keys: BTreeSet<&str> = project
        .as_object()
        .expect("project is an object")
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "id",
        "name",
        "description",
        "status",
        "start_date",
        "end_date",
        "manager_id",
        "team_members",
        "created_at",
        "updated_at",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected, "fields of {project}");
    assert!(project["id"].as_u64().is_some_and(|id| id > 0), "{project}");
    assert!(project["name"].is_string() && project["description"].is_string());
    assert!(
        ["planning", "active", "on_hold", "completed", "archived"]
            .contains(&project["status"].as_str().unwrap_or("")),
        "{project}"
    );
    for field in ["start_date", "end_date"] {
        let v = &project[field];
        if !v.is_null() {
            let s = v.as_str().expect("date is a string");
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(s, &format).unwrap_or_else(|e| panic!("{s} is not a date: {e}"));
        }
    }
    assert!(project["manager_id"].as_u64().is_some_and(|id| id > 0));
    assert!(project["team_members"].is_array());
    assert_rfc3339_utc(&project["created_at"]);
    assert_rfc3339_utc(&project["updated_at"]);
}

async fn assert_400(response: Response) -> Value {
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
    body
}

/// Asserts a 400 `validation_error` naming `field`.
async fn assert_field_error(response: Response, field: &str) {
    let err = assert_error(response, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(err["error"]["fields"][field].is_array(), "{field}: {err}");
}

/// The caller's notifications of `kind`.
async fn notifications_of_kind(app: &TestApp, token: &str, kind: &str) -> Vec<Value> {
    let list = get_ok(app, "/api/updates/notifications/?page_size=200", token).await;
    list["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|n| n["kind"] == kind)
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Creating

#[tokio::test]
async fn project_json_has_the_contract_fields_and_defaults() {
    let app = spawn_app().await;
    let (staff, token) = app.user_with_token("foreman", "staff").await;
    let project = make_named(&app, &token, "Line 4 Retrofit").await;
    assert_project_shape(&project);
    assert_eq!(project["name"], "Line 4 Retrofit");
    assert_eq!(project["status"], "planning", "default status");
    assert_eq!(
        project["manager_id"], staff["id"],
        "manager defaults to the caller"
    );
    assert_eq!(project["team_members"], json!([]));
    assert!(project["start_date"].is_null() && project["end_date"].is_null());
    assert_eq!(project["created_at"], project["updated_at"]);

    let stored = get_ok(&app, &path_of(&project), &token).await;
    assert_eq!(stored, project);
    // The path without the trailing slash is served the same.
    let stored = get_ok(&app, &format!("/api/projects/{}", project["id"]), &token).await;
    assert_eq!(stored, project);
}

#[tokio::test]
async fn create_takes_every_field() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let boss = app.create_user("linelead", "user").await;
    let a = app.create_user("anna", "user").await;
    let b = app.create_user("bert", "user").await;
    let project = make(
        &app,
        &admin,
        json!({"name": "Pump Overhaul", "description": "Replace the coolant pumps",
               "status": "active", "start_date": "2026-03-01", "end_date": "2026-04-15",
               "manager_id": boss["id"], "team_members": [a["id"], b["id"], a["id"]]}),
    )
    .await;
    assert_project_shape(&project);
    assert_eq!(project["name"], "Pump Overhaul");
    assert_eq!(project["description"], "Replace the coolant pumps");
    assert_eq!(project["status"], "active");
    assert_eq!(project["start_date"], "2026-03-01");
    assert_eq!(project["end_date"], "2026-04-15");
    assert_eq!(project["manager_id"], boss["id"]);
    let team: BTreeSet<u64> = ids(&project["team_members"]).into_iter().collect();
    assert_eq!(team, [id_of(&a), id_of(&b)].into_iter().collect());
    assert_eq!(
        project["team_members"].as_array().unwrap().len(),
        2,
        "each member once: {project}"
    );
    assert_eq!(get_ok(&app, &path_of(&project), &admin).await, project);

    // Same start and end day is fine.
    let same_day = make(
        &app,
        &admin,
        json!({"name": "One Day", "start_date": "2026-05-05", "end_date": "2026-05-05"}),
    )
    .await;
    assert_eq!(same_day["end_date"], "2026-05-05");
}

#[tokio::test]
async fn only_admin_and_staff_create_projects() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("foreman", "staff").await;
    let (_, user) = app.user_with_token("worker", "user").await;

    let r = create(&app, &user, &json!({"name": "Sneaky"})).await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .post("/api/projects/", None, &json!({"name": "Anonymous"}))
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = app
        .request(Method::GET, "/api/projects/", None)
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    make_named(&app, &admin, "By Admin").await;
    make_named(&app, &staff, "By Staff").await;
    assert_eq!(
        list_names(&app, "/api/projects/", &admin).await,
        ["By Admin", "By Staff"],
        "the user's attempts created nothing"
    );
}

#[tokio::test]
async fn create_validates_name_dates_and_people() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    for name in [json!(""), json!("x".repeat(201))] {
        let r = create(&app, &admin, &json!({"name": name})).await;
        assert_field_error(r, "name").await;
    }
    let r = create(
        &app,
        &admin,
        &json!({"name": "Backwards", "start_date": "2026-05-02", "end_date": "2026-05-01"}),
    )
    .await;
    assert_field_error(r, "end_date").await;

    let r = create(
        &app,
        &admin,
        &json!({"name": "Ghost Boss", "manager_id": 9999}),
    )
    .await;
    assert_field_error(r, "manager_id").await;
    let r = create(
        &app,
        &admin,
        &json!({"name": "Ghost Team", "team_members": [9999]}),
    )
    .await;
    assert_400(r).await;

    for body in [
        json!({}),
        json!({"name": 12}),
        json!({"name": "Bad Status", "status": "done"}),
        json!({"name": "Bad Status", "status": "Active"}),
        json!({"name": "Bad Date", "start_date": "2026/05/01"}),
        json!({"name": "Bad Date", "start_date": "2026-02-30"}),
        json!({"name": "Bad Date", "end_date": "2026-05-01T00:00:00Z"}),
        json!({"name": "Bad Team", "team_members": "everyone"}),
    ] {
        let r = create(&app, &admin, &body).await;
        assert_400(r).await;
    }

    // 200 characters is allowed (counted as characters, not bytes).
    let long = "é".repeat(200);
    let project = make(&app, &admin, json!({"name": long})).await;
    assert_eq!(project["name"], json!(long));

    let list = get_ok(&app, "/api/projects/", &admin).await;
    assert_eq!(list["count"], 1, "only the valid one was created: {list}");
}

#[tokio::test]
async fn names_are_unique_case_insensitively_among_projects_not_archived() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let first = make_named(&app, &admin, "Line 4 Retrofit").await;
    for name in ["Line 4 Retrofit", "line 4 retrofit", "LINE 4 RETROFIT"] {
        let r = create(&app, &admin, &json!({"name": name})).await;
        assert_error(r, StatusCode::CONFLICT, "conflict").await;
    }
    // Renaming another project onto the name is a conflict too.
    let other = make_named(&app, &admin, "Paint Shop").await;
    let r = app
        .patch(
            &path_of(&other),
            &admin,
            &json!({"name": "line 4 RETROFIT"}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(
        get_ok(&app, &path_of(&other), &admin).await["name"],
        "Paint Shop"
    );
    // Renaming a project to its own name in another case is fine.
    let r = app
        .patch(
            &path_of(&first),
            &admin,
            &json!({"name": "LINE 4 Retrofit"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["name"], "LINE 4 Retrofit");

    // Archiving frees the name.
    let r = app
        .patch(&path_of(&first), &admin, &json!({"status": "archived"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["status"], "archived");
    let second = make_named(&app, &admin, "line 4 retrofit").await;
    assert_ne!(second["id"], first["id"]);

    // The archived one cannot come back while the name is taken again.
    let r = app
        .patch(&path_of(&first), &admin, &json!({"status": "active"}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(
        get_ok(&app, &path_of(&first), &admin).await["status"],
        "archived"
    );

    // A rename frees the old name.
    let r = app
        .patch(
            &path_of(&second),
            &admin,
            &json!({"name": "Line 5 Retrofit"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    make_named(&app, &admin, "Line 4 retrofit").await;
}

// ---------------------------------------------------------------------------------------------
// Visibility

#[tokio::test]
async fn users_see_only_projects_they_manage_or_are_on() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (boss, boss_token) = app.user_with_token("linelead", "user").await;
    let (member, member_token) = app.user_with_token("worker", "user").await;
    let (_, outsider) = app.user_with_token("visitor", "user").await;
    let (_, staff) = app.user_with_token("foreman", "staff").await;

    let managed = make(
        &app,
        &admin,
        json!({"name": "Managed", "manager_id": boss["id"]}),
    )
    .await;
    let teamed = make(
        &app,
        &admin,
        json!({"name": "Teamed", "team_members": [member["id"]]}),
    )
    .await;
    let hidden = make_named(&app, &admin, "Hidden").await;

    for token in [&admin, &staff] {
        assert_eq!(
            list_names(&app, "/api/projects/", token).await,
            ["Hidden", "Managed", "Teamed"]
        );
        for p in [&managed, &teamed, &hidden] {
            get_ok(&app, &path_of(p), token).await;
        }
    }

    assert_eq!(
        list_names(&app, "/api/projects/", &boss_token).await,
        ["Managed"]
    );
    assert_eq!(
        get_ok(&app, &path_of(&managed), &boss_token).await["id"],
        managed["id"]
    );
    assert_eq!(
        list_names(&app, "/api/projects/", &member_token).await,
        ["Teamed"]
    );
    get_ok(&app, &path_of(&teamed), &member_token).await;
    assert!(
        list_names(&app, "/api/projects/", &outsider)
            .await
            .is_empty()
    );

    for (token, p) in [
        (&boss_token, &teamed),
        (&boss_token, &hidden),
        (&member_token, &managed),
        (&member_token, &hidden),
        (&outsider, &managed),
        (&outsider, &teamed),
    ] {
        let r = app.get(&path_of(p), token).await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = app.get(&team_path(p), token).await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    }
    // An invisible project answers like one that does not exist.
    let r = app.get("/api/projects/9999/", &outsider).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    // Filters do not leak them either.
    let path = format!("/api/projects/?manager={}", boss["id"]);
    assert!(list_names(&app, &path, &outsider).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Changing

#[tokio::test]
async fn the_manager_and_admins_update_a_project() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, manager) = app.user_with_token("foreman", "staff").await;
    let project = make(
        &app,
        &manager,
        json!({"name": "Conveyor", "description": "Belt swap", "start_date": "2026-01-10",
               "end_date": "2026-02-10"}),
    )
    .await;

    let r = app
        .patch(
            &path_of(&project),
            &manager,
            &json!({"name": "Conveyor B", "status": "active"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert_project_shape(&body);
    assert_eq!(body["id"], project["id"]);
    assert_eq!(body["name"], "Conveyor B");
    assert_eq!(body["status"], "active");
    // Fields not given stay.
    assert_eq!(body["description"], "Belt swap");
    assert_eq!(body["start_date"], "2026-01-10");
    assert_eq!(body["end_date"], "2026-02-10");
    assert_eq!(body["manager_id"], project["manager_id"]);
    assert_eq!(body["created_at"], project["created_at"]);
    assert!(
        body["updated_at"].as_str().unwrap() >= project["updated_at"].as_str().unwrap(),
        "{body}"
    );

    let r = app
        .patch(
            &path_of(&project),
            &admin,
            &json!({"description": "Belt and rollers", "end_date": null, "status": "on_hold"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert_eq!(body["description"], "Belt and rollers");
    assert!(body["end_date"].is_null(), "null clears the date: {body}");
    assert_eq!(body["status"], "on_hold");
    assert_eq!(body["name"], "Conveyor B");

    let stored = get_ok(&app, &path_of(&project), &manager).await;
    assert_eq!(stored, body);
}

#[tokio::test]
async fn update_validates_like_create() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let project = make(
        &app,
        &admin,
        json!({"name": "Boiler", "start_date": "2026-06-01", "end_date": "2026-06-30"}),
    )
    .await;
    for name in [json!(""), json!("x".repeat(201))] {
        let r = app
            .patch(&path_of(&project), &admin, &json!({"name": name}))
            .await;
        assert_field_error(r, "name").await;
    }
    let r = app
        .patch(
            &path_of(&project),
            &admin,
            &json!({"end_date": "2026-05-31"}),
        )
        .await;
    assert_field_error(r, "end_date").await;
    // Moving the start past the stored end is caught too.
    let r = app
        .patch(
            &path_of(&project),
            &admin,
            &json!({"start_date": "2026-07-01"}),
        )
        .await;
    assert_field_error(r, "end_date").await;
    let r = app
        .patch(&path_of(&project), &admin, &json!({"manager_id": 9999}))
        .await;
    assert_field_error(r, "manager_id").await;
    for body in [
        json!({"status": "finished"}),
        json!({"start_date": "June"}),
        json!({"name": false}),
    ] {
        let r = app.patch(&path_of(&project), &admin, &body).await;
        assert_400(r).await;
    }
    let stored = get_ok(&app, &path_of(&project), &admin).await;
    assert_eq!(stored, project, "nothing changed");

    let r = app
        .patch("/api/projects/9999/", &admin, &json!({"name": "Nope"}))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn only_admins_and_the_manager_update_a_project() {
    let app = spawn_app().await;
    let (_, manager) = app.user_with_token("foreman", "staff").await;
    let (_, other_staff) = app.user_with_token("planner", "staff").await;
    let (member, member_token) = app.user_with_token("worker", "user").await;
    let (_, outsider) = app.user_with_token("visitor", "user").await;
    let project = make(
        &app,
        &manager,
        json!({"name": "Kiln", "team_members": [member["id"]]}),
    )
    .await;

    for token in [&other_staff, &member_token] {
        let r = app
            .patch(&path_of(&project), token, &json!({"name": "Hijacked"}))
            .await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let r = app
        .patch(&path_of(&project), &outsider, &json!({"name": "Hijacked"}))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(get_ok(&app, &path_of(&project), &manager).await, project);

    // A `user` who manages a project may change it.
    let (boss, boss_token) = app.user_with_token("linelead", "user").await;
    let r = app
        .patch(
            &path_of(&project),
            &manager,
            &json!({"manager_id": boss["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["manager_id"], boss["id"]);
    let r = app
        .patch(
            &path_of(&project),
            &boss_token,
            &json!({"status": "active"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // The former manager (staff) no longer may.
    let r = app
        .patch(
            &path_of(&project),
            &manager,
            &json!({"status": "completed"}),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn only_admins_delete_projects_and_activities_are_detached() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, manager) = app.user_with_token("foreman", "staff").await;
    let (_, other_staff) = app.user_with_token("planner", "staff").await;
    let project = make_named(&app, &manager, "Retired Line").await;

    let r = app
        .post(
            "/api/activities/",
            Some(&manager),
            &json!({"title": "Dismantle", "project_id": project["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let activity = json_of(r).await;
    assert_eq!(activity["project_id"], project["id"]);

    for token in [&manager, &other_staff] {
        let r = app.delete(&path_of(&project), token).await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    get_ok(&app, &path_of(&project), &admin).await;

    let r = app.delete(&path_of(&project), &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for token in [&admin, &manager] {
        let r = app.get(&path_of(&project), token).await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
        assert!(list_names(&app, "/api/projects/", token).await.is_empty());
    }
    let r = app.delete(&path_of(&project), &admin).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    let stored = get_ok(
        &app,
        &format!("/api/activities/{}/", activity["id"]),
        &admin,
    )
    .await;
    assert_eq!(stored["title"], "Dismantle");
    assert!(stored["project_id"].is_null(), "detached: {stored}");

    // The name is free again.
    make_named(&app, &admin, "Retired Line").await;
}

// ---------------------------------------------------------------------------------------------
// The list

#[tokio::test]
async fn list_filters_by_status_manager_member_and_words() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let boss = app.create_user("linelead", "user").await;
    let anna = app.create_user("anna", "user").await;
    let bert = app.create_user("bert", "user").await;
    make(
        &app,
        &admin,
        json!({"name": "Pump Overhaul", "description": "Coolant pumps on line 2",
               "status": "active", "manager_id": boss["id"], "team_members": [anna["id"]]}),
    )
    .await;
    make(
        &app,
        &admin,
        json!({"name": "Paint Shop", "description": "New booth, overhaul of the dryer",
               "status": "planning", "team_members": [anna["id"], bert["id"]]}),
    )
    .await;
    make(
        &app,
        &admin,
        json!({"name": "Warehouse", "description": "Racking",
               "status": "active", "manager_id": boss["id"]}),
    )
    .await;
    make(
        &app,
        &admin,
        json!({"name": "Old Pumps", "description": "done", "status": "archived"}),
    )
    .await;

    let get = |path: String| {
        let app = &app;
        let admin = &admin;
        async move { list_names(app, &path, admin).await }
    };
    assert_eq!(
        get("/api/projects/?status=active".into()).await,
        ["Pump Overhaul", "Warehouse"]
    );
    assert_eq!(
        get("/api/projects/?status=archived".into()).await,
        ["Old Pumps"]
    );
    assert!(get("/api/projects/?status=on_hold".into()).await.is_empty());
    assert_eq!(
        get(format!("/api/projects/?manager={}", boss["id"])).await,
        ["Pump Overhaul", "Warehouse"]
    );
    assert_eq!(
        get("/api/projects/?manager=1".into()).await,
        ["Old Pumps", "Paint Shop"]
    );
    assert_eq!(
        get(format!("/api/projects/?member={}", anna["id"])).await,
        ["Paint Shop", "Pump Overhaul"]
    );
    assert_eq!(
        get(format!("/api/projects/?member={}", bert["id"])).await,
        ["Paint Shop"]
    );
    assert!(
        get(format!("/api/projects/?member={}", boss["id"]))
            .await
            .is_empty(),
        "the manager is not a team member"
    );
    // q: every word must appear, in the name or the description, in any case.
    assert_eq!(
        get("/api/projects/?q=overhaul".into()).await,
        ["Paint Shop", "Pump Overhaul"]
    );
    assert_eq!(
        get("/api/projects/?q=PUMP".into()).await,
        ["Old Pumps", "Pump Overhaul"]
    );
    assert_eq!(
        get("/api/projects/?q=overhaul%20coolant".into()).await,
        ["Pump Overhaul"]
    );
    assert_eq!(
        get("/api/projects/?q=dryer+overhaul".into()).await,
        ["Paint Shop"]
    );
    assert!(
        get("/api/projects/?q=overhaul%20racking".into())
            .await
            .is_empty()
    );
    // Filters combine.
    assert_eq!(
        get(format!(
            "/api/projects/?status=active&member={}",
            anna["id"]
        ))
        .await,
        ["Pump Overhaul"]
    );
    assert_eq!(
        get(format!("/api/projects/?q=pump&manager={}", boss["id"])).await,
        ["Pump Overhaul"]
    );
}

#[tokio::test]
async fn list_orders_by_name_dates_and_created_at() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    make(
        &app,
        &admin,
        json!({"name": "bravo", "start_date": "2026-03-01", "end_date": "2026-03-20"}),
    )
    .await;
    // Creation times have whole seconds: make the order unambiguous.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    make(
        &app,
        &admin,
        json!({"name": "Charlie", "start_date": "2026-01-01", "end_date": "2026-12-31"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    make(
        &app,
        &admin,
        json!({"name": "alpha", "start_date": "2026-02-01", "end_date": "2026-02-02"}),
    )
    .await;

    let get = |ordering: &'static str| {
        let app = &app;
        let admin = &admin;
        async move { list_names(app, &format!("/api/projects/?ordering={ordering}"), admin).await }
    };
    assert_eq!(
        list_names(&app, "/api/projects/", &admin).await,
        ["alpha", "bravo", "Charlie"],
        "default is name, ignoring case"
    );
    assert_eq!(get("name").await, ["alpha", "bravo", "Charlie"]);
    assert_eq!(get("-name").await, ["Charlie", "bravo", "alpha"]);
    assert_eq!(get("start_date").await, ["Charlie", "alpha", "bravo"]);
    assert_eq!(get("-start_date").await, ["bravo", "alpha", "Charlie"]);
    assert_eq!(get("end_date").await, ["alpha", "bravo", "Charlie"]);
    assert_eq!(get("-end_date").await, ["Charlie", "bravo", "alpha"]);
    assert_eq!(get("created_at").await, ["bravo", "Charlie", "alpha"]);
    assert_eq!(get("-created_at").await, ["alpha", "Charlie", "bravo"]);
}

#[tokio::test]
async fn list_rejects_bad_filters_ordering_and_paging() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("foreman", "staff").await;
    for query in [
        "status=done",
        "status=Active",
        "manager=abc",
        "manager=0",
        "manager=-3",
        "member=x",
        "member=0",
        "ordering=manager_id",
        "ordering=description",
        "ordering=--name",
        "ordering=name-",
        "page=0",
        "page_size=0",
        "page=abc",
        "page_size=-1",
    ] {
        let r = app.get(&format!("/api/projects/?{query}"), &token).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_400(r).await;
    }
}

#[tokio::test]
async fn list_pages_with_next_and_previous_links() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for name in ["Ash", "Birch", "Cedar"] {
        make_named(&app, &admin, name).await;
    }
    let p1 = get_ok(&app, "/api/projects/?page_size=2", &admin).await;
    assert_eq!(p1["count"], 3);
    assert_eq!(names(&p1), ["Ash", "Birch"]);
    assert!(p1["previous"].is_null());
    assert_eq!(p1["next"], "/api/projects/?page=2&page_size=2");
    let p2 = get_ok(&app, p1["next"].as_str().unwrap(), &admin).await;
    assert_eq!(p2["count"], 3);
    assert_eq!(names(&p2), ["Cedar"]);
    assert!(p2["next"].is_null());
    assert_eq!(p2["previous"], "/api/projects/?page=1&page_size=2");
    for p in p1["results"].as_array().unwrap() {
        assert_project_shape(p);
    }
}

// ---------------------------------------------------------------------------------------------
// Teams

#[tokio::test]
async fn team_members_are_added_listed_and_removed() {
    let app = spawn_app().await;
    let (_, manager) = app.user_with_token("foreman", "staff").await;
    let worker = app.create_user("worker", "user").await;
    let helper = app.create_user("helper", "user").await;
    let project = make_named(&app, &manager, "Press Line").await;

    let team = get_ok(&app, &team_path(&project), &manager).await;
    assert_eq!(team, json!([]));

    let r = app
        .post(
            &team_path(&project),
            Some(&manager),
            &json!({"user_id": worker["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let team = json_of(r).await;
    let listed: Vec<u64> = team.as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(listed, [id_of(&worker)]);
    assert_eq!(team[0]["username"], "worker");
    assert_eq!(team[0]["role"], "user");
    assert_eq!(team[0]["is_active"], true);
    assert!(team[0]["display_name"].is_string());
    assert!(team[0].get("password_hash").is_none());

    // Twice is not an error, and the member is listed once.
    for _ in 0..2 {
        let r = app
            .post(
                &team_path(&project),
                Some(&manager),
                &json!({"user_id": worker["id"]}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let listed: Vec<u64> = json_of(r)
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect();
        assert_eq!(listed, [id_of(&worker)]);
    }
    let r = app
        .post(
            &team_path(&project),
            Some(&manager),
            &json!({"user_id": helper["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let listed: BTreeSet<u64> = json_of(r)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(
        listed,
        [id_of(&worker), id_of(&helper)].into_iter().collect()
    );

    let stored = get_ok(&app, &path_of(&project), &manager).await;
    let members: BTreeSet<u64> = ids(&stored["team_members"]).into_iter().collect();
    assert_eq!(
        members,
        [id_of(&worker), id_of(&helper)].into_iter().collect()
    );
    assert_eq!(stored["team_members"].as_array().unwrap().len(), 2);

    // Unknown users and bad bodies.
    let r = app
        .post(
            &team_path(&project),
            Some(&manager),
            &json!({"user_id": 9999}),
        )
        .await;
    assert_400(r).await;
    for body in [json!({}), json!({"user_id": "worker"})] {
        let r = app.post(&team_path(&project), Some(&manager), &body).await;
        assert_400(r).await;
    }

    let r = app.delete(&member_path(&project, &worker), &manager).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let team = get_ok(&app, &team_path(&project), &manager).await;
    let listed: Vec<u64> = team.as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(listed, [id_of(&helper)]);
    assert_eq!(
        ids(&get_ok(&app, &path_of(&project), &manager).await["team_members"]),
        [id_of(&helper)]
    );
    // Removing a non-member is not an error either.
    let r = app.delete(&member_path(&project, &worker), &manager).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .delete(
            &format!("/api/projects/{}/team/9999/", project["id"]),
            &manager,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // A project that does not exist has no team.
    let r = app.get("/api/projects/9999/team/", &manager).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .post(
            "/api/projects/9999/team/",
            Some(&manager),
            &json!({"user_id": worker["id"]}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn team_list_shows_email_only_to_admins_and_the_user() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("foreman", "staff").await;
    let (worker, worker_token) = app.user_with_token("worker", "user").await;
    let helper = app.create_user("helper", "user").await;
    let project = make(
        &app,
        &admin,
        json!({"name": "Press Line", "team_members": [worker["id"], helper["id"]]}),
    )
    .await;

    let team = get_ok(&app, &team_path(&project), &admin).await;
    assert_eq!(team.as_array().unwrap().len(), 2);
    for member in team.as_array().unwrap() {
        assert!(member["email"].is_string(), "admin sees email: {member}");
    }
    let team = get_ok(&app, &team_path(&project), &staff).await;
    for member in team.as_array().unwrap() {
        assert!(
            member.get("email").is_none(),
            "staff sees no email: {member}"
        );
        assert!(member["username"].is_string());
    }
    let team = get_ok(&app, &team_path(&project), &worker_token).await;
    for member in team.as_array().unwrap() {
        let own = member["id"] == worker["id"];
        assert_eq!(member.get("email").is_some(), own, "{member}");
        if own {
            assert_eq!(member["email"], "worker@plant.test");
        }
    }
    // The answer to POST is in the same form.
    let r = app
        .post(
            &team_path(&project),
            Some(&staff),
            &json!({"user_id": worker["id"]}),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .post(
            &team_path(&project),
            Some(&admin),
            &json!({"user_id": worker["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for member in json_of(r).await.as_array().unwrap() {
        assert!(member["email"].is_string(), "{member}");
    }
}

#[tokio::test]
async fn only_admins_and_the_manager_change_the_team() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (boss, boss_token) = app.user_with_token("linelead", "user").await;
    let (_, staff) = app.user_with_token("foreman", "staff").await;
    let (member, member_token) = app.user_with_token("worker", "user").await;
    let (outsider, outsider_token) = app.user_with_token("visitor", "user").await;
    let project = make(
        &app,
        &admin,
        json!({"name": "Press Line", "manager_id": boss["id"], "team_members": [member["id"]]}),
    )
    .await;

    for token in [&staff, &member_token] {
        let r = app
            .post(
                &team_path(&project),
                Some(token),
                &json!({"user_id": outsider["id"]}),
            )
            .await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.delete(&member_path(&project, &member), token).await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let r = app
        .post(
            &team_path(&project),
            Some(&outsider_token),
            &json!({"user_id": outsider["id"]}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .delete(&member_path(&project, &member), &outsider_token)
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        ids(&get_ok(&app, &path_of(&project), &admin).await["team_members"]),
        [id_of(&member)],
        "nothing changed"
    );

    // The manager (a plain user) and an admin may.
    let r = app
        .post(
            &team_path(&project),
            Some(&boss_token),
            &json!({"user_id": outsider["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.delete(&member_path(&project, &member), &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        ids(&get_ok(&app, &path_of(&project), &admin).await["team_members"]),
        [id_of(&outsider)]
    );
}

#[tokio::test]
async fn joining_a_team_grants_visibility_and_leaving_takes_it_away() {
    let app = spawn_app().await;
    let (_, manager) = app.user_with_token("foreman", "staff").await;
    let (worker, worker_token) = app.user_with_token("worker", "user").await;
    let project = make_named(&app, &manager, "Press Line").await;

    let r = app.get(&path_of(&project), &worker_token).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    let r = app
        .post(
            &team_path(&project),
            Some(&manager),
            &json!({"user_id": worker["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let seen = get_ok(&app, &path_of(&project), &worker_token).await;
    assert_eq!(seen["id"], project["id"]);
    assert_eq!(
        list_names(&app, "/api/projects/", &worker_token).await,
        ["Press Line"]
    );
    let team = get_ok(&app, &team_path(&project), &worker_token).await;
    assert_eq!(team.as_array().unwrap().len(), 1);

    let r = app.delete(&member_path(&project, &worker), &manager).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app.get(&path_of(&project), &worker_token).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert!(
        list_names(&app, "/api/projects/", &worker_token)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn joining_a_team_notifies_the_new_member_and_not_the_actor() {
    let app = spawn_app().await;
    let (manager, manager_token) = app.user_with_token("foreman", "staff").await;
    let (worker, worker_token) = app.user_with_token("worker", "user").await;
    let (founder, founder_token) = app.user_with_token("founder", "user").await;
    let project = make(
        &app,
        &manager_token,
        json!({"name": "Press Line", "team_members": [founder["id"]]}),
    )
    .await;
    // Being put on the team at creation counts as being added.
    let got = notifications_of_kind(&app, &founder_token, "team_added").await;
    assert_eq!(got.len(), 1, "{got:?}");

    assert!(
        notifications_of_kind(&app, &worker_token, "team_added")
            .await
            .is_empty()
    );
    for _ in 0..2 {
        let r = app
            .post(
                &team_path(&project),
                Some(&manager_token),
                &json!({"user_id": worker["id"]}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let got = notifications_of_kind(&app, &worker_token, "team_added").await;
    assert_eq!(
        got.len(),
        1,
        "one notification, not one per request: {got:?}"
    );
    assert_eq!(got[0]["read"], false);
    assert!(got[0]["title"].as_str().is_some_and(|t| !t.is_empty()));

    // The manager adding themselves is not notified of their own action.
    let r = app
        .post(
            &team_path(&project),
            Some(&manager_token),
            &json!({"user_id": manager["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(
        notifications_of_kind(&app, &manager_token, "team_added")
            .await
            .is_empty()
    );
    // Nor did anyone else get the worker's notification.
    let got = notifications_of_kind(&app, &founder_token, "team_added").await;
    assert_eq!(got.len(), 1);
}

/// A server on a copy of the database an earlier build wrote (see `old_data.rs`): a project
/// managed by the admin with `olga` (id 2) on its team, written before the list indexes.
async fn app_on_old_data() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/schema-v1/nexus.redb"
    );
    std::fs::copy(fixture, dir.path().join("nexus.redb")).expect("copy the fixture");
    let data = dir.path().to_path_buf();
    (spawn_app_with(move |c| c.server.data_dir = data).await, dir)
}

#[tokio::test]
async fn projects_written_before_the_list_indexes_are_listed_filtered_and_counted() {
    let (app, _dir) = app_on_old_data().await;
    let admin = app.admin_token().await;
    let olga = token_of(&app.login("olga", "olga-password-123").await);
    for (query, token, want) in [
        ("", &admin, 1),
        ("?member=2", &admin, 1),
        ("?member=1", &admin, 0),
        ("?ordering=-end_date", &olga, 1),
    ] {
        let page = json_of(app.get(&format!("/api/projects/{query}"), token).await).await;
        assert_eq!(page["count"], want, "{query}: {page}");
        assert_eq!(
            page["results"].as_array().map(Vec::len),
            Some(want),
            "{page}"
        );
    }
    let (_, stranger) = app.user_with_token("stranger", "user").await;
    let theirs = json_of(app.get("/api/projects/", &stranger).await).await;
    assert_eq!(theirs["count"], 0, "{theirs}");
    // A project created now is listed beside the old one.
    let made = create(&app, &admin, &json!({"name": "New line"})).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let all = json_of(app.get("/api/projects/?ordering=-created_at", &admin).await).await;
    assert_eq!(all["count"], 2, "{all}");
    assert_eq!(all["results"][0]["name"], "New line");
}
