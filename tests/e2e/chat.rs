//! Chat: a message sent with Enter arrives live for the receiver, with its unread count; the
//! open conversation grows live; older messages are a link away.

use serde_json::json;

use crate::Env;
use crate::browser::{Browser, assert_layout};

/// How many older messages are seeded before the live ones.
const HISTORY: usize = 60;

/// Sara sends Tom a message; Tom's conversation list and bell show it without a reload, then
/// his open conversation receives the next one live.
pub async fn message_appears_live_for_the_receiver_with_its_unread_count(env: &Env) {
    let sara = env.user("sara", "user").await;
    let tom = env.user("tom", "user").await;
    // Tom's own messages: history for the conversation, none of it unread for him.
    for n in 1..=HISTORY {
        tom.api
            .message(sara.id, &format!("Shift note {n} from Tom"))
            .await;
    }
    sara.api
        .call(
            reqwest::Method::POST,
            "/api/chat/conversations/read/",
            Some(json!({"with": tom.id})),
            reqwest::StatusCode::NO_CONTENT,
        )
        .await;

    let s = Browser::open(env, "sara's browser").await;
    let t = Browser::open(env, "tom's browser").await;
    s.goto(&format!("/login?next=/chat%3Fwith%3D{}", tom.id))
        .await;
    s.sign_in(&sara.name, &sara.password).await;
    assert_eq!(s.path().await, format!("/chat?with={}", tom.id));
    t.goto("/login?next=/chat").await;
    t.sign_in(&tom.name, &tom.password).await;
    assert_eq!(t.path().await, "/chat");
    assert_layout(&t).await;

    let conversation = format!(
        "nav#conversations a.conversation[data-peer-id=\"{}\"]",
        sara.id
    );
    t.find(&conversation).await;
    assert_eq!(
        t.number(&format!("{conversation} span.unread")).await,
        0,
        "nothing unread from sara yet"
    );
    let bell_before = t.number("#unread-count").await;
    t.mark().await;

    // Sara's side: newest at the bottom, older ones behind a#older.
    let shown = s.all("ol#messages li.message").await.len();
    assert!(shown > 0, "the conversation shows its messages");
    let last = s.text("ol#messages li.message:last-child").await;
    assert!(
        last.contains(&format!("Shift note {HISTORY} from Tom")),
        "the newest message is at the bottom, got {last:?}"
    );
    if shown < HISTORY {
        s.click_to_page("a#older").await;
        assert!(
            s.path().await.contains("before="),
            "a#older pages with ?before="
        );
        assert!(
            s.page_text().await.contains("Shift note 1 from Tom") || s.exists("a#older").await,
            "older messages are reached through a#older"
        );
        s.goto(&format!("/chat?with={}", tom.id)).await;
    }

    let first = env.unique("Can you check the glue station before the break? #");
    s.fill("form#chat-form [name=content]", &first).await;
    // Enter sends; without scripts it would be the form's submit, with them a fetch.
    s.find("form#chat-form [name=content]")
        .await
        .send_keys("\u{E007}")
        .await
        .expect("press Enter");
    s.wait_for(
        "sara's message at the bottom of her conversation",
        &format!(
            "(() => {{ const m = document.querySelector('ol#messages li.message:last-child');
                      return m && m.textContent.includes({}); }})()",
            json!(first)
        ),
    )
    .await;
    s.settled().await;

    t.wait_for(
        "the unread count of sara's conversation in tom's list",
        &format!(
            "(() => {{ const u = document.querySelector('{conversation} span.unread');
                      return u && u.textContent.trim() === '1'; }})()"
        ),
    )
    .await;
    t.wait_for(
        "tom's bell to count the message",
        &format!(
            "parseInt(document.querySelector('#unread-count').textContent.replace(/[^0-9]/g, '') || '0', 10) > {bell_before}"
        ),
    )
    .await;
    assert!(t.still_marked().await, "the count arrives without a reload");
    t.settled().await;

    t.click_to_page(&conversation).await;
    assert_eq!(t.path().await, format!("/chat?with={}", sara.id));
    let last = t.text("ol#messages li.message:last-child").await;
    assert!(last.contains(&first), "tom reads the message, got {last:?}");
    t.mark().await;

    let second = env.unique("Thanks, the nozzle was clogged. #");
    sara.api.message(tom.id, &second).await;
    t.wait_for(
        "the second message live in tom's open conversation",
        &format!(
            "(() => {{ const m = document.querySelector('ol#messages li.message:last-child');
                      return m && m.textContent.includes({}); }})()",
            json!(second)
        ),
    )
    .await;
    assert!(
        t.still_marked().await,
        "the message arrives without a reload"
    );
    t.settled().await;
    s.close().await;
    t.close().await;
}
