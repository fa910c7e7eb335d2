//! Composition root: connect, migrate, load caches, start background tasks,
//! compose the routes of every edge (REST, WebSocket, SSE), serve (optionally
//! TLS), and shut down in order. Nothing else imports this module but `cli`.

use crate::access::{Access, AccessConfig};
use crate::auth::{Authenticator, CollectionRules, JwtVerifier, KeyKind, KeyStore};
use crate::broker::Broker;
use crate::config::ServeArgs;
use crate::hub::Hub;
pub use crate::state::AppState;
use crate::state::CreateGroup;
use crate::store::ReloadHint;
use crate::{accounts, feed, http, openapi, sse, store, ws};
use anyhow::Context;
use axum_server::accept::NoDelayAcceptor;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE.get_or_init(http::prom::install_recorder).clone()
}

/// Builds the JWT verifier from settings, if JWTs are configured.
pub fn jwt_verifier(cfg: &crate::config::JwtArgs) -> anyhow::Result<Option<JwtVerifier>> {
    let pem = match &cfg.jwt_public_key_file {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    if cfg.jwt_secret.is_none() && pem.is_none() {
        return Ok(None);
    }
    let v = JwtVerifier::new(
        &cfg.jwt_algorithm,
        cfg.jwt_secret.as_deref(),
        pem.as_deref(),
        cfg.jwt_issuer.as_deref(),
        cfg.jwt_audience.as_deref(),
    )?;
    Ok(Some(v))
}

/// Connects, migrates and loads everything the server needs.
pub async fn build(config: ServeArgs) -> anyhow::Result<AppState> {
    let default_rules = CollectionRules::parse_list(&config.default_rules).context("--default-rules")?;
    let pool = store::connect(&config.db.database_url, config.db.db_pool_size)
        .await
        .context("connecting to PostgreSQL")?;
    store::migrate(&pool).await.context("applying migrations")?;
    let mut bootstrap = Vec::new();
    if let Some(k) = &config.service_key {
        anyhow::ensure!(
            k.starts_with("eddy_sk_") && k.len() >= 24,
            "EDDY_SERVICE_KEY must start with eddy_sk_ and be at least 24 characters"
        );
        bootstrap.push((KeyKind::Service, k.clone()));
    }
    if let Some(k) = &config.public_key {
        anyhow::ensure!(
            k.starts_with("eddy_pk_") && k.len() >= 24,
            "EDDY_PUBLIC_KEY must start with eddy_pk_ and be at least 24 characters"
        );
        bootstrap.push((KeyKind::Public, k.clone()));
    }
    let auth = Authenticator::new(KeyStore::new(&bootstrap), jwt_verifier(&config.jwt)?);
    let access = Arc::new(Access::new(
        pool.clone(),
        auth,
        AccessConfig {
            origins: config.origins(),
            default_rules,
            auto_create: config.auto_create_collections,
        },
    ));
    accounts::Accounts::check_config(&config, access.authenticator()).map_err(anyhow::Error::msg)?;
    let config_slots = config.max_connections;
    let hub = Hub::new(access.rules().clone());
    feed::reload(&pool, &hub, &access, ReloadHint::All).await;
    crate::hints::service_key(&pool, config.service_key.is_some()).await;
    hub.set_head(store::head_seq(&pool).await?);
    let wake = Arc::new(tokio::sync::Notify::new());
    let creates = CreateGroup::start(pool.clone(), wake.clone());
    let shutdown = CancellationToken::new();
    // An unreachable broker does not stop the start: the node is not ready
    // (`/readyz`) and keeps reconnecting.
    let broker = Broker::start(
        config.broker.clone(),
        pool.clone(),
        hub.clone(),
        config.presence_ttl,
        shutdown.clone(),
    );
    Ok(AppState {
        pool,
        hub,
        access,
        broker,
        config: Arc::new(config),
        shutdown,
        tracker: TaskTracker::new(),
        metrics: metrics_handle(),
        slots: Arc::new(tokio::sync::Semaphore::new(config_slots)),
        wake,
        creates,
    })
}

/// Runs the server until SIGINT/SIGTERM, then drains.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let cfg = state.config.clone();
    let feed_task = tokio::spawn(feed::run(
        state.pool.clone(),
        state.hub.clone(),
        state.access.clone(),
        state.wake.clone(),
        cfg.poll_interval,
        state.shutdown.clone(),
    ));
    let prune_task = tokio::spawn(feed::prune_loop(
        state.pool.clone(),
        cfg.retention,
        cfg.prune_interval,
        state.shutdown.clone(),
    ));

    let metrics_task = http::prom::spawn_listener(&state).await?;
    let routes = http::routes(&state)
        .merge(accounts::router(&state))
        .merge(openapi::routes())
        .merge(ws::routes())
        .merge(sse::routes());
    let app = http::service(routes, state.clone());
    let handle = axum_server::Handle::new();
    let listener = std::net::TcpListener::bind(cfg.listen).with_context(|| format!("binding {}", cfg.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let scheme = if cfg.tls_cert.is_some() { "https" } else { "http" };
    tracing::info!(%addr, "eddy listening on {scheme}://{addr}");

    let shutdown_state = state.clone();
    let shutdown_handle = handle.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        // Other nodes forget this node's room members now rather than after the TTL.
        shutdown_state.broker.leave_cluster().await;
        // Sessions see this, send the shutdown notice and close with 1001.
        shutdown_state.shutdown.cancel();
        shutdown_handle.graceful_shutdown(Some(shutdown_state.config.shutdown_grace));
    });

    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .context("loading TLS certificate and key")?;
            // Small frames must leave at once: no Nagle delay on accepted sockets.
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(NoDelayAcceptor::new());
            let mut server = axum_server::from_tcp(listener).acceptor(acceptor).handle(handle);
            server
                .http_builder()
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(cfg.request_timeout);
            server.serve(service).await?;
        }
        _ => {
            let mut server = axum_server::from_tcp(listener)
                .acceptor(NoDelayAcceptor::new())
                .handle(handle);
            server
                .http_builder()
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(cfg.request_timeout);
            server.serve(service).await?;
        }
    }
    state.shutdown.cancel();
    state.tracker.close();
    if tokio::time::timeout(cfg.shutdown_grace, state.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("sessions still open after the shutdown grace period");
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), feed_task).await;
    prune_task.abort();
    if let Some(t) = metrics_task {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    state.pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
