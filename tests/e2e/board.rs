//! The board: a card moved with its form and by dragging, and refused moves explained.

use serde_json::json;

use crate::Env;
use crate::browser::{Browser, assert_layout};

/// Dispatches the drag-and-drop events a user's drag of card `id` onto column `status` fires
/// (WebDriver's pointer actions do not start HTML drag-and-drop in Chromium).
const DRAG: &str = "
const [id, status] = arguments;
const card = document.querySelector(`#board article.card[data-activity-id=\"${id}\"]`);
const column = document.querySelector(`#board section.board-column[data-status=\"${status}\"]`);
if (!card || !column) return false;
const data = new DataTransfer();
const fire = (el, type) => el.dispatchEvent(new DragEvent(type,
  { bubbles: true, cancelable: true, dataTransfer: data }));
fire(card, 'dragstart');
fire(column, 'dragenter');
fire(column, 'dragover');
fire(column, 'drop');
fire(card, 'dragend');
return true;";

fn in_column(id: u64, status: &str) -> String {
    format!(
        "document.querySelector('#board section.board-column[data-status=\"{status}\"] article.card[data-activity-id=\"{id}\"]')"
    )
}

async fn drag(b: &Browser, id: u64, status: &str) {
    let done = b.js(DRAG, vec![json!(id), json!(status)]).await;
    assert_eq!(
        done, true,
        "card {id} and column {status} must be on the board"
    );
}

/// Moving a card through its form and by drag changes the activity; a move the rules refuse
/// leaves the card where it was and says why in `#flash` (role=alert).
pub async fn moves_a_card_and_explains_a_refused_move(env: &Env) {
    let mia = env.user("mia", "user").await;
    let moving = mia
        .api
        .activity(json!({"title": env.unique("Change the saw blade on line "),
                         "type": "changeover", "assigned_to": mia.id}))
        .await;
    let done = mia
        .api
        .activity(
            json!({"title": env.unique("Calibrate the scale at packing "),
                         "type": "quality_check"}),
        )
        .await;
    mia.api.set_status(done, "in_progress").await;
    mia.api.set_status(done, "completed").await;
    let b = Browser::open(env, "mia's browser").await;
    b.goto("/login?next=/activities/board").await;
    b.sign_in(&mia.name, &mia.password).await;
    assert_eq!(b.path().await, "/activities/board");
    assert_layout(&b).await;
    for status in [
        "planned",
        "in_progress",
        "on_hold",
        "completed",
        "cancelled",
    ] {
        b.find(&format!(
            "div#board section.board-column[data-status=\"{status}\"]"
        ))
        .await;
    }
    b.wait_for("the new card in planned", &in_column(moving, "planned"))
        .await;
    b.wait_for("the done card in completed", &in_column(done, "completed"))
        .await;

    // With the card's own form (what works without JavaScript).
    let card = format!("article.card[data-activity-id=\"{moving}\"]");
    b.select(
        &format!("{card} form.move-form select[name=status]"),
        "in_progress",
    )
    .await;
    b.click(&format!("{card} form.move-form button")).await;
    b.wait_for(
        "the card in the in_progress column after Move",
        &in_column(moving, "in_progress"),
    )
    .await;
    b.settled().await;
    assert_eq!(mia.api.status_of(moving).await, "in_progress");

    // By dragging it to another column.
    drag(&b, moving, "on_hold").await;
    b.wait_for(
        "the dragged card in the on_hold column",
        &in_column(moving, "on_hold"),
    )
    .await;
    wait_status(&mia.api, moving, "on_hold").await;
    b.settled().await;

    // A drag the transition rules refuse: completed → in_progress (409).
    drag(&b, done, "in_progress").await;
    let reason = flash_alert(&b, "a refused drag").await;
    let normalised = reason.to_lowercase().replace('_', " ");
    assert!(
        normalised.contains("completed") && normalised.contains("in progress"),
        "the reason names both statuses, got {reason:?}"
    );
    b.wait_for(
        "the refused card back in the completed column",
        &in_column(done, "completed"),
    )
    .await;
    assert_eq!(mia.api.status_of(done).await, "completed");
    b.settled().await;

    // A stale form (the page offered a move that is no longer allowed, as after a change made
    // elsewhere): the server refuses it and the board says why. on_hold → completed is not a
    // move the rules allow (409).
    b.goto("/activities/board").await;
    let card = format!("article.card[data-activity-id=\"{moving}\"]");
    b.find(&card).await;
    b.js(
        "const select = document.querySelector(arguments[0]);
         const option = document.createElement('option');
         option.value = 'completed'; option.textContent = 'Completed';
         select.appendChild(option); select.value = 'completed';",
        vec![json!(format!("{card} form.move-form select[name=status]"))],
    )
    .await;
    b.click(&format!("{card} form.move-form button")).await;
    let reason = flash_alert(&b, "a refused move form").await;
    let normalised = reason.to_lowercase().replace('_', " ");
    assert!(
        normalised.contains("on hold") && normalised.contains("completed"),
        "the reason names both statuses, got {reason:?}"
    );
    b.wait_for(
        "the refused card still in the on_hold column",
        &in_column(moving, "on_hold"),
    )
    .await;
    assert_eq!(mia.api.status_of(moving).await, "on_hold");
    b.settled().await;
    b.close().await;
}

/// Waits for `#flash` with role=alert and text; returns the text.
async fn flash_alert(b: &Browser, after: &str) -> String {
    b.wait_for(
        &format!("#flash (role=alert) explaining {after}"),
        "(() => { const f = document.querySelector('#flash');
                  return f && f.getAttribute('role') === 'alert' && f.getClientRects().length > 0
                         && f.textContent.trim().length > 0; })()",
    )
    .await;
    b.text("#flash").await
}

async fn wait_status(api: &crate::api::Api, id: u64, status: &str) {
    let deadline = std::time::Instant::now() + crate::browser::WAIT;
    loop {
        let now = api.status_of(id).await;
        if now == status {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "activity {id} is {now}, expected {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
