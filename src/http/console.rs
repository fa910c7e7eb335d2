//! The web console: static files from `console/`, embedded at compile time so
//! a plain `cargo build` serves a working console (no build step, no network).
//! Every answer carries a strict Content-Security-Policy: scripts and styles
//! only from this origin, no inline code, no framing.

use super::ApiError;
use crate::state::AppState;
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The console's Content-Security-Policy.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; \
img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Every embedded file: name under `/console/`, content type, bytes.
pub const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../console/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/dom.js"),
    ),
    (
        "collections.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/collections.js"),
    ),
    (
        "tail.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/tail.js"),
    ),
    (
        "explain.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/explain.js"),
    ),
    (
        "connections.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/connections.js"),
    ),
    (
        "rooms.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/rooms.js"),
    ),
    (
        "keys.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/keys.js"),
    ),
    (
        "metrics.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/metrics.js"),
    ),
];

/// `/console`, `/console/` and `/console/{asset}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { asset("index.html") }))
        .route("/console/", get(|| async { asset("index.html") }))
        .route(
            "/console/{asset}",
            get(|Path(name): Path<String>| async move { asset(&name) }),
        )
}

fn asset(name: &str) -> Response {
    let Some((_, ty, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        let mut r = ApiError::body(StatusCode::NOT_FOUND, "not_found", "no such console file");
        secure(&mut r);
        return r;
    };
    let mut r = ([(header::CONTENT_TYPE, *ty)], *body).into_response();
    secure(&mut r);
    r
}

fn secure(r: &mut Response) {
    embedded_headers(r, CSP);
}

/// Headers of a page embedded in the binary (console, `/docs`): its CSP, no sniffing,
/// no framing, no referrer, revalidate on every load.
pub fn embedded_headers(r: &mut Response, csp: &'static str) {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}
