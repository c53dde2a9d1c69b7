//! A data directory written by an earlier Nexus still opens and reads the same: the database in
//! `tests/fixtures/schema-v1/` was written by the build before object kinds became an enum
//! (commit 37c8341: a user `olga`, a project, an activity, an update, a direct and a room
//! message, and their change log). Its search index is left out, so the start rebuilds it.

use std::time::Duration;

use serde_json::Value;

use crate::common::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/schema-v1/nexus.redb"
);

/// A server on a copy of the fixture.
async fn app_on_fixture() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(FIXTURE, dir.path().join("nexus.redb")).expect("copy the fixture");
    let data = dir.path().to_path_buf();
    let app = spawn_app_with(move |c| c.server.data_dir = data).await;
    (app, dir)
}

#[tokio::test]
async fn a_data_directory_written_before_the_kind_enum_opens_and_reads_the_same() {
    let (app, _dir) = app_on_fixture().await;
    let admin = app.admin_token().await;

    let activity = json_of(app.get("/api/activities/1/", &admin).await).await;
    assert_eq!(activity["title"], "Replace pump seal");
    assert_eq!(activity["assigned_to"], 2);
    let project = json_of(app.get("/api/projects/1/", &admin).await).await;
    assert_eq!(project["team_members"], serde_json::json!([2]));

    // The user written by the old build signs in, and sees through its project.
    let olga = token_of(&app.login("olga", "olga-password-123").await);
    // The directory's search index is built from the old rows on start.
    let found = json_of(app.get("/api/users/?q=LGA", &admin).await).await;
    assert_eq!(found["count"], 1, "{found}");
    assert_eq!(found["results"][0]["username"], "olga");
    let mine = json_of(app.get("/api/activities/", &olga).await).await;
    assert_eq!(mine["count"], 1);
    let room = json_of(app.get("/api/chat/messages/?project=1", &olga).await).await;
    assert_eq!(room["results"][0]["content"], "conveyor delivery monday");

    // The index is rebuilt from the old rows with their visibility: olga finds her direct
    // message and the room's, a stranger neither.
    let found = wait_for_search(&app, &olga, "kind=chat&q=arrived%20OR%20delivery", 2).await;
    assert_eq!(found, 2);
    let (_, stranger) = app.user_with_token("stranger", "user").await;
    let hits = json_of(app.get("/api/search/?q=seal", &stranger).await).await;
    assert_eq!(hits["count"], 0, "{hits}");

    // The old change log replays with its kinds: every object's event, in order.
    let events = replay_events(&app, &admin, "activities,projects,updates,chat").await;
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(
        names,
        [
            "project.created",
            "activity.created",
            "update.created",
            "chat.message",
            "chat.message"
        ],
        "{events:?}"
    );
}

#[tokio::test]
async fn chat_written_before_its_counts_existed_pages_and_counts_the_same() {
    let (app, _dir) = app_on_fixture().await;
    let olga = token_of(&app.login("olga", "olga-password-123").await);

    // Counted by the backfill: the room's one message, and nothing below it.
    let room = json_of(app.get("/api/chat/messages/?project=1", &olga).await).await;
    assert_eq!(room["count"], 1, "{room}");
    let id = room["results"][0]["id"].as_u64().expect("a message id");
    let older = json_of(
        app.get(&format!("/api/chat/messages/?project=1&before={id}"), &olga)
            .await,
    )
    .await;
    assert_eq!(older["count"], 0, "{older}");
    let newer = json_of(
        app.get(
            &format!("/api/chat/messages/?project=1&before={}", id + 1),
            &olga,
        )
        .await,
    )
    .await;
    assert_eq!(newer["count"], 1, "{newer}");

    // Her direct conversation and her project's room, each with its newest message.
    let mine = json_of(app.get("/api/chat/conversations/", &olga).await).await;
    let mine = mine.as_array().expect("conversations are an array");
    assert_eq!(mine.len(), 2, "{mine:?}");
    let direct = mine
        .iter()
        .find(|c| c["kind"] == "direct")
        .expect("the direct conversation");
    let peer = direct["peer_id"].as_u64().expect("a peer id");
    let with = json_of(
        app.get(&format!("/api/chat/messages/?with={peer}"), &olga)
            .await,
    )
    .await;
    assert_eq!(with["count"], 1, "{with}");
    assert_eq!(with["results"][0], direct["last_message"]);

    // Staff see every room with messages.
    let admin = app.admin_token().await;
    let theirs = json_of(app.get("/api/chat/conversations/", &admin).await).await;
    assert!(
        theirs
            .as_array()
            .expect("conversations are an array")
            .iter()
            .any(|c| c["kind"] == "project" && c["project_id"] == 1),
        "{theirs}"
    );
}

/// Waits (up to 10 s) for the search index rebuild, then returns the hit count of `query`.
async fn wait_for_search(app: &TestApp, token: &str, query: &str, want: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = app.get(&format!("/api/search/?{query}"), token).await;
        if response.status() == 200 {
            let count = json_of(response).await["count"].as_u64().unwrap_or(0);
            if count >= want || tokio::time::Instant::now() > deadline {
                return count;
            }
        } else if tokio::time::Instant::now() > deadline {
            panic!("search not ready: {}", response.status());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The envelopes an SSE replay from the start of the log sends on `topics`, read until the
/// stream is quiet for half a second.
async fn replay_events(app: &TestApp, token: &str, topics: &str) -> Vec<Value> {
    let response = app
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
    let mut response = response;
    let mut text = String::new();
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout(Duration::from_millis(500), response.chunk()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str(data.trim()).ok())
        .collect()
}

/// The audit log and notifications of the old file read through indexes and counters that did
/// not exist when it was written: opening it fills them, so counts, filters and read-all agree
/// with the rows.
#[tokio::test]
async fn the_audit_log_and_notifications_of_an_old_file_are_indexed_on_open() {
    let started = nexus::domain::time::now();
    let (app, _dir) = app_on_fixture().await;
    let admin = app.admin_token().await;

    let log = json_of(app.get("/api/audit/?page_size=200", &admin).await).await;
    let entries = log["results"].as_array().expect("results").clone();
    assert_eq!(log["count"].as_u64(), Some(entries.len() as u64), "{log}");
    let old = entries
        .iter()
        .filter(|e| {
            e["ts"]
                .as_str()
                .and_then(|t| {
                    ::time::OffsetDateTime::parse(
                        t,
                        &::time::format_description::well_known::Rfc3339,
                    )
                    .ok()
                })
                .is_some_and(|t| t < started)
        })
        .count();
    assert!(old > 0, "the fixture holds audit entries: {log}");
    let ids: Vec<u64> = entries.iter().filter_map(|e| e["id"].as_u64()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    // Every action and actor filter counts and lists what the whole log shows of it.
    for e in &entries {
        let action = e["action"].as_str().expect("action");
        let same = entries
            .iter()
            .filter(|x| x["action"] == e["action"])
            .count();
        let page = json_of(
            app.get(
                &format!("/api/audit/?action={action}&page_size=200"),
                &admin,
            )
            .await,
        )
        .await;
        assert_eq!(
            page["count"].as_u64(),
            Some(same as u64),
            "{action}: {page}"
        );
        assert_eq!(page["results"].as_array().map(Vec::len), Some(same));
        if let Some(actor) = e["actor_id"].as_u64() {
            let same = entries.iter().filter(|x| x["actor_id"] == actor).count();
            let page = json_of(
                app.get(&format!("/api/audit/?actor={actor}&page_size=200"), &admin)
                    .await,
            )
            .await;
            assert_eq!(page["count"].as_u64(), Some(same as u64), "{actor}: {page}");
        }
    }

    let olga = token_of(&app.login("olga", "olga-password-123").await);
    let all = json_of(app.get("/api/updates/notifications/", &olga).await).await;
    let notes = all["results"].as_array().expect("results").clone();
    assert!(!notes.is_empty(), "the fixture holds notifications: {all}");
    assert_eq!(all["count"].as_u64(), Some(notes.len() as u64), "{all}");
    let unread = notes.iter().filter(|n| n["read"] == false).count();
    let listed = json_of(
        app.get("/api/updates/notifications/?unread=true", &olga)
            .await,
    )
    .await;
    assert_eq!(listed["count"].as_u64(), Some(unread as u64), "{listed}");
    let response = app
        .post(
            "/api/updates/notifications/read-all/",
            Some(&olga),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(response.status(), 204);
    let listed = json_of(
        app.get("/api/updates/notifications/?unread=true", &olga)
            .await,
    )
    .await;
    assert_eq!(listed["count"], 0, "{listed}");
    let all = json_of(app.get("/api/updates/notifications/", &olga).await).await;
    assert!(
        all["results"]
            .as_array()
            .is_some_and(|n| n.iter().all(|n| n["read"] == true)),
        "{all}"
    );
}

/// Updates written before acknowledgements existed have no `requires_ack`: they read as not
/// requiring one, so no one has them pending and acknowledging one is refused.
#[tokio::test]
async fn updates_written_before_acknowledgements_require_none() {
    let (app, _dir) = app_on_fixture().await;
    let olga = token_of(&app.login("olga", "olga-password-123").await);
    let update = json_of(app.get("/api/updates/1/", &olga).await).await;
    assert_eq!(update["requires_ack"], false, "{update}");
    assert!(update.get("acknowledged_at").is_none(), "{update}");
    let pending = json_of(app.get("/api/updates/?pending_ack=true", &olga).await).await;
    assert_eq!(pending["count"], 0, "{pending}");
    let refused = app
        .post("/api/updates/1/ack/", Some(&olga), &serde_json::json!({}))
        .await;
    assert_eq!(refused.status(), 409);
    // Asked for now, olga is pending: the old update joins the list.
    let admin = app.admin_token().await;
    let r = app
        .patch(
            "/api/updates/1/",
            &admin,
            &serde_json::json!({"requires_ack": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let pending = json_of(app.get("/api/updates/?pending_ack=true", &olga).await).await;
    assert_eq!(pending["count"], 1, "{pending}");
}
