//! The Prometheus recorder and the optional internal `/metrics` listener (`--metrics-listen`).

use super::trace::HTTP_HISTOGRAM;
use crate::state::AppState;
use anyhow::Context;
use axum::extract::State;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Request-duration buckets in seconds: most REST calls take milliseconds, a slow one seconds.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide recorder; None if another one is installed already.
pub fn install_recorder() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_HISTOGRAM.to_owned()), HTTP_BUCKETS)
        .ok()?
        .install_recorder()
        .ok()
}

/// Binds `--metrics-listen` (if set) and serves `/metrics` there, without credentials, until
/// shutdown. Binding happens before this returns so that a bad address stops the start.
pub async fn spawn_listener(state: &AppState) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(addr) = state.config.metrics_listen else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding --metrics-listen {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "metrics on http://{addr}/metrics");
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(|State(s): State<AppState>| async move { super::ops::render(&s).await }),
        )
        .with_state(state.clone());
    let shutdown = state.shutdown.clone();
    Ok(Some(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "metrics listener failed");
        }
    })))
}
