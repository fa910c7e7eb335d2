//! Server-sent events: a one-way transport carrying one subscription per
//! HTTP stream, resumable with `Last-Event-ID`. The subscription itself is the
//! same `realtime::Client` as on a WebSocket; only refusals before the stream
//! starts are answered as HTTP errors instead of protocol messages.

mod transport;

use crate::http::ApiError;
use crate::protocol::{ErrorCode, SubscribeMsg};
use crate::realtime::{Client, Refusal, TransportKind};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;
use std::convert::Infallible;
use tokio::sync::mpsc;
use transport::SseTransport;

/// Events buffered between the connection's task and the HTTP body; the
/// connection's byte-bounded queue is the real buffer, this only hands over.
const STREAM_BUFFER: usize = 2;

/// The SSE route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/realtime/sse", get(stream))
}

/// `GET /realtime/sse`.
async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    remote: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let remote = remote.map(|axum::Extension(axum::extract::ConnectInfo(a))| a);
    match start(state, headers, q, remote).await {
        Ok(r) => r,
        Err(r) => r,
    }
}

async fn start(
    state: AppState,
    headers: HeaderMap,
    q: HashMap<String, String>,
    remote: Option<std::net::SocketAddr>,
) -> Result<Response, Response> {
    if !state.access.origin_allowed(&headers) {
        return Err(ApiError::Forbidden("origin not allowed".into()).into_response());
    }
    let who = state
        .access
        .require(&headers, q.get("token").map(String::as_str))
        .map_err(|e| ApiError::from(e).into_response())?;
    let msg = request(&headers, &q).map_err(IntoResponse::into_response)?;
    let permit = state
        .slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Unavailable("too many connections".into()).into_response())?;
    let (mut client, rx) = Client::new(state.clone(), TransportKind::Sse, Some(who));
    if let Some(addr) = remote {
        client.set_remote(addr);
    }
    let prepared = client.prepare(msg).await.map_err(refused)?;
    let (out, out_rx) = mpsc::channel::<Event>(STREAM_BUFFER);
    state.tracker.spawn(async move {
        let mut t = SseTransport::new(out);
        if client.start(&mut t, prepared, None).await.is_ok() {
            client.run(&mut t, rx).await;
        }
        drop(permit);
    });
    let body = futures_util::stream::unfold(out_rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Ok(Sse::new(body)
        .keep_alive(
            KeepAlive::new()
                .interval(state.config.heartbeat_interval)
                .text("keepalive"),
        )
        .into_response())
}

/// The subscription an SSE request asks for.
fn request(headers: &HeaderMap, q: &HashMap<String, String>) -> Result<SubscribeMsg, ApiError> {
    let collection = q
        .get("collection")
        .cloned()
        .ok_or_else(|| ApiError::BadRequest("collection is required".into()))?;
    let mut msg = SubscribeMsg::new("sse", collection);
    if let Some(f) = q.get("filters") {
        let v: Value =
            serde_json::from_str(f).map_err(|e| ApiError::BadRequest(format!("filters must be JSON: {e}")))?;
        msg.filters = Some(v);
    }
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(s) = last_id.or_else(|| q.get("since").cloned()) {
        let since = s
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::BadRequest("since/Last-Event-ID must be a seq".into()))?;
        msg.since = Some(since);
    }
    // A resume never repeats the snapshot.
    msg.snapshot = msg.since.is_none() && q.get("snapshot").is_some_and(|v| v == "true" || v == "1");
    if let Some(l) = q.get("limit") {
        let limit = l
            .parse::<i64>()
            .map_err(|_| ApiError::BadRequest(format!("invalid limit {l:?}: expected 1 to 1000")))?;
        msg.limit = Some(limit);
    }
    msg.sort = q.get("sort").cloned();
    Ok(msg)
}

/// A refused subscription as an HTTP error.
fn refused(r: Refusal) -> Response {
    let status = match r.code {
        ErrorCode::Unauthorized | ErrorCode::TokenExpired => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::LimitExceeded | ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::body(status, r.code.as_str(), &r.message)
}
