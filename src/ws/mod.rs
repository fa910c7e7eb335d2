//! WebSocket transport: the upgrade (origin, connection limit, handshake token)
//! and the per-connection session in `session`.

mod limits;
mod session;

use crate::app::AppState;
use crate::auth::Identity;
use crate::http::{bearer_token, ApiError};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// Checks the `Origin` header against the allow-list (empty list: any).
pub fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let allowed = state.config.origins();
    if allowed.is_empty() {
        return true;
    }
    match headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => allowed.iter().any(|a| a == origin || a == "*"),
        // Non-browser clients send no Origin; the allow-list guards browsers.
        None => true,
    }
}

/// Authenticates a token given at the handshake, if any.
pub fn handshake_identity(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Option<Identity>, ApiError> {
    let token = query.get("token").cloned().or_else(|| bearer_token(headers));
    match token {
        Some(t) => Ok(Some(state.auth.authenticate(&t)?)),
        None => Ok(None),
    }
}

/// `GET /realtime`: upgrades to a WebSocket session.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return ApiError::body(e.status(), "invalid_request", &e.body_text()),
    };
    if !origin_allowed(&state, &headers) {
        return ApiError::body(StatusCode::FORBIDDEN, "forbidden", "origin not allowed");
    }
    if state.shutdown.is_cancelled() {
        return ApiError::body(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "server is shutting down",
        );
    }
    let Ok(permit) = state.slots.clone().try_acquire_owned() else {
        return ApiError::body(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "too many connections");
    };
    let identity = match handshake_identity(&state, &headers, &query) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    // The protocol limit is checked per message in the session, so an oversized
    // message is read whole and answered; the transport cap only stops abuse.
    let max = state.config.max_message_bytes.saturating_mul(4);
    let tracker = state.tracker.clone();
    ws.read_buffer_size(1024)
        .write_buffer_size(4096)
        .max_write_buffer_size(max.max(1 << 20) * 4)
        .max_message_size(max)
        .max_frame_size(max)
        // Runs in the task axum spawned for the upgrade: no second task per connection.
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                session::run(socket, state, identity).await;
                drop(permit);
            })
        })
}
