//! The hub owns subscriptions, rooms, presence and connections, and fans changes
//! and broadcasts out to connection queues.
//!
//! It never awaits while holding a lock: delivery is a non-blocking `try_send`
//! into each connection's bounded queue, and a full queue closes that connection
//! (slow consumer) instead of growing memory.

mod conn;
mod inspect;
mod rooms;
mod subs;

pub use conn::{queued_bytes_total, ConnHandle, ConnId, Outbound};
pub use inspect::{ConnInfo, SubInfo};
pub use rooms::{room_allowed, RoomAction, RoomRule};
pub use subs::{explain, frame_for, matches_states, EventCache, Explanation, SideCheck, SubKey, Subscription};

use crate::access::RulesCache;
use crate::auth::{CollectionRules, Identity, KeyStore};
use crate::protocol::MemberView;
use crate::store::Change;
use axum::extract::ws::Utf8Bytes;
use parking_lot::RwLock;
use rooms::Room;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use subs::SubIndex;

/// Shared realtime state of one server process.
pub struct Hub {
    subs: RwLock<SubIndex>,
    /// Highest seq dispatched; written only while `subs` is read-locked by
    /// dispatch and read under the write lock by `try_subscribe`.
    head: AtomicI64,
    rooms: RwLock<HashMap<String, Room>>,
    conns: RwLock<HashMap<ConnId, ConnHandle>>,
    /// Owned by `access`; read here for every event.
    rules: Arc<RulesCache>,
    room_rules: RwLock<Arc<Vec<RoomRule>>>,
}

impl Hub {
    /// An empty hub reading collection rules from `rules`.
    pub fn new(rules: Arc<RulesCache>) -> Arc<Hub> {
        Arc::new(Hub {
            subs: RwLock::default(),
            head: AtomicI64::new(0),
            rooms: RwLock::default(),
            conns: RwLock::default(),
            rules,
            room_rules: RwLock::default(),
        })
    }

    // --- connections -------------------------------------------------------

    /// Records an open connection.
    pub fn add_conn(&self, conn: &ConnHandle) {
        self.conns.write().insert(conn.id().clone(), conn.clone());
        metrics::gauge!("eddy_connections", "transport" => conn.transport()).increment(1.0);
    }

    /// Forgets a connection (its subscriptions and rooms are removed by the session).
    pub fn remove_conn(&self, conn: &ConnHandle) {
        if self.conns.write().remove(conn.id()).is_some() {
            metrics::gauge!("eddy_connections", "transport" => conn.transport()).decrement(1.0);
        }
    }

    /// Open connections.
    pub fn conn_count(&self) -> usize {
        self.conns.read().len()
    }

    /// Closes connections (WebSocket and SSE) authenticated with keys that are no longer active.
    pub fn close_revoked(&self, keys: &KeyStore) {
        for conn in self.conns.read().values() {
            if let Some(id) = conn.key_id() {
                if !keys.is_active(id) {
                    conn.close_unauthorized("API key revoked");
                }
            }
        }
    }

    /// Sends a frame to every socket of a user; returns how many got it.
    pub fn send_to_user(&self, sub: &str, frame: &Utf8Bytes) -> usize {
        self.conns
            .read()
            .values()
            .filter(|c| c.identity().sub() == Some(sub))
            .filter(|c| c.send(frame.clone()))
            .count()
    }

    /// Sends a frame to every socket; returns how many got it.
    pub fn send_to_all(&self, frame: &Utf8Bytes) -> usize {
        self.conns.read().values().filter(|c| c.send(frame.clone())).count()
    }

    /// The cached rules of a collection.
    pub fn rules(&self, collection: &str) -> Option<Arc<CollectionRules>> {
        self.rules.get(collection)
    }

    // --- subscriptions -------------------------------------------------------

    /// The highest seq dispatched so far.
    pub fn head(&self) -> i64 {
        self.head.load(Ordering::Acquire)
    }

    /// Sets the starting position (before any subscription exists).
    pub fn set_head(&self, seq: i64) {
        let _subs = self.subs.write();
        self.head.fetch_max(seq, Ordering::AcqRel);
    }

    /// Registers a subscription live from `cursor`, if the hub has not yet
    /// dispatched past it; otherwise returns the hub's head so the caller can
    /// replay up to there from the log and try again.
    // The Err hands the subscription back for another try; it is not a failure.
    #[allow(clippy::result_large_err)]
    pub fn try_subscribe(&self, mut sub: Subscription, cursor: i64) -> Result<SubKey, (Subscription, i64)> {
        let mut subs = self.subs.write();
        let head = self.head.load(Ordering::Acquire);
        if head > cursor {
            return Err((sub, head));
        }
        sub.start_after = cursor;
        Ok(subs.insert(sub))
    }

    /// Removes a subscription.
    pub fn unsubscribe(&self, collection: &str, key: SubKey) {
        self.subs.write().remove(collection, key);
    }

    /// Number of live subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.subs.read().len()
    }

    /// Delivers a batch of changes (in seq order) to matching subscriptions and
    /// advances the head. Holding the read lock for the whole batch is what makes
    /// `try_subscribe`'s head check atomic with delivery. Returns the connections
    /// whose queues are now more than half full, so the feed can let them drain.
    pub fn dispatch(&self, changes: &[Change]) -> Vec<ConnHandle> {
        let subs = self.subs.read();
        let mut keys = Vec::new();
        let mut delivered = 0u64;
        let mut loaded: Vec<ConnHandle> = Vec::new();
        let fallback = Arc::new(CollectionRules::service_only());
        for change in changes {
            let rules = self.rules.get(&change.collection).unwrap_or_else(|| fallback.clone());
            let mut cache = EventCache::default();
            subs.for_each_candidate(change, &mut keys, |sub| {
                if let Some(event) = frame_for(change, &rules, sub, &mut cache) {
                    if sub.conn.push(event) {
                        delivered += 1;
                    }
                }
            });
        }
        if let Some(last) = changes.last() {
            self.head.fetch_max(last.seq, Ordering::AcqRel);
            // Only the last change's recipients are checked: enough to notice a
            // backlog building up during catch-up without a pass over everyone.
            subs.for_each_candidate(last, &mut keys, |sub| {
                if sub.conn.is_loaded() && !loaded.iter().any(|c| c.same(&sub.conn)) {
                    loaded.push(sub.conn.clone());
                }
            });
        }
        drop(subs);
        metrics::counter!("eddy_events_delivered_total").increment(delivered);
        metrics::counter!("eddy_changes_read_total").increment(changes.len() as u64);
        loaded
    }

    // --- rooms ---------------------------------------------------------------

    /// Replaces the room rules.
    pub fn set_room_rules(&self, rules: Vec<RoomRule>) {
        *self.room_rules.write() = Arc::new(rules);
    }

    /// Whether `who` may do `action` in `room`.
    pub fn room_allowed(&self, room: &str, who: &Identity, action: RoomAction) -> bool {
        let rules = self.room_rules.read().clone();
        room_allowed(&rules, room, who, action)
    }

    /// Adds the connection to a room and tells the others; `reply` builds the
    /// joiner's answer from the member list (itself included).
    pub fn join<R>(
        &self,
        room: &str,
        conn: &ConnHandle,
        state: Value,
        reply: impl FnOnce(Vec<MemberView<'_>>) -> R,
    ) -> R {
        let mut rooms = self.rooms.write();
        let r = rooms.entry(room.to_owned()).or_default();
        r.join(conn, state);
        if let Some(frame) = r.joined_frame(room, conn.id()) {
            r.send(&frame, Some(conn.id()));
        }
        reply(r.members())
    }

    /// Replaces the connection's presence state; false when not a member.
    pub fn set_presence(&self, room: &str, conn: &ConnHandle, state: Value) -> bool {
        let mut rooms = self.rooms.write();
        let Some(r) = rooms.get_mut(room) else { return false };
        if !r.set_state(conn.id(), state) {
            return false;
        }
        if let Some(frame) = r.joined_frame(room, conn.id()) {
            r.send(&frame, Some(conn.id()));
        }
        true
    }

    /// Removes the connection from a room; false when not a member.
    pub fn leave(&self, room: &str, conn: &ConnId) -> bool {
        let mut rooms = self.rooms.write();
        let Some(r) = rooms.get_mut(room) else { return false };
        let Some(frame) = r.leave(room, conn) else { return false };
        if r.is_empty() {
            rooms.remove(room);
        } else {
            r.send(&frame, None);
        }
        true
    }

    /// Whether the connection is in the room.
    pub fn is_member(&self, room: &str, conn: &ConnId) -> bool {
        self.rooms.read().get(room).is_some_and(|r| r.has(conn))
    }

    /// Sends a frame to a room's members (except `skip`); returns how many got it.
    pub fn broadcast(&self, room: &str, frame: &Utf8Bytes, skip: Option<&str>) -> usize {
        let n = self.rooms.read().get(room).map_or(0, |r| r.send(frame, skip));
        metrics::counter!("eddy_broadcasts_delivered_total").increment(n as u64);
        n
    }

    /// Rooms and member counts.
    pub fn room_list(&self) -> Vec<(String, usize)> {
        let mut list: Vec<_> = self.rooms.read().iter().map(|(n, r)| (n.clone(), r.len())).collect();
        list.sort();
        list
    }

    // --- members on other nodes (fed by the broker) ----------------------------

    /// This node's room members: (room, connection, sub, state), for announcing to other nodes.
    pub fn local_members(&self) -> Vec<(String, ConnId, Option<String>, Value)> {
        let rooms = self.rooms.read();
        let mut out = Vec::new();
        for (name, r) in rooms.iter() {
            for (id, sub, state) in r.local() {
                out.push((name.clone(), id.clone(), sub.map(str::to_owned), state.clone()));
            }
        }
        out
    }

    /// A member on another node joined or changed state: record it and tell local members.
    pub fn remote_join(&self, node: &Arc<str>, room: &str, conn: &str, sub: Option<&str>, state: Value) {
        let mut rooms = self.rooms.write();
        let r = rooms.entry(room.to_owned()).or_default();
        if r.remote_state(conn) == Some((&**node, sub, &state)) {
            return;
        }
        let frame = r.remote_upsert(room, node, Arc::from(conn), sub.map(Arc::from), state);
        r.send(&frame, None);
    }

    /// A member on another node left: forget it and tell local members.
    pub fn remote_leave(&self, room: &str, conn: &str) {
        let mut rooms = self.rooms.write();
        let Some(r) = rooms.get_mut(room) else { return };
        if let Some(frame) = r.remote_remove(room, conn) {
            r.send(&frame, None);
        }
        if r.is_empty() {
            rooms.remove(room);
        }
    }

    /// Replaces everything known of a node's members with `members` (room,
    /// connection, sub, state), telling local members what changed. An empty
    /// list forgets the node (it left or died).
    pub fn remote_sync(&self, node: &Arc<str>, members: &[(String, String, Option<String>, Value)]) {
        let mut rooms = self.rooms.write();
        let keep: std::collections::HashSet<(&str, &str)> =
            members.iter().map(|(r, c, _, _)| (r.as_str(), c.as_str())).collect();
        let mut gone = Vec::new();
        for (name, r) in rooms.iter() {
            for conn in r.remote_of(node) {
                if !keep.contains(&(name.as_str(), &*conn)) {
                    gone.push((name.clone(), conn));
                }
            }
        }
        for (name, conn) in gone {
            if let Some(r) = rooms.get_mut(&name) {
                if let Some(frame) = r.remote_remove(&name, &conn) {
                    r.send(&frame, None);
                }
                if r.is_empty() {
                    rooms.remove(&name);
                }
            }
        }
        for (room, conn, sub, state) in members {
            let r = rooms.entry(room.clone()).or_default();
            if r.remote_state(conn) == Some((&**node, sub.as_deref(), state)) {
                continue;
            }
            let frame = r.remote_upsert(
                room,
                node,
                Arc::from(conn.as_str()),
                sub.as_deref().map(Arc::from),
                state.clone(),
            );
            r.send(&frame, None);
        }
    }

    /// Closes (4001, after an `unauthorized` error) every socket of a user for whom
    /// `ended` holds: disabled, deleted or signed out everywhere. Returns how many.
    pub fn close_users(&self, ended: impl Fn(&str) -> bool, reason: &str) -> usize {
        let mut closed = 0;
        for conn in self.conns.read().values() {
            if conn.identity().sub().is_some_and(&ended) {
                conn.close_unauthorized(reason);
                closed += 1;
            }
        }
        closed
    }
}
