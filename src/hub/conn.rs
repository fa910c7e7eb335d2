//! The hub's handle on one realtime connection: a bounded outbound queue, a
//! close switch and the connection's current identity.

use crate::auth::Identity;
use crate::protocol::{close, EventTail};
use axum::extract::ws::Utf8Bytes;
use parking_lot::{Mutex, RwLock};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, Notify};

/// Connection id, unique per process.
pub type ConnId = Arc<str>;

/// One queued message. Events stay as two shared halves until the connection's
/// own task writes them, so a queued event costs two pointers, the fan-out loop
/// copies nothing, and the tail's bytes are shared by every recipient.
pub enum Outbound {
    /// A complete frame.
    Frame(Utf8Bytes),
    /// An event: the subscription's prefix and the change's shared tail.
    Event {
        /// `{"type":"event","subscription":"…",`
        prefix: Arc<str>,
        /// The rest of the event object.
        tail: Arc<EventTail>,
    },
}

impl Outbound {
    /// The frame to write.
    pub fn into_frame(self) -> Utf8Bytes {
        match self {
            Outbound::Frame(f) => f,
            Outbound::Event { prefix, tail } => {
                let mut s = String::with_capacity(prefix.len() + tail.json.len());
                s.push_str(&prefix);
                s.push_str(&tail.json);
                Utf8Bytes::from(s)
            }
        }
    }
}

/// Shared state of one connection; cheap to clone.
#[derive(Clone)]
pub struct ConnHandle(Arc<Inner>);

struct Inner {
    id: ConnId,
    tx: mpsc::Sender<Outbound>,
    close_code: AtomicU16,
    closed: Notify,
    notice: Mutex<Option<String>>,
    identity: RwLock<Arc<Identity>>,
    transport: &'static str,
    connected_at: chrono::DateTime<chrono::Utc>,
    remote: OnceLock<SocketAddr>,
    /// The service key behind an impersonated identity, so revoking it closes the socket too.
    acting_key: RwLock<Option<uuid::Uuid>>,
    /// Bytes queued and not yet written (see `Outbound::cost`), and their limit.
    queued_bytes: AtomicUsize,
    byte_limit: usize,
}

/// Bytes queued for every connection of this process (the `eddy_outbound_queue_bytes` gauge).
static QUEUED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes queued for every connection of this process.
pub fn queued_bytes_total() -> usize {
    QUEUED_BYTES.load(Ordering::Relaxed)
}

/// Bookkeeping charged per queued message on top of its bytes (queue slot,
/// pointers, allocation headers), so many tiny frames are bounded too.
const MESSAGE_OVERHEAD: usize = 64;

impl Drop for Inner {
    fn drop(&mut self) {
        // Messages still queued are dropped with the queue.
        QUEUED_BYTES.fetch_sub(*self.queued_bytes.get_mut(), Ordering::Relaxed);
    }
}

impl Outbound {
    /// What this message counts against a connection's byte limit. A shared
    /// event tail is counted whole by every connection that queues it.
    pub fn cost(&self) -> usize {
        MESSAGE_OVERHEAD
            + match self {
                Outbound::Frame(f) => f.len(),
                Outbound::Event { prefix, tail } => prefix.len() + tail.json.len(),
            }
    }
}

impl ConnHandle {
    /// Creates a handle and the receiving end of its outbound queue.
    pub fn new(identity: Identity, queue: usize, transport: &'static str) -> (ConnHandle, mpsc::Receiver<Outbound>) {
        ConnHandle::bounded(identity, queue, usize::MAX, transport)
    }

    /// Like `new`, with the outbound queue also bounded in bytes.
    pub fn bounded(
        identity: Identity,
        queue: usize,
        bytes: usize,
        transport: &'static str,
    ) -> (ConnHandle, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let id: ConnId = Arc::from(format!("c{}", uuid::Uuid::new_v4().simple()));
        let inner = Inner {
            id,
            tx,
            close_code: AtomicU16::new(0),
            closed: Notify::new(),
            notice: Mutex::new(None),
            identity: RwLock::new(Arc::new(identity)),
            transport,
            connected_at: chrono::Utc::now(),
            remote: OnceLock::new(),
            acting_key: RwLock::new(None),
            queued_bytes: AtomicUsize::new(0),
            byte_limit: bytes,
        };
        (ConnHandle(Arc::new(inner)), rx)
    }

    /// The connection id.
    pub fn id(&self) -> &ConnId {
        &self.0.id
    }

    /// The transport's name (`websocket`, `sse`), for metrics and listings.
    pub fn transport(&self) -> &'static str {
        self.0.transport
    }

    /// The current identity.
    pub fn identity(&self) -> Arc<Identity> {
        self.0.identity.read().clone()
    }

    /// Replaces the identity (token refresh).
    pub fn set_identity(&self, identity: Identity) {
        *self.0.identity.write() = Arc::new(identity);
        *self.0.acting_key.write() = None;
    }

    /// Replaces the identity with one a service key (`key`) acts as.
    pub fn set_impersonated(&self, identity: Identity, key: Option<uuid::Uuid>) {
        *self.0.identity.write() = Arc::new(identity);
        *self.0.acting_key.write() = key;
    }

    /// The API key this connection depends on: its own, or the service key acting for it.
    pub fn key_id(&self) -> Option<uuid::Uuid> {
        self.identity().key_id().or(*self.0.acting_key.read())
    }

    /// Whether the identity is impersonated by a service key.
    pub fn impersonated(&self) -> bool {
        self.0.acting_key.read().is_some()
    }

    /// When the connection was accepted.
    pub fn connected_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.connected_at
    }

    /// Records the peer address (once; later calls are ignored).
    pub fn set_remote(&self, addr: SocketAddr) {
        let _ = self.0.remote.set(addr);
    }

    /// The peer address, when the transport knew it.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.0.remote.get().copied()
    }

    /// Messages waiting in the outbound queue, and the queue's size.
    pub fn queue_depth(&self) -> (usize, usize) {
        let tx = &self.0.tx;
        (tx.max_capacity() - tx.capacity(), tx.max_capacity())
    }

    /// Queues a frame without waiting. A full queue closes the connection as a
    /// slow consumer: dropping one frame would break exactly-once delivery.
    pub fn send(&self, frame: Utf8Bytes) -> bool {
        self.push(Outbound::Frame(frame))
    }

    /// Queues a message; see `send`. Over the message or byte limit, the
    /// connection is closed as a slow consumer instead.
    pub fn push(&self, msg: Outbound) -> bool {
        let cost = msg.cost();
        let before = self.0.queued_bytes.fetch_add(cost, Ordering::AcqRel);
        if before.saturating_add(cost) > self.0.byte_limit {
            self.0.queued_bytes.fetch_sub(cost, Ordering::AcqRel);
            self.slow_consumer("outbound queue over its byte limit");
            return false;
        }
        match self.0.tx.try_send(msg) {
            Ok(()) => {
                QUEUED_BYTES.fetch_add(cost, Ordering::Relaxed);
                true
            }
            Err(e) => {
                self.0.queued_bytes.fetch_sub(cost, Ordering::AcqRel);
                if matches!(e, mpsc::error::TrySendError::Full(_)) {
                    self.slow_consumer("outbound queue full");
                }
                false
            }
        }
    }

    /// Accounts for a message taken off the queue (the connection's task calls this).
    pub fn dequeued(&self, cost: usize) {
        self.0.queued_bytes.fetch_sub(cost, Ordering::AcqRel);
        QUEUED_BYTES.fetch_sub(cost, Ordering::Relaxed);
    }

    /// Bytes queued for this connection.
    pub fn queued_bytes(&self) -> usize {
        self.0.queued_bytes.load(Ordering::Acquire)
    }

    fn slow_consumer(&self, why: &str) {
        if self.close_code() == 0 {
            tracing::info!(conn_id = %self.0.id, why, "closing slow consumer");
            metrics::counter!("eddy_slow_consumers_closed_total").increment(1);
        }
        self.close(close::SLOW_CONSUMER);
    }

    /// Whether more than half of the outbound queue (messages or bytes) is in use
    /// (and it is still open).
    pub fn is_loaded(&self) -> bool {
        let tx = &self.0.tx;
        !tx.is_closed()
            && self.close_code() == 0
            && (tx.capacity() < tx.max_capacity() / 2 || self.queued_bytes() > self.0.byte_limit / 2)
    }

    /// Asks the connection to close with this code (the first request wins).
    pub fn close(&self, code: u16) {
        if self
            .0
            .close_code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.0.closed.notify_one();
        }
    }

    /// Asks the connection to close, telling the client why first with an
    /// `unauthorized` error (credential revoked, expired, user disabled).
    pub fn close_unauthorized(&self, message: &str) {
        {
            let mut notice = self.0.notice.lock();
            if notice.is_none() && self.close_code() == 0 {
                *notice = Some(message.to_owned());
            }
        }
        self.close(close::AUTH);
    }

    /// The reason given with `close_unauthorized`, if any.
    pub fn take_notice(&self) -> Option<String> {
        self.0.notice.lock().take()
    }

    /// The close code requested, or 0.
    pub fn close_code(&self) -> u16 {
        self.0.close_code.load(Ordering::Acquire)
    }

    /// Resolves once a close has been requested.
    pub async fn closing(&self) -> u16 {
        loop {
            let notified = self.0.closed.notified();
            let code = self.close_code();
            if code != 0 {
                return code;
            }
            notified.await;
        }
    }

    /// Whether two handles are the same connection.
    pub fn same(&self, other: &ConnHandle) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
