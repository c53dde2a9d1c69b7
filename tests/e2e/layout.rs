//! The main pages at phone and desktop widths, on a server of their own with a small plant's
//! data: nothing wider than a 360 px phone, touch targets of 44 px at 390 px, and (with
//! `NEXUS_SCREENSHOTS=DIR`) the README's screenshots.

use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::Env;
use crate::api::{Api, User};
use crate::browser::Browser;
use crate::server::{ADMIN_PASSWORD, Server};

/// The viewports checked (width, height); screenshots at the first two.
const DESKTOP_VIEW: (u32, u32) = (1280, 800);
const PHONE_VIEW: (u32, u32) = (390, 844);
const NARROW_PHONE: (u32, u32) = (360, 740);

/// Horizontal overflow and undersized touch targets on the page shown.
pub const FIT: &str = "
const problems = [];
const width = document.documentElement.clientWidth;
if (document.documentElement.scrollWidth > width + 1) {
  // The outermost elements that stick out, not counting those inside a scrolling box.
  const scrolls = (el) => ['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(el).overflowX);
  const wide = [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > width + 1)
    .filter((el) => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
                        if (scrolls(p)) return false; } return true; })
    .slice(0, 3).map((el) => el.outerHTML.slice(0, 120));
  problems.push(`page is ${document.documentElement.scrollWidth}px wide in a ${width}px viewport: ${wide.join(' | ')}`);
}
if (arguments[0]) {
  const controls = document.querySelectorAll(
    'button, select, textarea, input:not([type=hidden]):not([type=checkbox]):not([type=radio])');
  for (const el of controls) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    if (r.height < 44 || r.width < 44) {
      problems.push(`touch target ${Math.round(r.width)}x${Math.round(r.height)}px: ${el.outerHTML.slice(0, 100)}`);
    }
  }
}
return problems;";

fn at(hours: i64) -> String {
    (OffsetDateTime::now_utc() + Duration::hours(hours))
        .replace_second(0)
        .and_then(|t| t.replace_nanosecond(0))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The demo plant: people, a project, activities in every status, updates and a conversation.
/// Returns (Maria, the supervisor the screenshots are taken as; Tom; an activity to show).
async fn seed_plant(admin: &Api) -> (User, User, u64) {
    let maria = admin.create_user("maria", "Maria Keller", "staff").await;
    let tom = admin.create_user("tom", "Tom Becker", "user").await;
    let ana = admin.create_user("ana", "Ana Silva", "user").await;
    let line2 = maria
        .api
        .project(
            "Line 2 retrofit",
            "New filler and capper on line 2.",
            &[tom.id, ana.id],
        )
        .await;
    let activities = [
        (
            "Replace the hydraulic seal on press 4",
            "maintenance",
            "critical",
            "in_progress",
            Some(maria.id),
            None,
            -2,
        ),
        (
            "Changeover line 2 to 500 ml bottles",
            "changeover",
            "high",
            "planned",
            Some(maria.id),
            Some(line2),
            3,
        ),
        (
            "First-article inspection, capper",
            "inspection",
            "high",
            "planned",
            Some(ana.id),
            Some(line2),
            5,
        ),
        (
            "Calibrate the checkweigher",
            "quality_check",
            "medium",
            "on_hold",
            Some(maria.id),
            None,
            8,
        ),
        (
            "Lockout/tagout refresher for night shift",
            "training",
            "medium",
            "planned",
            Some(tom.id),
            None,
            24,
        ),
        (
            "Clean the filler nozzles",
            "setup",
            "low",
            "completed",
            Some(tom.id),
            Some(line2),
            -20,
        ),
        (
            "Inspect the forklift brakes",
            "safety",
            "high",
            "planned",
            Some(maria.id),
            None,
            6,
        ),
        (
            "Order spare belts for conveyor 3",
            "other",
            "low",
            "cancelled",
            None,
            None,
            -30,
        ),
    ];
    let mut shown = 0;
    for (title, kind, priority, status, assignee, project, hours) in activities {
        let id = maria
            .api
            .activity(json!({"title": title, "type": kind, "priority": priority,
                             "description": format!("{title}. Parts are in stores, bay 4."),
                             "start_time": at(hours), "end_time": at(hours + 2),
                             "assigned_to": assignee, "project_id": project}))
            .await;
        let path: &[&str] = match status {
            "in_progress" => &["in_progress"],
            "on_hold" => &["in_progress", "on_hold"],
            "completed" => &["in_progress", "completed"],
            "cancelled" => &["cancelled"],
            _ => &[],
        };
        for step in path {
            maria.api.set_status(id, step).await;
        }
        if shown == 0 {
            shown = id;
        }
    }
    admin
        .update(
            "Forklift lane B closed until 14:00",
            "Use lane A; the floor is being resealed.",
            "safety",
            "critical",
        )
        .await;
    maria
        .api
        .update(
            "Line 2 runs 500 ml from Wednesday",
            "Changeover starts after the morning shift.",
            "production",
            "medium",
        )
        .await;
    tom.api
        .message(maria.id, "The seal kit for press 4 is here.")
        .await;
    maria
        .api
        .message(
            tom.id,
            "Great, can you bring it to the press after the break?",
        )
        .await;
    tom.api
        .message(
            maria.id,
            "On my way. The old seal is leaking at the main cylinder.",
        )
        .await;
    ana.api
        .room_message(line2, "Capper arrives Tuesday 8:00.")
        .await;
    (maria, tom, shown)
}

/// Dashboard, board, activity detail, chat and search fit a 360 px phone, have 44 px touch
/// targets at 390 px, and are photographed at 1280 and 390 px when `NEXUS_SCREENSHOTS` is set.
pub async fn pages_fit_phone_and_desktop_widths(env: &Env) {
    let server = Server::start().await;
    let admin = Api::login(&server.base, "admin", ADMIN_PASSWORD).await;
    let (maria, tom, activity) = seed_plant(&admin).await;
    // Search reads an index that catches up within a second of a write.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;

    let b = Browser::open_on(env, &server.base, "maria's browser").await;
    b.goto("/login").await;
    b.sign_in(&maria.name, &maria.password).await;
    let pages = [
        ("dashboard", "/".to_string()),
        ("board", "/activities/board".to_string()),
        ("activity", format!("/activities/{activity}")),
        ("chat", format!("/chat?with={}", tom.id)),
        ("search", "/search?q=seal".to_string()),
    ];
    let mut problems = Vec::new();
    for (name, path) in &pages {
        for (width, height) in [DESKTOP_VIEW, PHONE_VIEW, NARROW_PHONE] {
            b.viewport(width, height).await;
            b.goto(path).await;
            let found = b.js(FIT, vec![json!(width == PHONE_VIEW.0)]).await;
            for problem in found.as_array().into_iter().flatten() {
                problems.push(format!(
                    "{path} at {width}px: {}",
                    problem.as_str().unwrap_or_default()
                ));
            }
            if let Some(dir) = &env.screenshots
                && (width == DESKTOP_VIEW.0 || width == PHONE_VIEW.0)
            {
                b.screenshot(&dir.join(format!("{name}-{width}.png"))).await;
            }
        }
    }
    b.desktop().await;
    b.close().await;
    server.stop();
    assert!(
        problems.is_empty(),
        "pages that do not fit:\n  {}",
        problems.join("\n  ")
    );
}
