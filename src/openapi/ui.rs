//! `/docs`: the API reference page, Swagger UI on `/v1/openapi.json`. The viewer
//! is vendored in `docs-ui/` and compiled into the binary, so the page works
//! offline and loads nothing from another origin (the CSP forbids it anyway).

use crate::http::ApiError;
use crate::state::AppState;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The reference page's Content-Security-Policy: everything from this origin only, no inline code.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; \
img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Every embedded file: name under `/docs/`, content type, bytes.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../docs-ui/index.html"),
    ),
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../docs-ui/init.js"),
    ),
    (
        "docs.css",
        "text/css; charset=utf-8",
        include_bytes!("../../docs-ui/docs.css"),
    ),
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../docs-ui/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../../docs-ui/swagger-ui.css"),
    ),
];

/// `/docs` and `/docs/{asset}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/docs", get(|| async { asset("index.html") }))
        .route(
            "/docs/{asset}",
            get(|Path(name): Path<String>| async move { asset(&name) }),
        )
}

fn asset(name: &str) -> Response {
    let mut r = match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ty, body)) => ([(header::CONTENT_TYPE, *ty)], *body).into_response(),
        None => ApiError::body(StatusCode::NOT_FOUND, "not_found", "no such file of the reference page"),
    };
    crate::http::console::embedded_headers(&mut r, CSP);
    r
}
