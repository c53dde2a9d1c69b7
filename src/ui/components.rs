//! The pieces every page is built from: layout, navigation, badges, form fields with their
//! errors, tables' pager, empty states and times in the plant's zone.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::assets;
use super::session::{Ctx, FlashKind, Plant};
use crate::domain::FieldErrors;
use crate::domain::activity::{ActivityStatus, Priority};

/// One entry of the navigation.
struct NavItem {
    href: &'static str,
    label: &'static str,
    icon: &'static str,
}

const NAV: &[NavItem] = &[
    NavItem {
        href: "/",
        label: "Home",
        icon: icons::HOME,
    },
    NavItem {
        href: "/activities",
        label: "Activities",
        icon: icons::LIST,
    },
    NavItem {
        href: "/projects",
        label: "Projects",
        icon: icons::FOLDER,
    },
    NavItem {
        href: "/updates",
        label: "Updates",
        icon: icons::MEGAPHONE,
    },
    NavItem {
        href: "/chat",
        label: "Chat",
        icon: icons::CHAT,
    },
    NavItem {
        href: "/search",
        label: "Search",
        icon: icons::SEARCH,
    },
    NavItem {
        href: "/assets",
        label: "Assets",
        icon: icons::FACTORY,
    },
    NavItem {
        href: "/downtime",
        label: "Downtime",
        icon: icons::STOP,
    },
    NavItem {
        href: "/oee",
        label: "OEE",
        icon: icons::CHART,
    },
    NavItem {
        href: "/handovers",
        label: "Handovers",
        icon: icons::HANDOVER,
    },
    NavItem {
        href: "/andon",
        label: "Andon",
        icon: icons::ALERT,
    },
];

/// The phone's bottom bar (UI.md §Navigation), before "More".
const BOTTOM_BAR: [&str; 4] = ["/", "/activities", "/andon", "/chat"];

const ADMIN_NAV: &[NavItem] = &[
    NavItem {
        href: "/admin/users",
        label: "Users",
        icon: icons::USERS,
    },
    NavItem {
        href: "/admin/audit",
        label: "Audit log",
        icon: icons::LOG,
    },
    NavItem {
        href: "/admin/keys",
        label: "Machine keys",
        icon: icons::KEY,
    },
];

/// Whether `href` is the current place (`/` only for itself; others for their subtree).
fn is_current(path: &str, href: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    if href == "/" {
        return path == "/";
    }
    path == href || path.starts_with(&format!("{href}/"))
}

/// The `<head>` of every page: title, the stylesheet, the icon and the script.
pub(crate) fn head(plant: &Plant, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) " · " (plant.name) }
            link rel="stylesheet" href=(assets::url("app.css"));
            link rel="icon" href=(assets::url("icon.svg")) type="image/svg+xml";
            script src=(assets::url("app.js")) defer {}
        }
    }
}

/// A signed-in page: top bar, navigation, the flash message, and `body` in `main`.
pub fn layout(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let nav_items: Vec<&NavItem> = NAV
        .iter()
        .chain(if ctx.is_admin() { ADMIN_NAV } else { &[] }.iter())
        .collect();
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(&ctx.plant, title))
            body data-csrf=(ctx.csrf) {
                a.skip-link href="#main" { "Skip to content" }
                header.topbar {
                    a.brand href="/" { (PreEscaped(icons::LOGO)) span { (ctx.plant.name) } }
                    form.global-search role="search" action="/search" method="get" {
                        label.visually-hidden for="global-search" { "Search" }
                        input #global-search type="search" name="q" placeholder="Search  ( / )"
                            autocomplete="off";
                    }
                    a #bell href="/notifications" data-live="notifications"
                        aria-label=(format!("Notifications: {} unread", ctx.unread)) {
                        (PreEscaped(icons::BELL))
                        span #unread-count .count[ctx.unread > 0] { (ctx.unread) }
                    }
                    details.user-menu {
                        summary { span.avatar aria-hidden="true" { (initial(&ctx.me.user.display_name)) } span.name { (ctx.me.user.display_name) } }
                        div.menu {
                            a href="/profile" { "Profile and password" }
                            form #logout method="post" action="/logout" {
                                (csrf_field(ctx))
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                div #live-status role="status" aria-live="polite" hidden { "Reconnecting…" }
                div.frame {
                    nav.rail aria-label="Main" {
                        ul {
                            @for item in &nav_items {
                                li { (nav_link(ctx, item)) }
                            }
                        }
                    }
                    main #main tabindex="-1" {
                        @if let Some(flash) = &ctx.flash {
                            @let refused = flash.kind == FlashKind::Refused;
                            div #flash .flash .refused[refused] role=(if refused { "alert" } else { "status" }) {
                                (flash.message)
                            }
                        } @else {
                            div #flash .flash role="status" hidden {}
                        }
                        (body)
                    }
                }
                nav.bottombar aria-label="Quick" {
                    @for item in BOTTOM_BAR.iter().filter_map(|href| NAV.iter().find(|i| i.href == *href)) {
                        (nav_link(ctx, item))
                    }
                    a href="/menu" aria-current=[is_current(&ctx.path, "/menu").then_some("page")] {
                        (PreEscaped(icons::MORE)) span { "More" }
                    }
                }
            }
        }
    }
}

fn nav_link(ctx: &Ctx, item: &NavItem) -> Markup {
    let current = is_current(&ctx.path, item.href);
    html! {
        a href=(item.href) aria-current=[current.then_some("page")] {
            (PreEscaped(item.icon)) span { (item.label) }
        }
    }
}

/// Every navigation entry as a page (the phone's "More").
pub fn menu(ctx: &Ctx) -> Markup {
    html! {
        h1 { "Menu" }
        ul.menu-list {
            @for item in NAV.iter().chain(if ctx.is_admin() { ADMIN_NAV } else { &[] }.iter()) {
                li { (nav_link(ctx, item)) }
            }
            li { a href="/notifications" { (PreEscaped(icons::BELL)) span { "Notifications" } } }
            li { a href="/profile" { (PreEscaped(icons::USERS)) span { "Profile and password" } } }
        }
    }
}

/// A page for someone not signed in (sign-in, and errors before it).
pub fn bare_layout(plant: &Plant, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(plant, title))
            body.bare {
                a.skip-link href="#main" { "Skip to content" }
                header.topbar {
                    a.brand href="/" { (PreEscaped(icons::LOGO)) span { (plant.name) } }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}

/// The hidden CSRF field of a form.
pub fn csrf_field(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="_csrf" value=(ctx.csrf); }
}

/// A status as words and colour.
pub fn status_badge(status: ActivityStatus) -> Markup {
    html! { span class=(format!("badge status-{}", status.as_str())) { (status.label()) } }
}

/// A priority as words, colour and, for high and critical, a sign.
pub fn priority_badge(priority: Priority) -> Markup {
    let sign = match priority {
        Priority::High => "▲ ",
        Priority::Critical => "‼ ",
        _ => "",
    };
    html! {
        span class=(format!("badge prio-{}", priority.as_str())) {
            @if !sign.is_empty() { span aria-hidden="true" { (sign) } }
            (priority.label())
        }
    }
}

/// `(value, label)` choices of a wire enum, in its order.
pub fn choices<T: Copy>(
    all: &[T],
    value: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|v| (value(*v).to_string(), label(*v).to_string()))
        .collect()
}

/// A message for an empty list.
pub fn empty_state(text: &str) -> Markup {
    html! { p.empty { (text) } }
}

/// A form field: label above the control, the field's errors under it.
pub fn field(label: &str, name: &str, errors: &FieldErrors, control: Markup) -> Markup {
    let messages = errors.get(name);
    html! {
        div.field .invalid[messages.is_some()] {
            label for=(name) { (label) }
            (control)
            @if let Some(messages) = messages {
                @for message in messages {
                    p.field-error id=(format!("{name}-error")) { (label) " " (message) }
                }
            }
        }
    }
}

/// Attributes tying a control to its error message.
pub fn invalid(errors: &FieldErrors, name: &str) -> (Option<&'static str>, Option<String>) {
    if errors.contains_key(name) {
        (Some("true"), Some(format!("{name}-error")))
    } else {
        (None, None)
    }
}

/// A text input bound to `name`.
pub fn text_input(
    name: &str,
    kind: &str,
    value: &str,
    errors: &FieldErrors,
    required: bool,
) -> Markup {
    let (bad, described) = invalid(errors, name);
    html! {
        input id=(name) name=(name) type=(kind) value=(value) required[required]
            aria-invalid=[bad] aria-describedby=[described];
    }
}

/// A `select` of `(value, label)` choices, `selected` chosen; `blank` adds a first, empty
/// choice with that label.
pub fn select(
    name: &str,
    choices: &[(String, String)],
    selected: &str,
    blank: Option<&str>,
    errors: &FieldErrors,
) -> Markup {
    let (bad, described) = invalid(errors, name);
    html! {
        select id=(name) name=(name) aria-invalid=[bad] aria-describedby=[described] {
            @if let Some(blank) = blank {
                option value="" selected[selected.is_empty()] { (blank) }
            }
            @for (value, label) in choices {
                option value=(value) selected[value == selected] { (label) }
            }
        }
    }
}

/// The summary above a form that failed.
pub fn form_error(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            div #form-error .form-error role="alert" tabindex="-1" { (message) }
        }
    }
}

/// Percent-encodes a query-string value.
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char);
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `path` with the query `params` (empty values left out).
pub fn href(path: &str, params: &[(&str, String)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Previous and next links for a list of `count` rows shown `page_size` at a time.
pub fn pager(
    path: &str,
    params: &[(&str, String)],
    page: usize,
    page_size: usize,
    count: usize,
) -> Markup {
    let pages = count.div_ceil(page_size.max(1)).max(1);
    let link = |to: usize| {
        let mut all: Vec<(&str, String)> = params.to_vec();
        all.push(("page", to.to_string()));
        if page_size != crate::service::pagination::DEFAULT_PAGE_SIZE {
            all.push(("page_size", page_size.to_string()));
        }
        href(path, &all)
    };
    html! {
        nav.pager aria-label="Pages" {
            @if page > 1 {
                a rel="prev" href=(link(page - 1)) { "← Previous" }
            }
            span.where { "Page " (page) " of " (pages) " · " (count) " in all" }
            @if page < pages {
                a rel="next" href=(link(page + 1)) { "Next →" }
            }
        }
    }
}

/// A time in the plant's zone, with the UTC instant for machines and on hover.
pub fn when(plant: &Plant, t: time::OffsetDateTime) -> Markup {
    let utc = utc_text(t);
    html! {
        time datetime=(utc) title=(format!("{utc} (UTC)")) { (local_text(plant, t)) }
    }
}

/// `YYYY-MM-DD HH:MM` in the plant's zone.
pub fn local_text(plant: &Plant, t: time::OffsetDateTime) -> String {
    match jiff::Timestamp::from_second(t.unix_timestamp()) {
        Ok(ts) => ts
            .to_zoned(plant.tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => utc_text(t),
    }
}

/// RFC 3339 in UTC.
pub fn utc_text(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The value of a `datetime-local` input for `t` in the plant's zone.
pub fn local_input(plant: &Plant, t: Option<time::OffsetDateTime>) -> String {
    t.and_then(|t| jiff::Timestamp::from_second(t.unix_timestamp()).ok())
        .map(|ts| {
            ts.to_zoned(plant.tz.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// Reads a `datetime-local` value (`YYYY-MM-DDTHH:MM[:SS]`) as a time in the plant's zone.
pub fn parse_local_input(plant: &Plant, raw: &str) -> Option<time::OffsetDateTime> {
    let civil: jiff::civil::DateTime = raw.trim().parse().ok()?;
    let zoned = civil.to_zoned(plant.tz.clone()).ok()?;
    time::OffsetDateTime::from_unix_timestamp(zoned.timestamp().as_second()).ok()
}

/// Inline icons (no icon font, no requests).
pub mod icons {
    /// The mark in the top bar.
    pub const LOGO: &str = r#"<svg class="icon logo" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 20V4l8 10V4m4 0v16" fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round"/></svg>"#;
    /// Home.
    pub const HOME: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M3 11l9-7 9 7v9a1 1 0 0 1-1 1h-5v-6H9v6H4a1 1 0 0 1-1-1z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/></svg>"#;
    /// A list.
    pub const LIST: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>"#;
    /// A folder.
    pub const FOLDER: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M3 6a1 1 0 0 1 1-1h5l2 2h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/></svg>"#;
    /// A megaphone.
    pub const MEGAPHONE: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M3 10v4h4l6 4V6L7 10zM17 9a4 4 0 0 1 0 6" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/></svg>"#;
    /// A speech bubble.
    pub const CHAT: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 5h16v11H9l-5 4z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/></svg>"#;
    /// A magnifier.
    pub const SEARCH: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="11" cy="11" r="7" fill="none" stroke="currentColor" stroke-width="2"/><path d="M20 20l-4-4" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>"#;
    /// People.
    pub const USERS: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="9" cy="8" r="4" fill="none" stroke="currentColor" stroke-width="2"/><path d="M2 21c0-4 3-6 7-6s7 2 7 6M16 4a4 4 0 0 1 0 8M22 21c0-3-2-5-4-6" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>"#;
    /// A log.
    pub const LOG: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 3h9l4 4v14H6zM9 11h7M9 15h7" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/></svg>"#;
    /// A key.
    pub const KEY: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="8" cy="15" r="4" fill="none" stroke="currentColor" stroke-width="2"/><path d="M11 12l9-9M17 6l3 3M15 8l2 2" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>"#;
    /// A bell.
    pub const BELL: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 16V11a6 6 0 0 1 12 0v5l2 2H4zM10 21h4" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/></svg>"#;
    /// A factory.
    pub const FACTORY: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M3 21V10l5 3V10l5 3V4h4v17zM3 21h18" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/></svg>"#;
    /// A stop sign.
    pub const STOP: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M8 3h8l5 5v8l-5 5H8l-5-5V8zM9 12h6" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/></svg>"#;
    /// A warning triangle (andon).
    pub const ALERT: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3l10 18H2zM12 10v5M12 18v.5" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/></svg>"#;
    /// A bar chart.
    pub const CHART: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 20h16M7 16v-5M12 16V7M17 16v-8" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>"#;
    /// Two arrows passing each other: a shift handover.
    pub const HANDOVER: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 8h13l-3-3M20 16H7l3 3" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></svg>"#;
    /// More.
    pub const MORE: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="5" cy="12" r="2"/><circle cx="12" cy="12" r="2"/><circle cx="19" cy="12" r="2"/></svg>"#;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plant(zone: &str) -> Plant {
        Plant {
            name: "Test".into(),
            tz: jiff::tz::TimeZone::get(zone).expect("zone"),
            secure_cookies: false,
        }
    }

    #[test]
    fn times_show_in_the_plants_zone_and_read_back() {
        let berlin = plant("Europe/Berlin");
        let t = time::macros::datetime!(2026-07-01 08:30 UTC);
        assert_eq!(local_text(&berlin, t), "2026-07-01 10:30");
        assert_eq!(local_input(&berlin, Some(t)), "2026-07-01T10:30");
        assert_eq!(parse_local_input(&berlin, "2026-07-01T10:30"), Some(t));
        let winter = time::macros::datetime!(2026-12-01 08:30 UTC);
        assert_eq!(local_text(&berlin, winter), "2026-12-01 09:30");
        assert_eq!(parse_local_input(&berlin, "nonsense"), None);
    }

    #[test]
    fn the_current_place_is_its_subtree() {
        assert!(is_current("/", "/"));
        assert!(!is_current("/activities", "/"));
        assert!(is_current("/activities/7?x=1", "/activities"));
        assert!(!is_current("/activitiesx", "/activities"));
    }
}
