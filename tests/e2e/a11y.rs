//! axe-core on every page of the markup contract, in the light and the dark colour scheme: no
//! serious or critical violation. Every problem of every page is gathered before failing, so one
//! run lists them all.

use std::time::Duration;

use serde_json::json;

use crate::Env;
use crate::axe;
use crate::browser::{Browser, layout_problems};

/// Checks the page `b` shows: its status, the shared layout, axe in both schemes. Adds what is
/// wrong to `problems`.
async fn check(b: &Browser, what: &str, expected_status: u16, problems: &mut Vec<String>) {
    let path = b.path().await;
    let mut found = Vec::new();
    let status = b.status().await;
    if status != expected_status {
        found.push(format!("answered {status}, expected {expected_status}"));
    }
    for problem in layout_problems(b).await {
        found.push(format!("layout: {problem}"));
    }
    for scheme in ["light", "dark"] {
        b.color_scheme(scheme).await;
        // Let transitions on colours finish before contrast is measured.
        tokio::time::sleep(Duration::from_millis(150)).await;
        for violation in axe::violations(b).await {
            found.push(format!("{scheme}: {violation}"));
        }
    }
    b.color_scheme("light").await;
    if !found.is_empty() {
        problems.push(format!("{what} ({path}):\n    {}", found.join("\n    ")));
    }
}

/// Every page listed in the markup contract, signed out, as admin and as a user, passes axe in
/// light and dark.
pub async fn every_page_has_no_serious_axe_violations_light_and_dark(env: &Env) {
    let admin_api = env.admin().await;
    let ulla = env.user("ulla", "user").await;
    let project = admin_api
        .project(
            &env.unique("Line 3 retrofit "),
            "New conveyor and guards.",
            &[ulla.id],
        )
        .await;
    let activity = admin_api
        .activity(
            json!({"title": env.unique("Fit the new guard on conveyor "),
                         "description": "Bolts M8, torque 25 Nm.", "type": "safety",
                         "priority": "critical", "project_id": project,
                         "assigned_to": ulla.id}),
        )
        .await;
    admin_api
        .update(
            &env.unique("Guard fitting on line 3 "),
            "Keep clear of the conveyor.",
            "safety",
            "critical",
        )
        .await;
    admin_api
        .message(ulla.id, "Please confirm the guard is on.")
        .await;
    admin_api.room_message(project, "Kick-off at 7:00.").await;

    let mut problems = Vec::new();

    let nobody = Browser::open(env, "a signed-out browser").await;
    nobody.goto("/login").await;
    check(&nobody, "sign-in", 200, &mut problems).await;
    nobody.fill("form#login [name=username]", "nobody").await;
    nobody
        .fill("form#login [name=password]", "wrong-password-1")
        .await;
    nobody.click_to_page("form#login [type=submit]").await;
    check(&nobody, "sign-in refused", 401, &mut problems).await;
    nobody.close().await;

    let admin = Browser::open(env, "admin's browser").await;
    admin.goto("/login").await;
    admin.sign_in("admin", crate::server::ADMIN_PASSWORD).await;
    let pages = [
        ("dashboard", "/".to_string(), 200),
        ("activity table", "/activities".to_string(), 200),
        ("board", "/activities/board".to_string(), 200),
        ("new activity", "/activities/new".to_string(), 200),
        ("activity detail", format!("/activities/{activity}"), 200),
        ("projects", "/projects".to_string(), 200),
        ("project", format!("/projects/{project}"), 200),
        ("updates", "/updates".to_string(), 200),
        ("chat", "/chat".to_string(), 200),
        (
            "direct conversation",
            format!("/chat?with={}", ulla.id),
            200,
        ),
        ("project room", format!("/chat?project={project}"), 200),
        ("search", "/search?q=guard".to_string(), 200),
        ("notifications", "/notifications".to_string(), 200),
        ("users (admin)", "/admin/users".to_string(), 200),
        ("audit log (admin)", "/admin/audit".to_string(), 200),
        ("profile", "/profile".to_string(), 200),
        ("menu (phone)", "/menu".to_string(), 200),
        ("assets", "/assets".to_string(), 200),
        ("downtime", "/downtime".to_string(), 200),
        ("oee", "/oee".to_string(), 200),
        ("andon wall", "/andon".to_string(), 200),
        ("handovers", "/handovers".to_string(), 200),
        ("not found", "/activities/987654321".to_string(), 404),
    ];
    for (what, path, status) in &pages {
        admin.goto(path).await;
        check(&admin, what, *status, &mut problems).await;
    }
    admin.close().await;

    let user = Browser::open(env, "ulla's browser").await;
    user.goto("/login").await;
    user.sign_in(&ulla.name, &ulla.password).await;
    user.goto("/").await;
    check(&user, "dashboard (user)", 200, &mut problems).await;
    user.goto("/admin/users").await;
    check(&user, "forbidden", 403, &mut problems).await;
    user.goto("/activities/new").await;
    user.find("form#activity-form").await;
    user.js(
        "document.querySelector('form#activity-form').noValidate = true;",
        vec![],
    )
    .await;
    user.fill("form#activity-form [name=title]", "").await;
    user.click_to_page("form#activity-form [type=submit]").await;
    check(&user, "form with a validation error", 400, &mut problems).await;
    user.close().await;

    assert!(
        problems.is_empty(),
        "{} page(s) with problems:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}
