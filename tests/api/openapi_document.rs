//! The OpenAPI document as the tools an integrator reaches for read it (a validator, a client
//! generator, a fuzzer): every answer described, pages typed by their object, the names a
//! generated client is built on kept, and queries described as the server reads them.
//! `.ci/openapi_client.sh` runs the real tools; these tests pin each point without them.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

/// The served OpenAPI document.
async fn document(app: &TestApp) -> Value {
    let r = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    json_of(r).await
}

/// Every operation of the document as (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            all.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    all
}

/// The query parameter `name` of `method path`.
fn query_parameter(doc: &Value, method: &str, path: &str, name: &str) -> Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has parameters"))
        .iter()
        .find(|p| p["name"] == name && p["in"] == "query")
        .unwrap_or_else(|| panic!("{method} {path} has ?{name}"))
        .clone()
}

/// OpenAPI requires a description on every response object; 36 of them had none (most `200`s,
/// `/healthz`, `/readyz`), so openapi-spec-validator refused the document and
/// openapi-python-client would not generate a client from it.
#[tokio::test]
async fn openapi_every_answer_has_a_description() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut answers = 0;
    for (method, path, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            answers += 1;
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.trim().is_empty()),
                "{method} {path} {status} has no description"
            );
        }
    }
    assert!(answers > 200, "{answers}");
}

/// A page's `results` were the object's schema written out inline, so a generated client typed
/// them `ListBodyActivityResultsItem` instead of `Activity`.
#[tokio::test]
async fn openapi_pages_reference_their_object_schema() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut pages = 0;
    for (name, schema) in schemas {
        let Some(item) = name.strip_prefix("ListBody_") else {
            continue;
        };
        pages += 1;
        assert_eq!(
            schema["properties"]["results"]["items"],
            serde_json::json!({"$ref": format!("#/components/schemas/{item}")}),
            "{name}"
        );
        assert_eq!(
            schemas[item]["additionalProperties"], false,
            "{item} is closed"
        );
    }
    // Activity, AuditEntry, Message, NotificationView, Project, Update, UserView; Asset, Shift,
    // DowntimeReason, DowntimeEvent, ProductionCount; KeyView, Handover, AndonCall.
    assert_eq!(pages, 15);
}

/// A generated client names its functions after operation ids and its modules after tags, so
/// both are part of the API: this list changes only with an API change.
#[tokio::test]
async fn openapi_operation_ids_and_tags_stay_as_they_are() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let expected = [
        ("get", "/api/activities/", "activities_list", "activities"),
        (
            "post",
            "/api/activities/",
            "activities_create",
            "activities",
        ),
        (
            "get",
            "/api/activities/export.csv",
            "activities_export",
            "activities",
        ),
        (
            "get",
            "/api/activities/statuses/",
            "activities_statuses",
            "activities",
        ),
        (
            "get",
            "/api/activities/types/",
            "activities_types",
            "activities",
        ),
        (
            "get",
            "/api/activities/{id}/",
            "activities_read",
            "activities",
        ),
        (
            "delete",
            "/api/activities/{id}/",
            "activities_remove",
            "activities",
        ),
        (
            "patch",
            "/api/activities/{id}/",
            "activities_update",
            "activities",
        ),
        ("get", "/api/admin/backup/", "admin_backup", "admin"),
        ("get", "/api/audit/", "audit_list", "audit"),
        ("post", "/api/auth/login/", "auth_login", "auth"),
        ("post", "/api/auth/logout/", "auth_logout", "auth"),
        (
            "post",
            "/api/auth/password/",
            "auth_change_password",
            "auth",
        ),
        ("post", "/api/auth/refresh/", "auth_refresh", "auth"),
        ("post", "/api/auth/register/", "auth_register", "auth"),
        ("get", "/api/auth/user/", "auth_me", "auth"),
        ("patch", "/api/auth/user/", "auth_update_me", "auth"),
        (
            "get",
            "/api/chat/conversations/",
            "chat_conversations",
            "chat",
        ),
        (
            "post",
            "/api/chat/conversations/read/",
            "chat_mark_read",
            "chat",
        ),
        ("get", "/api/chat/messages/", "chat_messages", "chat"),
        ("post", "/api/chat/messages/", "chat_send", "chat"),
        ("delete", "/api/chat/messages/{id}/", "chat_remove", "chat"),
        ("get", "/api/projects/", "projects_list", "projects"),
        ("post", "/api/projects/", "projects_create", "projects"),
        ("get", "/api/projects/{id}/", "projects_read", "projects"),
        (
            "delete",
            "/api/projects/{id}/",
            "projects_remove",
            "projects",
        ),
        (
            "patch",
            "/api/projects/{id}/",
            "projects_update",
            "projects",
        ),
        (
            "get",
            "/api/projects/{id}/activities/",
            "projects_activities",
            "projects",
        ),
        (
            "post",
            "/api/projects/{id}/activities/",
            "projects_create_activity",
            "projects",
        ),
        (
            "get",
            "/api/projects/{id}/team/",
            "projects_team",
            "projects",
        ),
        (
            "post",
            "/api/projects/{id}/team/",
            "projects_add_member",
            "projects",
        ),
        (
            "delete",
            "/api/projects/{id}/team/{user_id}/",
            "projects_remove_member",
            "projects",
        ),
        ("get", "/api/search/", "search_search", "search"),
        ("get", "/api/updates/", "updates_list", "updates"),
        ("post", "/api/updates/", "updates_create", "updates"),
        (
            "get",
            "/api/updates/notifications/",
            "updates_notifications",
            "notifications",
        ),
        (
            "post",
            "/api/updates/notifications/read-all/",
            "updates_read_all",
            "notifications",
        ),
        (
            "post",
            "/api/updates/notifications/{id}/read/",
            "updates_read_one",
            "notifications",
        ),
        ("get", "/api/updates/{id}/", "updates_read", "updates"),
        ("delete", "/api/updates/{id}/", "updates_remove", "updates"),
        ("patch", "/api/updates/{id}/", "updates_update", "updates"),
        ("get", "/api/users/", "users_list", "users"),
        ("post", "/api/users/", "users_create", "users"),
        ("get", "/api/users/{id}/", "users_read", "users"),
        ("patch", "/api/users/{id}/", "users_update", "users"),
        ("get", "/api/assets/", "assets_list", "assets"),
        ("post", "/api/assets/", "assets_create", "assets"),
        ("get", "/api/assets/{id}/", "assets_read", "assets"),
        ("patch", "/api/assets/{id}/", "assets_update", "assets"),
        ("delete", "/api/assets/{id}/", "assets_remove", "assets"),
        ("get", "/api/assets/{id}/tree/", "assets_tree", "assets"),
        ("get", "/api/shifts/", "shifts_list", "shifts"),
        ("post", "/api/shifts/", "shifts_create", "shifts"),
        ("get", "/api/shifts/{id}/", "shifts_read", "shifts"),
        ("patch", "/api/shifts/{id}/", "shifts_update", "shifts"),
        ("delete", "/api/shifts/{id}/", "shifts_remove", "shifts"),
        ("get", "/api/shifts/current/", "shifts_current", "shifts"),
        ("get", "/api/downtime/reasons/", "reasons_list", "reasons"),
        (
            "post",
            "/api/downtime/reasons/",
            "reasons_create",
            "reasons",
        ),
        (
            "get",
            "/api/downtime/reasons/{id}/",
            "reasons_read",
            "reasons",
        ),
        (
            "patch",
            "/api/downtime/reasons/{id}/",
            "reasons_update",
            "reasons",
        ),
        (
            "delete",
            "/api/downtime/reasons/{id}/",
            "reasons_remove",
            "reasons",
        ),
        ("get", "/api/downtime/", "downtime_list", "downtime"),
        ("post", "/api/downtime/", "downtime_create", "downtime"),
        ("get", "/api/downtime/{id}/", "downtime_read", "downtime"),
        (
            "patch",
            "/api/downtime/{id}/",
            "downtime_update",
            "downtime",
        ),
        (
            "delete",
            "/api/downtime/{id}/",
            "downtime_remove",
            "downtime",
        ),
        (
            "post",
            "/api/downtime/{id}/end/",
            "downtime_end",
            "downtime",
        ),
        (
            "get",
            "/api/downtime/pareto/",
            "downtime_pareto",
            "downtime",
        ),
        (
            "get",
            "/api/downtime/export.csv",
            "downtime_export",
            "downtime",
        ),
        ("get", "/api/production/", "production_list", "production"),
        (
            "post",
            "/api/production/",
            "production_create",
            "production",
        ),
        (
            "get",
            "/api/production/{id}/",
            "production_read",
            "production",
        ),
        (
            "patch",
            "/api/production/{id}/",
            "production_update",
            "production",
        ),
        (
            "delete",
            "/api/production/{id}/",
            "production_remove",
            "production",
        ),
        ("get", "/api/oee/", "oee", "oee"),
        ("get", "/api/oee/export.csv", "oee_export", "oee"),
        ("get", "/api/andon/", "andon_list", "andon"),
        ("post", "/api/andon/", "andon_raise", "andon"),
        ("get", "/api/andon/{id}/", "andon_read", "andon"),
        (
            "post",
            "/api/andon/{id}/acknowledge/",
            "andon_acknowledge",
            "andon",
        ),
        ("post", "/api/andon/{id}/resolve/", "andon_resolve", "andon"),
        ("get", "/api/keys/", "keys_list", "keys"),
        ("post", "/api/keys/", "keys_create", "keys"),
        ("get", "/api/keys/{id}/", "keys_read", "keys"),
        ("delete", "/api/keys/{id}/", "keys_revoke", "keys"),
        ("get", "/api/handovers/", "handovers_list", "handovers"),
        ("post", "/api/handovers/", "handovers_create", "handovers"),
        ("get", "/api/handovers/{id}/", "handovers_read", "handovers"),
        (
            "patch",
            "/api/handovers/{id}/",
            "handovers_update",
            "handovers",
        ),
        (
            "delete",
            "/api/handovers/{id}/",
            "handovers_remove",
            "handovers",
        ),
        (
            "post",
            "/api/handovers/{id}/submit/",
            "handovers_submit",
            "handovers",
        ),
        (
            "post",
            "/api/handovers/{id}/acknowledge/",
            "handovers_acknowledge",
            "handovers",
        ),
        ("get", "/healthz", "healthz", "operations"),
        ("get", "/readyz", "readyz", "operations"),
        ("get", "/metrics", "metrics", "operations"),
        (
            "post",
            "/api/updates/{id}/ack/",
            "updates_acknowledge",
            "updates",
        ),
        ("get", "/api/updates/{id}/acks/", "updates_acks", "updates"),
    ];
    let documented = operations(&doc);
    assert_eq!(documented.len(), expected.len(), "operations documented");
    for (method, path, id, tag) in expected {
        let operation = &doc["paths"][path][method];
        assert_eq!(operation["operationId"], id, "{method} {path}");
        assert_eq!(
            operation["tags"],
            serde_json::json!([tag]),
            "{method} {path}"
        );
    }
}

/// The server reads an empty filter as an absent one (`?start_before=`, `?since=`, `?role=`),
/// and the document forbade it (an empty string is no date-time or role); it now says
/// `allowEmptyValue` on every optional filter, and on nothing else.
#[tokio::test]
async fn openapi_empty_filters_are_absent_and_the_document_says_so() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let doc = document(&app).await;
    let mut filters = 0;
    for (method, path, operation) in operations(&doc) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().expect("name");
            let filter = parameter["in"] == "query"
                && parameter["required"] == false
                && !name.starts_with("page");
            if filter {
                filters += 1;
            }
            assert_eq!(
                parameter.get("allowEmptyValue") == Some(&Value::Bool(true)),
                filter,
                "{method} {path} ?{name}"
            );
        }
    }
    assert!(filters > 40, "{filters}");
    for path in [
        "/api/activities/?start_before=&start_after=&status=&type=&priority=&assigned_to=&q=&ordering=",
        "/api/activities/export.csv?start_before=&project=",
        "/api/updates/?since=&type=&priority=",
        "/api/audit/?since=&actor=&action=",
        "/api/users/?role=&is_active=&q=",
        "/api/projects/?status=&manager=&member=&q=",
        "/api/updates/notifications/?unread=",
        "/api/search/?q=press&kind=",
    ] {
        let r = app.get(path, &token).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
}

/// `page_size` over 200 is capped (API.md §Lists), however large: a number past `u64` was a
/// `400` while the document's `int64` forbade what the server took up to `u64::MAX`. Ids in a
/// query are any `u64`.
#[tokio::test]
async fn openapi_page_numbers_are_any_whole_number_from_one() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let doc = document(&app).await;
    for name in ["page", "page_size"] {
        let schema = &query_parameter(&doc, "get", "/api/activities/", name)["schema"];
        assert_eq!(
            schema,
            &serde_json::json!({"type": "integer", "minimum": 1}),
            "{name}"
        );
    }
    let assigned_to = &query_parameter(&doc, "get", "/api/activities/", "assigned_to")["schema"];
    assert_eq!(assigned_to["maximum"], serde_json::json!(u64::MAX));
    assert!(assigned_to.get("format").is_none(), "{assigned_to}");

    let r = app.get("/api/activities/?page_size=500", &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let huge = "99999999999999999999999";
    let r = app
        .get(
            &format!("/api/activities/?page={huge}&page_size={huge}"),
            &token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert_eq!(body["results"], serde_json::json!([]));
    assert!(
        body["previous"]
            .as_str()
            .is_some_and(|p| p.ends_with("page_size=200")),
        "{body}"
    );
    let r = app.get("/api/activities/?page_size=0", &token).await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
}

/// An empty or blank `q` is a `400` on search, which the document allowed.
#[tokio::test]
async fn openapi_search_needs_a_word() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let doc = document(&app).await;
    let q = &query_parameter(&doc, "get", "/api/search/", "q")["schema"];
    assert_eq!(q["minLength"], 1);
    assert_eq!(q["pattern"], r"\S");
    for blank in ["", "%20%20"] {
        let r = app.get(&format!("/api/search/?q={blank}"), &token).await;
        assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
    }
    // `kind` is read as the server reads it: spaces and empty pieces are fine.
    let kind = query_parameter(&doc, "get", "/api/search/", "kind");
    let pattern = kind["schema"]["pattern"].as_str().expect("pattern");
    assert!(pattern.contains(r"\s*"), "{pattern}");
    let r = app
        .get("/api/search/?q=press&kind=%20activity%20,,project", &token)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// A chat listing names exactly one of `with` and `project`; both or neither is a `400`, which
/// two optional parameters could not say. One object parameter, exploded into the same query
/// string, does.
#[tokio::test]
async fn openapi_chat_listing_takes_exactly_one_conversation() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let doc = document(&app).await;
    let conversation = query_parameter(&doc, "get", "/api/chat/messages/", "conversation");
    assert_eq!(conversation["required"], true);
    assert_eq!(conversation["style"], "form");
    assert_eq!(conversation["explode"], true);
    assert_eq!(
        conversation["schema"]["$ref"],
        "#/components/schemas/ConversationQuery"
    );
    let schema = &doc["components"]["schemas"]["ConversationQuery"];
    assert_eq!(schema["minProperties"], 1);
    assert_eq!(schema["maxProperties"], 1);
    assert_eq!(schema["additionalProperties"], false);
    let mut properties: Vec<&String> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .collect();
    properties.sort();
    assert_eq!(properties, ["project", "with"]);

    let (peer, _) = app.user_with_token("ann", "user").await;
    let project = json_of(
        app.post(
            "/api/projects/",
            Some(&token),
            &serde_json::json!({"name": "Line 4"}),
        )
        .await,
    )
    .await;
    let with = format!("with={}", peer["id"]);
    let room = format!("project={}", project["id"]);
    for query in [with.clone(), room.clone()] {
        let r = app
            .get(&format!("/api/chat/messages/?{query}"), &token)
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{query}");
    }
    for query in [String::new(), format!("{with}&{room}")] {
        let r = app
            .get(&format!("/api/chat/messages/?{query}"), &token)
            .await;
        assert_error(r, StatusCode::BAD_REQUEST, "bad_request").await;
    }
}

/// Login answers `423` with `Retry-After` for a locked username (API.md §Auth); the document
/// lists it, so a generated client parses it instead of failing on an unknown status.
#[tokio::test]
async fn openapi_login_documents_423() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let locked = &doc["paths"]["/api/auth/login/"]["post"]["responses"]["423"];
    assert_eq!(
        locked["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    assert!(locked["headers"]["Retry-After"].is_object(), "{locked}");
}
