//! Eddy: a realtime change feed over PostgreSQL.
//!
//! Layout (see ARCHITECTURE.md):
//! - `config`: command line and environment settings.
//! - `cli`: the subcommands (`serve`, `migrate`, `keys`, `token`, `healthcheck`).
//! - `app`: composition root: pool, migrations, background tasks, serving, shutdown.
//! - `store`: all SQL.
//! - `matcher`: the filter language (parse, evaluate in memory, compile to SQL).
//! - `auth`: API keys, JWTs, identities and access rules.
//! - `feed`: reads the change log in commit order and hands changes to the hub.
//! - `hub`: subscriptions, rooms, presence and fan-out to connections.
//! - `protocol`: realtime wire types.
//! - `ws`, `sse`: realtime transports; `http`: the REST edge.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod feed;
pub mod healthcheck;
pub mod hints;
pub mod http;
pub mod hub;
pub mod matcher;
pub mod protocol;
pub mod sse;
pub mod store;
pub mod ws;
