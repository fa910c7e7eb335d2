//! Integration tests: a real `eddy` process per test, a fresh PostgreSQL
//! database per server, real HTTP and WebSocket clients.

mod support;

mod access;
mod changelog;
mod faults;
mod http;
mod parity;
mod realtime;
mod rooms;
mod transport;
mod writes;
