//! What crosses the bus between nodes: room broadcasts, server publishes and
//! presence, each in an envelope naming the node that sent it. Nothing else
//! does: database changes never use the bus (every node reads the change log).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One bus message.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// The sending node's id.
    pub node: String,
    /// The sender's message counter: keeps payloads distinct (PostgreSQL folds
    /// identical notifications sent in one transaction).
    pub n: u64,
    /// What it says.
    pub msg: BusMsg,
}

/// A room member as announced on the bus: (room, connection, sub, state).
pub type MemberRecord = (String, String, Option<String>, Value);

/// Message kinds. Frames travel already encoded (the protocol's JSON), so a
/// receiving node only routes them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum BusMsg {
    /// A broadcast to a room's members (except `skip`, the sender without echo).
    Room {
        /// Room.
        room: String,
        /// The encoded `broadcast` frame.
        frame: String,
        /// Connection not to deliver to.
        skip: Option<String>,
    },
    /// A server message to every socket of a user.
    User {
        /// The user's `sub`.
        sub: String,
        /// The encoded `message` frame.
        frame: String,
    },
    /// A server message to every socket.
    All {
        /// The encoded `message` frame.
        frame: String,
    },
    /// A member joined or changed its presence state.
    Join {
        /// Room.
        room: String,
        /// Connection id.
        conn: String,
        /// The member's user id.
        sub: Option<String>,
        /// Presence state.
        state: Value,
    },
    /// A member left.
    Leave {
        /// Room.
        room: String,
        /// Connection id.
        conn: String,
    },
    /// The sender is alive.
    Heartbeat,
    /// The sender asks every node for its members.
    SyncRequest,
    /// The sender's complete membership (replaces what others knew of it).
    Sync {
        /// Every member on the sending node.
        members: Vec<MemberRecord>,
    },
    /// The sender is shutting down: forget its members now.
    Bye,
}

impl Envelope {
    /// The JSON payload.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
