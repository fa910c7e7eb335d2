//! Service-key routes for operators (the console): connections, room members,
//! API keys and live figures. Everything here reads this process's hub.

use super::admin::require_service;
use super::{ApiError, Caller, JsonBody};
use crate::auth::{generate_key, KeyKind};
use crate::protocol::{close, valid_name};
use crate::state::AppState;
use crate::store::{self, ReloadHint};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `GET /v1/connections`: counts by transport and identity kind, and every connection.
pub async fn list_connections(State(state): State<AppState>, Caller(who): Caller) -> Result<Json<Value>, ApiError> {
    require_service(&who)?;
    let conns = state.hub.connections();
    let mut by_transport: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_identity: BTreeMap<String, usize> = BTreeMap::new();
    for c in &conns {
        *by_transport.entry(c.transport).or_default() += 1;
        let kind = c.identity.get("kind").and_then(Value::as_str).unwrap_or("unknown");
        *by_identity.entry(kind.to_owned()).or_default() += 1;
    }
    Ok(Json(json!({
        "total": conns.len(),
        "by_transport": by_transport,
        "by_identity": by_identity,
        "connections": conns,
    })))
}

/// `DELETE /v1/connections/{id}`: closes one connection with 4002.
pub async fn disconnect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<StatusCode, ApiError> {
    require_service(&who)?;
    if state.hub.disconnect(&id, close::KICKED) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no connection {id:?} on this server")))
    }
}

/// `GET /v1/rooms/{room}/members`: members with presence state.
pub async fn room_members(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    require_service(&who)?;
    if !valid_name(&room, 128, b"@") {
        return Err(ApiError::BadRequest(format!("invalid room name {room:?}")));
    }
    match state.hub.room_members(&room) {
        Some(members) => Ok(Json(json!({"room": room, "members": members}))),
        None => Err(ApiError::NotFound(format!(
            "room {room:?} has no members on this server"
        ))),
    }
}

/// `GET /v1/keys`: every key, newest first (never the secret).
pub async fn list_keys(State(state): State<AppState>, Caller(who): Caller) -> Result<Json<Value>, ApiError> {
    require_service(&who)?;
    Ok(Json(json!({"keys": store::list_keys(&state.pool).await?})))
}

/// `POST /v1/keys` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    kind: String,
    #[serde(default)]
    name: String,
}

/// `POST /v1/keys`: creates a key and returns its secret (shown only this once).
pub async fn create_key(
    State(state): State<AppState>,
    Caller(who): Caller,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_service(&who)?;
    let kind = KeyKind::parse(&body.kind)
        .ok_or_else(|| ApiError::BadRequest(format!("kind must be \"service\" or \"public\", not {:?}", body.kind)))?;
    if body.name.chars().count() > 128 {
        return Err(ApiError::BadRequest("name must be at most 128 characters".into()));
    }
    let key = generate_key(kind);
    let id = store::create_key(&state.pool, kind, &body.name, &key).await?;
    apply_key_change(&state).await?;
    let info = store::list_keys(&state.pool)
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| ApiError::Internal("created key not found".into()))?;
    let mut v = json!(info);
    v["key"] = json!(key);
    Ok((StatusCode::CREATED, Json(v)))
}

/// `DELETE /v1/keys/{id}`: revokes a key and closes every connection that uses it.
pub async fn revoke_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<StatusCode, ApiError> {
    require_service(&who)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::BadRequest(format!("invalid key id {id:?}")))?;
    store::revoke_key(&state.pool, id).await.map_err(|e| match e {
        store::StoreError::NotFound => ApiError::NotFound(format!("no active key {id}")),
        e => e.into(),
    })?;
    apply_key_change(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Applies a key change here at once (so the answer reflects it), then tells the other servers.
async fn apply_key_change(state: &AppState) -> Result<(), ApiError> {
    state.access.reload_keys().await?;
    state.hub.close_revoked(state.access.keys());
    store::notify_config(&state.pool, ReloadHint::Keys).await?;
    Ok(())
}

/// `GET /v1/console/stats`: the figures the console charts, sampled now.
pub async fn stats(State(state): State<AppState>, Caller(who): Caller) -> Result<Json<Value>, ApiError> {
    require_service(&who)?;
    let log_head = store::head_seq(&state.pool).await?;
    let feed_head = state.hub.head();
    let rendered = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    let counter = |name: &str| prometheus_sum(&rendered, name);
    let mut by_transport: BTreeMap<&str, usize> = BTreeMap::from([("websocket", 0), ("sse", 0)]);
    for c in state.hub.connections() {
        *by_transport.entry(c.transport).or_default() += 1;
    }
    Ok(Json(json!({
        "ts": crate::protocol::now_ms(),
        "connections": by_transport,
        "subscriptions": state.hub.subscription_count(),
        "rooms": state.hub.room_list().len(),
        "log_head": log_head,
        "feed_head": feed_head,
        "feed_lag": (log_head - feed_head).max(0),
        "events_delivered_total": counter("eddy_events_delivered_total"),
        "slow_consumers_closed_total": counter("eddy_slow_consumers_closed_total"),
    })))
}

/// Sums every sample of one metric in Prometheus text (all label sets).
fn prometheus_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            if !(rest.starts_with(' ') || rest.starts_with('{')) {
                return None;
            }
            l.rsplit(' ').next()?.parse::<f64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::prometheus_sum;

    #[test]
    fn sums_labelled_samples_of_one_metric_only() {
        let text = "# TYPE a counter\na_total{x=\"1\"} 2\na_total{x=\"2\"} 3\na_total_other 9\nb 1\n";
        assert_eq!(prometheus_sum(text, "a_total"), 5.0);
        assert_eq!(prometheus_sum(text, "b"), 1.0);
        assert_eq!(prometheus_sum(text, "c"), 0.0);
    }
}
