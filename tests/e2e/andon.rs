//! Andon: an operator calls for help from the asset tree with one tap on the kind; the wall
//! display (`/andon`) shows the call without a reload, grouped by level (a safety call under
//! level 1), and staff acknowledge it from the wall.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::Env;
use crate::api::id_of;
use crate::browser::{Browser, assert_layout};

/// The operator taps "Call for help" → "Quality" on a machine in `/assets`; the supervisor's
/// wall shows it live at level 0, then a safety call (raised through the API) live at level 1;
/// the supervisor acknowledges the first from the wall.
pub async fn operator_calls_for_help_and_the_wall_shows_it_live(env: &Env) {
    let admin = env.admin().await;
    let line = id_of(
        &admin
            .call(
                Method::POST,
                "/api/assets/",
                Some(json!({"code": env.unique("ALINE-"), "name": "Paint line", "kind": "line"})),
                StatusCode::CREATED,
            )
            .await,
    );
    let booth_code = env.unique("BOOTH-");
    let booth = id_of(
        &admin
            .call(
                Method::POST,
                "/api/assets/",
                Some(json!({"code": booth_code, "name": "Spray booth", "kind": "machine", "parent_id": line})),
                StatusCode::CREATED,
            )
            .await,
    );
    let operator = env.user("andy", "user").await;
    let supervisor = env.user("wanda", "staff").await;

    let wall = Browser::open(env, "wall display").await;
    wall.goto("/login?next=/andon").await;
    wall.sign_in(&supervisor.name, &supervisor.password).await;
    wall.find("#andon-calls").await;
    assert_layout(&wall).await;
    wall.mark().await;

    let o = Browser::open(env, "operator's browser").await;
    o.goto("/login?next=/assets").await;
    o.sign_in(&operator.name, &operator.password).await;
    let control = format!("li[data-asset-id=\"{booth}\"] > details.call-help");
    o.click(&format!("{control} > summary")).await;
    let message = env.unique("Orange peel on door panels ");
    o.fill(&format!("{control} input[name=message]"), &message)
        .await;
    o.click_to_page(&format!("{control} button[value=quality]"))
        .await;
    assert!(o.text("#flash").await.contains("Help called"));

    wall.wait_for(
        "the call on the wall without a reload",
        &format!(
            "Array.from(document.querySelectorAll('.andon-level.level-0 .andon-card')).some((c) => c.textContent.includes({}))",
            json!(message)
        ),
    )
    .await;
    assert!(wall.still_marked().await, "the wall updated in place");
    let card = wall.text(".andon-level.level-0 .andon-card").await;
    assert!(
        card.contains(&booth_code) && card.contains("OPEN"),
        "{card}"
    );

    let hazard = env.unique("Solvent smell near booth ");
    operator
        .api
        .call(
            Method::POST,
            "/api/andon/",
            Some(json!({"asset_id": booth, "kind": "safety", "message": hazard})),
            StatusCode::CREATED,
        )
        .await;
    wall.wait_for(
        "the safety call at level 1",
        &format!(
            "Array.from(document.querySelectorAll('.andon-level.level-1 .andon-card')).some((c) => c.textContent.includes({}))",
            json!(hazard)
        ),
    )
    .await;
    assert!(wall.still_marked().await);
    let order = wall
        .js(
            "return Array.from(document.querySelectorAll('.andon-level h2')).map((h) => h.textContent);",
            vec![],
        )
        .await;
    let headings: Vec<String> = order
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let level1 = headings.iter().position(|h| h.starts_with("Level 1"));
    let level0 = headings.iter().position(|h| h.starts_with("Level 0"));
    assert!(
        level1.is_some() && level1 < level0,
        "the more urgent level first: {headings:?}"
    );

    if let Some(dir) = &env.screenshots {
        wall.viewport(1920, 1080).await;
        wall.screenshot(&dir.join("andon-1920.png")).await;
        wall.desktop().await;
    }

    wall.click_to_page(".andon-level.level-0 .andon-card form[action$=\"/acknowledge\"] button")
        .await;
    let card = wall.text(".andon-level.level-0 .andon-card").await;
    assert!(
        card.contains("ACKNOWLEDGED") && card.to_lowercase().contains(&supervisor.name),
        "{card}"
    );
    assert_layout(&wall).await;
    o.close().await;
    wall.close().await;
}
