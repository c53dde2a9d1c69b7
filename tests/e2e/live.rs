//! A lost live connection: shown in `#live-status`, recovered by itself, and the events missed
//! meanwhile replayed into the page. On a server of its own, since the scenario restarts it.

use serde_json::json;

use crate::Env;
use crate::api::Api;
use crate::browser::Browser;
use crate::server::{ADMIN_PASSWORD, Server};

const RECONNECTING: &str = "(() => { const s = document.querySelector('#live-status');
  return s && s.dataset.state === 'reconnecting' && s.getClientRects().length > 0
         && s.textContent.includes('Reconnecting'); })()";

const CONNECTED: &str = "(() => { const s = document.querySelector('#live-status');
  return s && s.getClientRects().length === 0; })()";

fn row(id: u64) -> String {
    format!("document.querySelector('table#activity-table tr[data-activity-id=\"{id}\"]')")
}

/// The server restarts under an open activity table: the page says it is reconnecting, then
/// reconnects by itself and shows the activity created while it was away, without a reload.
pub async fn lost_connection_is_shown_and_recovers_with_missed_events(env: &Env) {
    let mut server = Server::start().await;
    let admin = Api::login(&server.base, "admin", ADMIN_PASSWORD).await;
    let lena = admin.create_user("lena", "Lena Vogt", "user").await;

    // An empty list shows no table; start from one row.
    admin
        .activity(json!({"title": "Walk the line before the shift", "type": "inspection"}))
        .await;

    let b = Browser::open_on(env, &server.base, "lena's browser").await;
    b.goto("/login?next=/activities").await;
    b.sign_in(&lena.name, &lena.password).await;
    b.find("#activity-list").await;
    b.mark().await;

    // Proves the stream is up before it is cut.
    let before = admin
        .activity(json!({"title": "Check the compressor oil", "type": "maintenance"}))
        .await;
    b.wait_for("the first activity live", &row(before)).await;
    b.wait_for("#live-status hidden while connected", CONNECTED)
        .await;

    // Hold the page's reconnection attempts, so the next activity is made while it is away and
    // can only reach it by replay.
    b.cdp(
        "Fetch.enable",
        json!({"patterns": [{"urlPattern": "*/api/events/*"}, {"urlPattern": "*/ws/*"}]}),
    )
    .await;
    server.restart().await;
    b.wait_for("#live-status saying Reconnecting…", RECONNECTING)
        .await;
    let admin = Api::login(&server.base, "admin", ADMIN_PASSWORD).await;
    let missed = admin
        .activity(json!({"title": "Replace the worn V-belt", "type": "maintenance"}))
        .await;
    b.cdp("Fetch.disable", json!({})).await;

    b.wait_for("the activity missed while away, replayed", &row(missed))
        .await;
    b.wait_for("#live-status hidden again after reconnecting", CONNECTED)
        .await;
    assert!(
        b.still_marked().await,
        "recovery happens in the page, without a reload"
    );
    b.settled().await;
    b.close().await;
    server.stop();
}
