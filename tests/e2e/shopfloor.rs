//! The shop floor: an operator reports a stop and the restart with one tap each, picking the
//! reason from large buttons; a supervisor's asset tree follows live; the OEE page draws its
//! charts on the server.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::Env;
use crate::api::id_of;
use crate::browser::{Browser, assert_layout};

/// The operator stops the press, then taps the reason that also says it runs again; the
/// supervisor's `/assets` shows "Down" and then "Running" without a reload; `/oee` shows the
/// day's figures and the Pareto with the reason.
pub async fn operator_reports_a_stop_in_one_tap_and_the_tree_follows_live(env: &Env) {
    let admin = env.admin().await;
    let line_code = env.unique("LINE-");
    let press_code = env.unique("PRESS-");
    let jam = env.unique("Jam ");
    let line = id_of(
        &admin
            .call(
                Method::POST,
                "/api/assets/",
                Some(json!({"code": line_code, "name": "Assembly line", "kind": "line"})),
                StatusCode::CREATED,
            )
            .await,
    );
    let press = id_of(
        &admin
            .call(
                Method::POST,
                "/api/assets/",
                Some(
                    json!({"code": press_code, "name": "Press", "kind": "machine",
                            "parent_id": line, "ideal_cycle_secs": 20}),
                ),
                StatusCode::CREATED,
            )
            .await,
    );
    let code = env.unique("JAM");
    admin
        .call(
            Method::POST,
            "/api/downtime/reasons/",
            Some(json!({"code": code, "name": jam})),
            StatusCode::CREATED,
        )
        .await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let at = |secs: i64| {
        time::OffsetDateTime::from_unix_timestamp(secs)
            .expect("time")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format")
    };
    admin
        .call(
            Method::POST,
            "/api/production/",
            Some(json!({"asset_id": press, "started_at": at(now - 3 * 3600), "ended_at": at(now - 3600),
                        "total_count": 300, "good_count": 288})),
            StatusCode::CREATED,
        )
        .await;

    let operator = env.user("olga", "user").await;
    let supervisor = env.user("sam", "staff").await;
    let s = Browser::open(env, "supervisor's browser").await;
    s.goto("/login?next=/assets").await;
    s.sign_in(&supervisor.name, &supervisor.password).await;
    let state = format!("li[data-asset-id=\"{press}\"] > .badge");
    assert_eq!(s.text(&state).await, "Running");
    assert_layout(&s).await;
    s.mark().await;

    let o = Browser::open(env, "operator's browser").await;
    o.goto(&format!("/login?next=/downtime%3Fasset%3D{press}"))
        .await;
    o.sign_in(&operator.name, &operator.password).await;
    o.click_to_page("form#stop-form button.big[value=\"\"]")
        .await;
    assert!(o.text("#stop-panel h2").await.contains("Down"));
    s.wait_for(
        "the press shown down without a reload",
        &format!(
            "document.querySelector('{}')?.textContent === 'Down'",
            state.replace('"', "\\\"")
        ),
    )
    .await;
    assert!(s.still_marked().await, "the tree updated in place");
    assert_layout(&o).await;
    if let Some(dir) = &env.screenshots {
        o.viewport(390, 844).await;
        o.screenshot(&dir.join("downtime-390.png")).await;
        o.desktop().await;
    }

    o.click_to_page("form#stop-form button.reason").await;
    assert!(o.text("#stop-panel h2").await.contains("Running"));
    assert!(o.text("table#downtime-events").await.contains(&jam));
    s.wait_for(
        "the press shown running again",
        &format!(
            "document.querySelector('{}')?.textContent === 'Running'",
            state.replace('"', "\\\"")
        ),
    )
    .await;

    s.goto(&format!("/oee?asset={line}")).await;
    s.find("#oee-days svg.chart").await;
    let table = s.text("#oee-day-table").await;
    assert!(
        table.contains("96.0 %"),
        "quality 288/300 in the day table: {table}"
    );
    assert!(s.text(".pareto-chart").await.contains(&jam));
    assert_layout(&s).await;
    if let Some(dir) = &env.screenshots {
        s.screenshot(&dir.join("oee-1280.png")).await;
    }
    o.close().await;
    s.close().await;
}
