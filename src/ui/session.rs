//! Web sessions: the session cookie, the signed-in caller of a page, cross-site refusals,
//! flash messages, and the page context every layout needs.
//!
//! The cookie carries a signed web-session token (`AuthService::login_web`) naming a server-side
//! session like a token pair's, so logout, password changes and deactivation end it at once.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ErrorPage, UiError};
use crate::domain::machine_key::KeyUse;
use crate::http::AppState;
use crate::service::Principal;
use crate::service::auth::WebCookie;
use crate::service::pagination::PageRequest;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "nexus_session";
/// A wall screen's cookie: the secret of the `display` machine key it signed in with (see
/// `/login`), for the pages a key may show.
pub const KEY_COOKIE: &str = "nexus_key";
/// A one-shot message shown on the page after a redirect.
const FLASH_COOKIE: &str = "nexus_flash";

/// What every page shows about the plant, and how cookies are set.
#[derive(Debug)]
pub struct Plant {
    /// Shown in the top bar and titles.
    pub name: String,
    /// Times are shown in this zone.
    pub tz: jiff::tz::TimeZone,
    /// Mark cookies `Secure` (served over TLS).
    pub secure_cookies: bool,
}

/// The signed-in caller, put on the request by `web_session`.
#[derive(Clone)]
pub struct SignedIn(pub Principal);

/// A value of the `Cookie` header(s).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The caller of a live-channel request made with the session cookie (`/ws/`,
/// `/api/events/`), or `None` when it carries no valid one.
pub async fn cookie_principal(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<String>,
) -> Option<Principal> {
    let value = cookie(headers, SESSION_COOKIE)?;
    let (principal, _) = state.services.auth.authenticate_web(value, ip).await.ok()?;
    Some(principal)
}

/// A `Set-Cookie` value for the session cookie.
pub fn session_cookie(plant: &Plant, web: &WebCookie) -> HeaderValue {
    set_cookie(plant, SESSION_COOKIE, &web.value, web.max_age_secs)
}

/// A `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(plant: &Plant) -> HeaderValue {
    set_cookie(plant, SESSION_COOKIE, "", 0)
}

fn set_cookie(plant: &Plant, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if plant.secure_cookies { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether a state-changing request comes from another site. Browsers that send
/// `Sec-Fetch-Site` are believed: only `same-origin` (our own pages) and `none` (the user's own
/// navigation) pass. Others are judged by `Origin`, where present: it must be this server.
/// (Under `Referrer-Policy: no-referrer` Chromium sends `Origin: null` even on same-origin form
/// posts, so `null` alone cannot tell; `Sec-Fetch-Site` does.)
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map_or("", |(_, rest)| rest.trim_end_matches('/'));
    origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host)
}

/// The web UI's session layer: refuses cross-site state changes, resolves the session cookie
/// (renewing it while used, removing it when dead), and draws error pages in the layout.
pub async fn web_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if !safe && is_cross_site(request.headers()) {
        let page = ErrorPage::new(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form was sent from another site, so it was not accepted.",
        );
        return page.render(None, &state).await;
    }
    let ip = state
        .client_addr
        .client_ip(request.headers(), request.extensions())
        .map(|ip| ip.to_string());
    let mut renewed = None;
    let mut clear = false;
    let mut clear_key = false;
    if let Some(value) = cookie(request.headers(), SESSION_COOKIE).map(str::to_string) {
        match state.services.auth.authenticate_web(&value, ip).await {
            Ok((principal, fresh)) => {
                renewed = fresh;
                request.extensions_mut().insert(SignedIn(principal));
            }
            Err(_) => clear = true,
        }
    } else if let Some(secret) = cookie(request.headers(), KEY_COOKIE).map(str::to_string) {
        match state.services.keys.authenticate(&secret, ip).await {
            Ok(principal) if principal.may(KeyUse::Live).is_ok() => {
                if !key_may_open(request.method(), request.uri().path()) {
                    let page = ErrorPage::new(
                        StatusCode::FORBIDDEN,
                        "Not on a wall screen",
                        "This screen is signed in with a display key, which shows only the \
                         andon board, assets and OEE.",
                    );
                    return page.render(None, &state).await;
                }
                request.extensions_mut().insert(SignedIn(principal));
            }
            // Revoked, or no longer a display key: the screen signs in again.
            _ => clear_key = true,
        }
    }
    let had_flash = cookie(request.headers(), FLASH_COOKIE).is_some();
    let signed_in = request.extensions().get::<SignedIn>().cloned();
    let path = super::path_and_query(&request);
    let mut response = next.run(request).await;
    if let Some(page) = response.extensions_mut().remove::<ErrorPage>() {
        let ctx = match &signed_in {
            Some(SignedIn(me)) => Ctx::load(&state, me.clone(), path, None).await.ok(),
            None => None,
        };
        response = page.render(ctx.as_ref(), &state).await;
    }
    let redirect = response.status().is_redirection();
    let sets_flash = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(FLASH_COOKIE.as_bytes()));
    let sets_session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(SESSION_COOKIE.as_bytes()));
    let headers = response.headers_mut();
    if had_flash && !redirect && !sets_flash {
        headers.append(
            header::SET_COOKIE,
            set_cookie(&state.plant, FLASH_COOKIE, "", 0),
        );
    }
    if sets_session {
        // The handler signed in or out; its cookie stands.
    } else if let Some(web) = renewed {
        headers.append(header::SET_COOKIE, session_cookie(&state.plant, &web));
    } else if clear {
        headers.append(header::SET_COOKIE, clear_session_cookie(&state.plant));
    }
    if clear_key {
        headers.append(header::SET_COOKIE, clear_key_cookie(&state.plant));
    }
    response
}

/// The pages a wall screen signed in with a display key may open: the live boards, read only.
/// Everything else (chat, forms, administration) is a person's.
fn key_may_open(method: &Method, path: &str) -> bool {
    const WALL_PAGES: [&str; 3] = ["/andon", "/assets", "/oee"];
    let path = path.trim_end_matches('/');
    matches!(*method, Method::GET | Method::HEAD) && WALL_PAGES.contains(&path)
}

/// A `Set-Cookie` value for a wall screen's key cookie: a year, as a screen is set up once.
pub fn key_cookie(plant: &Plant, secret: &str) -> HeaderValue {
    set_cookie(plant, KEY_COOKIE, secret, 365 * 86_400)
}

/// A `Set-Cookie` value that removes the key cookie.
pub fn clear_key_cookie(plant: &Plant) -> HeaderValue {
    set_cookie(plant, KEY_COOKIE, "", 0)
}

/// How a flash message reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashKind {
    /// Something was done.
    Done,
    /// Something was refused; the message says why.
    Refused,
}

/// A one-shot message for the next page.
#[derive(Clone, Debug)]
pub struct Flash {
    /// Done or refused.
    pub kind: FlashKind,
    /// For people.
    pub message: String,
}

impl Flash {
    /// "Done" news for the next page.
    pub fn done(message: impl Into<String>) -> Option<Flash> {
        Some(Flash {
            kind: FlashKind::Done,
            message: message.into(),
        })
    }

    /// A refusal, with its reason, for the next page.
    pub fn refused(message: impl Into<String>) -> Option<Flash> {
        Some(Flash {
            kind: FlashKind::Refused,
            message: message.into(),
        })
    }

    fn encode(&self) -> String {
        let kind = match self.kind {
            FlashKind::Done => 'd',
            FlashKind::Refused => 'r',
        };
        let message: String = self.message.chars().take(400).collect();
        let mut out = String::with_capacity(message.len() * 3 + 2);
        out.push(kind);
        out.push('.');
        for byte in message.bytes() {
            if byte.is_ascii_alphanumeric() {
                out.push(byte as char);
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        out
    }

    fn decode(raw: &str) -> Option<Flash> {
        let (kind, rest) = raw.split_once('.')?;
        let kind = match kind {
            "d" => FlashKind::Done,
            "r" => FlashKind::Refused,
            _ => return None,
        };
        let mut bytes = Vec::with_capacity(rest.len());
        let mut input = rest.bytes();
        while let Some(b) = input.next() {
            if b == b'%' {
                let hi = input.next()?;
                let lo = input.next()?;
                let hex = [hi, lo];
                let text = std::str::from_utf8(&hex).ok()?;
                bytes.push(u8::from_str_radix(text, 16).ok()?);
            } else {
                bytes.push(b);
            }
        }
        Some(Flash {
            kind,
            message: String::from_utf8(bytes).ok()?,
        })
    }
}

/// A `303 See Other` to `to`, with an optional flash message for the page it leads to.
pub fn redirect(state: &AppState, to: &str, flash: Option<Flash>) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/")),
        )],
    )
        .into_response();
    if let Some(flash) = flash {
        let value = set_cookie(&state.plant, FLASH_COOKIE, &flash.encode(), 60);
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// What every signed-in page needs: the caller, the CSRF token for its forms, the unread
/// notification count for the bell, where it is, and the plant.
pub struct Ctx {
    /// The signed-in caller.
    pub me: Principal,
    /// The CSRF token of the caller's session.
    pub csrf: String,
    /// Unread notifications.
    pub unread: usize,
    /// The request's path and query.
    pub path: String,
    /// The plant.
    pub plant: Arc<Plant>,
    /// A message left by the previous request.
    pub flash: Option<Flash>,
}

impl Ctx {
    /// The context for `me` on `path`.
    pub async fn load(
        state: &AppState,
        me: Principal,
        path: String,
        flash: Option<Flash>,
    ) -> Result<Ctx, UiError> {
        let count_only = PageRequest {
            page: 1,
            page_size: 1,
        };
        let unread = state
            .services
            .updates
            .notifications(&me, true, count_only)
            .await?
            .count;
        Ok(Ctx {
            csrf: state.services.auth.csrf_token(&me),
            me,
            unread,
            path,
            plant: state.plant.clone(),
            flash,
        })
    }

    /// Whether the caller is an admin or staff.
    pub fn is_staff(&self) -> bool {
        matches!(
            self.me.user.role,
            crate::domain::user::Role::Admin | crate::domain::user::Role::Staff
        )
    }

    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.me.user.role == crate::domain::user::Role::Admin
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Ctx, UiError> {
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), |pq| pq.as_str().to_string());
        let Some(SignedIn(me)) = parts.extensions.get::<SignedIn>().cloned() else {
            return Err(UiError::SignIn { next: path });
        };
        let flash = cookie(&parts.headers, FLASH_COOKIE).and_then(Flash::decode);
        Ctx::load(state, me, path, flash).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flash_survives_its_cookie_encoding() {
        for message in ["moved to In progress", "a; b=c, \"d\" <e> ü ‼ %41", ""] {
            let flash = Flash {
                kind: FlashKind::Refused,
                message: message.into(),
            };
            let encoded = flash.encode();
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'%' || b == b'.'),
                "{encoded}"
            );
            let back = Flash::decode(&encoded).expect("decodes");
            assert_eq!(back.message, message);
            assert_eq!(back.kind, FlashKind::Refused);
        }
        assert!(Flash::decode("x.abc").is_none());
        assert!(Flash::decode("d.%4").is_none());
    }

    #[test]
    fn foreign_origins_and_cross_site_fetches_are_cross_site() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!is_cross_site(&headers), "no Origin: a plain form post");
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!is_cross_site(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(is_cross_site(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(is_cross_site(&headers));
        headers.remove(header::ORIGIN);
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(is_cross_site(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(is_cross_site(&headers), "a sibling site is another origin");
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!is_cross_site(&headers));
        // What Chromium sends for our own form under `Referrer-Policy: no-referrer`.
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!is_cross_site(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(
            is_cross_site(&headers),
            "the browser's word wins over a forged Origin"
        );
    }
}
