//! `Client`: the state of one realtime connection and its event loop.
//!
//! Ordering: replay frames and `subscribed` are written directly, before any
//! live frame of that subscription can be dequeued; `unsubscribed` goes through
//! the queue so it follows every event already queued for that subscription.

use super::limits::TokenBucket;
use super::transport::{Closed, Inbound, Transport, TransportKind};
use crate::access::{described_identity, AccessError, IMPERSONATION_TTL_SECS};
use crate::auth::{AuthError, Identity};
use crate::hub::{ConnHandle, Outbound, RoomAction, SubKey};
use crate::protocol::{close, encode, parse_client, ActAs, ClientMsg, ErrorCode, ErrorMsg, ServerMsg};
use crate::state::AppState;
use axum::extract::ws::Utf8Bytes;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Receiver;
use tokio::time::sleep_until;

/// Consecutive rate-limited messages before the socket is closed as abusive.
const MAX_VIOLATIONS: u32 = 50;
/// Frames written per flush when draining the queue.
const WRITE_BATCH: usize = 64;

/// The outcome of handling something: keep going, or close with a code.
pub(super) type Step = Result<(), Closed>;

/// One realtime connection, whatever its transport.
pub struct Client {
    pub(super) state: AppState,
    pub(super) conn: ConnHandle,
    kind: TransportKind,
    authed: bool,
    /// Subscription id → (collection, key in the hub).
    pub(super) subs: HashMap<String, (String, SubKey)>,
    pub(super) rooms: HashSet<String>,
    pub(super) next_sub: u64,
    bucket: TokenBucket,
    violations: u32,
    warned_expiry: bool,
    started: Instant,
    last_seen: Instant,
    next_ping: Instant,
}

impl Client {
    /// A connection with the identity its handshake proved (if any), and the
    /// receiving end of its outbound queue. An authenticated client is
    /// registered with the hub at once; others after their `auth` message.
    pub fn new(state: AppState, kind: TransportKind, identity: Option<Identity>) -> (Client, Receiver<Outbound>) {
        let authed = identity.is_some();
        let (conn, rx) = ConnHandle::bounded(
            identity.unwrap_or(Identity::Public { key: None }),
            state.config.outbound_queue,
            state.config.outbound_queue_bytes,
            kind.as_str(),
        );
        let now = Instant::now();
        let client = Client {
            bucket: TokenBucket::new(state.config.rate_limit, state.config.rate_burst),
            next_ping: now + state.config.heartbeat_interval,
            state,
            conn,
            kind,
            authed,
            subs: HashMap::new(),
            rooms: HashSet::new(),
            next_sub: 0,
            violations: 0,
            warned_expiry: false,
            started: now,
            last_seen: now,
        };
        if authed {
            client.state.hub.add_conn(&client.conn);
        }
        (client, rx)
    }

    /// Records the peer's address for listings.
    pub fn set_remote(&self, addr: std::net::SocketAddr) {
        self.conn.set_remote(addr);
    }

    /// This connection's id.
    pub fn id(&self) -> &str {
        self.conn.id()
    }

    /// Sends `auth_ok` for a handshake identity (WebSocket only: SSE has no replies).
    pub async fn greet<T: Transport>(&mut self, t: &mut T) -> Step {
        if self.authed {
            self.send_auth_ok(t, None).await?;
        }
        Ok(())
    }

    /// Runs the connection until the peer leaves or it must close, then cleans
    /// up (subscriptions, rooms, hub registration) and closes the transport.
    pub async fn run<T: Transport>(mut self, t: &mut T, mut rx: Receiver<Outbound>) {
        let span = tracing::debug_span!("conn", conn_id = %self.conn.id(), transport = self.kind.as_str());
        let _enter = span.enter();
        let code = self.event_loop(t, &mut rx).await;
        self.cleanup();
        if let Some(code) = code {
            t.close(code).await;
        }
    }

    async fn event_loop<T: Transport>(&mut self, t: &mut T, rx: &mut Receiver<Outbound>) -> Option<u16> {
        let shutdown = self.state.shutdown.clone();
        let conn = self.conn.clone();
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                biased;
                code = conn.closing() => {
                    if let Some(notice) = conn.take_notice() {
                        let _ = self.error(t, ErrorCode::Unauthorized, &notice, None).await;
                    }
                    return Some(code);
                }
                _ = shutdown.cancelled() => {
                    let _ = self.reply(t, &ServerMsg::System { event: "shutdown" }, None).await;
                    return Some(close::SHUTDOWN);
                }
                frame = rx.recv() => {
                    let frame = frame?;
                    if self.drain(t, frame, rx).await.is_err() {
                        return match conn.close_code() {
                            0 => None,
                            code => Some(code),
                        };
                    }
                }
                msg = t.recv() => {
                    let msg = msg?;
                    self.last_seen = Instant::now();
                    let outcome = match msg {
                        Inbound::TooBig => {
                            let _ = self.error(t, ErrorCode::PayloadTooLarge, "message larger than the limit", None).await;
                            return Some(close::TOO_BIG);
                        }
                        Inbound::Text(text) if text.len() > self.state.config.max_message_bytes => {
                            let _ = self.error(t, ErrorCode::PayloadTooLarge, "message larger than the limit", None).await;
                            return Some(close::TOO_BIG);
                        }
                        // Boxed: handlers (snapshots, replays) are large futures that an
                        // idle connection should not carry inline.
                        Inbound::Text(text) => Box::pin(self.on_text(t, &text)).await,
                        Inbound::Binary => self
                            .error(t, ErrorCode::InvalidMessage, "binary frames are not supported; send JSON text", None)
                            .await
                            .map(|_| None),
                        Inbound::Activity => Ok(None),
                    };
                    match outcome {
                        Ok(None) => {}
                        Ok(Some(code)) => return Some(code),
                        Err(Closed) => return None,
                    }
                }
                _ = sleep_until(deadline.into()) => {
                    if let Some(code) = self.on_timer(t).await {
                        return Some(code);
                    }
                }
            }
        }
    }

    fn two_way(&self) -> bool {
        self.kind == TransportKind::WebSocket
    }

    fn next_deadline(&self) -> Instant {
        let cfg = &self.state.config;
        let far = Instant::now() + Duration::from_secs(3600);
        let mut d = if self.two_way() {
            self.next_ping.min(self.last_seen + cfg.idle_timeout)
        } else {
            far
        };
        if !self.authed {
            d = d.min(self.started + cfg.auth_timeout);
        }
        if let Some(exp) = self.conn.identity().expires_at() {
            let until = Duration::from_secs(u64::try_from(exp - chrono::Utc::now().timestamp()).unwrap_or(0));
            let now = Instant::now();
            d = d.min(now + until);
            if !self.warned_expiry && self.two_way() {
                d = d.min(now + until.saturating_sub(cfg.token_expiry_warning));
            }
        }
        d
    }

    async fn on_timer<T: Transport>(&mut self, t: &mut T) -> Option<u16> {
        let cfg = self.state.config.clone();
        let now = Instant::now();
        if !self.authed && now >= self.started + cfg.auth_timeout {
            let _ = self
                .error(t, ErrorCode::Unauthorized, "authentication timeout", None)
                .await;
            return Some(close::AUTH);
        }
        if self.two_way() && now >= self.last_seen + cfg.idle_timeout {
            return Some(close::IDLE);
        }
        if let Some(exp) = self.conn.identity().expires_at() {
            let left = exp - chrono::Utc::now().timestamp();
            if left <= 0 {
                let hint = if self.two_way() {
                    "token expired; send auth with a fresh token next time before expiry"
                } else {
                    "token expired; reconnect with a fresh token"
                };
                let _ = self.error(t, ErrorCode::TokenExpired, hint, None).await;
                return Some(close::AUTH);
            }
            if self.two_way() && !self.warned_expiry && left as u64 <= cfg.token_expiry_warning.as_secs() {
                self.warned_expiry = true;
                if self
                    .reply(t, &ServerMsg::TokenExpiring { expires_at: exp }, None)
                    .await
                    .is_err()
                {
                    return Some(close::INTERNAL);
                }
            }
        }
        if self.two_way() && now >= self.next_ping {
            self.next_ping = now + cfg.heartbeat_interval;
            if t.ping().await.is_err() {
                return Some(close::INTERNAL);
            }
        }
        None
    }

    /// Writes a dequeued frame plus whatever else is queued, then flushes; gives up
    /// if the connection is asked to close meanwhile (a stalled reader).
    async fn drain<T: Transport>(&mut self, t: &mut T, first: Outbound, rx: &mut Receiver<Outbound>) -> Step {
        let conn = self.conn.clone();
        let work = async {
            conn.dequeued(first.cost());
            t.feed(first).await?;
            for _ in 1..WRITE_BATCH {
                match rx.try_recv() {
                    Ok(f) => {
                        conn.dequeued(f.cost());
                        t.feed(f).await?
                    }
                    Err(_) => break,
                }
            }
            t.flush().await
        };
        tokio::select! {
            r = work => r,
            _ = conn.closing() => Err(Closed),
        }
    }

    /// Writes one control frame now.
    pub(super) async fn reply<T: Transport>(&mut self, t: &mut T, msg: &ServerMsg<'_>, r: Option<&Value>) -> Step {
        t.feed(Outbound::Frame(Utf8Bytes::from(encode(msg, r)))).await?;
        t.flush().await
    }

    /// Writes an error frame now.
    pub(super) async fn error<T: Transport>(
        &mut self,
        t: &mut T,
        code: ErrorCode,
        message: &str,
        r: Option<&Value>,
    ) -> Step {
        self.reply(t, &ServerMsg::Error(ErrorMsg::new(code, message)), r).await
    }

    async fn send_auth_ok<T: Transport>(&mut self, t: &mut T, r: Option<&Value>) -> Step {
        let who = self.conn.identity();
        let identity = serde_json::to_value(who.view()).unwrap_or(Value::Null);
        let id = self.conn.id().clone();
        self.reply(
            t,
            &ServerMsg::AuthOk {
                identity,
                connection: &id,
                expires_at: who.expires_at(),
            },
            r,
        )
        .await
    }

    /// Handles one text message; returns a close code when the connection must close.
    async fn on_text<T: Transport>(&mut self, t: &mut T, text: &str) -> Result<Option<u16>, Closed> {
        if !self.bucket.take() {
            self.violations += 1;
            if self.violations >= MAX_VIOLATIONS {
                let _ = self
                    .error(t, ErrorCode::RateLimited, "too many messages; closing", None)
                    .await;
                return Ok(Some(close::ABUSE));
            }
            self.error(t, ErrorCode::RateLimited, "too many messages; slow down", None)
                .await?;
            return Ok(None);
        }
        self.violations = 0;
        let incoming = match parse_client(text) {
            Ok(m) => m,
            Err((code, message, r)) => {
                self.error(t, code, &message, r.as_ref()).await?;
                return Ok(None);
            }
        };
        let r = incoming.reference.as_ref();
        match incoming.msg {
            ClientMsg::Ping => self.reply(t, &ServerMsg::Pong, r).await?,
            ClientMsg::Auth { token, act_as } => self.on_auth(t, &token, act_as, r).await?,
            _ if !self.authed => {
                self.error(
                    t,
                    ErrorCode::Unauthorized,
                    "authenticate first: send {\"type\":\"auth\",\"token\":…}",
                    r,
                )
                .await?
            }
            ClientMsg::Subscribe(m) => self.on_subscribe(t, m, r).await?,
            ClientMsg::Unsubscribe { id } => self.on_unsubscribe(t, &id, r).await?,
            ClientMsg::Join { room, presence } => self.on_join(t, &room, presence, r).await?,
            ClientMsg::Leave { room } => self.on_leave(t, &room, r).await?,
            ClientMsg::Broadcast(b) => self.on_broadcast(t, b, r).await?,
            ClientMsg::Presence { room, state } => self.on_presence(t, &room, state, r).await?,
        }
        Ok(None)
    }

    async fn on_auth<T: Transport>(
        &mut self,
        t: &mut T,
        token: &str,
        act_as: Option<ActAs>,
        r: Option<&Value>,
    ) -> Step {
        let who = match self.state.access.authenticate(token) {
            Ok(w) => w,
            Err(AccessError::Unauthorized(AuthError::Expired)) => {
                return self.error(t, ErrorCode::TokenExpired, "token expired", r).await
            }
            Err(e) => return self.error(t, ErrorCode::Unauthorized, &e.to_string(), r).await,
        };
        match act_as {
            None => self.conn.set_identity(who),
            Some(_) if !who.is_service() => {
                let msg = "only a service key may act as another identity";
                return self.error(t, ErrorCode::Forbidden, msg, r).await;
            }
            Some(a) => {
                let exp = chrono::Utc::now().timestamp() + IMPERSONATION_TTL_SECS;
                match described_identity(&a.kind, a.sub.as_deref(), a.role.as_deref(), exp) {
                    Ok(acted) => self.conn.set_impersonated(acted, who.key_id()),
                    Err(e) => return self.error(t, ErrorCode::InvalidMessage, &e.to_string(), r).await,
                }
            }
        }
        self.warned_expiry = false;
        if !self.authed {
            self.authed = true;
            self.state.hub.add_conn(&self.conn);
        }
        self.send_auth_ok(t, r).await?;
        self.recheck_access(t).await
    }

    /// Ends subscriptions and memberships the current identity may no longer have.
    async fn recheck_access<T: Transport>(&mut self, t: &mut T) -> Step {
        let who = self.conn.identity();
        let hub = self.state.hub.clone();
        let lost: Vec<String> = self
            .subs
            .iter()
            .filter(|(_, (coll, _))| !hub.rules(coll).is_some_and(|rules| rules.read.admits(&who)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in lost {
            if let Some((coll, key)) = self.subs.remove(&id) {
                hub.unsubscribe(&coll, key);
                let msg = format!("the new identity may not read collection {coll:?}");
                let e = ErrorMsg {
                    code: ErrorCode::Forbidden,
                    message: &msg,
                    subscription: Some(&id),
                    room: None,
                };
                self.reply(t, &ServerMsg::Error(e), None).await?;
            }
        }
        let lost: Vec<String> = self
            .rooms
            .iter()
            .filter(|room| !hub.room_allowed(room, &who, RoomAction::Join))
            .cloned()
            .collect();
        for room in lost {
            self.rooms.remove(&room);
            self.leave_room(&room);
            let e = ErrorMsg {
                code: ErrorCode::Forbidden,
                message: "the new identity may not join this room",
                subscription: None,
                room: Some(&room),
            };
            self.reply(t, &ServerMsg::Error(e), None).await?;
        }
        Ok(())
    }

    /// Leaves the hub: subscriptions, rooms, registration. Idempotent.
    fn cleanup(&mut self) {
        for (_, (coll, key)) in self.subs.drain() {
            self.state.hub.unsubscribe(&coll, key);
        }
        for room in std::mem::take(&mut self.rooms) {
            self.leave_room(&room);
        }
        self.state.hub.remove_conn(&self.conn);
    }
}

impl Drop for Client {
    /// A client dropped before or without `run` (e.g. a refused SSE request)
    /// must not stay registered with the hub.
    fn drop(&mut self) {
        self.cleanup();
    }
}
