//! Server-sent events: one subscription per HTTP stream, resumable with
//! `Last-Event-ID`. Same matching, ordering and replay rules as WebSocket.

use crate::app::AppState;
use crate::auth::Identity;
use crate::feed::{GoLive, Step};
use crate::http::{documents_rules, owner_scope, ApiError};
use crate::hub::{ConnHandle, Outbound, Subscription};
use crate::matcher::{build_list_query, Filter, Sort};
use crate::protocol::close;
use crate::store;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use tokio::sync::mpsc;

fn to_event(frame: &str) -> Event {
    #[derive(serde::Deserialize)]
    struct Head {
        event: String,
        seq: i64,
    }
    match serde_json::from_str::<Head>(frame) {
        Ok(h) => Event::default().event(h.event).id(h.seq.to_string()).data(frame),
        Err(_) => Event::default().event("message").data(frame),
    }
}

/// `GET /realtime/sse`.
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match start(state, headers, q).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn start(state: AppState, headers: HeaderMap, q: HashMap<String, String>) -> Result<Response, ApiError> {
    if !crate::ws::origin_allowed(&state, &headers) {
        return Err(ApiError::Forbidden("origin not allowed".into()));
    }
    let who = crate::ws::handshake_identity(&state, &headers, &q)?
        .ok_or(ApiError::Unauthorized(crate::auth::AuthError::Missing))?;
    let collection = q
        .get("collection")
        .cloned()
        .ok_or_else(|| ApiError::BadRequest("collection is required".into()))?;
    let rules = documents_rules(&state, &collection, &who).await?;
    let scope = owner_scope(&rules, &who)?.map(str::to_owned);
    let filter = match q.get("filters") {
        Some(f) => {
            let v: Value =
                serde_json::from_str(f).map_err(|e| ApiError::BadRequest(format!("filters must be JSON: {e}")))?;
            Filter::from_json(&v)?
        }
        None => Filter::from_json(&Value::Null)?,
    };
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let since = match last_id.or_else(|| q.get("since").cloned()) {
        Some(s) => Some(
            s.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::BadRequest("since/Last-Event-ID must be a seq".into()))?,
        ),
        None => None,
    };
    let snapshot = since.is_none() && q.get("snapshot").is_some_and(|v| v == "true" || v == "1");
    let permit = state
        .slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Unavailable("too many connections".into()))?;

    let (out, out_rx) = mpsc::channel::<Event>(state.config.outbound_queue.max(1));
    let mut cursor = state.hub.head();
    let mut skip = HashMap::new();
    if let Some(since) = since {
        let pruned = store::pruned_through(&state.pool).await?;
        if since < pruned {
            let e = json!({"type": "error", "code": "cursor_expired", "message": format!("changes after {since} are no longer retained")});
            let _ = out.try_send(Event::default().event("error").data(e.to_string()));
            drop(out);
            return Ok(respond(out_rx, &state));
        }
        cursor = since.max(0);
    } else if snapshot {
        let sort = Sort::parse(q.get("sort").map(String::as_str))?;
        let query = build_list_query(&collection, &filter, &sort, None, scope.as_deref(), 101);
        let store::Snapshot { docs, seq, reflected } = store::snapshot(&state.pool, &collection, query).await?;
        skip = reflected;
        let truncated = docs.len() > 100;
        let documents: Vec<_> = docs.into_iter().take(100).map(|(d, _)| d).collect();
        let body = json!({"type": "snapshot", "subscription": "sse", "collection": collection, "documents": documents, "seq": seq, "truncated": truncated});
        let _ = out.try_send(
            Event::default()
                .event("snapshot")
                .id(seq.to_string())
                .data(body.to_string()),
        );
        cursor = seq;
    }
    let (conn, rx) = ConnHandle::new(who, state.config.outbound_queue);
    let mut sub = Subscription::new("sse".into(), collection, filter, conn.clone());
    sub.skip = skip;
    let task_state = state.clone();
    state.tracker.spawn(async move {
        pump(task_state, sub, cursor, rx, out, conn).await;
        drop(permit);
    });
    Ok(respond(out_rx, &state))
}

fn respond(rx: mpsc::Receiver<Event>, state: &AppState) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Sse::new(stream)
        .keep_alive(
            KeepAlive::new()
                .interval(state.config.heartbeat_interval)
                .text("keepalive"),
        )
        .into_response()
}

/// Replays up to the hub's head, goes live, then forwards frames until the client leaves.
async fn pump(
    state: AppState,
    sub: Subscription,
    cursor: i64,
    mut rx: mpsc::Receiver<Outbound>,
    out: mpsc::Sender<Event>,
    conn: ConnHandle,
) {
    let collection = sub.collection.clone();
    let mut live = GoLive::new(&state.pool, &state.hub, sub, cursor);
    let key = loop {
        match live.next().await {
            Ok(Step::Live { key, .. }) => break key,
            Ok(Step::Events(events)) => {
                for e in events {
                    if out.send(to_event(&e.into_frame())).await.is_err() {
                        return;
                    }
                }
            }
            Err(_) => return,
        }
    };
    let mut check = tokio::time::interval(tokio::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            f = rx.recv() => match f {
                Some(msg) => if out.send(to_event(&msg.into_frame())).await.is_err() { break },
                None => break,
            },
            _ = conn.closing() => break,
            _ = out.closed() => break,
            _ = state.shutdown.cancelled() => break,
            _ = check.tick() => {
                if !still_valid(&state, &conn.identity()) {
                    let e = json!({"type": "error", "code": "unauthorized", "message": "credential expired or revoked"});
                    let _ = out.send(Event::default().event("error").data(e.to_string())).await;
                    conn.close(close::AUTH);
                    break;
                }
            }
        }
    }
    state.hub.unsubscribe(&collection, key);
}

fn still_valid(state: &AppState, who: &Identity) -> bool {
    if let Some(exp) = who.expires_at() {
        if exp <= chrono::Utc::now().timestamp() {
            return false;
        }
    }
    who.key_id().is_none_or(|id| state.auth.keys().is_active(id)) && who.sub().is_none_or(|s| !state.auth.is_denied(s))
}
