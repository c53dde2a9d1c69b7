//! Andon in the web UI: `/andon`, a wall display of the calls not yet resolved, grouped by
//! level (the most urgent first and largest), dark and high-contrast, live from the `andon`
//! topic; and the forms behind it — "Call for help" on each asset of `/assets`, and, for
//! admin and staff, Acknowledge and Resolve on each call. Every rule is `AndonService`'s.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::domain::andon::{AndonCall, AndonKind, AndonStatus};
use crate::domain::shopfloor::Asset;
use crate::domain::{AndonId, AssetId};
use crate::http::AppState;
use crate::http::extract::PathId;
use crate::service::andon::{AndonQuery, NewAndon, ResolveAndon};
use crate::service::pagination::PageRequest;
use crate::store::AssetFilter;
use crate::ui::components::{csrf_field, head, icons, when};
use crate::ui::error::UiError;
use crate::ui::form::{UiForm, failure};
use crate::ui::session::{Ctx, Flash, redirect};

/// The most calls the wall shows (far more than a floor ever has open at once).
const MOST: usize = 200;

/// What each level means, for the wall's headings: level also written as words.
fn level_heading(level: u8) -> &'static str {
    match level {
        2 => "Level 2 · admins called",
        1 => "Level 1 · staff called",
        _ => "Level 0 · just raised",
    }
}

/// The "Call for help" control of one asset on `/assets`: one tap on a kind raises a call
/// (the message is optional here; a blank one says what and where).
pub fn call_for_help(ctx: &Ctx, asset: &Asset) -> Markup {
    html! {
        details.call-help {
            summary.button { (PreEscaped(icons::ALERT)) " Call for help" span.visually-hidden { " at " (asset.code) } }
            form.call-help-form method="post" action="/andon" {
                (csrf_field(ctx))
                input type="hidden" name="asset_id" value=(asset.id.0);
                label for=(format!("andon-message-{}", asset.id.0)) { "What is wrong (optional)" }
                input id=(format!("andon-message-{}", asset.id.0)) type="text" name="message" maxlength="2000" autocomplete="off";
                div.kinds role="group" aria-label="Kind of help" {
                    @for kind in AndonKind::ALL {
                        button.big.kind type="submit" name="kind" value=(kind.as_str())
                            .danger[*kind == AndonKind::Safety] { (kind.label()) }
                    }
                }
            }
        }
    }
}

/// `POST /andon`: raises a call from an asset's "Call for help".
pub async fn raise(State(state): State<AppState>, form: UiForm) -> Result<Response, UiError> {
    let f = &form.fields;
    let Some(asset) = f.id("asset_id").ok().flatten().map(AssetId) else {
        return Ok(redirect(
            &state,
            "/assets",
            Flash::refused("Choose an asset."),
        ));
    };
    let Some(kind) = AndonKind::parse(&f.text("kind")) else {
        return Ok(redirect(
            &state,
            "/assets",
            Flash::refused("Choose what kind of help is needed."),
        ));
    };
    let mut message = f.text("message").trim().to_string();
    if message.is_empty() {
        let code = match state.services.shopfloor.asset(&form.me, asset).await {
            Ok(a) => a.code,
            Err(_) => format!("asset {asset}"),
        };
        message = format!("{} needed at {code}", kind.label());
    }
    let input = NewAndon {
        asset_id: asset,
        kind,
        message,
    };
    match state.services.andon.raise(&form.me, input).await {
        Ok(call) => Ok(redirect(
            &state,
            "/assets",
            Flash::done(format!(
                "Help called ({}, level {}). It shows on the andon board.",
                call.kind.label(),
                call.level
            )),
        )),
        Err(e) => {
            let (_, _, message) = failure(e)?;
            Ok(redirect(
                &state,
                "/assets",
                Flash::refused(message.unwrap_or_default()),
            ))
        }
    }
}

/// `POST /andon/{id}/acknowledge` (admin, staff).
pub async fn acknowledge(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    let result = state
        .services
        .andon
        .acknowledge(&form.me, AndonId(id))
        .await;
    answered(&state, result.map(|_| "Acknowledged.")).await
}

/// `POST /andon/{id}/resolve` (admin, staff).
pub async fn resolve(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    let input = ResolveAndon {
        resolution: form.fields.filled("resolution").map(str::to_string),
    };
    let result = state
        .services
        .andon
        .resolve(&form.me, AndonId(id), input)
        .await;
    answered(&state, result.map(|_| "Resolved.")).await
}

async fn answered(
    state: &AppState,
    result: Result<&'static str, crate::domain::DomainError>,
) -> Result<Response, UiError> {
    match result {
        Ok(done) => Ok(redirect(state, "/andon", Flash::done(done))),
        Err(e) => {
            let (_, _, message) = failure(e)?;
            Ok(redirect(
                state,
                "/andon",
                Flash::refused(message.unwrap_or_default()),
            ))
        }
    }
}

fn card(
    ctx: &Ctx,
    call: &AndonCall,
    assets: &HashMap<AssetId, &Asset>,
    names: &HashMap<crate::domain::UserId, String>,
) -> Markup {
    let asset = assets.get(&call.asset_id);
    let status_class = match call.status {
        AndonStatus::Open => "status-open",
        _ => "status-acknowledged",
    };
    html! {
        li.andon-card .(format!("level-{}", call.level)) id=(format!("andon-{}", call.id))
            data-andon-id=(call.id.0) data-version=(call.version) {
            div.andon-where {
                span.andon-asset { (asset.map_or_else(|| format!("Asset {}", call.asset_id), |a| a.code.clone())) }
                @if let Some(a) = asset { " " span.andon-asset-name { (a.name) } }
            }
            div.andon-what {
                span.andon-kind .kind-safety[call.kind == AndonKind::Safety] { (call.kind.label()) }
                " " span.andon-status .(status_class) {
                    @match call.status {
                        AndonStatus::Open => "OPEN",
                        _ => {
                            "ACKNOWLEDGED"
                            @if let Some(by) = call.acknowledged_by {
                                " · " (names.get(&by).cloned().unwrap_or_else(|| format!("#{by}")))
                            }
                        }
                    }
                }
            }
            p.andon-message { (call.message) }
            div.andon-when { "Raised " (when(&ctx.plant, call.raised_at)) }
            @if ctx.is_staff() {
                div.andon-actions {
                    @if call.status == AndonStatus::Open {
                        form method="post" action=(format!("/andon/{}/acknowledge", call.id)) {
                            (csrf_field(ctx))
                            button.primary type="submit" { "Acknowledge" span.visually-hidden { " call " (call.id) } }
                        }
                    }
                    form method="post" action=(format!("/andon/{}/resolve", call.id)) {
                        (csrf_field(ctx))
                        button type="submit" { "Resolve" span.visually-hidden { " call " (call.id) } }
                    }
                }
            }
        }
    }
}

/// `GET /andon`: the wall display.
pub async fn wall(State(state): State<AppState>, ctx: Ctx) -> Result<Response, UiError> {
    let page = PageRequest {
        page: 1,
        page_size: MOST,
    };
    let query = AndonQuery {
        open: Some(true),
        ..AndonQuery::default()
    };
    let calls = state.services.andon.list(&ctx.me, query, page).await?;
    let all_assets = state
        .services
        .shopfloor
        .assets(&ctx.me, AssetFilter::default(), page)
        .await?
        .results;
    let assets: HashMap<AssetId, &Asset> = all_assets.iter().map(|a| (a.id, a)).collect();
    let names = super::user_names(
        &state,
        &ctx.me,
        calls
            .results
            .iter()
            .filter_map(|c| c.acknowledged_by)
            .collect(),
    )
    .await;
    let open = calls
        .results
        .iter()
        .filter(|c| c.status == AndonStatus::Open)
        .count();
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            (head(&ctx.plant, "Andon"))
            body.wall data-csrf=(ctx.csrf) {
                a.skip-link href="#main" { "Skip to content" }
                div #live-status role="status" aria-live="polite" hidden { "Reconnecting…" }
                header.wall-head {
                    h1 { "Andon" span.visually-hidden { " · " } span.wall-plant { (ctx.plant.name) } }
                    span.wall-clock data-clock="" aria-hidden="true" {}
                    a.wall-exit href="/" { "Exit" }
                }
                @if let Some(flash) = &ctx.flash {
                    div #flash .flash role="status" { (flash.message) }
                }
                main #main tabindex="-1" {
                    section #andon-calls data-live="andon" aria-live="polite" aria-label="Calls not yet resolved" {
                        p.wall-summary {
                            strong { (calls.count) } " not resolved · " strong { (open) } " open"
                        }
                        @if calls.results.is_empty() {
                            p.wall-clear { "All clear — no open calls." }
                        }
                        @for level in [2u8, 1, 0] {
                            @let here: Vec<&AndonCall> = calls.results.iter().filter(|c| c.level == level).collect();
                            @if !here.is_empty() {
                                section.andon-level .(format!("level-{level}")) aria-label=(level_heading(level)) {
                                    h2 { (level_heading(level)) " (" (here.len()) ")" }
                                    ul.andon-cards {
                                        @for c in here { (card(&ctx, c, &assets, &names)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(body.into_response())
}
