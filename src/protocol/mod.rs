//! Realtime wire types: client messages, server messages, error and close codes.
//! No I/O here; see docs/PROTOCOL.md for the contract these types implement.

mod client;
mod document;
mod server;

pub use client::{parse_client, ActAs, BroadcastMsg, ClientMsg, Incoming, SubscribeMsg, CLIENT_MESSAGE_TYPES};
pub use document::{micros, DocumentJson};
pub use server::{
    encode, event_prefix, event_tail, now_ms, sse_fields, ErrorMsg, EventTail, MemberView, Sender, ServerMsg,
};

/// Error codes carried by `{"type":"error"}` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Not JSON.
    InvalidJson,
    /// Unknown or missing `type`.
    UnknownType,
    /// Bad fields.
    InvalidMessage,
    /// Bad filter.
    InvalidFilter,
    /// Not authenticated or bad credential.
    Unauthorized,
    /// Not allowed.
    Forbidden,
    /// Token expired.
    TokenExpired,
    /// Resume cursor older than retention.
    CursorExpired,
    /// Too many messages.
    RateLimited,
    /// Frame too large.
    PayloadTooLarge,
    /// Too many subscriptions or rooms.
    LimitExceeded,
    /// Unknown subscription or room.
    NotFound,
    /// The message broker is unreachable (broadcasts across nodes); retry later.
    Unavailable,
    /// Server-side failure.
    Internal,
}

impl ErrorCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::InvalidFilter => "invalid_filter",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::CursorExpired => "cursor_expired",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// WebSocket close codes (docs/PROTOCOL.md, "Close codes").
pub mod close {
    /// Server shutting down; retryable.
    pub const SHUTDOWN: u16 = 1001;
    /// Inbound message too big.
    pub const TOO_BIG: u16 = 1009;
    /// Internal error; retryable.
    pub const INTERNAL: u16 = 1011;
    /// Authentication failed, timed out or expired; terminal for these credentials.
    pub const AUTH: u16 = 4001;
    /// Disconnected by an operator (`DELETE /v1/connections/{id}`); terminal: no automatic reconnect.
    pub const KICKED: u16 = 4002;
    /// Repeated abuse; terminal.
    pub const ABUSE: u16 = 4008;
    /// Outbound queue overflowed; retryable with `since`.
    pub const SLOW_CONSUMER: u16 = 4100;
    /// Nothing received within the idle timeout; retryable.
    pub const IDLE: u16 = 4101;
}

/// Deepest JSON nesting accepted from clients (messages, presence, documents).
/// Eddy wraps client JSON in a few levels of its own, and common JSON parsers
/// (serde_json among them) refuse more than 128, so relayed data must stay well below.
pub const MAX_JSON_DEPTH: usize = 100;

/// The nesting depth of a JSON value (a scalar is 0).
pub fn json_depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Whether a room or event name is acceptable.
pub fn valid_name(s: &str, max: usize, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b) || extra.contains(&b))
}

#[cfg(test)]
mod fixtures;
