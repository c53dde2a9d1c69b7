//! Acknowledged updates: an operator acknowledges a safety notice from the dashboard with one
//! tap, and its author sees the operator move from pending to acknowledged without a reload.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::Env;
use crate::api::id_of;
use crate::browser::{Browser, assert_layout};

pub async fn operator_acknowledges_a_safety_notice_and_the_author_sees_it_live(env: &Env) {
    let author = env.user("sam", "staff").await;
    let operator = env.user("olga", "user").await;
    let title = env.unique("Forklift lane closed ");
    let notice = id_of(
        &author
            .api
            .call(
                Method::POST,
                "/api/updates/",
                Some(json!({"title": title, "type": "safety", "content": "Use the east aisle."})),
                StatusCode::CREATED,
            )
            .await,
    );

    // The author's page lists the operator as pending.
    let a = Browser::open(env, "author's browser").await;
    a.goto(&format!("/login?next=/updates/{notice}")).await;
    a.sign_in(&author.name, &author.password).await;
    let operator_in = |list: &str| {
        format!(
            "document.querySelector('#update details.acks ul.{list} li[data-user-id=\"{}\"]') !== null",
            operator.id
        )
    };
    a.wait_for("the operator pending", &operator_in("pending"))
        .await;
    assert_layout(&a).await;
    a.mark().await;

    // The operator's dashboard puts the notice first, with its button.
    let o = Browser::open(env, "operator's browser").await;
    o.goto("/login?next=/").await;
    o.sign_in(&operator.name, &operator.password).await;
    let card = format!("#to-acknowledge article[data-update-id=\"{notice}\"]");
    assert!(o.text(&card).await.contains(&title));
    assert_layout(&o).await;
    o.click_to_page(&format!("{card} .ack button")).await;
    assert_eq!(o.path().await, "/");
    assert!(
        !o.exists(&card).await,
        "no longer waiting for the operator's acknowledgement"
    );

    // On the updates page the notice now says it was acknowledged.
    o.goto("/updates").await;
    let listed = format!("article[data-update-id=\"{notice}\"] .acked");
    assert!(o.text(&listed).await.contains("You acknowledged this"));

    a.wait_for("the operator acknowledged", &operator_in("acknowledged"))
        .await;
    assert!(
        !a.js(&format!("return {}", operator_in("pending")), vec![])
            .await
            .as_bool()
            .unwrap_or(true)
    );
    assert!(a.still_marked().await, "the lists updated in place");
    o.close().await;
    a.close().await;
}
