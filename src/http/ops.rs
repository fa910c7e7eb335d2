//! Health, readiness and metrics.

use crate::state::AppState;
use crate::store;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

/// Liveness: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let broker = json!({"engine": state.broker.name(), "up": state.broker.is_up()});
    match store::ping(&state.pool).await {
        Ok(_) if state.broker.is_up() => (StatusCode::OK, Json(json!({"status": "ready", "broker": broker}))),
        Ok(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "error": "message broker unreachable", "broker": broker})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "error": e.to_string(), "broker": broker})),
        ),
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("eddy_subscriptions").set(state.hub.subscription_count() as f64);
    metrics::gauge!("eddy_feed_head").set(state.hub.head() as f64);
    let body = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
