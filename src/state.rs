//! What request handlers, realtime connections and background tasks share, and
//! the write path: every committed document write wakes this process's feed.

use crate::access::Access;
use crate::broker::Broker;
use crate::config::ServeArgs;
use crate::hub::Hub;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

mod group;

pub use group::CreateGroup;

/// Everything request handlers and sessions share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Database pool.
    pub pool: PgPool,
    /// Realtime hub.
    pub hub: Arc<Hub>,
    /// Credentials, origins and collection rules.
    pub access: Arc<Access>,
    /// Rooms, presence and publish across nodes.
    pub broker: Arc<Broker>,
    /// Settings.
    pub config: Arc<ServeArgs>,
    /// Fires when the server begins shutting down.
    pub shutdown: CancellationToken,
    /// Tracks realtime sessions so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// Prometheus exposition.
    pub metrics: Option<PrometheusHandle>,
    /// Realtime connection slots (WebSocket + SSE).
    pub slots: Arc<tokio::sync::Semaphore>,
    /// Wakes this process's feed after our own writes commit (they send no NOTIFY).
    pub wake: Arc<Notify>,
    /// Group commit for single-document creates (wakes the feed itself).
    pub creates: CreateGroup,
}

impl AppState {
    /// Begins a transaction that writes documents; committing it wakes the feed.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        Ok(WriteTx {
            tx: self.pool.begin().await?,
            wake: self.wake.clone(),
        })
    }
}

/// A document-writing transaction; see `AppState::begin_write`.
pub struct WriteTx {
    tx: Transaction<'static, Postgres>,
    wake: Arc<Notify>,
}

impl WriteTx {
    /// Commits, then wakes the feed so the changes are delivered at once.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await?;
        self.wake.notify_one();
        Ok(())
    }
}

impl Deref for WriteTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}
