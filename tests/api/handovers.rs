//! Shift handovers (API.md §Shop floor: andon, shift handover, …): the flow draft → submitted →
//! acknowledged and every move it refuses, validation, the list's filters, the live event,
//! search and audit, and the acknowledgement timeout measured with the controllable clock.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, assert_error, json_of, spawn_app};

const LIST: &str = "/api/handovers/";
/// The default `handover.ack_timeout_secs`.
const TIMEOUT: i64 = 1800;

async fn created(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    let r = app.post(path, Some(token), &body).await;
    let status = r.status();
    let body = json_of(r).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {body}");
    body
}

/// An asset and a shift to hand over, made by the admin.
async fn plant(app: &TestApp, admin: &str) -> (u64, u64) {
    let line = created(
        app,
        "/api/assets/",
        admin,
        json!({"code": "L1", "name": "Line 1", "kind": "line"}),
    )
    .await;
    let shift = created(
        app,
        "/api/shifts/",
        admin,
        json!({"name": "Early", "starts": "06:00", "ends": "14:00",
               "days": ["mon", "tue", "wed", "thu", "fri"]}),
    )
    .await;
    (line["id"].as_u64().unwrap(), shift["id"].as_u64().unwrap())
}

async fn draft(app: &TestApp, token: &str, asset: u64, shift: u64, summary: &str) -> Value {
    created(
        app,
        LIST,
        token,
        json!({"asset_id": asset, "shift_id": shift, "summary": summary,
               "open_issues": "Feeder jams now and then", "safety_notes": "Guard 3 loose"}),
    )
    .await
}

async fn act(app: &TestApp, token: &str, id: u64, what: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/handovers/{id}/{what}/"), Some(token), &body)
        .await
}

async fn submitted(app: &TestApp, token: &str, id: u64) -> Value {
    let r = act(app, token, id, "submit", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    json_of(r).await
}

#[tokio::test]
async fn a_handover_goes_from_draft_to_submitted_to_acknowledged() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (line, shift) = plant(&app, &admin).await;
    let (writer, w) = app.user_with_token("writer", "user").await;
    let (next, n) = app.user_with_token("nextshift", "user").await;

    let h = draft(&app, &w, line, shift, "Ran 400 units, changeover at 11").await;
    let id = h["id"].as_u64().unwrap();
    assert_eq!(h["status"], "draft");
    assert_eq!(h["written_by"], writer["id"]);
    assert_eq!(h["version"], 1);
    for field in [
        "submitted_at",
        "acknowledged_by",
        "acknowledged_at",
        "overdue_at",
    ] {
        assert!(h[field].is_null(), "{field}: {h}");
    }
    assert_eq!(h["ack_comment"], "");
    assert_eq!(h["activity_ids"], json!([]));

    let r = app
        .patch(
            &format!("/api/handovers/{id}/"),
            &w,
            &json!({"summary": "Ran 420 units", "version": 1}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = json_of(r).await;
    assert_eq!(h["summary"], "Ran 420 units");
    assert_eq!(h["open_issues"], "Feeder jams now and then", "kept");
    assert_eq!(h["version"], 2);

    let h = submitted(&app, &w, id).await;
    assert_eq!(h["status"], "submitted");
    assert!(h["submitted_at"].is_string(), "{h}");
    assert_eq!(h["version"], 3);

    let r = act(
        &app,
        &n,
        id,
        "acknowledge",
        json!({"comment": "Got it, will watch the feeder"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = json_of(r).await;
    assert_eq!(h["status"], "acknowledged");
    assert_eq!(h["acknowledged_by"], next["id"]);
    assert!(h["acknowledged_at"].is_string());
    assert_eq!(h["ack_comment"], "Got it, will watch the feeder");

    let read = json_of(app.get(&format!("/api/handovers/{id}/"), &admin).await).await;
    assert_eq!(read, h, "GET shows what the acknowledgement answered");

    // Acknowledging without a body at all works too.
    let other = draft(&app, &w, line, shift, "Quiet shift").await["id"]
        .as_u64()
        .unwrap();
    submitted(&app, &w, other).await;
    let r = app
        .request(
            reqwest::Method::POST,
            &format!("/api/handovers/{other}/acknowledge/"),
            Some(&n),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["ack_comment"], "");
}

#[tokio::test]
async fn every_move_out_of_turn_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (line, shift) = plant(&app, &admin).await;
    let (_, w) = app.user_with_token("writer", "user").await;
    let (_, n) = app.user_with_token("nextshift", "user").await;
    let (_, staff) = app.user_with_token("lead", "staff").await;
    let id = draft(&app, &w, line, shift, "Ran fine").await["id"]
        .as_u64()
        .unwrap();
    let path = format!("/api/handovers/{id}/");

    // A draft: only its writer edits or submits it; nobody acknowledges it yet.
    for token in [&n, &staff, &admin] {
        let r = app
            .patch(&path, token, &json!({"summary": "mine now"}))
            .await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = act(&app, token, id, "submit", json!({})).await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let r = act(&app, &n, id, "acknowledge", json!({})).await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let r = app.delete(&path, &n).await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app.delete(&path, &staff).await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .patch(&path, &w, &json!({"summary": "stale", "version": 7}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;

    submitted(&app, &w, id).await;
    // Submitted: no more edits, submits or deletes, even by the writer.
    let r = app
        .patch(&path, &w, &json!({"summary": "afterthought"}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let r = act(&app, &w, id, "submit", json!({})).await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let r = app.delete(&path, &w).await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let r = app.delete(&path, &admin).await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    // The writer cannot acknowledge their own handover: a rule about who, so 403.
    let r = act(&app, &w, id, "acknowledge", json!({"comment": "self"})).await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;

    let r = act(&app, &n, id, "acknowledge", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Acknowledged: once is all.
    let r = act(&app, &staff, id, "acknowledge", json!({})).await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let r = act(&app, &w, id, "submit", json!({})).await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;

    // A draft goes away by its writer or an admin, and its id is then 404.
    let mine = draft(&app, &w, line, shift, "Scrap this").await["id"]
        .as_u64()
        .unwrap();
    let r = app.delete(&format!("/api/handovers/{mine}/"), &w).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let theirs = draft(&app, &w, line, shift, "And this").await["id"]
        .as_u64()
        .unwrap();
    let r = app
        .delete(&format!("/api/handovers/{theirs}/"), &admin)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for gone in [mine, theirs] {
        let r = app.get(&format!("/api/handovers/{gone}/"), &w).await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = act(&app, &w, gone, "submit", json!({})).await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn handovers_are_validated_field_by_field() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (line, shift) = plant(&app, &admin).await;
    let (_, w) = app.user_with_token("writer", "user").await;
    let (_, other) = app.user_with_token("other", "user").await;
    let project = created(
        &app,
        "/api/projects/",
        &admin,
        json!({"name": "Secret rework"}),
    )
    .await;
    let hidden = created(
        &app,
        "/api/activities/",
        &admin,
        json!({"title": "Rework in a project the writer is not on", "type": "maintenance",
               "project_id": project["id"]}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    let visible = created(
        &app,
        "/api/activities/",
        &other,
        json!({"title": "Clean the feeder", "type": "maintenance"}),
    )
    .await["id"]
        .as_u64()
        .unwrap();

    let long = "x".repeat(5001);
    let cases = [
        (
            json!({"asset_id": line, "shift_id": shift, "summary": "  "}),
            "summary",
        ),
        (
            json!({"asset_id": line, "shift_id": shift, "summary": long}),
            "summary",
        ),
        (
            json!({"asset_id": line, "shift_id": shift, "summary": "ok", "open_issues": long}),
            "open_issues",
        ),
        (
            json!({"asset_id": line, "shift_id": shift, "summary": "ok", "safety_notes": long}),
            "safety_notes",
        ),
        (
            json!({"asset_id": 999, "shift_id": shift, "summary": "ok"}),
            "asset_id",
        ),
        (
            json!({"asset_id": line, "shift_id": 999, "summary": "ok"}),
            "shift_id",
        ),
        (json!({"shift_id": shift, "summary": "ok"}), "asset_id"),
        (json!({"asset_id": line, "summary": "ok"}), "shift_id"),
        (json!({"asset_id": line, "shift_id": shift}), "summary"),
        (
            json!({"asset_id": line, "shift_id": shift, "summary": "ok", "activity_ids": [9999]}),
            "activity_ids",
        ),
        (
            json!({"asset_id": line, "shift_id": shift, "summary": "ok", "activity_ids": [hidden]}),
            "activity_ids",
        ),
        (
            json!({"asset_id": line, "shift_id": shift, "summary": "ok", "activity_ids": (1..=51).collect::<Vec<u64>>()}),
            "activity_ids",
        ),
        (
            json!({"asset_id": "L1", "shift_id": shift, "summary": "ok"}),
            "asset_id",
        ),
    ];
    for (body, field) in cases {
        let r = app.post(LIST, Some(&w), &body).await;
        let error = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
        assert!(
            error["error"]["fields"][field].is_array(),
            "{field} named for {body}: {error}"
        );
    }
    let count = json_of(app.get(LIST, &admin).await).await["count"].clone();
    assert_eq!(count, 0, "nothing refused was stored");

    // An activity the writer can see is linked, once however often it is named.
    let h = created(
        &app,
        LIST,
        &w,
        json!({"asset_id": line, "shift_id": shift, "summary": "ok",
               "activity_ids": [visible, visible]}),
    )
    .await;
    assert_eq!(h["activity_ids"], json!([visible]));
    let id = h["id"].as_u64().unwrap();
    let r = app
        .patch(
            &format!("/api/handovers/{id}/"),
            &w,
            &json!({"activity_ids": [hidden]}),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    let r = app
        .patch(
            &format!("/api/handovers/{id}/"),
            &w,
            &json!({"shift_id": 4242}),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    // The admin sees the project's activity, so may link it in a handover of their own.
    let h = created(
        &app,
        LIST,
        &admin,
        json!({"asset_id": line, "shift_id": shift, "summary": "ok", "activity_ids": [hidden]}),
    )
    .await;
    assert_eq!(h["activity_ids"], json!([hidden]));

    let id = h["id"].as_u64().unwrap();
    submitted(&app, &admin, id).await;
    let r = act(
        &app,
        &w,
        id,
        "acknowledge",
        json!({"comment": "y".repeat(2001)}),
    )
    .await;
    let error = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(error["error"]["fields"]["comment"].is_array(), "{error}");

    // An asset with handovers is history: it is made inactive, not deleted.
    let r = app.delete(&format!("/api/assets/{line}/"), &admin).await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn the_list_pages_and_filters_by_asset_status_writer_and_time() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (line, shift) = plant(&app, &admin).await;
    let cell = created(
        &app,
        "/api/assets/",
        &admin,
        json!({"code": "L1-C1", "name": "Cell 1", "kind": "workstation", "parent_id": line}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    let other = created(
        &app,
        "/api/assets/",
        &admin,
        json!({"code": "L2", "name": "Line 2", "kind": "line"}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    let (writer, w) = app.user_with_token("writer", "user").await;
    let (_, n) = app.user_with_token("nextshift", "user").await;

    let a = draft(&app, &w, line, shift, "line draft").await["id"]
        .as_u64()
        .unwrap();
    let b = draft(&app, &w, cell, shift, "cell submitted").await["id"]
        .as_u64()
        .unwrap();
    submitted(&app, &w, b).await;
    let c = draft(&app, &n, other, shift, "other line").await["id"]
        .as_u64()
        .unwrap();
    submitted(&app, &n, c).await;
    let r = act(&app, &w, c, "acknowledge", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);

    let ids = |page: &Value| -> Vec<u64> {
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_u64().unwrap())
            .collect()
    };
    let all = json_of(app.get(LIST, &n).await).await;
    assert_eq!(all["count"], 3);
    assert_eq!(
        ids(&all),
        [c, b, a],
        "newest first; everyone reads every handover"
    );

    let cases = [
        (format!("?asset={line}"), vec![b, a]),
        (format!("?asset={cell}"), vec![b]),
        ("?status=draft".to_string(), vec![a]),
        ("?status=submitted".to_string(), vec![b]),
        ("?status=acknowledged".to_string(), vec![c]),
        (format!("?written_by={}", writer["id"]), vec![b, a]),
        (
            format!("?written_by={}&status=submitted", writer["id"]),
            vec![b],
        ),
        ("?from=2000-01-01&to=2999-01-01".to_string(), vec![c, b, a]),
        ("?from=2999-01-01".to_string(), vec![]),
        ("?to=2000-01-01T00:00:00Z".to_string(), vec![]),
    ];
    for (query, want) in cases {
        let page = json_of(app.get(&format!("{LIST}{query}"), &n).await).await;
        assert_eq!(ids(&page), want, "{query}: {page}");
        assert_eq!(page["count"], want.len(), "{query}");
    }

    // From and to bite by creation time: a handover made later, on the moved clock.
    app.clock.advance(3 * 86_400);
    let d = draft(&app, &w, line, shift, "three days on").await;
    let created_at = d["created_at"].as_str().unwrap();
    let page = json_of(app.get(&format!("{LIST}?from={created_at}"), &n).await).await;
    assert_eq!(ids(&page), [d["id"].as_u64().unwrap()], "{page}");
    let page = json_of(app.get(&format!("{LIST}?to={created_at}"), &n).await).await;
    assert_eq!(ids(&page), [c, b, a], "{page}");

    let page = json_of(app.get(&format!("{LIST}?page=2&page_size=2"), &n).await).await;
    assert_eq!(page["count"], 4);
    assert_eq!(ids(&page), [b, a]);
    assert!(page["next"].is_null());
    assert!(page["previous"].as_str().unwrap().contains("page=1"));

    for bad in [
        "?status=open",
        "?asset=0",
        "?asset=999",
        "?from=yesterday",
        "?page=0",
    ] {
        let r = app.get(&format!("{LIST}{bad}"), &n).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn handovers_are_live_searchable_and_audited() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (line, shift) = plant(&app, &admin).await;
    let (_, w) = app.user_with_token("writer", "user").await;
    let (_, n) = app.user_with_token("nextshift", "user").await;
    let mut sse = app
        .request(
            reqwest::Method::GET,
            "/api/events/?topics=handovers",
            Some(&n),
        )
        .send()
        .await
        .expect("sse");
    assert_eq!(sse.status(), StatusCode::OK);

    let id = created(
        &app,
        LIST,
        &w,
        json!({"asset_id": line, "shift_id": shift, "summary": "Spindle overheating twice",
               "open_issues": "Coolant pump rattles", "safety_notes": "Oil slick near bay four"}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    submitted(&app, &w, id).await;
    act(&app, &n, id, "acknowledge", json!({"comment": "ok"})).await;
    let gone = draft(&app, &w, line, shift, "temporary").await["id"]
        .as_u64()
        .unwrap();
    app.delete(&format!("/api/handovers/{gone}/"), &w).await;

    let mut seen = String::new();
    let wanted = [
        "handover.created",
        "handover.updated",
        "\"status\":\"acknowledged\"",
        "handover.deleted",
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !wanted.iter().all(|want| seen.contains(want)) {
        match tokio::time::timeout_at(deadline, sse.chunk()).await {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("events missing from {seen:?}: {other:?}"),
        }
    }
    assert!(seen.contains("\"topic\":\"handovers\""), "{seen}");

    // Summary, open issues and safety notes are all searched, kind `handover`.
    for q in ["spindle", "coolant", "slick"] {
        let mut hits = Value::Null;
        for _ in 0..50 {
            hits = json_of(
                app.get(&format!("/api/search/?q={q}&kind=handover"), &n)
                    .await,
            )
            .await;
            if hits["count"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(hits["results"][0]["kind"], "handover", "{q}: {hits}");
        assert_eq!(hits["results"][0]["id"], id, "{q}: {hits}");
    }
    let hits = json_of(app.get("/api/search/?q=spindle&kind=activity", &n).await).await;
    assert_eq!(hits["count"], 0, "{hits}");

    for action in [
        "handover.create",
        "handover.submit",
        "handover.acknowledge",
        "handover.delete",
    ] {
        let audit = json_of(
            app.get(&format!("/api/audit/?action={action}"), &admin)
                .await,
        )
        .await;
        assert!(audit["count"].as_u64() >= Some(1), "{action}: {audit}");
    }
}

/// The `handover_overdue` notifications of `token`'s user about handover `id`.
async fn overdue_notices(app: &TestApp, token: &str, id: u64) -> usize {
    let page = json_of(
        app.get("/api/updates/notifications/?page_size=200", token)
            .await,
    )
    .await;
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "handover_overdue" && n["link"] == format!("/handovers/{id}"))
        .count()
}

/// Waits until handover `id` is marked overdue; returns it.
async fn until_overdue(app: &TestApp, token: &str, id: u64) -> Value {
    for _ in 0..200 {
        let h = json_of(app.get(&format!("/api/handovers/{id}/"), token).await).await;
        if h["overdue_at"].is_string() {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("handover {id} was never reported overdue");
}

#[tokio::test]
async fn an_unacknowledged_handover_notifies_active_staff_once_after_the_timeout() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (line, shift) = plant(&app, &admin).await;
    let (_, w) = app.user_with_token("writer", "user").await;
    let (_, n) = app.user_with_token("nextshift", "user").await;
    let (_, lead) = app.user_with_token("lead", "staff").await;
    let (_, lead2) = app.user_with_token("lead2", "staff").await;
    let gone = app.create_user("gone", "staff").await;
    let r = app
        .patch(
            &format!("/api/users/{}/", gone["id"]),
            &admin,
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let late = draft(&app, &w, line, shift, "nobody reads this").await["id"]
        .as_u64()
        .unwrap();
    submitted(&app, &w, late).await;
    let acked = draft(&app, &w, line, shift, "read in time").await["id"]
        .as_u64()
        .unwrap();
    submitted(&app, &w, acked).await;
    let still_draft = draft(&app, &w, line, shift, "never sent").await["id"]
        .as_u64()
        .unwrap();
    app.clock.advance(TIMEOUT - 600);
    let r = act(&app, &n, acked, "acknowledge", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Submitted 20 minutes before the first falls due: not yet late when the first is.
    let recent = draft(&app, &w, line, shift, "fresh").await["id"]
        .as_u64()
        .unwrap();
    submitted(&app, &w, recent).await;

    app.clock.advance(600);
    let h = until_overdue(&app, &lead, late).await;
    assert_eq!(h["status"], "submitted", "still waiting: {h}");
    for token in [&lead, &lead2] {
        assert_eq!(overdue_notices(&app, token, late).await, 1);
    }
    assert_eq!(overdue_notices(&app, &n, late).await, 0, "staff only");
    assert_eq!(overdue_notices(&app, &admin, late).await, 0, "staff only");
    for (id, why) in [
        (acked, "acknowledged in time"),
        (still_draft, "a draft"),
        (recent, "not due"),
    ] {
        let h = json_of(app.get(&format!("/api/handovers/{id}/"), &lead).await).await;
        assert!(h["overdue_at"].is_null(), "{why}: {h}");
        assert_eq!(overdue_notices(&app, &lead, id).await, 0, "{why}");
    }
    let audit = json_of(app.get("/api/audit/?action=handover.overdue", &admin).await).await;
    assert_eq!(audit["count"], 1, "{audit}");
    assert_eq!(
        audit["results"][0]["detail"]["notified"], 2,
        "the two active staff users, not the deactivated one: {audit}"
    );

    // Later sweeps do not repeat it; the recent one falls due in its turn, once.
    app.clock.advance(1200);
    until_overdue(&app, &lead, recent).await;
    app.clock.advance(60);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for token in [&lead, &lead2] {
        assert_eq!(overdue_notices(&app, token, late).await, 1);
        assert_eq!(overdue_notices(&app, token, recent).await, 1);
    }
    // An overdue handover is still acknowledged as any other.
    let r = act(&app, &n, late, "acknowledge", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_timeout_that_passes_while_the_server_is_down_is_reported_once_at_start() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (line, shift) = plant(&app, &admin).await;
    let (_, w) = app.user_with_token("writer", "user").await;
    let (_, lead) = app.user_with_token("lead", "staff").await;
    let id = draft(&app, &w, line, shift, "handed over at close").await["id"]
        .as_u64()
        .unwrap();
    submitted(&app, &w, id).await;

    let mut app = app;
    app.stop().await.expect("stopped");
    app.clock.advance(TIMEOUT + 60);
    let app = app.restart().await;
    let h = until_overdue(&app, &lead, id).await;
    assert_eq!(overdue_notices(&app, &lead, id).await, 1, "{h}");

    // Another restart, and more sweeps, long after the deadline: still once.
    let app = app.restart().await;
    app.clock.advance(TIMEOUT);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(overdue_notices(&app, &lead, id).await, 1);
    let again = json_of(app.get(&format!("/api/handovers/{id}/"), &lead).await).await;
    assert_eq!(
        again["overdue_at"], h["overdue_at"],
        "reported once, at its first sweep"
    );
    assert_eq!(again["version"], h["version"]);
}

/// Runs `nexus ARGS --data DATA` with a clean environment, off the test's runtime so the
/// in-process server can answer it; asserts it succeeded.
async fn nexus(data: &std::path::Path, args: &[&str]) {
    let mut cmd = std::process::Command::new(crate::process::BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("NEXUS_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(args).arg("--data").arg(data);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("nexus runs"))
        .await
        .expect("joined");
    assert!(
        out.status.success(),
        "nexus {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn handovers_are_in_backups_and_exports_and_still_fall_due_after_a_restore() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (line, shift) = plant(&app, &admin).await;
    let (_, w) = app.user_with_token("writer", "user").await;
    app.create_user("lead", "staff").await;
    let id = draft(&app, &w, line, shift, "Compressor hums louder").await["id"]
        .as_u64()
        .unwrap();
    submitted(&app, &w, id).await;

    let archives = tempfile::tempdir().unwrap();
    let archive = archives.path().join("floor.tar.gz");
    nexus(
        app.data_dir.path(),
        &["backup", "--out", archive.to_str().unwrap()],
    )
    .await;
    let out = archives.path().join("export.json");
    nexus(
        app.data_dir.path(),
        &["export", "--format", "json", "--out", out.to_str().unwrap()],
    )
    .await;
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(
        doc["handovers"][0]["summary"], "Compressor hums louder",
        "{doc}"
    );

    let target = std::sync::Arc::new(tempfile::tempdir().unwrap());
    nexus(target.path(), &["restore", archive.to_str().unwrap()]).await;
    let copy = crate::common::spawn_app_in(target.clone()).await;
    let token = copy.admin_token().await;
    let original = json_of(app.get(LIST, &admin).await).await;
    let restored = json_of(copy.get(LIST, &token).await).await;
    assert_eq!(original["results"], restored["results"]);
    let hits = json_of(
        copy.get("/api/search/?q=compressor&kind=handover", &token)
            .await,
    )
    .await;
    assert_eq!(hits["results"][0]["id"], id, "{hits}");

    // The restored index of handovers awaiting acknowledgement still drives the sweep.
    let lead_token =
        crate::common::token_of(&copy.login("lead", crate::common::USER_PASSWORD).await);
    copy.clock.advance(TIMEOUT + 1);
    until_overdue(&copy, &lead_token, id).await;
    assert_eq!(overdue_notices(&copy, &lead_token, id).await, 1);
}

#[tokio::test]
async fn graphql_writes_submits_and_acknowledges_through_the_same_rules() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (line, shift) = plant(&app, &admin).await;
    let (writer, w) = app.user_with_token("writer", "user").await;
    let (next, n) = app.user_with_token("nextshift", "user").await;
    let gql = |token: String, query: &'static str, variables: Value| {
        let app = &app;
        async move {
            let r = app
                .post(
                    "/graphql",
                    Some(&token),
                    &json!({"query": query, "variables": variables}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            json_of(r).await
        }
    };
    let mut socket = crate::graphql::GqlWs::open(&app, &n).await;
    socket
        .subscribe(
            "h",
            "subscription { handoverChanged { event handover { id status } } }",
            json!({}),
        )
        .await;

    let body = gql(
        w.clone(),
        "mutation($a: Int!, $s: Int!) { createHandover(input: {assetId: $a, shiftId: $s, summary: \"Belt 2 slipping\", safetyNotes: \"Guard off on belt 2\"}) { id status writtenBy safetyNotes openIssues activityIds submittedAt } }",
        json!({"a": line, "s": shift}),
    )
    .await;
    let h = &body["data"]["createHandover"];
    let id = h["id"].as_u64().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(h["status"], "DRAFT", "{body}");
    assert_eq!(h["writtenBy"], writer["id"]);
    assert_eq!(h["safetyNotes"], "Guard off on belt 2");
    assert_eq!(h["openIssues"], "");
    assert_eq!(h["activityIds"], json!([]));
    assert!(h["submittedAt"].is_null());
    let data = socket.next_data("h").await;
    assert_eq!(data["handoverChanged"]["event"], "handover.created");

    let body = gql(
        w.clone(),
        "mutation($a: Int!, $s: Int!) { createHandover(input: {assetId: $a, shiftId: $s, summary: \" \"}) { id } }",
        json!({"a": line, "s": shift}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "validation_error",
        "{body}"
    );
    let body = gql(
        n.clone(),
        "mutation($id: Int!) { updateHandover(id: $id, input: {summary: \"not mine\"}) { id } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "forbidden",
        "{body}"
    );
    let body = gql(
        w.clone(),
        "mutation($id: Int!) { updateHandover(id: $id, input: {openIssues: \"Order a belt\", version: 1}) { version openIssues } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(body["data"]["updateHandover"]["version"], 2, "{body}");
    let body = gql(
        w.clone(),
        "mutation($id: Int!) { submitHandover(id: $id) { status submittedAt } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        body["data"]["submitHandover"]["status"], "SUBMITTED",
        "{body}"
    );
    let body = gql(
        w.clone(),
        "mutation($id: Int!) { acknowledgeHandover(id: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "forbidden",
        "{body}"
    );
    let body = gql(
        n.clone(),
        "mutation($id: Int!) { acknowledgeHandover(id: $id, comment: \"On it\") { status acknowledgedBy ackComment } }",
        json!({"id": id}),
    )
    .await;
    let acked = &body["data"]["acknowledgeHandover"];
    assert_eq!(acked["status"], "ACKNOWLEDGED", "{body}");
    assert_eq!(acked["acknowledgedBy"], next["id"]);
    assert_eq!(acked["ackComment"], "On it");
    let body = gql(
        n.clone(),
        "mutation($id: Int!) { acknowledgeHandover(id: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "conflict",
        "{body}"
    );

    let body = gql(
        n.clone(),
        "query($a: Int) { handovers(assetId: $a, status: ACKNOWLEDGED) { count results { id summary } } handover(id: 9999) { id } }",
        json!({"a": line}),
    )
    .await;
    assert_eq!(body["data"]["handovers"]["count"], 1, "{body}");
    assert_eq!(body["data"]["handovers"]["results"][0]["id"], id);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "not_found",
        "{body}"
    );
    let rest = json_of(app.get(&format!("/api/handovers/{id}/"), &n).await).await;
    assert_eq!(rest["ack_comment"], "On it", "the same handover over REST");
}

#[tokio::test]
async fn of_racing_acknowledgements_exactly_one_wins() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (line, shift) = plant(&app, &admin).await;
    let (_, w) = app.user_with_token("writer", "user").await;
    let mut tokens = Vec::new();
    for i in 0..4 {
        tokens.push(app.user_with_token(&format!("reader{i}"), "user").await.1);
    }
    let id = draft(&app, &w, line, shift, "Race me").await["id"]
        .as_u64()
        .unwrap();
    submitted(&app, &w, id).await;
    let answers = futures_util::future::join_all(
        tokens
            .iter()
            .map(|t| act(&app, t, id, "acknowledge", json!({"comment": "mine"}))),
    )
    .await;
    let mut statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT
        ]
    );
    let audit = json_of(
        app.get("/api/audit/?action=handover.acknowledge", &admin)
            .await,
    )
    .await;
    assert_eq!(audit["count"], 1, "{audit}");
}
