//! WebSocket transport: the upgrade (origin, connection slots, handshake
//! credential, buffer sizes) and `WsTransport`, which moves frames between the
//! socket and the connection's `realtime::Client`.

mod transport;

use crate::http::ApiError;
use crate::realtime::{Client, TransportKind};
use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use transport::WsTransport;

/// The WebSocket route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/realtime", get(upgrade))
}

/// `GET /realtime`: upgrades to a WebSocket connection.
async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    remote: Option<axum::Extension<ConnectInfo<std::net::SocketAddr>>>,
    Query(query): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return ApiError::body(e.status(), "invalid_request", &e.body_text()),
    };
    if !state.access.origin_allowed(&headers) {
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
    let identity = match state.access.identify(&headers, query.get("token").map(String::as_str)) {
        Ok(i) => i,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // The protocol limit is checked per message by the client, so an oversized
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
                let mut t = WsTransport::new(socket);
                let (mut client, rx) = Client::new(state, TransportKind::WebSocket, identity);
                if let Some(axum::Extension(ConnectInfo(addr))) = remote {
                    client.set_remote(addr);
                }
                if client.greet(&mut t).await.is_ok() {
                    client.run(&mut t, rx).await;
                }
                drop(permit);
            })
        })
}
