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
