//! The REST edge: routes, extractors and error mapping (`ApiError`, the one
//! place store and access errors become HTTP answers). Handlers check access
//! through `access` and call `store`; they never hold hub locks across awaits.

pub(crate) mod admin;
pub mod console;
pub(crate) mod documents;
mod error;
pub(crate) mod explain;
mod extract;
pub(crate) mod operator;
mod ops;
pub mod prom;
mod ratelimit;
mod trace;

pub use error::ApiError;
pub use extract::{Caller, JsonBody};

use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Router;
use tower_http::cors::{AllowHeaders, Any, CorsLayer};

/// The REST routes (realtime transports add their own; `service` finishes the router).
pub fn routes(state: &AppState) -> Router<AppState> {
    let batch_limit = state.config.max_document_bytes.saturating_mul(8);
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/v1/collections", get(admin::list_collections))
        .route(
            "/v1/collections/{collection}",
            get(admin::get_collection)
                .put(admin::put_collection)
                .delete(admin::delete_collection),
        )
        .route(
            "/v1/collections/{collection}/documents",
            get(documents::list).post(documents::create),
        )
        .route(
            "/v1/collections/{collection}/documents/{id}",
            get(documents::get)
                .patch(documents::patch)
                .put(documents::replace)
                .delete(documents::delete),
        )
        .route(
            "/v1/collections/{collection}/batch",
            post(documents::batch).layer(DefaultBodyLimit::max(batch_limit)),
        )
        .route("/v1/rooms", get(admin::list_rooms))
        .route("/v1/rooms/{room}/broadcast", post(admin::room_broadcast))
        .route("/v1/users/{sub}/messages", post(admin::user_message))
        .route("/v1/broadcast", post(admin::broadcast_all))
        .route("/v1/room-rules", get(admin::get_room_rules).put(admin::put_room_rules))
        .route("/v1/rooms/{room}/members", get(operator::room_members))
        .route("/v1/connections", get(operator::list_connections))
        .route("/v1/connections/{id}", delete(operator::disconnect))
        .route("/v1/keys", get(operator::list_keys).post(operator::create_key))
        .route("/v1/keys/{id}", delete(operator::revoke_key))
        .route("/v1/explain", post(explain::explain_delivery))
        .route("/v1/console/stats", get(operator::stats))
        .merge(console::routes())
}

/// Finishes a router: JSON fallbacks, body limit, CORS, state.
pub fn service(routes: Router<AppState>, state: AppState) -> Router {
    // The limit is on the request body: the document plus its small JSON envelope.
    let body_limit = state.config.max_document_bytes + 1024;
    routes
        .fallback(|| async { ApiError::body(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::body(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            ratelimit::limiter(&state),
            ratelimit::limit,
        ))
        .layer(trace::layer())
        // Browsers do not let `*` cover Authorization, so allowed headers mirror the request.
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers(AllowHeaders::mirror_request())
                .expose_headers(Any),
        )
        .with_state(state)
}
