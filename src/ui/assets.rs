//! Static assets (CSS, script, icons) embedded in the binary and served under content-hashed
//! names: a changed file gets a new name, so each name can be cached for good.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "assets/"]
#[exclude = "vendor/*"]
struct Files;

struct Asset {
    bytes: &'static [u8],
    mime: &'static str,
    etag: HeaderValue,
}

struct Table {
    /// Logical name (`app.css`) → served name (`app.3f2a9c1b7e.css`).
    names: HashMap<String, String>,
    /// Served name → the file.
    files: HashMap<String, Asset>,
}

fn mime(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut names = HashMap::new();
        let mut files = HashMap::new();
        for name in Files::iter() {
            let Some(file) = Files::get(&name) else {
                continue;
            };
            let hash: String = file
                .metadata
                .sha256_hash()
                .iter()
                .take(5)
                .map(|b| format!("{b:02x}"))
                .collect();
            let served = match name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
                None => format!("{name}.{hash}"),
            };
            // Embedded in release builds (and in debug with `debug-embed`), so the bytes live
            // as long as the program; leaking the rare owned copy keeps one type for both.
            let bytes: &'static [u8] = match file.data {
                std::borrow::Cow::Borrowed(b) => b,
                std::borrow::Cow::Owned(v) => Box::leak(v.into_boxed_slice()),
            };
            let etag = HeaderValue::from_str(&format!("\"{hash}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
            files.insert(
                served.clone(),
                Asset {
                    bytes,
                    mime: mime(&name),
                    etag,
                },
            );
            names.insert(name.to_string(), served);
        }
        Table { names, files }
    })
}

/// The URL of the asset `name` (e.g. `app.css`), with its content hash in it.
pub fn url(name: &str) -> String {
    match table().names.get(name) {
        Some(served) => format!("/assets/{served}"),
        None => format!("/assets/{name}"),
    }
}

/// `GET /assets/{file}`: the file, cached for a year as immutable; `304` for a matching
/// `If-None-Match`.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = table().files.get(&file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == asset.etag)
    {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, asset.etag.clone()),
                (header::CACHE_CONTROL, cache),
            ],
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.mime)),
            (header::ETAG, asset.etag.clone()),
            (header::CACHE_CONTROL, cache),
        ],
        asset.bytes,
    )
        .into_response()
}
