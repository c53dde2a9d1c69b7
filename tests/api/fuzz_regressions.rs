//! Regressions found by fuzzing the server with schemathesis against its own OpenAPI document
//! (`.ci/schemathesis.sh`): each test pins one bug, in the server or in the document.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

/// The served OpenAPI document.
async fn openapi(app: &TestApp) -> Value {
    let r = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    json_of(r).await
}

/// The `enum` of a component schema, as strings.
fn enum_of(doc: &Value, schema: &str) -> Vec<String> {
    doc["components"]["schemas"][schema]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{schema} has an enum"))
        .iter()
        .map(|v| v.as_str().expect("string value").to_string())
        .collect()
}

/// The `value`s of a choice list endpoint.
async fn choice_values(app: &TestApp, token: &str, path: &str) -> Vec<String> {
    let body = json_of(app.get(path, token).await).await;
    body.as_array()
        .expect("a list")
        .iter()
        .map(|c| c["value"].as_str().expect("value").to_string())
        .collect()
}

/// The document listed the Rust variant names (`InProgress`) instead of the wire names
/// (`in_progress`): the enum macro handed serde's `rename` to utoipa as a `literal` fragment,
/// which utoipa ignored, so every activity, project and update the server answered broke the
/// document.
#[tokio::test]
async fn document_enums_are_the_wire_names() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let doc = openapi(&app).await;
    assert_eq!(
        enum_of(&doc, "ActivityStatus"),
        choice_values(&app, &token, "/api/activities/statuses/").await
    );
    assert_eq!(
        enum_of(&doc, "ActivityType"),
        choice_values(&app, &token, "/api/activities/types/").await
    );
    let expected: [(&str, &[&str]); 5] = [
        ("Priority", &["low", "medium", "high", "critical"]),
        (
            "UpdateType",
            &[
                "announcement",
                "maintenance",
                "safety",
                "production",
                "system",
            ],
        ),
        (
            "ProjectStatus",
            &["planning", "active", "on_hold", "completed", "archived"],
        ),
        ("MessageType", &["text", "system"]),
        ("Role", &["admin", "staff", "user"]),
    ];
    for (schema, values) in expected {
        assert_eq!(enum_of(&doc, schema), values, "{schema}");
    }
}

/// Every handler named `list`, `read`, `update`... gave its bare name as `operationId`, which
/// OpenAPI requires to be unique; tools that key operations by it (code generators, the
/// fuzzer's links) mixed them up.
#[tokio::test]
async fn document_operation_ids_are_unique() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    let mut seen = HashSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has an operationId"));
            assert!(seen.insert(id.to_string()), "{method} {path}: {id} twice");
        }
    }
}

/// A search query of a few thousand nested parentheses (or `NOT`s) recursed the query parser
/// until the worker's stack overflowed, which aborts the whole process: one signed-in user could
/// take the server down with one GET. The nesting is now bounded and deeper queries are `400`.
#[tokio::test]
async fn deeply_nested_search_queries_are_400_not_a_crash() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for q in [
        format!("{}pump{}", "(".repeat(2000), ")".repeat(2000)),
        format!("{}pump", "NOT ".repeat(2000)),
        format!("{}pump", "- ".repeat(2000)),
    ] {
        let r = app
            .client
            .get(app.url("/api/search/"))
            .bearer_auth(&token)
            .query(&[("q", q.as_str())])
            .send()
            .await
            .expect("the server answers");
        let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
        assert!(
            body["error"]["fields"]["q"][0]
                .as_str()
                .is_some_and(|m| m.contains("nest")),
            "{body}"
        );
    }
    let shallow = format!("{}pump{}", "(".repeat(8), ")".repeat(8));
    let r = app
        .client
        .get(app.url("/api/search/"))
        .bearer_auth(&token)
        .query(&[("q", shallow.as_str())])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
}

/// Times whose UTC form falls outside years 0–9999 were `500`: `9999-12-31T23:00:00-05:00` is
/// year 10000 in UTC, where converting panicked (filters and activity times alike), and
/// `0000-01-01T00:00:00+05:00` is year -1, which the store then failed to format. RFC 3339 in
/// UTC cannot show either, so both are `400` now.
#[tokio::test]
async fn times_outside_what_utc_rfc3339_can_show_are_400() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let out_of_range = ["9999-12-31T23:00:00-05:00", "0000-01-01T00:00:00+05:00"];
    for time in out_of_range {
        for (path, filter) in [
            ("/api/activities/", "start_after"),
            ("/api/activities/", "start_before"),
            ("/api/activities/export.csv", "start_after"),
            ("/api/updates/", "since"),
            ("/api/audit/", "since"),
        ] {
            let r = app
                .client
                .get(app.url(path))
                .bearer_auth(&token)
                .query(&[(filter, time)])
                .send()
                .await
                .expect("request");
            let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
            assert!(body["error"]["fields"][filter].is_array(), "{path}: {body}");
        }
        for field in ["start_time", "end_time"] {
            let r = app
                .post(
                    "/api/activities/",
                    Some(&token),
                    &serde_json::json!({"title": "Press check", field: time}),
                )
                .await;
            let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
            assert!(body["error"]["fields"][field].is_array(), "{body}");
        }
    }
    let created = app
        .post(
            "/api/activities/",
            Some(&token),
            &serde_json::json!({"title": "Press check", "start_time": "2026-11-28T10:30:00+01:00"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = json_of(created).await;
    assert_eq!(created["start_time"], "2026-11-28T09:30:00Z");
    let path = format!("/api/activities/{}/", created["id"]);
    for time in out_of_range {
        let r = app
            .patch(&path, &token, &serde_json::json!({"end_time": time}))
            .await;
        let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
        assert!(body["error"]["fields"]["end_time"].is_array(), "{body}");
    }
    let unchanged = json_of(app.get(&path, &token).await).await;
    assert_eq!(unchanged["version"], 1, "{unchanged}");
}

/// A project date with a signed year (`-0001-01-01`) was accepted and then shown as such, which
/// is not the `YYYY-MM-DD` the contract (and the document's `format: date`) promise.
#[tokio::test]
async fn project_dates_have_four_digit_years() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let r = app
        .post(
            "/api/projects/",
            Some(&token),
            &serde_json::json!({"name": "Retrofit", "start_date": "-0001-01-01"}),
        )
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(body["error"]["fields"]["start_date"].is_array(), "{body}");
    let r = app
        .post(
            "/api/projects/",
            Some(&token),
            &serde_json::json!({"name": "Retrofit", "start_date": "0000-01-01", "end_date": "9999-12-31"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let project = json_of(r).await;
    let r = app
        .patch(
            &format!("/api/projects/{}/", project["id"]),
            &token,
            &serde_json::json!({"end_date": "-0001-12-31"}),
        )
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(body["error"]["fields"]["end_date"].is_array(), "{body}");
}

/// The document was looser than the answers: fields the server always sends (as `null` when
/// empty) were optional, answer objects allowed any extra field, and search hits were an
/// untyped object. A field dropped, renamed or leaked would not have broken it.
#[tokio::test]
async fn answer_schemas_are_closed_and_list_what_is_always_sent() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    let schemas = &doc["components"]["schemas"];
    let required = |schema: &str| -> Vec<String> {
        schemas[schema]["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} lists required fields"))
            .iter()
            .map(|v| v.as_str().expect("name").to_string())
            .collect()
    };
    for (schema, fields) in [
        (
            "Activity",
            &["start_time", "end_time", "assigned_to", "project_id"][..],
        ),
        ("Project", &["start_date", "end_date"]),
        ("Message", &["receiver_id", "project_id"]),
        ("AuditEntry", &["actor_id", "ip"]),
        ("ListBody_Activity", &["next", "previous"]),
    ] {
        let listed = required(schema);
        for field in fields {
            assert!(listed.contains(&field.to_string()), "{schema}.{field}");
        }
    }
    for schema in [
        "Activity",
        "Project",
        "UserView",
        "Profile",
        "ErrorBody",
        "Hit",
    ] {
        assert_eq!(
            schemas[schema]["additionalProperties"], false,
            "{schema} is closed"
        );
    }
    // A page's items are the (closed) object schema itself.
    assert_eq!(
        schemas["ListBody_Activity"]["properties"]["results"]["items"]["$ref"],
        "#/components/schemas/Activity"
    );
    assert_eq!(
        schemas["SearchBody"]["properties"]["results"]["items"]["$ref"],
        "#/components/schemas/Hit"
    );
    // Request bodies stay open: unknown fields in them are ignored.
    assert!(schemas["NewActivity"].get("additionalProperties").is_none());
}

/// Sign-up checked the email before trimming it, so ` ann@plant.test ` was a `400` there while
/// the profile and admin paths (and the stored value) trim it first.
#[tokio::test]
async fn sign_up_trims_the_email_like_every_other_path() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/register/",
            None,
            &serde_json::json!({"username": "ann", "email": " ann@plant.test ",
                                "password": "ann-password-1"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(json_of(r).await["email"], "ann@plant.test");
    let admin = app.admin_token().await;
    let r = app
        .post(
            "/api/users/",
            Some(&admin),
            &serde_json::json!({"username": "bob", "email": "\tbob@plant.test\n",
                                "password": "bob-password-1", "role": "user"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(json_of(r).await["email"], "bob@plant.test");
}

/// "Exactly one of `receiver_id` and `project_id`" (and of `with` and `project` for read
/// markers) was only prose; the document now says it, so generated bodies stop sending both.
#[tokio::test]
async fn document_says_exactly_one_conversation_id() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    for (schema, a, b) in [
        ("NewMessage", "receiver_id", "project_id"),
        ("ReadInput", "with", "project"),
    ] {
        let branches = doc["components"]["schemas"][schema]["allOf"][1]["oneOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} has a oneOf"))
            .clone();
        assert_eq!(branches.len(), 2, "{schema}");
        assert_eq!(branches[0]["required"], serde_json::json!([a]), "{schema}");
        assert_eq!(branches[0]["properties"][b]["type"], "null", "{schema}");
        assert_eq!(branches[1]["required"], serde_json::json!([b]), "{schema}");
        assert_eq!(branches[1]["properties"][a]["type"], "null", "{schema}");
    }
}

/// `423` and `429` answers carry `Retry-After` (API.md §Errors), and the document says so, so
/// that clients (and the fuzzer's header check) can rely on it.
#[tokio::test]
async fn document_lists_retry_after_on_423_and_429() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    let mut answers = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            for status in ["423", "429"] {
                if let Some(response) = operation["responses"].get(status) {
                    answers += 1;
                    assert!(
                        response["headers"].get("Retry-After").is_some(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    assert!(answers > 40, "{answers}");
}
