//! Messages to clients. Control replies go through `encode`; events are built
//! from a per-subscription prefix and a tail shared by all recipients.

use super::ErrorCode;
use serde::Serialize;
use serde_json::Value;

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
        members: Value,
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

/// The shared part of an event frame, after `{"type":"event","subscription":"…",`.
pub fn event_tail(
    collection: &str,
    event: &str,
    seq: i64,
    document: &Value,
    old: Option<&Value>,
    transition: Option<&str>,
) -> String {
    #[derive(Serialize)]
    struct Tail<'a> {
        collection: &'a str,
        event: &'a str,
        seq: i64,
        document: &'a Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        old: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        transition: Option<&'a str>,
    }
    let body = serde_json::to_string(&Tail {
        collection,
        event,
        seq,
        document,
        old,
        transition,
    })
    .unwrap_or_else(|_| "{}".into());
    // Drop the opening brace: the prefix supplies it.
    body[1..].to_owned()
}

/// The per-subscription start of an event frame.
pub fn event_prefix(subscription: &str) -> String {
    format!(
        r#"{{"type":"event","subscription":{},"#,
        Value::String(subscription.to_owned())
    )
}
