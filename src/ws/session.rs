//! One WebSocket connection: a single task that reads client messages, writes
//! replies and queued hub frames, and enforces liveness, auth expiry and limits.
//!
//! Ordering: replay frames and `subscribed` are written directly, before any
//! live frame of that subscription can be dequeued; `unsubscribed` goes through
//! the queue so it follows every event already queued for that subscription.

use super::limits::TokenBucket;
use crate::app::AppState;
use crate::auth::{AuthError, Identity};
use crate::feed::{GoLive, Step};
use crate::http::ApiError;
use crate::hub::{ConnHandle, Outbound, RoomAction, SubKey, Subscription};
use crate::matcher::{build_list_query, Filter, Sort};
use crate::protocol::{
    close, encode, now_ms, parse_client, valid_name, BroadcastMsg, ClientMsg, ErrorCode, ErrorMsg, ServerMsg,
    SubscribeMsg,
};
use crate::store;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::time::sleep_until;

/// Consecutive rate-limited messages before the socket is closed as abusive.
const MAX_VIOLATIONS: u32 = 50;
/// Frames written per flush when draining the queue.
const WRITE_BATCH: usize = 64;

type Reply = Result<(), ()>;

struct Session {
    state: AppState,
    socket: WebSocket,
    conn: ConnHandle,
    authed: bool,
    subs: HashMap<String, (String, SubKey)>,
    rooms: HashSet<String>,
    next_sub: u64,
    bucket: TokenBucket,
    violations: u32,
    warned_expiry: bool,
    started: Instant,
    last_seen: Instant,
    next_ping: Instant,
}

/// Runs a session to completion.
pub async fn run(socket: WebSocket, state: AppState, identity: Option<Identity>) {
    let authed = identity.is_some();
    let (conn, mut rx) = ConnHandle::new(
        identity.unwrap_or(Identity::Public { key: None }),
        state.config.outbound_queue,
    );
    let now = Instant::now();
    let mut s = Session {
        bucket: TokenBucket::new(state.config.rate_limit, state.config.rate_burst),
        next_ping: now + state.config.heartbeat_interval,
        state,
        socket,
        conn,
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
        s.state.hub.add_conn(&s.conn);
        let _ = s.send_auth_ok(None).await;
    }
    let span = tracing::debug_span!("conn", conn_id = %s.conn.id());
    let _enter = span.enter();
    let code = s.run_loop(&mut rx).await;
    s.cleanup();
    if let Some(code) = code {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(""),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), s.socket.send(Message::Close(Some(frame)))).await;
        // Read until the peer answers the close (or briefly), so input still in
        // flight does not turn our close into a TCP reset that loses the frame.
        let drain = async {
            while let Some(Ok(m)) = s.socket.recv().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    }
}

impl Session {
    /// The loop; returns the close code to send, if any.
    async fn run_loop(&mut self, rx: &mut tokio::sync::mpsc::Receiver<Outbound>) -> Option<u16> {
        let shutdown = self.state.shutdown.clone();
        let conn = self.conn.clone();
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                biased;
                code = conn.closing() => return Some(code),
                _ = shutdown.cancelled() => {
                    let _ = self.write(encode(&ServerMsg::System { event: "shutdown" }, None)).await;
                    return Some(close::SHUTDOWN);
                }
                frame = rx.recv() => {
                    let frame = frame?;
                    if self.drain(frame, rx).await.is_err() {
                        return None;
                    }
                }
                msg = self.socket.recv() => {
                    match msg {
                        None => return None,
                        Some(Err(e)) => {
                            let text = e.to_string();
                            if text.contains("too long") || text.contains("Space limit") {
                                let _ = self.error(ErrorCode::PayloadTooLarge, "message larger than the limit", None).await;
                                return Some(close::TOO_BIG);
                            }
                            return None;
                        }
                        Some(Ok(m)) => {
                            self.last_seen = Instant::now();
                            match m {
                                Message::Text(t) if t.len() > self.state.config.max_message_bytes => {
                                    let _ = self.error(ErrorCode::PayloadTooLarge, "message larger than the limit", None).await;
                                    return Some(close::TOO_BIG);
                                }
                                Message::Text(t) => {
                                    // Boxed: handlers (snapshots, replays) are large futures that an
                                    // idle connection should not carry inline.
                                    if let Some(code) = Box::pin(self.on_text(&t)).await {
                                        return Some(code);
                                    }
                                }
                                Message::Binary(_) => {
                                    if self.error(ErrorCode::InvalidMessage, "binary frames are not supported; send JSON text", None).await.is_err() {
                                        return None;
                                    }
                                }
                                Message::Close(_) => return None,
                                Message::Ping(_) | Message::Pong(_) => {}
                            }
                        }
                    }
                }
                _ = sleep_until(deadline.into()) => {
                    if let Some(code) = self.on_timer().await {
                        return Some(code);
                    }
                }
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        let cfg = &self.state.config;
        let mut d = self.next_ping.min(self.last_seen + cfg.idle_timeout);
        if !self.authed {
            d = d.min(self.started + cfg.auth_timeout);
        }
        if let Some(exp) = self.conn.identity().expires_at() {
            let until = Duration::from_secs(u64::try_from(exp - chrono::Utc::now().timestamp()).unwrap_or(0));
            let now = Instant::now();
            d = d.min(now + until);
            if !self.warned_expiry {
                d = d.min(now + until.saturating_sub(cfg.token_expiry_warning));
            }
        }
        d
    }

    async fn on_timer(&mut self) -> Option<u16> {
        let cfg = self.state.config.clone();
        let now = Instant::now();
        if !self.authed && now >= self.started + cfg.auth_timeout {
            let _ = self
                .error(ErrorCode::Unauthorized, "authentication timeout", None)
                .await;
            return Some(close::AUTH);
        }
        if now >= self.last_seen + cfg.idle_timeout {
            return Some(close::IDLE);
        }
        if let Some(exp) = self.conn.identity().expires_at() {
            let left = exp - chrono::Utc::now().timestamp();
            if left <= 0 {
                let _ = self
                    .error(
                        ErrorCode::TokenExpired,
                        "token expired; send auth with a fresh token next time before expiry",
                        None,
                    )
                    .await;
                return Some(close::AUTH);
            }
            if !self.warned_expiry && left as u64 <= cfg.token_expiry_warning.as_secs() {
                self.warned_expiry = true;
                if self
                    .write(encode(&ServerMsg::TokenExpiring { expires_at: exp }, None))
                    .await
                    .is_err()
                {
                    return Some(close::INTERNAL);
                }
            }
        }
        if now >= self.next_ping {
            self.next_ping = now + cfg.heartbeat_interval;
            if self.socket.send(Message::Ping(bytes::Bytes::new())).await.is_err() {
                return Some(close::INTERNAL);
            }
        }
        None
    }

    /// Writes a dequeued frame plus whatever else is queued, then flushes; gives up
    /// if the connection is asked to close meanwhile (a stalled reader).
    async fn drain(&mut self, first: Outbound, rx: &mut tokio::sync::mpsc::Receiver<Outbound>) -> Reply {
        let conn = self.conn.clone();
        let socket = &mut self.socket;
        let work = async {
            socket.feed(Message::Text(first.into_frame())).await?;
            for _ in 1..WRITE_BATCH {
                match rx.try_recv() {
                    Ok(f) => socket.feed(Message::Text(f.into_frame())).await?,
                    Err(_) => break,
                }
            }
            socket.flush().await
        };
        tokio::select! {
            r = work => r.map_err(|_| ()),
            _ = conn.closing() => Err(()),
        }
    }

    async fn write(&mut self, text: String) -> Reply {
        self.socket
            .send(Message::Text(Utf8Bytes::from(text)))
            .await
            .map_err(|_| ())
    }

    async fn reply(&mut self, msg: &ServerMsg<'_>, r: Option<&Value>) -> Reply {
        self.write(encode(msg, r)).await
    }

    async fn error(&mut self, code: ErrorCode, message: &str, r: Option<&Value>) -> Reply {
        self.reply(&ServerMsg::Error(ErrorMsg::new(code, message)), r).await
    }

    async fn send_auth_ok(&mut self, r: Option<&Value>) -> Reply {
        let who = self.conn.identity();
        let identity = serde_json::to_value(who.view()).unwrap_or(Value::Null);
        let id = self.conn.id().clone();
        self.reply(
            &ServerMsg::AuthOk {
                identity,
                connection: &id,
                expires_at: who.expires_at(),
            },
            r,
        )
        .await
    }

    /// Handles one text frame; returns a close code when the socket must close.
    async fn on_text(&mut self, text: &str) -> Option<u16> {
        if !self.bucket.take() {
            self.violations += 1;
            if self.violations >= MAX_VIOLATIONS {
                let _ = self
                    .error(ErrorCode::RateLimited, "too many messages; closing", None)
                    .await;
                return Some(close::ABUSE);
            }
            return self
                .error(ErrorCode::RateLimited, "too many messages; slow down", None)
                .await
                .err()
                .map(|_| close::INTERNAL);
        }
        self.violations = 0;
        let incoming = match parse_client(text) {
            Ok(i) => i,
            Err((code, message, r)) => {
                return self
                    .error(code, &message, r.as_ref())
                    .await
                    .err()
                    .map(|_| close::INTERNAL)
            }
        };
        let r = incoming.reference;
        let r = r.as_ref();
        let result = match incoming.msg {
            ClientMsg::Ping => self.reply(&ServerMsg::Pong, r).await,
            ClientMsg::Auth { token } => self.on_auth(&token, r).await,
            _ if !self.authed => {
                self.error(
                    ErrorCode::Unauthorized,
                    "authenticate first: send {\"type\":\"auth\",\"token\":…}",
                    r,
                )
                .await
            }
            ClientMsg::Subscribe(m) => self.on_subscribe(m, r).await,
            ClientMsg::Unsubscribe { id } => self.on_unsubscribe(&id, r).await,
            ClientMsg::Join { room, presence } => self.on_join(&room, presence, r).await,
            ClientMsg::Leave { room } => self.on_leave(&room, r).await,
            ClientMsg::Broadcast(b) => self.on_broadcast(b, r).await,
            ClientMsg::Presence { room, state } => self.on_presence(&room, state, r).await,
        };
        result.err().map(|_| close::INTERNAL)
    }

    async fn on_auth(&mut self, token: &str, r: Option<&Value>) -> Reply {
        let who = match self.state.auth.authenticate(token) {
            Ok(w) => w,
            Err(AuthError::Expired) => return self.error(ErrorCode::TokenExpired, "token expired", r).await,
            Err(e) => return self.error(ErrorCode::Unauthorized, &e.to_string(), r).await,
        };
        self.conn.set_identity(who);
        self.warned_expiry = false;
        if !self.authed {
            self.authed = true;
            self.state.hub.add_conn(&self.conn);
        }
        self.send_auth_ok(r).await?;
        self.recheck_access().await
    }

    /// Ends subscriptions and memberships the current identity may no longer have.
    async fn recheck_access(&mut self) -> Reply {
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
                self.reply(&ServerMsg::Error(e), None).await?;
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
            hub.leave(&room, self.conn.id());
            let e = ErrorMsg {
                code: ErrorCode::Forbidden,
                message: "the new identity may not join this room",
                subscription: None,
                room: Some(&room),
            };
            self.reply(&ServerMsg::Error(e), None).await?;
        }
        Ok(())
    }

    async fn on_subscribe(&mut self, m: SubscribeMsg, r: Option<&Value>) -> Reply {
        if self.subs.len() >= self.state.config.max_subscriptions {
            return self
                .error(ErrorCode::LimitExceeded, "too many subscriptions on this socket", r)
                .await;
        }
        let id = match m.id.clone() {
            Some(id) if !valid_name(&id, 64, b"") => {
                return self
                    .error(
                        ErrorCode::InvalidMessage,
                        "subscription id must be 1-64 characters of A-Z a-z 0-9 _ . : -",
                        r,
                    )
                    .await
            }
            Some(id) => id,
            None => {
                self.next_sub += 1;
                format!("sub-{}", self.next_sub)
            }
        };
        if self.subs.contains_key(&id) {
            return self
                .error(
                    ErrorCode::InvalidMessage,
                    &format!("subscription id {id:?} is already active"),
                    r,
                )
                .await;
        }
        if let Err(e) = crate::http::check_collection(&m.collection) {
            return self.error(ErrorCode::InvalidMessage, &e.to_string(), r).await;
        }
        let filter = match m.filters.as_ref().map(Filter::from_json).transpose() {
            Ok(f) => f.unwrap_or_default(),
            Err(e) => return self.error(ErrorCode::InvalidFilter, &e.to_string(), r).await,
        };
        let who = self.conn.identity();
        let rules = match crate::http::documents_rules(&self.state, &m.collection, &who).await {
            Ok(rules) => rules,
            Err(ApiError::NotFound(msg)) => return self.error(ErrorCode::NotFound, &msg, r).await,
            Err(e) => return self.error(ErrorCode::Internal, &e.to_string(), r).await,
        };
        if !rules.read.admits(&who) {
            return self
                .error(
                    ErrorCode::Forbidden,
                    &format!("reading {:?} requires {}", m.collection, rules.read),
                    r,
                )
                .await;
        }
        let pool = self.state.pool.clone();
        let mut skip = HashMap::new();
        let cursor = if m.snapshot {
            match self.snapshot(&id, &m, &filter, &rules, &who).await {
                Ok(Some((seq, reflected))) => {
                    skip = reflected;
                    seq
                }
                Ok(None) => return Ok(()),
                Err(()) => return Err(()),
            }
        } else if let Some(since) = m.since {
            match store::pruned_through(&pool).await {
                Ok(p) if since < p => {
                    let msg =
                        format!("changes after {since} are no longer retained (retained after {p}); take a snapshot");
                    let e = ErrorMsg {
                        code: ErrorCode::CursorExpired,
                        message: &msg,
                        subscription: Some(&id),
                        room: None,
                    };
                    return self.reply(&ServerMsg::Error(e), r).await;
                }
                Ok(_) => since.max(0),
                Err(e) => return self.error(ErrorCode::Internal, &e.to_string(), r).await,
            }
        } else {
            self.state.hub.head()
        };
        let mut sub = Subscription::new(id.clone(), m.collection.clone(), filter, self.conn.clone());
        sub.skip = skip;
        let state = self.state.clone();
        let mut live = GoLive::new(&state.pool, &state.hub, sub, cursor);
        let (key, cursor) = loop {
            match live.next().await {
                Ok(Step::Live { key, seq }) => break (key, seq),
                Ok(Step::Events(events)) => {
                    for e in events {
                        self.socket.feed(Message::Text(e.into_frame())).await.map_err(|_| ())?;
                    }
                    self.socket.flush().await.map_err(|_| ())?;
                }
                Err(e) => return self.error(ErrorCode::Internal, &format!("replay failed: {e}"), r).await,
            }
        };
        self.subs.insert(id.clone(), (m.collection.clone(), key));
        self.reply(
            &ServerMsg::Subscribed {
                id: &id,
                collection: &m.collection,
                seq: cursor,
            },
            r,
        )
        .await
    }

    /// Sends the snapshot; returns its seq and the changes it reflects beyond
    /// that seq, or None when an error was sent instead.
    async fn snapshot(
        &mut self,
        id: &str,
        m: &SubscribeMsg,
        filter: &Filter,
        rules: &crate::auth::CollectionRules,
        who: &Identity,
    ) -> Result<Option<(i64, HashMap<uuid::Uuid, i64>)>, ()> {
        let limit = m.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            self.error(ErrorCode::InvalidMessage, "limit must be 1 to 1000", None)
                .await?;
            return Ok(None);
        }
        let sort = match Sort::parse(m.sort.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                self.error(ErrorCode::InvalidFilter, &e.to_string(), None).await?;
                return Ok(None);
            }
        };
        let scope = match crate::http::owner_scope(rules, who) {
            Ok(s) => s.map(str::to_owned),
            Err(e) => {
                self.error(ErrorCode::Forbidden, &e.to_string(), None).await?;
                return Ok(None);
            }
        };
        let q = build_list_query(&m.collection, filter, &sort, None, scope.as_deref(), limit + 1);
        match store::snapshot(&self.state.pool, &m.collection, q).await {
            Ok(store::Snapshot { docs, seq, reflected }) => {
                let truncated = docs.len() as i64 > limit;
                let documents: Vec<_> = docs.into_iter().take(limit as usize).map(|(d, _)| d).collect();
                let documents = serde_json::to_value(documents).unwrap_or(Value::Null);
                self.reply(
                    &ServerMsg::Snapshot {
                        subscription: id,
                        collection: &m.collection,
                        documents,
                        seq,
                        truncated,
                    },
                    None,
                )
                .await?;
                Ok(Some((seq, reflected)))
            }
            Err(e) => {
                self.error(ErrorCode::Internal, &format!("snapshot failed: {e}"), None)
                    .await?;
                Ok(None)
            }
        }
    }

    async fn on_unsubscribe(&mut self, id: &str, r: Option<&Value>) -> Reply {
        match self.subs.remove(id) {
            Some((coll, key)) => {
                self.state.hub.unsubscribe(&coll, key);
                // Through the queue, so it follows events already queued for it.
                self.conn
                    .send(Utf8Bytes::from(encode(&ServerMsg::Unsubscribed { id }, r)));
                Ok(())
            }
            None => {
                self.error(ErrorCode::NotFound, &format!("no subscription {id:?}"), r)
                    .await
            }
        }
    }

    async fn on_join(&mut self, room: &str, presence: Option<Value>, r: Option<&Value>) -> Reply {
        if presence.as_ref().is_some_and(|p| !p.is_object()) {
            return self
                .error(ErrorCode::InvalidMessage, "presence must be a JSON object", r)
                .await;
        }
        if !valid_name(room, 128, b"@") {
            return self
                .error(
                    ErrorCode::InvalidMessage,
                    "room name must be 1-128 characters of A-Z a-z 0-9 _ . : @ -",
                    r,
                )
                .await;
        }
        if !self.rooms.contains(room) && self.rooms.len() >= self.state.config.max_rooms {
            return self
                .error(ErrorCode::LimitExceeded, "too many rooms on this socket", r)
                .await;
        }
        let who = self.conn.identity();
        if !self.state.hub.room_allowed(room, &who, RoomAction::Join) {
            return self
                .error(ErrorCode::Forbidden, &format!("may not join room {room:?}"), r)
                .await;
        }
        let members = self
            .state
            .hub
            .join(room, &self.conn, presence.unwrap_or_else(|| json!({})));
        self.rooms.insert(room.to_owned());
        self.reply(&ServerMsg::Joined { room, members }, r).await
    }

    async fn on_leave(&mut self, room: &str, r: Option<&Value>) -> Reply {
        if self.rooms.remove(room) {
            self.state.hub.leave(room, self.conn.id());
            self.reply(&ServerMsg::Left { room }, r).await
        } else {
            self.error(ErrorCode::NotFound, &format!("not in room {room:?}"), r)
                .await
        }
    }

    async fn on_broadcast(&mut self, b: BroadcastMsg, r: Option<&Value>) -> Reply {
        if !valid_name(&b.event, 64, b"") {
            return self
                .error(
                    ErrorCode::InvalidMessage,
                    "event name must be 1-64 characters of A-Z a-z 0-9 _ . : -",
                    r,
                )
                .await;
        }
        if !self.rooms.contains(&b.room) {
            return self
                .error(
                    ErrorCode::NotFound,
                    &format!("join room {:?} before broadcasting to it", b.room),
                    r,
                )
                .await;
        }
        let who = self.conn.identity();
        if !self.state.hub.room_allowed(&b.room, &who, RoomAction::Broadcast) {
            return self
                .error(
                    ErrorCode::Forbidden,
                    &format!("may not broadcast to room {:?}", b.room),
                    r,
                )
                .await;
        }
        let mut from = serde_json::Map::new();
        if let Some(sub) = who.sub() {
            from.insert("sub".into(), json!(sub));
        }
        from.insert("connection".into(), json!(&**self.conn.id()));
        let frame = json!({"type": "broadcast", "room": b.room, "event": b.event, "message": b.message, "from": from, "ts": now_ms()});
        let frame = Utf8Bytes::from(frame.to_string());
        let skip = if b.echo { None } else { Some(self.conn.id()) };
        self.state.hub.broadcast(&b.room, &frame, skip);
        match r {
            Some(r) => self.reply(&ServerMsg::Ack, Some(r)).await,
            None => Ok(()),
        }
    }

    async fn on_presence(&mut self, room: &str, state: Value, r: Option<&Value>) -> Reply {
        if !state.is_object() {
            return self
                .error(ErrorCode::InvalidMessage, "presence state must be a JSON object", r)
                .await;
        }
        if !self.rooms.contains(room) || !self.state.hub.set_presence(room, &self.conn, state) {
            return self
                .error(ErrorCode::NotFound, &format!("not in room {room:?}"), r)
                .await;
        }
        match r {
            Some(r) => self.reply(&ServerMsg::Ack, Some(r)).await,
            None => Ok(()),
        }
    }

    fn cleanup(&mut self) {
        for (_, (coll, key)) in self.subs.drain() {
            self.state.hub.unsubscribe(&coll, key);
        }
        for room in self.rooms.drain() {
            self.state.hub.leave(&room, self.conn.id());
        }
        self.state.hub.remove_conn(&self.conn);
    }
}
