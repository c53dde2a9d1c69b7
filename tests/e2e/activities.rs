//! Activities: creating one through the form (and seeing it live elsewhere), validation errors,
//! and the 404 page for what one may not see.

use serde_json::json;

use crate::Env;
use crate::browser::{Browser, assert_layout};

/// The activity id of a `/activities/ID` path.
pub fn activity_id(path: &str) -> u64 {
    path.strip_prefix("/activities/")
        .and_then(|rest| rest.split(['?', '#', '/']).next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not an activity page: {path}"))
}

/// Whether the `.field` wrapping the input `name` of `form` holds a non-empty `.field-error`.
const FIELD_ERROR: &str = "
const input = document.querySelector(`${arguments[0]} [name=\"${arguments[1]}\"]`);
const field = input && input.closest('.field');
const error = field && field.querySelector('.field-error');
return error ? error.textContent.trim() : null;";

/// One user creates an activity through the form; another user's activity table shows it
/// without a reload, and the assignee's bell counts it.
pub async fn created_through_the_form_appears_live_for_another_user(env: &Env) {
    let alice = env.user("alice", "user").await;
    let bruno = env.user("bruno", "user").await;
    let a = Browser::open(env, "alice's browser").await;
    let b = Browser::open(env, "bruno's browser").await;
    a.goto("/login").await;
    a.sign_in(&alice.name, &alice.password).await;
    b.goto("/login").await;
    b.sign_in(&bruno.name, &bruno.password).await;

    b.goto("/activities").await;
    b.find("#activity-list").await;
    let unread_before = b.number("#unread-count").await;
    b.mark().await;

    a.goto("/activities").await;
    a.click_to_page("a#new-activity").await;
    assert_eq!(a.path().await, "/activities/new");
    assert_layout(&a).await;
    let title = env.unique("Replace the hydraulic seal on press ");
    let form = "form#activity-form";
    a.fill(&format!("{form} [name=title]"), &title).await;
    a.fill(
        &format!("{form} [name=description]"),
        "Leaking at the main cylinder.",
    )
    .await;
    a.select(&format!("{form} [name=type]"), "maintenance")
        .await;
    a.select(&format!("{form} [name=priority]"), "high").await;
    a.set_value(&format!("{form} [name=start_time]"), "2026-12-03T06:00")
        .await;
    a.set_value(&format!("{form} [name=end_time]"), "2026-12-03T09:30")
        .await;
    a.select(&format!("{form} [name=assigned_to]"), &bruno.id.to_string())
        .await;
    a.click_to_page(&format!("{form} [type=submit]")).await;
    let path = a.path().await;
    let id = activity_id(&path);
    assert_eq!(a.text("h1").await.trim(), title);
    assert!(
        a.text("#activity-status")
            .await
            .to_lowercase()
            .contains("planned"),
        "a new activity is planned"
    );

    let stored = alice.api.get(&format!("/api/activities/{id}/")).await;
    assert_eq!(stored["title"], title.as_str());
    assert_eq!(stored["type"], "maintenance");
    assert_eq!(stored["priority"], "high");
    assert_eq!(stored["status"], "planned");
    assert_eq!(stored["assigned_to"], bruno.id);
    assert_eq!(stored["created_by"], alice.id);
    assert_eq!(stored["description"], "Leaking at the main cylinder.");

    let row = format!("table#activity-table tr[data-activity-id=\"{id}\"]");
    b.wait_for(
        "the new activity's row in bruno's table",
        &format!("document.querySelector('{row}')"),
    )
    .await;
    assert!(
        b.still_marked().await,
        "the row must arrive live, without a reload"
    );
    assert!(b.text(&row).await.contains(&title));
    b.wait_for(
        "bruno's bell to count the assignment",
        &format!(
            "parseInt(document.querySelector('#unread-count').textContent.replace(/[^0-9]/g, '') || '0', 10) > {unread_before}"
        ),
    )
    .await;
    b.settled().await;

    b.click_to_page(&format!("{row} td:first-child a")).await;
    assert_eq!(b.path().await, format!("/activities/{id}"));
    assert_eq!(b.text("h1").await.trim(), title);
    b.find("ol#history").await;
    a.close().await;
    b.close().await;
}

/// A refused form comes back (400) with the error next to its field, the summary, and what was
/// typed still there.
pub async fn validation_error_shows_next_to_its_field_with_input_kept(env: &Env) {
    let vera = env.user("vera", "user").await;
    let b = Browser::open(env, "vera's browser").await;
    b.goto("/login?next=/activities/new").await;
    b.sign_in(&vera.name, &vera.password).await;
    assert_eq!(b.path().await, "/activities/new");
    let form = "form#activity-form";

    // The browser's own checks (required) would stop an empty title before the server sees
    // it; switch them off to reach the server's validation, as a script-less client would.
    b.js(
        "document.querySelector('form#activity-form').noValidate = true;",
        vec![],
    )
    .await;
    b.fill(&format!("{form} [name=title]"), "").await;
    b.fill(&format!("{form} [name=description]"), "Keep this text")
        .await;
    b.click_to_page(&format!("{form} [type=submit]")).await;
    assert_eq!(b.status().await, 400, "a refused form answers 400");
    assert!(
        !b.text("#form-error").await.trim().is_empty(),
        "#form-error summarises"
    );
    let error = b.js(FIELD_ERROR, vec![json!(form), json!("title")]).await;
    assert!(
        error.as_str().is_some_and(|e| !e.is_empty()),
        "a .field-error inside the title's .field, got {error}"
    );
    assert_eq!(
        b.value(&format!("{form} [name=description]")).await,
        "Keep this text",
        "the input is kept"
    );
    assert_layout(&b).await;

    let title = env.unique("Torque check on the gearbox ");
    b.fill(&format!("{form} [name=title]"), &title).await;
    b.set_value(&format!("{form} [name=start_time]"), "2026-12-02T10:00")
        .await;
    b.set_value(&format!("{form} [name=end_time]"), "2026-12-02T08:00")
        .await;
    b.click_to_page(&format!("{form} [type=submit]")).await;
    assert_eq!(b.status().await, 400, "end before start answers 400");
    let error = b
        .js(FIELD_ERROR, vec![json!(form), json!("end_time")])
        .await;
    assert!(
        error.as_str().is_some_and(|e| !e.is_empty()),
        "a .field-error inside the end time's .field, got {error}"
    );
    assert_eq!(b.value(&format!("{form} [name=title]")).await, title);
    assert_eq!(
        b.value(&format!("{form} [name=description]")).await,
        "Keep this text"
    );
    assert_eq!(
        b.value(&format!("{form} [name=start_time]")).await,
        "2026-12-02T10:00"
    );
    assert_eq!(
        b.value(&format!("{form} [name=end_time]")).await,
        "2026-12-02T08:00"
    );
    let errors = b.all(".field-error").await.len();
    assert_eq!(errors, 1, "only the field at fault shows an error");

    b.set_value(&format!("{form} [name=end_time]"), "2026-12-02T12:00")
        .await;
    b.click_to_page(&format!("{form} [type=submit]")).await;
    let id = activity_id(&b.path().await);
    assert_eq!(b.text("h1").await.trim(), title);
    let stored = vera.api.get(&format!("/api/activities/{id}/")).await;
    assert_eq!(stored["description"], "Keep this text");
    b.close().await;
}

/// An activity or project one may not see answers the 404 page in the app's layout, exactly like
/// one that does not exist; an admin page answers the 403 page.
pub async fn object_one_may_not_see_gets_the_404_page(env: &Env) {
    let admin = env.admin().await;
    let nina = env.user("nina", "user").await;
    let project = admin
        .project(&env.unique("Closed project "), "Members only.", &[])
        .await;
    let title = env.unique("Secret tooling change ");
    let hidden = admin
        .activity(json!({"title": title, "type": "setup", "project_id": project}))
        .await;
    nina.api
        .call(
            reqwest::Method::GET,
            &format!("/api/activities/{hidden}/"),
            None,
            reqwest::StatusCode::NOT_FOUND,
        )
        .await;

    let b = Browser::open(env, "nina's browser").await;
    b.goto("/login").await;
    b.sign_in(&nina.name, &nina.password).await;
    for path in [
        format!("/activities/{hidden}"),
        format!("/projects/{project}"),
        "/activities/987654321".to_string(),
    ] {
        b.goto(&path).await;
        assert_eq!(b.status().await, 404, "{path} answers 404");
        assert_eq!(b.text("h1").await.trim(), "Not found", "{path}");
        assert_layout(&b).await;
        assert!(
            !b.page_text().await.contains(&title),
            "{path} must not show the hidden title"
        );
    }

    b.goto("/admin/users").await;
    assert_eq!(b.status().await, 403, "/admin/users answers 403 to a user");
    assert_layout(&b).await;
    assert!(!b.exists("table#user-table").await);
    b.close().await;
}
