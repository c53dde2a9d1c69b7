//! `/admin/keys`: machine keys for PLC gateways and wall screens (admin). A new key's secret is
//! shown on the page that created it, once; revoking takes effect at once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use crate::domain::machine_key::{KeyScope, MachineKey};
use crate::domain::{DomainError, FieldErrors, KeyId};
use crate::http::AppState;
use crate::http::extract::{PathId, QueryMap};
use crate::service::machine_keys::NewKeyInput;
use crate::ui::components::{
    csrf_field, empty_state, field, form_error, layout, pager, text_input, when,
};
use crate::ui::error::UiError;
use crate::ui::form::{Fields, UiForm};
use crate::ui::session::{Ctx, Flash, redirect};

fn create_form(ctx: &Ctx, sent: Option<&Fields>, errors: &FieldErrors) -> Markup {
    let name = sent.map(|f| f.text("name")).unwrap_or_default();
    let checked =
        |scope: KeyScope| sent.is_some_and(|f| f.all("scope").any(|v| v == scope.as_str()));
    html! {
        details.create open[!errors.is_empty()] {
            summary.button { "New key" }
            form #create-key .stacked method="post" action="/admin/keys" novalidate {
                (csrf_field(ctx))
                (field("Name (what it is for)", "name", errors, text_input("name", "text", &name, errors, true)))
                fieldset #scopes {
                    legend { "Scopes" }
                    @for scope in KeyScope::ALL.iter().copied() {
                        label.check {
                            input type="checkbox" name="scope" value=(scope.as_str()) checked[checked(scope)];
                            " " (scope.label()) " — " (scope_help(scope))
                        }
                    }
                    @if let Some(messages) = errors.get("scopes") { p.field-error { (messages.join(", ")) } }
                }
                button.primary type="submit" { "Create key" }
            }
        }
    }
}

fn scope_help(scope: KeyScope) -> &'static str {
    match scope {
        KeyScope::Read => "read what any user may, chat aside",
        KeyScope::Report => "report downtime, production counts and andon calls",
        KeyScope::Display => "read and follow live: for wall screens (/andon)",
    }
}

fn scopes_text(key: &MachineKey) -> String {
    key.scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn body(
    state: &AppState,
    ctx: &Ctx,
    query: &QueryMap,
    top: Markup,
) -> Result<Markup, UiError> {
    let request = query.page().map_err(|_| UiError::not_found())?;
    let page = state.services.keys.list(&ctx.me, request).await?;
    Ok(html! {
        div.page-head { h1 { "Machine keys" } }
        p.muted { "A key lets a PLC gateway report, or a wall screen show the andon board, without a person's password. Send it as " code { "Authorization: Bearer nxk_…" } "." }
        (top)
        @if page.results.is_empty() { (empty_state("No machine keys yet.")) }
        @else {
            table #key-table .data {
                thead { tr { th scope="col" { "Key" } th scope="col" { "Scopes" } th scope="col" { "Created" } th scope="col" { "Last used" } th scope="col" { "State" } } }
                tbody {
                    @for k in &page.results {
                        tr data-key-id=(k.id.0) {
                            td data-label="Key" { (k.name) }
                            td data-label="Scopes" { (scopes_text(k)) }
                            td data-label="Created" { (when(&ctx.plant, k.created_at)) }
                            td data-label="Last used" {
                                @match k.last_used_at { Some(t) => (when(&ctx.plant, t)), None => span.muted { "never" } }
                            }
                            td data-label="State" {
                                @match k.revoked_at {
                                    Some(t) => { span.badge.status-cancelled { "Revoked" } " " (when(&ctx.plant, t)) }
                                    None => {
                                        form.inline method="post" action=(format!("/admin/keys/{}/revoke", k.id.0)) {
                                            (csrf_field(ctx))
                                            span.badge.status-completed { "Active" } " "
                                            button.danger type="submit" aria-label=(format!("Revoke {}", k.name)) { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (pager("/admin/keys", &[], request.page, request.page_size, page.count))
    })
}

/// `GET /admin/keys`.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
) -> Result<Response, UiError> {
    let top = create_form(&ctx, None, &FieldErrors::new());
    let body = body(&state, &ctx, &query, top).await?;
    Ok(layout(&ctx, "Machine keys", body).into_response())
}

/// `POST /admin/keys`: creates a key and shows its secret, this once.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    query: QueryMap,
    form: UiForm,
) -> Result<Response, UiError> {
    let f = &form.fields;
    let mut scopes = Vec::new();
    for raw in f.all("scope") {
        match KeyScope::parse(raw) {
            Some(scope) => scopes.push(scope),
            None => {
                return Err(DomainError::field(
                    "scopes",
                    format!("must be some of {}", KeyScope::choices()),
                )
                .into());
            }
        }
    }
    let input = NewKeyInput {
        name: f.text("name"),
        scopes,
    };
    match state.services.keys.create(&form.me, input).await {
        Ok((key, secret)) => {
            let top = html! {
                section #new-key-secret .notice role="status" {
                    h2 { "Key “" (key.name) "” created" }
                    p { "Copy the secret now: it is shown only this once and cannot be recovered." }
                    p { code #secret { (secret) } }
                }
                (create_form(&ctx, None, &FieldErrors::new()))
            };
            let body = body(&state, &ctx, &query, top).await?;
            Ok((StatusCode::CREATED, layout(&ctx, "Machine keys", body)).into_response())
        }
        Err(DomainError::Validation { fields, .. }) => {
            let top = html! {
                (form_error(Some("Some fields need attention.")))
                (create_form(&ctx, Some(f), &fields))
            };
            let body = body(&state, &ctx, &query, top).await?;
            Ok((StatusCode::BAD_REQUEST, layout(&ctx, "Machine keys", body)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /admin/keys/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    PathId(id): PathId,
    form: UiForm,
) -> Result<Response, UiError> {
    state.services.keys.revoke(&form.me, KeyId(id)).await?;
    Ok(redirect(
        &state,
        "/admin/keys",
        Flash::done("Revoked. The key is refused from now on."),
    ))
}
