//! REST resources, one module each: routes, request/response shapes and handlers.

pub mod activities;
pub mod admin;
pub mod andon;
pub mod audit;
pub mod auth;
pub mod chat;
pub mod handovers;
pub mod keys;
pub mod projects;
pub mod search;
pub mod shopfloor;
pub mod updates;
pub mod users;

use serde::Serialize;

use crate::service::pagination::Page;

/// The list envelope of API.md §Lists.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ListBody<T: Serialize> {
    /// Matches across all pages.
    pub count: usize,
    /// Link to the next page, or `null`.
    #[schema(required = true)]
    pub next: Option<String>,
    /// Link to the previous page, or `null`.
    #[schema(required = true)]
    pub previous: Option<String>,
    /// This page.
    pub results: Vec<T>,
}

impl<T: Serialize> ListBody<T> {
    /// Shapes `page` for `path`, keeping the other query parameters in the links.
    pub fn new(
        page: Page<T>,
        path: &str,
        query: &std::collections::HashMap<String, String>,
    ) -> Self {
        let link = |number: usize| {
            let mut params: Vec<(&str, String)> = query
                .iter()
                .filter(|(k, _)| k.as_str() != "page" && k.as_str() != "page_size")
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            params.sort();
            params.push(("page", number.to_string()));
            params.push(("page_size", page.request.page_size.to_string()));
            let encoded: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            format!("{path}?{}", encoded.join("&"))
        };
        Self {
            count: page.count,
            next: page.has_next().then(|| link(page.request.page + 1)),
            previous: page.has_previous().then(|| link(page.request.page - 1)),
            results: page.results,
        }
    }
}

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
