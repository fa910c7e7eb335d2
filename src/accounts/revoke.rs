//! Ending access across servers: closing sockets, the deny set of disabled and deleted
//! users (through `eddy_config` reload hints), and pruning expired refresh tokens.

use crate::state::AppState;
use crate::store::{self, users, ReloadHint};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// Closes a user's sockets here at once and tells the other servers to do the same.
pub(super) async fn end_sockets(state: &AppState, user: Uuid) {
    let sub = user.to_string();
    state.hub.close_users(|s| s == sub, "signed out everywhere");
    if let Err(e) = store::notify_config(&state.pool, ReloadHint::Sessions(user)).await {
        tracing::warn!(error = %e, "notify other servers of a sign-out");
    }
}

/// Re-reads the denied users (closing their sockets) and tells the other servers to.
pub(super) async fn users_changed(state: &AppState) {
    crate::feed::reload(&state.pool, &state.hub, &state.access, ReloadHint::Users).await;
    if let Err(e) = store::notify_config(&state.pool, ReloadHint::Users).await {
        tracing::warn!(error = %e, "notify other servers of a user change");
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
