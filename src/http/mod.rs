//! The REST edge: routes, extractors and error mapping. Handlers check access
//! rules and call `store`; they never hold hub locks across awaits.

mod admin;
mod documents;
mod error;
mod extract;
pub mod openapi;
mod ops;
pub mod prom;
mod ratelimit;
mod trace;

pub use error::ApiError;
pub use extract::{bearer_token, Caller, JsonBody};

use crate::app::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use tower_http::cors::{AllowHeaders, Any, CorsLayer};

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    // The limit is on the request body: the document plus its small JSON envelope.
    let body_limit = state.config.max_document_bytes + 1024;
    let batch_limit = state.config.max_document_bytes.saturating_mul(8);
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/v1/openapi.json", get(openapi::openapi))
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
        .route("/realtime", get(crate::ws::upgrade))
        .route("/realtime/sse", get(crate::sse::stream))
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

/// Validates a collection name.
pub fn check_collection(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "invalid collection name {name:?}: 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit"
        )))
    }
}

pub use documents::owner_scope;

/// A collection's rules for reading (never creates the collection).
pub async fn documents_rules(
    state: &AppState,
    name: &str,
    who: &crate::auth::Identity,
) -> Result<std::sync::Arc<crate::auth::CollectionRules>, ApiError> {
    documents::rules_for(state, name, who, false).await
}
