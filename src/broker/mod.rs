//! The broker seam: rooms, presence and server publish across nodes.
//!
//! Each node delivers to its own sockets directly and publishes to the bus;
//! other nodes deliver what they receive to theirs (a node ignores its own
//! messages), so each socket gets a message once. One publisher task per node
//! sends bus messages in the order they were published, so every receiver sees
//! one sender's messages in that order. Authorization happens on the node where
//! the client is; only authorized messages enter the bus, and what a node
//! receives is queued per socket like any local frame (same limits).
//!
//! Engines: `memory` (one node, no bus), `postgres` (LISTEN/NOTIFY, large
//! messages through a table), Redis pub/sub, NATS core subjects.

mod bus;
mod nats;
mod postgres;
mod redis;

pub use crate::config::BrokerSpec;
pub use bus::{BusMsg, Envelope, MemberRecord};

use crate::hub::Hub;
use axum::extract::ws::Utf8Bytes;
use parking_lot::Mutex;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Messages waiting for the publisher task; past this, publishing is refused.
pub const OUTBOX: usize = 10_000;
/// How long a publish may wait for the broker to accept it.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a publish was refused.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// Not connected to the broker.
    #[error("the message broker is unreachable; retry later")]
    Down,
    /// Too many messages waiting for the broker.
    #[error("the message broker is not keeping up; retry later")]
    Backlog,
}

/// A message for the publisher task, with its acknowledgement.
pub(crate) struct Outgoing {
    payload: String,
    ack: Option<oneshot::Sender<bool>>,
}

impl Outgoing {
    fn done(self, ok: bool) {
        if let Some(a) = self.ack {
            let _ = a.send(ok);
        }
    }
}

/// This node's end of the broker.
pub struct Broker {
    spec: BrokerSpec,
    node: Arc<str>,
    hub: Arc<Hub>,
    ttl: Duration,
    up: AtomicBool,
    outbox: Option<mpsc::Sender<Outgoing>>,
    /// Other nodes and when each was last heard from.
    nodes: Mutex<HashMap<Arc<str>, Instant>>,
    /// When anything (our own heartbeats included) last arrived from the bus.
    heard: Mutex<Instant>,
    sent: AtomicU64,
}

impl Broker {
    /// Starts the broker's tasks (none for `memory`).
    pub fn start(
        spec: BrokerSpec,
        pool: PgPool,
        hub: Arc<Hub>,
        ttl: Duration,
        shutdown: CancellationToken,
    ) -> Arc<Broker> {
        let memory = spec == BrokerSpec::Memory;
        let (tx, rx) = mpsc::channel(OUTBOX);
        let broker = Arc::new(Broker {
            spec: spec.clone(),
            node: Arc::from(format!("n{}", uuid::Uuid::new_v4().simple())),
            hub,
            ttl: ttl.max(Duration::from_millis(300)),
            up: AtomicBool::new(memory),
            outbox: (!memory).then_some(tx),
            nodes: Mutex::new(HashMap::new()),
            heard: Mutex::new(Instant::now()),
            sent: AtomicU64::new(0),
        });
        if memory {
            return broker;
        }
        let b = broker.clone();
        let sd = shutdown.clone();
        match spec {
            BrokerSpec::Memory => {}
            BrokerSpec::Postgres => {
                tokio::spawn(postgres::run(b, pool, rx, sd));
            }
            BrokerSpec::Redis(url) => {
                tokio::spawn(redis::run(b, url, rx, sd));
            }
            BrokerSpec::Nats(url) => {
                tokio::spawn(nats::run(b, url, rx, sd));
            }
        }
        tokio::spawn(cluster_loop(broker.clone(), shutdown));
        broker
    }

    /// The engine's name.
    pub fn name(&self) -> &'static str {
        self.spec.name()
    }

    /// Whether this node can publish (always, for `memory`).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Whether other nodes exist to publish to.
    pub fn is_shared(&self) -> bool {
        self.outbox.is_some()
    }

    /// Fails fast when publishing cannot succeed now.
    pub fn check(&self) -> Result<(), BrokerError> {
        if self.is_up() {
            Ok(())
        } else {
            Err(BrokerError::Down)
        }
    }

    /// Publishes a message to the other nodes; resolves once the broker accepted it.
    pub async fn publish(&self, msg: BusMsg) -> Result<(), BrokerError> {
        let Some(outbox) = &self.outbox else { return Ok(()) };
        self.check()?;
        let (tx, rx) = oneshot::channel();
        let out = Outgoing {
            payload: self.envelope(msg),
            ack: Some(tx),
        };
        outbox.try_send(out).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => BrokerError::Backlog,
            mpsc::error::TrySendError::Closed(_) => BrokerError::Down,
        })?;
        match tokio::time::timeout(ACK_TIMEOUT, rx).await {
            Ok(Ok(true)) => Ok(()),
            _ => Err(BrokerError::Down),
        }
    }

    /// Publishes without waiting (presence): dropped while the broker is down,
    /// since every node re-announces its members when it reconnects.
    pub fn announce(&self, msg: BusMsg) {
        if let Some(outbox) = &self.outbox {
            if self.is_up() {
                let _ = outbox.try_send(Outgoing {
                    payload: self.envelope(msg),
                    ack: None,
                });
            }
        }
    }

    fn envelope(&self, msg: BusMsg) -> String {
        Envelope {
            node: self.node.to_string(),
            n: self.sent.fetch_add(1, Ordering::Relaxed),
            msg,
        }
        .encode()
    }

    /// Called by the engine when its connection comes up or goes down.
    pub(crate) fn set_up(&self, up: bool) {
        let was = self.up.swap(up, Ordering::AcqRel);
        if up && !was {
            tracing::info!(broker = self.name(), "broker connected");
            *self.heard.lock() = Instant::now();
            // Others may have forgotten us while we were away, and we them.
            self.announce(BusMsg::Sync {
                members: self.members(),
            });
            self.announce(BusMsg::SyncRequest);
        } else if !up && was {
            tracing::warn!(
                broker = self.name(),
                "broker connection lost; refusing broadcasts until it is back"
            );
        }
    }

    /// Whether the bus has been silent (not even our own heartbeats) for a TTL:
    /// the engine then treats its connection as dead.
    pub(crate) fn is_stale(&self) -> bool {
        self.is_up() && self.heard.lock().elapsed() > self.ttl
    }

    fn members(&self) -> Vec<MemberRecord> {
        self.hub
            .local_members()
            .into_iter()
            .map(|(room, conn, sub, state)| (room, conn.to_string(), sub, state))
            .collect()
    }

    /// Applies one payload received from the bus.
    pub(crate) fn inbound(&self, payload: &str) {
        *self.heard.lock() = Instant::now();
        let env: Envelope = match serde_json::from_str(payload) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring an unreadable bus message");
                return;
            }
        };
        if *env.node == *self.node {
            return;
        }
        tracing::debug!(from = %env.node, n = env.n, msg = ?env.msg, "bus message");
        let node: Arc<str> = {
            let mut nodes = self.nodes.lock();
            let key = nodes
                .get_key_value(env.node.as_str())
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| Arc::from(env.node.as_str()));
            nodes.insert(key.clone(), Instant::now());
            key
        };
        let hub = &self.hub;
        match env.msg {
            BusMsg::Room { room, frame, skip } => {
                hub.broadcast(&room, &Utf8Bytes::from(frame), skip.as_deref());
            }
            BusMsg::User { sub, frame } => {
                hub.send_to_user(&sub, &Utf8Bytes::from(frame));
            }
            BusMsg::All { frame } => {
                hub.send_to_all(&Utf8Bytes::from(frame));
            }
            BusMsg::Join { room, conn, sub, state } => hub.remote_join(&node, &room, &conn, sub.as_deref(), state),
            BusMsg::Leave { room, conn } => hub.remote_leave(&room, &conn),
            BusMsg::Heartbeat => {}
            BusMsg::SyncRequest => self.announce(BusMsg::Sync {
                members: self.members(),
            }),
            BusMsg::Sync { members } => hub.remote_sync(&node, &members),
            BusMsg::Bye => {
                self.nodes.lock().remove(&node);
                hub.remote_sync(&node, &[]);
            }
        }
    }

    /// Tells other nodes to forget this node's members now (graceful shutdown).
    pub async fn leave_cluster(&self) {
        if self.outbox.is_some() && self.is_up() {
            let _ = tokio::time::timeout(Duration::from_secs(1), self.publish(BusMsg::Bye)).await;
        }
    }

    /// Forgets nodes not heard from within the TTL, with their members.
    fn sweep(&self) {
        let dead: Vec<Arc<str>> = {
            let mut nodes = self.nodes.lock();
            let dead: Vec<Arc<str>> = nodes
                .iter()
                .filter(|(_, seen)| seen.elapsed() > self.ttl)
                .map(|(n, _)| n.clone())
                .collect();
            for n in &dead {
                nodes.remove(n);
            }
            dead
        };
        for node in dead {
            tracing::info!(%node, "node silent for the presence TTL: removing its members");
            self.hub.remote_sync(&node, &[]);
        }
    }
}

/// Heartbeats (every TTL/3) and the sweep of silent nodes (every TTL/10).
async fn cluster_loop(broker: Arc<Broker>, shutdown: CancellationToken) {
    let beat = broker.ttl / 3;
    let mut sweep = tokio::time::interval(broker.ttl / 10);
    let mut next_beat = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = sweep.tick() => {}
        }
        if tokio::time::Instant::now() >= next_beat {
            broker.announce(BusMsg::Heartbeat);
            next_beat += beat;
        }
        broker.sweep();
    }
}

/// Reconnect delays: 100 ms doubling to 5 s.
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(6))).min(Duration::from_secs(5))
}

/// Fails every message still queued (the connection is gone).
pub(crate) fn fail_queued(rx: &mut mpsc::Receiver<Outgoing>) {
    while let Ok(o) = rx.try_recv() {
        o.done(false);
    }
}

/// Takes the next message and whatever else is queued (up to `max`), to publish as one batch.
pub(crate) async fn next_batch(rx: &mut mpsc::Receiver<Outgoing>, max: usize) -> Option<Vec<Outgoing>> {
    let first = rx.recv().await?;
    let mut batch = vec![first];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(o) => batch.push(o),
            Err(_) => break,
        }
    }
    Some(batch)
}
