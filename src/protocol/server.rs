//! Messages to clients. Control replies go through `encode`; events are built
//! from a per-subscription prefix and a tail shared by all recipients.

use super::{DocumentJson, ErrorCode};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Server messages other than change events.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg<'a> {
    /// Authentication accepted.
    AuthOk {
        /// Who the socket is now.
        identity: Value,
        /// This socket's id.
        connection: &'a str,
        /// Token expiry (Unix seconds) or null.
        expires_at: Option<i64>,
    },
    /// Reply to `ping`.
    Pong,
    /// The subscription is live.
    Subscribed {
        /// Subscription id.
        id: &'a str,
        /// Collection.
        collection: &'a str,
        /// Live-from position.
        seq: i64,
    },
    /// Subscription ended.
    Unsubscribed {
        /// Subscription id.
        id: &'a str,
    },
    /// Documents matching at `seq`.
    Snapshot {
        /// Subscription id.
        subscription: &'a str,
        /// Collection.
        collection: &'a str,
        /// The documents.
        documents: Value,
        /// Log position of the snapshot.
        seq: i64,
        /// More documents matched than were sent.
        truncated: bool,
    },
    /// Joined a room.
    Joined {
        /// Room.
        room: &'a str,
        /// Members including the joiner.
        members: Vec<MemberView<'a>>,
    },
    /// Left a room.
    Left {
        /// Room.
        room: &'a str,
    },
    /// Accepted (broadcast, presence).
    Ack,
    /// Token about to expire.
    TokenExpiring {
        /// Expiry, Unix seconds.
        expires_at: i64,
    },
    /// Server lifecycle notice.
    System {
        /// e.g. `shutdown`.
        event: &'a str,
    },
    /// An error.
    Error(ErrorMsg<'a>),
    /// A message to a room, from a member or from the server.
    Broadcast {
        /// Room.
        room: &'a str,
        /// Event name.
        event: &'a str,
        /// Payload.
        message: &'a Value,
        /// Who sent it.
        from: Sender<'a>,
        /// Milliseconds since the Unix epoch.
        ts: i64,
    },
    /// Members that joined, changed state or left a room.
    Presence {
        /// Room.
        room: &'a str,
        /// Connection id → member view, for joins and state changes.
        joins: BTreeMap<&'a str, MemberView<'a>>,
        /// Connection id → member view, for leaves.
        leaves: BTreeMap<&'a str, MemberView<'a>>,
    },
    /// A server message to one user's sockets or to every socket.
    Message {
        /// Event name.
        event: &'a str,
        /// Payload.
        message: &'a Value,
        /// Milliseconds since the Unix epoch.
        ts: i64,
    },
}

/// The `from` of a broadcast.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Sender<'a> {
    /// A member's socket.
    Member {
        /// The sender's user id, for users.
        #[serde(skip_serializing_if = "Option::is_none")]
        sub: Option<&'a str>,
        /// The sender's connection id.
        connection: &'a str,
    },
    /// The REST publish API.
    Server {
        /// Always true.
        server: bool,
    },
}

/// A room member as other members see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView<'a> {
    /// Connection id (in member lists only; presence diffs key by it instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub connection: Option<&'a str>,
    /// The member's user id, for users.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub sub: Option<&'a str>,
    /// Presence state (a JSON object).
    #[schema(value_type = Object)]
    pub state: &'a Value,
}

/// The body of an `error` message.
#[derive(Debug, Serialize)]
pub struct ErrorMsg<'a> {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable text.
    pub message: &'a str,
    /// The subscription this error ended, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<&'a str>,
    /// The room membership this error ended, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<&'a str>,
}

impl<'a> ErrorMsg<'a> {
    /// An error with just a code and message.
    pub fn new(code: ErrorCode, message: &'a str) -> Self {
        ErrorMsg {
            code,
            message,
            subscription: None,
            room: None,
        }
    }
}

/// Serialises a control message, adding `ref` when the client sent one.
pub fn encode(msg: &ServerMsg<'_>, reference: Option<&Value>) -> String {
    let mut value = serde_json::to_value(msg).unwrap_or(Value::Null);
    if let (Some(r), Value::Object(map)) = (reference, &mut value) {
        map.insert("ref".into(), r.clone());
    }
    value.to_string()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The part of an event frame shared by every recipient: the JSON after
/// `{"type":"event","subscription":"…",`, plus what SSE needs to name it.
#[derive(Debug)]
pub struct EventTail {
    /// The rest of the event object, closing brace included.
    pub json: Box<str>,
    /// `created`, `updated` or `deleted` (the SSE event name).
    pub event: &'static str,
    /// The change's seq (the SSE event id).
    pub seq: i64,
}

/// Builds the shared part of an event frame.
pub fn event_tail(
    event: &'static str,
    seq: i64,
    document: &DocumentJson<'_>,
    old: Option<&Value>,
    transition: Option<&str>,
) -> EventTail {
    #[derive(Serialize)]
    struct Tail<'a> {
        collection: &'a str,
        event: &'a str,
        seq: i64,
        document: &'a DocumentJson<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        old: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        transition: Option<&'a str>,
    }
    let body = serde_json::to_string(&Tail {
        collection: document.collection,
        event,
        seq,
        document,
        old,
        transition,
    })
    .unwrap_or_else(|_| "{}".into());
    // Drop the opening brace: the prefix supplies it.
    EventTail {
        json: body[1..].into(),
        event,
        seq,
    }
}

/// The per-subscription start of an event frame.
pub fn event_prefix(subscription: &str) -> String {
    format!(
        r#"{{"type":"event","subscription":{},"#,
        Value::String(subscription.to_owned())
    )
}

/// The SSE `event:` name and `id:` of a control frame (events carry theirs in
/// `EventTail`): the message `type`, and the seq for frames that have one.
pub fn sse_fields(frame: &str) -> (String, Option<i64>) {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        seq: Option<i64>,
    }
    match serde_json::from_str::<Head>(frame) {
        Ok(h) => (h.kind, h.seq),
        Err(_) => ("message".into(), None),
    }
}
