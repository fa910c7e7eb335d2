//! Integration tests: a real `eddy` process per test, a fresh PostgreSQL
//! database per server, real HTTP and WebSocket clients.

mod pg_cluster;
mod support;

mod access;
mod accounts;
mod changelog;
mod cluster;
mod console;
mod faults;
mod http;
mod openapi;
mod ops;
mod parity;
mod pg_tls;
mod realtime;
mod refusals;
mod rooms;
mod transport;
mod writes;
