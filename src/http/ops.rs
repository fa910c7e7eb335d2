//! Health, readiness and metrics.

use super::ApiError;
use crate::state::AppState;
use crate::store;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
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

/// Prometheus text exposition on the public port: service key only, and absent when
/// `--metrics-listen` serves it on an internal address instead.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if state.config.metrics_listen.is_some() {
        return Err(ApiError::NotFound(
            "metrics are served on the --metrics-listen address".into(),
        ));
    }
    if !state.access.require(&headers, None)?.is_service() {
        return Err(ApiError::Forbidden("metrics require a service key".into()));
    }
    Ok(render(&state).await)
}

/// The exposition itself, without access checks (the internal listener serves this).
pub async fn render(state: &AppState) -> Response {
    metrics::gauge!("eddy_subscriptions").set(state.hub.subscription_count() as f64);
    metrics::gauge!("eddy_feed_head").set(state.hub.head() as f64);
    metrics::gauge!("eddy_outbound_queue_bytes").set(crate::hub::queued_bytes_total() as f64);
    // How far this server's feed is behind the numbered change log.
    if let Ok(log_head) = store::head_seq(&state.pool).await {
        metrics::gauge!("eddy_feed_lag").set((log_head - state.hub.head()).max(0) as f64);
    }
    let body = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
