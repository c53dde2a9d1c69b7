//! Acknowledged updates (API.md §Shop floor, "Acknowledged updates"): `requires_ack` and its
//! default, `POST /api/updates/{id}/ack/`, `GET /api/updates/{id}/acks/` over the active users,
//! `?pending_ack=true`, the reminder of the deadline sweep, audit, the live event and GraphQL.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

/// `updates.ack_reminder_secs`, the default.
const REMINDER_SECS: i64 = 8 * 3600;

async fn post_update(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/updates/", Some(token), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "post update {body}");
    json_of(r).await
}

/// Posts a `safety` update titled `title`, leaving `requires_ack` to its default.
async fn safety(app: &TestApp, token: &str, title: &str) -> Value {
    post_update(app, token, json!({"title": title, "type": "safety"})).await
}

fn id(v: &Value) -> u64 {
    v["id"].as_u64().expect("an id")
}

async fn get_ok(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.get(path, token).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    json_of(r).await
}

async fn ack(app: &TestApp, update: u64, token: &str) -> reqwest::Response {
    app.post(
        &format!("/api/updates/{update}/ack/"),
        Some(token),
        &json!({}),
    )
    .await
}

async fn acks(app: &TestApp, update: u64, token: &str) -> (Vec<u64>, Vec<u64>) {
    let body = get_ok(app, &format!("/api/updates/{update}/acks/"), token).await;
    let acknowledged = body["acknowledged"]
        .as_array()
        .expect("acknowledged")
        .iter()
        .map(|a| {
            assert!(a["at"].is_string(), "{a}");
            a["user_id"].as_u64().expect("user_id")
        })
        .collect();
    let pending = body["pending"]
        .as_array()
        .expect("pending")
        .iter()
        .map(|u| u.as_u64().expect("a user id"))
        .collect();
    (acknowledged, pending)
}

/// The ids of the caller's pending acknowledgements, and the count the list claims.
async fn pending(app: &TestApp, token: &str) -> (u64, Vec<u64>) {
    let list = get_ok(app, "/api/updates/?pending_ack=true&page_size=200", token).await;
    let ids = list["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(id)
        .collect();
    (list["count"].as_u64().expect("count"), ids)
}

/// The caller's acknowledgement reminders, newest first.
async fn reminders(app: &TestApp, token: &str) -> Vec<Value> {
    let list = get_ok(app, "/api/updates/notifications/?page_size=200", token).await;
    list["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|n| n["kind"] == "ack_reminder")
        .cloned()
        .collect()
}

/// Waits (up to 10 s) until the caller has `want` reminders; returns them.
async fn wait_for_reminders(app: &TestApp, token: &str, want: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = reminders(app, token).await;
        if got.len() >= want || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Lets the sweep that an `advance` woke run to its end.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

fn uid(user: &Value) -> u64 {
    user["id"].as_u64().expect("a user id")
}

#[tokio::test]
async fn safety_updates_require_acknowledgement_by_default_and_the_author_has_acknowledged() {
    let app = spawn_app().await;
    let (_, staff) = app.user_with_token("sam", "staff").await;
    let (_, user) = app.user_with_token("uma", "user").await;

    let notice = safety(&app, &staff, "Forklift lane closed").await;
    assert_eq!(notice["requires_ack"], true, "{notice}");
    // The author wrote it: theirs is recorded with it.
    assert!(notice["acknowledged_at"].is_string(), "{notice}");
    let news = post_update(&app, &staff, json!({"title": "Canteen menu"})).await;
    assert_eq!(news["requires_ack"], false);
    assert!(news.get("acknowledged_at").is_none(), "{news}");
    let asked = post_update(
        &app,
        &staff,
        json!({"title": "New shift rota", "requires_ack": true}),
    )
    .await;
    assert_eq!(asked["requires_ack"], true);
    let not_asked = post_update(
        &app,
        &staff,
        json!({"title": "Drill done", "type": "safety", "requires_ack": false}),
    )
    .await;
    assert_eq!(not_asked["requires_ack"], false);

    // For another caller the same update has no acknowledgement of theirs.
    let seen = get_ok(&app, &format!("/api/updates/{}/", id(&notice)), &user).await;
    assert_eq!(seen["requires_ack"], true);
    assert!(seen.get("acknowledged_at").is_none(), "{seen}");
    let listed = get_ok(&app, "/api/updates/?type=safety", &user).await;
    assert!(
        listed["results"]
            .as_array()
            .expect("results")
            .iter()
            .all(|u| u.get("acknowledged_at").is_none())
    );
}

#[tokio::test]
async fn an_acknowledgement_is_recorded_once_audited_and_again_is_a_no_op() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("sam", "staff").await;
    let (uma, user) = app.user_with_token("uma", "user").await;
    let notice = safety(&app, &staff, "Forklift lane closed").await;

    let first = ack(&app, id(&notice), &user).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first = json_of(first).await;
    assert_eq!(first["update_id"], notice["id"]);
    assert_eq!(first["user_id"], uma["id"]);
    let at = first["at"].as_str().expect("at").to_string();

    let seen = get_ok(&app, &format!("/api/updates/{}/", id(&notice)), &user).await;
    assert_eq!(seen["acknowledged_at"], at.as_str());

    let again = ack(&app, id(&notice), &user).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(
        json_of(again).await,
        first,
        "the first acknowledgement stands"
    );

    let audit = get_ok(&app, "/api/audit/?action=update.acknowledge", &admin).await;
    assert_eq!(audit["count"], 1, "audited once: {audit}");
    assert_eq!(audit["results"][0]["actor_id"], uma["id"]);
    assert_eq!(
        audit["results"][0]["target"],
        format!("update:{}", id(&notice))
    );

    // Only updates that ask for it are acknowledged; a missing one is 404.
    let news = post_update(&app, &staff, json!({"title": "Canteen menu"})).await;
    assert_error(
        ack(&app, id(&news), &user).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_error(
        ack(&app, 9999, &user).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn the_lists_cover_the_active_users_only_and_only_author_staff_and_admin_read_them() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (sam, staff) = app.user_with_token("sam", "staff").await;
    let (stella, other_staff) = app.user_with_token("stella", "staff").await;
    let (uma, user) = app.user_with_token("uma", "user").await;
    let (vic, _) = app.user_with_token("vic", "user").await;
    let admin_id = get_ok(&app, "/api/auth/user/", &admin).await["id"]
        .as_u64()
        .expect("admin id");
    let notice = safety(&app, &staff, "Forklift lane closed").await;
    let n = id(&notice);

    let (acked, pending) = acks(&app, n, &staff).await;
    assert_eq!(acked, [uid(&sam)]);
    let mut everyone_else = vec![admin_id, uid(&stella), uid(&uma), uid(&vic)];
    everyone_else.sort();
    let mut sorted = pending.clone();
    sorted.sort();
    assert_eq!(sorted, everyone_else);

    assert_eq!(ack(&app, n, &user).await.status(), StatusCode::OK);
    let (acked, pending) = acks(&app, n, &admin).await;
    assert!(acked.contains(&uid(&uma)) && !pending.contains(&uid(&uma)));
    assert!(pending.contains(&uid(&vic)));

    // A deactivated user is in neither list, acknowledged or not.
    for who in [&uma, &vic] {
        let r = app
            .patch(
                &format!("/api/users/{}/", uid(who)),
                &admin,
                &json!({"is_active": false}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let (acked, pending) = acks(&app, n, &other_staff).await;
    for who in [&uma, &vic] {
        assert!(!acked.contains(&uid(who)), "{acked:?}");
        assert!(!pending.contains(&uid(who)), "{pending:?}");
    }
    assert_eq!(acked, [uid(&sam)]);

    // Another user may not see who acknowledged; a missing update is 404.
    let (_, wendy) = app.user_with_token("wendy", "user").await;
    assert_error(
        app.get(&format!("/api/updates/{n}/acks/"), &wendy).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.get("/api/updates/9999/acks/", &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Turned off, no one is pending and the acknowledgements made are kept.
    let r = app
        .patch(
            &format!("/api/updates/{n}/"),
            &staff,
            &json!({"requires_ack": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (acked, pending) = acks(&app, n, &staff).await;
    assert_eq!((acked, pending), (vec![uid(&sam)], vec![]));
}

#[tokio::test]
async fn pending_ack_lists_what_the_caller_has_yet_to_acknowledge_newest_first() {
    let app = spawn_app().await;
    let (_, staff) = app.user_with_token("sam", "staff").await;
    let (_, user) = app.user_with_token("uma", "user").await;
    let first = safety(&app, &staff, "Forklift lane closed").await;
    post_update(&app, &staff, json!({"title": "Canteen menu"})).await;
    let second = safety(&app, &staff, "Eye wash station moved").await;
    let third = post_update(
        &app,
        &staff,
        json!({"title": "New shift rota", "requires_ack": true}),
    )
    .await;

    let (count, ids) = pending(&app, &user).await;
    assert_eq!(count, 3);
    assert_eq!(ids, [id(&third), id(&second), id(&first)]);
    // The author has nothing pending of their own.
    assert_eq!(pending(&app, &staff).await, (0, vec![]));

    let page = get_ok(
        &app,
        "/api/updates/?pending_ack=true&page_size=2&page=2",
        &user,
    )
    .await;
    assert_eq!(page["count"], 3);
    assert_eq!(page["results"][0]["id"], first["id"]);

    assert_eq!(ack(&app, id(&second), &user).await.status(), StatusCode::OK);
    assert_eq!(
        pending(&app, &user).await,
        (2, vec![id(&third), id(&first)])
    );

    // Turned off it leaves the list; turned on again, what was acknowledged stays so.
    for (update, on) in [(&second, false), (&third, false)] {
        let r = app
            .patch(
                &format!("/api/updates/{}/", id(update)),
                &staff,
                &json!({"requires_ack": on}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(pending(&app, &user).await, (1, vec![id(&first)]));
    let r = app
        .patch(
            &format!("/api/updates/{}/", id(&second)),
            &staff,
            &json!({"requires_ack": true}),
        )
        .await;
    assert_eq!(json_of(r).await["requires_ack"], true);
    assert_eq!(pending(&app, &user).await, (1, vec![id(&first)]));
    // A deleted update is no longer pending.
    let r = app
        .delete(&format!("/api/updates/{}/", id(&first)), &staff)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(pending(&app, &user).await, (0, vec![]));

    // The list's other filters do not combine with it.
    assert_error(
        app.get("/api/updates/?pending_ack=true&type=safety", &user)
            .await,
        StatusCode::BAD_REQUEST,
        "validation_error",
    )
    .await;
    // false is the whole list.
    let all = get_ok(&app, "/api/updates/?pending_ack=false", &user).await;
    assert_eq!(all["count"], 3);
}

#[tokio::test]
async fn the_reminder_goes_once_after_the_deadline_to_whoever_has_not_acknowledged() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("sam", "staff").await;
    let (_, acked) = app.user_with_token("uma", "user").await;
    let (_, late) = app.user_with_token("vic", "user").await;
    let (gone, _) = app.user_with_token("wes", "user").await;
    let notice = safety(&app, &staff, "Forklift lane closed").await;
    post_update(&app, &staff, json!({"title": "Canteen menu"})).await;
    assert_eq!(
        ack(&app, id(&notice), &acked).await.status(),
        StatusCode::OK
    );

    app.clock.advance(REMINDER_SECS - 60);
    settle().await;
    assert!(reminders(&app, &late).await.is_empty(), "not before");

    // A user deactivated before the deadline is not reminded.
    let r = app
        .patch(
            &format!("/api/users/{}/", uid(&gone)),
            &admin,
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    app.clock.advance(120);
    let got = wait_for_reminders(&app, &late, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["title"], "Forklift lane closed");
    assert_eq!(got[0]["link"], format!("/updates#update-{}", id(&notice)));
    assert_eq!(wait_for_reminders(&app, &admin, 1).await.len(), 1);
    assert!(reminders(&app, &acked).await.is_empty(), "acknowledged");
    assert!(reminders(&app, &staff).await.is_empty(), "the author");
    let r = app
        .patch(
            &format!("/api/users/{}/", uid(&gone)),
            &admin,
            &json!({"is_active": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let gone_token = token_of(&app.login("wes", USER_PASSWORD).await);
    assert!(
        reminders(&app, &gone_token).await.is_empty(),
        "was inactive"
    );

    // Once: later sweeps send nothing more.
    app.clock.advance(REMINDER_SECS);
    settle().await;
    assert_eq!(reminders(&app, &late).await.len(), 1);
}

#[tokio::test]
async fn a_reminder_falling_due_while_the_server_is_down_is_sent_once_on_start() {
    let mut app = spawn_app().await;
    let (_, staff) = app.user_with_token("sam", "staff").await;
    app.user_with_token("vic", "user").await;
    let notice = safety(&app, &staff, "Forklift lane closed").await;

    app.stop().await.expect("clean stop");
    app.clock.advance(REMINDER_SECS + 60);
    let app = app.restart().await;
    let late = token_of(&app.login("vic", USER_PASSWORD).await);
    let got = wait_for_reminders(&app, &late, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["link"], format!("/updates#update-{}", id(&notice)));

    let app = app.restart().await;
    settle().await;
    let late = token_of(&app.login("vic", USER_PASSWORD).await);
    assert_eq!(reminders(&app, &late).await.len(), 1, "not again");
}

/// The SSE replay of `topics` from the start of the log, read until quiet.
async fn replay(app: &TestApp, token: &str, topics: &str) -> Vec<Value> {
    let mut response = app
        .request(
            reqwest::Method::GET,
            &format!("/api/events/?topics={topics}"),
            Some(token),
        )
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout(Duration::from_millis(500), response.chunk()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str(data.trim()).ok())
        .filter(|e: &Value| e["event"] == "update.acknowledged")
        .collect()
}

#[tokio::test]
async fn an_acknowledgement_is_a_live_event_for_author_staff_admin_and_the_one_who_made_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (sam, staff) = app.user_with_token("sam", "staff").await;
    let (uma, user) = app.user_with_token("uma", "user").await;
    let (_, other) = app.user_with_token("vic", "user").await;
    let notice = safety(&app, &staff, "Forklift lane closed").await;
    assert_eq!(ack(&app, id(&notice), &user).await.status(), StatusCode::OK);

    // The author's own, recorded with the update, then uma's.
    let events = replay(&app, &staff, "updates").await;
    let who: Vec<&Value> = events.iter().map(|e| &e["data"]["user_id"]).collect();
    assert_eq!(who, [&sam["id"], &uma["id"]], "{events:?}");
    assert_eq!(events[1]["topic"], "updates");
    assert_eq!(events[1]["data"]["update_id"], notice["id"]);
    assert!(events[1]["data"]["at"].is_string());
    assert_eq!(replay(&app, &admin, "updates").await.len(), 2);
    let mine = replay(&app, &user, "updates").await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["data"]["user_id"], uma["id"]);
    assert!(replay(&app, &other, "updates").await.is_empty());
}

#[tokio::test]
async fn graphql_requires_ack_acknowledge_update_update_acks_and_pending_ack() {
    let app = spawn_app().await;
    let (sam, staff) = app.user_with_token("sam", "staff").await;
    let (uma, user) = app.user_with_token("uma", "user").await;
    let gql = |token: &str, query: &str, variables: Value| {
        let app = &app;
        let token = token.to_string();
        let body = json!({"query": query, "variables": variables});
        async move {
            let r = app.post("/graphql", Some(&token), &body).await;
            assert_eq!(r.status(), StatusCode::OK);
            json_of(r).await
        }
    };
    let created = gql(
        &staff,
        "mutation { createUpdate(input: {title: \"Forklift lane closed\", type: SAFETY}) { id requiresAck acknowledgedAt } }",
        json!({}),
    )
    .await;
    let update = &created["data"]["createUpdate"];
    assert_eq!(update["requiresAck"], true, "{created}");
    assert!(update["acknowledgedAt"].is_string());
    let n = update["id"].as_u64().expect("id");

    let pending = gql(
        &user,
        "{ updates(pendingAck: true) { count results { id acknowledgedAt } } }",
        json!({}),
    )
    .await;
    assert_eq!(pending["data"]["updates"]["count"], 1, "{pending}");
    assert_eq!(pending["data"]["updates"]["results"][0]["id"], n);
    assert!(pending["data"]["updates"]["results"][0]["acknowledgedAt"].is_null());

    let acked = gql(
        &user,
        "mutation($id: Int!) { acknowledgeUpdate(id: $id) { updateId userId at } }",
        json!({"id": n}),
    )
    .await;
    assert_eq!(
        acked["data"]["acknowledgeUpdate"]["userId"], uma["id"],
        "{acked}"
    );

    let lists = gql(
        &staff,
        "query($id: Int!) { updateAcks(id: $id) { acknowledged { userId at } pending } }",
        json!({"id": n}),
    )
    .await;
    let acknowledged: Vec<&Value> = lists["data"]["updateAcks"]["acknowledged"]
        .as_array()
        .expect("acknowledged")
        .iter()
        .map(|a| &a["userId"])
        .collect();
    assert_eq!(acknowledged, [&sam["id"], &uma["id"]], "{lists}");
    let refused = gql(
        &user,
        "query($id: Int!) { updateAcks(id: $id) { pending } }",
        json!({"id": n}),
    )
    .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "forbidden");
    let after = gql(&user, "{ updates(pendingAck: true) { count } }", json!({})).await;
    assert_eq!(after["data"]["updates"]["count"], 0);
}
