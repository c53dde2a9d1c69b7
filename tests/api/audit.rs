//! `/api/audit/`: admin only; entry shape, newest first; the actions written for sign-in,
//! account and user administration, and deletes; filters; no secrets in any entry.

use std::collections::BTreeSet;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers

/// GET `path` as `token`; asserts 200 and returns the body.
async fn get_ok(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.get(path, token).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    json_of(r).await
}

/// The audit entries matching `query` (`""` or `"action=..&..."`), newest first; checks each
/// entry's shape and that they fit in one page.
async fn audit(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let sep = if query.is_empty() { "" } else { "&" };
    let list = get_ok(
        app,
        &format!("/api/audit/?page_size=200{sep}{query}"),
        admin,
    )
    .await;
    let rows = list["results"].as_array().expect("results").clone();
    assert_eq!(list["count"], json!(rows.len()), "{list}");
    for e in &rows {
        assert_entry_shape(e);
    }
    rows
}

/// The entries with `action`.
async fn entries(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let rows = audit(app, admin, &format!("action={action}")).await;
    for e in &rows {
        assert_eq!(e["action"], action, "{e}");
    }
    rows
}

fn actions(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|e| e["action"].as_str().expect("action").to_string())
        .collect()
}

fn assert_entry_shape(e: &Value) {
    let keys: BTreeSet<&str> = e
        .as_object()
        .expect("entry is an object")
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = ["id", "ts", "actor_id", "ip", "action", "target", "detail"]
        .into_iter()
        .collect();
    assert_eq!(keys, expected, "fields of {e}");
    assert!(e["id"].as_u64().is_some_and(|id| id > 0), "{e}");
    let ts = e["ts"].as_str().expect("ts is a string");
    assert!(ts.ends_with('Z'), "{ts}");
    time::OffsetDateTime::parse(ts, &Rfc3339).unwrap_or_else(|err| panic!("{ts}: {err}"));
    assert!(
        e["actor_id"].is_null() || e["actor_id"].as_u64().is_some_and(|id| id > 0),
        "{e}"
    );
    assert!(e["action"].as_str().is_some_and(|a| !a.is_empty()), "{e}");
    assert!(e["target"].is_string(), "{e}");
}

/// Asserts `e` was done by `actor` (a user JSON, or `None`) from the loopback address.
fn assert_by(e: &Value, actor: Option<&Value>) {
    match actor {
        Some(user) => assert_eq!(e["actor_id"], user["id"], "actor of {e}"),
        None => assert!(e["actor_id"].is_null(), "no actor in {e}"),
    }
    assert_eq!(e["ip"], "127.0.0.1", "ip of {e}");
}

/// The admin user (id 1) as JSON, for `assert_by`.
fn admin_user() -> Value {
    json!({"id": 1})
}

async fn login_attempt(app: &TestApp, username: &str, password: &str) -> Response {
    app.post(
        "/api/auth/login/",
        None,
        &json!({"username": username, "password": password}),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Access and shape

#[tokio::test]
async fn the_audit_log_is_for_admins_only() {
    let app = spawn_app().await;
    let (_, staff) = app.user_with_token("foreman", "staff").await;
    let (_, user) = app.user_with_token("worker", "user").await;
    for token in [&staff, &user] {
        let r = app.get("/api/audit/", token).await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.get("/api/audit/?action=login.success", token).await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let r = app
        .request(Method::GET, "/api/audit/", None)
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let admin = app.admin_token().await;
    let list = get_ok(&app, "/api/audit/", &admin).await;
    assert!(list["count"].as_u64().is_some_and(|c| c > 0), "{list}");
    assert!(list["results"].is_array());
    assert!(list["next"].is_null() && list["previous"].is_null());
}

#[tokio::test]
async fn entries_have_the_contract_fields_and_come_newest_first() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let worker = app.create_user("worker", "user").await;
    let all = audit(&app, &admin, "").await;
    assert!(all.len() >= 3, "{all:?}");
    // The newest entry is the last thing done: creating the worker (after its admin login).
    assert_eq!(all[0]["action"], "user.create", "{all:?}");
    assert_by(&all[0], Some(&admin_user()));
    assert!(
        all[0]["target"]
            .as_str()
            .unwrap()
            .contains(&worker["id"].to_string()),
        "{}",
        all[0]
    );
    assert_eq!(all[1]["action"], "login.success");
    let times: Vec<&str> = all.iter().map(|e| e["ts"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let ids: BTreeSet<u64> = all.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "ids are unique");

    // Paging.
    let p1 = get_ok(&app, "/api/audit/?page_size=1", &admin).await;
    assert_eq!(p1["count"], json!(all.len()));
    assert_eq!(p1["results"][0], all[0]);
    assert_eq!(p1["next"], "/api/audit/?page=2&page_size=1");
    let p2 = get_ok(&app, p1["next"].as_str().unwrap(), &admin).await;
    assert_eq!(p2["results"][0], all[1]);
}

// ---------------------------------------------------------------------------------------------
// What is written

#[tokio::test]
async fn sign_in_successes_and_failures_are_logged() {
    let app = spawn_app().await;
    let worker = app.create_user("worker", "user").await;
    let r = login_attempt(&app, "worker", "wrong-password-1").await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = login_attempt(&app, "ghost", "wrong-password-2").await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    app.login("worker", USER_PASSWORD).await;

    let admin = app.admin_token().await;
    let failures = entries(&app, &admin, "login.failure").await;
    assert_eq!(failures.len(), 2, "{failures:?}");
    // Newest first: the unknown username, then the wrong password.
    assert_by(&failures[0], None);
    assert!(
        failures[0].to_string().contains("ghost"),
        "the username tried is recorded: {}",
        failures[0]
    );
    assert_by(&failures[1], Some(&worker));

    let successes = entries(&app, &admin, "login.success").await;
    let by_worker: Vec<&Value> = successes
        .iter()
        .filter(|e| e["actor_id"] == worker["id"])
        .collect();
    assert_eq!(by_worker.len(), 1, "{successes:?}");
    assert_by(by_worker[0], Some(&worker));
    // Every admin login (create_user's and ours) is there too.
    assert!(
        successes
            .iter()
            .filter(|e| e["actor_id"] == 1)
            .all(|e| e["ip"] == "127.0.0.1")
    );
    assert!(successes.iter().filter(|e| e["actor_id"] == 1).count() >= 2);
}

#[tokio::test]
async fn five_failures_lock_the_username_and_are_logged() {
    let app = spawn_app().await;
    let worker = app.create_user("worker", "user").await;
    for i in 0..5 {
        let r = login_attempt(&app, "worker", &format!("wrong-password-{i}")).await;
        assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let r = login_attempt(&app, "worker", USER_PASSWORD).await;
    assert_error(r, StatusCode::LOCKED, "account_locked").await;

    let admin = app.admin_token().await;
    let failures = entries(&app, &admin, "login.failure").await;
    assert_eq!(failures.len(), 5, "{failures:?}");
    for e in &failures {
        assert_by(e, Some(&worker));
    }
    let lockouts = entries(&app, &admin, "login.lockout").await;
    assert_eq!(lockouts.len(), 1, "{lockouts:?}");
    assert_by(&lockouts[0], Some(&worker));
    assert!(
        lockouts[0]["id"].as_u64() > failures[0]["id"].as_u64()
            || lockouts[0]["ts"].as_str() >= failures[0]["ts"].as_str()
    );
    assert!(
        !audit(&app, &admin, "")
            .await
            .iter()
            .any(|e| e["action"] == "login.success" && e["actor_id"] == worker["id"]),
        "the locked attempt did not sign in"
    );

    // An unknown username locks the same way, with no actor.
    for _ in 0..5 {
        let r = login_attempt(&app, "nobody", "wrong-password-x").await;
        assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let lockouts = entries(&app, &admin, "login.lockout").await;
    assert_eq!(lockouts.len(), 2, "{lockouts:?}");
    assert_by(&lockouts[0], None);
}

#[tokio::test]
async fn register_password_change_and_logout_are_logged() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/register/",
            None,
            &json!({"username": "newbie", "email": "newbie@plant.test",
                    "password": "first-password-123"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let newbie = json_of(r).await;
    let token = token_of(&app.login("newbie", "first-password-123").await);
    let r = app
        .post(
            "/api/auth/password/",
            Some(&token),
            &json!({"current_password": "first-password-123",
                    "new_password": "second-password-456"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .post("/api/auth/logout/", Some(&token), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let admin = app.admin_token().await;
    let mine = audit(&app, &admin, &format!("actor={}", newbie["id"])).await;
    assert_eq!(
        actions(&mine),
        ["logout", "password.change", "login.success", "register"],
        "{mine:?}"
    );
    for e in &mine {
        assert_by(e, Some(&newbie));
    }
    for action in ["register", "password.change", "logout"] {
        let rows = entries(&app, &admin, action).await;
        assert_eq!(rows.len(), 1, "{action}: {rows:?}");
    }
}

#[tokio::test]
async fn user_administration_is_logged() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let worker = app.create_user("worker", "user").await;
    let path = format!("/api/users/{}/", worker["id"]);
    let r = app.patch(&path, &admin, &json!({"role": "staff"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    // A change that is not a role change or deactivation writes neither.
    let r = app
        .patch(&path, &admin, &json!({"display_name": "Wanda"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.patch(&path, &admin, &json!({"is_active": false})).await;
    assert_eq!(r.status(), StatusCode::OK);

    let id = worker["id"].to_string();
    for action in ["user.create", "user.role_change", "user.deactivate"] {
        let rows = entries(&app, &admin, action).await;
        assert_eq!(rows.len(), 1, "{action}: {rows:?}");
        assert_by(&rows[0], Some(&admin_user()));
        assert!(
            rows[0]["target"].as_str().unwrap().contains(&id),
            "{action} names the user: {}",
            rows[0]
        );
    }
    let by_admin = audit(&app, &admin, "actor=1").await;
    let admin_actions: Vec<String> = actions(&by_admin)
        .into_iter()
        .filter(|a| a.starts_with("user."))
        .collect();
    assert_eq!(
        admin_actions,
        ["user.deactivate", "user.role_change", "user.create"]
    );

    // Refused attempts by others write nothing.
    let (_, staff) = app.user_with_token("foreman", "staff").await;
    let r = app.patch(&path, &staff, &json!({"role": "admin"})).await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(entries(&app, &admin, "user.role_change").await.len(), 1);
}

#[tokio::test]
async fn deletes_and_team_removals_are_logged() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let worker = app.create_user("worker", "user").await;

    let r = app
        .post(
            "/api/projects/",
            Some(&admin),
            &json!({"name": "Press Line", "team_members": [worker["id"]]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let project = json_of(r).await;
    let r = app
        .post(
            "/api/activities/",
            Some(&admin),
            &json!({"title": "Oil change"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let activity = json_of(r).await;
    let r = app
        .post("/api/updates/", Some(&admin), &json!({"title": "Old news"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let update = json_of(r).await;
    let r = app
        .post(
            "/api/chat/messages/",
            Some(&admin),
            &json!({"receiver_id": worker["id"], "content": "typo"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let message = json_of(r).await;
    // Nothing is deleted yet.
    for action in [
        "activity.delete",
        "project.delete",
        "update.delete",
        "message.delete",
        "project.team_remove",
    ] {
        assert!(entries(&app, &admin, action).await.is_empty(), "{action}");
    }

    let team_member = format!("/api/projects/{}/team/{}/", project["id"], worker["id"]);
    for (path, action, id) in [
        (team_member, "project.team_remove", &project["id"]),
        (
            format!("/api/activities/{}/", activity["id"]),
            "activity.delete",
            &activity["id"],
        ),
        (
            format!("/api/updates/{}/", update["id"]),
            "update.delete",
            &update["id"],
        ),
        (
            format!("/api/chat/messages/{}/", message["id"]),
            "message.delete",
            &message["id"],
        ),
        (
            format!("/api/projects/{}/", project["id"]),
            "project.delete",
            &project["id"],
        ),
    ] {
        let r = app.delete(&path, &admin).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{path}");
        let rows = entries(&app, &admin, action).await;
        assert_eq!(rows.len(), 1, "{action}: {rows:?}");
        assert_by(&rows[0], Some(&admin_user()));
        assert!(
            rows[0]["target"]
                .as_str()
                .unwrap()
                .contains(&id.to_string()),
            "{action} names its object: {}",
            rows[0]
        );
        // The newest entry is the one just written.
        assert_eq!(audit(&app, &admin, "").await[0]["action"], action);
    }

    // A refused delete writes nothing; removing a non-member changes nothing.
    let r = app
        .delete(&format!("/api/projects/{}/", project["id"]), &admin)
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(entries(&app, &admin, "project.delete").await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Filters

#[tokio::test]
async fn the_log_filters_by_action_actor_and_since() {
    let app = spawn_app().await;
    let (worker, worker_token) = app.user_with_token("worker", "user").await;
    let r = login_attempt(&app, "worker", "wrong-password-1").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .post("/api/auth/logout/", Some(&worker_token), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let admin = app.admin_token().await;

    let all = audit(&app, &admin, "").await;
    let successes = entries(&app, &admin, "login.success").await;
    assert_eq!(
        successes.len(),
        all.iter()
            .filter(|e| e["action"] == "login.success")
            .count()
    );
    assert!(entries(&app, &admin, "no.such.action").await.is_empty());

    let by_worker = audit(&app, &admin, &format!("actor={}", worker["id"])).await;
    assert_eq!(
        actions(&by_worker),
        ["logout", "login.failure", "login.success"]
    );
    let rows = audit(
        &app,
        &admin,
        &format!("actor={}&action=login.success", worker["id"]),
    )
    .await;
    assert_eq!(actions(&rows), ["login.success"]);
    assert!(audit(&app, &admin, "actor=9999").await.is_empty());

    // since is inclusive; with whole-second times, the newest entry's time keeps it.
    let newest_ts = all[0]["ts"].as_str().unwrap().to_string();
    let rows = audit(&app, &admin, &format!("since={newest_ts}")).await;
    assert!(rows.iter().any(|e| e["id"] == all[0]["id"]), "{rows:?}");
    for e in &rows {
        assert!(e["ts"].as_str().unwrap() >= newest_ts.as_str(), "{e}");
    }
    let oldest_ts = all.last().unwrap()["ts"].as_str().unwrap().to_string();
    assert_eq!(
        audit(&app, &admin, &format!("since={oldest_ts}"))
            .await
            .len(),
        all.len(),
        "everything is at or after the oldest entry"
    );
    assert!(
        audit(&app, &admin, "since=2999-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    let today = &newest_ts[..10];
    assert!(audit(&app, &admin, &format!("since={today}")).await.len() >= all.len());

    for query in [
        "actor=abc",
        "actor=0",
        "since=yesterday",
        "since=2026-99-01",
        "page=0",
    ] {
        let r = app.get(&format!("/api/audit/?{query}"), &admin).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets and immutability

#[tokio::test]
async fn no_audit_entry_contains_a_password() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_user("worker", "user").await;
    let r = app
        .post(
            "/api/auth/register/",
            None,
            &json!({"username": "newbie", "email": "newbie@plant.test",
                    "password": "registered-secret-1"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let newbie = token_of(&app.login("newbie", "registered-secret-1").await);
    let r = app
        .post(
            "/api/auth/password/",
            Some(&newbie),
            &json!({"current_password": "registered-secret-1",
                    "new_password": "changed-secret-22"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Failed logins, including a password typed into the username box by mistake.
    for (username, password) in [
        ("worker", "mistyped-secret-3"),
        ("ghost", "ghostly-secret-44"),
        ("worker", "locked-secret-555"),
        ("worker", "locked-secret-666"),
        ("worker", "locked-secret-777"),
        ("worker", "locked-secret-888"),
    ] {
        let r = login_attempt(&app, username, password).await;
        assert!(r.status().is_client_error());
    }
    let r = app
        .post("/api/auth/logout/", Some(&newbie), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let list = get_ok(&app, "/api/audit/?page_size=200", &admin).await;
    assert!(
        list["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "login.lockout"),
        "the lockout happened: {list}"
    );
    let text = list.to_string();
    for secret in [
        ADMIN_PASSWORD,
        USER_PASSWORD,
        "registered-secret-1",
        "changed-secret-22",
        "mistyped-secret-3",
        "ghostly-secret-44",
        "locked-secret-555",
        "locked-secret-666",
        "locked-secret-777",
        "locked-secret-888",
        "argon2",
    ] {
        assert!(!text.contains(secret), "{secret} in the audit log: {text}");
    }
    for e in list["results"].as_array().unwrap() {
        let detail = e["detail"].to_string().to_lowercase();
        assert!(!detail.contains("password"), "{e}");
    }
}

#[tokio::test]
async fn the_audit_log_cannot_be_changed_through_the_api() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let before = audit(&app, &admin, "").await;
    let id = before[0]["id"].clone();
    for (method, path) in [
        (Method::POST, "/api/audit/".to_string()),
        (Method::DELETE, "/api/audit/".to_string()),
        (Method::PATCH, format!("/api/audit/{id}/")),
        (Method::DELETE, format!("/api/audit/{id}/")),
    ] {
        let r = app
            .request(method.clone(), &path, Some(&admin))
            .json(&json!({"action": "forged"}))
            .send()
            .await
            .unwrap();
        assert!(
            !r.status().is_success(),
            "{method} {path} answered {}",
            r.status()
        );
    }
    let after = audit(&app, &admin, "").await;
    assert!(after.iter().all(|e| e["action"] != "forged"));
    assert!(
        before.iter().all(|e| after.contains(e)),
        "every entry is still there, unchanged"
    );
}
