//! GraphQL at `/graphql` (API.md §GraphQL): queries and mutations with their success,
//! forbidden and not-found answers, error codes, nested visibility, the limits, persisted
//! queries, subscriptions over `graphql-transport-ws`, and the IDE.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(500);

// ---------------------------------------------------------------------------------------------
// Helpers

/// POSTs `body` to `/graphql` as `token`.
async fn post(app: &TestApp, token: Option<&str>, body: &Value) -> Response {
    app.post("/graphql", token, body).await
}

/// Runs `query` with `variables` as `token`; asserts `200` and JSON; returns the body.
async fn gql(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let r = post(
        app,
        Some(token),
        &json!({"query": query, "variables": variables}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "status");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("application/json")
    );
    r.json().await.expect("JSON body")
}

/// Runs `query` and asserts it had no errors; returns `data`.
async fn data(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let body = gql(app, token, query, variables).await;
    assert!(body.get("errors").is_none(), "errors in {body}");
    body["data"].clone()
}

/// Runs `query` and asserts its first error has `code`; returns the body.
async fn error(app: &TestApp, token: &str, query: &str, variables: Value, code: &str) -> Value {
    let body = gql(app, token, query, variables).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], code,
        "error code in {body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    body
}

fn id_of(value: &Value) -> u64 {
    value["id"].as_u64().expect("an id")
}

/// Creates a project over REST as `token` (admin or staff) with `team`.
async fn project(app: &TestApp, token: &str, name: &str, team: &[u64]) -> Value {
    let r = app
        .post(
            "/api/projects/",
            Some(token),
            &json!({"name": name, "team_members": team}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "project {name}");
    r.json().await.expect("project")
}

/// Creates an activity over REST as `token`.
async fn activity(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/activities/", Some(token), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "activity {body}");
    r.json().await.expect("activity")
}

/// A world: admin, a staff member, two users; a project with `alice` on its team and another
/// without her; an activity in each.
struct World {
    app: TestApp,
    admin: String,
    staff: String,
    alice: (Value, String),
    bob: (Value, String),
    shared: Value,
    secret: Value,
    shared_activity: Value,
    secret_activity: Value,
}

async fn world() -> World {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("stella", "staff").await;
    let alice = app.user_with_token("alice", "user").await;
    let bob = app.user_with_token("bob", "user").await;
    let shared = project(&app, &admin, "Line 1", &[id_of(&alice.0)]).await;
    let secret = project(&app, &admin, "Line 2", &[id_of(&bob.0)]).await;
    let shared_activity = activity(
        &app,
        &admin,
        json!({"title": "Pump check", "project_id": id_of(&shared), "assigned_to": id_of(&alice.0)}),
    )
    .await;
    let secret_activity = activity(
        &app,
        &admin,
        json!({"title": "Boiler audit", "project_id": id_of(&secret), "assigned_to": id_of(&bob.0)}),
    )
    .await;
    World {
        app,
        admin,
        staff,
        alice,
        bob,
        shared,
        secret,
        shared_activity,
        secret_activity,
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

#[tokio::test]
async fn queries_answer_the_rest_fields_in_camel_case_with_relations() {
    let w = world().await;
    let (alice, token) = &w.alice;
    let d = data(
        &w.app,
        token,
        "query($id: Int!) { me { id username email role isActive profile { jobTitle } }
           activity(id: $id) { id title type status priority assignedTo createdBy projectId
             createdAt updatedAt version startTime
             assignee { username email } project { name manager { username } team { username } } } }",
        json!({"id": id_of(&w.shared_activity)}),
    )
    .await;
    assert_eq!(d["me"]["username"], "alice");
    assert_eq!(d["me"]["email"], alice["email"]);
    assert_eq!(d["me"]["role"], "USER");
    let a = &d["activity"];
    let rest = &w.shared_activity;
    assert_eq!(a["id"], rest["id"]);
    assert_eq!(a["title"], rest["title"]);
    assert_eq!(a["type"], "OTHER");
    assert_eq!(a["status"], "PLANNED");
    assert_eq!(a["priority"], "MEDIUM");
    assert_eq!(a["assignedTo"], rest["assigned_to"]);
    assert_eq!(a["createdBy"], rest["created_by"]);
    assert_eq!(a["projectId"], rest["project_id"]);
    assert_eq!(a["createdAt"], rest["created_at"]);
    assert_eq!(a["version"], 1);
    assert_eq!(a["startTime"], Value::Null);
    assert_eq!(a["assignee"]["username"], "alice");
    assert_eq!(a["project"]["name"], "Line 1");
    assert_eq!(a["project"]["manager"]["username"], "admin");
    assert_eq!(a["project"]["team"], json!([{"username": "alice"}]));

    // Another user's email is the admin's and theirs only, as in REST.
    let d = data(
        &w.app,
        token,
        "query($id: Int!) { user(id: $id) { username email } }",
        json!({"id": id_of(&w.bob.0)}),
    )
    .await;
    assert_eq!(d["user"], json!({"username": "bob", "email": null}));
    let d = data(
        &w.app,
        &w.admin,
        "query($id: Int!) { user(id: $id) { email } }",
        json!({"id": id_of(&w.bob.0)}),
    )
    .await;
    assert_eq!(d["user"]["email"], "bob@plant.test");
}

#[tokio::test]
async fn lists_are_pages_that_agree_with_rest() {
    let w = world().await;
    let token = &w.alice.1;
    let d = data(
        &w.app,
        token,
        "{ activities(pageSize: 1, ordering: \"title\") { count results { title } }
           projects { count results { name } }
           users(filter: {role: USER}) { count results { username } }
           updates { count results { id } } notifications(unread: true) { count } }",
        json!({}),
    )
    .await;
    let rest: Value = json_of(
        w.app
            .get("/api/activities/?page_size=1&ordering=title", token)
            .await,
    )
    .await;
    assert_eq!(d["activities"]["count"], rest["count"]);
    assert_eq!(
        d["activities"]["results"][0]["title"],
        rest["results"][0]["title"]
    );
    assert_eq!(d["projects"]["count"], 1, "alice sees her project only");
    assert_eq!(d["projects"]["results"][0]["name"], "Line 1");
    assert_eq!(d["users"]["count"], 2);
    assert_eq!(d["updates"]["count"], 0);
    // Alice was added to a team and assigned an activity: two unread notifications.
    let rest: Value = json_of(
        w.app
            .get("/api/updates/notifications/?unread=true", token)
            .await,
    )
    .await;
    assert_eq!(d["notifications"]["count"], rest["count"]);
    assert_eq!(d["notifications"]["count"], 2);

    let filtered = data(
        &w.app,
        &w.admin,
        "query($p: Int) { activities(filter: {project: $p, status: PLANNED}) { count results { title } } }",
        json!({"p": id_of(&w.secret)}),
    )
    .await;
    assert_eq!(filtered["activities"]["count"], 1);
    assert_eq!(
        filtered["activities"]["results"][0]["title"],
        "Boiler audit"
    );

    // Paging is checked as REST checks it.
    let body = error(
        &w.app,
        token,
        "{ activities(page: 0) { count } }",
        json!({}),
        "validation_error",
    )
    .await;
    assert!(
        body["errors"][0]["extensions"]["fields"]["page"].is_array(),
        "{body}"
    );
    let body = error(
        &w.app,
        token,
        "{ activities(ordering: \"colour\") { count } }",
        json!({}),
        "validation_error",
    )
    .await;
    assert!(
        body["errors"][0]["extensions"]["fields"]["ordering"].is_array(),
        "{body}"
    );
}

#[tokio::test]
async fn search_and_messages_follow_visibility() {
    let w = world().await;
    let token = &w.alice.1;
    let d = data(
        &w.app,
        token,
        "{ search(q: \"boiler OR pump\") { count results { kind title snippet } } }",
        json!({}),
    )
    .await;
    assert_eq!(d["search"]["count"], 1, "{d}");
    assert_eq!(d["search"]["results"][0]["title"], "Pump check");

    let sent = data(
        &w.app,
        token,
        "mutation($to: Int) { sendMessage(input: {receiverId: $to, content: \"hello\"}) { id senderId receiverId messageType } }",
        json!({"to": id_of(&w.bob.0)}),
    )
    .await;
    assert_eq!(sent["sendMessage"]["messageType"], "TEXT");
    let read = data(
        &w.app,
        &w.bob.1,
        "query($with: Int) { messages(withUserId: $with) { count results { content } } }",
        json!({"with": id_of(&w.alice.0)}),
    )
    .await;
    assert_eq!(read["messages"]["results"][0]["content"], "hello");
    error(
        &w.app,
        token,
        "query($p: Int) { messages(projectId: $p) { count } }",
        json!({"p": id_of(&w.secret)}),
        "not_found",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Visibility

#[tokio::test]
async fn a_hidden_object_answers_null_and_not_found_as_rest_answers_404() {
    let w = world().await;
    let token = &w.alice.1;
    for (query, id) in [
        (
            "query($id: Int!) { activity(id: $id) { title } }",
            id_of(&w.secret_activity),
        ),
        (
            "query($id: Int!) { project(id: $id) { name } }",
            id_of(&w.secret),
        ),
        ("query($id: Int!) { activity(id: $id) { title } }", 999_999),
    ] {
        let body = error(&w.app, token, query, json!({"id": id}), "not_found").await;
        let field = if query.contains("activity") {
            "activity"
        } else {
            "project"
        };
        assert_eq!(body["data"][field], Value::Null, "{body}");
        assert!(
            !body.to_string().contains("Boiler"),
            "nothing leaks: {body}"
        );
        assert!(
            !body.to_string().contains("Line 2"),
            "nothing leaks: {body}"
        );
    }
}

#[tokio::test]
async fn nested_relations_never_reach_what_the_caller_may_not_see() {
    let w = world().await;
    let (alice, token) = &w.alice;
    // Bob is assigned an activity in alice's project too, and one in his own.
    activity(
        &w.app,
        &w.admin,
        json!({"title": "Shared fix", "project_id": id_of(&w.shared), "assigned_to": id_of(&w.bob.0)}),
    )
    .await;
    let d = data(
        &w.app,
        token,
        "query($bob: Int!, $p: Int!) {
           user(id: $bob) { activities { count results { title } } }
           project(id: $p) { activities { count results { title } } } }",
        json!({"bob": id_of(&w.bob.0), "p": id_of(&w.shared)}),
    )
    .await;
    let bobs: Vec<&str> = d["user"]["activities"]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["title"].as_str())
        .collect();
    assert_eq!(bobs, vec!["Shared fix"], "not Boiler audit: {d}");
    assert_eq!(d["user"]["activities"]["count"], 1);
    assert_eq!(d["project"]["activities"]["count"], 2);

    // An activity alice sees (assigned to her) in a project she does not: the project is null.
    let hidden_project = activity(
        &w.app,
        &w.admin,
        json!({"title": "Loaned", "project_id": id_of(&w.secret), "assigned_to": id_of(alice)}),
    )
    .await;
    let d = data(
        &w.app,
        token,
        "query($id: Int!) { activity(id: $id) { projectId project { name } } }",
        json!({"id": id_of(&hidden_project)}),
    )
    .await;
    assert_eq!(d["activity"]["projectId"], w.secret["id"]);
    assert_eq!(d["activity"]["project"], Value::Null);
}

// ---------------------------------------------------------------------------------------------
// Mutations

#[tokio::test]
async fn mutations_create_change_and_delete_through_the_services() {
    let w = world().await;
    let (alice, token) = &w.alice;
    let created = data(
        &w.app,
        token,
        "mutation($p: Int) { createActivity(input: {title: \"Seal swap\", type: MAINTENANCE,
            priority: HIGH, projectId: $p, startTime: \"2026-11-28T09:30:00Z\"}) {
            id title type priority status startTime createdBy version } }",
        json!({"p": id_of(&w.shared)}),
    )
    .await["createActivity"]
        .clone();
    assert_eq!(created["type"], "MAINTENANCE");
    assert_eq!(created["status"], "PLANNED");
    assert_eq!(created["startTime"], "2026-11-28T09:30:00Z");
    assert_eq!(created["createdBy"], alice["id"]);
    let id = id_of(&created);
    let rest = json_of(w.app.get(&format!("/api/activities/{id}/"), token).await).await;
    assert_eq!(rest["title"], "Seal swap");

    let changed = data(
        &w.app,
        token,
        "mutation($id: Int!) { updateActivity(id: $id, input: {status: IN_PROGRESS, startTime: null, version: 1}) {
            status startTime version } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        changed["updateActivity"],
        json!({"status": "IN_PROGRESS", "startTime": null, "version": 2})
    );
    // A stale version, an illegal move.
    error(
        &w.app,
        token,
        "mutation($id: Int!) { updateActivity(id: $id, input: {title: \"x\", version: 1}) { id } }",
        json!({"id": id}),
        "conflict",
    )
    .await;
    error(
        &w.app,
        token,
        "mutation($id: Int!) { updateActivity(id: $id, input: {status: PLANNED}) { id } }",
        json!({"id": id}),
        "conflict",
    )
    .await;
    let deleted = data(
        &w.app,
        token,
        "mutation($id: Int!) { deleteActivity(id: $id) }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(deleted["deleteActivity"], true);
    assert_eq!(
        w.app
            .get(&format!("/api/activities/{id}/"), token)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // Projects, teams, updates, notifications and users, each once.
    let p = data(
        &w.app,
        &w.staff,
        "mutation { createProject(input: {name: \"Line 9\", startDate: \"2026-12-01\"}) { id name startDate status manager { username } } }",
        json!({}),
    )
    .await["createProject"]
        .clone();
    assert_eq!(p["status"], "PLANNING");
    assert_eq!(p["startDate"], "2026-12-01");
    assert_eq!(p["manager"]["username"], "stella");
    let team = data(
        &w.app,
        &w.staff,
        "mutation($p: Int!, $u: Int!) { addTeamMember(projectId: $p, userId: $u) { username } }",
        json!({"p": id_of(&p), "u": id_of(alice)}),
    )
    .await;
    assert_eq!(team["addTeamMember"], json!([{"username": "alice"}]));
    let renamed = data(
        &w.app,
        &w.staff,
        "mutation($p: Int!) { updateProject(id: $p, input: {name: \"Line 9b\", endDate: \"2026-12-31\"}) { name endDate } }",
        json!({"p": id_of(&p)}),
    )
    .await;
    assert_eq!(
        renamed["updateProject"],
        json!({"name": "Line 9b", "endDate": "2026-12-31"})
    );
    let removed = data(
        &w.app,
        &w.staff,
        "mutation($p: Int!, $u: Int!) { removeTeamMember(projectId: $p, userId: $u) }",
        json!({"p": id_of(&p), "u": id_of(alice)}),
    )
    .await;
    assert_eq!(removed["removeTeamMember"], true);

    let u = data(
        &w.app,
        &w.staff,
        "mutation { createUpdate(input: {title: \"Shutdown\", priority: CRITICAL, type: SAFETY}) { id type priority author { username } } }",
        json!({}),
    )
    .await["createUpdate"]
        .clone();
    assert_eq!(u["author"]["username"], "stella");
    let n = data(
        &w.app,
        token,
        "{ notifications(unread: true) { count results { id kind } } }",
        json!({}),
    )
    .await;
    assert!(
        n["notifications"]["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|r| r["kind"] == "UPDATE_POSTED"),
        "{n}"
    );
    let first = id_of(&n["notifications"]["results"][0]);
    let marked = data(
        &w.app,
        token,
        "mutation($id: Int!) { markNotificationRead(id: $id) markAllNotificationsRead }",
        json!({"id": first}),
    )
    .await;
    assert_eq!(
        marked,
        json!({"markNotificationRead": true, "markAllNotificationsRead": true})
    );
    let n = data(
        &w.app,
        token,
        "{ notifications(unread: true) { count } }",
        json!({}),
    )
    .await;
    assert_eq!(n["notifications"]["count"], 0);
    let edited = data(
        &w.app,
        &w.staff,
        "mutation($id: Int!) { updateUpdate(id: $id, input: {title: \"Shutdown moved\"}) { title } }",
        json!({"id": id_of(&u)}),
    )
    .await;
    assert_eq!(edited["updateUpdate"]["title"], "Shutdown moved");
    assert_eq!(
        data(
            &w.app,
            &w.staff,
            "mutation($id: Int!) { deleteUpdate(id: $id) }",
            json!({"id": id_of(&u)})
        )
        .await["deleteUpdate"],
        true
    );

    let made = data(
        &w.app,
        &w.admin,
        "mutation { createUser(input: {username: \"carol\", email: \"carol@plant.test\", password: \"carol-password-1\", role: STAFF}) { id role email } }",
        json!({}),
    )
    .await["createUser"]
        .clone();
    assert_eq!(made["role"], "STAFF");
    let demoted = data(
        &w.app,
        &w.admin,
        "mutation($id: Int!) { updateUser(id: $id, input: {role: USER, displayName: \"Carol\"}) { role displayName } }",
        json!({"id": id_of(&made)}),
    )
    .await;
    assert_eq!(
        demoted["updateUser"],
        json!({"role": "USER", "displayName": "Carol"})
    );
    let me = data(
        &w.app,
        token,
        "mutation { updateMe(input: {profile: {jobTitle: \"Line lead\"}}) { profile { jobTitle } } }",
        json!({}),
    )
    .await;
    assert_eq!(me["updateMe"]["profile"]["jobTitle"], "Line lead");

    let msg = data(
        &w.app,
        token,
        "mutation($p: Int) { sendMessage(input: {projectId: $p, content: \"on my way\"}) { id projectId } }",
        json!({"p": id_of(&w.shared)}),
    )
    .await["sendMessage"]
        .clone();
    assert_eq!(
        data(
            &w.app,
            token,
            "mutation($p: Int) { markConversationRead(projectId: $p) }",
            json!({"p": id_of(&w.shared)})
        )
        .await["markConversationRead"],
        true
    );
    assert_eq!(
        data(
            &w.app,
            token,
            "mutation($id: Int!) { deleteMessage(id: $id) }",
            json!({"id": id_of(&msg)})
        )
        .await["deleteMessage"],
        true
    );
}

#[tokio::test]
async fn mutations_answer_forbidden_not_found_and_validation_errors_as_rest_does() {
    let w = world().await;
    let token = &w.alice.1;
    // Forbidden: what she sees but may not do, as REST answers it.
    let body = error(
        &w.app,
        token,
        "mutation { createProject(input: {name: \"Mine\"}) { id } }",
        json!({}),
        "forbidden",
    )
    .await;
    assert_eq!(body["data"]["createProject"], Value::Null);
    let rest = w
        .app
        .post("/api/projects/", Some(token), &json!({"name": "Mine"}))
        .await;
    assert_eq!(rest.status(), StatusCode::FORBIDDEN);
    error(
        &w.app,
        token,
        "mutation($id: Int!) { deleteProject(id: $id) }",
        json!({"id": id_of(&w.shared)}),
        "forbidden",
    )
    .await;
    // Not found: a hidden activity cannot be changed or deleted, and says so as if absent.
    for query in [
        "mutation($id: Int!) { updateActivity(id: $id, input: {title: \"x\"}) { id } }",
        "mutation($id: Int!) { deleteActivity(id: $id) }",
    ] {
        error(
            &w.app,
            token,
            query,
            json!({"id": id_of(&w.secret_activity)}),
            "not_found",
        )
        .await;
    }
    // Validation: the fields are named as the input names them.
    let body = error(
        &w.app,
        token,
        "mutation { createActivity(input: {title: \" \", startTime: \"2026-11-28T10:00:00Z\", endTime: \"2026-11-28T09:00:00Z\"}) { id } }",
        json!({}),
        "validation_error",
    )
    .await;
    let fields = &body["errors"][0]["extensions"]["fields"];
    assert!(fields["title"].is_array(), "{body}");
    assert!(fields["endTime"].is_array(), "{body}");
    let body = error(
        &w.app,
        token,
        "mutation { createActivity(input: {title: \"t\", startTime: \"yesterday\"}) { id } }",
        json!({}),
        "validation_error",
    )
    .await;
    assert!(
        body["errors"][0]["extensions"]["fields"]["startTime"].is_array(),
        "{body}"
    );
    let body = error(
        &w.app,
        token,
        "mutation { createActivity(input: {title: \"t\", assignedTo: 999999}) { id } }",
        json!({}),
        "validation_error",
    )
    .await;
    assert!(
        body["errors"][0]["extensions"]["fields"]["assignedTo"].is_array(),
        "{body}"
    );
    // Admin only.
    error(
        &w.app,
        token,
        "mutation { createUser(input: {username: \"eve\", email: \"e@p.t\", password: \"long-enough-1\", role: ADMIN}) { id } }",
        json!({}),
        "forbidden",
    )
    .await;
    // A query that does not parse, or names an unknown enum value, is the client's mistake.
    error(&w.app, token, "{ activities(", json!({}), "bad_request").await;
    error(
        &w.app,
        token,
        "mutation { createActivity(input: {title: \"t\", type: TEA_BREAK}) { id } }",
        json!({}),
        "bad_request",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// HTTP: auth, content types, the IDE

#[tokio::test]
async fn graphql_takes_the_same_bearer_tokens_as_rest() {
    let w = world().await;
    let query = json!({"query": "{ me { id } }"});
    for token in [None, Some("not-a-token")] {
        let r = post(&w.app, token, &query).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body: Value = r.json().await.expect("JSON");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "unauthenticated",
            "{body}"
        );
    }
    // A signed-out session's token stops working at once.
    let login = w.app.login("bob", USER_PASSWORD).await;
    let token = token_of(&login);
    assert_eq!(
        post(&w.app, Some(&token), &query).await.status(),
        StatusCode::OK
    );
    let r = w
        .app
        .post("/api/auth/logout/", Some(&token), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        post(&w.app, Some(&token), &query).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let r = w
        .app
        .request(reqwest::Method::POST, "/graphql", Some(&w.admin))
        .header("content-type", "text/plain")
        .body("{ me { id } }")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = w
        .app
        .request(reqwest::Method::POST, "/graphql", Some(&w.admin))
        .header("content-type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "bad_request");
}

#[tokio::test]
async fn the_per_user_api_rate_limit_holds_on_graphql() {
    let app = spawn_app_with(|c| {
        c.api.rate_limit_per_sec = 1;
        c.api.rate_limit_burst = 2;
    })
    .await;
    let admin = app.admin_token().await;
    let query = json!({"query": "{ me { id } }"});
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(post(&app, Some(&admin), &query).await);
    }
    let limited = statuses
        .into_iter()
        .find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .expect("a 429 within five quick requests");
    assert!(limited.headers().contains_key("retry-after"));
    let body: Value = limited.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "rate_limited");
}

#[tokio::test]
async fn get_graphql_serves_an_ide_from_this_server_only() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(app.url("/graphql"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/html")
    );
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().await.expect("html");
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"),
        "{html}"
    );
    assert!(
        !html.contains("<script>"),
        "no inline script: the CSP forbids it"
    );
    for asset in ["/graphql/ide.js", "/graphql/ide.css"] {
        let r = app.client.get(app.url(asset)).send().await.expect("asset");
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
        let text = r.text().await.expect("text");
        assert!(
            !text.contains("https://") && !text.contains("http://"),
            "{asset} loads nothing from elsewhere"
        );
        assert!(html.contains(asset), "the page uses {asset}");
    }
}

#[tokio::test]
async fn introspection_works_for_ides() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // The query graphql-js (GraphiQL, most IDEs) sends, 12 levels deep.
    let query = "query IntrospectionQuery { __schema { queryType { name } mutationType { name }
        subscriptionType { name } types { ...FullType } directives { name description locations
        args { ...InputValue } } } }
      fragment FullType on __Type { kind name description fields(includeDeprecated: true) {
        name description args { ...InputValue } type { ...TypeRef } isDeprecated
        deprecationReason } inputFields { ...InputValue } interfaces { ...TypeRef }
        enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
        possibleTypes { ...TypeRef } }
      fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
      fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType {
        kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
        } } } } } } } }";
    let d = data(&app, &admin, query, json!({})).await;
    let types = d["__schema"]["types"].as_array().expect("types");
    assert!(types.iter().any(|t| t["name"] == "ActivityPage"));
    assert_eq!(d["__schema"]["subscriptionType"]["name"], "Subscription");
}

// ---------------------------------------------------------------------------------------------
// Limits

#[tokio::test]
async fn every_limit_is_a_graphql_error_not_a_slow_request() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // Depth 11: activities > results > project > activities > results > project > ...
    let mut deep = String::from("id");
    for i in 0..10 {
        deep = if i % 2 == 0 {
            format!("project {{ {deep} }}")
        } else {
            format!("assignee {{ activities {{ results {{ {deep} }} }} }}")
        };
    }
    let deep = format!("{{ activities {{ results {{ {deep} }} }} }}");
    let cases: Vec<(&str, String)> = vec![
        ("deep", deep),
        (
            "complex",
            "{ projects(pageSize: 200) { results { activities(pageSize: 200) { results { id title } } } } }".into(),
        ),
        ("longer", format!("{{ me {{ id }} }} # {}", "x".repeat(40 * 1024))),
        (
            "aliases",
            format!("{{ me {{ {} }} }}", (0..31).map(|i| format!("a{i}: id")).collect::<Vec<_>>().join(" ")),
        ),
        (
            "root",
            format!("{{ {} }}", (0..21).map(|_| "me { id }").collect::<Vec<_>>().join(" ")),
        ),
    ];
    for (limit, query) in cases {
        let started = Instant::now();
        let body = error(&app, &admin, &query, json!({}), "bad_request").await;
        assert!(body["data"].is_null(), "{limit}: nothing executed: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(
            message.contains(limit),
            "the message names the limit: {message}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{limit} answered at once"
        );
    }
    // Within the limits, the same shapes run.
    let d = data(
        &app,
        &admin,
        "{ a: me { id } b: me { id } activities { results { project { activities { count } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(d["a"], d["b"]);
}

#[tokio::test]
async fn persisted_queries_run_from_their_hash() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let query = "{ me { username } }";
    let hash: String = Sha256::digest(query.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let persisted = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
    // Unknown hash: the client is told to send the query.
    let r = post(&app, Some(&admin), &json!({"extensions": persisted})).await;
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(body["errors"][0]["extensions"]["code"], "not_found");
    // Query and hash: run and kept.
    let r = post(
        &app,
        Some(&admin),
        &json!({"query": query, "extensions": persisted}),
    )
    .await;
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["data"]["me"]["username"], "admin", "{body}");
    // The hash alone now runs it.
    let r = post(&app, Some(&admin), &json!({"extensions": persisted})).await;
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["data"]["me"]["username"], "admin", "{body}");
    // A hash that is not the query's is refused.
    let wrong = json!({"persistedQuery": {"version": 1, "sha256Hash": "00"}});
    let r = post(
        &app,
        Some(&admin),
        &json!({"query": query, "extensions": wrong}),
    )
    .await;
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "bad_request",
        "{body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

/// A `graphql-transport-ws` client of `/graphql/ws`.
pub struct GqlWs {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl GqlWs {
    /// Connects and sends `connection_init` with `payload`, without waiting for the answer.
    pub async fn connect(app: &TestApp, payload: Value) -> GqlWs {
        let url = format!("ws://{}/graphql/ws", app.base.trim_start_matches("http://"));
        let mut request = url.into_client_request().expect("request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        let (stream, response) = timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("upgrade in time")
            .expect("upgrade");
        assert_eq!(response.status().as_u16(), 101);
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        let mut socket = GqlWs { stream };
        socket
            .send(json!({"type": "connection_init", "payload": payload}))
            .await;
        socket
    }

    /// Connects as `token` and waits for `connection_ack`.
    pub async fn open(app: &TestApp, token: &str) -> GqlWs {
        let mut socket = Self::connect(app, json!({"token": token})).await;
        assert_eq!(socket.recv().await["type"], "connection_ack");
        socket
    }

    pub async fn send(&mut self, value: Value) {
        timeout(WAIT, self.stream.send(Message::text(value.to_string())))
            .await
            .expect("send in time")
            .expect("send");
    }

    async fn frame(&mut self, wait: Duration) -> Option<Message> {
        let deadline = Instant::now() + wait;
        loop {
            match timeout_at(deadline, self.stream.next()).await {
                Err(_) => return None,
                Ok(None) => panic!("the WebSocket ended"),
                Ok(Some(Err(e))) => panic!("WebSocket error: {e}"),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                Ok(Some(Ok(message))) => return Some(message),
            }
        }
    }

    pub async fn recv(&mut self) -> Value {
        match self.frame(WAIT).await {
            Some(Message::Text(text)) => serde_json::from_str(text.as_str()).expect("JSON"),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// Subscribes operation `id` to `query`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"type": "subscribe", "id": id, "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next `next` message's `data`, for operation `id`.
    pub async fn next_data(&mut self, id: &str) -> Value {
        let message = self.recv().await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id, "{message}");
        assert!(message["payload"].get("errors").is_none(), "{message}");
        message["payload"]["data"].clone()
    }

    /// Asserts that nothing arrives for a while.
    pub async fn assert_quiet(&mut self) {
        if let Some(message) = self.frame(QUIET).await {
            panic!("expected nothing, got {message:?}");
        }
    }

    /// Waits for the server's close frame; returns its code.
    pub async fn close_code(&mut self) -> u16 {
        loop {
            match timeout(WAIT, self.stream.next()).await {
                Err(_) => panic!("no close frame within {WAIT:?}"),
                Ok(Some(Ok(Message::Close(Some(frame))))) => return u16::from(frame.code),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                Ok(other) => panic!("expected a close frame, got {other:?}"),
            }
        }
    }
}

const ACTIVITY_CHANGED: &str = "subscription($p: Int, $since: Int) {
    activityChanged(projectId: $p, since: $since) { event id activity { id title project { name } } } }";

#[tokio::test]
async fn a_subscription_receives_activity_changes_from_rest_writes_and_nothing_hidden() {
    let w = world().await;
    let token = &w.alice.1;
    let mut socket = GqlWs::open(&w.app, token).await;
    socket.subscribe("all", ACTIVITY_CHANGED, json!({})).await;
    socket
        .subscribe("shared", ACTIVITY_CHANGED, json!({"p": id_of(&w.shared)}))
        .await;
    socket.assert_quiet().await;

    // A change in a project alice cannot see: nothing.
    let r = w
        .app
        .patch(
            &format!("/api/activities/{}/", id_of(&w.secret_activity)),
            &w.admin,
            &json!({"title": "Boiler audit 2"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    socket.assert_quiet().await;

    // A REST write in her project reaches both subscriptions.
    let made = activity(
        &w.app,
        &w.admin,
        json!({"title": "Belt swap", "project_id": id_of(&w.shared)}),
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let message = socket.recv().await;
        assert_eq!(message["type"], "next", "{message}");
        let event = &message["payload"]["data"]["activityChanged"];
        assert_eq!(event["event"], "activity.created");
        assert_eq!(event["activity"]["id"], made["id"]);
        assert_eq!(event["activity"]["project"]["name"], "Line 1");
        seen.push(message["id"].as_str().unwrap_or("").to_string());
    }
    seen.sort();
    assert_eq!(seen, vec!["all", "shared"]);

    // A delete: the object is null.
    w.app
        .delete(&format!("/api/activities/{}/", id_of(&made)), &w.admin)
        .await;
    let event = socket.next_data("all").await["activityChanged"].clone();
    assert_eq!(event["event"], "activity.deleted");
    assert_eq!(event["activity"], Value::Null);
    socket.next_data("shared").await;

    // Complete one: the other goes on.
    socket
        .send(json!({"type": "complete", "id": "shared"}))
        .await;
    activity(
        &w.app,
        &w.admin,
        json!({"title": "Oil", "project_id": id_of(&w.shared)}),
    )
    .await;
    socket.next_data("all").await;
    socket.assert_quiet().await;

    // A project she may not see cannot be subscribed to.
    socket
        .subscribe("secret", ACTIVITY_CHANGED, json!({"p": id_of(&w.secret)}))
        .await;
    let message = socket.recv().await;
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(message["id"], "secret");
    assert_eq!(message["payload"][0]["extensions"]["code"], "not_found");
}

#[tokio::test]
async fn a_resumed_subscription_misses_nothing() {
    let w = world().await;
    let token = &w.alice.1;
    let mut socket = GqlWs::open(&w.app, token).await;
    socket.subscribe("1", ACTIVITY_CHANGED, json!({})).await;
    socket.assert_quiet().await;
    activity(
        &w.app,
        &w.admin,
        json!({"title": "First", "project_id": id_of(&w.shared)}),
    )
    .await;
    let first = socket.next_data("1").await["activityChanged"].clone();
    let last_seen = first["id"].as_u64().expect("event id");
    drop(socket);

    // While disconnected: two visible changes and one hidden one.
    activity(
        &w.app,
        &w.admin,
        json!({"title": "Second", "project_id": id_of(&w.shared)}),
    )
    .await;
    activity(
        &w.app,
        &w.admin,
        json!({"title": "Hidden", "project_id": id_of(&w.secret)}),
    )
    .await;
    activity(&w.app, &w.admin, json!({"title": "Third"})).await;

    let mut socket = GqlWs::open(&w.app, token).await;
    socket
        .subscribe("1", ACTIVITY_CHANGED, json!({"since": last_seen}))
        .await;
    let mut titles = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let event = socket.next_data("1").await["activityChanged"].clone();
        titles.push(
            event["activity"]["title"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
        ids.push(event["id"].as_u64().expect("id"));
    }
    assert_eq!(titles, vec!["Second", "Third"]);
    assert!(ids[0] > last_seen && ids[1] > ids[0], "in order: {ids:?}");
    socket.assert_quiet().await;
    // And it goes on live.
    activity(&w.app, &w.admin, json!({"title": "Fourth"})).await;
    let event = socket.next_data("1").await["activityChanged"].clone();
    assert_eq!(event["activity"]["title"], "Fourth");
}

#[tokio::test]
async fn notifications_chat_and_updates_are_subscribed_to() {
    let w = world().await;
    let (alice, token) = &w.alice;
    let mut socket = GqlWs::open(&w.app, token).await;
    socket
        .subscribe(
            "n",
            "subscription { notificationReceived { event id notification { kind title read } } }",
            json!({}),
        )
        .await;
    socket
        .subscribe(
            "c",
            "subscription($with: Int) { chatMessage(withUserId: $with) { event message { content senderId } } }",
            json!({"with": id_of(&w.bob.0)}),
        )
        .await;
    socket
        .subscribe(
            "u",
            "subscription { updatePosted { event update { title author { username } } } }",
            json!({}),
        )
        .await;
    socket.assert_quiet().await;

    // A message from someone else is not in the conversation with bob.
    w.app
        .post(
            "/api/chat/messages/",
            Some(&w.staff),
            &json!({"receiver_id": id_of(alice), "content": "from stella"}),
        )
        .await;
    let n = socket.next_data("n").await["notificationReceived"].clone();
    assert_eq!(n["event"], "notification.created");
    assert_eq!(n["notification"]["kind"], "CHAT_MESSAGE");
    socket.assert_quiet().await;

    w.app
        .post(
            "/api/chat/messages/",
            Some(&w.bob.1),
            &json!({"receiver_id": id_of(alice), "content": "from bob"}),
        )
        .await;
    let mut got = Vec::new();
    for _ in 0..2 {
        let message = socket.recv().await;
        got.push(message["id"].as_str().unwrap_or("").to_string());
        if message["id"] == "c" {
            let c = &message["payload"]["data"]["chatMessage"];
            assert_eq!(c["event"], "chat.message");
            assert_eq!(c["message"]["content"], "from bob");
        }
    }
    got.sort();
    assert_eq!(got, vec!["c", "n"]);

    w.app
        .post(
            "/api/updates/",
            Some(&w.staff),
            &json!({"title": "Fire drill"}),
        )
        .await;
    let u = socket.next_data("u").await["updatePosted"].clone();
    assert_eq!(u["event"], "update.created");
    assert_eq!(u["update"]["author"]["username"], "stella");
}

#[tokio::test]
async fn a_bad_or_expired_token_closes_the_socket_with_4401() {
    let w = world().await;
    let mut socket = GqlWs::connect(&w.app, json!({"token": "not-a-token"})).await;
    assert_eq!(socket.close_code().await, 4401);
    let mut socket = GqlWs::connect(&w.app, json!({})).await;
    assert_eq!(socket.close_code().await, 4401);
    // The header form works.
    let mut socket = GqlWs::connect(
        &w.app,
        json!({"Authorization": format!("Bearer {}", w.bob.1)}),
    )
    .await;
    assert_eq!(socket.recv().await["type"], "connection_ack");
    socket.subscribe("1", ACTIVITY_CHANGED, json!({})).await;
    socket.assert_quiet().await;
    // Deactivated while subscribed: the session ends and the socket closes with 4401.
    let r = w
        .app
        .patch(
            &format!("/api/users/{}/", id_of(&w.bob.0)),
            &w.admin,
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(socket.close_code().await, 4401);

    // Queries run over the socket too, and a protocol violation closes it.
    let mut socket = GqlWs::open(&w.app, &w.alice.1).await;
    socket
        .subscribe("q", "{ me { username } }", json!({}))
        .await;
    assert_eq!(socket.next_data("q").await["me"]["username"], "alice");
    assert_eq!(socket.recv().await, json!({"type": "complete", "id": "q"}));
    socket.send(json!({"type": "ping"})).await;
    assert_eq!(socket.recv().await, json!({"type": "pong"}));
    socket.send(json!({"type": "connection_init"})).await;
    assert_eq!(socket.close_code().await, 4429);
}

// ---------------------------------------------------------------------------------------------
// The schema file

#[test]
fn nexus_graphql_schema_prints_the_committed_schema_file() {
    let out = std::process::Command::new(crate::process::BIN)
        .arg("graphql-schema")
        .output()
        .expect("run nexus graphql-schema");
    assert!(out.status.success(), "{out:?}");
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.graphql"))
            .expect("docs/schema.graphql");
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "docs/schema.graphql is not what `nexus graphql-schema` prints"
    );
    assert!(committed.contains("type Activity {"));
}

// ---------------------------------------------------------------------------------------------
// Every mutation refuses as REST does

/// One refusal: the REST call and the GraphQL mutation that must answer the same code.
struct Refusal {
    what: &'static str,
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
    query: &'static str,
    variables: Value,
}

#[tokio::test]
async fn every_mutation_answers_forbidden_and_not_found_with_the_code_rest_answers() {
    use reqwest::Method;
    let w = world().await;
    let token = &w.alice.1;
    let loose = activity(&w.app, &w.admin, json!({"title": "Loose"})).await;
    let r = w
        .app
        .post(
            "/api/updates/",
            Some(&w.staff),
            &json!({"title": "Staff news"}),
        )
        .await;
    let news: Value = r.json().await.expect("update");
    let r = w
        .app
        .post(
            "/api/chat/messages/",
            Some(&w.admin),
            &json!({"project_id": id_of(&w.shared), "content": "admin says"}),
        )
        .await;
    let said: Value = r.json().await.expect("message");
    let (shared, secret) = (id_of(&w.shared), id_of(&w.secret));
    let (bob, missing) = (id_of(&w.bob.0), 999_999u64);
    let refusal = |what, method, path: String, body, query, variables| Refusal {
        what,
        method,
        path,
        body,
        query,
        variables,
    };
    let cases = vec![
        refusal(
            "update a hidden activity",
            Method::PATCH,
            format!("/api/activities/{}/", id_of(&w.secret_activity)),
            Some(json!({"title": "x"})),
            "mutation($id: Int!) { updateActivity(id: $id, input: {title: \"x\"}) { id } }",
            json!({"id": id_of(&w.secret_activity)}),
        ),
        refusal(
            "update an activity one may not change",
            Method::PATCH,
            format!("/api/activities/{}/", id_of(&loose)),
            Some(json!({"title": "x"})),
            "mutation($id: Int!) { updateActivity(id: $id, input: {title: \"x\"}) { id } }",
            json!({"id": id_of(&loose)}),
        ),
        refusal(
            "delete an activity one did not create",
            Method::DELETE,
            format!("/api/activities/{}/", id_of(&w.shared_activity)),
            None,
            "mutation($id: Int!) { deleteActivity(id: $id) }",
            json!({"id": id_of(&w.shared_activity)}),
        ),
        refusal(
            "delete a missing activity",
            Method::DELETE,
            format!("/api/activities/{missing}/"),
            None,
            "mutation($id: Int!) { deleteActivity(id: $id) }",
            json!({"id": missing}),
        ),
        refusal(
            "create an activity in another's project",
            Method::POST,
            "/api/activities/".into(),
            Some(json!({"title": "x", "project_id": secret})),
            "mutation($p: Int) { createActivity(input: {title: \"x\", projectId: $p}) { id } }",
            json!({"p": secret}),
        ),
        refusal(
            "create a project",
            Method::POST,
            "/api/projects/".into(),
            Some(json!({"name": "x"})),
            "mutation { createProject(input: {name: \"x\"}) { id } }",
            json!({}),
        ),
        refusal(
            "update a project one does not manage",
            Method::PATCH,
            format!("/api/projects/{shared}/"),
            Some(json!({"name": "x"})),
            "mutation($id: Int!) { updateProject(id: $id, input: {name: \"x\"}) { id } }",
            json!({"id": shared}),
        ),
        refusal(
            "update a hidden project",
            Method::PATCH,
            format!("/api/projects/{secret}/"),
            Some(json!({"name": "x"})),
            "mutation($id: Int!) { updateProject(id: $id, input: {name: \"x\"}) { id } }",
            json!({"id": secret}),
        ),
        refusal(
            "delete a project",
            Method::DELETE,
            format!("/api/projects/{shared}/"),
            None,
            "mutation($id: Int!) { deleteProject(id: $id) }",
            json!({"id": shared}),
        ),
        refusal(
            "delete a hidden project",
            Method::DELETE,
            format!("/api/projects/{secret}/"),
            None,
            "mutation($id: Int!) { deleteProject(id: $id) }",
            json!({"id": secret}),
        ),
        refusal(
            "add to a team one does not manage",
            Method::POST,
            format!("/api/projects/{shared}/team/"),
            Some(json!({"user_id": bob})),
            "mutation($p: Int!, $u: Int!) { addTeamMember(projectId: $p, userId: $u) { id } }",
            json!({"p": shared, "u": bob}),
        ),
        refusal(
            "add to a hidden team",
            Method::POST,
            format!("/api/projects/{secret}/team/"),
            Some(json!({"user_id": bob})),
            "mutation($p: Int!, $u: Int!) { addTeamMember(projectId: $p, userId: $u) { id } }",
            json!({"p": secret, "u": bob}),
        ),
        refusal(
            "remove from a team one does not manage",
            Method::DELETE,
            format!("/api/projects/{shared}/team/{bob}/"),
            None,
            "mutation($p: Int!, $u: Int!) { removeTeamMember(projectId: $p, userId: $u) }",
            json!({"p": shared, "u": bob}),
        ),
        refusal(
            "remove from a hidden team",
            Method::DELETE,
            format!("/api/projects/{secret}/team/{bob}/"),
            None,
            "mutation($p: Int!, $u: Int!) { removeTeamMember(projectId: $p, userId: $u) }",
            json!({"p": secret, "u": bob}),
        ),
        refusal(
            "post an update",
            Method::POST,
            "/api/updates/".into(),
            Some(json!({"title": "x"})),
            "mutation { createUpdate(input: {title: \"x\"}) { id } }",
            json!({}),
        ),
        refusal(
            "change another's update",
            Method::PATCH,
            format!("/api/updates/{}/", id_of(&news)),
            Some(json!({"title": "x"})),
            "mutation($id: Int!) { updateUpdate(id: $id, input: {title: \"x\"}) { id } }",
            json!({"id": id_of(&news)}),
        ),
        refusal(
            "change a missing update",
            Method::PATCH,
            format!("/api/updates/{missing}/"),
            Some(json!({"title": "x"})),
            "mutation($id: Int!) { updateUpdate(id: $id, input: {title: \"x\"}) { id } }",
            json!({"id": missing}),
        ),
        refusal(
            "delete another's update",
            Method::DELETE,
            format!("/api/updates/{}/", id_of(&news)),
            None,
            "mutation($id: Int!) { deleteUpdate(id: $id) }",
            json!({"id": id_of(&news)}),
        ),
        refusal(
            "delete a missing update",
            Method::DELETE,
            format!("/api/updates/{missing}/"),
            None,
            "mutation($id: Int!) { deleteUpdate(id: $id) }",
            json!({"id": missing}),
        ),
        refusal(
            "read a missing notification",
            Method::POST,
            format!("/api/updates/notifications/{missing}/read/"),
            None,
            "mutation($id: Int!) { markNotificationRead(id: $id) }",
            json!({"id": missing}),
        ),
        refusal(
            "write in a hidden room",
            Method::POST,
            "/api/chat/messages/".into(),
            Some(json!({"project_id": secret, "content": "x"})),
            "mutation($p: Int) { sendMessage(input: {projectId: $p, content: \"x\"}) { id } }",
            json!({"p": secret}),
        ),
        refusal(
            "write to oneself",
            Method::POST,
            "/api/chat/messages/".into(),
            Some(json!({"receiver_id": id_of(&w.alice.0), "content": "x"})),
            "mutation($to: Int) { sendMessage(input: {receiverId: $to, content: \"x\"}) { id } }",
            json!({"to": id_of(&w.alice.0)}),
        ),
        refusal(
            "delete another's message",
            Method::DELETE,
            format!("/api/chat/messages/{}/", id_of(&said)),
            None,
            "mutation($id: Int!) { deleteMessage(id: $id) }",
            json!({"id": id_of(&said)}),
        ),
        refusal(
            "delete a missing message",
            Method::DELETE,
            format!("/api/chat/messages/{missing}/"),
            None,
            "mutation($id: Int!) { deleteMessage(id: $id) }",
            json!({"id": missing}),
        ),
        refusal(
            "mark a hidden room read",
            Method::POST,
            "/api/chat/conversations/read/".into(),
            Some(json!({"project": secret})),
            "mutation($p: Int) { markConversationRead(projectId: $p) }",
            json!({"p": secret}),
        ),
        refusal(
            "create a user",
            Method::POST,
            "/api/users/".into(),
            Some(
                json!({"username": "eve", "email": "eve@plant.test", "password": "long-enough-1", "role": "user"}),
            ),
            "mutation { createUser(input: {username: \"eve\", email: \"eve@plant.test\", password: \"long-enough-1\", role: USER}) { id } }",
            json!({}),
        ),
        refusal(
            "change a user",
            Method::PATCH,
            format!("/api/users/{bob}/"),
            Some(json!({"role": "admin"})),
            "mutation($id: Int!) { updateUser(id: $id, input: {role: ADMIN}) { id } }",
            json!({"id": bob}),
        ),
        refusal(
            "change one's email to a bad one",
            Method::PATCH,
            "/api/auth/user/".into(),
            Some(json!({"email": "not-an-email"})),
            "mutation { updateMe(input: {email: \"not-an-email\"}) { id } }",
            json!({}),
        ),
    ];
    let mut codes = std::collections::BTreeSet::new();
    for case in cases {
        let mut request = w.app.request(case.method.clone(), &case.path, Some(token));
        if let Some(body) = &case.body {
            request = request.json(body);
        }
        let rest = request.send().await.expect("REST request");
        assert!(
            rest.status().is_client_error(),
            "{}: REST {}",
            case.what,
            rest.status()
        );
        let rest: Value = rest.json().await.expect("REST error body");
        let code = rest["error"]["code"]
            .as_str()
            .expect("REST code")
            .to_string();
        let body = gql(&w.app, token, case.query, case.variables.clone()).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], code,
            "{}: GraphQL {body} vs REST {rest}",
            case.what
        );
        let field = body["data"]
            .as_object()
            .and_then(|d| d.values().next())
            .cloned()
            .unwrap_or(Value::Null);
        assert!(
            field.is_null(),
            "{}: a refused mutation answers null: {body}",
            case.what
        );
        codes.insert(code);
    }
    assert_eq!(
        codes.into_iter().collect::<Vec<_>>(),
        vec!["forbidden", "not_found", "validation_error"],
        "the cases cover each refusal"
    );
}

#[tokio::test]
async fn an_oversized_body_is_413_and_an_unauthenticated_one_401_first() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let big = json!({"query": format!("{{ me {{ id }} }} #{}", "x".repeat(2 * 1024 * 1024))});
    let r = post(&app, Some(&admin), &big).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "payload_too_large");
    let r = app
        .request(reqwest::Method::POST, "/graphql", None)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "as REST: 401 before 415"
    );
}

#[tokio::test]
async fn a_socket_closes_with_1001_when_the_server_stops() {
    let mut app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut socket = GqlWs::open(&app, &admin).await;
    let started = Instant::now();
    let stopping = tokio::spawn(async move { app.stop().await });
    assert_eq!(socket.close_code().await, 1001);
    stopping.await.expect("stop task").expect("a clean stop");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the socket did not hold the shutdown up"
    );
}

// ---------------------------------------------------------------------------------------------
// Arbitrary bodies over the wire

/// Any JSON value, a few levels deep.
fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~]{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn arbitrary_bodies_answer_200_or_a_4xx_with_codes_never_5xx() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (app, admin) = runtime.block_on(async {
        let app = spawn_app().await;
        let admin = app.admin_token().await;
        (app, admin)
    });
    let query = prop_oneof![
        Just("{ me { id } }".to_string()),
        "[ -~]{0,40}",
        "\\{ (me|activities|projects|users) \\{ (id|count|results \\{ id \\}) \\} \\}",
    ];
    let body = prop_oneof![
        3 => (query, any_json(), any_json(), any_json()).prop_map(|(q, v, o, e)| {
            json!({"query": q, "variables": v, "operationName": o, "extensions": e})
                .to_string()
                .into_bytes()
        }),
        1 => any_json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..120),
    ];
    const CODES: [&str; 8] = [
        "bad_request",
        "validation_error",
        "forbidden",
        "not_found",
        "conflict",
        "payload_too_large",
        "unsupported_media_type",
        "unavailable",
    ];
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    });
    runner
        .run(&body, |body| {
            runtime.block_on(async {
                let r = app
                    .request(reqwest::Method::POST, "/graphql", Some(&admin))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let status = r.status();
                let what = String::from_utf8_lossy(&body).to_string();
                prop_assert!(
                    status == StatusCode::OK || status.is_client_error(),
                    "{what}: {status}"
                );
                let answer: Value = r
                    .json()
                    .await
                    .map_err(|e| TestCaseError::fail(format!("{what}: not JSON: {e}")))?;
                for error in answer["errors"].as_array().into_iter().flatten() {
                    let code = error["extensions"]["code"].as_str().unwrap_or("none");
                    prop_assert!(CODES.contains(&code), "{what}: {error}");
                }
                Ok(())
            })
        })
        .expect("no body is answered outside the contract");
    let r = runtime.block_on(post(&app, Some(&admin), &json!({"query": "{ me { id } }"})));
    assert_eq!(r.status(), StatusCode::OK, "the server still serves");
}
