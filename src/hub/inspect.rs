//! Read-only views of the hub for operators (the console): connections with
//! their subscriptions and rooms, room members with presence.

use super::{ConnHandle, Hub};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::Ordering;

/// One subscription as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = SubscriptionInfo)]
pub struct SubInfo {
    /// Client-visible id.
    pub id: String,
    /// Collection watched.
    pub collection: String,
    /// Filter in its JSON form (null: every document).
    #[schema(value_type = Option<Object>, required)]
    pub filters: Value,
    /// Seq of the last event queued (0: none yet).
    pub last_seq: i64,
}

/// One connection as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ConnectionInfo)]
pub struct ConnInfo {
    /// Connection id.
    pub id: String,
    /// `websocket` or `sse`.
    pub transport: &'static str,
    /// The identity's view (`kind`, `sub`, `role`).
    #[schema(value_type = Object)]
    pub identity: Value,
    /// Whether a service key acts as this identity.
    pub impersonated: bool,
    /// Peer address, when known.
    #[schema(required)]
    pub remote: Option<String>,
    /// RFC 3339 time of connection.
    pub connected_at: String,
    /// Messages waiting in the outbound queue.
    pub queue: usize,
    /// Outbound queue size.
    pub queue_max: usize,
    /// Live subscriptions.
    pub subscriptions: Vec<SubInfo>,
    /// Rooms joined.
    pub rooms: Vec<String>,
}

impl Hub {
    /// Every open connection with its subscriptions and rooms, oldest first.
    pub fn connections(&self) -> Vec<ConnInfo> {
        // Each lock is taken on its own, never nested, so this cannot deadlock with fan-out.
        let mut subs: HashMap<String, Vec<SubInfo>> = HashMap::new();
        for s in self.subs.read().iter() {
            subs.entry(s.conn.id().to_string()).or_default().push(SubInfo {
                id: s.id.clone(),
                collection: s.collection.clone(),
                filters: s.filter_source.clone().unwrap_or(Value::Null),
                last_seq: s.last_seq.load(Ordering::Relaxed).max(s.start_after),
            });
        }
        let mut rooms: HashMap<String, Vec<String>> = HashMap::new();
        for (name, room) in self.rooms.read().iter() {
            for id in room.member_ids() {
                rooms.entry(id.to_string()).or_default().push(name.clone());
            }
        }
        let conns: Vec<ConnHandle> = self.conns.read().values().cloned().collect();
        let mut list: Vec<ConnInfo> = conns
            .into_iter()
            .map(|c| {
                let id = c.id().to_string();
                let (queue, queue_max) = c.queue_depth();
                let mut s = subs.remove(&id).unwrap_or_default();
                s.sort_by(|a, b| a.id.cmp(&b.id));
                let mut r = rooms.remove(&id).unwrap_or_default();
                r.sort();
                ConnInfo {
                    identity: serde_json::to_value(c.identity().view()).unwrap_or(Value::Null),
                    impersonated: c.impersonated(),
                    transport: c.transport(),
                    remote: c.remote().map(|a| a.to_string()),
                    connected_at: c.connected_at().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    queue,
                    queue_max,
                    subscriptions: s,
                    rooms: r,
                    id,
                }
            })
            .collect();
        list.sort_by(|a, b| a.connected_at.cmp(&b.connected_at).then_with(|| a.id.cmp(&b.id)));
        list
    }

    /// Asks one connection to close with `code`; false when there is no such connection.
    pub fn disconnect(&self, id: &str, code: u16) -> bool {
        match self.conns.read().get(id) {
            Some(c) => {
                c.close(code);
                true
            }
            None => false,
        }
    }

    /// A room's members (`connection`, `sub`, `state`), or None when the room has none.
    pub fn room_members(&self, room: &str) -> Option<Value> {
        let rooms = self.rooms.read();
        let mut members = rooms.get(room)?.members();
        members.sort_by(|a, b| a.connection.cmp(&b.connection));
        serde_json::to_value(members).ok()
    }
}
