//! Eddy: a realtime change feed over PostgreSQL.
//!
//! Layout, from the ground up (see ARCHITECTURE.md); a module imports only
//! modules listed before it:
//! - `protocol`: wire types (realtime frames, the document JSON), error and close codes.
//! - `matcher`: the filter language (parse, evaluate in memory, SQL fragments).
//! - `auth`: API keys, JWTs, identities and access rules.
//! - `config`: command line and environment settings.
//! - `store`: all SQL; `hints`: start-up advice (how to get a service key).
//! - `access`: credentials → identity, origins, the collection-rules cache, owner scope.
//! - `hub`: subscriptions, rooms, presence and fan-out to connections.
//! - `broker`: rooms, presence and server publish across nodes (memory, PostgreSQL, Redis, NATS).
//! - `feed`: reads the change log in commit order and hands changes to the hub.
//! - `state`: what handlers and connections share; the write path.
//! - `realtime`: one connection state machine shared by every transport.
//! - `http`: the REST edge; `accounts`: user accounts (`/v1/auth`, on `http`'s errors and extractors);
//!   `openapi`: the OpenAPI document of every route and the `/docs` page; `ws`, `sse`: realtime transports.
//! - `app`: composition root; `cli`: the subcommands; `healthcheck`: the container probe.

pub mod protocol;

pub mod auth;
pub mod matcher;

pub mod config;

pub mod store;

pub mod hints;

pub mod access;

pub mod hub;

pub mod broker;

pub mod feed;

pub mod state;

pub mod realtime;

pub mod http;

pub mod accounts;

pub mod openapi;

pub mod sse;
pub mod ws;

pub mod app;
pub mod cli;
pub mod healthcheck;
