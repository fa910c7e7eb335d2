//! Messages from clients.

use super::ErrorCode;
use serde::Deserialize;
use serde_json::Value;

/// A parsed client message with its `ref`.
#[derive(Debug)]
pub struct Incoming {
    /// Echoed on the reply (string or number).
    pub reference: Option<Value>,
    /// The message.
    pub msg: ClientMsg,
}

/// Every client message kind.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Authenticate or refresh the token.
    Auth {
        /// API key or JWT.
        token: String,
        /// With a service key: the identity to act as (the console's live tail).
        #[serde(default, rename = "as")]
        act_as: Option<ActAs>,
    },
    /// Liveness check.
    Ping,
    /// Start a subscription.
    Subscribe(SubscribeMsg),
    /// End a subscription.
    Unsubscribe {
        /// Subscription id.
        id: String,
    },
    /// Join a room.
    Join {
        /// Room name.
        room: String,
        /// Initial presence state.
        #[serde(default)]
        presence: Option<Value>,
    },
    /// Leave a room.
    Leave {
        /// Room name.
        room: String,
    },
    /// Send to a room.
    Broadcast(BroadcastMsg),
    /// Replace this socket's presence state in a room.
    Presence {
        /// Room name.
        room: String,
        /// New state.
        state: Value,
    },
}

/// `subscribe` fields.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubscribeMsg {
    /// Client-chosen id.
    #[serde(default)]
    pub id: Option<String>,
    /// Collection name.
    pub collection: String,
    /// JSON filter form.
    #[serde(default)]
    pub filters: Option<Value>,
    /// Resume after this seq.
    #[serde(default)]
    pub since: Option<i64>,
    /// Send a snapshot first.
    #[serde(default)]
    pub snapshot: bool,
    /// Snapshot size.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Snapshot order.
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default, rename = "ref")]
    _ref: Option<Value>,
    #[serde(default, rename = "type")]
    _type: Option<Value>,
}

impl SubscribeMsg {
    /// A subscription request built by a transport rather than parsed (SSE).
    pub fn new(id: &str, collection: String) -> SubscribeMsg {
        SubscribeMsg {
            id: Some(id.to_owned()),
            collection,
            filters: None,
            since: None,
            snapshot: false,
            limit: None,
            sort: None,
            _ref: None,
            _type: None,
        }
    }
}

/// The identity a service key acts as on a realtime connection.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActAs {
    /// `public`, `user` or `service`.
    pub kind: String,
    /// The user's `sub` (kind `user`).
    #[serde(default)]
    pub sub: Option<String>,
    /// The user's role (kind `user`).
    #[serde(default)]
    pub role: Option<String>,
}

/// `broadcast` fields.
#[derive(Debug, Deserialize, PartialEq)]
pub struct BroadcastMsg {
    /// Room name.
    pub room: String,
    /// Event name (`domain:action`).
    pub event: String,
    /// Payload.
    #[serde(default)]
    pub message: Value,
    /// Also deliver to the sender.
    #[serde(default)]
    pub echo: bool,
}

/// Every client message `type` (shared with tests and fuzz targets).
pub const CLIENT_MESSAGE_TYPES: &[&str] = &[
    "auth",
    "ping",
    "subscribe",
    "unsubscribe",
    "join",
    "leave",
    "broadcast",
    "presence",
];

/// Parses a text frame; errors carry the code, message and `ref` to answer with.
pub fn parse_client(text: &str) -> Result<Incoming, (ErrorCode, String, Option<Value>)> {
    let value: Value = serde_json::from_str(text).map_err(|e| (ErrorCode::InvalidJson, e.to_string(), None))?;
    let reference = match value.get("ref") {
        None | Some(Value::Null) => None,
        Some(r @ (Value::String(_) | Value::Number(_))) => Some(r.clone()),
        Some(_) => {
            return Err((
                ErrorCode::InvalidMessage,
                "ref must be a string or a number".into(),
                None,
            ))
        }
    };
    if super::json_depth(&value) > super::MAX_JSON_DEPTH {
        let msg = format!("message nested deeper than {} levels", super::MAX_JSON_DEPTH);
        return Err((ErrorCode::InvalidMessage, msg, reference));
    }
    let Some(obj) = value.as_object() else {
        return Err((
            ErrorCode::InvalidMessage,
            "a message must be a JSON object".into(),
            reference,
        ));
    };
    match obj.get("type").and_then(Value::as_str) {
        Some(t) if CLIENT_MESSAGE_TYPES.contains(&t) => {}
        Some(t) => return Err((ErrorCode::UnknownType, format!("unknown message type {t:?}"), reference)),
        None => {
            return Err((
                ErrorCode::UnknownType,
                "missing string field \"type\"".into(),
                reference,
            ))
        }
    }
    match ClientMsg::deserialize(&value) {
        Ok(msg) => Ok(Incoming { reference, msg }),
        Err(e) => Err((ErrorCode::InvalidMessage, e.to_string(), reference)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_bad_frames() {
        let cases = [
            ("not json", ErrorCode::InvalidJson),
            ("[1]", ErrorCode::InvalidMessage),
            ("{}", ErrorCode::UnknownType),
            (r#"{"type":"dance"}"#, ErrorCode::UnknownType),
            (r#"{"type":"subscribe"}"#, ErrorCode::InvalidMessage),
            (
                r#"{"type":"subscribe","collection":"a","since":"x"}"#,
                ErrorCode::InvalidMessage,
            ),
            (r#"{"type":"ping","ref":{}}"#, ErrorCode::InvalidMessage),
        ];
        for (text, code) in cases {
            let err = parse_client(text).expect_err(text);
            assert_eq!(err.0, code, "{text}");
        }
    }

    #[test]
    fn keeps_ref() {
        let m = parse_client(r#"{"type":"ping","ref":"a1"}"#).expect("ping");
        assert_eq!(m.reference, Some(Value::String("a1".into())));
        assert_eq!(m.msg, ClientMsg::Ping);
        let e = parse_client(r#"{"type":"join","ref":7}"#).expect_err("join without room");
        assert_eq!(e.2, Some(serde_json::json!(7)));
    }
}
