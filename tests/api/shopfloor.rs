//! The shop floor (API.md §Shop floor): assets, shifts, downtime reasons and events, production
//! counts, OEE and the Pareto, over HTTP; the OEE arithmetic also directly, by property.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, assert_error, json_of, spawn_app, spawn_app_with};

/// Creates an object as `token`, asserting `201`; returns it.
async fn created(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    let r = app.post(path, Some(token), &body).await;
    let status = r.status();
    let body = json_of(r).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {body}");
    body
}

async fn asset(app: &TestApp, token: &str, code: &str, kind: &str, parent: Option<u64>) -> u64 {
    created(
        app,
        "/api/assets/",
        token,
        json!({"code": code, "name": format!("{code} name"), "kind": kind, "parent_id": parent,
               "ideal_cycle_secs": 30.0}),
    )
    .await["id"]
        .as_u64()
        .expect("id")
}

async fn reason(app: &TestApp, token: &str, code: &str, planned: bool, parent: Option<u64>) -> u64 {
    created(
        app,
        "/api/downtime/reasons/",
        token,
        json!({"code": code, "name": code, "planned": planned, "parent_id": parent}),
    )
    .await["id"]
        .as_u64()
        .expect("id")
}

async fn stop(
    app: &TestApp,
    token: &str,
    asset: u64,
    reason: Option<u64>,
    from: &str,
    to: Option<&str>,
) -> u64 {
    created(
        app,
        "/api/downtime/",
        token,
        json!({"asset_id": asset, "reason_id": reason, "started_at": from, "ended_at": to}),
    )
    .await["id"]
        .as_u64()
        .expect("id")
}

async fn count(
    app: &TestApp,
    token: &str,
    asset: u64,
    from: &str,
    to: &str,
    total: u64,
    good: u64,
) {
    created(
        app,
        "/api/production/",
        token,
        json!({"asset_id": asset, "started_at": from, "ended_at": to,
               "total_count": total, "good_count": good}),
    )
    .await;
}

async fn shift(app: &TestApp, token: &str, name: &str, starts: &str, ends: &str) {
    created(
        app,
        "/api/shifts/",
        token,
        json!({"name": name, "starts": starts, "ends": ends,
               "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}),
    )
    .await;
}

async fn oee(
    app: &TestApp,
    token: &str,
    asset: u64,
    from: &str,
    to: &str,
    group: &str,
) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/oee/?asset={asset}&from={from}&to={to}&group={group}"),
            token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    json_of(r).await.as_array().expect("rows").clone()
}

/// Asserts a ratio to 1e-9, or `null`.
fn ratio(row: &Value, field: &str, want: Option<f64>) {
    match want {
        None => assert!(row[field].is_null(), "{field} should be null: {row}"),
        Some(w) => {
            let got = row[field]
                .as_f64()
                .unwrap_or_else(|| panic!("{field}: {row}"));
            assert!(
                (got - w).abs() < 1e-9,
                "{field}: got {got}, want {w}: {row}"
            );
        }
    }
}

/// Asserts the seconds and counts of a row.
#[allow(clippy::too_many_arguments)]
fn figures(
    row: &Value,
    from: &str,
    to: &str,
    planned: i64,
    downtime: i64,
    run: i64,
    total: f64,
    good: f64,
) {
    assert_eq!(row["from"], from, "{row}");
    assert_eq!(row["to"], to, "{row}");
    assert_eq!(row["planned_secs"], planned, "planned: {row}");
    assert_eq!(row["downtime_secs"], downtime, "downtime: {row}");
    assert_eq!(row["run_secs"], run, "run: {row}");
    let (t, g) = (
        row["total_count"].as_f64().unwrap_or(-1.0),
        row["good_count"].as_f64().unwrap_or(-1.0),
    );
    assert!((t - total).abs() < 1e-9, "total {t} want {total}: {row}");
    assert!((g - good).abs() < 1e-9, "good {g} want {good}: {row}");
}

#[tokio::test]
async fn assets_form_a_tree_with_unique_codes_and_no_cycles() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("shiftlead", "staff").await;
    let (_, user) = app.user_with_token("operator", "user").await;

    let site = asset(&app, &admin, "PLANT", "site", None).await;
    let line = asset(&app, &staff, "L1", "line", Some(site)).await;
    let machine = asset(&app, &staff, "L1-M1", "machine", Some(line)).await;

    // Everyone reads; only admin and staff write.
    let r = app
        .post(
            "/api/assets/",
            Some(&user),
            &json!({"code": "X", "name": "x", "kind": "machine"}),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app.get(&format!("/api/assets/{machine}/"), &user).await;
    let body = json_of(r).await;
    assert_eq!(body["code"], "L1-M1");
    assert_eq!(body["state"], "running");
    assert_eq!(body["version"], 1);

    // Codes are unique, whatever their case.
    let r = app
        .post(
            "/api/assets/",
            Some(&admin),
            &json!({"code": "l1", "name": "dup", "kind": "line"}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;

    // A cycle, direct or through descendants, is refused with 400 on parent_id.
    for parent in [site, machine] {
        let r = app
            .patch(
                &format!("/api/assets/{site}/"),
                &admin,
                &json!({"parent_id": parent}),
            )
            .await;
        let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
        assert!(body["error"]["fields"]["parent_id"].is_array(), "{body}");
    }
    let r = app
        .post(
            "/api/assets/",
            Some(&admin),
            &json!({"code": "Y", "name": "y", "kind": "machine", "parent_id": 999}),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    let r = app
        .post(
            "/api/assets/",
            Some(&admin),
            &json!({"code": "Z", "name": "z", "kind": "machine", "ideal_cycle_secs": 0}),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;

    // The subtree, parents first; the filters.
    let tree = json_of(app.get(&format!("/api/assets/{site}/tree/"), &user).await).await;
    let codes: Vec<&str> = tree
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["PLANT", "L1", "L1-M1"]);
    let list = json_of(app.get("/api/assets/?kind=machine", &user).await).await;
    assert_eq!(list["count"], 1);
    let list = json_of(app.get(&format!("/api/assets/?parent={site}"), &user).await).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0]["code"], "L1");
    let list = json_of(app.get("/api/assets/?q=m1", &user).await).await;
    assert_eq!(list["count"], 1);

    // A stale version is 409; a current one moves it on.
    let r = app
        .patch(
            &format!("/api/assets/{machine}/"),
            &staff,
            &json!({"name": "Press", "version": 7}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let r = app
        .patch(
            &format!("/api/assets/{machine}/"),
            &staff,
            &json!({"name": "Press", "version": 1}),
        )
        .await;
    assert_eq!(json_of(r).await["version"], 2);

    // An asset with children is not deleted; a leaf is, and the delete is audited.
    let r = app.delete(&format!("/api/assets/{line}/"), &admin).await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let r = app.delete(&format!("/api/assets/{machine}/"), &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let audit = json_of(app.get("/api/audit/?action=asset.delete", &admin).await).await;
    assert_eq!(audit["count"], 1, "{audit}");
    assert_eq!(audit["results"][0]["target"], format!("asset:{machine}"));
}

#[tokio::test]
async fn downtime_events_of_one_asset_never_overlap_and_drive_its_state() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, user) = app.user_with_token("operator", "user").await;
    let m = asset(&app, &admin, "M1", "machine", None).await;
    let other = asset(&app, &admin, "M2", "machine", None).await;

    // Anyone reports a stop; the asset is down while it is open.
    let open = stop(&app, &user, m, None, "2026-03-02T10:00:00Z", None).await;
    let a = json_of(app.get(&format!("/api/assets/{m}/"), &user).await).await;
    assert_eq!(a["state"], "down");

    // Overlaps are 409: inside, across the start, and any later event while one is open.
    for (from, to) in [
        ("2026-03-02T11:00:00Z", Some("2026-03-02T11:30:00Z")),
        ("2026-03-02T09:00:00Z", Some("2026-03-02T10:00:01Z")),
        ("2026-03-02T12:00:00Z", None),
    ] {
        let r = app
            .post(
                "/api/downtime/",
                Some(&user),
                &json!({"asset_id": m, "started_at": from, "ended_at": to}),
            )
            .await;
        assert_error(r, StatusCode::CONFLICT, "conflict").await;
    }
    // Touching is not overlapping, and another asset is free.
    stop(
        &app,
        &user,
        m,
        None,
        "2026-03-02T09:00:00Z",
        Some("2026-03-02T10:00:00Z"),
    )
    .await;
    stop(&app, &user, other, None, "2026-03-02T10:30:00Z", None).await;

    // Anyone ends it; ending twice is 409; the asset runs again.
    let r = app
        .post(
            &format!("/api/downtime/{open}/end/"),
            Some(&user),
            &json!({"ended_at": "2026-03-02T10:45:00Z"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["ended_at"], "2026-03-02T10:45:00Z");
    let r = app
        .post(
            &format!("/api/downtime/{open}/end/"),
            Some(&user),
            &json!({}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let a = json_of(app.get(&format!("/api/assets/{m}/"), &user).await).await;
    assert_eq!(a["state"], "running");

    // Only staff edit; an edit into an overlap is 409 too.
    let r = app
        .patch(
            &format!("/api/downtime/{open}/"),
            &user,
            &json!({"note": "x"}),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .patch(
            &format!("/api/downtime/{open}/"),
            &admin,
            &json!({"started_at": "2026-03-02T09:30:00Z"}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let r = app
        .post("/api/downtime/", Some(&user), &json!({"asset_id": m, "started_at": "2026-03-02T12:00:00Z", "ended_at": "2026-03-02T12:00:00Z"}))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;

    // Filters: the asset's subtree, open, the time window.
    let list = json_of(app.get(&format!("/api/downtime/?asset={m}"), &user).await).await;
    assert_eq!(list["count"], 2);
    let list = json_of(app.get("/api/downtime/?open=true", &user).await).await;
    assert_eq!(list["count"], 1);
    let list = json_of(
        app.get(
            "/api/downtime/?from=2026-03-02T10:40:00Z&to=2026-03-02T10:50:00Z",
            &user,
        )
        .await,
    )
    .await;
    assert_eq!(list["count"], 2, "{list}");
}

#[tokio::test]
async fn of_concurrent_reports_for_one_asset_exactly_one_wins() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let m = asset(&app, &admin, "M1", "machine", None).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (client, url, token) = (app.client.clone(), app.url("/api/downtime/"), admin.clone());
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"asset_id": m, "started_at": format!("2026-03-02T10:00:{i:02}Z")}))
                .send()
                .await
                .expect("request")
                .status()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    let won = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let lost = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((won, lost), (1, 11), "{statuses:?}");
    let list = json_of(app.get("/api/downtime/", &admin).await).await;
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn only_a_leaf_reason_goes_on_an_event() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, user) = app.user_with_token("operator", "user").await;
    let m = asset(&app, &admin, "M1", "machine", None).await;
    let mech = reason(&app, &admin, "MECH", false, None).await;
    let jam = reason(&app, &admin, "JAM", false, Some(mech)).await;

    let r = app
        .post(
            "/api/downtime/reasons/",
            Some(&user),
            &json!({"code": "U", "name": "u"}),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .post("/api/downtime/", Some(&user), &json!({"asset_id": m, "reason_id": mech, "started_at": "2026-03-02T10:00:00Z", "ended_at": "2026-03-02T10:10:00Z"}))
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(body["error"]["fields"]["reason_id"].is_array(), "{body}");
    let event = stop(
        &app,
        &user,
        m,
        Some(jam),
        "2026-03-02T10:00:00Z",
        Some("2026-03-02T10:10:00Z"),
    )
    .await;

    // A reason on events stays a leaf; a reason tree has no cycles either.
    let r = app
        .post(
            "/api/downtime/reasons/",
            Some(&admin),
            &json!({"code": "JAM-A", "name": "a", "parent_id": jam}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    let r = app
        .patch(
            &format!("/api/downtime/reasons/{mech}/"),
            &admin,
            &json!({"parent_id": jam}),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    let list = json_of(
        app.get(&format!("/api/downtime/?reason={jam}"), &user)
            .await,
    )
    .await;
    assert_eq!(list["results"][0]["id"], event);
}

#[tokio::test]
async fn production_counts_are_checked_and_edited_by_staff_only() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, user) = app.user_with_token("operator", "user").await;
    let m = asset(&app, &admin, "M1", "machine", None).await;
    let r = app
        .post("/api/production/", Some(&user), &json!({"asset_id": m, "started_at": "2026-03-02T10:00:00Z", "ended_at": "2026-03-02T10:01:00Z", "total_count": 5, "good_count": 6}))
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(body["error"]["fields"]["good_count"].is_array());
    let r = app
        .post("/api/production/", Some(&user), &json!({"asset_id": 999, "started_at": "2026-03-02T10:00:00Z", "ended_at": "2026-03-02T10:01:00Z", "total_count": 5, "good_count": 5}))
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(body["error"]["fields"]["asset_id"].is_array());
    let c = created(&app, "/api/production/", &user, json!({"asset_id": m, "started_at": "2026-03-02T10:00:00Z", "ended_at": "2026-03-02T10:01:00Z", "total_count": 5, "good_count": 4})).await;
    let id = c["id"].as_u64().unwrap();
    assert!(c["reported_by"].as_u64().is_some());
    let r = app
        .patch(
            &format!("/api/production/{id}/"),
            &user,
            &json!({"good_count": 5}),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .patch(
            &format!("/api/production/{id}/"),
            &admin,
            &json!({"good_count": 5}),
        )
        .await;
    assert_eq!(json_of(r).await["good_count"], 5);
    let list = json_of(app.get(&format!("/api/production/?asset={m}"), &user).await).await;
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn shifts_are_admin_only_and_the_current_one_has_its_utc_bounds() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("shiftlead", "staff").await;
    let r = app
        .post(
            "/api/shifts/",
            Some(&staff),
            &json!({"name": "Day", "starts": "06:00", "ends": "14:00"}),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .post(
            "/api/shifts/",
            Some(&admin),
            &json!({"name": "Bad", "starts": "25:00", "ends": "14:00"}),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    let r = app.get("/api/shifts/current/", &staff).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    // Ends at its own start: around the clock, every day.
    shift(&app, &admin, "Always", "00:00", "00:00").await;
    let current = json_of(app.get("/api/shifts/current/", &staff).await).await;
    assert_eq!(current["shift"]["name"], "Always");
    let (start, end) = (
        current["start"].as_str().unwrap(),
        current["end"].as_str().unwrap(),
    );
    assert!(
        start.ends_with("T00:00:00Z") && end.ends_with("T00:00:00Z"),
        "{current}"
    );
    let list = json_of(app.get("/api/shifts/", &staff).await).await;
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn shop_floor_writes_are_live_searchable_and_audited() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, user) = app.user_with_token("operator", "user").await;
    let mut sse = app
        .request(
            reqwest::Method::GET,
            "/api/events/?topics=assets,downtime,production",
            Some(&user),
        )
        .send()
        .await
        .expect("sse");
    assert_eq!(sse.status(), StatusCode::OK);
    let m = asset(&app, &admin, "PRESS-7", "machine", None).await;
    stop(&app, &user, m, None, "2026-03-02T10:00:00Z", None).await;
    let r = app
        .post("/api/downtime/", Some(&user), &json!({"asset_id": m, "started_at": "2026-03-01T10:00:00Z", "ended_at": "2026-03-01T10:05:00Z", "note": "hydraulic leak under the ram"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    count(
        &app,
        &user,
        m,
        "2026-03-01T10:00:00Z",
        "2026-03-01T10:01:00Z",
        3,
        3,
    )
    .await;

    let mut seen = String::new();
    let wanted = [
        "asset.created",
        "downtime.created",
        "asset.updated",
        "production.created",
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !wanted.iter().all(|w| seen.contains(w)) {
        match tokio::time::timeout_at(deadline, sse.chunk()).await {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("events missing from {seen:?}: {other:?}"),
        }
    }
    assert!(seen.contains("\"topic\":\"assets\"") && seen.contains("\"topic\":\"downtime\""));
    assert!(
        seen.contains("\"state\":\"down\""),
        "the asset's new state is live: {seen}"
    );

    let hits = json_of(app.get("/api/search/?q=PRESS&kind=asset", &user).await).await;
    assert_eq!(hits["results"][0]["id"], m, "{hits}");
    let hits = json_of(app.get("/api/search/?q=hydraulic", &user).await).await;
    assert_eq!(hits["results"][0]["kind"], "downtime", "{hits}");

    for action in ["asset.create", "downtime.report", "production.report"] {
        let audit = json_of(
            app.get(&format!("/api/audit/?action={action}"), &admin)
                .await,
        )
        .await;
        assert!(audit["count"].as_u64() >= Some(1), "{action}: {audit}");
    }
}

/// Planned time, a planned changeover, unplanned stops with and without a reason, a stop
/// outside the shift, counts with scrap, and a bucket outside every shift.
#[tokio::test]
async fn oee_of_one_shift_worked_by_hand() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    shift(&app, &admin, "Day", "06:00", "14:00").await;
    let m = asset(&app, &admin, "M1", "machine", None).await; // ideal cycle 30 s
    let changeover = reason(&app, &admin, "CO", true, None).await;
    let jam = reason(&app, &admin, "JAM", false, None).await;
    stop(
        &app,
        &admin,
        m,
        Some(changeover),
        "2026-03-02T08:00:00Z",
        Some("2026-03-02T08:30:00Z"),
    )
    .await;
    stop(
        &app,
        &admin,
        m,
        Some(jam),
        "2026-03-02T10:00:00Z",
        Some("2026-03-02T10:20:00Z"),
    )
    .await;
    stop(
        &app,
        &admin,
        m,
        None,
        "2026-03-02T12:00:00Z",
        Some("2026-03-02T12:10:00Z"),
    )
    .await;
    stop(
        &app,
        &admin,
        m,
        Some(jam),
        "2026-03-02T15:00:00Z",
        Some("2026-03-02T16:00:00Z"),
    )
    .await;
    count(
        &app,
        &admin,
        m,
        "2026-03-02T06:00:00Z",
        "2026-03-02T14:00:00Z",
        700,
        665,
    )
    .await;

    let rows = oee(
        &app,
        &admin,
        m,
        "2026-03-02T00:00:00Z",
        "2026-03-03T00:00:00Z",
        "day",
    )
    .await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    // Shift 8 h = 28,800 s; minus the 30 min changeover = 27,000 planned. Unplanned in the
    // shift: 20 min + 10 min = 1,800 s (the 15:00 stop is outside it). Run 25,200 s.
    figures(
        row,
        "2026-03-02T00:00:00Z",
        "2026-03-03T00:00:00Z",
        27_000,
        1_800,
        25_200,
        700.0,
        665.0,
    );
    ratio(row, "availability", Some(25_200.0 / 27_000.0)); // 14/15
    ratio(row, "performance", Some(30.0 * 700.0 / 25_200.0)); // 5/6
    ratio(row, "quality", Some(665.0 / 700.0)); // 19/20
    ratio(row, "oee", Some(14.0 / 15.0 * 5.0 / 6.0 * 19.0 / 20.0));
    assert_eq!(row["asset_id"], m);

    // Hours: one before the shift plans nothing; the changeover's hour plans 30 min.
    let rows = oee(
        &app,
        &admin,
        m,
        "2026-03-02T05:00:00Z",
        "2026-03-02T09:00:00Z",
        "hour",
    )
    .await;
    assert_eq!(rows.len(), 4);
    figures(
        &rows[0],
        "2026-03-02T05:00:00Z",
        "2026-03-02T06:00:00Z",
        0,
        0,
        0,
        0.0,
        0.0,
    );
    for field in ["availability", "performance", "quality", "oee"] {
        ratio(&rows[0], field, None);
    }
    figures(
        &rows[3],
        "2026-03-02T08:00:00Z",
        "2026-03-02T09:00:00Z",
        1_800,
        0,
        1_800,
        87.5,
        83.125,
    );
    ratio(&rows[3], "availability", Some(1.0));
    ratio(&rows[3], "performance", Some(30.0 * 87.5 / 1_800.0));

    // The Pareto: unplanned loss only, the largest first; unclassified has no code.
    let r = app
        .get(
            &format!(
                "/api/downtime/pareto/?asset={m}&from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z"
            ),
            &admin,
        )
        .await;
    let pareto = json_of(r).await;
    assert_eq!(pareto[0]["code"], "JAM");
    assert_eq!(pareto[0]["events"], 2);
    assert_eq!(pareto[0]["seconds"], 1_200 + 3_600);
    assert!(pareto[1]["reason_id"].is_null() && pareto[1]["code"].is_null());
    assert_eq!(pareto[1]["seconds"], 600);
    assert_eq!(
        pareto.as_array().unwrap().len(),
        2,
        "the planned changeover is no loss"
    );

    let csv = app
        .get(
            &format!("/api/oee/export.csv?asset={m}&from=2026-03-02&to=2026-03-03&group=day"),
            &admin,
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("asset_id,from,to,planned_secs"), "{csv}");
    assert!(csv.contains(",27000,1800,25200,700,665,"), "{csv}");
    let csv = app
        .get("/api/downtime/export.csv", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
}

/// A stop and a count straddling the change from the early to the late shift are split in
/// proportion to time.
#[tokio::test]
async fn oee_splits_what_straddles_a_shift_change() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    shift(&app, &admin, "Early", "06:00", "14:00").await;
    shift(&app, &admin, "Late", "14:00", "22:00").await;
    let m = asset(&app, &admin, "M1", "machine", None).await;
    stop(
        &app,
        &admin,
        m,
        None,
        "2026-03-02T13:30:00Z",
        Some("2026-03-02T14:30:00Z"),
    )
    .await;
    count(
        &app,
        &admin,
        m,
        "2026-03-02T13:00:00Z",
        "2026-03-02T15:00:00Z",
        120,
        114,
    )
    .await;
    let rows = oee(
        &app,
        &admin,
        m,
        "2026-03-02T00:00:00Z",
        "2026-03-03T00:00:00Z",
        "shift",
    )
    .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    figures(
        &rows[0],
        "2026-03-02T06:00:00Z",
        "2026-03-02T14:00:00Z",
        28_800,
        1_800,
        27_000,
        60.0,
        57.0,
    );
    figures(
        &rows[1],
        "2026-03-02T14:00:00Z",
        "2026-03-02T22:00:00Z",
        28_800,
        1_800,
        27_000,
        60.0,
        57.0,
    );
    for row in &rows {
        ratio(row, "availability", Some(27_000.0 / 28_800.0));
        ratio(row, "performance", Some(30.0 * 60.0 / 27_000.0));
        ratio(row, "quality", Some(0.95));
    }
}

/// Days in the plant's time zone: Europe/Berlin's spring day has 23 hours and its autumn day
/// 25; a count over a UTC day splits across the local days by time.
#[tokio::test]
async fn oee_days_follow_the_plant_time_zone_across_daylight_saving() {
    let app = spawn_app_with(|c| c.plant.timezone = "Europe/Berlin".into()).await;
    let admin = app.admin_token().await;
    let m = asset(&app, &admin, "M1", "machine", None).await;
    count(
        &app,
        &admin,
        m,
        "2026-03-29T00:00:00Z",
        "2026-03-30T00:00:00Z",
        240,
        240,
    )
    .await;
    // Local midnights: 28 Mar 23:00Z (CET), 29 Mar 22:00Z (CEST), 30 Mar 22:00Z.
    let rows = oee(
        &app,
        &admin,
        m,
        "2026-03-28T23:00:00Z",
        "2026-03-30T22:00:00Z",
        "day",
    )
    .await;
    assert_eq!(rows.len(), 2);
    figures(
        &rows[0],
        "2026-03-28T23:00:00Z",
        "2026-03-29T22:00:00Z",
        23 * 3600,
        0,
        23 * 3600,
        220.0,
        220.0,
    );
    figures(
        &rows[1],
        "2026-03-29T22:00:00Z",
        "2026-03-30T22:00:00Z",
        24 * 3600,
        0,
        24 * 3600,
        20.0,
        20.0,
    );
    let rows = oee(
        &app,
        &admin,
        m,
        "2026-10-24T22:00:00Z",
        "2026-10-25T23:00:00Z",
        "day",
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["planned_secs"], 25 * 3600);
    let rows = oee(
        &app,
        &admin,
        m,
        "2026-03-29T00:00:00Z",
        "2026-03-29T03:00:00Z",
        "hour",
    )
    .await;
    assert_eq!(
        rows.len(),
        3,
        "hours stay an hour long across the change: {rows:?}"
    );
}

/// A line sums its two machines, each with its own ideal cycle; an hour without counts has
/// performance 0 and quality and OEE null.
#[tokio::test]
async fn oee_of_a_parent_sums_its_children() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let line = asset(&app, &admin, "L1", "line", None).await;
    let m1 = asset(&app, &admin, "M1", "machine", Some(line)).await; // 30 s
    let m2 = asset(&app, &admin, "M2", "machine", Some(line)).await;
    let r = app
        .patch(
            &format!("/api/assets/{m2}/"),
            &admin,
            &json!({"ideal_cycle_secs": 60.0}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    stop(
        &app,
        &admin,
        m1,
        None,
        "2026-03-02T06:20:00Z",
        Some("2026-03-02T06:30:00Z"),
    )
    .await;
    count(
        &app,
        &admin,
        m1,
        "2026-03-02T06:00:00Z",
        "2026-03-02T07:00:00Z",
        100,
        90,
    )
    .await;
    count(
        &app,
        &admin,
        m2,
        "2026-03-02T06:00:00Z",
        "2026-03-02T07:00:00Z",
        50,
        50,
    )
    .await;
    let rows = oee(
        &app,
        &admin,
        line,
        "2026-03-02T06:00:00Z",
        "2026-03-02T08:00:00Z",
        "hour",
    )
    .await;
    assert_eq!(rows.len(), 2);
    // Two machines × 3,600 s planned; 600 s down; ideal time 30×100 + 60×50 = 6,000 s.
    figures(
        &rows[0],
        "2026-03-02T06:00:00Z",
        "2026-03-02T07:00:00Z",
        7_200,
        600,
        6_600,
        150.0,
        140.0,
    );
    ratio(&rows[0], "availability", Some(11.0 / 12.0));
    ratio(&rows[0], "performance", Some(10.0 / 11.0));
    ratio(&rows[0], "quality", Some(14.0 / 15.0));
    ratio(&rows[0], "oee", Some(7.0 / 9.0));
    figures(
        &rows[1],
        "2026-03-02T07:00:00Z",
        "2026-03-02T08:00:00Z",
        7_200,
        0,
        7_200,
        0.0,
        0.0,
    );
    ratio(&rows[1], "availability", Some(1.0));
    ratio(&rows[1], "performance", Some(0.0));
    ratio(&rows[1], "quality", None);
    ratio(&rows[1], "oee", None);

    let r = app
        .get(
            &format!("/api/oee/?asset={line}&from=2026-03-02&to=2026-03-01"),
            &admin,
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    let r = app
        .get(&format!("/api/oee/?asset={line}&from=2026-03-02"), &admin)
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    let r = app
        .get(
            &format!("/api/oee/?asset={line}&from=2026-03-01&to=2026-03-02&group=week"),
            &admin,
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
}

mod properties {
    use nexus::domain::oee::{Count, Group, Leaf, Stop, compute, plan};
    use nexus::domain::shopfloor::{Shift, Weekday};
    use proptest::prelude::*;

    const DAY: i64 = 86_400;
    const T0: i64 = 1_774_742_400; // 2026-03-29T00:00:00Z, a DST day in Berlin

    fn leaf() -> impl Strategy<Value = Leaf> {
        let stops = prop::collection::vec((0i64..3 * DAY, 1i64..7_200, any::<bool>()), 0..8);
        let counts =
            prop::collection::vec((0i64..3 * DAY, 1i64..20_000, 0u64..500, 0u64..500), 0..12);
        (stops, counts, prop::option::of(1.0f64..120.0)).prop_map(|(stops, counts, cycle)| {
            // Non-overlapping, as the store keeps them.
            let mut stops: Vec<_> = stops;
            stops.sort();
            let mut out: Vec<Stop> = Vec::new();
            for (s, len, planned) in stops {
                let start = T0 + s;
                if out.last().is_some_and(|l| l.end > start) {
                    continue;
                }
                out.push(Stop {
                    start,
                    end: start + len,
                    planned,
                });
            }
            Leaf {
                ideal_cycle_secs: cycle,
                stops: out,
                counts: counts
                    .into_iter()
                    .map(|(s, len, a, b)| Count {
                        start: T0 + s,
                        end: T0 + s + len,
                        total: a.max(b),
                        good: a.min(b),
                    })
                    .collect(),
            }
        })
    }

    fn shifts(n: usize) -> Vec<Shift> {
        let now = nexus::domain::time::now();
        let all = [("06:00", "14:00"), ("14:00", "22:00"), ("22:00", "06:00")];
        all.iter()
            .take(n)
            .enumerate()
            .map(|(i, (s, e))| Shift {
                id: nexus::domain::ShiftId(i as u64 + 1),
                name: format!("S{i}"),
                starts: s.to_string(),
                ends: e.to_string(),
                days: vec![Weekday::Mon, Weekday::Sat, Weekday::Sun],
                created_at: now,
                updated_at: now,
                version: 1,
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn ratios_stay_within_their_definitions_and_buckets_add_up_to_the_window(
            leaves in prop::collection::vec(leaf(), 1..3),
            from in 0i64..DAY,
            len in 1i64..2 * DAY,
            group in prop::sample::select(vec![Group::Hour, Group::Day, Group::Shift, Group::None]),
            berlin in any::<bool>(),
            n_shifts in 0usize..4,
        ) {
            let tz = jiff::tz::TimeZone::get(if berlin { "Europe/Berlin" } else { "UTC" }).unwrap();
            let shifts = shifts(n_shifts);
            let (from, to) = (T0 + from, T0 + from + len);
            let (buckets, coverage) = plan(&tz, &shifts, group, from, to);
            let rows = compute(&buckets, &coverage, &leaves);
            let (whole_b, whole_c) = plan(&tz, &shifts, Group::None, from, to);
            let whole = &compute(&whole_b, &whole_c, &leaves)[0];
            if group != Group::Shift || shifts.is_empty() {
                // The buckets tile the window exactly.
                prop_assert_eq!(rows.first().map(|r| r.from), Some(from));
                prop_assert_eq!(rows.last().map(|r| r.to), Some(to));
                for pair in rows.windows(2) {
                    prop_assert_eq!(pair[0].to, pair[1].from);
                }
                let total: f64 = rows.iter().map(|r| r.total_count).sum();
                prop_assert!((total - whole.total_count).abs() < 1e-6 * (1.0 + total));
            }
            // Every planned second is in some bucket, whatever the grouping.
            let planned: i64 = rows.iter().map(|r| r.planned_secs).sum();
            prop_assert_eq!(planned, whole.planned_secs);
            let downtime: i64 = rows.iter().map(|r| r.downtime_secs).sum();
            prop_assert_eq!(downtime, whole.downtime_secs);
            for r in rows.iter().chain([whole]) {
                prop_assert!(r.run_secs >= 0 && r.run_secs <= r.planned_secs);
                prop_assert!(r.planned_secs <= (r.to - r.from) * leaves.len() as i64);
                if let Some(a) = r.availability {
                    prop_assert!((0.0..=1.0).contains(&a));
                    prop_assert!((a - r.run_secs as f64 / r.planned_secs as f64).abs() < 1e-12);
                } else {
                    prop_assert_eq!(r.planned_secs, 0);
                }
                if let Some(q) = r.quality {
                    prop_assert!((0.0..=1.0 + 1e-12).contains(&q));
                } else {
                    prop_assert!(r.total_count == 0.0);
                }
                if let Some(p) = r.performance {
                    prop_assert!(p >= 0.0 && r.run_secs > 0);
                }
                if let Some(o) = r.oee {
                    let want = r.availability.unwrap() * r.performance.unwrap() * r.quality.unwrap();
                    prop_assert!((o - want).abs() < 1e-12);
                }
            }
        }
    }
}

#[tokio::test]
async fn graphql_reads_writes_and_follows_downtime_through_the_same_services() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, user) = app.user_with_token("operator", "user").await;
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
    let body = gql(
        admin.clone(),
        "mutation { createAsset(input: {code: \"M9\", name: \"Mill\", kind: MACHINE, idealCycleSecs: 12.5}) { id code state idealCycleSecs } }",
        json!({}),
    )
    .await;
    let m = body["data"]["createAsset"]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(body["data"]["createAsset"]["state"], "RUNNING");
    let other = asset(&app, &admin, "M10", "machine", None).await;

    let body = gql(
        user.clone(),
        "mutation { createAsset(input: {code: \"X\", name: \"x\", kind: MACHINE}) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "forbidden",
        "{body}"
    );

    let mut socket = crate::graphql::GqlWs::open(&app, &user).await;
    socket
        .subscribe(
            "m",
            "subscription($a: Int) { downtimeChanged(assetId: $a) { event id downtime { assetId endedAt } } }",
            json!({"a": m}),
        )
        .await;
    socket.assert_quiet().await;
    stop(&app, &admin, other, None, "2026-03-02T10:00:00Z", None).await;
    let body = gql(
        user.clone(),
        "mutation($a: Int!) { reportDowntime(input: {assetId: $a, startedAt: \"2026-03-02T10:00:00Z\"}) { id } }",
        json!({"a": m}),
    )
    .await;
    let event = body["data"]["reportDowntime"]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{body}"));
    let data = socket.next_data("m").await;
    assert_eq!(
        data["downtimeChanged"]["event"], "downtime.created",
        "only the asset asked for"
    );
    assert_eq!(data["downtimeChanged"]["downtime"]["assetId"], m);

    let body = gql(
        user.clone(),
        "mutation($a: Int!) { reportDowntime(input: {assetId: $a, startedAt: \"2026-03-02T10:30:00Z\"}) { id } }",
        json!({"a": m}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "conflict",
        "{body}"
    );
    let body = gql(
        user.clone(),
        "mutation($e: Int!) { endDowntime(id: $e, endedAt: \"2026-03-02T10:20:00Z\") { endedAt } }",
        json!({"e": event}),
    )
    .await;
    assert_eq!(
        body["data"]["endDowntime"]["endedAt"], "2026-03-02T10:20:00Z",
        "{body}"
    );
    let data = socket.next_data("m").await;
    assert_eq!(data["downtimeChanged"]["event"], "downtime.updated");

    count(
        &app,
        &admin,
        m,
        "2026-03-02T10:00:00Z",
        "2026-03-02T11:00:00Z",
        200,
        190,
    )
    .await;
    let body = gql(
        user.clone(),
        "query($a: Int!) { asset(id: $a) { code state } assets(kind: MACHINE) { count } oee(assetId: $a, from: \"2026-03-02T10:00:00Z\", to: \"2026-03-02T11:00:00Z\") { plannedSecs runSecs availability quality } downtimePareto(assetId: $a, from: \"2026-03-02\", to: \"2026-03-03\") { name seconds } }",
        json!({"a": m}),
    )
    .await;
    let d = &body["data"];
    assert_eq!(d["asset"]["state"], "RUNNING", "{body}");
    assert_eq!(d["assets"]["count"], 2);
    assert_eq!(d["oee"][0]["plannedSecs"], 3600);
    assert_eq!(d["oee"][0]["runSecs"], 2400);
    ratio(&d["oee"][0], "quality", Some(0.95));
    assert_eq!(d["downtimePareto"][0]["seconds"], 1200);
}
