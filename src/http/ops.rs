//! Health, readiness and metrics.

use super::{bearer_token, ApiError};
use crate::app::AppState;
use crate::auth::AuthError;
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
    match sqlx::query("SELECT 1").execute(&state.pool).await {
        Ok(_) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "error": e.to_string()})),
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
    let token = bearer_token(&headers).ok_or(ApiError::Unauthorized(AuthError::Missing))?;
    if !state.auth.authenticate(&token)?.is_service() {
        return Err(ApiError::Forbidden("metrics require a service key".into()));
    }
    Ok(render(&state))
}

/// The exposition itself, without access checks (the internal listener serves this).
pub fn render(state: &AppState) -> Response {
    metrics::gauge!("eddy_subscriptions").set(state.hub.subscription_count() as f64);
    metrics::gauge!("eddy_feed_head").set(state.hub.head() as f64);
    let body = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
