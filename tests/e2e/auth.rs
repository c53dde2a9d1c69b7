//! Signing in and out: the dashboard after sign-in, bad credentials, a private page without a
//! session (absent or ended by the server) going through sign-in and back, and Back after
//! sign-out showing nothing private.

use serde_json::json;

use crate::Env;
use crate::browser::{Browser, assert_layout};

/// The `next` parameter of a `/login?next=…` path, decoded; `None` on another page.
pub fn login_next(path: &str) -> Option<String> {
    let query = path.strip_prefix("/login?")?;
    query.split('&').find_map(|pair| {
        pair.strip_prefix("next=").map(|v| {
            url::form_urlencoded::parse(format!("v={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
    })
}

/// Sign-in lands on the dashboard with the top bar of the contract; wrong credentials answer 401
/// with the form's error.
pub async fn sign_in_shows_the_dashboard_and_refuses_bad_credentials(env: &Env) {
    let olga = env.user("olga", "user").await;
    let admin = env.admin().await;
    let title = env.unique("Grease the conveyor bearings ");
    let assigned = admin
        .activity(
            json!({"title": title, "type": "maintenance", "priority": "high",
                         "assigned_to": olga.id}),
        )
        .await;
    let news = env.unique("Fire drill at 14:00 ");
    admin
        .update(&news, "Assemble at gate 2.", "safety", "critical")
        .await;

    let b = Browser::open(env, "olga's browser").await;
    b.goto("/").await;
    let path = b.path().await;
    assert_eq!(
        login_next(&path).as_deref(),
        Some("/"),
        "the dashboard without a session goes to /login?next=/ (got {path})"
    );
    b.find("form#login").await;
    assert_layout(&b).await;

    b.fill("form#login [name=username]", &olga.name).await;
    b.fill("form#login [name=password]", "not-the-password")
        .await;
    b.click_to_page("form#login [type=submit]").await;
    assert_eq!(b.status().await, 401, "bad credentials answer 401");
    assert!(
        !b.text("#form-error").await.trim().is_empty(),
        "#form-error explains the refusal"
    );
    b.find("form#login").await;

    b.sign_in(&olga.name, &olga.password).await;
    assert_eq!(b.path().await, "/", "sign-in without next lands on /");
    assert_eq!(b.status().await, 200);
    assert_layout(&b).await;
    b.find("section#my-activities").await;
    b.find("section#notifications").await;
    b.find("section#latest-updates").await;
    b.find(&format!(
        "section#my-activities [data-activity-id=\"{assigned}\"]"
    ))
    .await;
    assert!(
        b.text("section#latest-updates").await.contains(&news),
        "the latest updates show the critical update"
    );
    assert!(
        b.number("#unread-count").await >= 1,
        "the bell counts the assignment's notification"
    );

    let bar = b
        .js(
            "const q = (s) => document.querySelector(s);
             const search = q('form[role=search]');
             const logout = q('form#logout');
             return {
               search_action: search && search.getAttribute('action'),
               search_input: !!q('form[role=search] input#global-search[name=q]'),
               bell: q('a#bell') && q('a#bell').getAttribute('href'),
               count_in_bell: !!q('a#bell span#unread-count'),
               logout_method: logout && logout.method,
               logout_action: logout && new URL(logout.action).pathname,
               logout_csrf: !!q('form#logout input[type=hidden][name=_csrf]'),
               live_status: !!q('#live-status'),
               live_status_hidden: !!q('#live-status') && q('#live-status').getClientRects().length === 0,
             };",
            vec![],
        )
        .await;
    assert_eq!(
        bar["search_action"], "/search",
        "top-bar search form: {bar}"
    );
    assert_eq!(
        bar["search_input"], true,
        "input#global-search[name=q]: {bar}"
    );
    assert_eq!(bar["bell"], "/notifications", "a#bell: {bar}");
    assert_eq!(
        bar["count_in_bell"], true,
        "span#unread-count in a#bell: {bar}"
    );
    assert_eq!(bar["logout_method"], "post", "form#logout: {bar}");
    assert_eq!(bar["logout_action"], "/logout", "form#logout: {bar}");
    assert_eq!(bar["logout_csrf"], true, "form#logout carries _csrf: {bar}");
    assert_eq!(bar["live_status"], true, "#live-status: {bar}");
    assert_eq!(
        bar["live_status_hidden"], true,
        "#live-status is hidden while connected: {bar}"
    );

    let cookies = b.client().get_all_cookies().await.expect("cookies");
    assert!(
        cookies.iter().any(|c| c.http_only() == Some(true)
            && format!("{:?}", c.same_site()) == "Some(Lax)"
            && c.path() == Some("/")),
        "an HttpOnly, SameSite=Lax, Path=/ session cookie: {cookies:?}"
    );
    b.close().await;
}

/// A private page asked for without a session (none yet, or one the server ended) goes to
/// sign-in, and sign-in returns to it; `next` never leads off the site.
pub async fn private_page_without_a_session_signs_in_then_returns(env: &Env) {
    let pia = env.user("pia", "user").await;
    let title = env.unique("Check the coolant level on lathe ");
    let id = env
        .admin()
        .await
        .activity(json!({"title": title, "type": "inspection"}))
        .await;
    let page = format!("/activities/{id}");

    let b = Browser::open(env, "pia's browser").await;
    b.goto(&page).await;
    let path = b.path().await;
    assert_eq!(
        login_next(&path).as_deref(),
        Some(page.as_str()),
        "no session: {page} goes to /login?next={page} (got {path})"
    );
    b.sign_in(&pia.name, &pia.password).await;
    assert_eq!(
        b.path().await,
        page,
        "sign-in returns to the page asked for"
    );
    assert_eq!(b.text("h1").await.trim(), title);

    // Changing the password ends every other session of the user: the browser's is one.
    let new_password = "another-password-456";
    pia.api.change_password(&pia.password, new_password).await;
    b.goto("/activities?priority=high").await;
    let path = b.path().await;
    assert_eq!(
        login_next(&path).as_deref(),
        Some("/activities?priority=high"),
        "an ended session goes to sign-in, keeping the query (got {path})"
    );
    b.sign_in(&pia.name, new_password).await;
    assert_eq!(b.path().await, "/activities?priority=high");
    b.find("#activity-list").await;

    // Deleting the cookie is a session that is simply gone.
    b.client()
        .delete_all_cookies()
        .await
        .expect("delete cookies");
    b.goto("/login?next=https://elsewhere.example/steal").await;
    b.sign_in(&pia.name, new_password).await;
    assert_eq!(b.path().await, "/", "next must be a local path");
    b.client()
        .delete_all_cookies()
        .await
        .expect("delete cookies");
    b.goto("/login?next=//elsewhere.example/steal").await;
    b.sign_in(&pia.name, new_password).await;
    assert_eq!(b.path().await, "/", "next must not be protocol-relative");
    b.close().await;
}

/// After sign-out, Back re-requests the private page (no-store) and lands on sign-in: nothing
/// private is shown.
pub async fn sign_out_then_back_shows_nothing_private(env: &Env) {
    let quinn = env.user("quinn", "user").await;
    let title = env.unique("Confidential supplier audit ");
    let id = quinn
        .api
        .activity(
            json!({"title": title, "description": "Private notes for the audit.",
                         "type": "quality_check", "assigned_to": quinn.id}),
        )
        .await;

    let b = Browser::open(env, "quinn's browser").await;
    b.goto("/login").await;
    b.sign_in(&quinn.name, &quinn.password).await;
    b.goto("/").await;
    b.goto(&format!("/activities/{id}")).await;
    assert_eq!(b.text("h1").await.trim(), title);

    b.sign_out().await;
    assert!(
        b.path().await.starts_with("/login"),
        "sign-out lands on /login"
    );
    assert!(!b.page_text().await.contains(&title));

    for step in ["first", "second"] {
        b.back().await;
        let path = b.path().await;
        let text = b.page_text().await;
        assert!(
            path.starts_with("/login"),
            "Back ({step}) after sign-out must land on sign-in, got {path}"
        );
        assert!(
            !text.contains(&title) && !text.contains("Private notes"),
            "Back ({step}) after sign-out shows private content on {path}"
        );
        b.find("form#login").await;
    }
    b.close().await;
}
