//! Room messages: join, leave, broadcast and presence, checked against the
//! room rules with the connection's current identity.

use super::client::{Client, Step};
use super::transport::Transport;
use crate::broker::BusMsg;
use crate::hub::RoomAction;
use crate::protocol::{encode, now_ms, valid_name, BroadcastMsg, ErrorCode, Sender, ServerMsg};
use axum::extract::ws::Utf8Bytes;
use serde_json::{json, Value};

impl Client {
    /// Tells other nodes that this connection is in `room` with `state`.
    fn announce_member(&self, room: &str, state: Value) {
        self.state.broker.announce(BusMsg::Join {
            room: room.to_owned(),
            conn: self.conn.id().to_string(),
            sub: self.conn.identity().sub().map(str::to_owned),
            state,
        });
    }

    /// Leaves a room here and tells other nodes.
    pub(super) fn leave_room(&self, room: &str) {
        if self.state.hub.leave(room, self.conn.id()) {
            self.state.broker.announce(BusMsg::Leave {
                room: room.to_owned(),
                conn: self.conn.id().to_string(),
            });
        }
    }

    pub(super) async fn on_join<T: Transport>(
        &mut self,
        t: &mut T,
        room: &str,
        presence: Option<Value>,
        r: Option<&Value>,
    ) -> Step {
        if presence.as_ref().is_some_and(|p| !p.is_object()) {
            return self
                .error(t, ErrorCode::InvalidMessage, "presence must be a JSON object", r)
                .await;
        }
        if !valid_name(room, 128, b"@") {
            return self
                .error(
                    t,
                    ErrorCode::InvalidMessage,
                    "room name must be 1-128 characters of A-Z a-z 0-9 _ . : @ -",
                    r,
                )
                .await;
        }
        if !self.rooms.contains(room) && self.rooms.len() >= self.state.config.max_rooms {
            return self
                .error(t, ErrorCode::LimitExceeded, "too many rooms on this socket", r)
                .await;
        }
        let who = self.conn.identity();
        if !self.state.hub.room_allowed(room, &who, RoomAction::Join) {
            return self
                .error(t, ErrorCode::Forbidden, &format!("may not join room {room:?}"), r)
                .await;
        }
        let state = presence.unwrap_or_else(|| json!({}));
        let joined = self.state.hub.join(room, &self.conn, state.clone(), |members| {
            encode(&ServerMsg::Joined { room, members }, r)
        });
        self.rooms.insert(room.to_owned());
        self.announce_member(room, state);
        t.feed(crate::hub::Outbound::Frame(Utf8Bytes::from(joined))).await?;
        t.flush().await
    }

    pub(super) async fn on_leave<T: Transport>(&mut self, t: &mut T, room: &str, r: Option<&Value>) -> Step {
        if self.rooms.remove(room) {
            self.leave_room(room);
            self.reply(t, &ServerMsg::Left { room }, r).await
        } else {
            self.error(t, ErrorCode::NotFound, &format!("not in room {room:?}"), r)
                .await
        }
    }

    pub(super) async fn on_broadcast<T: Transport>(&mut self, t: &mut T, b: BroadcastMsg, r: Option<&Value>) -> Step {
        if !valid_name(&b.event, 64, b"") {
            return self
                .error(
                    t,
                    ErrorCode::InvalidMessage,
                    "event name must be 1-64 characters of A-Z a-z 0-9 _ . : -",
                    r,
                )
                .await;
        }
        if !self.rooms.contains(&b.room) {
            return self
                .error(
                    t,
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
                    t,
                    ErrorCode::Forbidden,
                    &format!("may not broadcast to room {:?}", b.room),
                    r,
                )
                .await;
        }
        if let Err(e) = self.state.broker.check() {
            return self.error(t, ErrorCode::Unavailable, &e.to_string(), r).await;
        }
        let frame = encode(
            &ServerMsg::Broadcast {
                room: &b.room,
                event: &b.event,
                message: &b.message,
                from: Sender::Member {
                    sub: who.sub(),
                    connection: self.conn.id(),
                },
                ts: now_ms(),
            },
            None,
        );
        let skip = if b.echo { None } else { Some(&**self.conn.id()) };
        self.state.hub.broadcast(&b.room, &Utf8Bytes::from(frame.clone()), skip);
        let published = self
            .state
            .broker
            .publish(BusMsg::Room {
                room: b.room.clone(),
                frame,
                skip: skip.map(str::to_owned),
            })
            .await;
        if let Err(e) = published {
            return self.error(t, ErrorCode::Unavailable, &e.to_string(), r).await;
        }
        match r {
            Some(r) => self.reply(t, &ServerMsg::Ack, Some(r)).await,
            None => Ok(()),
        }
    }

    pub(super) async fn on_presence<T: Transport>(
        &mut self,
        t: &mut T,
        room: &str,
        state: Value,
        r: Option<&Value>,
    ) -> Step {
        if !state.is_object() {
            return self
                .error(t, ErrorCode::InvalidMessage, "presence state must be a JSON object", r)
                .await;
        }
        if !self.rooms.contains(room) || !self.state.hub.set_presence(room, &self.conn, state.clone()) {
            return self
                .error(t, ErrorCode::NotFound, &format!("not in room {room:?}"), r)
                .await;
        }
        self.announce_member(room, state);
        match r {
            Some(r) => self.reply(t, &ServerMsg::Ack, Some(r)).await,
            None => Ok(()),
        }
    }
}
