//! The web UI: `/` serves `master/ui/index.html` and `/ui/{file}` its scripts, stylesheet and
//! icon, all compiled into the binary, so the UI works with no network beyond the master.
//!
//! The file names carry no content hash, so every answer says `Cache-Control: no-cache`: the
//! browser revalidates with the `ETag` (a hash of the bytes) and gets a 304 when nothing
//! changed, and never mixes an old script with a new page after an upgrade. The page's
//! Content-Security-Policy lets it load and connect to this origin only.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One file of the UI.
#[derive(Debug)]
pub(crate) struct Asset {
    /// Its name under `/ui/` (the page itself is `index.html`, served at `/`).
    pub(crate) name: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) body: &'static [u8],
    etag: u64,
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! asset {
    ($name:literal, $content_type:expr) => {{
        const BODY: &[u8] = include_bytes!(concat!("../../ui/", $name));
        Asset {
            name: $name,
            content_type: $content_type,
            body: BODY,
            etag: fnv1a(BODY),
        }
    }};
}

/// Every file in `master/ui/`.
pub(crate) const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("charts.js", JS),
    asset!("format.js", JS),
    asset!("live.js", JS),
    asset!("logs.js", JS),
    asset!("pages.js", JS),
    asset!("tasks.js", JS),
];

/// The page may load scripts, styles and images from this origin and talk to it (`/events`,
/// `/files/read`); nothing else. Inline `style` attributes draw the bars.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'";

/// `/` and `/ui/{file}`.
pub(crate) fn routes() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/ui/{file}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(asset) => serve(asset, &headers),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match find(&name) {
        Some(asset) => serve(asset, &headers),
        None => (StatusCode::NOT_FOUND, "no such UI file\n").into_response(),
    }
}

pub(crate) fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", asset.etag);
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if asset.name == "index.html" {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}

/// FNV-1a: a stable fingerprint of an asset for its `ETag`, computed at compile time.
const fn fnv1a(mut bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    while let [byte, rest @ ..] = bytes {
        hash ^= *byte as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        bytes = rest;
    }
    hash
}

#[cfg(test)]
#[path = "ui_tests.rs"]
mod tests;
