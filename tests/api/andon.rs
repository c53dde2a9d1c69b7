//! Andon calls (API.md §Shop floor: andon): the status flow and who may move it, validation,
//! the list's filters, the live topic, search and audit, and escalation from stored times
//! with the controllable clock, also across a restart.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, assert_error, json_of, spawn_app};

/// Creates an object as `token`, asserting `201`; returns it.
async fn created(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    let r = app.post(path, Some(token), &body).await;
    let status = r.status();
    let body = json_of(r).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {body}");
    body
}

async fn asset(app: &TestApp, token: &str, code: &str, parent: Option<u64>) -> u64 {
    let kind = if parent.is_some() { "machine" } else { "line" };
    created(
        app,
        "/api/assets/",
        token,
        json!({"code": code, "name": format!("{code} name"), "kind": kind, "parent_id": parent}),
    )
    .await["id"]
        .as_u64()
        .expect("id")
}

async fn raise(app: &TestApp, token: &str, asset: u64, kind: &str, message: &str) -> Value {
    created(
        app,
        "/api/andon/",
        token,
        json!({"asset_id": asset, "kind": kind, "message": message}),
    )
    .await
}

async fn call(app: &TestApp, token: &str, id: &Value) -> Value {
    let r = app.get(&format!("/api/andon/{id}/"), token).await;
    assert_eq!(r.status(), StatusCode::OK);
    json_of(r).await
}

/// Waits (the sweep runs on its own task after `advance`) until the call reaches `level`.
async fn until_level(app: &TestApp, token: &str, id: &Value, level: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let c = call(app, token, id).await;
        if c["level"] == level {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "level {level} not reached: {c}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The caller's notifications about andon calls.
async fn andon_notices(app: &TestApp, token: &str) -> Vec<Value> {
    let page = json_of(
        app.get("/api/updates/notifications/?page_size=200", token)
            .await,
    )
    .await;
    page["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|n| n["kind"] == "andon_escalated")
        .cloned()
        .collect()
}

/// Lets any sweep the last `advance` woke finish.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

struct Floor {
    app: TestApp,
    admin: String,
    staff: String,
    user: String,
    line: u64,
    machine: u64,
}

async fn floor() -> Floor {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("lead", "staff").await;
    let (_, user) = app.user_with_token("operator", "user").await;
    let line = asset(&app, &admin, "LINE-1", None).await;
    let machine = asset(&app, &admin, "PRESS-1", Some(line)).await;
    Floor {
        app,
        admin,
        staff,
        user,
        line,
        machine,
    }
}

#[tokio::test]
async fn andon_anyone_raises_staff_acknowledge_and_resolve() {
    let f = floor().await;
    let c = raise(
        &f.app,
        &f.user,
        f.machine,
        "material",
        "  out of M8 bolts  ",
    )
    .await;
    assert_eq!(c["status"], "open");
    assert_eq!(c["level"], 0);
    assert_eq!(c["kind"], "material");
    assert_eq!(c["message"], "out of M8 bolts");
    assert_eq!(c["asset_id"], f.machine);
    assert_eq!(c["version"], 1);
    assert_eq!(c["raised_at"], c["created_at"]);
    for field in [
        "acknowledged_by",
        "acknowledged_at",
        "resolved_by",
        "resolved_at",
        "resolution",
    ] {
        assert!(c[field].is_null(), "{field}: {c}");
    }
    let id = &c["id"];

    // A user may raise but not answer.
    let ack = format!("/api/andon/{id}/acknowledge/");
    let resolve = format!("/api/andon/{id}/resolve/");
    assert_error(
        f.app.post(&ack, Some(&f.user), &json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        f.app
            .post(&resolve, Some(&f.user), &json!({"resolution": "x"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let r = f.app.post(&ack, Some(&f.staff), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let acked = json_of(r).await;
    assert_eq!(acked["status"], "acknowledged");
    assert!(acked["acknowledged_by"].is_u64());
    assert!(acked["acknowledged_at"].is_string());
    assert_eq!(acked["version"], 2);
    // Acknowledging twice is an illegal move.
    assert_error(
        f.app.post(&ack, Some(&f.admin), &json!({})).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    let r = f
        .app
        .post(
            &resolve,
            Some(&f.admin),
            &json!({"resolution": "bolts brought"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let done = json_of(r).await;
    assert_eq!(done["status"], "resolved");
    assert_eq!(done["resolution"], "bolts brought");
    assert!(done["resolved_at"].is_string() && done["resolved_by"].is_u64());
    assert_eq!(done["acknowledged_by"], acked["acknowledged_by"]);
    for path in [&ack, &resolve] {
        assert_error(
            f.app.post(path, Some(&f.staff), &json!({})).await,
            StatusCode::CONFLICT,
            "conflict",
        )
        .await;
    }

    // Straight from open to resolved, without a body.
    let c = raise(
        &f.app,
        &f.user,
        f.machine,
        "help",
        "need a second pair of hands",
    )
    .await;
    let r = f
        .app
        .request(
            reqwest::Method::POST,
            &format!("/api/andon/{}/resolve/", c["id"]),
            Some(&f.staff),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let done = json_of(r).await;
    assert_eq!(done["status"], "resolved");
    assert!(done["acknowledged_by"].is_null());
    assert_eq!(done["resolution"], "");

    assert_error(
        f.app.get("/api/andon/999999/", &f.user).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        f.app
            .post("/api/andon/999999/acknowledge/", Some(&f.staff), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn andon_validation_names_the_field() {
    let f = floor().await;
    let cases = [
        (
            json!({"asset_id": f.machine, "kind": "help", "message": "   "}),
            "message",
        ),
        (
            json!({"asset_id": f.machine, "kind": "help", "message": "x".repeat(2001)}),
            "message",
        ),
        (json!({"asset_id": f.machine, "kind": "help"}), "message"),
        (
            json!({"asset_id": 424242, "kind": "help", "message": "m"}),
            "asset_id",
        ),
        (
            json!({"asset_id": f.machine, "kind": "fire", "message": "m"}),
            "kind",
        ),
        (json!({"kind": "help", "message": "m"}), "asset_id"),
    ];
    for (body, field) in cases {
        let r = f.app.post("/api/andon/", Some(&f.user), &body).await;
        let err = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
        assert!(
            err["error"]["fields"][field].is_array(),
            "{field} for {body}: {err}"
        );
    }
    raise(&f.app, &f.user, f.machine, "help", &"x".repeat(2000)).await;
    let c = raise(&f.app, &f.user, f.machine, "help", "m").await;
    let r = f
        .app
        .post(
            &format!("/api/andon/{}/resolve/", c["id"]),
            Some(&f.staff),
            &json!({"resolution": "y".repeat(2001)}),
        )
        .await;
    let err = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(err["error"]["fields"]["resolution"].is_array(), "{err}");
    assert_eq!(call(&f.app, &f.user, &c["id"]).await["status"], "open");
    for query in [
        "status=closed",
        "level=3",
        "open=maybe",
        "asset=424242",
        "kind=fire",
    ] {
        let r = f.app.get(&format!("/api/andon/?{query}"), &f.user).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
    }
}

#[tokio::test]
async fn andon_list_filters_by_status_asset_subtree_open_level_and_kind() {
    let f = floor().await;
    let other = asset(&f.app, &f.admin, "LINE-2", None).await;
    let a = raise(&f.app, &f.user, f.machine, "quality", "burrs on every part").await;
    let b = raise(&f.app, &f.user, f.line, "safety", "guard open on the line").await;
    let c = raise(&f.app, &f.user, other, "maintenance", "oil on the floor").await;
    let r = f
        .app
        .post(
            &format!("/api/andon/{}/acknowledge/", a["id"]),
            Some(&f.staff),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = f
        .app
        .post(
            &format!("/api/andon/{}/resolve/", c["id"]),
            Some(&f.staff),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let ids = |page: &Value| -> Vec<u64> {
        page["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|c| c["id"].as_u64().expect("id"))
            .collect()
    };
    let (a, b, c) = (
        a["id"].as_u64().expect("id"),
        b["id"].as_u64().expect("id"),
        c["id"].as_u64().expect("id"),
    );
    let cases: [(String, Vec<u64>); 9] = [
        (String::new(), vec![c, b, a]),
        ("status=open".into(), vec![b]),
        ("status=acknowledged".into(), vec![a]),
        ("status=resolved".into(), vec![c]),
        ("open=true".into(), vec![b, a]),
        ("open=false".into(), vec![c]),
        (format!("asset={}", f.line), vec![b, a]),
        ("level=1".into(), vec![b]),
        (
            format!("asset={}&kind=quality&open=true", f.machine),
            vec![a],
        ),
    ];
    for (query, want) in cases {
        let page = json_of(f.app.get(&format!("/api/andon/?{query}"), &f.user).await).await;
        assert_eq!(ids(&page), want, "?{query}: {page}");
        assert_eq!(page["count"], want.len(), "?{query}");
    }
    let page = json_of(f.app.get("/api/andon/?page=2&page_size=2", &f.user).await).await;
    assert_eq!(ids(&page), vec![a]);
    assert_eq!(page["count"], 3);
    assert!(
        page["next"].is_null() && page["previous"].is_string(),
        "{page}"
    );
}

#[tokio::test]
async fn andon_writes_are_live_searchable_and_audited() {
    let f = floor().await;
    let mut sse = f
        .app
        .request(
            reqwest::Method::GET,
            "/api/events/?topics=andon",
            Some(&f.user),
        )
        .send()
        .await
        .expect("sse");
    assert_eq!(sse.status(), StatusCode::OK);
    let c = raise(
        &f.app,
        &f.user,
        f.machine,
        "quality",
        "hairline crack in the casting",
    )
    .await;
    let r = f
        .app
        .post(
            &format!("/api/andon/{}/acknowledge/", c["id"]),
            Some(&f.staff),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = f
        .app
        .post(
            &format!("/api/andon/{}/resolve/", c["id"]),
            Some(&f.staff),
            &json!({"resolution": "scrapped"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(seen.contains("andon.created") && seen.contains("\"status\":\"resolved\"")) {
        match tokio::time::timeout_at(deadline, sse.chunk()).await {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("events missing from {seen:?}: {other:?}"),
        }
    }
    assert!(seen.contains("\"topic\":\"andon\""), "{seen}");
    assert!(seen.contains("andon.updated"), "{seen}");
    assert!(seen.contains("\"status\":\"acknowledged\""), "{seen}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let hits = json_of(
            f.app
                .get("/api/search/?q=casting&kind=andon", &f.user)
                .await,
        )
        .await;
        if hits["count"] == 1 {
            assert_eq!(hits["results"][0]["kind"], "andon", "{hits}");
            assert_eq!(hits["results"][0]["id"], c["id"], "{hits}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not found: {hits}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hits = json_of(
        f.app
            .get("/api/search/?q=casting&kind=asset", &f.user)
            .await,
    )
    .await;
    assert_eq!(hits["count"], 0, "{hits}");

    for action in ["andon.raise", "andon.acknowledge", "andon.resolve"] {
        let audit = json_of(
            f.app
                .get(&format!("/api/audit/?action={action}"), &f.admin)
                .await,
        )
        .await;
        assert_eq!(audit["count"], 1, "{action}: {audit}");
        assert_eq!(audit["results"][0]["target"], format!("andon:{}", c["id"]));
    }
}

#[tokio::test]
async fn andon_escalates_to_staff_then_admins_and_acknowledging_stops_it() {
    let f = floor().await;
    let (_, staff2) = f.app.user_with_token("lead2", "staff").await;
    let [first, second] = [120i64, 600];
    let c = raise(
        &f.app,
        &f.user,
        f.machine,
        "maintenance",
        "spindle overheating",
    )
    .await;
    let quiet = raise(&f.app, &f.user, f.machine, "material", "labels running low").await;
    let r = f
        .app
        .post(
            &format!("/api/andon/{}/acknowledge/", quiet["id"]),
            Some(&f.staff),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    f.app.clock.advance(first - 5);
    settle().await;
    assert_eq!(
        call(&f.app, &f.user, &c["id"]).await["level"],
        0,
        "not yet due"
    );
    assert!(andon_notices(&f.app, &f.staff).await.is_empty());

    f.app.clock.advance(10);
    let up = until_level(&f.app, &f.user, &c["id"], 1).await;
    assert_eq!(up["status"], "open");
    assert_eq!(up["version"], 2);
    for staff in [&f.staff, &staff2] {
        let notices = andon_notices(&f.app, staff).await;
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(notices[0]["link"], format!("/andon#andon-{}", c["id"]));
        assert!(
            notices[0]["title"]
                .as_str()
                .is_some_and(|t| t.contains("PRESS-1"))
        );
    }
    assert!(
        andon_notices(&f.app, &f.admin).await.is_empty(),
        "admins wait for level 2"
    );
    assert!(andon_notices(&f.app, &f.user).await.is_empty());

    f.app.clock.advance(second - first);
    let top = until_level(&f.app, &f.user, &c["id"], 2).await;
    assert_eq!(top["version"], 3);
    assert_eq!(andon_notices(&f.app, &f.admin).await.len(), 1);
    assert_eq!(andon_notices(&f.app, &f.staff).await.len(), 1, "staff once");

    // Level 2 is the top: more time changes nothing.
    f.app.clock.advance(second * 10);
    settle().await;
    assert_eq!(call(&f.app, &f.user, &c["id"]).await["version"], 3);
    assert_eq!(andon_notices(&f.app, &f.admin).await.len(), 1);

    // The acknowledged call never escalated.
    let q = call(&f.app, &f.user, &quiet["id"]).await;
    assert_eq!(
        (q["level"].clone(), q["version"].clone()),
        (json!(0), json!(2)),
        "{q}"
    );
    let escalations = json_of(
        f.app
            .get("/api/audit/?action=andon.escalate", &f.admin)
            .await,
    )
    .await;
    assert_eq!(escalations["count"], 2, "{escalations}");
    assert!(escalations["results"][0]["actor_id"].is_null());
}

#[tokio::test]
async fn andon_safety_calls_start_at_level_one_and_notify_staff_at_once() {
    let f = floor().await;
    let c = raise(
        &f.app,
        &f.user,
        f.machine,
        "safety",
        "light curtain bypassed",
    )
    .await;
    assert_eq!(c["level"], 1);
    assert_eq!(andon_notices(&f.app, &f.staff).await.len(), 1);
    assert!(andon_notices(&f.app, &f.admin).await.is_empty());
    // Staff raising one are not told of their own call.
    let own = raise(&f.app, &f.staff, f.machine, "safety", "slippery floor").await;
    assert_eq!(andon_notices(&f.app, &f.staff).await.len(), 1);

    f.app.clock.advance(130);
    settle().await;
    assert_eq!(
        call(&f.app, &f.user, &c["id"]).await["level"],
        1,
        "level 1 is no news"
    );
    assert_eq!(andon_notices(&f.app, &f.staff).await.len(), 1);
    f.app.clock.advance(600);
    until_level(&f.app, &f.user, &c["id"], 2).await;
    until_level(&f.app, &f.user, &own["id"], 2).await;
    // Both safety calls reached level 2.
    assert_eq!(andon_notices(&f.app, &f.admin).await.len(), 2);
}

#[tokio::test]
async fn andon_escalates_exactly_once_after_a_restart_past_the_deadline() {
    let mut f = floor().await;
    let c = raise(&f.app, &f.user, f.machine, "quality", "wrong colour batch").await;
    f.app.stop().await.expect("stop");
    // Past both deadlines while the server is down.
    f.app.clock.advance(700);
    let app = f.app.restart().await;
    let admin = app.admin_token().await;
    let staff = f.staff.clone();
    let escalated = until_level(&app, &admin, &c["id"], 2).await;
    assert_eq!(
        escalated["version"], 2,
        "one write took it to level 2: {escalated}"
    );
    // Sweeps keep running (start, every few seconds, each advance): nothing more happens.
    app.clock.advance(1);
    settle().await;
    app.clock.advance(1);
    settle().await;
    let app = app.restart().await;
    let admin = app.admin_token().await;
    settle().await;
    assert_eq!(call(&app, &admin, &c["id"]).await["version"], 2);
    assert_eq!(andon_notices(&app, &staff).await.len(), 1, "staff once");
    assert_eq!(andon_notices(&app, &admin).await.len(), 1, "admin once");
    let audit = json_of(app.get("/api/audit/?action=andon.escalate", &admin).await).await;
    assert_eq!(audit["count"], 1, "{audit}");
}

async fn gql(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let r = app
        .post(
            "/graphql",
            Some(token),
            &json!({"query": query, "variables": variables}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    json_of(r).await
}

#[tokio::test]
async fn andon_graphql_raises_lists_answers_and_streams_changes() {
    let f = floor().await;
    let mut socket = crate::graphql::GqlWs::open(&f.app, &f.user).await;
    socket
        .subscribe(
            "a",
            "subscription { andonChanged { event id andonCall { id status level kind } } }",
            json!({}),
        )
        .await;
    let body = gql(
        &f.app,
        &f.user,
        "mutation($a: Int!) { raiseAndon(input: {assetId: $a, kind: SAFETY, message: \"sparks from the panel\"}) { id status level kind raisedBy acknowledgedAt } }",
        json!({"a": f.machine}),
    )
    .await;
    let raised = &body["data"]["raiseAndon"];
    assert_eq!(raised["status"], "OPEN", "{body}");
    assert_eq!(raised["level"], 1);
    assert_eq!(raised["kind"], "SAFETY");
    assert!(raised["acknowledgedAt"].is_null());
    let id = raised["id"].as_u64().unwrap_or_else(|| panic!("{body}"));
    let data = socket.next_data("a").await;
    assert_eq!(data["andonChanged"]["event"], "andon.created");
    assert_eq!(data["andonChanged"]["andonCall"]["id"], id);

    let body = gql(
        &f.app,
        &f.user,
        "mutation($i: Int!) { acknowledgeAndon(id: $i) { status } }",
        json!({"i": id}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "forbidden",
        "{body}"
    );
    let body = gql(
        &f.app,
        &f.user,
        "mutation($a: Int!) { raiseAndon(input: {assetId: $a, kind: HELP, message: \" \"}) { id } }",
        json!({"a": f.machine}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "validation_error",
        "{body}"
    );

    let body = gql(
        &f.app,
        &f.staff,
        "mutation($i: Int!) { acknowledgeAndon(id: $i) { status acknowledgedBy } }",
        json!({"i": id}),
    )
    .await;
    assert_eq!(
        body["data"]["acknowledgeAndon"]["status"], "ACKNOWLEDGED",
        "{body}"
    );
    let data = socket.next_data("a").await;
    assert_eq!(data["andonChanged"]["event"], "andon.updated");
    assert_eq!(data["andonChanged"]["andonCall"]["status"], "ACKNOWLEDGED");

    let body = gql(
        &f.app,
        &f.user,
        "query($l: Int!, $i: Int!) { open: andonCalls(open: true, assetId: $l) { count results { id } } resolved: andonCalls(status: RESOLVED) { count } one: andonCall(id: $i) { message } }",
        json!({"l": f.line, "i": id}),
    )
    .await;
    assert_eq!(body["data"]["open"]["count"], 1, "{body}");
    assert_eq!(body["data"]["open"]["results"][0]["id"], id);
    assert_eq!(body["data"]["resolved"]["count"], 0);
    assert_eq!(body["data"]["one"]["message"], "sparks from the panel");

    let body = gql(
        &f.app,
        &f.admin,
        "mutation($i: Int!) { resolveAndon(id: $i, resolution: \"panel isolated\") { status resolution } }",
        json!({"i": id}),
    )
    .await;
    assert_eq!(
        body["data"]["resolveAndon"]["resolution"], "panel isolated",
        "{body}"
    );
    let body = gql(
        &f.app,
        &f.admin,
        "mutation($i: Int!) { resolveAndon(id: $i) { status } }",
        json!({"i": id}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "conflict",
        "{body}"
    );
}
