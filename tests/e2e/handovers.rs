//! Shift handovers: the outgoing operator writes and submits a handover through the form; it
//! appears live in the supervisor's inbox, who acknowledges it with a comment; the writer sees
//! the acknowledgement arrive without a reload.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::Env;
use crate::api::id_of;
use crate::browser::{Browser, assert_layout};

/// The operator fills in the form (asset, shift, what happened, open issues, safety) and
/// submits; the supervisor's `/handovers`, open all along, shows it waiting, at the top,
/// without a reload; the supervisor acknowledges it with a comment, and the operator's page
/// moves it to "Recently acknowledged" live.
pub async fn handover_is_written_submitted_and_acknowledged_live(env: &Env) {
    let admin = env.admin().await;
    let code = env.unique("FILL-");
    let asset = id_of(
        &admin
            .call(
                Method::POST,
                "/api/assets/",
                Some(json!({"code": code, "name": "Filling line", "kind": "line"})),
                StatusCode::CREATED,
            )
            .await,
    );
    let shift_name = env.unique("Late shift ");
    let shift = id_of(
        &admin
            .call(
                Method::POST,
                "/api/shifts/",
                Some(
                    json!({"name": shift_name, "starts": "14:00", "ends": "22:00",
                            "days": ["mon", "tue", "wed", "thu", "fri"]}),
                ),
                StatusCode::CREATED,
            )
            .await,
    );
    let summary = format!(
        "{}: ran 1,840 bottles; capper torque drifted twice",
        env.unique("Run ")
    );

    let operator = env.user("otto", "user").await;
    let supervisor = env.user("sina", "staff").await;
    let s = Browser::open(env, "supervisor's browser").await;
    s.goto("/login?next=/handovers").await;
    s.sign_in(&supervisor.name, &supervisor.password).await;
    assert!(s.exists("#handover-inbox").await);
    s.mark().await;

    let o = Browser::open(env, "operator's browser").await;
    o.goto("/login?next=/handovers").await;
    o.sign_in(&operator.name, &operator.password).await;
    o.click("#new-handover summary").await;
    o.select("select#asset_id", &asset.to_string()).await;
    o.select("select#shift_id", &shift.to_string()).await;
    o.fill("textarea#summary", &summary).await;
    o.fill(
        "textarea#open_issues",
        "Capper head 3 needs a new chuck; part ordered.",
    )
    .await;
    o.fill(
        "textarea#safety_notes",
        "Wet floor by the rinser, cones placed.",
    )
    .await;
    o.click_to_page("#handover-form button[value=\"submit\"]")
        .await;
    assert!(o.text("#flash").await.contains("submitted"));
    assert!(o.text("#handover-inbox").await.contains(&summary));

    let waiting = admin
        .get("/api/handovers/?status=submitted&page_size=200")
        .await;
    let id = waiting["results"]
        .as_array()
        .and_then(|r| r.iter().find(|h| h["summary"] == summary.as_str()))
        .map(id_of)
        .expect("the submitted handover");
    let card = format!("#handover-inbox article[data-handover-id=\"{id}\"]");
    s.wait_for(
        "the handover in the supervisor's inbox without a reload",
        &format!(
            "document.querySelector('{}') !== null",
            card.replace('"', "\\\"")
        ),
    )
    .await;
    assert!(s.still_marked().await, "the inbox updated in place");
    assert!(s.text(&card).await.contains("Wet floor"));
    assert_layout(&s).await;
    // Phone widths: nothing wider than the screen, touch targets of 44 px at 390.
    for (width, height) in [(390, 844), (360, 740)] {
        s.viewport(width, height).await;
        assert_layout(&s).await;
        let found = s.js(crate::layout::FIT, vec![json!(width == 390)]).await;
        assert_eq!(found, json!([]), "/handovers at {width} px");
    }
    s.desktop().await;
    if let Some(dir) = &env.screenshots {
        s.screenshot(&dir.join("handovers-1280.png")).await;
        s.viewport(390, 844).await;
        assert_layout(&s).await;
        s.screenshot(&dir.join("handovers-390.png")).await;
        s.desktop().await;
    }

    // The writer's own card waits for someone else: no acknowledge button for them.
    let own = format!("#handover-inbox article[data-handover-id=\"{id}\"] .ack-form");
    assert!(!o.exists(&own).await);
    o.mark().await;

    s.fill(
        &format!("{card} textarea"),
        "Seen. Maintenance booked for 15:00.",
    )
    .await;
    s.click_to_page(&format!("{card} .ack-form button")).await;
    assert!(s.text("#flash").await.contains("acknowledged"));
    let recent = format!("#handover-recent article[data-handover-id=\"{id}\"]");
    assert!(s.text(&recent).await.contains("Maintenance booked"));

    o.wait_for(
        "the acknowledgement on the writer's page without a reload",
        &format!(
            "document.querySelector('{}') !== null",
            recent.replace('"', "\\\"")
        ),
    )
    .await;
    assert!(o.still_marked().await, "the writer's page updated in place");
    let h = admin.get(&format!("/api/handovers/{id}/")).await;
    assert_eq!(h["status"], "acknowledged");
    assert_eq!(h["acknowledged_by"], supervisor.id);
    assert_eq!(h["ack_comment"], "Seen. Maintenance booked for 15:00.");
    o.close().await;
    s.close().await;
}
