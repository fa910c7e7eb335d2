//! The realtime layer: one connection state machine (`Client`) shared by every
//! transport. It owns authentication, re-authentication and expiry,
//! subscriptions (filters, `since`, snapshots, go-live), rooms (join, leave,
//! broadcast, presence), limits and timers, and produces protocol frames.
//!
//! Transports (`ws`, `sse`) only move frames and report that the peer went
//! away (`Transport`). A one-way transport (SSE) starts with one subscription
//! and never sends client messages; everything else behaves the same,
//! including registration with the hub, revocation, expiry, limits, the
//! connection gauge and slow-consumer handling.

mod client;
mod limits;
mod rooms;
mod subscribe;
mod transport;

pub use client::Client;
pub use subscribe::{Prepared, Refusal};
pub use transport::{Closed, Inbound, Transport, TransportKind};
