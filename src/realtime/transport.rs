//! The seam between the connection state machine and a wire: transports move
//! frames and report the peer's messages and departure; nothing else.

use crate::hub::Outbound;
use axum::extract::ws::Utf8Bytes;
use std::future::Future;

/// Which wire a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Two-way: client messages, pings, close codes.
    WebSocket,
    /// One-way `text/event-stream`: one subscription, no client messages.
    Sse,
}

impl TransportKind {
    /// The name used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::WebSocket => "websocket",
            TransportKind::Sse => "sse",
        }
    }
}

/// The peer is gone (or the write failed): stop using the transport.
#[derive(Debug, Clone, Copy)]
pub struct Closed;

/// Something the peer sent.
pub enum Inbound {
    /// A text message (a protocol message).
    Text(Utf8Bytes),
    /// A binary message (not part of the protocol).
    Binary,
    /// A message over the transport's size cap.
    TooBig,
    /// Liveness traffic (pings, pongs): counts as activity only.
    Activity,
}

/// A wire under one `Client`.
pub trait Transport: Send {
    /// Which wire this is.
    fn kind(&self) -> TransportKind;

    /// Buffers one frame for writing; `flush` sends what is buffered.
    fn feed(&mut self, frame: Outbound) -> impl Future<Output = Result<(), Closed>> + Send;

    /// Sends buffered frames.
    fn flush(&mut self) -> impl Future<Output = Result<(), Closed>> + Send;

    /// The peer's next message; `None` once the peer has gone. A one-way
    /// transport resolves only when the peer goes.
    fn recv(&mut self) -> impl Future<Output = Option<Inbound>> + Send;

    /// A liveness probe, where the wire has one of its own.
    fn ping(&mut self) -> impl Future<Output = Result<(), Closed>> + Send;

    /// Ends the connection with a close code (where the wire carries one).
    fn close(&mut self, code: u16) -> impl Future<Output = ()> + Send;
}
