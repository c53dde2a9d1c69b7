//! `/api/chat/`: direct messages and project rooms (shape, validation, who may post and read),
//! the conversation lists (newest first, `before`, paging, privacy), deleting, and the
//! conversation summaries with unread counts and read markers.

use std::collections::BTreeSet;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers

const MESSAGES: &str = "/api/chat/messages/";
const CONVERSATIONS: &str = "/api/chat/conversations/";

/// Sends a direct message; asserts 201 and returns it.
async fn dm(app: &TestApp, token: &str, to: &Value, content: &str) -> Value {
    let r = app
        .post(
            MESSAGES,
            Some(token),
            &json!({"receiver_id": to["id"], "content": content}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "send {content}");
    json_of(r).await
}

/// Posts to a project room; returns the response.
async fn post_room(app: &TestApp, token: &str, project: &Value, content: &str) -> Response {
    app.post(
        MESSAGES,
        Some(token),
        &json!({"project_id": project["id"], "content": content}),
    )
    .await
}

/// Posts to a project room; asserts 201 and returns the message.
async fn say(app: &TestApp, token: &str, project: &Value, content: &str) -> Value {
    let r = post_room(app, token, project, content).await;
    assert_eq!(r.status(), StatusCode::CREATED, "post {content}");
    json_of(r).await
}

/// Creates a project as `token` with `team`; returns it.
async fn project_with(app: &TestApp, token: &str, name: &str, team: &[&Value]) -> Value {
    let members: Vec<Value> = team.iter().map(|u| u["id"].clone()).collect();
    let r = app
        .post(
            "/api/projects/",
            Some(token),
            &json!({"name": name, "team_members": members}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    json_of(r).await
}

/// GET `path` as `token`; asserts 200 and returns the body.
async fn get_ok(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.get(path, token).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    json_of(r).await
}

/// The contents of a message list page, in order.
fn contents(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|m| m["content"].as_str().expect("content").to_string())
        .collect()
}

/// The contents of the direct conversation with `peer`, as `token` sees it (one full page).
async fn with(app: &TestApp, token: &str, peer: &Value) -> Vec<String> {
    let list = get_ok(app, &format!("{MESSAGES}?with={}", peer["id"]), token).await;
    let got = contents(&list);
    assert_eq!(list["count"], json!(got.len()), "{list}");
    got
}

/// The contents of a project room, as `token` sees it (one full page).
async fn room(app: &TestApp, token: &str, project: &Value) -> Vec<String> {
    let list = get_ok(app, &format!("{MESSAGES}?project={}", project["id"]), token).await;
    let got = contents(&list);
    assert_eq!(list["count"], json!(got.len()), "{list}");
    got
}

fn message_path(message: &Value) -> String {
    format!("{MESSAGES}{}/", message["id"])
}

/// The caller's conversations.
async fn conversations(app: &TestApp, token: &str) -> Vec<Value> {
    let body = get_ok(app, CONVERSATIONS, token).await;
    let rows = body.as_array().expect("conversations are an array").clone();
    for c in &rows {
        assert_conversation_shape(c);
    }
    rows
}

/// A conversation as (kind, peer or project id, last content, unread).
fn summary(c: &Value) -> (String, u64, String, u64) {
    let kind = c["kind"].as_str().unwrap().to_string();
    let id = if kind == "direct" {
        c["peer_id"].as_u64().unwrap()
    } else {
        c["project_id"].as_u64().unwrap()
    };
    (
        kind,
        id,
        c["last_message"]["content"].as_str().unwrap().to_string(),
        c["unread"].as_u64().unwrap(),
    )
}

async fn summaries(app: &TestApp, token: &str) -> Vec<(String, u64, String, u64)> {
    conversations(app, token)
        .await
        .iter()
        .map(summary)
        .collect()
}

fn direct(peer: &Value, last: &str, unread: u64) -> (String, u64, String, u64) {
    (
        "direct".into(),
        peer["id"].as_u64().unwrap(),
        last.into(),
        unread,
    )
}

fn project_room(project: &Value, last: &str, unread: u64) -> (String, u64, String, u64) {
    (
        "project".into(),
        project["id"].as_u64().unwrap(),
        last.into(),
        unread,
    )
}

fn key_set(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_message_shape(m: &Value) {
    let expected: BTreeSet<&str> = [
        "id",
        "sender_id",
        "receiver_id",
        "project_id",
        "content",
        "message_type",
        "created_at",
    ]
    .into_iter()
    .collect();
    assert_eq!(key_set(m), expected, "fields of {m}");
    assert!(m["id"].as_u64().is_some_and(|id| id > 0));
    assert!(m["sender_id"].as_u64().is_some_and(|id| id > 0));
    assert!(
        m["receiver_id"].is_null() != m["project_id"].is_null(),
        "exactly one of receiver_id and project_id: {m}"
    );
    assert!(m["content"].is_string());
    assert!(
        ["text", "system"].contains(&m["message_type"].as_str().unwrap_or("")),
        "{m}"
    );
    let s = m["created_at"].as_str().expect("created_at");
    assert!(s.ends_with('Z'), "{s}");
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s} is not RFC 3339: {e}"));
}

fn assert_conversation_shape(c: &Value) {
    let keys = key_set(c);
    match c["kind"].as_str() {
        Some("direct") => assert_eq!(
            keys,
            ["kind", "peer_id", "last_message", "unread"]
                .into_iter()
                .collect(),
            "{c}"
        ),
        Some("project") => assert_eq!(
            keys,
            ["kind", "project_id", "last_message", "unread"]
                .into_iter()
                .collect(),
            "{c}"
        ),
        _ => panic!("unknown conversation kind in {c}"),
    }
    assert_message_shape(&c["last_message"]);
    assert!(c["unread"].is_u64(), "{c}");
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
// Sending

#[tokio::test]
async fn a_direct_message_has_the_contract_fields_and_notifies_the_receiver() {
    let app = spawn_app().await;
    let (anna, anna_token) = app.user_with_token("anna", "user").await;
    let (bert, bert_token) = app.user_with_token("bert", "user").await;

    let m = dm(&app, &anna_token, &bert, "Can you cover my shift?").await;
    assert_message_shape(&m);
    assert_eq!(m["sender_id"], anna["id"]);
    assert_eq!(m["receiver_id"], bert["id"]);
    assert!(m["project_id"].is_null());
    assert_eq!(m["content"], "Can you cover my shift?");
    assert_eq!(m["message_type"], "text");

    let got = notifications_of_kind(&app, &bert_token, "chat_message").await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["read"], false);
    assert!(
        notifications_of_kind(&app, &anna_token, "chat_message")
            .await
            .is_empty(),
        "the sender is not notified"
    );

    // Both sides read the same message.
    let list = get_ok(
        &app,
        &format!("{MESSAGES}?with={}", bert["id"]),
        &anna_token,
    )
    .await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0], m);
    let list = get_ok(
        &app,
        &format!("{MESSAGES}?with={}", anna["id"]),
        &bert_token,
    )
    .await;
    assert_eq!(list["results"][0], m);
    assert!(list["next"].is_null() && list["previous"].is_null());
}

#[tokio::test]
async fn message_content_is_validated() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("anna", "user").await;
    let bert = app.create_user("bert", "user").await;
    for content in [json!(""), json!("x".repeat(5001))] {
        let r = app
            .post(
                MESSAGES,
                Some(&token),
                &json!({"receiver_id": bert["id"], "content": content}),
            )
            .await;
        let err = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
        assert!(err["error"]["fields"]["content"].is_array(), "{err}");
    }
    for body in [
        json!({"receiver_id": bert["id"]}),
        json!({"receiver_id": bert["id"], "content": 42}),
        json!({"receiver_id": "bert", "content": "hi"}),
    ] {
        let r = app.post(MESSAGES, Some(&token), &body).await;
        assert_400(r).await;
    }
    assert!(with(&app, &token, &bert).await.is_empty(), "nothing sent");

    // 5,000 characters is allowed, counted as characters rather than bytes.
    let long = "ß".repeat(5000);
    let m = dm(&app, &token, &bert, &long).await;
    assert_eq!(m["content"], json!(long));
    let m = dm(&app, &token, &bert, &"y".repeat(5000)).await;
    assert_eq!(m["content"].as_str().unwrap().len(), 5000);
}

#[tokio::test]
async fn a_message_needs_exactly_one_other_party() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (anna, token) = app.user_with_token("anna", "user").await;
    let bert = app.create_user("bert", "user").await;
    let project = project_with(&app, &admin, "Press Line", &[&anna]).await;

    for body in [
        json!({"content": "to nobody"}),
        json!({"receiver_id": bert["id"], "project_id": project["id"], "content": "both"}),
        json!({"receiver_id": null, "project_id": null, "content": "nulls"}),
        json!({"receiver_id": anna["id"], "content": "note to self"}),
        json!({"receiver_id": 9999, "content": "to a ghost"}),
    ] {
        let r = app.post(MESSAGES, Some(&token), &body).await;
        assert_400(r).await;
    }
    assert!(with(&app, &token, &bert).await.is_empty());
    assert!(room(&app, &token, &project).await.is_empty());
    assert!(conversations(&app, &token).await.is_empty());

    // A room that does not exist is not found.
    let r = app
        .post(
            MESSAGES,
            Some(&token),
            &json!({"project_id": 9999, "content": "hello?"}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn project_rooms_are_for_members_the_manager_admins_and_staff() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (boss, boss_token) = app.user_with_token("linelead", "user").await;
    let (member, member_token) = app.user_with_token("worker", "user").await;
    let (_, outsider) = app.user_with_token("visitor", "user").await;
    let (_, staff) = app.user_with_token("foreman", "staff").await;
    let r = app
        .post(
            "/api/projects/",
            Some(&admin),
            &json!({"name": "Press Line", "manager_id": boss["id"],
                    "team_members": [member["id"]]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let project = json_of(r).await;

    let first = say(&app, &boss_token, &project, "kick-off at 9").await;
    assert_message_shape(&first);
    assert_eq!(first["sender_id"], boss["id"]);
    assert_eq!(first["project_id"], project["id"]);
    assert!(first["receiver_id"].is_null());
    assert_eq!(first["message_type"], "text");
    say(&app, &member_token, &project, "I'll bring gloves").await;
    say(&app, &staff, &project, "staff here").await;
    say(&app, &admin, &project, "admin here").await;

    let r = post_room(&app, &outsider, &project, "let me in").await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .get(&format!("{MESSAGES}?project={}", project["id"]), &outsider)
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.get(&format!("{MESSAGES}?project=9999"), &admin).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    let expected = [
        "admin here",
        "staff here",
        "I'll bring gloves",
        "kick-off at 9",
    ];
    for token in [&admin, &boss_token, &member_token, &staff] {
        assert_eq!(room(&app, token, &project).await, expected, "newest first");
    }
    let list = get_ok(
        &app,
        &format!("{MESSAGES}?project={}", project["id"]),
        &member_token,
    )
    .await;
    assert_eq!(list["results"][3], first);

    // Room messages are not direct messages: nobody gets a chat notification.
    for token in [&boss_token, &member_token] {
        assert!(
            notifications_of_kind(&app, token, "chat_message")
                .await
                .is_empty()
        );
    }

    // Leaving the team closes the room.
    let r = app
        .delete(
            &format!("/api/projects/{}/team/{}/", project["id"], member["id"]),
            &admin,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = post_room(&app, &member_token, &project, "still here?").await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .get(
            &format!("{MESSAGES}?project={}", project["id"]),
            &member_token,
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

// ---------------------------------------------------------------------------------------------
// Reading conversations

#[tokio::test]
async fn a_direct_conversation_is_newest_first_with_paging_and_before() {
    let app = spawn_app().await;
    let (anna, anna_token) = app.user_with_token("anna", "user").await;
    let (bert, bert_token) = app.user_with_token("bert", "user").await;
    let mut sent = Vec::new();
    for i in 1..=5 {
        let m = if i % 2 == 1 {
            dm(&app, &anna_token, &bert, &format!("m{i}")).await
        } else {
            dm(&app, &bert_token, &anna, &format!("m{i}")).await
        };
        sent.push(m);
    }
    assert_eq!(
        with(&app, &anna_token, &bert).await,
        ["m5", "m4", "m3", "m2", "m1"]
    );
    assert_eq!(
        with(&app, &bert_token, &anna).await,
        ["m5", "m4", "m3", "m2", "m1"]
    );

    // Older than m3.
    let path = format!("{MESSAGES}?with={}&before={}", bert["id"], sent[2]["id"]);
    let list = get_ok(&app, &path, &anna_token).await;
    assert_eq!(contents(&list), ["m2", "m1"]);
    assert_eq!(list["count"], 2);
    let path = format!("{MESSAGES}?with={}&before={}", bert["id"], sent[0]["id"]);
    let list = get_ok(&app, &path, &anna_token).await;
    assert!(contents(&list).is_empty(), "nothing before the first");

    // Paging.
    let path = format!("{MESSAGES}?with={}&page_size=2", bert["id"]);
    let p1 = get_ok(&app, &path, &anna_token).await;
    assert_eq!(p1["count"], 5);
    assert_eq!(contents(&p1), ["m5", "m4"]);
    assert!(p1["previous"].is_null());
    let next = p1["next"].as_str().expect("next link").to_string();
    assert!(next.starts_with("/api/chat/messages/?"), "{next}");
    assert!(
        next.contains("page=2") && next.contains("page_size=2"),
        "{next}"
    );
    assert!(next.contains(&format!("with={}", bert["id"])), "{next}");
    let p2 = get_ok(&app, &next, &anna_token).await;
    assert_eq!(contents(&p2), ["m3", "m2"]);
    let p3 = get_ok(&app, p2["next"].as_str().unwrap(), &anna_token).await;
    assert_eq!(contents(&p3), ["m1"]);
    assert!(p3["next"].is_null());

    // `before` and paging together.
    let path = format!(
        "{MESSAGES}?with={}&before={}&page_size=1",
        bert["id"], sent[3]["id"]
    );
    let list = get_ok(&app, &path, &anna_token).await;
    assert_eq!(list["count"], 3);
    assert_eq!(contents(&list), ["m3"]);
}

#[tokio::test]
async fn a_third_user_sees_only_their_own_conversation() {
    let app = spawn_app().await;
    let (anna, anna_token) = app.user_with_token("anna", "user").await;
    let (bert, bert_token) = app.user_with_token("bert", "user").await;
    let (_, carl_token) = app.user_with_token("carl", "user").await;
    dm(&app, &anna_token, &bert, "secret between a and b").await;
    dm(&app, &bert_token, &anna, "reply from b").await;
    dm(&app, &carl_token, &anna, "hello anna from carl").await;

    assert_eq!(
        with(&app, &carl_token, &anna).await,
        ["hello anna from carl"]
    );
    assert!(with(&app, &carl_token, &bert).await.is_empty());
    assert_eq!(
        with(&app, &anna_token, &bert).await,
        ["reply from b", "secret between a and b"]
    );
    // An admin is no party to it either.
    let admin = app.admin_token().await;
    assert!(with(&app, &admin, &anna).await.is_empty());
    assert!(with(&app, &admin, &bert).await.is_empty());
    // Carl's conversations do not mention Bert.
    let carl_conversations = conversations(&app, &carl_token).await;
    assert_eq!(carl_conversations.len(), 1);
    assert_eq!(carl_conversations[0]["peer_id"], anna["id"]);
}

#[tokio::test]
async fn the_messages_query_needs_exactly_one_of_with_and_project() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (anna, token) = app.user_with_token("anna", "user").await;
    let project = project_with(&app, &admin, "Press Line", &[&anna]).await;
    for query in [
        String::new(),
        format!("?with=1&project={}", project["id"]),
        "?with=abc".into(),
        "?with=0".into(),
        "?project=x".into(),
        "?with=1&before=abc".into(),
        "?with=1&page=0".into(),
    ] {
        let r = app.get(&format!("{MESSAGES}{query}"), &token).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_400(r).await;
    }
    let r = app
        .request(Method::GET, &format!("{MESSAGES}?with=1"), None)
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

// ---------------------------------------------------------------------------------------------
// Deleting

#[tokio::test]
async fn a_direct_message_is_deleted_by_its_sender_only() {
    let app = spawn_app().await;
    let (anna, anna_token) = app.user_with_token("anna", "user").await;
    let (bert, bert_token) = app.user_with_token("bert", "user").await;
    let (_, carl_token) = app.user_with_token("carl", "user").await;
    dm(&app, &anna_token, &bert, "keep").await;
    let m = dm(&app, &anna_token, &bert, "oops").await;

    let r = app.delete(&message_path(&m), &bert_token).await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app.delete(&message_path(&m), &carl_token).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(with(&app, &bert_token, &anna).await, ["oops", "keep"]);

    let r = app.delete(&message_path(&m), &anna_token).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(with(&app, &anna_token, &bert).await, ["keep"]);
    assert_eq!(with(&app, &bert_token, &anna).await, ["keep"]);
    let r = app.delete(&message_path(&m), &anna_token).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.delete(&format!("{MESSAGES}9999/"), &anna_token).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn an_admin_deletes_a_direct_message_between_others() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, anna_token) = app.user_with_token("anna", "user").await;
    let bert = app.create_user("bert", "user").await;
    let m = dm(&app, &anna_token, &bert, "something abusive").await;
    let r = app.delete(&message_path(&m), &admin).await;
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "sender or admin deletes"
    );
    assert!(with(&app, &anna_token, &bert).await.is_empty());
}

#[tokio::test]
async fn a_room_message_is_deleted_by_its_sender_or_an_admin() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("foreman", "staff").await;
    let (anna, anna_token) = app.user_with_token("anna", "user").await;
    let (bert, bert_token) = app.user_with_token("bert", "user").await;
    let (_, carl_token) = app.user_with_token("carl", "user").await;
    let project = project_with(&app, &staff, "Press Line", &[&anna, &bert]).await;
    let m = say(&app, &anna_token, &project, "from anna").await;

    // The manager (staff) and another member see it but may not delete it.
    for token in [&bert_token, &staff] {
        let r = app.delete(&message_path(&m), token).await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let r = app.delete(&message_path(&m), &carl_token).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(room(&app, &bert_token, &project).await, ["from anna"]);

    let r = app.delete(&message_path(&m), &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(room(&app, &bert_token, &project).await.is_empty());

    let own = say(&app, &bert_token, &project, "from bert").await;
    let r = app.delete(&message_path(&own), &bert_token).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(room(&app, &anna_token, &project).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Conversations and unread counts

#[tokio::test]
async fn conversations_list_newest_first_with_unread_counts() {
    let app = spawn_app().await;
    let (_, staff) = app.user_with_token("foreman", "staff").await;
    let (anna, anna_token) = app.user_with_token("anna", "user").await;
    let (bert, bert_token) = app.user_with_token("bert", "user").await;
    let (carl, carl_token) = app.user_with_token("carl", "user").await;
    let project = project_with(&app, &staff, "Press Line", &[&anna, &bert]).await;
    assert!(conversations(&app, &anna_token).await.is_empty());

    dm(&app, &bert_token, &anna, "hi from bert").await;
    dm(&app, &carl_token, &anna, "c1").await;
    let c2 = dm(&app, &carl_token, &anna, "c2").await;
    say(&app, &bert_token, &project, "room1").await;

    assert_eq!(
        summaries(&app, &anna_token).await,
        [
            project_room(&project, "room1", 1),
            direct(&carl, "c2", 2),
            direct(&bert, "hi from bert", 1),
        ]
    );
    let anna_view = conversations(&app, &anna_token).await;
    assert_eq!(anna_view[1]["last_message"], c2, "the whole message");

    // One's own messages are never unread.
    assert_eq!(
        summaries(&app, &carl_token).await,
        [direct(&anna, "c2", 0)],
        "carl is not in the project"
    );
    assert_eq!(
        summaries(&app, &bert_token).await,
        [
            project_room(&project, "room1", 0),
            direct(&anna, "hi from bert", 0),
        ]
    );
    assert_eq!(
        summaries(&app, &staff).await,
        [project_room(&project, "room1", 1)],
        "the manager sees the room"
    );
}

#[tokio::test]
async fn marking_a_conversation_read_clears_its_unread_count() {
    let app = spawn_app().await;
    let (_, staff) = app.user_with_token("foreman", "staff").await;
    let (anna, anna_token) = app.user_with_token("anna", "user").await;
    let (bert, bert_token) = app.user_with_token("bert", "user").await;
    let (carl, carl_token) = app.user_with_token("carl", "user").await;
    let project = project_with(&app, &staff, "Press Line", &[&anna, &bert]).await;
    dm(&app, &bert_token, &anna, "hi from bert").await;
    dm(&app, &carl_token, &anna, "c1").await;
    dm(&app, &carl_token, &anna, "c2").await;
    say(&app, &bert_token, &project, "room1").await;

    let read = |body: Value| {
        let app = &app;
        let anna_token = &anna_token;
        async move {
            app.post("/api/chat/conversations/read/", Some(anna_token), &body)
                .await
        }
    };
    let r = read(json!({"with": carl["id"]})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        summaries(&app, &anna_token).await,
        [
            project_room(&project, "room1", 1),
            direct(&carl, "c2", 0),
            direct(&bert, "hi from bert", 1),
        ],
        "only that conversation is read"
    );

    let r = read(json!({"project": project["id"]})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        summaries(&app, &anna_token).await,
        [
            project_room(&project, "room1", 0),
            direct(&carl, "c2", 0),
            direct(&bert, "hi from bert", 1),
        ]
    );
    // Reading is per person: Bert's and the manager's counts are untouched.
    assert_eq!(
        summaries(&app, &staff).await,
        [project_room(&project, "room1", 1)]
    );

    // New messages after the marker are unread again, and move the conversation up.
    dm(&app, &carl_token, &anna, "c3").await;
    assert_eq!(
        summaries(&app, &anna_token).await,
        [
            direct(&carl, "c3", 1),
            project_room(&project, "room1", 0),
            direct(&bert, "hi from bert", 1),
        ]
    );
    // Marking read again is harmless.
    for _ in 0..2 {
        let r = read(json!({"with": bert["id"]})).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(
        summaries(&app, &anna_token).await[2],
        direct(&bert, "hi from bert", 0)
    );

    // Exactly one of with and project; a room one cannot see is not found.
    for body in [
        json!({}),
        json!({"with": carl["id"], "project": project["id"]}),
        json!({"with": "carl"}),
    ] {
        let r = read(body).await;
        assert_400(r).await;
    }
    let r = app
        .post(
            "/api/chat/conversations/read/",
            Some(&carl_token),
            &json!({"project": project["id"]}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .request(Method::GET, CONVERSATIONS, None)
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
