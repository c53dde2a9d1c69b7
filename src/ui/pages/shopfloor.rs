//! The shop floor: `/assets` (the tree, each asset's state live), `/downtime` (one tap for
//! "stopped" and "running again" with a reason picker of large buttons, and the events), and
//! `/oee` (availability, performance, quality and OEE per shift and day, and the downtime
//! Pareto, drawn as SVG on the server). Every rule is the service's.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{Markup, PreEscaped, html};

use crate::domain::oee::Group;
use crate::domain::shopfloor::{Asset, AssetKind, AssetState, DowntimeReason};
use crate::domain::{AssetId, DomainError, DowntimeId, FieldErrors, ReasonId};
use crate::http::AppState;
use crate::http::extract::QueryMap;
use crate::service::Principal;
use crate::service::pagination::PageRequest;
use crate::service::shopfloor::{
    EndDowntime, NewAsset, NewDowntime, OeeQuery, OeeRow, ParetoRow, oee_csv,
};
use crate::store::{AssetFilter, DowntimeFilter};
use crate::ui::components::{
    choices, csrf_field, empty_state, field, form_error, href, layout, local_text, select,
    text_input, when,
};
use crate::ui::error::UiError;
use crate::ui::form::{UiForm, failure};
use crate::ui::session::{Ctx, Flash, redirect};

/// The most assets or reasons a page lists (a plant has far fewer).
const MOST: usize = 200;

fn first_page() -> PageRequest {
    PageRequest {
        page: 1,
        page_size: MOST,
    }
}

async fn all_assets(state: &AppState, me: &Principal) -> Result<Vec<Asset>, DomainError> {
    Ok(state
        .services
        .shopfloor
        .assets(me, AssetFilter::default(), first_page())
        .await?
        .results)
}

/// The reasons an event may carry: the leaves of the tree.
async fn leaf_reasons(
    state: &AppState,
    me: &Principal,
) -> Result<Vec<DowntimeReason>, DomainError> {
    let all = state
        .services
        .shopfloor
        .reasons(me, first_page())
        .await?
        .results;
    let parents: std::collections::HashSet<ReasonId> =
        all.iter().filter_map(|r| r.parent_id).collect();
    Ok(all
        .into_iter()
        .filter(|r| !parents.contains(&r.id))
        .collect())
}

fn state_badge(state: AssetState) -> Markup {
    let class = match state {
        AssetState::Running => "badge state-running",
        AssetState::Down => "badge state-down",
    };
    html! { span class=(class) { (state.label()) } }
}

fn tree(ctx: &Ctx, assets: &[Asset], parent: Option<AssetId>, depth: usize) -> Markup {
    let children: Vec<&Asset> = assets.iter().filter(|a| a.parent_id == parent).collect();
    html! {
        @if !children.is_empty() {
            ul.asset-tree {
                @for a in children {
                    li data-asset-id=(a.id.0) data-version=(format!("{}-{}", a.version, a.state.as_str())) {
                        a.asset href=(format!("/downtime?asset={}", a.id.0)) {
                            span.code { (a.code) }
                            " " span.name { (a.name) }
                            " " span.kind { (a.kind.label()) }
                        }
                        " " (state_badge(a.state))
                        " " (super::andon::call_for_help(ctx, a))
                        @if depth < 8 { (tree(ctx, assets, Some(a.id), depth + 1)) }
                    }
                }
            }
        }
    }
}

fn asset_form(
    ctx: &Ctx,
    assets: &[Asset],
    errors: &FieldErrors,
    sent: &HashMap<&str, String>,
) -> Markup {
    let v = |k: &str| sent.get(k).cloned().unwrap_or_default();
    let kinds = choices(AssetKind::ALL, AssetKind::as_str, AssetKind::label);
    let parents: Vec<(String, String)> = assets
        .iter()
        .map(|a| (a.id.0.to_string(), format!("{} {}", a.code, a.name)))
        .collect();
    html! {
        form #asset-form .stacked method="post" action="/assets" novalidate {
            (csrf_field(ctx))
            (field("Code", "code", errors, text_input("code", "text", &v("code"), errors, true)))
            (field("Name", "name", errors, text_input("name", "text", &v("name"), errors, true)))
            (field("Kind", "kind", errors, select("kind", &kinds, &v("kind"), None, errors)))
            (field("Part of", "parent_id", errors, select("parent_id", &parents, &v("parent_id"), Some("Nothing (a root)"), errors)))
            (field("Ideal cycle (seconds per unit)", "ideal_cycle_secs", errors, text_input("ideal_cycle_secs", "number", &v("ideal_cycle_secs"), errors, false)))
            button.primary type="submit" { "Add asset" }
        }
    }
}

async fn assets_body(
    state: &AppState,
    ctx: &Ctx,
    form: Option<(Markup, bool)>,
) -> Result<Markup, UiError> {
    let assets = all_assets(state, &ctx.me).await?;
    Ok(html! {
        div.page-head { h1 { "Assets" } }
        @if let Some((form, open)) = form {
            details.create open[open] {
                summary.button { "Add an asset" }
                (form)
            }
        }
        section #assets data-live="assets" aria-live="polite" {
            @if assets.is_empty() { (empty_state("No assets yet.")) }
            (tree(ctx, &assets, None, 0))
        }
    })
}

/// `GET /assets`.
pub async fn assets(State(state): State<AppState>, ctx: Ctx) -> Result<Response, UiError> {
    let form = if ctx.is_staff() {
        let assets = all_assets(&state, &ctx.me).await?;
        Some((
            asset_form(&ctx, &assets, &FieldErrors::new(), &HashMap::new()),
            false,
        ))
    } else {
        None
    };
    let body = assets_body(&state, &ctx, form).await?;
    Ok(layout(&ctx, "Assets", body).into_response())
}

/// `POST /assets`.
pub async fn create_asset(
    State(state): State<AppState>,
    ctx: Ctx,
    form: UiForm,
) -> Result<Response, UiError> {
    let f = &form.fields;
    let mut errors = FieldErrors::new();
    let kind = AssetKind::parse(&f.text("kind"));
    if kind.is_none() {
        errors.insert(
            "kind".into(),
            vec!["must be one of the listed kinds".into()],
        );
    }
    let parent = match f.id("parent_id") {
        Ok(p) => p.map(AssetId),
        Err((k, m)) => {
            errors.insert(k, vec![m]);
            None
        }
    };
    let cycle = match f
        .filled("ideal_cycle_secs")
        .map(|c| c.trim().parse::<f64>())
    {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => {
            errors.insert("ideal_cycle_secs".into(), vec!["must be a number".into()]);
            None
        }
    };
    let result = match (DomainError::check(errors), kind) {
        (Err(e), _) => Err(e),
        (Ok(()), None) => Err(DomainError::field(
            "kind",
            "must be one of the listed kinds",
        )),
        (Ok(()), Some(kind)) => {
            let input = NewAsset {
                code: f.text("code"),
                name: f.text("name"),
                kind,
                parent_id: parent,
                ideal_cycle_secs: cycle,
                is_active: Some(true),
            };
            state.services.shopfloor.create_asset(&form.me, input).await
        }
    };
    match result {
        Ok(a) => Ok(redirect(
            &state,
            "/assets",
            Flash::done(format!("Added {}.", a.code)),
        )),
        Err(e) => {
            let (status, errors, message) = failure(e)?;
            let sent: HashMap<&str, String> =
                ["code", "name", "kind", "parent_id", "ideal_cycle_secs"]
                    .into_iter()
                    .map(|k| (k, f.text(k)))
                    .collect();
            let assets = all_assets(&state, &ctx.me).await?;
            let markup = html! {
                (form_error(message.as_deref()))
                (asset_form(&ctx, &assets, &errors, &sent))
            };
            let body = assets_body(&state, &ctx, Some((markup, true))).await?;
            Ok((status, layout(&ctx, "Assets", body)).into_response())
        }
    }
}

/// The big "stopped" or "running again" panel of one asset, with its reason picker.
fn stop_panel(
    ctx: &Ctx,
    asset: &Asset,
    open: Option<DowntimeId>,
    reasons: &[DowntimeReason],
) -> Markup {
    let (action, verb) = match open {
        Some(id) => (format!("/downtime/{}/end", id.0), "Running again"),
        None => ("/downtime/stop".to_string(), "Stopped"),
    };
    html! {
        section #stop-panel .panel .stop-panel data-live="downtime,assets" {
            h2 { (asset.code) " " (asset.name) " " (state_badge(asset.state)) }
            form #stop-form method="post" action=(action) {
                (csrf_field(ctx))
                input type="hidden" name="asset_id" value=(asset.id.0);
                button.big .danger[open.is_none()] .primary[open.is_some()] type="submit" name="reason_id" value="" { (verb) }
                @if !reasons.is_empty() {
                    fieldset.reasons {
                        legend { @if open.is_some() { "…and why it stopped" } @else { "…or stopped because" } }
                        @for r in reasons {
                            button.big.reason type="submit" name="reason_id" value=(r.id.0) { (r.name) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /downtime`: the one-tap panel of `?asset=`, the asset picker, and the events.
pub async fn downtime(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let asset_id = query.id("asset").ok().flatten().map(AssetId);
    let assets = all_assets(&state, &ctx.me).await?;
    let chosen = match asset_id {
        Some(id) => Some(state.services.shopfloor.asset(&ctx.me, id).await?),
        None => None,
    };
    let events = state
        .services
        .shopfloor
        .downtimes(
            &ctx.me,
            asset_id,
            DowntimeFilter::default(),
            PageRequest {
                page: 1,
                page_size: 50,
            },
        )
        .await?;
    let open = match &chosen {
        Some(a) => state
            .services
            .shopfloor
            .downtimes(
                &ctx.me,
                None,
                DowntimeFilter {
                    assets: Some(vec![a.id]),
                    open: Some(true),
                    ..DowntimeFilter::default()
                },
                PageRequest {
                    page: 1,
                    page_size: 1,
                },
            )
            .await?
            .results
            .first()
            .map(|e| e.id),
        None => None,
    };
    let reasons = leaf_reasons(&state, &ctx.me).await?;
    let names: HashMap<AssetId, String> = assets.iter().map(|a| (a.id, a.code.clone())).collect();
    let reason_names: HashMap<ReasonId, String> = state
        .services
        .shopfloor
        .reasons(&ctx.me, first_page())
        .await?
        .results
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let csv = href(
        "/downtime/export.csv",
        &[(
            "asset",
            asset_id.map(|a| a.0.to_string()).unwrap_or_default(),
        )],
    );
    let body = html! {
        div.page-head { h1 { "Downtime" } a.button href=(csv) { "Export CSV" } }
        @if let Some(a) = &chosen { (stop_panel(&ctx, a, open, &reasons)) }
        nav.asset-picker aria-label="Assets" {
            @for a in assets.iter().filter(|a| matches!(a.kind, AssetKind::Machine | AssetKind::Workstation | AssetKind::Line)) {
                a.chip href=(format!("/downtime?asset={}", a.id.0)) aria-current=[(Some(a.id) == asset_id).then_some("page")] {
                    (a.code) " " (state_badge(a.state))
                }
            }
        }
        table #downtime-events .table data-live="downtime" {
            thead { tr { th { "Asset" } th { "Reason" } th { "Stopped" } th { "Running again" } th { "Note" } } }
            tbody {
                @if events.results.is_empty() { tr { td colspan="5" { (empty_state("No downtime.")) } } }
                @for e in &events.results {
                    tr data-version=(e.version) {
                        td { (names.get(&e.asset_id).cloned().unwrap_or_else(|| format!("#{}", e.asset_id))) }
                        td { (e.reason_id.and_then(|r| reason_names.get(&r).cloned()).unwrap_or_else(|| "Unclassified".into())) }
                        td { (when(&ctx.plant, e.started_at)) }
                        td { @match e.ended_at { Some(t) => (when(&ctx.plant, t)), None => strong { "still down" } } }
                        td { (e.note) }
                    }
                }
            }
        }
    };
    Ok(layout(&ctx, "Downtime", body).into_response())
}

fn reason_of(form: &UiForm) -> Option<ReasonId> {
    form.fields.id("reason_id").ok().flatten().map(ReasonId)
}

/// `POST /downtime/stop`: the asset stopped now.
pub async fn stop(State(state): State<AppState>, form: UiForm) -> Result<Response, UiError> {
    let asset = form.fields.id("asset_id").ok().flatten().map(AssetId);
    let back = href(
        "/downtime",
        &[("asset", asset.map(|a| a.0.to_string()).unwrap_or_default())],
    );
    let Some(asset) = asset else {
        return Ok(redirect(
            &state,
            "/downtime",
            Flash::refused("Choose an asset."),
        ));
    };
    let input = NewDowntime {
        asset_id: asset,
        reason_id: reason_of(&form),
        started_at: None,
        ended_at: None,
        note: String::new(),
    };
    match state
        .services
        .shopfloor
        .report_downtime(&form.me, input)
        .await
    {
        Ok(_) => Ok(redirect(&state, &back, Flash::done("Stopped."))),
        Err(e) => {
            let (_, _, message) = failure(e)?;
            Ok(redirect(
                &state,
                &back,
                Flash::refused(message.unwrap_or_default()),
            ))
        }
    }
}

/// `POST /downtime/{id}/end`: the asset runs again (classified if a reason was tapped).
pub async fn end(
    State(state): State<AppState>,
    crate::http::extract::PathId(id): crate::http::extract::PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    let asset = form.fields.id("asset_id").ok().flatten();
    let back = href(
        "/downtime",
        &[("asset", asset.map(|a| a.to_string()).unwrap_or_default())],
    );
    let input = EndDowntime {
        ended_at: None,
        reason_id: reason_of(&form),
    };
    match state
        .services
        .shopfloor
        .end_downtime(&form.me, DowntimeId(id), input)
        .await
    {
        Ok(_) => Ok(redirect(&state, &back, Flash::done("Running again."))),
        Err(e) => {
            let (_, _, message) = failure(e)?;
            Ok(redirect(
                &state,
                &back,
                Flash::refused(message.unwrap_or_default()),
            ))
        }
    }
}

fn csv(body: String, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /downtime/export.csv`.
pub async fn downtime_export(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let asset = query.id("asset").ok().flatten().map(AssetId);
    let text = state
        .services
        .shopfloor
        .downtime_csv(&ctx.me, asset, DowntimeFilter::default())
        .await?;
    Ok(csv(text, "downtime.csv"))
}

/// The OEE page's window: `?asset=&from=&to=` (plant-local dates; default the last 7 days).
struct Window {
    asset: Option<AssetId>,
    from: String,
    to: String,
}

fn window_of(ctx: &Ctx, query: &QueryMap) -> Window {
    let today = jiff::Timestamp::now().to_zoned(ctx.plant.tz.clone()).date();
    let date = |d: jiff::civil::Date| d.strftime("%Y-%m-%d").to_string();
    Window {
        asset: query.id("asset").ok().flatten().map(AssetId),
        from: query.get("from").map_or_else(
            || {
                date(
                    today
                        .checked_sub(jiff::Span::new().days(6))
                        .unwrap_or(today),
                )
            },
            str::to_string,
        ),
        to: query.get("to").map_or_else(|| date(today), str::to_string),
    }
}

/// A plant-local date's start, as a UTC time; `to` dates are inclusive, so their next day.
fn local_day(ctx: &Ctx, raw: &str, next: bool) -> Option<time::OffsetDateTime> {
    let d: jiff::civil::Date = raw.trim().parse().ok()?;
    let d = if next { d.tomorrow().ok()? } else { d };
    let z = d.to_zoned(ctx.plant.tz.clone()).ok()?;
    time::OffsetDateTime::from_unix_timestamp(z.timestamp().as_second()).ok()
}

async fn oee_rows(
    state: &AppState,
    ctx: &Ctx,
    w: &Window,
    group: Group,
) -> Result<Option<Vec<OeeRow>>, DomainError> {
    let (Some(asset), Some(from), Some(to)) = (
        w.asset,
        local_day(ctx, &w.from, false),
        local_day(ctx, &w.to, true),
    ) else {
        return Ok(None);
    };
    state
        .services
        .shopfloor
        .oee(
            &ctx.me,
            OeeQuery {
                asset,
                from,
                to,
                group,
            },
        )
        .await
        .map(Some)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{:.1} %", v * 100.0))
}

/// Four bars per bucket (A, P, Q, OEE), 0–100 % (performance above 100 % is drawn at 100 and
/// written as it is).
fn oee_chart(ctx: &Ctx, rows: &[OeeRow], title: &str) -> Markup {
    let (w, h, pad) = (640.0_f64, 220.0_f64, 28.0_f64);
    let n = rows.len().max(1) as f64;
    let slot = (w - pad) / n;
    let bar = (slot / 5.0).max(1.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{title}"><title>{title}</title>"#
    );
    for (i, pctl) in [0.0, 0.5, 1.0].iter().enumerate() {
        let y = h - pad - pctl * (h - 2.0 * pad);
        let _ = write!(
            svg,
            r#"<line x1="{pad}" x2="{w}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="0" y="{:.1}" class="axis">{}%</text>"#,
            y + 4.0,
            [0, 50, 100][i]
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let x0 = pad + i as f64 * slot + bar * 0.5;
        for (j, (v, class)) in [
            (r.availability, "a"),
            (r.performance, "p"),
            (r.quality, "q"),
            (r.oee, "oee"),
        ]
        .iter()
        .enumerate()
        {
            let v = v.unwrap_or(0.0).clamp(0.0, 1.0);
            let bh = v * (h - 2.0 * pad);
            let _ = write!(
                svg,
                r#"<rect class="bar {class}" x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}"/>"#,
                x0 + j as f64 * bar,
                h - pad - bh,
                bar * 0.9
            );
        }
        let label = local_text(&ctx.plant, r.from);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="axis">{}</text>"#,
            x0,
            h - 8.0,
            maud::html! { (label.get(5..16).unwrap_or(&label)) }.into_string()
        );
    }
    svg.push_str("</svg>");
    html! {
        figure.oee-chart {
            (PreEscaped(svg))
            figcaption.legend {
                span.key.a { "Availability" } span.key.p { "Performance" } span.key.q { "Quality" } span.key.oee { "OEE" }
            }
        }
    }
}

/// Horizontal bars of lost time by reason, the largest first.
fn pareto_chart(rows: &[ParetoRow]) -> Markup {
    let total: i64 = rows.iter().map(|r| r.seconds).sum();
    let most = rows.first().map_or(1, |r| r.seconds.max(1)) as f64;
    let (w, row_h) = (640.0_f64, 26.0_f64);
    let h = row_h * rows.len().max(1) as f64 + 8.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="Downtime by reason"><title>Downtime by reason</title>"#
    );
    let mut running = 0i64;
    for (i, r) in rows.iter().enumerate() {
        running += r.seconds;
        let y = 4.0 + i as f64 * row_h;
        let bw = (r.seconds as f64 / most) * (w - 260.0);
        let cumulative = if total > 0 {
            running as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let label = maud::html! { (r.name) }.into_string();
        let _ = write!(
            svg,
            r#"<text x="0" y="{:.1}" class="axis">{label}</text><rect class="bar loss" x="150" y="{y:.1}" width="{bw:.1}" height="{:.1}"/><text x="{:.1}" y="{:.1}" class="axis">{} min · {} · {cumulative:.0}%</text>"#,
            y + 16.0,
            row_h - 6.0,
            156.0 + bw,
            y + 16.0,
            r.seconds / 60,
            r.events
        );
    }
    svg.push_str("</svg>");
    html! { figure.pareto-chart { (PreEscaped(svg)) } }
}

fn oee_table(ctx: &Ctx, rows: &[OeeRow], id: &str) -> Markup {
    html! {
        table.table id=(id) {
            thead { tr { th { "From" } th { "To" } th.num { "Planned h" } th.num { "Down min" } th.num { "Units" } th.num { "Good" } th.num { "Availability" } th.num { "Performance" } th.num { "Quality" } th.num { "OEE" } } }
            tbody {
                @for r in rows {
                    tr {
                        td { (when(&ctx.plant, r.from)) }
                        td { (when(&ctx.plant, r.to)) }
                        td.num { (format!("{:.1}", r.planned_secs as f64 / 3600.0)) }
                        td.num { (r.downtime_secs / 60) }
                        td.num { (format!("{:.0}", r.total_count)) }
                        td.num { (format!("{:.0}", r.good_count)) }
                        td.num { (pct(r.availability)) }
                        td.num { (pct(r.performance)) }
                        td.num { (pct(r.quality)) }
                        td.num { strong { (pct(r.oee)) } }
                    }
                }
            }
        }
    }
}

/// `GET /oee`.
pub async fn oee(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let w = window_of(&ctx, &query);
    let assets = all_assets(&state, &ctx.me).await?;
    let asset_choices: Vec<(String, String)> = assets
        .iter()
        .map(|a| (a.id.0.to_string(), format!("{} {}", a.code, a.name)))
        .collect();
    let none = FieldErrors::new();
    let chosen = w.asset.map(|a| a.0.to_string()).unwrap_or_default();
    let mut error = None;
    let mut figures = None;
    match (
        oee_rows(&state, &ctx, &w, Group::Shift).await,
        oee_rows(&state, &ctx, &w, Group::Day).await,
    ) {
        (Ok(Some(shifts)), Ok(Some(days))) => {
            let pareto = match (
                w.asset,
                local_day(&ctx, &w.from, false),
                local_day(&ctx, &w.to, true),
            ) {
                (Some(a), Some(f), Some(t)) => {
                    state.services.shopfloor.pareto(&ctx.me, a, f, t).await?
                }
                _ => Vec::new(),
            };
            figures = Some((shifts, days, pareto));
        }
        (Err(e), _) | (_, Err(e)) => error = Some(failure(e)?.2.unwrap_or_default()),
        _ => {}
    }
    let params = [
        ("asset", chosen.clone()),
        ("from", w.from.clone()),
        ("to", w.to.clone()),
    ];
    let body = html! {
        div.page-head { h1 { "OEE" } }
        form #oee-filters .filters method="get" action="/oee" {
            (field("Asset", "asset", &none, select("asset", &asset_choices, &chosen, Some("Choose…"), &none)))
            (field("From", "from", &none, text_input("from", "date", &w.from, &none, false)))
            (field("To", "to", &none, text_input("to", "date", &w.to, &none, false)))
            button type="submit" { "Show" }
        }
        (form_error(error.as_deref()))
        @match &figures {
            None => { (empty_state("Choose an asset and the days to see its OEE.")) }
            Some((shifts, days, pareto)) => {
                section #oee-days data-live="downtime,production" {
                    h2 { "By day" }
                    (oee_chart(&ctx, days, "OEE by day"))
                    (oee_table(&ctx, days, "oee-day-table"))
                    p { a.button href=(href("/oee/export.csv", &params)) { "Export CSV" } }
                    h2 { "By shift" }
                    @if shifts.is_empty() { (empty_state("No shift in these days.")) } @else {
                        (oee_chart(&ctx, shifts, "OEE by shift"))
                        (oee_table(&ctx, shifts, "oee-shift-table"))
                    }
                    h2 { "Downtime by reason" }
                    @if pareto.is_empty() { (empty_state("No unplanned downtime.")) } @else { (pareto_chart(pareto)) }
                }
            }
        }
    };
    Ok(layout(&ctx, "OEE", body).into_response())
}

/// `GET /oee/export.csv`: the day table of the page.
pub async fn oee_export(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let w = window_of(&ctx, &query);
    let rows = oee_rows(&state, &ctx, &w, Group::Day)
        .await?
        .ok_or_else(UiError::not_found)?;
    Ok(csv(oee_csv(&rows), "oee.csv"))
}
