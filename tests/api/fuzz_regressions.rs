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
