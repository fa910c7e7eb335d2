//! Ending access across servers: closing sockets, the deny set of disabled and deleted
//! users (through `eddy_config` reload hints), and pruning expired refresh tokens.

use crate::app::AppState;
use crate::auth::Authenticator;
use crate::hub::Hub;
use crate::store::{self, users};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// Closes a user's sockets here at once and tells the other servers to do the same.
pub(super) async fn end_sockets(state: &AppState, user: Uuid) {
    let sub = user.to_string();
    state.hub.close_users(|s| s == sub, "signed out everywhere");
    if let Err(e) = store::notify_config(&state.pool, &format!("sessions:{user}")).await {
        tracing::warn!(error = %e, "notify other servers of a sign-out");
    }
}

/// Re-reads the denied users and tells the other servers to (after disable or delete).
pub(super) async fn users_changed(state: &AppState) {
    reload(&state.pool, &state.hub, &state.auth, "users").await;
    if let Err(e) = store::notify_config(&state.pool, "users").await {
        tracing::warn!(error = %e, "notify other servers of a user change");
    }
}

/// Handles the accounts reload hints: `users` (and `all`) re-reads the disabled and
/// deleted users and closes their sockets; `sessions:<id>` closes one user's sockets.
pub async fn reload(pool: &PgPool, hub: &Hub, auth: &Authenticator, what: &str) {
    if let Some(id) = what.strip_prefix("sessions:") {
        hub.close_users(|s| s == id, "signed out everywhere");
        return;
    }
    if what != "all" && what != "users" {
        return;
    }
    match users::denied_users(pool).await {
        Ok(ids) => {
            auth.set_denied(ids.into_iter().map(|id| id.to_string()).collect());
            hub.close_users(|s| auth.is_denied(s), "account disabled or deleted");
        }
        Err(e) => tracing::warn!(error = %e, "reload denied users"),
    }
}

/// How often expired refresh tokens are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes expired refresh tokens periodically until shutdown. Used tokens are kept
/// until they expire: they are what reveals a reuse.
pub(super) async fn prune_loop(pool: PgPool, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
        match users::prune_refresh(&pool).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "pruned expired refresh tokens"),
            Err(e) => tracing::warn!(error = %e, "pruning refresh tokens failed"),
        }
    }
}
