//! `/healthz` and `/readyz`.

use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn healthz_answers_ok_without_auth() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_reports_database_ok() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/readyz/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert_eq!(body["checks"]["database"], "ok");
}

#[tokio::test]
async fn health_responses_carry_security_headers() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        !csp.contains("http"),
        "CSP must allow no outside origin: {csp}"
    );
}

#[tokio::test]
async fn openapi_document_describes_every_rest_endpoint_publicly() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc = json_of(r).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "OpenAPI 3"
    );
    let expected = [
        ("/api/auth/register/", "post"),
        ("/api/auth/login/", "post"),
        ("/api/auth/refresh/", "post"),
        ("/api/auth/logout/", "post"),
        ("/api/auth/user/", "get"),
        ("/api/auth/user/", "patch"),
        ("/api/auth/password/", "post"),
        ("/api/users/", "get"),
        ("/api/users/", "post"),
        ("/api/users/{id}/", "get"),
        ("/api/users/{id}/", "patch"),
        ("/api/activities/", "get"),
        ("/api/activities/", "post"),
        ("/api/activities/{id}/", "get"),
        ("/api/activities/{id}/", "patch"),
        ("/api/activities/{id}/", "delete"),
        ("/api/activities/types/", "get"),
        ("/api/activities/statuses/", "get"),
        ("/api/activities/export.csv", "get"),
        ("/api/projects/", "get"),
        ("/api/projects/", "post"),
        ("/api/projects/{id}/", "get"),
        ("/api/projects/{id}/", "patch"),
        ("/api/projects/{id}/", "delete"),
        ("/api/projects/{id}/team/", "get"),
        ("/api/projects/{id}/team/", "post"),
        ("/api/projects/{id}/team/{user_id}/", "delete"),
        ("/api/projects/{id}/activities/", "get"),
        ("/api/projects/{id}/activities/", "post"),
        ("/api/updates/", "get"),
        ("/api/updates/", "post"),
        ("/api/updates/{id}/", "get"),
        ("/api/updates/{id}/", "patch"),
        ("/api/updates/{id}/", "delete"),
        ("/api/updates/notifications/", "get"),
        ("/api/updates/notifications/{id}/read/", "post"),
        ("/api/updates/notifications/read-all/", "post"),
        ("/api/chat/messages/", "post"),
        ("/api/chat/messages/", "get"),
        ("/api/chat/messages/{id}/", "delete"),
        ("/api/chat/conversations/", "get"),
        ("/api/chat/conversations/read/", "post"),
        ("/api/audit/", "get"),
    ];
    for (path, method) in expected {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is documented");
        assert!(
            op["responses"]
                .as_object()
                .is_some_and(|r| r.keys().any(|k| k.starts_with('4') || k.starts_with('2'))),
            "{method} {path} documents its answers"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Documented paths are served: the trailing-slash form answers, not 404.
    let admin = app.admin_token().await;
    let r = app.get("/api/activities/types/", &admin).await;
    assert_eq!(r.status(), StatusCode::OK);
}
