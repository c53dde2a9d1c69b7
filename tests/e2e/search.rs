//! Search from the top bar: highlighted hits, the kind filter, escaping, and opening a hit.

use serde_json::json;

use crate::Env;
use crate::browser::{Browser, WAIT, assert_layout};

/// Opens `path` until `css` is on it (the index catches up within a second of a write).
async fn goto_until(b: &Browser, path: &str, css: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        b.goto(path).await;
        if b.exists(css).await {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never showed {css}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// A word typed in the top bar finds an activity and an update, highlighted; the kind filter
/// narrows; a title with markup shows as text; a hit opens its page.
pub async fn finds_highlights_filters_and_opens_a_hit(env: &Env) {
    // A word of letters only (digits would split it into tokens), unique to this scenario.
    let word: String = env
        .unique("zirconia")
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from(b'a' + d as u8),
            None => c,
        })
        .collect();
    let sam = env.user("sam", "user").await;
    let title = format!("Recalibrate the {word} spindle");
    let id = sam
        .api
        .activity(
            json!({"title": title, "description": format!("The {word} spindle drifts."),
                         "type": "maintenance"}),
        )
        .await;
    let hostile = sam
        .api
        .activity(
            json!({"title": format!("<script>alert(1)</script> {word} <b>bold</b>"),
                         "type": "other"}),
        )
        .await;
    env.admin()
        .await
        .update(
            &format!("{word} spindles arrive Monday"),
            "Stores has them.",
            "maintenance",
            "low",
        )
        .await;

    let b = Browser::open(env, "sam's browser").await;
    b.goto("/login").await;
    b.sign_in(&sam.name, &sam.password).await;
    b.fill("input#global-search", &word).await;
    b.enter_to_page("input#global-search").await;
    let path = b.path().await;
    assert!(
        path.starts_with("/search?") && path.contains(&format!("q={word}")),
        "the top bar searches /search?q=, got {path}"
    );
    let hit = format!("ol#results li.hit[data-kind=\"activity\"][data-id=\"{id}\"]");
    goto_until(&b, &format!("/search?q={word}"), &hit).await;
    assert_layout(&b).await;
    assert_eq!(b.value("form#search-form input[name=q]").await, word);
    let marked = b
        .js(
            "return [...document.querySelectorAll(arguments[0] + ' .snippet mark')]
                      .map((m) => m.textContent.toLowerCase());",
            vec![json!(hit)],
        )
        .await;
    assert!(
        marked.as_array().is_some_and(|m| m
            .iter()
            .any(|t| t.as_str().is_some_and(|t| t.contains(&word)))),
        "the snippet marks the word, got {marked}"
    );
    b.find("ol#results li.hit[data-kind=\"update\"]").await;

    // The hostile title is text: no element from it, no script run (an alert would fail every
    // later command).
    let hostile_hit = format!("ol#results li.hit[data-id=\"{hostile}\"]");
    b.find(&hostile_hit).await;
    assert!(
        b.text(&hostile_hit)
            .await
            .contains("<script>alert(1)</script>")
    );
    assert!(!b.exists("ol#results script, ol#results b").await);

    // The kind filter.
    b.goto(&format!("/search?q={word}&kind=activity")).await;
    b.find(&hit).await;
    assert!(
        !b.exists("ol#results li.hit[data-kind=\"update\"]").await,
        "kind=activity leaves updates out"
    );
    let checked = b
        .js(
            "return [...document.querySelectorAll('form#search-form input[name=kind]:checked')]
                      .map((i) => i.value);",
            vec![],
        )
        .await;
    assert_eq!(
        checked,
        json!(["activity"]),
        "the kind checkbox shows the filter"
    );

    b.click_to_page(&format!("{hit} a")).await;
    assert_eq!(b.path().await, format!("/activities/{id}"));
    assert_eq!(b.text("h1").await.trim(), title);
    b.close().await;
}
